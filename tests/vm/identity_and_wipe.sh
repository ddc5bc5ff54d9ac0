#!/bin/sh
# Guest script for tests/vm.rs (packaging/vm/run.sh runs it as root in the QEMU guest).
# Records which /dev node carries each serial (from sysfs, by the rig's massho-vm-disk), what
# `massho devices --json` lists, then overwrites every emulated disk with certificates signed by a
# key generated here. The host judges everything from $OUT and the disks' backing files.
set -u
export MASSHO_JOURNAL_DIR=/tmp/journal

devs=
for pair in $MASSHO_VM_DISKS; do
    serial=${pair#*:}
    dev=$(massho-vm-disk "$serial") || { echo "no disk with serial $serial" >&2; exit 10; }
    echo "$serial $dev" >> "$OUT/disks.txt"
    devs="$devs $dev"
done

massho devices --json > "$OUT/devices.json" 2> "$OUT/devices.stderr" || exit 11
massho key generate --out "$OUT/key" --name vm --no-passphrase 2> "$OUT/key.stderr" || exit 12

# --hidden restore: on these disks nothing is hidden (QEMU's AHCI answers READ NATIVE MAX with
# its full size through the real libata), so it must change nothing and wipe as usual.
# shellcheck disable=SC2086 # one argument per device
massho wipe --yes --json --hidden restore --cert-dir "$OUT/certs" --key "$OUT/key/vm.key" \
    --operator "massho vm test" --result-dir "$OUT/results" $devs \
    > "$OUT/wipe.ndjson" 2> "$OUT/wipe.stderr"
rc=$?
cat "$OUT/wipe.stderr" >&2
exit $rc
