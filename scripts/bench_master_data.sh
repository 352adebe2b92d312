#!/usr/bin/env bash
# Benchmarks master-data's item lookup (HTTP and gRPC, warm cache) against bare baselines.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/setup.sh
exec .venv/bin/python -m pos_loadtest.benches.master_data "$@"
