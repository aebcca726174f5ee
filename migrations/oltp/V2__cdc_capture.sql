-- Change capture: every INSERT, UPDATE and DELETE of a business table writes one row per changed
-- row into cdc_orders, from statement-level triggers with transition tables.
--
-- * txid is the writing transaction's xid8: the CDC reader builds commit-safe batches from
--   transaction snapshots (PgQ style), never from `id > last_id`.
-- * Images are to_jsonb(row): numeric keeps its exact digits and scale. The trigger function runs
--   with TimeZone = UTC, so every timestamptz renders as UTC ISO-8601 whatever the session's zone.
-- * One NOTIFY per committing transaction: PostgreSQL folds identical notifications of a
--   transaction into one, so each statement may call pg_notify('cdc_orders', '').
--   A notifying transaction holds a cluster-wide lock through its commit, which serialises
--   commits (docs/PERFORMANCE.md). Where write throughput matters more than wake-up latency,
--   `alter database coffee_oltp set brewlytics.notify = off` turns it off and the daemon polls
--   (CDC_POLL_INTERVAL_MS, e.g. 20).
-- * The capture functions are SECURITY DEFINER: writers need no privilege on cdc_orders.
-- * TRUNCATE of a captured table is refused: it fires no row triggers and would be invisible.
-- * The capture functions are SECURITY DEFINER: writers need no privilege on cdc_orders.
create table cdc_orders (
    id         bigint generated always as identity primary key,
    txid       xid8 not null default pg_current_xact_id(),
    table_name text not null,
    op         char(1) not null check (op in ('I', 'U', 'D')),
    row_id     bigint not null,
    before     jsonb,
    after      jsonb,
    changed_at timestamptz not null default clock_timestamp()
);
create index cdc_orders_txid_id_idx on cdc_orders (txid, id);

-- Wake listeners unless `brewlytics.notify` is off for this database or session.
create function cdc_notify() returns void
language plpgsql as $$
begin
    if coalesce(current_setting('brewlytics.notify', true), '') <> 'off' then
        perform pg_notify('cdc_orders', '');
    end if;
end $$;

create function cdc_capture_insert() returns trigger
language plpgsql security definer
set timezone = 'UTC' set search_path = pg_catalog, public as $$
begin
    insert into cdc_orders (table_name, op, row_id, after)
    select tg_table_name, 'I', n.id, to_jsonb(n) from new_rows n;
    perform cdc_notify();
    return null;
end $$;

create function cdc_capture_update() returns trigger
language plpgsql security definer
set timezone = 'UTC' set search_path = pg_catalog, public as $$
begin
    insert into cdc_orders (table_name, op, row_id, before, after)
    select tg_table_name, 'U', n.id, to_jsonb(o), to_jsonb(n)
    from old_rows o join new_rows n on n.id = o.id;
    perform cdc_notify();
    return null;
end $$;

create function cdc_capture_delete() returns trigger
language plpgsql security definer
set timezone = 'UTC' set search_path = pg_catalog, public as $$
begin
    insert into cdc_orders (table_name, op, row_id, before)
    select tg_table_name, 'D', o.id, to_jsonb(o) from old_rows o;
    perform cdc_notify();
    return null;
end $$;

create function cdc_refuse_truncate() returns trigger
language plpgsql as $$
begin
    raise exception 'TRUNCATE of captured table % is refused: it would bypass change capture', tg_table_name
        using errcode = 'feature_not_supported',
              hint = 'delete the rows instead, so that the warehouse sees the change';
end $$;

-- Attach the capture triggers to one table. Kept as a function so later migrations can capture
-- new tables with one call.
create function cdc_capture_table(t regclass) returns void
language plpgsql as $$
begin
    execute format('create trigger cdc_capture_i after insert on %s referencing new table as new_rows '
                   'for each statement execute function cdc_capture_insert()', t);
    execute format('create trigger cdc_capture_u after update on %s referencing old table as old_rows '
                   'new table as new_rows for each statement execute function cdc_capture_update()', t);
    execute format('create trigger cdc_capture_d after delete on %s referencing old table as old_rows '
                   'for each statement execute function cdc_capture_delete()', t);
    execute format('create trigger cdc_refuse_truncate before truncate on %s '
                   'for each statement execute function cdc_refuse_truncate()', t);
end $$;

select cdc_capture_table(t)
from unnest(array['stores', 'customers', 'products', 'employees', 'orders', 'order_items',
                  'payments', 'inventory', 'inventory_movements']::regclass[]) as t;
