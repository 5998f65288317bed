#!/usr/bin/env bash
# Builds the three functions for AWS Lambda (provided.al2023) with cargo-lambda: arm64 (what
# template.yaml deploys), or x86_64 when asked or when the aarch64 standard library cannot be
# had on this machine (then set `Architectures: [x86_64]` in template.yaml to match).
# cargo-lambda comes from PyPI into the project's virtualenv, with zig as the cross linker.
#   ./infra/build.sh            arm64, falling back to x86_64
#   ./infra/build.sh x86_64     x86_64
# Output: target/lambda/{webhook,poster,poller}/bootstrap (what `sam build` packages too).
set -euo pipefail
cd "$(dirname "$0")/.."

VENV="${MLC_VENV:-.venv}"
CARGO_LAMBDA_VERSION="1.9.2"
if [ ! -x "${VENV}/bin/cargo-lambda" ]; then
  [ -x "${VENV}/bin/python" ] || python3 -m venv "${VENV}"
  "${VENV}/bin/pip" install --quiet --disable-pip-version-check "cargo-lambda==${CARGO_LAMBDA_VERSION}"
fi
export PATH="$(cd "${VENV}" && pwd)/bin:${PATH}"

arch="${1:-arm64}"
if [ "${arch}" = "arm64" ] && ! rustup target list --installed | grep -qx aarch64-unknown-linux-gnu; then
  if ! rustup target add aarch64-unknown-linux-gnu; then
    echo "build: the aarch64 standard library cannot be installed here; building x86_64 instead" >&2
    arch="x86_64"
  fi
fi
case "${arch}" in
  arm64) flag="--arm64" ;;
  x86_64) flag="--x86-64" ;;
  *) echo "build: unknown architecture ${arch} (arm64 or x86_64)" >&2; exit 2 ;;
esac
cargo lambda build --release "${flag}" --locked -p webhook -p poster -p poller
for f in webhook poster poller; do
  printf '%-8s %s\n' "${f}" "$(du -h "target/lambda/${f}/bootstrap" | cut -f1)"
done
echo "build: ${arch} bootstraps in target/lambda/"
