# Cached minimal Debian 12 roots for the deployment tests (source from the repository root).
#   debian_root ARCH [EXTRA,PACKAGES]
#                      prints the path of a pristine root for ARCH (amd64 or arm64), built
#                      with debootstrap under /var/cache/classcord-ci/ when missing or when the
#                      recipe below changed; tests copy it, never use it in place.
# arm64 is bootstrapped with --foreign, then its second stage runs under qemu-user (binfmt).

DEBIAN_ROOT_CACHE=${DEBIAN_ROOT_CACHE:-/var/cache/classcord-ci}
DEBIAN_ROOT_MIRROR=${DEBIAN_ROOT_MIRROR:-http://deb.debian.org/debian}
# systemd as PID 1 for nspawn boots, iproute2 for ss; no python3: the tests drive everything
# from outside.
DEBIAN_ROOT_PACKAGES=systemd,systemd-sysv,dbus,iproute2

debian_root() {
    local arch=$1 packages=$DEBIAN_ROOT_PACKAGES${2:+,$2}
    local root="$DEBIAN_ROOT_CACHE/bookworm-$arch"
    local recipe="bookworm $arch minbase $packages v1"
    if [ -f "$root/.classcord-recipe" ] && [ "$(cat "$root/.classcord-recipe")" = "$recipe" ]; then
        echo "$root"
        return 0
    fi
    command -v debootstrap >/dev/null || apt-get install -y --no-install-recommends debootstrap >&2
    mkdir -p "$DEBIAN_ROOT_CACHE"
    local building="$root.building"
    unmount_under "$building"
    rm -rf "$root" "$building"
    local t0
    t0=$(date +%s)
    if [ "$arch" = "$(dpkg --print-architecture)" ]; then
        debootstrap --variant=minbase --include="$packages" bookworm "$building" \
            "$DEBIAN_ROOT_MIRROR" >&2
    else
        debootstrap --arch="$arch" --foreign --variant=minbase --include="$packages" \
            bookworm "$building" "$DEBIAN_ROOT_MIRROR" >&2
        chroot "$building" /debootstrap/debootstrap --second-stage >&2 \
            || { unmount_under "$building"; return 1; }
    fi
    unmount_under "$building"
    # Smaller copies: no package lists or downloaded .debs.
    rm -rf "$building"/var/cache/apt/archives/*.deb "$building"/var/lib/apt/lists/*
    echo "$recipe" > "$building/.classcord-recipe"
    mv "$building" "$root"
    echo "debian root $arch built in $(( $(date +%s) - t0 ))s" >&2
    echo "$root"
}

# Unmounts everything mounted below DIR (deepest first); debootstrap's second stage mounts /proc
# and /sys inside the root and a failure can leave them.
unmount_under() {
    local dir
    dir=$(realpath -m "$1")
    awk -v d="$dir" '$2 == d || index($2, d "/") == 1 { print $2 }' /proc/mounts | sort -r |
        while read -r mnt; do umount -l "$mnt" || true; done
}
