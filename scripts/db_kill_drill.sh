#!/usr/bin/env bash
# Kills SecantusDB (SIGKILL, on a data directory) 10 times while terminals sell through cart,
# and looks for every change cart answered 2xx in the database after each restart (exit 1 if
# any is missing). ~1.5 min. See `scripts/db_kill_drill.sh --help` for the knobs
# (--sync-on-commit, --kills, --terminals, --seconds-per-round, --out).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/setup.sh
exec .venv/bin/pos-db-kill-drill "$@"
