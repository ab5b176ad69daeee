#!/usr/bin/env bash
# The chat page in a real browser (issue 16): Debian's chromium, headless, driven by playwright-core
# (npm, pinned by tests/browser/package-lock.json; it never downloads a browser of its own) against
# a freshly built server on loopback, beside a plain TCP client: two browser sessions and the TCP
# client chat every way, channels and history scroll-back, an offline private message at sign-in,
# hostile content shown as text, the keyboard alone, 360 px wide, a server restart with automatic
# reconnection, and axe-core on the sign-in and chat pages (no serious or critical violation).
# Then the teacher's dashboard (tests/browser/dashboard.mjs), over the server's HTTPS with its
# self-signed certificate: plain HTTP only redirects, a wrong password is refused then the account
# locked out, a non-operator is refused, the operator's session cookie is strict, the class shows
# live (transport included), a kick from the dashboard closes the right TCP client, an alert
# reaches the class, a mute refuses that TCP student's next message, a message deleted after the
# server's confirmation, slow mode, the live trace showing a refused line with its reason, the
# keyboard alone, 360 px, axe-core on the sign-in page and the dashboard.
# Screenshots are kept in $CLASSCORD_ARTIFACTS (default /tmp/classcord-browser-artifacts) and
# listed at the end, so they stay with the CI log (the dashboard's also with its [ADMIN] lines).
set -euo pipefail
cd "$(dirname "$0")/../.."
started=$(date +%s)
if ! command -v chromium >/dev/null 2>&1; then
    apt-get install -y --no-install-recommends chromium
fi
command -v node >/dev/null 2>&1 || apt-get install -y --no-install-recommends nodejs npm
artifacts=${CLASSCORD_ARTIFACTS:-/tmp/classcord-browser-artifacts}
rm -rf "$artifacts"
mkdir -p "$artifacts"
# The build of the README test command (same features: nothing to compile after it).
cargo test --workspace --no-run -q
(cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)
status=0
(cd tests/browser && timeout 600 node run.mjs "$PWD/../../target/debug/classcord" "$artifacts") || status=$?
(cd tests/browser && timeout 600 node dashboard.mjs "$PWD/../../target/debug/classcord" "$artifacts") || status=$?
echo "screenshots:"
ls -l "$artifacts"
echo "browser tests: done in $(( $(date +%s) - started ))s (status $status)"
exit "$status"
