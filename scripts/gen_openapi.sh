#!/usr/bin/env bash
# Writes the OpenAPI documents of both services to docs/openapi/ (commit them; a test fails
# when they are stale).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/setup.sh
exec .venv/bin/python -m pos_devstack.openapi "$@"
