#!/usr/bin/env bash
# Installs everything into .venv from the lock file. Idempotent; needs only Python 3.11+
# and the package registries. Installs uv (pinned) into .tools/ when it is not on PATH.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

UV_VERSION="0.13.9"
PYTHON="$(command -v python3.11 || command -v python3)"

if command -v uv >/dev/null 2>&1; then
    UV="$(command -v uv)"
else
    UV=".tools/uv/bin/uv"
    if [ ! -x "$UV" ]; then
        echo "setup: installing uv ${UV_VERSION} into .tools/uv" >&2
        "$PYTHON" -m venv .tools/uv
        .tools/uv/bin/python -m pip install --quiet --disable-pip-version-check "uv==${UV_VERSION}"
    fi
fi

# --locked: fail rather than silently re-resolve when uv.lock and the pyproject files disagree.
UV_PYTHON_DOWNLOADS=never "$UV" sync --locked --all-packages --python "$PYTHON" --quiet
echo "setup: .venv ready ($(.venv/bin/python --version))" >&2
