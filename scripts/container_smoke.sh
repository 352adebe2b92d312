#!/usr/bin/env bash
# The compose deployment end to end in real containers, for a machine with a container engine:
# builds both images, brings docker-compose.prod.yaml up (a project and secrets of its own, cart
# on a free loopback port), runs a sale over HTTP and over gRPC, scales master-data to 3 and
# checks that every replica serves, restarts one under load (no cart call may fail), and tears
# it all down. A few minutes, most of it the first build. `--help` lists the knobs.
# Where no engine answers it says so and exits 0: there is nothing to smoke-test there.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if ! command -v docker >/dev/null 2>&1; then
    echo "container_smoke: skipped: no docker command on this machine" >&2
    exit 0
fi
if ! docker info >/dev/null 2>&1; then
    echo "container_smoke: skipped: no container engine answers ('docker info' failed)" >&2
    exit 0
fi
if ! docker compose version >/dev/null 2>&1 && ! command -v docker-compose >/dev/null 2>&1; then
    echo "container_smoke: skipped: neither 'docker compose' nor 'docker-compose' is installed" >&2
    exit 0
fi

scripts/setup.sh
exec .venv/bin/pos-container-smoke "$@"
