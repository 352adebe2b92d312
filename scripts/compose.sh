#!/usr/bin/env bash
# Builds, starts, stops and tails the compose deployment (docker-compose.prod.yaml); see
# docs/deploy.md. Runs from any directory; uses `docker compose` when available, else
# docker-compose. Settings come from .env at the repository root (copy .env.example).
#
#   scripts/compose.sh init-secrets   create the missing secret files (tokens, MongoDB passwords,
#                                     URIs, keyfile) in POS_SECRETS_DIR (./secrets); keeps others
#   scripts/compose.sh build [args]   build the master-data and cart images
#   scripts/compose.sh up [args]      start, e.g. up -d, up -d --scale master-data=3
#   scripts/compose.sh down [args]    stop and remove the containers (down -v also deletes data)
#   scripts/compose.sh logs [args]    follow the logs (last 100 lines each), e.g. logs cart
#                                     (passes --follow itself: an extra -f gets only a usage text)
#   scripts/compose.sh CMD [args]     any other compose command: ps, port master-data 8002...
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# The `secrets:` of docker-compose.prod.yaml (tests/deploy/test_compose.py keeps them equal).
SECRETS=(admin_token cart_admin_token service_token metrics_token cart_mongodb_uri
    master_data_mongodb_uri mongo_root_password mongo_cart_password mongo_master_data_password
    mongo_keyfile)

usage() {
    sed -n '2,13s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2
    exit 2
}

secrets_dir() {
    local configured="${POS_SECRETS_DIR:-}"
    if [ -z "$configured" ] && [ -f .env ]; then
        configured="$(sed -n 's/^POS_SECRETS_DIR=//p' .env | tail -n 1)"
    fi
    echo "${configured:-./secrets}"
}

# 32 random bytes, URL-safe base64 (43 characters): safe in a MongoDB URI without escaping.
token() {
    head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n'
}

# Writes stdin to $1 with mode $2, unless $1 exists (secrets are never replaced: MongoDB keeps
# the passwords it was initialised with).
create() {
    if [ -s "$1" ]; then
        echo "compose.sh: keeping $1" >&2
        cat >/dev/null
        return
    fi
    (umask 077 && cat >"$1")
    chmod "$2" "$1"
    echo "compose.sh: created $1" >&2
}

init_secrets() {
    local dir
    dir="$(secrets_dir)"
    (umask 077 && mkdir -p "$dir")
    chmod 700 "$dir"
    # 0644 inside a 0700 folder: only the owner reaches them on the host, while the services
    # (uid 10001) and mongod (uid 999) can read their bind-mounted copies. The keyfile is read
    # by root only (the mongo container copies it for mongod, see the compose file).
    # admin_token is master-data's admin token, cart_admin_token cart's own: different files,
    # each mounted into its own service only.
    for name in admin_token cart_admin_token service_token metrics_token mongo_root_password \
        mongo_cart_password mongo_master_data_password; do
        token | create "$dir/$name" 644
    done
    head -c 756 /dev/urandom | base64 | tr -d '\n' | create "$dir/mongo_keyfile" 600
    # What each service connects with: its own MongoDB user (deploy/mongo/roles.json), created
    # on MongoDB's first start with the password above.
    local user
    for user in cart master_data; do
        printf 'mongodb://%s:%s@mongo:27017/?replicaSet=rs0&authSource=admin' \
            "$user" "$(cat "$dir/mongo_${user}_password")" | create "$dir/${user}_mongodb_uri" 644
    done
}

require_secrets() {
    local dir missing=()
    dir="$(secrets_dir)"
    for name in "${SECRETS[@]}"; do
        [ -s "$dir/$name" ] || missing+=("$dir/$name")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        echo "compose.sh: missing secret files: ${missing[*]}" >&2
        echo "compose.sh: run scripts/compose.sh init-secrets first (docs/deploy.md)" >&2
        exit 1
    fi
}

[ $# -ge 1 ] || usage
command="$1"
shift
case "$command" in
    -h | --help | help) usage ;;
    init-secrets)
        init_secrets
        exit 0
        ;;
esac

if docker compose version >/dev/null 2>&1; then
    compose=(docker compose)
elif command -v docker-compose >/dev/null 2>&1; then
    compose=(docker-compose)
else
    echo "compose.sh: neither 'docker compose' nor 'docker-compose' is available" >&2
    exit 127
fi
compose+=(-f docker-compose.prod.yaml)

case "$command" in
    up)
        require_secrets
        exec "${compose[@]}" up "$@"
        ;;
    build | down) exec "${compose[@]}" "$command" "$@" ;;
    logs) exec "${compose[@]}" logs --follow --tail=100 "$@" ;;
    *) exec "${compose[@]}" "$command" "$@" ;;
esac
