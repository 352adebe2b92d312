#!/usr/bin/env bash
# Sets everything up and runs every check: lint, format, types, then all tests against real
# processes (SecantusDB, master-data's HTTP and gRPC servers, cart on both transports).
# Extra arguments go to pytest, e.g. scripts/test.sh -k parity -x. With options only (or
# none), pytest runs in two phases: all but tests/loadtest on PYTEST_WORKERS (2) workers, then
# tests/loadtest alone; with a path or an option's value, once, as asked.
#
# scripts/test.sh --fast: ruff and the pure tests only (tests/unit: no process, no network),
# the loop to run while editing; under a minute. Extra arguments after it go to pytest too.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
fast=false
if [ "${1:-}" = "--fast" ]; then
    fast=true
    shift
fi
scripts/setup.sh

# Bytecode compiled once and read by every later run and every process the tests start, in
# .venv (the folder tests/bytecode.py names), never beside the sources.
export PYTHONPYCACHEPREFIX="${PYTHONPYCACHEPREFIX:-$PWD/.venv/pycache}"
unset PYTHONDONTWRITEBYTECODE

if [ "$fast" = true ]; then
    echo "== ruff" && .venv/bin/ruff check . && .venv/bin/ruff format --check .
    echo "== pytest tests/unit" && exec .venv/bin/pytest tests/unit "$@"
fi

# tests/deploy validates docker-compose.prod.yaml offline with docker-compose (no engine
# needed); tests/tooling/test_readme_sale.py runs the README's sale with curl.
missing=()
command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)
command -v curl >/dev/null 2>&1 || missing+=(curl)
if [ ${#missing[@]} -gt 0 ] && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ]; then
    echo "test: installing ${missing[*]} (Debian packages)" >&2
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# tests/deploy renders deploy/k8s with `kubectl kustomize` (no cluster needed): install the
# pinned kubectl into .tools when the machine has none.
if ! command -v kubectl >/dev/null 2>&1; then
    scripts/install_kubectl.sh || echo "test: no kubectl; tests/deploy/test_kubernetes.py will fail" >&2
fi

echo "== ruff" && .venv/bin/ruff check . && .venv/bin/ruff format --check .
echo "== mypy" && .venv/bin/mypy
for argument in "$@"; do
    if [[ "$argument" != -* ]]; then
        # Paths or values given: run exactly what was asked, in one process.
        echo "== pytest" && exec .venv/bin/pytest "$@"
    fi
done
# Two phases: everything but tests/loadtest on PYTEST_WORKERS workers (pytest-xdist, a
# session stack of processes each: the process tests mostly wait on them), then tests/loadtest
# alone, whose benches and drills measure throughput and would be skewed by a neighbour.
echo "== pytest (${PYTEST_WORKERS:-2} workers)"
.venv/bin/pytest -n "${PYTEST_WORKERS:-2}" --ignore=tests/loadtest "$@"
echo "== pytest tests/loadtest (alone)" && exec .venv/bin/pytest tests/loadtest "$@"
