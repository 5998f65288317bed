#!/usr/bin/env bash
# The one test command: formatting, lints, the SAM template, and every test of the workspace.
# Tools the tests need come from the registries into a project-local virtualenv (.venv), pinned,
# so a fresh machine needs only Rust and Python 3.
set -euo pipefail
cd "$(dirname "$0")/.."

CFN_LINT_VERSION="1.58.0"
MOTO_VERSION="5.2.5"
SAM_CLI_VERSION="1.170.0"
CARGO_LAMBDA_VERSION="1.9.2"
VENV="${MLC_VENV:-.venv}"
CONTRACT_REQUIREMENTS="infra/contract/requirements.txt"

step() { printf '\n== %s\n' "$*"; }

step "python tools (${VENV})"
if [ ! -x "${VENV}/bin/python" ]; then
  python3 -m venv "${VENV}"
fi
# cfn-lint and SAM CLI for template.yaml; cargo-lambda (it brings zig) to build and run the
# functions; openapi-core for the BigCommerce contract tests; moto server for the DynamoDB, SQS
# and Secrets Manager adapter tests. The stamp file skips pip when nothing changed since the
# last install.
stamp="${VENV}/.mlc-requirements"
wanted="cfn-lint==${CFN_LINT_VERSION} moto[server]==${MOTO_VERSION} aws-sam-cli==${SAM_CLI_VERSION} cargo-lambda==${CARGO_LAMBDA_VERSION} $(tr '\n' ' ' < "${CONTRACT_REQUIREMENTS}")"
if [ "$(cat "${stamp}" 2>/dev/null)" != "${wanted}" ]; then
  "${VENV}/bin/pip" install --quiet --disable-pip-version-check \
    "cfn-lint==${CFN_LINT_VERSION}" "moto[server]==${MOTO_VERSION}" \
    "aws-sam-cli==${SAM_CLI_VERSION}" "cargo-lambda==${CARGO_LAMBDA_VERSION}" -r "${CONTRACT_REQUIREMENTS}"
  printf '%s' "${wanted}" > "${stamp}"
fi
"${VENV}/bin/cfn-lint" --version
SAM_CLI_TELEMETRY=0 "${VENV}/bin/sam" --version
VENV_BIN="$(cd "${VENV}" && pwd)/bin"
export MLC_PYTHON="${VENV_BIN}/python"

step "chromium (the HTML report's browser test)"
# Debian's Chromium, for the test that opens `mlc reconcile --format html`'s page headless; as
# root in CI, installed only when missing. MLC_BROWSER turns the test's browser part on.
if [ ! -x /usr/bin/chromium ]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium > "${VENV}/chromium-install.log" 2>&1 \
    || { apt-get update -qq > /dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium > "${VENV}/chromium-install.log" 2>&1; } \
    || { cat "${VENV}/chromium-install.log" >&2; echo "could not install chromium" >&2; exit 1; }
fi
export MLC_BROWSER=/usr/bin/chromium
"${MLC_BROWSER}" --version 2> /dev/null

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cfn-lint template.yaml"
"${VENV}/bin/cfn-lint" template.yaml

step "template checks cfn-lint does not make"
"${VENV}/bin/python" infra/template_check.py template.yaml

step "python checks that survive python -O (no bare assert in infra/*.py)"
if grep -nE '^[[:space:]]*assert[[:space:](]' infra/*.py; then
  echo "python -O strips assert: make these explicit checks that exit (see require() in infra/lambda_smoke.py)" >&2
  exit 1
fi

step "sam validate --lint"
# Offline and without credentials; plain `sam validate` would also need a region.
SAM_CLI_TELEMETRY=0 "${VENV}/bin/sam" validate --lint --template template.yaml

step "moto server (local AWS for the adapter tests)"
port="$("${VENV}/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
"${VENV}/bin/moto_server" -H 127.0.0.1 -p "${port}" > "${VENV}/moto.log" 2>&1 &
moto_pid=$!
# Stopped on every exit, failures included.
trap 'kill "${moto_pid}" 2>/dev/null || true; wait "${moto_pid}" 2>/dev/null || true' EXIT
export MLC_AWS_ENDPOINT="http://127.0.0.1:${port}"
"${VENV}/bin/python" - "${MLC_AWS_ENDPOINT}" <<'PY'
import sys, time, urllib.request
for _ in range(150):
    try:
        urllib.request.urlopen(sys.argv[1] + "/moto-api/", timeout=1)
        print("moto server ready at", sys.argv[1])
        break
    except Exception:
        time.sleep(0.2)
else:
    sys.exit("moto server did not start; see .venv/moto.log")
PY

step "cargo test"
# Every sandbox store leaves here the exchanges the connector had with it, for the contract
# check over all of them below.
export MLC_BC_EXCHANGES="$(pwd)/target/bc-exchanges"
rm -rf "${MLC_BC_EXCHANGES}"
# The output is kept (and still shown as it comes) so the guard below can count what ran.
test_log="${VENV}/cargo-test.log"
cargo test --workspace --locked 2>&1 | tee "${test_log}"

step "tests that ran, against the floor (infra/test-count-floor)"
# Every binary's summary line is `test result: ok. N passed; …`. A test deleted, an #[ignore]
# forgotten, a test binary or module no longer built: fewer pass, and the run fails. When tests
# are added, raise the floor in the same commit.
passed="$(sed -nE 's/^test result: [A-Za-z]+\. ([0-9]+) passed;.*/\1/p' "${test_log}" | awk '{n += $1} END {print n + 0}')"
floor="$(grep -Eo '^[0-9]+' infra/test-count-floor | head -n 1)"
if [ -z "${floor}" ]; then
  echo "infra/test-count-floor holds no number" >&2
  exit 1
fi
if [ "${passed}" -lt "${floor}" ]; then
  echo "${passed} tests passed, fewer than the floor of ${floor} in infra/test-count-floor: tests were lost" >&2
  exit 1
fi
echo "${passed} tests passed (floor ${floor})"

step "BigCommerce contract over every exchange the tests had with the sandbox store"
# The end-to-end and fault tests' requests and answers (429s, 5xx, 403s, 422s included)
# against BigCommerce's OpenAPI specs; the test also fails when too few were recorded.
# Run apart because it reads what the whole run left; it must run (a renamed test would match
# nothing and pass silently), hence the count.
contract_log="${VENV}/contract-test.log"
cargo test --locked -p common --test it -- --ignored --exact \
  bigcommerce_contract::every_exchange_the_tests_had_with_the_store_follows_the_specs 2>&1 | tee "${contract_log}"
grep -q '^test result: ok\. 1 passed' "${contract_log}" || { echo "the contract check did not run" >&2; exit 1; }

step "the built functions under the Lambda runtime emulator (cargo lambda watch + invoke), then mlc --aws"
# Built apart, as `cargo lambda watch` builds them (the functions without the local adapters).
cargo build --locked -p webhook -p poster -p poller
cargo build --locked -p e2e --bin e2e-world -p mlc
PATH="${VENV_BIN}:${PATH}" "${VENV_BIN}/python" infra/lambda_smoke.py

step "all checks passed"
