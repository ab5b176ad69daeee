#!/usr/bin/env bash
# Static checks of every unit in systemd/ (packaged) and systemd/optional/: `systemd-analyze
# verify` must print nothing (it exits 0 even on unknown keys, so any output fails), and
# `systemd-analyze security --offline=yes` must score every service at 2.0 or below.
set -euo pipefail
cd "$(dirname "$0")/../.."
started=$(date +%s)

command -v systemd-analyze >/dev/null || apt-get install -y --no-install-recommends systemd
# The build of the README test command (same features: nothing to compile after it).
cargo test --workspace --no-run -q
binary="$PWD/target/debug/classcord"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
shopt -s nullglob
units=(systemd/*.service systemd/*.socket systemd/*.timer systemd/optional/*.service
       systemd/optional/*.socket systemd/optional/*.timer)
[ "${#units[@]}" -gt 0 ] || { echo "no unit files found"; exit 1; }
for unit in "${units[@]}"; do
    # verify needs ExecStart's binary to exist: point it at the one just built.
    sed "s#/usr/bin/classcord#$binary#g" "$unit" > "$work/$(basename "$unit")"
done

failed=0
for unit in "$work"/*; do
    name=$(basename "$unit")
    out=$(systemd-analyze verify --man=no "$unit" 2>&1) || true
    if [ -n "$out" ]; then
        echo "FAIL verify $name:"; echo "$out"; failed=1
    else
        echo "ok   verify $name"
    fi
done
for unit in "$work"/*.service; do
    name=$(basename "$unit")
    report=$(systemd-analyze security --offline=yes "$unit" 2>&1) || true
    score=$(printf '%s\n' "$report" | sed -n 's/.*Overall exposure level for .*: \([0-9.]*\).*/\1/p')
    if [ -z "$score" ]; then
        echo "FAIL security $name: no score"; echo "$report"; failed=1
    elif awk -v s="$score" 'BEGIN { exit !(s > 2.0) }'; then
        echo "FAIL security $name: exposure $score > 2.0"
        printf '%s\n' "$report" | grep '✗' || true
        failed=1
    else
        echo "ok   security $name: exposure $score"
    fi
done
[ -f systemd/classcord.sysusers ] || { echo "FAIL: systemd/classcord.sysusers missing"; failed=1; }
echo "systemd units checked in $(( $(date +%s) - started ))s"
[ "$failed" -eq 0 ] || { echo "systemd units: FAILED"; exit 1; }
echo "systemd units: all checks passed"
