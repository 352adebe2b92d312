#!/usr/bin/env bash
# The HTTP-vs-gRPC comparison (locust, interleaved rounds, report under loadtest/reports/):
# modes <transport>[+nocache][+keys], with and without cart's fed item cache, and how soon a
# price change shows on two cart processes under load.
# Sets everything up itself; see `scripts/compare.sh --help` for the knobs.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/setup.sh
exec .venv/bin/pos-compare "$@"
