# Shared by cross/release.sh and the .ci/system deployment tests (source it from the repository
# root). Installs what cross builds need when it is missing, then builds binaries and .debs with
# plain cargo, Debian's cross linkers and qemu-user (see .cargo/config.toml).

# Debian architecture of a Rust target (for .deb file names).
deb_arch() {
    case "$1" in
        x86_64-*) echo amd64 ;;
        aarch64-*) echo arm64 ;;
        armv7-*) echo armhf ;;
        *) echo "unknown target $1" >&2; return 1 ;;
    esac
}

# apt packages (only those missing), rustup targets, binfmt for qemu-user, cargo-deb.
ensure_cross_tools() {
    local packages=() wanted=(gcc-aarch64-linux-gnu gcc-arm-linux-gnueabihf libc6-dev-arm64-cross
        libc6-dev-armhf-cross qemu-user-static binfmt-support)
    for package in "${wanted[@]}"; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep 'ok installed' >/dev/null || packages+=("$package")
    done
    if [ "${#packages[@]}" -gt 0 ]; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${packages[@]}"
    fi
    local installed targets=()
    installed=$(rustup target list --installed)
    for target in "$@"; do
        grep -qx "$target" <<<"$installed" || targets+=("$target")
    done
    if [ "${#targets[@]}" -gt 0 ]; then rustup target add "${targets[@]}"; fi
    ensure_binfmt
    ensure_cargo_deb
}

# cargo-deb, the version this repository's [package.metadata.deb] was written for.
ensure_cargo_deb() {
    if ! cargo deb --version >/dev/null 2>&1; then
        nice -n 10 cargo install --locked cargo-deb@3.8.0
    fi
}

# The kernel runs aarch64/arm binaries through qemu-user (needed when a test spawns the binary).
ensure_binfmt() {
    if [ ! -e /proc/sys/fs/binfmt_misc/register ]; then
        mount binfmt_misc -t binfmt_misc /proc/sys/fs/binfmt_misc
    fi
    for arch in qemu-aarch64 qemu-arm; do
        [ -e "/proc/sys/fs/binfmt_misc/$arch" ] || update-binfmts --enable "$arch"
    done
}

# Reproducible release flags: no build paths in the binary, fixed timestamps.
release_env() {
    export SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}"
    export CLASSCORD_GIT_REV="${CLASSCORD_GIT_REV:-$(git rev-parse --short=12 HEAD 2>/dev/null || true)}"
    export RUSTFLAGS="--remap-path-prefix=${CARGO_HOME:-$HOME/.cargo}=/cargo --remap-path-prefix=$PWD=."
}

# build_release TARGET: target/TARGET/release/classcord
build_release() {
    nice -n 10 cargo build --release --locked -p classcord --target "$1"
}

# The PDFs the .deb ships (Cargo.toml assets: target/docs-pdf/*.pdf), rendered again when one is
# missing or older than its Markdown file or the renderer.
ensure_docs_pdf() {
    local doc pdf source
    for doc in $(bash cross/docs-pdf.sh --list); do
        pdf="target/docs-pdf/$(basename "$doc" .md).pdf"
        for source in "$doc" cross/docs-pdf.sh cross/docs-pdf.lua cross/docs-pdf.css docs/images/*; do
            if [ ! "$pdf" -nt "$source" ]; then
                bash cross/docs-pdf.sh target/docs-pdf >&2
                return
            fi
        done
    done
}

# build_deb TARGET (after build_release): prints the .deb path.
build_deb() {
    ensure_docs_pdf
    local out="target/debian/$1"
    mkdir -p "$out"
    cargo deb --no-build --target "$1" -o "$out/" >&2
    ls "$out"/classcord_*_"$(deb_arch "$1")".deb
}
