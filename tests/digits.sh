# digits.sh - sourced by CLI tests that need labeled MNIST-shaped images
# (cli_ep.sh, cli_mpi.sh): digits F PER SEED0 writes PER images of each
# digit c (srand(c + SEED0)) into pkg/src/digits/c.json, in [0, 1], digit c
# lighting mostly pixels 78c..78c+77, and converts them with F convert-mnist
# into mn/ (the fixed 90/10 split: 9 PER train, PER test). Returns non-zero
# when the conversion fails.
digits() {
    mkdir -p pkg/src/digits
    for c in 0 1 2 3 4 5 6 7 8 9; do
        awk -v c=$c -v per=$2 -v s0=$3 'BEGIN { srand(c + s0); printf "{\"data\": [";
            for (j = 0; j < per; j++) for (i = 0; i < 784; i++) {
                v = (int(i / 78) == c) ? (rand() < 0.6 ? rand() : 0) : (rand() < 0.1 ? rand() : 0);
                printf "%s%.3f", (i + j ? "," : ""), v }
            printf "]}" }' > pkg/src/digits/$c.json
    done
    "$1" convert-mnist --package pkg --out mn > /dev/null
}
