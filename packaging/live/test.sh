#!/usr/bin/env bash
# Build the live image once and boot it in QEMU (TCG) the ways a technician will: as a USB stick
# under BIOS (SeaBIOS) and under UEFI (OVMF), as a SATA disk under BIOS, and once with a
# malformed live.toml. See docs/testing.md ("The live image").
#
#   packaging/live/test.sh [--out DIR] [BOOT...]
#
# BOOT is any of bios-usb uefi-usb bios-sata malformed (default: all four, in that order).
# Each boot gets a fresh copy of the image with a live.toml written onto its MASSHO partition
# with mtools, and an emulated NVMe, SATA and SCSI disk of 32 MiB filled with 0xA5. After the
# guest powered off, the host checks, from the files alone:
#   - every target disk's backing file is all zeros (nist-clear);
#   - one certificate per target serial on the MASSHO partition, and `massho cert verify
#     --pubkey` accepts them with the public key the guest generated at first boot;
#   - the stick's bytes outside the MASSHO partition (MBR, both GPTs, BIOS boot partition, ESP)
#     are unchanged;
#   - the stick itself was refused as the boot medium (the log on the stick says so) and the
#     console showed the drive table;
#   - (SATA boot) the media ledger on the stick verifies and lists every wiped disk.
# The malformed boot must show the error with its line, wipe nothing and not power off.
#
# Environment: MASSHO_BIN (default target/release/massho), MASSHO_LIVE_STRIP_DEBUG (passed to
# build.sh), MASSHO_LIVE_IMAGE (boot this image instead of building one), MASSHO_LIVE_TIMEOUT
# (seconds per boot, default 300), MASSHO_VM_CACHE, MASSHO_VM_KERNEL.
#
# Writes only files in DIR (default: a new /tmp/massho-live-test.XXXXXX, kept on failure).
# Exit: 0 every boot passed; 1 a check failed (named on stderr); 2 setup (missing tool, build).
set -euo pipefail
export LC_ALL=C MTOOLS_SKIP_CHECK=1

repo=$(cd "$(dirname "$0")/../.." && pwd)
readonly DISK_SIZE=$((32 << 20))
readonly TARGETS=(nvme:LIVE-NVME-1 sata:LIVE-SATA-1 scsi:LIVE-SCSI-1)
readonly OVMF_CODE=/usr/share/OVMF/OVMF_CODE_4M.fd OVMF_VARS=/usr/share/OVMF/OVMF_VARS_4M.fd

setup_fail() { echo "massho-live-test: $*" >&2; exit 2; }
failures=0
fail() { echo "massho-live-test: FAIL [$boot]: $*" >&2; failures=$((failures + 1)); }
note() { echo "massho-live-test: $*" >&2; }

out='' boots=()
while [[ $# -gt 0 ]]; do
    case $1 in
        --out) [[ $# -ge 2 ]] || setup_fail "--out needs a DIR"; out=$2; shift 2 ;;
        bios-usb|uefi-usb|bios-sata|malformed) boots+=("$1"); shift ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) setup_fail "unknown argument $1 (see --help)" ;;
    esac
done
[[ ${#boots[@]} -gt 0 ]] || boots=(bios-usb uefi-usb bios-sata malformed)
for tool in qemu-system-x86_64 mcopy mtype sfdisk timeout cmp sha256sum; do
    command -v "$tool" >/dev/null || setup_fail "$tool not found: packaging/install-deps.sh"
done
massho=${MASSHO_BIN:-$repo/target/release/massho}
[[ -x $massho ]] || setup_fail "massho binary $massho not found: cargo build --release or set MASSHO_BIN"
[[ -z $out ]] && out=$(mktemp -d /tmp/massho-live-test.XXXXXX)
mkdir -p "$out"
out=$(cd "$out" && pwd)
note "output in $out"
t0=$SECONDS

# --- the image, built once ---------------------------------------------------------------------
image=${MASSHO_LIVE_IMAGE:-}
if [[ -z $image ]]; then
    image="$out/massho-live.img"
    b0=$SECONDS
    MASSHO_BIN=$massho "$repo/packaging/live/build.sh" --out "$image" || setup_fail "build.sh failed"
    note "image built in $((SECONDS - b0))s"
fi
[[ -f $image ]] || setup_fail "no image $image"
# Where the MASSHO partition (the third) starts and ends, in bytes.
read -r data_start data_sectors < <(sfdisk --dump "$image" | awk -F'[=,]' '/^[^ ]*3 :/ { gsub(/ /, ""); print $2, $4 }')
[[ -n ${data_start:-} ]] || setup_fail "cannot find the MASSHO partition in $image"
data_off=$((data_start * 512)) data_end=$(((data_start + data_sectors) * 512))
image_size=$(stat -c %s "$image")

# Hash of the stick outside the MASSHO partition.
outside_hash() {
    { head -c "$data_off" "$1"; tail -c $((image_size - data_end)) "$1"; } | sha256sum | cut -d' ' -f1
}
pristine=$(outside_hash "$image")

# shellcheck disable=SC2317 # called by name through run_boot
config_auto() {
    cat <<'EOF'
# written by packaging/live/test.sh
mode = "auto"
method = "nist-clear"
countdown = 0
poweroff = true
operator = "Live Test"
organisation = "massho CI"

[key]
path = "keys/massho.key"
generate = true
EOF
}
# The SATA boot also keeps a media ledger on the stick (SQLite on FAT).
# shellcheck disable=SC2317 # called by name through run_boot
config_auto_ledger() {
    config_auto
    printf '\n[ledger]\npath = "ledger.sqlite"\n'
}
# shellcheck disable=SC2317 # called by name through run_boot
config_malformed() {
    cat <<'EOF'
mode = "auto"
poweroff = true
methd = "nist-clear"
EOF
}

# --- one boot -----------------------------------------------------------------------------------
run_boot() {
    local dir="$out/$boot" firmware=$1 stick_bus=$2 config=$3 expect_poweroff=$4
    rm -rf "$dir"
    mkdir -p "$dir"
    local stick="$dir/stick.img"
    cp --sparse=always "$image" "$stick"
    mmd -D s -i "$stick@@$data_off" ::/massho 2>/dev/null || true
    "$config" > "$dir/live.toml"
    mcopy -o -i "$stick@@$data_off" "$dir/live.toml" ::/massho/live.toml || setup_fail "mcopy live.toml"

    local args=(-machine q35 -accel tcg -m 1024 -smp 1 -nodefaults -nographic -no-reboot
                -monitor none -serial "file:$dir/console.log")
    if [[ $firmware == uefi ]]; then
        [[ -f $OVMF_CODE ]] || setup_fail "$OVMF_CODE not found: install ovmf (packaging/install-deps.sh)"
        cp "$OVMF_VARS" "$dir/ovmf-vars.fd"
        args+=(-drive "if=pflash,format=raw,unit=0,readonly=on,file=$OVMF_CODE"
               -drive "if=pflash,format=raw,unit=1,file=$dir/ovmf-vars.fd")
    fi
    args+=(-drive "file=$stick,if=none,id=stick,format=raw,cache=writeback")
    local sata_port=0
    case $stick_bus in
        usb) args+=(-device "qemu-xhci,id=xhci" -device "usb-storage,bus=xhci.0,drive=stick,bootindex=0,serial=MASSHO-STICK") ;;
        sata) args+=(-device "ide-hd,drive=stick,bus=ide.0,bootindex=0,serial=MASSHO-STICK"); sata_port=1 ;;
    esac
    args+=(-device "virtio-scsi-pci,id=scsi")
    local spec kind serial i=0
    for spec in "${TARGETS[@]}"; do
        kind=${spec%%:*} serial=${spec#*:}
        head -c "$DISK_SIZE" /dev/zero | tr '\0' '\245' > "$dir/disk-$serial.img"
        args+=(-drive "file=$dir/disk-$serial.img,if=none,id=t$i,format=raw,cache=writeback")
        case $kind in
            nvme) args+=(-device "nvme,drive=t$i,serial=$serial") ;;
            sata) args+=(-device "ide-hd,drive=t$i,bus=ide.$sata_port,serial=$serial") ;;
            scsi) args+=(-device "scsi-hd,drive=t$i,bus=scsi.0,serial=$serial") ;;
        esac
        i=$((i + 1))
    done

    local start=$SECONDS rc=0
    if [[ $expect_poweroff == yes ]]; then
        timeout --kill-after=10 "${MASSHO_LIVE_TIMEOUT:-300}" qemu-system-x86_64 "${args[@]}" < /dev/null || rc=$?
        note "[$boot] the VM ran for $((SECONDS - start))s (exit $rc)"
        [[ $rc -eq 0 ]] || fail "the VM did not power off by itself (exit $rc; 124 is the timeout); see $dir/console.log"
    else
        qemu-system-x86_64 "${args[@]}" < /dev/null &
        local pid=$! waited=0
        until grep -q "massho live start exited" "$dir/console.log" 2>/dev/null; do
            sleep 2
            waited=$((waited + 2))
            if ! kill -0 "$pid" 2>/dev/null; then fail "the VM stopped before showing the error"; break; fi
            if [[ $waited -ge ${MASSHO_LIVE_TIMEOUT:-300} ]]; then fail "no error shown within ${waited}s"; break; fi
        done
        # A live system that wrongly went on to power off would do it now.
        sleep 5
        if kill -0 "$pid" 2>/dev/null; then
            kill "$pid"
        else
            fail "the VM powered off after a malformed live.toml; it must wait for the technician"
        fi
        wait "$pid" 2>/dev/null || true
        note "[$boot] error shown after $((SECONDS - start))s"
    fi
    echo "$((SECONDS - start))" > "$dir/seconds"

    # The stick outside its MASSHO partition is what it was.
    [[ $(outside_hash "$stick") == "$pristine" ]] \
        || fail "the stick changed outside its MASSHO partition (MBR, GPT, BIOS boot or ESP)"
    mkdir -p "$dir/medium"
    mcopy -s -n -i "$stick@@$data_off" ::/massho "$dir/medium/" 2>/dev/null || fail "cannot read the MASSHO partition back"
    grep -q "PATH .*SIZE" "$dir/console.log" || fail "the console never showed the drive table"
}

check_wiped() {
    local dir="$out/$boot" spec serial cert n=0
    for spec in "${TARGETS[@]}"; do
        serial=${spec#*:}
        cmp -s -n "$DISK_SIZE" "$dir/disk-$serial.img" /dev/zero \
            || fail "disk $serial is not all zeros after the wipe"
    done
    local pub="$dir/medium/massho/keys/massho.pub"
    [[ -f $pub ]] || { fail "no public key on the stick (generate = true)"; return; }
    grep -q "fingerprint" "$dir/console.log" || fail "the generated key's fingerprint was not shown"
    for spec in "${TARGETS[@]}"; do
        serial=${spec#*:}
        n=0
        for cert in "$dir"/medium/massho/certificates/*.json; do
            [[ -f $cert ]] && grep -q "\"$serial\"" "$cert" && n=$((n + 1))
        done
        [[ $n -eq 1 ]] || fail "$n certificates for serial $serial on the stick (expected 1)"
    done
    if ! "$massho" cert verify "$dir/medium/massho/certificates" --pubkey "$pub" > "$dir/cert-verify.txt" 2>&1; then
        fail "massho cert verify rejected the certificates: $(cat "$dir/cert-verify.txt")"
    fi
    [[ $(find "$dir/medium/massho/results" -name '*.json' | wc -l) -eq ${#TARGETS[@]} ]] \
        || fail "expected ${#TARGETS[@]} result files on the stick"
    # The stick was seen and refused as the boot medium, in the log kept on the stick.
    grep -q "left alone: .*is the medium this system booted from (the massho live stick" \
        "$dir"/medium/massho/logs/live-*.log || fail "the log on the stick does not show the stick refused"
    grep -q "auto mode finished: exit 0" "$dir/console.log" || fail "auto mode did not finish with exit 0"
}

check_ledger() {
    local ledger="$out/$boot/medium/massho/ledger.sqlite"
    [[ -f $ledger ]] || { fail "no ledger on the stick"; return; }
    "$massho" ledger verify --ledger "$ledger" > "$out/$boot/ledger-verify.txt" 2>&1 \
        || fail "massho ledger verify rejected the stick's ledger: $(cat "$out/$boot/ledger-verify.txt")"
    local spec
    for spec in "${TARGETS[@]}"; do
        MASSHO_LEDGER=$ledger "$massho" media list 2>/dev/null | grep -q "${spec#*:}" \
            || fail "the ledger does not list the wiped disk ${spec#*:}"
    done
}

check_untouched() {
    local dir="$out/$boot" spec serial
    for spec in "${TARGETS[@]}"; do
        serial=${spec#*:}
        cmp -s -n "$DISK_SIZE" "$dir/disk-$serial.img" <(head -c "$DISK_SIZE" /dev/zero | tr '\0' '\245') \
            || fail "disk $serial changed although live.toml was malformed"
    done
    grep -q "live.toml line 3: unknown key \`methd\`" "$dir/console.log" \
        || fail "the console does not name line 3 and the unknown key"
    grep -q "Nothing will be wiped" "$dir/console.log" || fail "the console does not say that nothing will be wiped"
    [[ ! -d $dir/medium/massho/certificates && ! -d $dir/medium/massho/results ]] \
        || fail "records were written although nothing may be wiped"
}

for boot in "${boots[@]}"; do
    before=$failures
    case $boot in
        bios-usb)  run_boot bios usb config_auto yes && check_wiped ;;
        uefi-usb)  run_boot uefi usb config_auto yes && check_wiped ;;
        bios-sata) run_boot bios sata config_auto_ledger yes && check_wiped && check_ledger ;;
        malformed) run_boot bios usb config_malformed no && check_untouched ;;
    esac
    [[ $failures -eq $before ]] && note "[$boot] passed in $(cat "$out/$boot/seconds")s of VM time"
done
note "total ${SECONDS}s ($((SECONDS - t0))s after setup)"
if [[ $failures -gt 0 ]]; then
    note "$failures check(s) failed; everything is in $out"
    exit 1
fi
note "every boot passed"
[[ -n ${MASSHO_LIVE_KEEP:-} ]] || rm -rf "$out"/*/stick.img "$out"/*/disk-*.img
exit 0
