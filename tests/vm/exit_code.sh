#!/bin/sh
# Guest script for tests/vm.rs: proves the rig returns the script's exit code and copies $OUT
# back (a nested directory included), and that a --tool program runs there (util-linux's blkid
# from the host, not busybox's applet of the same name).
mkdir -p "$OUT/nested"
echo "hello from $(uname -r)" > "$OUT/nested/hello.txt"
command -v massho > "$OUT/massho-path"
blkid --version > "$OUT/blkid-version" 2>&1
exit 7
