#!/usr/bin/env bash
# Benchmarks master-data's item lookup (HTTP and gRPC, warm cache) against bare baselines.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/setup.sh
exec .venv/bin/pos-bench-master-data "$@"
