#!/usr/bin/env bash
# Throughput of massho against its peers (dd, fio, nwipe) on a RAM-backed loop device.
#
# Everything runs against loop devices this script attaches over files on a tmpfs it mounts; a
# guard refuses any other device path, and an EXIT trap always detaches and unmounts. It never
# touches a real disk.
#
# Usage: sudo packaging/bench.sh [--peers-only]
#   BENCH_SIZE   size of the main loop device (default 2G; K/M/G suffixes are powers of 1024)
#   BENCH_REPS   repetitions of each measurement; the table shows the best (default 3)
#   BENCH_NWIPE_SIZE  size of the separate, smaller device nwipe gets (default 256M): nwipe 0.33
#                writes 4 KiB buffered and is slow
#   BENCH_JOBS   cargo build jobs (default 2)
#   BENCH_MASSHO use this massho binary instead of building target/release/massho
#
# MB/s means 10^6 bytes per second. The ratios at the end are the project's targets:
#   massho zero   / best peer write   >= 0.95
#   massho random / massho zero       >= 0.95
#   massho verify / fio read          >= 0.95
set -euo pipefail

peers_only=0
for arg in "$@"; do
    case $arg in
        --peers-only) peers_only=1 ;;
        -h | --help)
            sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
            exit 0
            ;;
        *)
            echo "bench: unknown argument $arg (try --help)" >&2
            exit 2
            ;;
    esac
done

die() {
    echo "bench: $*" >&2
    exit 1
}

[[ $(id -u) -eq 0 ]] || die "run as root (losetup, mount): sudo $0"
for tool in losetup mount umount dd jq numfmt timeout; do
    command -v "$tool" >/dev/null || die "$tool not found; packaging/install-deps.sh installs it"
done

repo=$(cd "$(dirname "$0")/.." && pwd)
size_arg=${BENCH_SIZE:-2G}
reps=${BENCH_REPS:-3}
nwipe_size_arg=${BENCH_NWIPE_SIZE:-256M}
jobs=${BENCH_JOBS:-2}
[[ $reps =~ ^[1-9][0-9]*$ ]] || die "BENCH_REPS must be a positive integer, got $reps"
size=$(numfmt --from=iec "$size_arg") || die "bad BENCH_SIZE $size_arg"
nwipe_size=$(numfmt --from=iec "$nwipe_size_arg") || die "bad BENCH_NWIPE_SIZE $nwipe_size_arg"
((size >= 64 * 1024 * 1024 && size % 4096 == 0)) || die "BENCH_SIZE must be >= 64M and a multiple of 4K"

# --- scratch space: tmpfs, backing files, loop devices; always torn down -----------------------

work=""
mnt=""
attached=() # loop devices this script attached; the guard accepts only these

cleanup() {
    local dev file
    set +e
    for dev in "${attached[@]}"; do
        losetup -d "$dev" 2>/dev/null
    done
    # Also any device attached over our files that did not make it into the list (interrupted
    # between losetup and the assignment).
    if [[ -n $mnt ]]; then
        for file in "$mnt"/*.img; do
            [[ -e $file ]] || continue
            for dev in $(losetup --list --noheadings --output NAME --associated "$file" 2>/dev/null); do
                losetup -d "$dev" 2>/dev/null
            done
        done
    fi
    if [[ -n $mnt ]] && mountpoint -q "$mnt"; then
        umount "$mnt" 2>/dev/null || umount -l "$mnt"
    fi
    [[ -n $work ]] && rm -rf -- "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

work=$(mktemp -d /tmp/massho-bench.XXXXXX)
mnt=$work/tmpfs
mkdir "$mnt"
tmpfs_size=$((size + nwipe_size + 256 * 1024 * 1024))
mount -t tmpfs -o "size=$tmpfs_size,mode=0700" massho-bench "$mnt"

# attach FILE SIZE: create FILE on our tmpfs and attach a loop device over it; prints the device.
attach() {
    local file=$1 bytes=$2 dev
    [[ $file == "$mnt"/* ]] || die "refusing to attach $file: not on the bench tmpfs"
    truncate -s "$bytes" "$file"
    dev=$(losetup --find --show "$file")
    [[ $dev == /dev/loop* ]] || die "losetup returned $dev"
    echo "$dev"
}

# guard DEV: exit unless DEV is a loop device this script attached over a file on its tmpfs.
guard() {
    local dev=$1 ours=0 d back
    for d in "${attached[@]}"; do
        [[ $dev == "$d" ]] && ours=1
    done
    ((ours)) || die "guard: refusing $dev: not a loop device this script attached"
    [[ -b $dev ]] || die "guard: refusing $dev: not a block device"
    back=$(losetup --noheadings --output BACK-FILE --list "$dev" | sed 's/[[:space:]]*$//')
    [[ $back == "$mnt"/* ]] || die "guard: refusing $dev: backed by '$back', not by the bench tmpfs"
}

loop=$(attach "$mnt/disk.img" "$size")
attached+=("$loop")
guard "$loop"
echo "bench: $loop = $(numfmt --to=iec "$size") on tmpfs ($mnt), best of $reps"
# Untimed warm-up: the first write to a tmpfs file allocates its pages, which would make whichever
# tool runs first look slow.
dd if=/dev/zero of="$loop" bs=4M oflag=direct status=none 2>/dev/null || true

# --- measurement helpers ------------------------------------------------------------------------

now_ns() { date +%s%N; }

# mbps BYTES NANOSECONDS
mbps() { awk -v b="$1" -v ns="$2" 'BEGIN { if (ns > 0) printf "%.0f", b / (ns / 1e9) / 1e6; else print 0 }'; }

declare -A best samples
# record KEY MBPS: keep every sample and the best.
record() {
    local key=$1 v=$2 cur=${best[$1]:-}
    samples[$key]="${samples[$key]:-}${samples[$key]:+ }$v"
    if [[ -z $cur ]] || ((v > cur)); then
        best[$key]=$v
    fi
}

# wall KEY NANOSECONDS: the whole process's rate (start-up, sync and exit included), shown beside
# the rate massho reports for itself.
declare -A wall_best
wall() {
    local v cur=${wall_best[$1]:-}
    v=$(mbps "$size" "$2")
    if [[ -z $cur ]] || ((v > cur)); then
        wall_best[$1]=$v
    fi
}

skip() { # skip KEY REASON
    best[$1]=""
    samples[$1]="$2"
    echo "bench: $1: $2" >&2
}

# --- peers ----------------------------------------------------------------------------------------

bench_dd() {
    local i out bytes secs
    for ((i = 0; i < reps; i++)); do
        guard "$loop"
        # dd reports its own bytes and seconds; it stops with ENOSPC at the end of the device.
        out=$(LC_ALL=C dd if=/dev/zero of="$loop" bs=4M oflag=direct 2>&1 || true)
        bytes=$(sed -n 's/^\([0-9]\+\) bytes .* copied, \([0-9.e+-]\+\) s.*/\1/p' <<<"$out" | tail -1)
        secs=$(sed -n 's/^\([0-9]\+\) bytes .* copied, \([0-9.e+-]\+\) s.*/\2/p' <<<"$out" | tail -1)
        if [[ -z $bytes || $bytes -ne $size ]]; then
            skip "dd write" "failed: $(tail -1 <<<"$out")"
            return
        fi
        record "dd write" "$(awk -v b="$bytes" -v s="$secs" 'BEGIN { printf "%.0f", b / s / 1e6 }')"
    done
}

fio_engine=io_uring
bench_fio() { # bench_fio write|read
    local rw=$1 i json bw key="fio $1"
    command -v fio >/dev/null || {
        skip "$key" "fio not installed"
        return
    }
    for ((i = 0; i < reps; i++)); do
        guard "$loop"
        if ! json=$(fio --name="$rw" --filename="$loop" --rw="$rw" --bs=1M --iodepth=8 \
            --ioengine="$fio_engine" --direct=1 --size=100% --output-format=json 2>/dev/null); then
            if [[ $fio_engine == io_uring ]]; then
                echo "bench: fio io_uring failed; falling back to libaio" >&2
                fio_engine=libaio
                ((i--)) || true
                continue
            fi
            skip "$key" "fio failed"
            return
        fi
        bw=$(jq -r ".jobs[0].$rw.bw_bytes" <<<"$json")
        record "$key" "$(awk -v b="$bw" 'BEGIN { printf "%.0f", b / 1e6 }')"
    done
}

bench_nwipe() {
    local key="nwipe zero" nloop log start end i
    command -v nwipe >/dev/null || {
        skip "$key" "nwipe not installed"
        return
    }
    nloop=$(attach "$mnt/nwipe.img" "$nwipe_size")
    attached+=("$nloop")
    log=$work/nwipe.log
    # Random content first, so that a zeroed device afterwards proves nwipe really wrote it.
    guard "$nloop"
    head -c "$nwipe_size" /dev/urandom | dd of="$nloop" bs=4M iflag=fullblock oflag=direct status=none
    for ((i = 0; i < reps; i++)); do
        guard "$nloop"
        # nwipe --autonuke without a device wipes EVERY disk: the device argument is mandatory and
        # has just been guarded. Wall time includes nwipe's start-up.
        start=$(now_ns)
        if ! timeout 300 nwipe --autonuke --nogui --nowait --method=zero --verify=off --noblank \
            --logfile="$log" "$nloop" </dev/null >/dev/null 2>&1; then
            skip "$key" "nwipe failed or timed out (log: $(grep -iE 'error|fail' "$log" 2>/dev/null | tail -1))"
            return
        fi
        end=$(now_ns)
        record "$key" "$(mbps "$nwipe_size" $((end - start)))"
    done
    guard "$nloop"
    if ! cmp -s -n "$nwipe_size" /dev/zero "$nloop"; then
        skip "$key" "nwipe exited 0 but the device is not zero"
        return
    fi
    samples[$key]="${samples[$key]} (on $(numfmt --to=iec "$nwipe_size"), wall time incl. start-up)"
}

# --- massho ---------------------------------------------------------------------------------------

massho=""
massho_note=""
build_massho() {
    if [[ -n ${BENCH_MASSHO:-} ]]; then
        [[ -x $BENCH_MASSHO ]] || die "BENCH_MASSHO=$BENCH_MASSHO is not an executable"
        massho=$BENCH_MASSHO
        return
    fi
    if ! command -v cargo >/dev/null; then
        massho_note="cargo not found"
        return
    fi
    echo "bench: building massho (release)..." >&2
    if ! (cd "$repo" && cargo build --release -j "$jobs" --bin massho >&2); then
        massho_note="release build failed"
        return
    fi
    massho=${CARGO_TARGET_DIR:-$repo/target}/release/massho
}

# why STDERR_FILE: the gist of a failed run, on one line (a panic's location and message).
why() {
    head -c 2000 "$1" 2>/dev/null | grep -v -e '^[[:space:]]*$' -e '^note:' -e '^stack backtrace' -e '^ *[0-9]*:' \
        | head -2 | tr '\n' ' ' | sed 's/ *$//'
}

# massho_wipe KEY ARGS...: one `massho wipe` per repetition; MB/s from the result's first pass
# (falls back to wall time when the result has no throughput); the wall-clock rate is shown too.
massho_wipe() {
    local key=$1 i start end out r bps
    shift
    if [[ -z $massho ]]; then
        skip "$key" "massho: not available ($massho_note)"
        return
    fi
    for ((i = 0; i < reps; i++)); do
        guard "$loop"
        start=$(now_ns)
        out=$("$massho" wipe --yes --json "$@" "$loop" 2>"$work/massho.err") || true
        end=$(now_ns)
        r=$(jq -c 'select(.event == "result")' <<<"$out" 2>/dev/null | head -1 || true)
        # Write-only runs (--verify none) end `unverified`: every pass written, nothing read back.
        if [[ -z $r || ! $(jq -r .status <<<"$r") =~ ^(passed|unverified)$ ]]; then
            skip "$key" "massho: not available (wipe: $(why "$work/massho.err"))"
            return
        fi
        bps=$(jq -r '.passes[0].throughput_bps // empty' <<<"$r")
        wall "$key" $((end - start))
        if [[ -n $bps ]]; then
            record "$key" "$(awk -v b="$bps" 'BEGIN { printf "%.0f", b / 1e6 }')"
        else
            record "$key" "$(mbps "$size" $((end - start)))"
        fi
    done
}

massho_verify() {
    local key="massho verify" i start end out bps
    if [[ -z $massho ]]; then
        skip "$key" "massho: not available ($massho_note)"
        return
    fi
    for ((i = 0; i < reps; i++)); do
        guard "$loop"
        start=$(now_ns)
        out=$("$massho" verify "$loop" --expect zero --json 2>"$work/massho.err") || true
        end=$(now_ns)
        if [[ -z $(jq -r '.bytes_verified // empty' <<<"$out" 2>/dev/null || true) ]]; then
            skip "$key" "massho: not available (verify: $(why "$work/massho.err"))"
            return
        fi
        if [[ $(jq -r '.mismatched_bytes' <<<"$out") != 0 ]]; then
            skip "$key" "massho verify reported mismatches on a zeroed device"
            return
        fi
        bps=$(jq -r '.throughput_bps // empty' <<<"$out")
        wall "$key" $((end - start))
        if [[ -n $bps ]]; then
            record "$key" "$(awk -v b="$bps" 'BEGIN { printf "%.0f", b / 1e6 }')"
        else
            record "$key" "$(mbps "$size" $((end - start)))"
        fi
    done
}

# --- run: random data first, zeros last, so verify finds a zeroed device ----------------------

rows=("dd write" "fio write" "fio read" "nwipe zero")
((peers_only)) || build_massho

bench_fio write
bench_fio read
bench_nwipe
if ((!peers_only)); then
    massho_wipe "massho random" --method random --verify none
    massho_wipe "massho random chacha20" --method random --prng chacha20 --verify none
fi
bench_dd
if ((!peers_only)); then
    massho_wipe "massho zero" --method zero --verify none
    massho_verify
    rows+=("massho zero" "massho random" "massho random chacha20" "massho verify")
fi

# --- report ---------------------------------------------------------------------------------------

echo
printf '%-24s %10s   %s\n' "tool / op" "MB/s" "samples (MB/s)"
printf '%-24s %10s   %s\n' "------------------------" "----------" "--------------"
for key in "${rows[@]}"; do
    note=""
    [[ -n ${wall_best[$key]:-} ]] && note=" (wall clock: ${wall_best[$key]})"
    printf '%-24s %10s   %s\n' "$key" "${best[$key]:--}" "${samples[$key]:-}$note"
done
echo "(best of $reps; fio engine $fio_engine; device $(numfmt --to=iec "$size") loop over tmpfs)"

peer_write=0
peer_name=""
for key in "dd write" "fio write" "nwipe zero"; do
    v=${best[$key]:-}
    if [[ -n $v ]] && ((v > peer_write)); then
        peer_write=$v
        peer_name=$key
    fi
done

# ratio LABEL NUM_KEY DEN_VALUE DEN_NAME
ratio() {
    local label=$1 num=${best[$2]:-} den=$3 den_name=$4
    if [[ -z $num || -z $den || $den -eq 0 ]]; then
        printf '%-36s %6s   (needs %s and %s)\n' "$label" "-" "$2" "$den_name"
        return
    fi
    awk -v l="$label" -v n="$num" -v d="$den" -v dn="$den_name" 'BEGIN {
        r = n / d
        printf "%-36s %6.2f   %s (target >= 0.95, vs %s)\n", l, r, (r >= 0.95 ? "ok" : "BELOW"), dn
    }'
}

echo
if ((!peers_only)); then
    ratio "massho zero / best peer write" "massho zero" "$peer_write" "$peer_name"
    ratio "massho random / massho zero" "massho random" "${best["massho zero"]:-}" "massho zero"
    ratio "massho verify / fio read" "massho verify" "${best["fio read"]:-}" "fio read"
    # ChaCha20 is the default only on CPUs without AES instructions; shown for information.
    if [[ -n ${best["massho random chacha20"]:-} && -n ${best["massho zero"]:-} ]]; then
        awk -v n="${best["massho random chacha20"]}" -v d="${best["massho zero"]}" 'BEGIN {
            printf "%-36s %6.2f   (information: the default only without AES instructions)\n", "massho random chacha20 / massho zero", n / d
        }'
    fi
else
    echo "best peer write: ${peer_name:-none} ${peer_write} MB/s (massho not run: --peers-only)"
fi
