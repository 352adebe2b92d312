#!/usr/bin/env bash
# Restarts one of two master-data replicas again and again under a steady sales load, once
# per transport, and counts the cart calls that failed (exit 1 if any did). ~1 min.
# See `scripts/restart_drill.sh --help` for the knobs.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/setup.sh
exec .venv/bin/pos-restart-drill "$@"
