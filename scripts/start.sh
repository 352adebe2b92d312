#!/usr/bin/env bash
# Sets up on first run, then runs the services in the foreground until Ctrl-C:
# SecantusDB (unless MONGODB_URI is set), master-data (HTTP and gRPC) with the demo catalog.
# Settings come from the environment (see docs/configuration.md), e.g. USE_GRPC=true.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/setup.sh
exec .venv/bin/python -m pos_devstack.cli up "$@"
