#!/usr/bin/env bash
# Run a script as root inside a QEMU guest whose disks are emulated NVMe, SATA (AHCI), SCSI
# (virtio-scsi), USB (usb-storage on xHCI) and virtio-blk drives, so massho meets the real Linux
# drivers. See docs/testing.md ("The QEMU guest rig").
#
#   packaging/vm/run.sh [--out DIR] [--timeout SECONDS] [--disk KIND:SIZE:SERIAL]... [--tool PATH]...
#                       -- GUEST-SCRIPT
#
# The guest boots a pinned Debian kernel (downloaded once with apt-get download) with a small
# initramfs: busybox-static, massho ($MASSHO_BIN, default target/debug/massho) with its shared
# libraries, the storage modules, and GUEST-SCRIPT. In the guest, `massho` is on the PATH, $OUT
# names a directory on a FAT result disk, `massho-vm-disk SERIAL` prints the /dev node of the disk
# with that serial (from sysfs) and $MASSHO_VM_DISKS lists "KIND:SERIAL" pairs. --tool copies a
# host program (e.g. /usr/sbin/nvme, /usr/bin/sg_inq, /usr/sbin/hdparm) and its shared libraries
# into the guest's /bin, so a script can check massho against a peer tool on the same drivers.
#
# On the host, DIR (default: a new /tmp/massho-vm.XXXXXX, printed) then holds:
#   disk-SERIAL.img   each disk's raw backing file (sparse; an existing file of exactly SIZE bytes
#                     is used as it is, so a caller can fill it first)
#   out/              the guest's $OUT, copied back
#   console.log       the guest's serial console (kernel messages and the script's output)
#   vm-status         one line: "exit N", "timeout", "no-status" or "setup-failed"
#
# Exit codes: the guest script's own exit code when it ran; 123 the VM ran but the script's exit
# code never came back (no boot, kernel panic, a disk that never appeared: see console.log and
# vm-status); 124 the hard timeout struck; 125 the rig could not start the VM (usage, missing tools,
# kernel download). A guest script should avoid 123-125 itself; vm-status tells them apart anyway.
#
# Environment:
#   MASSHO_BIN          the massho binary to put in the guest (default: target/debug/massho)
#   MASSHO_VM_CACHE     download and initramfs cache (default: $HOME/.cache/massho-vm)
#   MASSHO_VM_KERNEL    "PACKAGE=VERSION" of the Debian kernel (default: the pinned one below)
#   MASSHO_VM_ACCEL     tcg (default) or kvm: nested KVM hangs on the CI machines (REFERENCE.md)
#   MASSHO_VM_MEM, MASSHO_VM_SMP   guest memory in MiB (default 1024) and CPUs (default 1)
#   MASSHO_VM_APPEND    more kernel parameters (e.g. massho.medium=GUID, as the live stick's boot
#                       loader passes it)
set -euo pipefail
export MTOOLS_SKIP_CHECK=1

readonly EXIT_NO_STATUS=123 EXIT_TIMEOUT=124 EXIT_SETUP=125
# The pinned kernel ($MASSHO_DEFAULT_KERNEL) and its download live in kernel.sh, shared with the
# live image (packaging/live/build.sh).
# The modules the guest loads, in this order, with their dependencies resolved by modprobe.
readonly MODULES=(virtio_pci virtio_blk virtio_scsi nvme ahci sd_mod sg xhci_pci ehci_pci
                  usb-storage vfat nls_ascii nls_cp437)
readonly KINDS="nvme sata scsi usb virtio"

repo=$(cd "$(dirname "$0")/../.." && pwd)
vm_dir="$repo/packaging/vm"
# shellcheck source=packaging/vm/kernel.sh
source "$vm_dir/kernel.sh"

die() {
    echo "massho-vm: $*" >&2
    [[ -n ${out_dir:-} && -d ${out_dir:-} ]] && echo setup-failed > "$out_dir/vm-status"
    exit $EXIT_SETUP
}
note() { echo "massho-vm: $*" >&2; }
usage() {
    sed -n '6,7p' "$0" | sed '1s/^#   /usage: /; 2s/^#/    /' >&2
    echo "  KIND is one of: $KINDS; SIZE as for truncate(1) (64M, 1G); SERIAL [A-Za-z0-9._-], at most 20 characters" >&2
    exit $EXIT_SETUP
}

# --- arguments ---------------------------------------------------------------------------------
out_dir='' timeout_s=300 script='' disks=() tools=()
while [[ $# -gt 0 ]]; do
    case $1 in
        --out) [[ $# -ge 2 ]] || usage; out_dir=$2; shift 2 ;;
        --timeout) [[ $# -ge 2 && $2 =~ ^[0-9]+$ ]] || usage; timeout_s=$2; shift 2 ;;
        --disk) [[ $# -ge 2 ]] || usage; disks+=("$2"); shift 2 ;;
        --tool) [[ $# -ge 2 ]] || usage; tools+=("$2"); shift 2 ;;
        --) shift; [[ $# -eq 1 ]] || usage; script=$1; shift ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) usage ;;
    esac
done
[[ -n $script ]] || usage
[[ -f $script && -r $script ]] || die "guest script $script is not a readable file"
for tool in "${tools[@]}"; do
    [[ -f $tool && -x $tool ]] || die "--tool $tool is not an executable file"
    case ${tool##*/} in
        massho|massho-vm-disk|busybox) die "--tool $tool would replace the rig's own ${tool##*/}" ;;
    esac
done

declare -A seen_serial=()
kinds=() sizes=() serials=()
for spec in "${disks[@]}"; do
    IFS=: read -r kind size serial extra <<< "$spec"
    [[ -z ${extra:-} && -n ${serial:-} ]] || die "--disk $spec: expected KIND:SIZE:SERIAL"
    [[ " $KINDS " == *" $kind "* ]] || die "--disk $spec: unknown kind $kind (one of: $KINDS)"
    [[ $size =~ ^[1-9][0-9]*[KMG]?$ ]] || die "--disk $spec: size $size is not like 64M or 1G"
    [[ $serial =~ ^[A-Za-z0-9._-]{1,20}$ ]] \
        || die "--disk $spec: serial must be 1-20 characters of A-Z a-z 0-9 . _ -"
    [[ $serial != massho-vm-out ]] || die "--disk $spec: serial massho-vm-out is the rig's own"
    [[ -z ${seen_serial[$serial]:-} ]] || die "--disk $spec: serial $serial given twice"
    seen_serial[$serial]=1
    kinds+=("$kind") sizes+=("$size") serials+=("$serial")
done
sata_count=0
for k in "${kinds[@]}"; do [[ $k == sata ]] && sata_count=$((sata_count + 1)); done
[[ $sata_count -le 6 ]] || die "at most 6 sata disks (the q35 AHCI controller has 6 ports)"

if [[ -z $out_dir ]]; then
    out_dir=$(mktemp -d /tmp/massho-vm.XXXXXX)
    note "output directory: $out_dir"
fi
mkdir -p "$out_dir" || die "cannot create the output directory $out_dir"
out_dir=$(cd "$out_dir" && pwd)
rm -rf "$out_dir/out" "$out_dir/vm-status" "$out_dir/console.log"

# --- tools ---------------------------------------------------------------------------------------
for tool in qemu-system-x86_64 busybox mcopy mtype mkfs.vfat depmod modprobe cpio apt-get dpkg-deb \
            flock timeout ldd sha256sum truncate objcopy numfmt; do
    command -v "$tool" >/dev/null \
        || die "$tool not found: install the rig's tools with packaging/install-deps.sh"
done
busybox=$(command -v busybox)
if ldd "$busybox" >/dev/null 2>&1; then
    die "$busybox is dynamically linked; the guest needs busybox-static (packaging/install-deps.sh)"
fi
massho_bin=${MASSHO_BIN:-$repo/target/debug/massho}
[[ -x $massho_bin ]] || die "massho binary $massho_bin not found: run cargo build or set MASSHO_BIN"

# --- kernel (cached) -----------------------------------------------------------------------------
[[ -n ${MASSHO_VM_CACHE:-} || -n ${HOME:-} ]] || die "neither MASSHO_VM_CACHE nor HOME is set: name a cache directory"
cache=${MASSHO_VM_CACHE:-$HOME/.cache/massho-vm}
massho_kernel "$cache" "${MASSHO_VM_KERNEL:-}"
exec 9> "$cache/.lock"
flock 9

# --- base initramfs: busybox, init, modules (cached, keyed by every input) -------------------------
key=$( { echo "$kernel_pkg=$kernel_version"; echo "${MODULES[*]}"; sha256sum "$busybox" \
         "$vm_dir/init" "$vm_dir/massho-vm-disk" | cut -d' ' -f1; } | sha256sum | cut -c1-16)
base="$cache/initramfs/base-$key.cpio"
if [[ ! -f $base ]]; then
    note "building the base initramfs ($base)"
    stage=$(mktemp -d "$cache/stage.XXXXXX")
    mkdir -p "$stage/bin" "$stage/massho-vm" "$stage/lib/modules/$kver"
    cp "$busybox" "$stage/bin/busybox"
    cp "$vm_dir/init" "$stage/init"
    cp "$vm_dir/massho-vm-disk" "$stage/bin/massho-vm-disk"
    echo "$kver" > "$stage/massho-vm/kernel-version"
    massho_kernel_modules "${MODULES[@]}" | while read -r rel; do
        mkdir -p "$stage/lib/modules/$kver/$(dirname "$rel")"
        cp "$kdir/tree/lib/modules/$kver/$rel" "$stage/lib/modules/$kver/$rel"
        echo "$rel"
    done > "$stage/massho-vm/modules.load"
    [[ -s $stage/massho-vm/modules.load ]] || die "no modules resolved for the guest"
    mkdir -p "$cache/initramfs"
    (cd "$stage" && find . -mindepth 1 | LC_ALL=C sort | cpio --quiet -o -H newc) > "$base.tmp"
    mv "$base.tmp" "$base"
    rm -rf "$stage"
    # Earlier inputs' archives are never used again (a running VM has its own copy).
    find "$cache/initramfs" -name 'base-*.cpio' ! -path "$base" -delete
fi
flock -u 9

# --- per-run initramfs: massho, its libraries, the script, the disk list --------------------------
work=$(mktemp -d /tmp/massho-vm-work.XXXXXX)
qemu_pid=
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
    if [[ -n $qemu_pid ]]; then kill "$qemu_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

run="$work/run"
mkdir -p "$run/bin" "$run/massho-vm"
# Without its debug sections (100 MB -> 25 MB for a debug build) the initramfs loads in seconds
# less under TCG; the code is the same.
objcopy --strip-debug "$massho_bin" "$run/bin/massho" || die "objcopy cannot read $massho_bin"
# Shared libraries at the paths the dynamic loader will look for them.
copy_libs() {
    # ldd fails on a static program: it has no libraries to copy.
    { ldd "$1" 2>/dev/null || true; } | awk '/=> \// { print $3 } /^\t\// { print $1 }' |
        while read -r lib; do
            mkdir -p "$run$(dirname "$lib")"
            cp -L "$lib" "$run$lib"
        done
}
copy_libs "$massho_bin"
for tool in "${tools[@]}"; do
    copy_libs "$tool"
    cp -L "$tool" "$run/bin/"
done
cp "$script" "$run/massho-vm/guest-script"
chmod 755 "$run/massho-vm/guest-script"
: > "$run/massho-vm/disks"
for i in "${!kinds[@]}"; do echo "${kinds[$i]} ${serials[$i]}" >> "$run/massho-vm/disks"; done
(cd "$run" && find . -mindepth 1 | LC_ALL=C sort | cpio --quiet -o -H newc) > "$work/run.cpio"
# The kernel unpacks concatenated newc archives in order.
cat "$base" "$work/run.cpio" > "$work/initramfs.cpio"

# --- disks ---------------------------------------------------------------------------------------
qemu_disks=()
have_scsi=0 have_usb=0 sata_port=0
for i in "${!kinds[@]}"; do
    kind=${kinds[$i]} size=${sizes[$i]} serial=${serials[$i]}
    img="$out_dir/disk-$serial.img"
    want=$(numfmt --from=iec "$size")
    if [[ -e $img ]]; then
        have=$(stat -c %s "$img")
        [[ $have -eq $want ]] || die "$img exists with $have bytes, but --disk asks for $size ($want bytes)"
    else
        truncate -s "$size" "$img"
    fi
    id="massho-disk$i"
    qemu_disks+=(-drive "file=$img,if=none,id=$id,format=raw,cache=writeback")
    case $kind in
        nvme) qemu_disks+=(-device "nvme,drive=$id,serial=$serial") ;;
        sata) qemu_disks+=(-device "ide-hd,drive=$id,bus=ide.$sata_port,serial=$serial")
              sata_port=$((sata_port + 1)) ;;
        scsi) [[ $have_scsi -eq 1 ]] || qemu_disks+=(-device "virtio-scsi-pci,id=massho-scsi")
              have_scsi=1
              qemu_disks+=(-device "scsi-hd,drive=$id,bus=massho-scsi.0,serial=$serial") ;;
        usb)  [[ $have_usb -eq 1 ]] || qemu_disks+=(-device "qemu-xhci,id=massho-xhci")
              have_usb=1
              qemu_disks+=(-device "usb-storage,drive=$id,bus=massho-xhci.0,serial=$serial") ;;
        virtio) qemu_disks+=(-device "virtio-blk-pci,drive=$id,serial=$serial") ;;
    esac
done

# The result disk: FAT, read back on the host with mtools.
fat="$work/out.fat"
truncate -s 64M "$fat"
mkfs.vfat -n MASSHOOUT "$fat" >/dev/null || die "mkfs.vfat failed on $fat"

case ${MASSHO_VM_ACCEL:-tcg} in
    tcg) accel=(-accel tcg) ;;
    kvm) accel=(-accel kvm -cpu host) ;;
    *) die "MASSHO_VM_ACCEL=${MASSHO_VM_ACCEL} is neither tcg nor kvm" ;;
esac

# --- boot ----------------------------------------------------------------------------------------
console="$out_dir/console.log"
note "booting $kernel_pkg with ${#kinds[@]} disk(s) under ${MASSHO_VM_ACCEL:-tcg} (timeout ${timeout_s}s)"
start=$SECONDS
timeout --kill-after=10 "$timeout_s" qemu-system-x86_64 \
    -machine q35 "${accel[@]}" -m "${MASSHO_VM_MEM:-1024}" -smp "${MASSHO_VM_SMP:-1}" \
    -nodefaults -nographic -no-reboot -monitor none -serial "file:$console" \
    -kernel "$kdir/tree/boot/vmlinuz-$kver" -initrd "$work/initramfs.cpio" \
    -append "console=ttyS0 panic=-1 loglevel=4 printk.time=1 rdinit=/init ${MASSHO_VM_APPEND:-}" \
    -drive "file=$fat,if=none,id=massho-out,format=raw" \
    -device virtio-blk-pci,drive=massho-out,serial=massho-vm-out \
    "${qemu_disks[@]}" < /dev/null &
qemu_pid=$!
set +e
wait "$qemu_pid"
qemu_rc=$?
set -e
qemu_pid=
note "the VM ran for $((SECONDS - start))s"

# --- results -------------------------------------------------------------------------------------
mkdir -p "$out_dir/out"
if mdir -i "$fat" ::/out >/dev/null 2>&1; then
    mcopy -s -n -i "$fat" '::/out/*' "$out_dir/out/" 2>/dev/null || true
fi
if [[ $qemu_rc -eq 124 || $qemu_rc -eq 137 ]]; then
    echo timeout > "$out_dir/vm-status"
    note "timed out after ${timeout_s}s; the console log is $console"
    exit $EXIT_TIMEOUT
fi
if rig_error=$(mtype -i "$fat" ::/rig-error 2>/dev/null); then
    echo "no-status" > "$out_dir/vm-status"
    note "the guest rig failed: $rig_error"
    exit $EXIT_NO_STATUS
fi
if ! guest_rc=$(mtype -i "$fat" ::/exit-code 2>/dev/null | tr -d '\r\n ') || ! [[ $guest_rc =~ ^[0-9]+$ ]]; then
    echo "no-status" > "$out_dir/vm-status"
    note "the guest script's exit code never came back (qemu exit $qemu_rc); see $console"
    exit $EXIT_NO_STATUS
fi
echo "exit $guest_rc" > "$out_dir/vm-status"
exit "$guest_rc"
