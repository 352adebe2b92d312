#!/usr/bin/env bash
# A py-spy profile of cart, master-data or the database under the comparison's load (one mode),
# under loadtest/reports/profile-<time>/. See `scripts/profile.sh --help` for the knobs.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/setup.sh
exec .venv/bin/pos-profile "$@"
