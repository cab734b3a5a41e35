#!/usr/bin/env bash
# Runs kujira's whole test suite: unit tests beside the code and the end-to-end tests
# under tests/, against real skopeo, umoci, busybox-static and overlayfs. Needs root.
# Installs what it needs first, so it works on a fresh machine.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
# Tests run the real binary; build it once, then the suites.
cargo build --locked --bin kujira
cargo test --locked --workspace --no-fail-fast -- --test-threads=2 "$@"
