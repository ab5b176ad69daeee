#!/usr/bin/env bash
# The JDK-only Java client (tests/java/) against a freshly built debug server.
set -euo pipefail
cd "$(dirname "$0")/../.."
if ! command -v javac >/dev/null 2>&1; then
    apt-get install -y --no-install-recommends openjdk-17-jdk-headless
fi
# The build of the README test command (same features: nothing to compile after it).
cargo test --workspace --no-run -q
bash tests/java/run.sh target/debug/classcord
