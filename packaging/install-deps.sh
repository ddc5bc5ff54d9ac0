#!/usr/bin/env bash
# Install what building and testing massho needs on Debian/Ubuntu. Idempotent: packages already
# installed are left alone, and the package lists are refreshed only when something is missing.
#
#   required  libblkid-dev libclang-dev pkg-config   build (libblkid-rs, bindgen)
#             util-linux fdisk e2fsprogs fuse3      tests (losetup, sfdisk, mkfs.ext4, fusermount3 for
#                                                   the faulty-device harness)
#             minisign openssl python3-jsonschema   tests: the reference signature verifier, a real
#                                                   RFC 3161 TSA, an independent JSON Schema validator
#             sqlite3                               tests: tamper with a ledger the way an insider would
#             tmux                                  tests/console.rs: drives the console (keys in,
#                                                   screen out)
#             fonts-ipaexfont-gothic                the Japanese font PDF certificates embed (run time)
#             fonts-noto-cjk fonts-dejavu-core      tests: the fallback CJK font (CFF outlines) and a
#                                                   font without Japanese, which PDF output refuses
#             poppler-utils zbar-tools              tests: pdfinfo/pdffonts/pdftotext/pdftoppm judge the
#                                                   PDFs, zbarimg reads their QR codes back
#             libnss3-tools                         tests/pades.rs: certutil makes the NSS database of
#                                                   trusted CAs that pdfsig checks signed PDFs against
#             qemu-system-x86 busybox-static kmod   tests/vm.rs: the QEMU guest rig (packaging/vm/run.sh)
#             cpio mtools dosfstools binutils       boots a Debian kernel with a busybox initramfs
#                                                   (depmod/modprobe resolve its modules, cpio packs
#                                                   it, objcopy strips massho's debug sections) and
#                                                   reads the guest's FAT result disk with mtools
#             man-db bash zsh fish                  tests/release.rs: man(1) renders the generated pages,
#                                                   the shells parse the generated completions
#             dpkg-dev file git                     packaging/release.sh: dpkg-deb builds the .deb, file
#                                                   checks the binary is static, git names the commit
#             grub-pc-bin grub-efi-amd64-bin ovmf   packaging/live/build.sh: GRUB images for BIOS and
#                                                   UEFI (grub-mkimage; nothing is installed to a
#                                                   disk); test.sh boots the image under OVMF (UEFI)
#   optional  fio nwipe dd(coreutils) jq            packaging/bench.sh peers and JSON parsing
#             lintian                               checks the .deb (docs/release.md)
#
# Usage: sudo packaging/install-deps.sh
set -euo pipefail

required=(libblkid-dev libclang-dev pkg-config util-linux fdisk e2fsprogs fuse3 minisign openssl python3-jsonschema sqlite3 tmux
          fonts-ipaexfont-gothic fonts-noto-cjk fonts-dejavu-core poppler-utils zbar-tools libnss3-tools
          qemu-system-x86 busybox-static kmod cpio mtools dosfstools binutils
          man-db bash zsh fish dpkg-dev file git
          grub-pc-bin grub-efi-amd64-bin ovmf)
optional=(fio nwipe jq lintian)

if [[ $(id -u) -ne 0 ]]; then
    echo "install-deps: run as root (apt-get install needs it): sudo $0" >&2
    exit 1
fi
if ! command -v apt-get >/dev/null; then
    echo "install-deps: apt-get not found; install these with your package manager:" >&2
    echo "  ${required[*]} ${optional[*]}" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive

installed() {
    [[ $(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null) == installed ]]
}

# Whether apt knows a candidate version for the package (i.e. it can be installed from the
# configured sources).
available() {
    local candidate
    candidate=$(apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ {print $2}')
    [[ -n $candidate && $candidate != "(none)" ]]
}

missing=()
for p in "${required[@]}" "${optional[@]}"; do
    installed "$p" || missing+=("$p")
done
if [[ ${#missing[@]} -eq 0 ]]; then
    echo "install-deps: everything is installed already"
    exit 0
fi
echo "install-deps: missing: ${missing[*]}"

# Refresh the lists only if one of the missing packages is unknown to apt, or the lists were
# never fetched.
need_update=0
if [[ -z $(find /var/lib/apt/lists -maxdepth 1 -name '*_Packages*' -print -quit 2>/dev/null) ]]; then
    need_update=1
else
    for p in "${missing[@]}"; do
        available "$p" || need_update=1
    done
fi
if [[ $need_update -eq 1 ]]; then
    apt-get update
fi

to_install=()
for p in "${missing[@]}"; do
    if available "$p"; then
        to_install+=("$p")
    elif printf '%s\n' "${required[@]}" | grep -qx "$p"; then
        echo "install-deps: required package $p is not available from the configured apt sources" >&2
        exit 1
    else
        echo "install-deps: warning: optional package $p is not available; skipping it" >&2
    fi
done

if [[ ${#to_install[@]} -gt 0 ]]; then
    apt-get install -y --no-install-recommends "${to_install[@]}"
fi
echo "install-deps: done"
