# Cached minimal Debian 12 roots for the deployment tests (source from the repository root).
#   debian_root ARCH [EXTRA,PACKAGES]
#                      prints the path of a pristine root for ARCH (amd64 or arm64), built
#                      under /var/cache/classcord-ci/ when missing or when the recipe below
#                      changed; tests copy it, never use it in place. One builder at a time per
#                      root (a lock): a caller waits for a build in progress, then uses its root.
#   debian_root_tools ARCH...
#                      installs what building these roots needs (apt; run it in the foreground)
#   debian_roots_warm_up LOG ARCH[:EXTRA,PACKAGES]...
#                      builds those roots one after the other in the background, at the lowest
#                      CPU and I/O priority, output to LOG; sets DEBIAN_ROOTS_WARM_UP_PID (a
#                      process group leader). .ci/run starts it before the long compile steps,
#                      so that the downloads and the emulated package set-up fill idle time.
# amd64 is built with debootstrap; arm64 with mmdebstrap, which unpacks natively and configures
# every package in one emulated dpkg run (qemu-user, binfmt), without fsync: 195 s against 524 s
# for debootstrap --foreign and its emulated second stage, on the same loaded machine.

DEBIAN_ROOT_CACHE=${DEBIAN_ROOT_CACHE:-/var/cache/classcord-ci}
DEBIAN_ROOT_MIRROR=${DEBIAN_ROOT_MIRROR:-http://deb.debian.org/debian}
# systemd as PID 1 for nspawn boots, iproute2 for ss; no python3: the tests drive everything
# from outside.
DEBIAN_ROOT_PACKAGES=systemd,systemd-sysv,dbus,iproute2

debian_root_tools() {
    local arch foreign="" need=()
    command -v flock >/dev/null || need+=(util-linux)
    for arch in "$@"; do
        if [ "$arch" = "$(dpkg --print-architecture)" ]; then
            command -v debootstrap >/dev/null || need+=(debootstrap)
        else
            foreign=1
            command -v mmdebstrap >/dev/null || need+=(mmdebstrap arch-test)
            command -v qemu-aarch64-static >/dev/null || need+=(qemu-user-static binfmt-support)
        fi
    done
    if [ "${#need[@]}" -gt 0 ]; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need[@]}" >&2
    fi
    # The kernel runs the arm64 root's programs through qemu-user.
    if [ -n "$foreign" ] && [ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then
        [ -e /proc/sys/fs/binfmt_misc/register ] ||
            mount binfmt_misc -t binfmt_misc /proc/sys/fs/binfmt_misc
        update-binfmts --enable qemu-aarch64 >&2
    fi
}

# A subshell: the lock is released whatever way it ends.
debian_root() (
    local arch=$1 packages=$DEBIAN_ROOT_PACKAGES${2:+,$2}
    local root="$DEBIAN_ROOT_CACHE/bookworm-$arch" native
    native=$(dpkg --print-architecture)
    local builder=mmdebstrap
    [ "$arch" = "$native" ] && builder=debootstrap
    local recipe="bookworm $arch minbase $packages v1"
    [ "$builder" = mmdebstrap ] && recipe="bookworm $arch minbase $packages mmdebstrap v2"
    mkdir -p "$DEBIAN_ROOT_CACHE"
    exec {lock}> "$root.lock"
    flock "$lock"
    if [ -f "$root/.classcord-recipe" ] && [ "$(cat "$root/.classcord-recipe")" = "$recipe" ]; then
        echo "$root"
        return 0
    fi
    debian_root_tools "$arch"
    local building="$root.building"
    unmount_under "$building"
    rm -rf "$root" "$building"
    local t0
    t0=$(date +%s)
    if [ "$builder" = debootstrap ]; then
        debootstrap --variant=minbase --include="$packages" bookworm "$building" \
            "$DEBIAN_ROOT_MIRROR" >&2 || { unmount_under "$building"; return 1; }
    else
        # merged-usr: /usr merged with directory symlinks, as debootstrap does (and no usrmerge,
        # which would pull perl in); eatmydata: dpkg without fsync while it builds the root.
        mmdebstrap --arch="$arch" --variant=minbase --include="$packages" \
            --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
            --hook-dir=/usr/share/mmdebstrap/hooks/eatmydata \
            bookworm "$building" "$DEBIAN_ROOT_MIRROR" >&2 ||
            { unmount_under "$building"; return 1; }
    fi
    unmount_under "$building"
    # Smaller copies: no package lists or downloaded .debs.
    rm -rf "$building"/var/cache/apt/archives/*.deb "$building"/var/lib/apt/lists/*
    echo "$recipe" > "$building/.classcord-recipe"
    mv "$building" "$root"
    echo "debian root $arch built in $(( $(date +%s) - t0 ))s" >&2
    echo "$root"
)

debian_roots_warm_up() {
    local log=$1 spec archs=()
    shift
    for spec in "$@"; do archs+=("${spec%%:*}"); done
    debian_root_tools "${archs[@]}"
    # setsid: its own process group, so that .ci/run can stop it with everything it started.
    setsid bash -c '
        renice -n 19 -p $$ >/dev/null; ionice -c 3 -p $$ || true
        . .ci/system/lib/debian_root.sh
        for spec in "$@"; do
            arch=${spec%%:*} extra=${spec#"$arch"}
            debian_root "$arch" "${extra#:}" >/dev/null || echo "warm-up of the $arch root failed"
        done' warm-up "$@" > "$log" 2>&1 < /dev/null &
    DEBIAN_ROOTS_WARM_UP_PID=$!
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
