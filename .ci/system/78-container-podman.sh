#!/usr/bin/env bash
# The container image, really run: the Dockerfile's final stage built with podman from the static
# musl binary built here (BINARY_FROM=local: image registries are unreachable, so the builder
# stage is not used), then run with runc + cgroupfs (crun fails on this hybrid cgroup host) and
# explicit ulimits. Checks: HEALTHCHECK (classcord healthcheck) passes; a chat exchange through
# the published loopback port; a CLASSCORD_* variable is applied; the process is not root
# (uid 10001); the account survives a restart and a new container on the same volume. The musl
# build is also where a warning that only musl shows fails the run.
set -euo pipefail
cd "$(dirname "$0")/../.."
. cross/lib.sh
started=$(date +%s)
for package in podman runc; do
    command -v "$package" >/dev/null || apt-get install -y --no-install-recommends "$package"
done
target=x86_64-unknown-linux-musl
rustup target list --installed | grep -x "$target" >/dev/null || rustup target add "$target"
# The only musl build of the run, so it is also the check that the musl build has no warnings
# (libc differs from glibc there; clippy on x86_64-unknown-linux-gnu does not see them).
# Dependencies are not affected: cargo caps their lints.
RUSTFLAGS="-D warnings" build_release "$target"

id=classcord-ci-$$
image=localhost/$id
podman() {
    command podman --runtime runc --cgroup-manager=cgroupfs "$@"
}
# Without systemd as PID 1 podman cannot arm its healthcheck timers and says so on every
# run/restart/stop; the checks below run the HEALTHCHECK by hand (podman healthcheck run).
quiet() { "$@" 2> >(grep -v 'systemd connection\|healthcheck: unable' >&2); }
images_before=$(podman images -aq --no-trunc | sort)
cleanup() {
    local status=$?
    podman rm -f -t 5 "$id" >/dev/null 2>&1 || true
    podman volume rm -f "$id" >/dev/null 2>&1 || true
    podman rmi -f "$image" >/dev/null 2>&1 || true
    # The build's intermediate stage images (the ones that did not exist before this test).
    comm -13 <(echo "$images_before") <(podman images -aq --no-trunc | sort) |
        xargs -r podman rmi -f >/dev/null 2>&1 || true
    exit "$status"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; podman logs "$id" 2>&1 | tail -n 30 || true; exit 1; }
checks=0
ok() { checks=$((checks + 1)); echo "ok   $*"; }

t0=$(date +%s)
podman build -q --format docker --build-arg BINARY_FROM=local --build-arg TARGETARCH=amd64 \
    -t "$image" -f Dockerfile . >/dev/null
size=$(podman image inspect -f '{{.Size}}' "$image")
echo "image built in $(( $(date +%s) - t0 ))s: $size bytes"
[ "$(podman image inspect -f '{{.Config.User}}' "$image")" = 10001:10001 ] || fail "image user"
podman image inspect -f '{{.Config.Healthcheck.Test}}' "$image" | grep healthcheck >/dev/null || fail "no HEALTHCHECK"
ok "image from scratch with the static binary: user 10001:10001, HEALTHCHECK, $size bytes"

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
hard_nofile=$(ulimit -Hn)
nofile=$(( hard_nofile < 16384 ? hard_nofile : 16384 ))
podman volume create "$id" >/dev/null
run() {
    quiet podman run -d --name "$id" --ulimit "nofile=$nofile:$nofile" --ulimit nproc=1000:1000 \
        -p "127.0.0.1:$port:12345" -v "$id:/data" \
        -e 'CLASSCORD_WELCOME=Bienvenue dans le conteneur, {nom} !' "$image" >/dev/null
}
healthy() {
    for _ in $(seq 50); do
        podman healthcheck run "$id" >/dev/null 2>&1 && return 0
        sleep 0.2
    done
    return 1
}
run
healthy || fail "healthcheck never passed"
ok "HEALTHCHECK (classcord healthcheck) passes in the running container"

python3 .ci/system/lib/chat_exchange.py 127.0.0.1 "$port" chat alice motdepasse ||
    fail "chat through the published port"
ok "chat exchange through 127.0.0.1:$port -> container 12345"
welcome=$(python3 .ci/system/lib/chat_exchange.py 127.0.0.1 "$port" welcome zoé -)
[ "$welcome" = "Bienvenue dans le conteneur, zoé !" ] || fail "welcome: $welcome"
ok "CLASSCORD_WELCOME applied: « $welcome »"
podman logs "$id" 2>&1 | grep '\[LOGIN\] alice' >/dev/null || fail "no [LOGIN] line in podman logs"

pid=$(podman inspect -f '{{.State.Pid}}' "$id")
uid=$(awk '$1 == "Uid:" { print $2 }' "/proc/$pid/status")
[ "$uid" = 10001 ] || fail "process uid $uid"
[ "$(awk '$1 == "CapEff:" { print $2 }' "/proc/$pid/status")" = 0000000000000000 ] || fail "capabilities"
ok "server process (host pid $pid) runs as uid 10001, no effective capabilities"

quiet podman restart -t 10 "$id" >/dev/null
healthy || fail "not healthy after restart"
python3 .ci/system/lib/chat_exchange.py 127.0.0.1 "$port" login alice motdepasse ||
    fail "account lost across a restart"
ok "podman restart: account still there"
quiet podman stop -t 10 "$id" >/dev/null
exit_code=$(podman inspect -f '{{.State.ExitCode}}' "$id")
[ "$exit_code" = 0 ] || fail "exit code $exit_code after SIGTERM"
podman logs "$id" 2>&1 | grep 'arrêt terminé' >/dev/null || fail "no clean shutdown line"
podman rm "$id" >/dev/null
run
healthy || fail "new container not healthy"
python3 .ci/system/lib/chat_exchange.py 127.0.0.1 "$port" login alice motdepasse ||
    fail "account lost with a new container"
ok "SIGTERM -> clean exit 0; a new container on the same volume still has the account"

echo "container test: $checks checks passed in $(( $(date +%s) - started ))s"
