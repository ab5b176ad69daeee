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

# Boots ROOT with systemd-nspawn as PID 1 (private network), console to LOG; sets NSPAWN_PID and
# NSPAWN_LEADER (the container's systemd) and defines `in_ct CMD...` (runs CMD inside). Waits,
# bounded, until the system is running; returns 1 (after showing why) otherwise.
boot_root() {
    local root=$1 machine=$2 log=$3 t0 state
    t0=$(date +%s)
    systemd-nspawn -q -D "$root" -b -M "$machine" --register=no --keep-unit --private-network \
        --console=passive > "$log" 2>&1 &
    NSPAWN_PID=$!
    NSPAWN_LEADER=""
    for _ in $(seq 100); do
        NSPAWN_LEADER=$(pgrep -P "$NSPAWN_PID" -x systemd || true)
        [ -n "$NSPAWN_LEADER" ] && break
        sleep 0.2
    done
    [ -n "$NSPAWN_LEADER" ] || { echo "container did not start"; cat "$log"; return 1; }
    # systemctl needs the manager's private socket: wait (bounded) until systemd has created it.
    for _ in $(seq 150); do in_ct test -S /run/systemd/private && break; sleep 0.2; done
    state=$(in_ct timeout 90 systemctl is-system-running --wait || true)
    echo "container booted in $(( $(date +%s) - t0 ))s: $state"
    [ "$state" = running ] || { in_ct systemctl --failed --no-pager || true; return 1; }
}

in_ct() { nsenter --target "$NSPAWN_LEADER" --mount --uts --ipc --net --pid -- "$@"; }

# Makes a scratch directory /var/tmp/NAME.XXXXXX for one test and sets WORK to it; on exit, for
# any reason, the booted container is stopped, everything below WORK unmounted and WORK removed.
scratch_work() {
    WORK=$(mktemp -d "/var/tmp/$1.XXXXXX")
    trap remove_scratch_work EXIT
}
remove_scratch_work() {
    local status=$?
    stop_root
    unmount_under "$WORK"
    rm -rf "$WORK"
    exit "$status"
}

# Powers the booted container off (SIGTERM to nspawn, SIGKILL after 20 s), if it still runs.
stop_root() {
    if [ -n "${NSPAWN_PID:-}" ] && kill -0 "$NSPAWN_PID" 2>/dev/null; then
        kill -TERM "$NSPAWN_PID" 2>/dev/null || true
        for _ in $(seq 100); do kill -0 "$NSPAWN_PID" 2>/dev/null || break; sleep 0.2; done
        kill -KILL "$NSPAWN_PID" 2>/dev/null || true
        wait "$NSPAWN_PID" 2>/dev/null || true
    fi
}
