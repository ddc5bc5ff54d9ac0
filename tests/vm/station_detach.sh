#!/bin/sh
# Guest script for tests/vm.rs: a disk pulled from the station while it is being wiped.
#   The two virtio-SCSI disks are taken out of the kernel (sysfs `delete`) before the station
#   starts, so that each is brought back by a SCSI rescan while the station runs, as a hot-plug
#   does (the station ignores disks present when it starts). The big one is pulled again
#   (`delete`, which is what a hot-unplug does to the kernel) once its wipe is writing; then the
#   small one is attached and must be wiped to the end by the same, still running, station.
# The host judges the records in $OUT and the small disk's backing file.
set -u
export MASSHO_JOURNAL_DIR=/tmp/journal

disk() { massho-vm-disk "$1" || { echo "no disk with serial $1" >&2; exit 10; }; }
# host:channel:target:lun of a /dev/sdX, from sysfs.
address() { basename "$(readlink -f "/sys/block/${1#/dev/}/device")"; }
# Take a disk out of the kernel, as an unplug does.
pull() { echo 1 > "/sys/block/${1#/dev/}/device/delete"; }
# Bring one SCSI address back, as a plug-in does: `echo "C T L" > .../hostH/scan`.
plug() {
    host=${1%%:*}
    echo "${1#*:}" | tr ':' ' ' > "/sys/class/scsi_host/host$host/scan"
}
# Wait up to 120 s for a line of the station's NDJSON holding every given string.
wait_for() {
    i=0
    while :; do
        match=$(cat "$OUT/station.ndjson")
        for s in "$@"; do
            match=$(printf '%s\n' "$match" | grep -F -- "$s")
        done
        [ -n "$match" ] && return 0
        i=$((i + 1))
        [ $i -gt 1200 ] && { echo "no station event with: $*" >&2; return 1; }
        sleep 0.1
    done
}
# Wait up to 60 s for the disk with this serial to appear; print its node.
wait_disk() {
    i=0
    until massho-vm-disk "$1"; do
        i=$((i + 1))
        [ $i -gt 600 ] && { echo "the disk $1 did not come back" >&2; return 1; }
        sleep 0.1
    done
}

big=$(disk vm-scsi-pull)
small=$(disk vm-scsi-next)
big_at=$(address "$big")
small_at=$(address "$small")
echo "vm-scsi-pull $big $big_at" >> "$OUT/disks.txt"
echo "vm-scsi-next $small $small_at" >> "$OUT/disks.txt"
pull "$big"
pull "$small"

massho key generate --out "$OUT/key" --name vm --no-passphrase 2> "$OUT/key.stderr" || exit 12
cat > /tmp/station.toml <<EOF
method = "zero"
verify = "all"
result_dir = "$OUT/results"
cert_dir = "$OUT/certs"
key = "$OUT/key/vm.key"
operator = "massho vm test"
journal_dir = "$OUT/journal"

[[ignore]]
serial = "massho-vm-out"
EOF
massho station --json --interval-ms 300 --policy /tmp/station.toml \
    > "$OUT/station.ndjson" 2> "$OUT/station.stderr" &
station=$!
wait_for '"event":"station"' || exit 13

plug "$big_at"
big=$(wait_disk vm-scsi-pull) || exit 14
echo "attached vm-scsi-pull $big" >> "$OUT/disks.txt"
wait_for '"event":"progress"' "\"device\":\"$big\"" || exit 15
pull "$big"
wait_for '"event":"recorded"' "\"device\":\"$big\"" || exit 16

plug "$small_at"
small=$(wait_disk vm-scsi-next) || exit 17
echo "attached vm-scsi-next $small" >> "$OUT/disks.txt"
# The second record (the small disk may come back under the big one's old name).
i=0
until [ "$(grep -c '"event":"recorded"' "$OUT/station.ndjson")" -ge 2 ]; do
    i=$((i + 1))
    [ $i -gt 1200 ] && { echo "the second disk was not recorded" >&2; exit 18; }
    sleep 0.1
done

kill -TERM $station
wait $station
rc=$?
echo $rc > "$OUT/station.exit"
exit 0
