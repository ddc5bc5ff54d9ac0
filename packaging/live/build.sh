#!/usr/bin/env bash
# Build massho-live.img: a disk image to write onto a USB stick that boots BIOS and UEFI PCs into
# massho. See docs/live.md.
#
#   packaging/live/build.sh [--out FILE] [--data-size SIZE]
#
#   --out FILE        where the image goes (default: target/live/massho-live.img)
#   --data-size SIZE  size of the MASSHO records partition, as for numfmt --from=iec (default 64M)
#
# Layout (GPT, 512-byte sectors, every partition 1 MiB aligned):
#   MBR        protective MBR whose boot code is GRUB's boot.img (BIOS)
#   p1  1 MiB  BIOS boot partition: GRUB's core.img for BIOS
#   p2         EFI system partition, FAT, label MASSHOBOOT: /EFI/BOOT/BOOTX64.EFI (GRUB for UEFI),
#              /boot/grub/grub.cfg, /live/vmlinuz, /live/initrd.gz (busybox, massho, modules)
#   p3         FAT, label MASSHO: massho/live.toml (configuration) and every record
#
# Reproducible: the same inputs give the same bytes. The inputs are the massho binary, the kernel
# package, busybox, GRUB, this directory and SOURCE_DATE_EPOCH (default: the commit time of HEAD).
# Every timestamp is SOURCE_DATE_EPOCH, FAT volume serials and GPT GUIDs are derived from a hash
# of the inputs, file order is sorted, cpio runs with --reproducible and gzip with -n.
#
# Environment:
#   MASSHO_BIN        the massho binary (default: target/release/massho). A dynamically linked one
#                     is copied with the libraries ldd lists; a static one alone.
#   MASSHO_LIVE_STRIP_DEBUG  set: strip the binary's debug sections (for tests with a debug build;
#                     certificates then record the stripped binary's SHA-256)
#   MASSHO_VM_CACHE   the kernel cache shared with the QEMU rig (default: $HOME/.cache/massho-vm)
#   MASSHO_VM_KERNEL  "PACKAGE=VERSION" of the Debian kernel (default: the rig's pin)
#   SOURCE_DATE_EPOCH every timestamp in the image
#
# Writes only files: the image, and a temporary directory it removes. Needs no loop device.
set -euo pipefail
umask 022
export LC_ALL=C TZ=UTC MTOOLS_SKIP_CHECK=1

repo=$(cd "$(dirname "$0")/../.." && pwd)
live_dir="$repo/packaging/live"
# shellcheck source=packaging/vm/kernel.sh
source "$repo/packaging/vm/kernel.sh"

die() { echo "massho-live: $*" >&2; exit 1; }
note() { echo "massho-live: $*" >&2; }

# The modules the live system loads, in this order (dependencies resolved by modprobe). No
# network drivers: the live system has no network.
readonly MODULES=(
    # virtual machines
    virtio_pci virtio_blk virtio_scsi
    # NVMe, SATA (AHCI and old Intel IDE-mode controllers)
    nvme ahci ata_piix
    # SAS and RAID HBAs found in servers (LSI/Broadcom, HPE Smart Array, Adaptec, Microchip)
    mpt3sas megaraid_sas mpi3mr hpsa smartpqi aacraid isci mvsas pm80xx
    # disks and SCSI generic (SG_IO for drive identity and firmware purge)
    sd_mod sg
    # USB host controllers, sticks and USB-SATA bridges; USB keyboards
    xhci_pci ehci_pci ohci_pci uhci_hcd usb-storage uas usbhid hid_generic
    # SD/MMC card readers
    sdhci_pci sdhci_acpi rtsx_pci_sdmmc mmc_block
    # the MASSHO partition
    vfat nls_ascii nls_cp437 nls_utf8 nls_iso8859_1
)
# GRUB modules built into each image; no module directory on the stick.
readonly GRUB_COMMON=(part_gpt fat normal linux echo test serial terminal sleep configfile)
readonly GRUB_PC=(biosdisk)
readonly GRUB_EFI=(efi_gop efi_uga all_video)

readonly TYPE_BIOS_BOOT=21686148-6449-6E6F-744E-656564454649
readonly TYPE_ESP=C12A7328-F81F-11D2-BA4B-00A0C93EC93B
readonly TYPE_BASIC_DATA=EBD0A0A2-B9E5-4433-87C0-68B6B72699C7
readonly MIB=1048576

out="$repo/target/live/massho-live.img" data_size=64M
while [[ $# -gt 0 ]]; do
    case $1 in
        --out) [[ $# -ge 2 ]] || die "--out needs a FILE"; out=$2; shift 2 ;;
        --data-size) [[ $# -ge 2 ]] || die "--data-size needs a SIZE"; data_size=$2; shift 2 ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown argument $1 (see --help)" ;;
    esac
done
data_bytes=$(numfmt --from=iec "$data_size" 2>/dev/null) || die "--data-size $data_size is not a size like 64M"
[[ $data_bytes -ge $((33 * MIB)) ]] || die "--data-size must be at least 33M (FAT32 and room for records)"

for tool in busybox mkfs.vfat mcopy mmd sfdisk cpio gzip grub-mkimage modprobe depmod dpkg-deb \
            apt-get flock ldd sha256sum numfmt truncate; do
    command -v "$tool" >/dev/null || die "$tool not found: install it with packaging/install-deps.sh"
done
for d in /usr/lib/grub/i386-pc /usr/lib/grub/x86_64-efi; do
    [[ -d $d ]] || die "$d not found: install grub-pc-bin and grub-efi-amd64-bin (packaging/install-deps.sh)"
done
busybox=$(command -v busybox)
ldd "$busybox" >/dev/null 2>&1 && die "$busybox is dynamically linked; the image needs busybox-static"
massho_bin=${MASSHO_BIN:-$repo/target/release/massho}
[[ -x $massho_bin ]] || die "massho binary $massho_bin not found: run cargo build --release or set MASSHO_BIN"

if [[ -z ${SOURCE_DATE_EPOCH:-} ]]; then
    SOURCE_DATE_EPOCH=$(git -C "$repo" log -1 --format=%ct 2>/dev/null) \
        || die "not a git checkout: set SOURCE_DATE_EPOCH"
fi
[[ $SOURCE_DATE_EPOCH =~ ^[0-9]+$ ]] || die "SOURCE_DATE_EPOCH=$SOURCE_DATE_EPOCH is not a number of seconds"
export SOURCE_DATE_EPOCH
started=$SECONDS

[[ -n ${MASSHO_VM_CACHE:-} || -n ${HOME:-} ]] || die "neither MASSHO_VM_CACHE nor HOME is set: name a cache directory"
massho_kernel "${MASSHO_VM_CACHE:-$HOME/.cache/massho-vm}" "${MASSHO_VM_KERNEL:-}"

work=$(mktemp -d /tmp/massho-live.XXXXXX)
trap 'rm -rf "$work"' EXIT

# Everything deterministic is derived from one hash of the inputs.
inputs=$( { echo "$kernel_pkg=$kernel_version $SOURCE_DATE_EPOCH $data_bytes"; echo "${MODULES[*]}";
            echo "strip=${MASSHO_LIVE_STRIP_DEBUG:-}"
            sha256sum "$massho_bin" "$busybox" "$live_dir"/init "$live_dir"/grub.cfg "$0" \
                /usr/lib/grub/i386-pc/boot.img /usr/lib/grub/x86_64-efi/normal.mod | cut -d' ' -f1; } |
          sha256sum | cut -c1-64)
# A GUID from the input hash and a name, shaped as an RFC 4122 version-4 GUID.
guid() {
    local h
    h=$(printf '%s %s' "$inputs" "$1" | sha256sum | cut -c1-32)
    printf '%s-%s-4%s-%x%s-%s\n' "${h:0:8}" "${h:8:4}" "${h:13:3}" $(( (0x${h:16:1} & 3) | 8 )) \
        "${h:17:3}" "${h:20:12}" | tr 'a-f' 'A-F'
}
volid() { printf '%s %s' "$inputs" "$1" | sha256sum | cut -c1-8; }
disk_guid=$(guid disk)

# --- initramfs -------------------------------------------------------------------------------
root="$work/initramfs"
mkdir -p "$root/bin" "$root/etc/massho-live" "$root/lib/modules/$kver"
cp "$busybox" "$root/bin/busybox"
cp "$live_dir/init" "$root/init"
chmod 755 "$root/init"
# The binary goes in unchanged, so the SHA-256 every certificate records is the build's own.
# MASSHO_LIVE_STRIP_DEBUG=1 drops the debug sections of a debug build (tests: 100 MB -> 25 MB).
if [[ -n ${MASSHO_LIVE_STRIP_DEBUG:-} ]]; then
    objcopy --strip-debug "$massho_bin" "$root/bin/massho" || die "objcopy cannot read $massho_bin"
else
    cp "$massho_bin" "$root/bin/massho"
fi
# A dynamically linked massho brings its libraries, at the paths its loader looks for them; a
# static binary (the release build) has none and `ldd` fails on it.
{ ldd "$massho_bin" 2>/dev/null || true; } | awk '/=> \// { print $3 } /^\t\// { print $1 }' |
    while read -r lib; do
        mkdir -p "$root$(dirname "$lib")"
        cp -L "$lib" "$root$lib"
    done
massho_kernel_modules "${MODULES[@]}" | while read -r rel; do
    mkdir -p "$root/lib/modules/$kver/$(dirname "$rel")"
    cp "$kdir/tree/lib/modules/$kver/$rel" "$root/lib/modules/$kver/$rel"
    echo "$rel"
done > "$root/etc/massho-live/modules.load"
[[ -s $root/etc/massho-live/modules.load ]] || die "no modules resolved"
massho_version=$("$massho_bin" --version 2>/dev/null | head -1) || massho_version="massho (unknown version)"
cat > "$root/etc/massho-live/release" <<EOF
$massho_version
kernel $kernel_pkg $kernel_version
built $(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ)
disk $disk_guid
EOF
echo "$kver" > "$root/etc/massho-live/kernel-version"
find "$root" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
(cd "$root" && find . -mindepth 1 | sort |
    cpio --quiet -o -H newc --reproducible -R 0:0) | gzip -n -6 > "$work/initrd.gz"

# --- GRUB ------------------------------------------------------------------------------------
# The prefix names the ESP (gpt2) of the disk GRUB was started from, so one grub.cfg serves both.
grub-mkimage -O i386-pc -o "$work/core.img" -p '(,gpt2)/boot/grub' \
    "${GRUB_COMMON[@]}" "${GRUB_PC[@]}" || die "grub-mkimage (i386-pc) failed"
grub-mkimage -O x86_64-efi -o "$work/BOOTX64.EFI" -p '(,gpt2)/boot/grub' \
    "${GRUB_COMMON[@]}" "${GRUB_EFI[@]}" || die "grub-mkimage (x86_64-efi) failed"
core_sectors=$(( ($(stat -c %s "$work/core.img") + 511) / 512 ))
[[ $core_sectors -le 2048 ]] || die "core.img ($core_sectors sectors) does not fit the 1 MiB BIOS boot partition"

# --- the ESP -----------------------------------------------------------------------------------
esp="$work/esp"
mkdir -p "$esp/EFI/BOOT" "$esp/boot/grub" "$esp/live"
cp "$work/BOOTX64.EFI" "$esp/EFI/BOOT/BOOTX64.EFI"
cp "$kdir/tree/boot/vmlinuz-$kver" "$esp/live/vmlinuz"
cp "$work/initrd.gz" "$esp/live/initrd.gz"
sed "s/@DISK_GUID@/$disk_guid/g; s/@VERSION@/$massho_version/g" "$live_dir/grub.cfg" > "$esp/boot/grub/grub.cfg"
cp "$root/etc/massho-live/release" "$esp/live/release.txt"

# A FAT image of SIZE MiB with the files of DIR, every timestamp SOURCE_DATE_EPOCH.
fat_image() {
    local img=$1 mib=$2 label=$3 dir=$4 fat=()
    [[ $mib -ge 33 ]] && fat=(-F 32)
    rm -f "$img"
    mkfs.vfat -C --invariant "${fat[@]}" -i "$(volid "$label")" -n "$label" "$img" $((mib * 1024)) >/dev/null \
        || die "mkfs.vfat failed for $label"
    find "$dir" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
    (cd "$dir" && find . -mindepth 1 -type d | sort | sed 's|^\./||') | while read -r d; do
        mmd -i "$img" "::/$d" || die "mmd $d failed"
    done
    (cd "$dir" && find . -type f | sort | sed 's|^\./||') | while read -r f; do
        mcopy -m -i "$img" "$dir/$f" "::/$f" || die "mcopy $f failed"
    done
}
esp_bytes=$(du -sb "$esp" | cut -f1)
esp_mib=$(( esp_bytes / MIB + 8 ))           # room for FAT tables and a later, larger kernel
[[ $esp_mib -ge 40 ]] || esp_mib=40
fat_image "$work/esp.fat" "$esp_mib" MASSHOBOOT "$esp"

# --- the MASSHO partition ------------------------------------------------------------------------
data="$work/data"
mkdir -p "$data/massho"
cp "$live_dir/README.txt" "$data/massho/README.txt"
cp "$live_dir/live.toml.example" "$data/massho/live.toml.example"
data_mib=$(( data_bytes / MIB ))
fat_image "$work/data.fat" "$data_mib" MASSHO "$data"

# --- the disk --------------------------------------------------------------------------------
bios_start=2048 bios_sectors=2048
esp_start=$((bios_start + bios_sectors)) esp_sectors=$((esp_mib * 2048))
data_start=$((esp_start + esp_sectors)) data_sectors=$((data_mib * 2048))
total_sectors=$((data_start + data_sectors + 2048))   # 1 MiB for the backup GPT, aligned
mkdir -p "$(dirname "$out")"
img="$out.tmp"
rm -f "$img"
truncate -s $((total_sectors * 512)) "$img"
sfdisk --quiet --no-reread --no-tell-kernel "$img" <<EOF || die "sfdisk failed"
label: gpt
label-id: $disk_guid
unit: sectors
sector-size: 512
start=$bios_start, size=$bios_sectors, type=$TYPE_BIOS_BOOT, uuid=$(guid bios), name="BIOS boot"
start=$esp_start, size=$esp_sectors, type=$TYPE_ESP, uuid=$(guid esp), name="massho boot"
start=$data_start, size=$data_sectors, type=$TYPE_BASIC_DATA, uuid=$(guid data), name="MASSHO"
EOF
put() { dd if="$1" of="$img" bs=512 seek="$2" conv=notrunc,sparse status=none || die "cannot write $1 into the image"; }
put "$work/esp.fat" "$esp_start"
put "$work/data.fat" "$data_start"

# BIOS: boot.img's code (not the partition table) goes into the MBR and loads core.img from
# the BIOS boot partition; this is what grub-bios-setup does, done on a file.
cp /usr/lib/grub/i386-pc/boot.img "$work/boot.img"
le64() {
    local v=$1 i
    # shellcheck disable=SC2059 # the format is the escaped byte
    for i in 0 1 2 3 4 5 6 7; do printf "\\x$(printf %02x $(( (v >> (8 * i)) & 255 )))"; done
}
# GRUB_BOOT_MACHINE_KERNEL_SECTOR (0x5c): where core.img starts.
le64 "$bios_start" | dd of="$work/boot.img" bs=1 seek=$((0x5c)) conv=notrunc status=none
# GRUB_BOOT_MACHINE_DRIVE_CHECK (0x66): two NOPs, so a BIOS that passes a bad drive number in DL
# still boots from the first hard disk (grub-bios-setup does the same for hard disks).
printf '\x90\x90' | dd of="$work/boot.img" bs=1 seek=$((0x66)) conv=notrunc status=none
dd if="$work/boot.img" of="$img" bs=1 count=440 conv=notrunc status=none
# diskboot.img's block list (the last 12 bytes of core.img's first sector): the rest of core.img
# follows its first sector; grub-mkimage already filled in the length.
cp "$work/core.img" "$work/core.patched"
le64 $((bios_start + 1)) | dd of="$work/core.patched" bs=1 seek=$((0x200 - 12)) conv=notrunc status=none
put "$work/core.patched" "$bios_start"

mv "$img" "$out"
elapsed=$((SECONDS - started))
note "built $out: $(stat -c %s "$out") bytes ($((total_sectors / 2048)) MiB), disk GUID $disk_guid, in ${elapsed}s"
note "sha256 $(sha256sum "$out" | cut -d' ' -f1)"
