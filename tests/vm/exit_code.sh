#!/bin/sh
# Guest script for tests/vm.rs: proves the rig returns the script's exit code and copies $OUT
# back (a nested directory included).
mkdir -p "$OUT/nested"
echo "hello from $(uname -r)" > "$OUT/nested/hello.txt"
command -v massho > "$OUT/massho-path"
exit 7
