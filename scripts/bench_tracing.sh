#!/usr/bin/env bash
# What tracing costs the services: CPU-ms per request of cart and master-data with tracing
# off, on at 1 % and at 100 %, against the code before it (--baseline-ref), rotated rounds.
# ~4 min with the defaults.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/setup.sh
exec .venv/bin/pos-bench-tracing "$@"
