#!/usr/bin/env bash
# Benchmarks cart's cart store (a versioned write and a read of a five-line cart) against the
# driver alone and the bare MongoDB wire protocol. Prints calls/s, latency, CPU per call, ratios.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/setup.sh
exec .venv/bin/pos-bench-database "$@"
