#!/usr/bin/env bash
# The HTTP-vs-gRPC comparison (locust, interleaved rounds, report under loadtest/reports/).
# Sets everything up itself; see `scripts/compare.sh --help` for the knobs.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/setup.sh
exec .venv/bin/python -m pos_loadtest.compare "$@"
