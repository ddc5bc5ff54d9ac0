#!/usr/bin/env bash
# Install what building massho needs, then run `massho demo`: a scratch image file with a small
# filesystem is wiped, verified and reported. Touches no disk.
#
# Usage: sudo packaging/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."
packaging/install-deps.sh
cargo run --locked --release --quiet -- demo
