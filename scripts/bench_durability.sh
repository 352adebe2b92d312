#!/usr/bin/env bash
# What SecantusDB's --sync-on-commit costs the whole flow: requests/s and CPU-ms per request of
# the database and cart, against its default settings, interleaved rounds. ~1.5 min.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/setup.sh
exec .venv/bin/pos-bench-durability "$@"
