#!/usr/bin/env bash
# The one test command: formatting, lints, the SAM template, and every test of the workspace.
# Tools the tests need come from the registries into a project-local virtualenv (.venv), pinned,
# so a fresh machine needs only Rust and Python 3.
set -euo pipefail
cd "$(dirname "$0")/.."

CFN_LINT_VERSION="1.58.0"
VENV="${MLC_VENV:-.venv}"
CONTRACT_REQUIREMENTS="infra/contract/requirements.txt"

step() { printf '\n== %s\n' "$*"; }

step "python tools (${VENV})"
if [ ! -x "${VENV}/bin/python" ]; then
  python3 -m venv "${VENV}"
fi
# cfn-lint for template.yaml; openapi-core for the BigCommerce contract tests. The stamp file
# skips pip when nothing changed since the last install.
stamp="${VENV}/.mlc-requirements"
wanted="cfn-lint==${CFN_LINT_VERSION} $(tr '\n' ' ' < "${CONTRACT_REQUIREMENTS}")"
if [ "$(cat "${stamp}" 2>/dev/null)" != "${wanted}" ]; then
  "${VENV}/bin/pip" install --quiet --disable-pip-version-check \
    "cfn-lint==${CFN_LINT_VERSION}" -r "${CONTRACT_REQUIREMENTS}"
  printf '%s' "${wanted}" > "${stamp}"
fi
"${VENV}/bin/cfn-lint" --version
export MLC_PYTHON="${PWD}/${VENV}/bin/python"

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cfn-lint template.yaml"
"${VENV}/bin/cfn-lint" template.yaml

step "cargo test"
cargo test --workspace --locked

step "all checks passed"
