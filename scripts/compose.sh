#!/usr/bin/env bash
# Builds, starts, stops and tails the compose deployment (docker-compose.prod.yaml); see
# docs/deploy.md. Runs from any directory; uses `docker compose` when available, else
# docker-compose. Settings come from .env at the repository root (copy .env.example).
#
#   scripts/compose.sh build [args]   build the master-data and cart images
#   scripts/compose.sh up [args]      start, e.g. up -d, up -d --scale master-data=3
#   scripts/compose.sh down [args]    stop and remove the containers (down -v also deletes data)
#   scripts/compose.sh logs [args]    follow the logs (last 100 lines each), e.g. logs cart
#   scripts/compose.sh CMD [args]     any other compose command: ps, port master-data 8002...
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if docker compose version >/dev/null 2>&1; then
    compose=(docker compose)
elif command -v docker-compose >/dev/null 2>&1; then
    compose=(docker-compose)
else
    echo "compose.sh: neither 'docker compose' nor 'docker-compose' is available" >&2
    exit 127
fi
compose+=(-f docker-compose.prod.yaml)

usage() {
    sed -n '2,10s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2
    exit 2
}

[ $# -ge 1 ] || usage
command="$1"
shift
case "$command" in
    build | up | down) exec "${compose[@]}" "$command" "$@" ;;
    logs) exec "${compose[@]}" logs --follow --tail=100 "$@" ;;
    -h | --help | help) usage ;;
    *) exec "${compose[@]}" "$command" "$@" ;;
esac
