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
