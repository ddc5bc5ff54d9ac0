#!/usr/bin/env bash
# Install what the tests need, then run every test. Run as root: the integration tests attach
# loop devices, make filesystems and mount them (only on devices they create themselves).
#
# Usage: sudo packaging/test.sh [extra cargo test arguments]
set -euo pipefail
cd "$(dirname "$0")/.."
packaging/install-deps.sh
cargo test --locked "$@"
