#!/bin/sh
# Runs every test program given on the command line, then the CLI checks
# (tests/cli_*.sh) except those named in SKIP_CLI (make check skips the slow
# end-to-end scripts). Prints one line per program and the closing
# "N passed, N failed" line; exits non-zero if anything failed.
pass=0; fail=0
# sanitizer builds: fontconfig caches are not leaks of ours
LSAN_OPTIONS="suppressions=$(pwd)/tests/lsan.supp:print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
export LSAN_OPTIONS
for t in "$@"; do
    if "$t"; then pass=$((pass+1)); else echo "FAILED: $t"; fail=$((fail+1)); fi
done
for s in tests/cli_*.sh; do
    [ -f "$s" ] || continue
    case " ${SKIP_CLI:-} " in *" $(basename "$s" .sh) "*) continue ;; esac
    if sh "$s"; then echo "$(basename $s) ok"; pass=$((pass+1)); else echo "FAILED: $s"; fail=$((fail+1)); fi
done
echo "tests: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
