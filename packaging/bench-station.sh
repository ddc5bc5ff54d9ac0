#!/usr/bin/env bash
# Station mode under load: 4 loop devices attached one after another to a running
# `massho station`, each throttled (blkio cgroup v1) to the speed of a drive; every device's
# write throughput is compared with a lone `massho wipe` of one such device. Prints the figures
# and the ratio (station / lone) per device: the station should keep each device within 10 %.
#
# Everything runs on loop devices this script attaches over files on a tmpfs it mounts; the
# station's policy admits only loop devices whose files lie there (loop_files_under); an EXIT trap
# stops the station, detaches the devices, removes the cgroup and unmounts.
#
# Usage: sudo packaging/bench-station.sh
#   BENCH_SIZE   size of each device in MiB (default 256)
#   BENCH_BPS    throttle per device in bytes/s (default 41943040 = 40 MiB/s)
#   MASSHO_BIN   massho binary (default target/release/massho)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
massho=${MASSHO_BIN:-$repo/target/release/massho}
size_mib=${BENCH_SIZE:-256}
bps=${BENCH_BPS:-41943040}
[[ -x $massho ]] || { echo "bench-station: build first (cargo build --release) or set MASSHO_BIN" >&2; exit 1; }
[[ $(id -u) -eq 0 ]] || { echo "bench-station: run as root" >&2; exit 1; }
cg=/sys/fs/cgroup/blkio
[[ -d $cg ]] || { echo "bench-station: needs cgroup v1 blkio at $cg" >&2; exit 1; }

work=$(mktemp -d /tmp/massho-bench-station.XXXXXX)
mnt=$work/tmpfs
group=$cg/massho-bench-station-$$
loops=()
station_pid=
attached=
cleanup() {
    [[ -n $station_pid ]] && kill "$station_pid" 2>/dev/null && wait "$station_pid" 2>/dev/null || true
    for l in "${loops[@]}"; do losetup -d "$l" 2>/dev/null || true; done
    rmdir "$group" 2>/dev/null || true
    # A detached loop device lets go of its file a moment later.
    for _ in $(seq 1 20); do umount "$mnt" 2>/dev/null && break; sleep 0.5; done
    rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$mnt" "$work/results" "$work/journal"
mount -t tmpfs -o size=$(((size_mib * 5 + 64)))m tmpfs "$mnt"
mkdir "$group"

attach() { # FILE: attach it (as $attached), throttled for the group
    local dev devnum f
    truncate -s "${size_mib}M" "$1"
    dev=$(losetup --find --show "$1")
    case $dev in /dev/loop*) ;; *) echo "bench-station: losetup gave $dev" >&2; exit 1 ;; esac
    loops+=("$dev")
    devnum=$(cat "/sys/block/${dev#/dev/}/dev")
    for f in blkio.throttle.write_bps_device blkio.throttle.read_bps_device; do
        echo "$devnum $bps" >"$group/$f"
    done
    attached=$dev
}

mbps() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1e6 }'; }

# 1. A lone wipe of one device.
attach "$mnt/lone.img"
lone_dev=$attached
# Exit 6 (unverified: --verify none) is expected.
sh -c 'echo $$ >"$1/cgroup.procs"; shift; exec "$@"' sh "$group" \
    "$massho" wipe --yes --json -m zero --verify none --journal-dir "$work/journal" "$lone_dev" \
    >"$work/lone.ndjson" 2>"$work/lone.err" || true
lone=$(grep '"event":"result"' "$work/lone.ndjson" | grep -o '"throughput_bps":[0-9.e+]*' | head -1 | cut -d: -f2)
[[ -n $lone ]] || { echo "bench-station: the lone wipe gave no result:" >&2; cat "$work/lone.err" >&2; exit 1; }
echo "lone wipe: $(mbps "$lone") MB/s (throttle $(mbps "$bps") MB/s)"

# 2. The station, and 4 devices attached 3 s apart.
cat >"$work/station.toml" <<TOML
method = "zero"
verify = "none"
result_dir = "$work/results"
journal_dir = "$work/journal"
loop_files_under = "$mnt"
TOML
sh -c 'echo $$ >"$1/cgroup.procs"; shift; exec "$@"' sh "$group" \
    "$massho" station --json --interval-ms 500 --policy "$work/station.toml" >"$work/station.ndjson" 2>"$work/station.err" &
station_pid=$!
sleep 2
for i in 1 2 3 4; do
    attach "$mnt/bay$i.img"
    sleep 3
done
# Until the four are recorded.
for _ in $(seq 1 600); do
    [[ $(grep -c '"event":"recorded"' "$work/station.ndjson" || true) -ge 4 ]] && break
    sleep 0.5
done
kill "$station_pid"; wait "$station_pid" || true; station_pid=
echo "station, 4 devices attached 3 s apart:"
grep '"event":"result"' "$work/station.ndjson" | while read -r line; do
    dev=$(grep -o '"device":"[^"]*"' <<<"$line" | head -1 | cut -d'"' -f4)
    t=$(grep -o '"throughput_bps":[0-9.e+]*' <<<"$line" | head -1 | cut -d: -f2)
    printf '  %-12s %8s MB/s  station/lone = %s\n' "$dev" "$(mbps "$t")" \
        "$(awk -v a="$t" -v b="$lone" 'BEGIN { printf "%.3f", a / b }')"
done
