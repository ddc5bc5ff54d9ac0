#!/bin/sh
# Guest script for tests/live.rs: the kernel command line carries massho.medium=GUID (as the
# live stick's GRUB passes it) and nothing of the disks is mounted. The disk whose GPT carries
# that GUID must be refused as the boot medium, the other GPT disk must stay wipeable.
set -u
stick=$(massho-vm-disk LIVE-STICK) || exit 10
other=$(massho-vm-disk OTHER-GPT) || exit 11
cat /proc/cmdline > "$OUT/cmdline"
massho devices --json > "$OUT/devices.json" 2> "$OUT/devices.err" || exit 12
echo "$stick" > "$OUT/stick-node"
echo "$other" > "$OUT/other-node"
massho wipe --yes --journal-dir /tmp/journal "$stick" > "$OUT/wipe-stick.out" 2>&1
echo $? > "$OUT/wipe-stick.rc"
massho wipe --yes --journal-dir /tmp/journal "$other" > "$OUT/wipe-other.out" 2>&1
echo $? > "$OUT/wipe-other.rc"
exit 0
