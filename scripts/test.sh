#!/usr/bin/env bash
# Sets everything up and runs every check: lint, format, types, then all tests against real
# processes (SecantusDB, master-data's HTTP and gRPC servers, cart on both transports).
# Extra arguments go to pytest, e.g. scripts/test.sh -k parity -x
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/setup.sh

echo "== ruff" && .venv/bin/ruff check . && .venv/bin/ruff format --check .
echo "== mypy" && .venv/bin/mypy
echo "== pytest" && exec .venv/bin/pytest "$@"
