#!/usr/bin/env bash
# Kills the one master-data while terminals sell through a cart per transport, and counts
# every cart call (exit 1 if a call for a seen item or cash failed, a cart was not ready, or
# a feed did not come back). ~1.5 min. See `scripts/outage_drill.sh --help` for the knobs.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/setup.sh
exec .venv/bin/pos-outage-drill "$@"
