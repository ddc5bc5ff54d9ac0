#!/bin/sh
# Guest script for tests/vm.rs: firmware purge against QEMU's real NVMe, AHCI and virtio-SCSI
# emulation through the Linux drivers. Exit codes and outputs go to $OUT; the host judges the
# disks' backing files.
#   1. `-m purge` on the SATA and the SCSI disk: QEMU offers no sanitize or security commands
#      there, so massho must refuse (exit 3) before writing anything.
#   2. `-m nvme-format-crypto` on the NVMe disk: QEMU's Format ignores SES and would "succeed",
#      but the controller does not report crypto erase (FNA bit 2): refused, nothing sent.
#   3. For the benchmark notes: the NVMe disk overwritten once with 0xFF (no read-back), timed.
#   4. `-m purge` on the NVMe disk, timed: Format NVM with SES=1, read back, certified; the host
#      then finds the ones gone.
set -u
export MASSHO_JOURNAL_DIR=/tmp/journal

disk() { massho-vm-disk "$1" || { echo "no disk with serial $1" >&2; exit 10; }; }
nvme=$(disk vm-nvme-p)
sata=$(disk vm-sata-p)
scsi=$(disk vm-scsi-p)
echo "vm-nvme-p $nvme" >> "$OUT/disks.txt"
echo "vm-sata-p $sata" >> "$OUT/disks.txt"
echo "vm-scsi-p $scsi" >> "$OUT/disks.txt"

massho devices --json > "$OUT/devices.json" 2> "$OUT/devices.stderr" || exit 11
massho key generate --out "$OUT/key" --name vm --no-passphrase 2> "$OUT/key.stderr" || exit 12

for which in sata scsi; do
    eval dev=\$$which
    massho wipe --yes --json -m purge "$dev" > "$OUT/purge-$which.ndjson" 2> "$OUT/purge-$which.stderr"
    echo $? > "$OUT/purge-$which.exit"
done
massho wipe --yes --json -m nvme-format-crypto "$nvme" > "$OUT/crypto-nvme.ndjson" 2> "$OUT/crypto-nvme.stderr"
echo $? > "$OUT/crypto-nvme.exit"

now() { cut -d' ' -f1 /proc/uptime; }
# First the overwrite, timed (0xFF, no read-back), so that the purge that follows has ones to
# turn into zeros: the host then judges the purge from the backing file.
t0=$(now)
massho wipe --yes --json -m one --verify none "$nvme" > "$OUT/ones-nvme.ndjson" 2> "$OUT/ones-nvme.stderr"
echo $? > "$OUT/ones-nvme.exit"
t1=$(now)
massho wipe --yes --json -m purge --cert-dir "$OUT/certs" --key "$OUT/key/vm.key" \
    --operator "massho vm test" --result-dir "$OUT/results" "$nvme" \
    > "$OUT/purge-nvme.ndjson" 2> "$OUT/purge-nvme.stderr"
echo $? > "$OUT/purge-nvme.exit"
t2=$(now)
echo "overwrite $t0 $t1" > "$OUT/timings.txt"
echo "purge $t1 $t2" >> "$OUT/timings.txt"
cat "$OUT/purge-nvme.stderr" >&2
exit 0
