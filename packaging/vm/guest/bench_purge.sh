#!/bin/sh
# Guest half of packaging/bench-purge.sh: on the emulated NVMe disk, one overwrite pass of zeros
# (no read-back) and one firmware purge (Format NVM, SES=1, with its read-back), each timed with
# the guest's clock; then the purge's own firmware seconds from its result.
set -u
export MASSHO_JOURNAL_DIR=/tmp/journal
dev=$(massho-vm-disk bench-nvme) || exit 10
now() { cut -d' ' -f1 /proc/uptime; }
t0=$(now)
massho wipe --yes --json -m zero --verify none "$dev" > "$OUT/overwrite.ndjson" 2> "$OUT/overwrite.stderr"
echo "overwrite_exit $?" >> "$OUT/bench.txt"
t1=$(now)
massho wipe --yes --json -m purge --result-dir "$OUT/results" "$dev" > "$OUT/purge.ndjson" 2> "$OUT/purge.stderr"
echo "purge_exit $?" >> "$OUT/bench.txt"
t2=$(now)
echo "overwrite_seconds $(echo "$t1 $t0" | awk '{print $1 - $2}')" >> "$OUT/bench.txt"
echo "purge_seconds $(echo "$t2 $t1" | awk '{print $1 - $2}')" >> "$OUT/bench.txt"
exit 0
