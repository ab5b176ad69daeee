#!/usr/bin/env bash
# The JDK-only Java client (tests/java/) against a freshly built debug server.
set -euo pipefail
cd "$(dirname "$0")/../.."
if ! command -v javac >/dev/null 2>&1; then
    apt-get install -y --no-install-recommends openjdk-17-jdk-headless
fi
cargo build -p classcord
bash tests/java/run.sh target/debug/classcord
