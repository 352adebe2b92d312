#!/usr/bin/env bash
# Benchmarks cart's master-data repositories (HTTP with each client library, gRPC) against
# bare client/server pairs, at concurrency 1, 8 and 64. Prints req/s, latency and ratios.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/setup.sh
exec .venv/bin/pos-bench-transport "$@"
