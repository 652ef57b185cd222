# lib.sh - sourced by the table-driven CLI test scripts (cli_badinput.sh,
# cli_outputs.sh) with their arguments: F (the binary, absolute), MD (1 with
# --markdown: print the table rows instead), a private temporary directory T
# (removed at exit) as the working directory, counters n and nfail, and the
# expected-message matcher.
F=${FFRELAX:-build/ffrelax}
case "$F" in /*) ;; *) F="$(pwd)/$F" ;; esac
MD=0
[ "${1:-}" = "--markdown" ] && MD=1
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
cd "$T" || exit 1
nfail=0
n=0

# match PATTERN TEXT: 0 when TEXT is PATTERN with {*} as a wildcard
match() {
    awk -v pat="$1" -v s="$2" 'BEGIN {
        np = split(pat, seg, /\{\*\}/)
        if (np == 1) exit !(s == pat)
        if (index(s, seg[1]) != 1) exit 1
        pos = length(seg[1]) + 1
        for (i = 2; i < np; i++) {
            k = index(substr(s, pos), seg[i]); if (!k) exit 1
            pos += k - 1 + length(seg[i])
        }
        last = seg[np]
        if (length(last) == 0) exit 0
        if (length(s) - pos + 1 < length(last)) exit 1
        exit !(substr(s, length(s) - length(last) + 1) == last)
    }'
}
