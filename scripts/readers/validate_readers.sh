#!/usr/bin/env bash
# Validate everything that reads the warehouse or the ops config, without building Rust:
#   1. a private PostgreSQL 15 with two warehouses (synthetic data, and empty), the OLAP
#      migration and the role grants of `brewlytics roles` (src/db.rs olap_grants);
#   2. `dbt build` on both, as the brewlytics_dbt role;
#   3. every Metabase card's SQL on both, as analytics_reader, with its declared columns;
#   4. promtool check config / check rules / test rules;
#   5. every Grafana panel expression against a real Prometheus scraping a fake exporter;
#   6. docker-compose.yml checks (depends_on, pins, mounts, env names, .env.example).
# Run as root from the repo root. Needs: PostgreSQL 15 binaries, psql, prometheus + promtool
# (apt: prometheus), the dbt venv at .venv (see dbt/README.md), python3 with PyYAML (the venv).
# Ports: PG 55432, Prometheus 19090, fake exporter 19898/18000 (all 127.0.0.1).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
WORK=$(mktemp -d /tmp/brewlytics-readers.XXXXXX)
chmod 755 "$WORK"
PGBIN=/usr/lib/postgresql/15/bin
PIDS=()
cleanup() {
    for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
    if [ -f "$WORK/pg/data/postmaster.pid" ]; then
        runuser -u postgres -- "$PGBIN/pg_ctl" -D "$WORK/pg/data" -m fast stop >/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

echo "== 1. PostgreSQL"
install -d -o postgres -g postgres -m 700 "$WORK/pg"
runuser -u postgres -- "$PGBIN/initdb" --no-sync -D "$WORK/pg/data" -U postgres --auth=trust >/dev/null
printf "listen_addresses='127.0.0.1'\nfsync=off\nsynchronous_commit=off\nfull_page_writes=off\n" >> "$WORK/pg/data/postgresql.conf"
runuser -u postgres -- "$PGBIN/pg_ctl" -D "$WORK/pg/data" -o "-p 55432 -k $WORK/pg" -l "$WORK/pg/log" -w start >/dev/null
export PGHOST=127.0.0.1 PGPORT=55432 PGUSER=postgres
for db in coffee_olap coffee_olap_empty; do
    psql -qc "create database $db"
    psql -q -v ON_ERROR_STOP=1 -d "$db" -f migrations/olap/V1__star_schema.sql
done
psql -q -v ON_ERROR_STOP=1 -d coffee_olap -f scripts/readers/synthetic_warehouse.sql >/dev/null
psql -q -v ON_ERROR_STOP=1 -d postgres <<'SQL'
create role brewlytics_cdc login password 'brew_cdc';
create role analytics_reader login password 'brew_reader';
create role brewlytics_dbt login password 'brew_dbt';
SQL
for db in coffee_olap coffee_olap_empty; do
    psql -q -v ON_ERROR_STOP=1 -d "$db" <<'SQL'
revoke all on schema public from public;
grant usage on schema public to brewlytics_cdc, analytics_reader, brewlytics_dbt;
grant select, insert, update, delete on all tables in schema public to brewlytics_cdc;
grant usage on all sequences in schema public to brewlytics_cdc;
grant select on all tables in schema public to analytics_reader, brewlytics_dbt;
create schema if not exists marts authorization brewlytics_dbt;
grant usage on schema marts to analytics_reader;
alter default privileges for role brewlytics_dbt in schema marts grant select on tables to analytics_reader;
grant select on all tables in schema marts to analytics_reader;
SQL
done

echo "== 2. dbt build"
export DBT_SEND_ANONYMOUS_USAGE_STATS=false OLAP_HOST=127.0.0.1 OLAP_PORT=55432 DB_USER=brewlytics_dbt DB_PASSWORD=brew_dbt
for db in coffee_olap coffee_olap_empty; do
    (cd dbt && OLAP_DB=$db "$ROOT/.venv/bin/dbt" build --profiles-dir . --target-path "$WORK/dbt-target" \
        --log-path "$WORK/dbt-logs" | tail -1)
done

echo "== 3. Metabase cards"
PGUSER=analytics_reader "$ROOT/.venv/bin/python" scripts/readers/check_metabase_cards.py \
    --db coffee_olap --db coffee_olap_empty | tail -1

echo "== 4. promtool"
promtool check config prometheus/prometheus.yml
promtool check config prometheus/prometheus.compose.yml
promtool check rules prometheus/alerts.yml
promtool test rules prometheus/alerts_test.yml

echo "== 5. Grafana expressions"
mkdir -p "$WORK/prom"
cat > "$WORK/prom/prometheus.yml" <<YAML
global: {scrape_interval: 1s, evaluation_interval: 1s}
rule_files: [$ROOT/prometheus/alerts.yml]
scrape_configs:
  - job_name: brewlytics-cdc
    static_configs: [{targets: ["127.0.0.1:19898"]}]
  - job_name: brewlytics-api
    static_configs: [{targets: ["127.0.0.1:18000"]}]
YAML
python3 scripts/readers/fake_metrics_exporter.py 19898 18000 & PIDS+=($!)
prometheus --config.file="$WORK/prom/prometheus.yml" --storage.tsdb.path="$WORK/prom/data" \
    --web.listen-address=127.0.0.1:19090 >"$WORK/prom/log" 2>&1 & PIDS+=($!)
sleep 20   # the first scrape lands ~6 s after start; rate() over [1m] needs two samples
"$ROOT/.venv/bin/python" scripts/readers/check_grafana_promql.py --prometheus http://127.0.0.1:19090 | tail -1

echo "== 6. docker-compose.yml"
"$ROOT/.venv/bin/python" scripts/readers/check_compose.py

echo "ALL READER CHECKS PASSED"
