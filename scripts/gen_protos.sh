#!/usr/bin/env bash
# Regenerates the gRPC stubs of services/protos into services/commons (pos_commons.grpc_stubs).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/setup.sh >/dev/null
exec .venv/bin/python -m pos_devstack.protogen "$@"
