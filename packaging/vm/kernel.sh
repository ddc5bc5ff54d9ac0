# shellcheck shell=bash
# The pinned Debian kernel, downloaded once and unpacked into a cache. Sourced by
# packaging/vm/run.sh (the QEMU guest rig) and packaging/live/build.sh (the live USB image), so
# both boot the same kernel. The caller defines die() and holds no lock; this takes the cache's.
#
#   massho_kernel CACHE-DIR [PACKAGE=VERSION]
#
# sets kernel_pkg, kver, kernel_version and kdir; $kdir/tree is the unpacked package with
# modules.dep (depmod -b) and $kdir/tree/boot/vmlinuz-$kver.

# The pinned kernel: in bookworm/main and bookworm-security on 2026-12-01. Debian removes old ABI
# packages after a point release; bump this (and check docs/testing.md) when apt no longer has it.
readonly MASSHO_DEFAULT_KERNEL=linux-image-6.1.0-47-amd64=6.1.170-3

massho_kernel() {
    local cache=$1 spec=${2:-$MASSHO_DEFAULT_KERNEL}
    [[ $spec =~ ^(linux-image-([0-9][A-Za-z0-9.+-]*))=([A-Za-z0-9.+:~-]+)$ ]] \
        || die "MASSHO_VM_KERNEL=$spec is not PACKAGE=VERSION, e.g. $MASSHO_DEFAULT_KERNEL"
    kernel_pkg=${BASH_REMATCH[1]} kver=${BASH_REMATCH[2]} kernel_version=${BASH_REMATCH[3]}
    mkdir -p "$cache" || die "cannot create the cache directory $cache"
    kdir="$cache/kernel/${kernel_pkg}_$kernel_version"
    # One preparation at a time: tests run several VMs and builds in parallel over one cache.
    exec 9> "$cache/.lock"
    flock 9
    if [[ ! -f $kdir/ready ]]; then
        rm -rf "$kdir"
        mkdir -p "$kdir/deb"
        echo "massho: downloading $kernel_pkg=$kernel_version (once; cached in $kdir)" >&2
        if ! massho_kernel_fetch >&2; then
            if [[ $(id -u) -eq 0 ]]; then
                echo "massho: refreshing the apt package lists and trying again" >&2
                apt-get -q update >&2 || true
            fi
            massho_kernel_fetch >&2 || die "cannot download $kernel_pkg=$kernel_version with \
apt-get: the package registry must be reachable and list that version (apt-cache madison \
$kernel_pkg); set MASSHO_VM_KERNEL=PACKAGE=VERSION to another linux-image-6.1.0-*-amd64 it has"
        fi
        dpkg-deb -x "$kdir"/deb/*.deb "$kdir/tree" || die "cannot unpack $kdir/deb"
        depmod -b "$kdir/tree" "$kver" || die "depmod failed on $kdir/tree"
        [[ -f $kdir/tree/boot/vmlinuz-$kver ]] || die "$kernel_pkg has no /boot/vmlinuz-$kver"
        rm -rf "$kdir/deb"   # the unpacked tree is all later runs need
        touch "$kdir/ready"
    fi
    flock -u 9
}

massho_kernel_fetch() {
    (cd "$kdir/deb" && apt-get -q -o APT::Sandbox::User=root download "$kernel_pkg=$kernel_version")
}

# Print, one per line and dependencies first, the .ko paths (relative to the kernel's module
# directory) that MODULE... need, resolved by modprobe from modules.dep.
massho_kernel_modules() {
    local mods="$kdir/tree/lib/modules/$kver/" m
    for m in "$@"; do
        modprobe -d "$kdir/tree" -S "$kver" --show-depends "$m" \
            || die "modprobe cannot resolve module $m in $kernel_pkg"
    done | awk '$1 == "insmod" { print $2 }' | awk '!seen[$0]++' | sed "s|^$mods||"
}
