#!/usr/bin/env bash
# Firmware purge against an overwrite of the same emulated NVMe disk, in the QEMU guest rig
# (packaging/vm/run.sh): informative, for the benchmark notes. A real drive's crypto erase takes
# seconds and an overwrite hours; QEMU's Format NVM zero-fills the backing file, so here the
# ratio mostly measures QEMU, not a drive. The guest touches only the disk image this script
# creates in a temporary directory.
#
# Usage: sudo packaging/bench-purge.sh
#   BENCH_PURGE_SIZE  size of the emulated NVMe disk in bytes (default 1073741824)
#   MASSHO_BIN        massho binary to put in the guest (default target/release/massho)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
size=${BENCH_PURGE_SIZE:-1073741824}
export MASSHO_BIN=${MASSHO_BIN:-$repo/target/release/massho}
[ -x "$MASSHO_BIN" ] || { echo "bench-purge: build first (cargo build --release) or set MASSHO_BIN" >&2; exit 1; }
work=$(mktemp -d /tmp/massho-bench-purge.XXXXXX)
trap 'rm -rf "$work"' EXIT
"$here/vm/run.sh" --out "$work" --timeout 1800 --disk "nvme:$size:bench-nvme" \
    -- "$here/vm/guest/bench_purge.sh" >/dev/null
# The firmware step's own seconds (Format NVM), apart from the read-back that followed it.
fw=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["firmware"][0]["seconds"])' "$work"/out/results/*.json 2>/dev/null || echo unknown)
echo "purge_firmware_seconds $fw" >> "$work/out/bench.txt"
cat "$work/out/bench.txt"
awk '/^overwrite_seconds/ {o=$2} /^purge_seconds/ {p=$2} /^purge_firmware_seconds/ {f=$2} END {
    if (p > 0) printf "overwrite / purge (incl. read-back) = %.2f\n", o / p
    if (f > 0) printf "overwrite / firmware step alone   = %.1f\n", o / f
}' "$work/out/bench.txt"
echo "(size $size bytes, QEMU under TCG: informative only)"
