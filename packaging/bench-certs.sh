#!/usr/bin/env bash
# How fast an auditor checks a batch of certificates: `massho cert verify DIR` (parallel, all
# checks) against the stock `minisign -V` run once per certificate (signature only), in one run.
#
# Makes N distinct certificates (default 5000) in a temporary directory: the demo's certificate
# with fresh ids, signed by a throw-away key through minisign itself. Touches no device.
#
# Usage: packaging/bench-certs.sh [N]
set -euo pipefail
n=${1:-5000}
[[ $n =~ ^[1-9][0-9]*$ ]] || { echo "bench-certs: N must be a positive integer" >&2; exit 2; }
repo=$(cd "$(dirname "$0")/.." && pwd)
for tool in minisign python3; do
    command -v "$tool" >/dev/null || { echo "bench-certs: $tool not found; run packaging/install-deps.sh" >&2; exit 1; }
done
cargo build --release --quiet --manifest-path "$repo/Cargo.toml"
massho=${BENCH_MASSHO:-$repo/target/release/massho}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$massho" key generate --no-passphrase --out "$work" --name bench >/dev/null 2>&1
mkdir "$work/certs"
echo "bench-certs: making $n signed certificates in $work/certs ..."
python3 - "$repo/certs/examples" "$work/certs" "$n" <<'PY'
import glob, json, sys, uuid
src, dst, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
cert = json.load(open(glob.glob(src + "/*.json")[0]))
with open(dst + "/comments", "w") as comments:
    for _ in range(n):
        cert["certificate_id"] = str(uuid.uuid4())
        name = cert["certificate_id"] + ".json"
        with open(dst + "/" + name, "w") as f:
            json.dump(cert, f, ensure_ascii=False, indent=2)
            f.write("\n")
        comments.write("%s\tmassho certificate %s serial=none status=%s issued=%s\n"
                       % (name, cert["certificate_id"], cert["status"], cert["issued_at"]))
PY
while IFS=$'\t' read -r name comment; do
    minisign -S -s "$work/bench.key" -m "$work/certs/$name" -t "$comment" </dev/null >/dev/null
done <"$work/certs/comments"
rm "$work/certs/comments"

t0=$(date +%s.%N)
"$massho" cert verify "$work/certs" --pubkey "$work/bench.pub" >"$work/massho.out"
t1=$(date +%s.%N)
for f in "$work"/certs/*.json; do
    minisign -Vq -m "$f" -p "$work/bench.pub"
done
t2=$(date +%s.%N)
tail -n 1 "$work/massho.out"
awk -v n="$n" -v a="$t0" -v b="$t1" -v c="$t2" 'BEGIN {
    m = b - a; p = c - b
    printf "massho cert verify (all checks, parallel): %6.2f s  %8.0f certificates/s\n", m, n / m
    printf "minisign -V, one process per file:        %6.2f s  %8.0f certificates/s\n", p, n / p
    printf "ratio massho / minisign: %.2f x\n", p / m
}'
