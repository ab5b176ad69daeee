# Bounded polling for the system tests (source it; the caller defines `fail MESSAGE`).
#   wait_until SECONDS DESCRIPTION COMMAND...
#       runs COMMAND every 0.1 s until it succeeds; calls `fail` after SECONDS.
wait_until() {
    local limit=$1 what=$2
    shift 2
    local deadline=$(( $(date +%s) + limit ))
    until "$@" >/dev/null 2>&1; do
        [ "$(date +%s)" -lt "$deadline" ] || fail "timed out after ${limit}s waiting for: $what"
        sleep 0.1
    done
}

#   stop_process PID
#       SIGTERM, up to 5 s for a clean exit, then SIGKILL (for cleanup traps: never fails).
stop_process() {
    local pid=$1
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
}
