#!/usr/bin/env bash
# How fast the ledger answers at scale: generates a ledger of MEDIA media and EVENTS events
# (default 100 000 / 1 000 000) through the library's rules (examples/ledger_generate.rs), then
# times every report, `media show`, `cabinet inventory`, `ledger verify` (and, with sqlite3, the
# integrity and quick checks it could run), and `ledger export` followed by
# `ledger verify --export`. Prints seconds; asserts nothing. Needs no root, touches no
# device.
#
# The generated ledger is kept in $BENCH_LEDGER_DIR (default /tmp/massho-bench-ledger) and reused
# by the next run with the same MEDIA and EVENTS; delete the directory to start afresh.
#
# Usage: packaging/bench-ledger.sh [MEDIA] [EVENTS]
set -euo pipefail
media=${1:-100000}
events=${2:-1000000}
for n in "$media" "$events"; do
    [[ $n =~ ^[1-9][0-9]*$ ]] || { echo "bench-ledger: MEDIA and EVENTS must be positive integers" >&2; exit 2; }
done
repo=$(cd "$(dirname "$0")/.." && pwd)
work=${BENCH_LEDGER_DIR:-/tmp/massho-bench-ledger}
mkdir -p "$work"
today=$(date -u +%F)

echo "bench-ledger: building (release) ..."
cargo build --release --quiet --manifest-path "$repo/Cargo.toml" --bin massho --example ledger_generate
massho=$repo/target/release/massho
generate=$repo/target/release/examples/ledger_generate

# The generated events are fixed by (MEDIA, EVENTS, TODAY); a ledger made on another day is
# reused as it is (its leases and retention dates are then relative to that day).
ledger=$work/ledger-$media-$events.sqlite
if [[ -f $ledger && -f $ledger.done ]]; then
    echo "bench-ledger: reusing $ledger ($(cat "$ledger.done"))"
else
    rm -f "$ledger" "$ledger-wal" "$ledger-shm" "$ledger.done"
    echo "bench-ledger: generating $media media and $events events into $ledger ..."
    t0=$(date +%s.%N)
    "$generate" "$ledger" "$media" "$events" --today "$today"
    t1=$(date +%s.%N)
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "generation: %.1f s\n", b - a }' | tee "$ledger.done"
fi
export MASSHO_LEDGER=$ledger
echo "bench-ledger: ledger size $(du -h "$ledger" | cut -f1)"

# An asset with some history, and a cabinet, as the generator names them.
asset=MD-000042
cabinet=CAB-01
from=$(date -u -d "$today - 1 year" +%F)

# measure NAME CMD...: run once, print the seconds (or why it was skipped).
measure() {
    local name=$1; shift
    local out=$work/out.txt err=$work/err.txt t0 t1 rc=0
    t0=$(date +%s.%N)
    "$@" >"$out" 2>"$err" || rc=$?
    t1=$(date +%s.%N)
    if [[ $rc -eq 2 ]] && grep -qiE "unrecognized subcommand|unexpected argument|not available" "$err"; then
        printf '%-42s skipped: not in this build (%s)\n' "$name" "$(head -n 1 "$err")"
        return
    fi
    local verdict=""
    [[ $rc -ne 0 ]] && verdict="  (exit $rc: $(cat "$err" "$out" | grep -m 1 -E 'error|PROBLEM|FAILED'))"
    [[ $rc -eq 0 && ! -s $out ]] && verdict="  (no output: not implemented in this build?)"
    local lines
    lines=$(wc -l <"$out")
    awk -v n="$name" -v a="$t0" -v b="$t1" -v l="$lines" -v v="$verdict" \
        'BEGIN { printf "%-42s %7.2f s  %8d lines%s\n", n, b - a, l, v }'
}

echo
echo "bench-ledger: $media media, $events events; seconds per command (one run each):"
measure "report out"                      "$massho" report out
measure "report retention"                "$massho" report retention
measure "report leases"                   "$massho" report leases
measure "report disposals (last year)"    "$massho" report disposals --from "$from" --to "$today"
measure "report history $asset"           "$massho" report history "$asset"
measure "cabinet inventory $cabinet"      "$massho" cabinet inventory "$cabinet"
measure "media show $asset"               "$massho" media show "$asset"
measure "ledger verify"                   "$massho" ledger verify
# What the SQLite structure checks inside `ledger verify` cost on their own: verify runs the
# full integrity check (indexes against tables); quick_check skips exactly that.
if command -v sqlite3 >/dev/null; then
    measure "  of which: PRAGMA integrity_check"  sqlite3 "$ledger" "PRAGMA integrity_check"
    measure "  (PRAGMA quick_check, not used)"    sqlite3 "$ledger" "PRAGMA quick_check"
fi
rm -f "$work/export.jsonl" "$work/export.csv"
measure "ledger export (jsonl)"           "$massho" ledger export --format jsonl -o "$work/export.jsonl"
measure "ledger verify --export (jsonl)"  "$massho" ledger verify --export "$work/export.jsonl"
measure "ledger export (csv)"             "$massho" ledger export --format csv -o "$work/export.csv"
measure "ledger verify --export (csv)"    "$massho" ledger verify --export "$work/export.csv"
ls -l "$work"/export.* 2>/dev/null | awk '{ printf "  %s: %.0f MB\n", $NF, $5 / 1e6 }'
rm -f "$work/export.jsonl" "$work/export.csv" "$work/out.txt" "$work/err.txt"
