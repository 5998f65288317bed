#!/usr/bin/env bash
# The one test command: formatting, lints, the SAM template, and every test of the workspace.
# Tools the tests need come from the registries into a project-local virtualenv (.venv), pinned,
# so a fresh machine needs only Rust and Python 3.
set -euo pipefail
cd "$(dirname "$0")/.."

CFN_LINT_VERSION="1.58.0"
VENV="${MLC_VENV:-.venv}"

step() { printf '\n== %s\n' "$*"; }

step "python tools (${VENV})"
if [ ! -x "${VENV}/bin/python" ]; then
  python3 -m venv "${VENV}"
fi
if ! "${VENV}/bin/cfn-lint" --version 2>/dev/null | grep -q "${CFN_LINT_VERSION}"; then
  "${VENV}/bin/pip" install --quiet --disable-pip-version-check "cfn-lint==${CFN_LINT_VERSION}"
fi
"${VENV}/bin/cfn-lint" --version

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cfn-lint template.yaml"
"${VENV}/bin/cfn-lint" template.yaml

step "cargo test"
cargo test --workspace --locked

step "all checks passed"
