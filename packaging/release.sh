#!/usr/bin/env bash
# Build the release artefacts of the commit checked out: a static x86_64 Linux binary, its manual
# pages and shell completions, a .deb, the live USB image, and SHA256SUMS over all of them. The same commit gives the
# same bytes wherever it is built (see docs/release.md for why each setting below is there).
#
# Usage: packaging/release.sh [--out DIR] [--allow-dirty]
#        packaging/release.sh --check-reproducible [--out DIR]
#
#   --out DIR               where the artefacts go (default: dist/); replaced as a whole
#   --allow-dirty           build a tree with uncommitted changes (the binary then records the
#                           commit as COMMIT-dirty, and no one can rebuild it)
#   --check-reproducible    build twice from scratch, the second time from a clone of the commit
#                           in another directory with another target directory, compare every
#                           artefact byte for byte and name the ones that differ (exit 1); when
#                           they agree, the first build's artefacts go to --out
#
# Needs: rustup with the toolchain 1.95.0 (see RUSTUP_TOOLCHAIN below), libblkid-dev (libblkid.a),
# libclang-dev, pkg-config, dpkg-dev, file, git (packaging/install-deps.sh installs them).
set -euo pipefail

usage() {
    sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
    exit 2
}

out=dist
check=0
allow_dirty=0
while [[ $# -gt 0 ]]; do
    case $1 in
    --out)
        [[ $# -ge 2 ]] || usage
        out=$2
        shift 2
        ;;
    --allow-dirty)
        allow_dirty=1
        shift
        ;;
    --check-reproducible)
        check=1
        shift
        ;;
    -h | --help) usage ;;
    *)
        echo "release: unknown argument $1" >&2
        usage
        ;;
    esac
done

cd "$(dirname "$0")/.."
repo=$(pwd -P)
[[ $out == /* ]] || out=$repo/$out

# Nothing from the caller's environment may reach the bytes: locale (sort order, messages), time
# zone (the changelog date), umask (file modes in the .deb).
export LC_ALL=C.UTF-8 TZ=UTC
umask 022
unset RUSTFLAGS CARGO_ENCODED_RUSTFLAGS CARGO_BUILD_RUSTFLAGS CFLAGS CARGO_PROFILE_DIST_STRIP

target=x86_64-unknown-linux-gnu
# The compiler is an input like any other: a rebuild needs this very toolchain (rustup installs it
# with `rustup toolchain install 1.95.0`). Override only to try another one.
want_toolchain=${MASSHO_RUST_TOOLCHAIN:-1.95.0}
# The pinned toolchain by name when rustup has it; else the default toolchain if it is that very
# version (a CI image whose stable is 1.95.0); else stop: another compiler gives other bytes.
if rustup toolchain list 2>/dev/null | grep -q "^$want_toolchain"; then
    export RUSTUP_TOOLCHAIN=$want_toolchain
elif rustc --version 2>/dev/null | grep -q "^rustc $want_toolchain "; then
    : # the default toolchain is that version
else
    echo "release: needs Rust $want_toolchain (rustup toolchain install $want_toolchain)" >&2
    exit 1
fi
cargo_home=$(cd "${CARGO_HOME:-$HOME/.cargo}" && pwd -P)
maintainer="massho maintainers <maintainers@users.noreply.b-seed-975be16e.example>"

commit=$(git rev-parse HEAD)
if [[ -n $(git status --porcelain --untracked-files=no) ]]; then
    if [[ $check -eq 1 || $allow_dirty -eq 0 ]]; then
        echo "release: the tree has uncommitted changes; commit them first (a release is built" >&2
        echo "         from a commit so anyone can rebuild it), or pass --allow-dirty" >&2
        exit 2
    fi
    echo "release: warning: building a dirty tree; its binary cannot be rebuilt by anyone" >&2
fi
# Every timestamp in the artefacts is the commit's.
SOURCE_DATE_EPOCH=$(git log -1 --format=%ct "$commit")
export SOURCE_DATE_EPOCH
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)
# A tagged release is VERSION; any other commit sorts below it and names itself.
if git tag --points-at "$commit" | grep -qx "v$version"; then
    deb_version=$version
else
    deb_version="$version~git$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y%m%d).${commit:0:12}"
fi

static_flags='-C target-feature=+crt-static -C relocation-model=static --cfg getrandom_backend="linux_getrandom"'

# build_binary SRC TARGET_DIR: prints the path of the static binary built from SRC.
build_binary() {
    local src=$1 target_dir=$2
    # Paths of the source tree and of ~/.cargo (dependency sources) end up in panic messages and
    # debug strings: map them to fixed names, for rustc and for the C compiler (bundled SQLite).
    # Static glibc: crt-static; relocation-model=static gives a plain static executable instead of
    # a static PIE. getrandom 0.4 finds getrandom(2) with dlsym, which a static binary cannot
    # answer, and would fall back to /dev/urandom: call glibc's getrandom directly (docs/release.md).
    local remap="--remap-path-prefix=$src=/build/massho --remap-path-prefix=$cargo_home=/cargo"
    (
        cd "$src"
        RUSTFLAGS="$static_flags $remap" \
            CFLAGS="-ffile-prefix-map=$src=/build/massho -ffile-prefix-map=$cargo_home=/cargo" \
            CARGO_TARGET_DIR=$target_dir \
            cargo build --locked --quiet --profile dist --target "$target" --features static-blkid >&2
    )
    echo "$target_dir/$target/dist/massho"
}

# assemble BINARY DIR: the artefacts of BINARY in DIR (created empty).
assemble() {
    local bin=$1 dir=$2 stage
    rm -rf "$dir"
    mkdir -p "$dir"
    check_static "$bin"
    install -m 0755 "$bin" "$dir/massho-$version-x86_64-linux"
    bin=$dir/massho-$version-x86_64-linux

    "$bin" man --dir "$dir/man" 2>/dev/null
    mkdir -p "$dir/completions"
    "$bin" completions bash >"$dir/completions/massho.bash"
    "$bin" completions zsh >"$dir/completions/_massho"
    "$bin" completions fish >"$dir/completions/massho.fish"
    chmod 0644 "$dir"/man/* "$dir"/completions/*

    stage=$(mktemp -d)
    build_deb "$dir" "$stage"
    rm -rf "$stage"
    # The hash a certificate records is the same whichever way the binary was installed.
    if ! dpkg-deb --fsys-tarfile "$dir"/massho_*.deb | tar -xO ./usr/bin/massho | cmp -s - "$bin"; then
        echo "release: /usr/bin/massho in the .deb is not the released binary" >&2
        exit 1
    fi
    buildinfo >"$dir/BUILDINFO"
    # The live USB image around this very binary, so the SHA-256 its certificates record is the
    # release's (packaging/live/build.sh: the pinned kernel from the rig's cache, reproducible).
    MASSHO_BIN=$bin "$repo/packaging/live/build.sh" --out "$dir/massho-live-$version.img" >&2
    # lintian is optional (install-deps.sh installs it when it can); errors and warnings fail the
    # build, informational tags are listed (docs/release.md says which ones there are and why).
    if command -v lintian >/dev/null; then
        local report status=0
        report=$(lintian --fail-on error,warning "$dir"/massho_*.deb 2>&1) || status=$?
        grep -v 'root privileges' <<<"$report" >&2 || true
        if [[ $status -ne 0 ]]; then
            echo "release: lintian reports errors or warnings on the .deb" >&2
            exit 1
        fi
    fi

    local sums
    sums=$(cd "$dir" && find . -type f -printf '%P\n' | sort | xargs -d '\n' sha256sum)
    printf '%s\n' "$sums" >"$dir/SHA256SUMS"
}

# What a rebuild must match to give the same bytes (docs/release.md).
buildinfo() {
    echo "massho $version release build (packaging/release.sh)"
    echo "commit: $commit"
    echo "SOURCE_DATE_EPOCH: $SOURCE_DATE_EPOCH"
    echo "deb version: $deb_version"
    echo "cargo build --locked --profile dist --target $target --features static-blkid"
    echo "RUSTFLAGS: $static_flags --remap-path-prefix=SRC=/build/massho --remap-path-prefix=CARGO_HOME=/cargo"
    echo "CFLAGS: -ffile-prefix-map=SRC=/build/massho -ffile-prefix-map=CARGO_HOME=/cargo"
    echo "toolchain: ${RUSTUP_TOOLCHAIN:-default} ($(rustc --version))"
    rustc -vV
    echo "cc: $(cc --version | head -n 1)"
    echo "Debian: $(cat /etc/debian_version 2>/dev/null || echo none)"
    echo "Debian packages:"
    dpkg-query -W -f '  ${Package}=${Version}\n' libc6-dev libblkid-dev libclang-dev gcc binutils \
        dpkg-dev gzip xz-utils 2>/dev/null || true
}

check_static() {
    local bin=$1 kind
    kind=$(file -b "$bin")
    if [[ $kind != *"statically linked"* ]] || ldd "$bin" >/dev/null 2>&1; then
        echo "release: $bin is not a static executable:" >&2
        echo "  file: $kind" >&2
        ldd "$bin" >&2 || true
        exit 1
    fi
    # glibc's NSS (getpwnam, getaddrinfo...) would dlopen the running system's libnss_*.so, built
    # for another glibc: massho must not link it in (docs/release.md).
    if grep -q -a -F /etc/nsswitch.conf "$bin"; then
        echo "release: $bin contains glibc's NSS (a passwd, group or host lookup crept in)" >&2
        exit 1
    fi
}

# build_deb DIR STAGE: DIR/massho_VERSION_amd64.deb from the artefacts in DIR.
build_deb() {
    local dir=$1 root=$2/massho
    local doc=$root/usr/share/doc/massho
    install -d "$root/DEBIAN" "$root/usr/bin" "$root/usr/share/man/man1" "$doc" \
        "$root/usr/share/bash-completion/completions" "$root/usr/share/zsh/vendor-completions" \
        "$root/usr/share/fish/vendor_completions.d" "$root/usr/share/lintian/overrides"
    install -m 0755 "$dir/massho-$version-x86_64-linux" "$root/usr/bin/massho"
    local page
    for page in "$dir"/man/*.1; do
        gzip -9 --no-name --stdout "$page" >"$root/usr/share/man/man1/${page##*/}.gz"
    done
    install -m 0644 "$dir/completions/massho.bash" "$root/usr/share/bash-completion/completions/massho"
    install -m 0644 "$dir/completions/_massho" "$root/usr/share/zsh/vendor-completions/_massho"
    install -m 0644 "$dir/completions/massho.fish" "$root/usr/share/fish/vendor_completions.d/massho.fish"
    install -m 0644 packaging/deb/copyright "$doc/copyright"
    install -m 0644 packaging/deb/lintian-overrides "$root/usr/share/lintian/overrides/massho"
    {
        echo "massho ($deb_version) unstable; urgency=medium"
        echo
        echo "  * Release build of commit $commit."
        echo
        echo " -- $maintainer  $(date -u -R -d "@$SOURCE_DATE_EPOCH")"
    } | gzip -9n >"$doc/changelog.gz"
    chmod 0644 "$doc/changelog.gz" "$root"/usr/share/man/man1/*

    local size
    size=$(du -s -k --apparent-size "$root/usr" | cut -f 1)
    cat >"$root/DEBIAN/control" <<EOF
Package: massho
Version: $deb_version
Architecture: amd64
Maintainer: $maintainer
Installed-Size: $size
Recommends: fonts-ipaexfont-gothic | fonts-noto-cjk
Suggests: minisign
Section: admin
Priority: optional
Homepage: https://github.com/massho/massho
Description: sanitize storage media before disposal or lease return, and prove it
 massho overwrites disks, partitions and image files, reads them back from
 the medium to show that the overwrite took, and writes signed certificates
 and a hash-chained media ledger for the auditor (NIST SP 800-88 Clear).
 .
 The binary is statically linked: the same file also runs from a live system.
EOF
    (cd "$root" && find usr -type f | sort | xargs -d '\n' md5sum) >"$root/DEBIAN/md5sums"
    chmod 0644 "$root/DEBIAN/control" "$root/DEBIAN/md5sums"
    find "$root" -type d -exec chmod 0755 {} +
    # dpkg-deb clamps mtimes to SOURCE_DATE_EPOCH and sorts the entries; one compressor thread
    # keeps the xz stream independent of the machine's core count.
    dpkg-deb --root-owner-group -Zxz --threads-max=1 --build "$root" \
        "$dir/massho_${deb_version}_amd64.deb" >/dev/null
}

# compare A B: lists the artefacts that differ; fails if any does.
compare() {
    local a=$1 b=$2 differ=0 f
    while IFS= read -r f; do
        if [[ ! -f $b/$f ]]; then
            echo "only in the first build: $f"
            differ=1
        elif ! cmp -s "$a/$f" "$b/$f"; then
            echo "differs: $f ($(cmp "$a/$f" "$b/$f" 2>&1 | sed 's/.*: //'))"
            differ=1
        fi
    done < <(cd "$a" && find . -type f -printf '%P\n' | sort)
    while IFS= read -r f; do
        [[ -f $a/$f ]] || {
            echo "only in the second build: $f"
            differ=1
        }
    done < <(cd "$b" && find . -type f -printf '%P\n' | sort)
    return $differ
}

start=$SECONDS
if [[ $check -eq 0 ]]; then
    bin=$(build_binary "$repo" "$repo/target/release-dist")
    assemble "$bin" "$out"
else
    work=$repo/target/reproducible
    rm -rf "$work"
    mkdir -p "$work"
    echo "release: build 1 of 2 in $repo (target $work/a)" >&2
    bin=$(build_binary "$repo" "$work/a")
    assemble "$bin" "$work/dist-a"
    echo "release: build 2 of 2 from a clone in $work/src-b (target $work/b)" >&2
    git clone --quiet --shared --no-checkout "$repo" "$work/src-b"
    git -C "$work/src-b" checkout --quiet --detach "$commit"
    bin=$(build_binary "$work/src-b" "$work/b")
    assemble "$bin" "$work/dist-b"
    if ! compare "$work/dist-a" "$work/dist-b"; then
        echo "release: NOT reproducible: the two builds differ (kept in $work)" >&2
        exit 1
    fi
    echo "release: reproducible: both builds of $commit agree on every byte"
    rm -rf "$out"
    cp -a "$work/dist-a" "$out"
    rm -rf "$work"
fi
echo "release: $out ($((SECONDS - start)) s):"
(cd "$out" && cat SHA256SUMS)
