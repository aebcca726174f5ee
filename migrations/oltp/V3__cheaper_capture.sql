-- Append-only: never edit a landed migration.
-- Cheaper change capture (issue #14, part 1). Transforms the objects of V2__cdc_capture.sql,
-- which stays as it landed. Measured on the lab cluster (durable, 2 shared cores; see
-- docs/PERFORMANCE.md): bench/order.sql under pgbench, 8 clients, paired 5 s runs against the
-- same database without capture (three runs): V2 with its default NOTIFY 0.21-0.49 of the
-- tx/s, V2 with brewlytics.notify = off 0.64-0.76, PgQ's pgq.logutriga on the same tables
-- 0.70-0.75, this 0.78-0.84. Backend CPU per order transaction above no capture (fresh
-- databases, same run): V2 +173 µs (notify off +153), PgQ +113 µs, this +87 µs.
--
-- Same guarantees as V2:
-- * One change row per changed row, written in the writing transaction, txid = its xid8.
-- * Images keep numeric's exact digits and scale, and render every timestamptz as UTC ISO-8601
--   ("2025-07-20T23:30:00+00:00") whatever the session's TimeZone.
-- * TRUNCATE of a captured table is refused (cdc_refuse_truncate, unchanged).
-- * Writers need no privilege on cdc_orders: the capture functions are SECURITY DEFINER.
-- * cdc_capture_table(regclass) captures a new table with one call (now idempotent).
--
-- What changes, and what each change is worth (backend CPU per order transaction, which writes
-- 8 change rows through 6 trigger events; single session, medians of 5 × 3000 orders):
-- * No NOTIFY by default. A notifying transaction holds a cluster-wide lock from pre-commit to
--   the end of commit, which serialises commits (0.49 → 0.64 of the tx/s, no CPU to speak of);
--   and V2 paid ~30 µs per order for calling cdc_notify() even when it was off. The daemon
--   polls pg_current_snapshot() adaptively instead (an idle poll is one snapshot, no xid).
--   NOTIFY stays available: `select cdc_set_notify(true)` attaches one statement-level trigger
--   per captured table that notifies channel cdc_orders (folded to one notification per
--   transaction; a session with `brewlytics.notify = off` still sends none). Off, it costs
--   nothing: no per-row or per-statement check (an inline GUC check per row measured +13 µs).
-- * Row-level AFTER triggers, one function per operation, replace the statement-level triggers
--   with transition tables. The order transaction fired 6 statement triggers (one of them, the
--   INSERT of INSERT … ON CONFLICT DO UPDATE, always with zero rows), each with a tuplestore
--   scan, a hash join for UPDATE and a whole INSERT … SELECT executor: −25 to −30 µs against the
--   same options at statement level. (A bulk statement pays more per row; see FINDINGS.md.)
-- * Images are json (row_to_json) instead of jsonb: no binary jsonb build on write and no
--   jsonb → text on read (the reader casts ::text): −23 µs. Text differs in spacing and key
--   order only ("price":0.20 instead of "price": 0.20); ->> and serde decoding are unchanged.
-- * One index: the primary key becomes (txid, id), the reader's index, instead of pkey (id)
--   plus an index on (txid, id): −10 µs. Retention must walk (txid, id), not id.
-- * The op check becomes a domain: a table CHECK constraint is re-parsed and re-planned on every
--   execution of the INSERT (ExecRelCheck → stringToNode), a domain's check is cached in the
--   type cache: −27 µs (a domain costs ≤ 8 µs more than no check at all). The column still
--   reads as char(1): the protocol sends a domain's base type (bpchar).
-- * The identity caches 100 values per session: ids stay unique and increase within a session,
--   hence within a transaction, which is all the reader's (txid, id) order and the version guard
--   (changed_at, id) need; across sessions they no longer follow insert order: −7 µs.
-- * No SET clauses on the functions (a SET clause saves and restores the GUC on every call, and
--   SET search_path also invalidates the cached search path): −20 µs for search_path, −10 µs
--   for timezone. Instead every name in the SECURITY DEFINER bodies is schema-qualified
--   (relations, functions, operators, types), and UTC is ensured by a fast path: a session
--   already in UTC changes nothing; any other session switches TimeZone to UTC with
--   set_config(…, is_local => true) for the INSERT and back to its own value right after (an
--   error aborts the (sub)transaction, which undoes the local setting anyway).
-- * changed_at stays clock_timestamp() per row: now() or statement_timestamp() would break the
--   version guard (a transaction that started first can change a row last), and one
--   clock_timestamp() per statement measured no cheaper.
--
-- Reader compatibility: same columns and names; before/after are json (the reader already
-- selects ::text); op reads as char(1). Retention must change (no index on id alone any more):
-- walk (txid, id) and delete by ctid, see FINDINGS.md.
--
-- The ALTER TYPE rewrites cdc_orders (json from jsonb) under an ACCESS EXCLUSIVE lock: with a
-- large backlog, let the daemon catch up and retention prune before migrating.

-- 1. The change table.
alter table cdc_orders
    alter column before type json using before::json,
    alter column after type json using after::json;

alter table cdc_orders drop constraint cdc_orders_pkey;
drop index cdc_orders_txid_id_idx;
alter table cdc_orders add constraint cdc_orders_pkey primary key (txid, id);

create domain cdc_op as char(1) check (value in ('I', 'U', 'D'));
alter table cdc_orders drop constraint cdc_orders_op_check;
alter table cdc_orders alter column op type cdc_op;

alter table cdc_orders alter column id set cache 100;

-- 2. The capture functions, now row-level (same names, so grants and references stay valid).
--    SECURITY DEFINER without SET clauses: every name below is schema-qualified.
create or replace function cdc_capture_insert() returns trigger
language plpgsql security definer as $$
declare
    tz pg_catalog.text;
begin
    if pg_catalog.current_setting('TimeZone') operator(pg_catalog.=) 'UTC' then
        insert into public.cdc_orders (table_name, op, row_id, after)
        values (tg_table_name, 'I', new.id, pg_catalog.row_to_json(new));
    else
        -- Render the images in UTC: switch the zone for this INSERT only.
        tz := pg_catalog.current_setting('TimeZone');
        perform pg_catalog.set_config('TimeZone', 'UTC', true);
        insert into public.cdc_orders (table_name, op, row_id, after)
        values (tg_table_name, 'I', new.id, pg_catalog.row_to_json(new));
        perform pg_catalog.set_config('TimeZone', tz, true);
    end if;
    return null;
end $$;

create or replace function cdc_capture_update() returns trigger
language plpgsql security definer as $$
declare
    tz pg_catalog.text;
begin
    if pg_catalog.current_setting('TimeZone') operator(pg_catalog.=) 'UTC' then
        insert into public.cdc_orders (table_name, op, row_id, before, after)
        values (tg_table_name, 'U', new.id, pg_catalog.row_to_json(old), pg_catalog.row_to_json(new));
    else
        -- Render the images in UTC: switch the zone for this INSERT only.
        tz := pg_catalog.current_setting('TimeZone');
        perform pg_catalog.set_config('TimeZone', 'UTC', true);
        insert into public.cdc_orders (table_name, op, row_id, before, after)
        values (tg_table_name, 'U', new.id, pg_catalog.row_to_json(old), pg_catalog.row_to_json(new));
        perform pg_catalog.set_config('TimeZone', tz, true);
    end if;
    return null;
end $$;

create or replace function cdc_capture_delete() returns trigger
language plpgsql security definer as $$
declare
    tz pg_catalog.text;
begin
    if pg_catalog.current_setting('TimeZone') operator(pg_catalog.=) 'UTC' then
        insert into public.cdc_orders (table_name, op, row_id, before)
        values (tg_table_name, 'D', old.id, pg_catalog.row_to_json(old));
    else
        -- Render the images in UTC: switch the zone for this INSERT only.
        tz := pg_catalog.current_setting('TimeZone');
        perform pg_catalog.set_config('TimeZone', 'UTC', true);
        insert into public.cdc_orders (table_name, op, row_id, before)
        values (tg_table_name, 'D', old.id, pg_catalog.row_to_json(old));
        perform pg_catalog.set_config('TimeZone', tz, true);
    end if;
    return null;
end $$;

-- 3. Opt-in NOTIFY: one statement-level trigger per captured table, attached by cdc_set_notify.
--    PostgreSQL folds a transaction's identical notifications into one. Runs as the writer
--    (NOTIFY needs no privilege).
create function cdc_notify_trigger() returns trigger
language plpgsql as $$
begin
    if coalesce(current_setting('brewlytics.notify', true), '') <> 'off' then
        perform pg_notify('cdc_orders', '');
    end if;
    return null;
end $$;

-- Whether NOTIFY is on: some captured table has the notify trigger.
create function cdc_notify_enabled() returns boolean
language sql stable as $$
    select exists (select from pg_catalog.pg_trigger where tgname = 'cdc_notify' and not tgisinternal)
$$;

-- Attach the capture triggers to one table (idempotent: CREATE OR REPLACE TRIGGER), and the
-- notify trigger when NOTIFY is on. Kept as a function so later migrations capture new tables
-- with one call.
create or replace function cdc_capture_table(t regclass) returns void
language plpgsql as $$
declare
    notify boolean := cdc_notify_enabled();
begin
    execute format('create or replace trigger cdc_capture_i after insert on %s '
                   'for each row execute function cdc_capture_insert()', t);
    execute format('create or replace trigger cdc_capture_u after update on %s '
                   'for each row execute function cdc_capture_update()', t);
    execute format('create or replace trigger cdc_capture_d after delete on %s '
                   'for each row execute function cdc_capture_delete()', t);
    execute format('create or replace trigger cdc_refuse_truncate before truncate on %s '
                   'for each statement execute function cdc_refuse_truncate()', t);
    if notify then
        execute format('create or replace trigger cdc_notify after insert or update or delete on %s '
                       'for each statement execute function cdc_notify_trigger()', t);
    end if;
end $$;

-- Turn NOTIFY on or off for every captured table (a table is captured when it has the
-- cdc_capture_i trigger).
create function cdc_set_notify(enabled boolean) returns void
language plpgsql as $$
declare
    t regclass;
begin
    for t in select tgrelid::regclass from pg_trigger where tgname = 'cdc_capture_i' and not tgisinternal loop
        if enabled then
            execute format('create or replace trigger cdc_notify after insert or update or delete on %s '
                           'for each statement execute function cdc_notify_trigger()', t);
        else
            execute format('drop trigger if exists cdc_notify on %s', t);
        end if;
    end loop;
end $$;

-- 4. Re-attach every captured table (V2's statement-level triggers are replaced in place).
select cdc_capture_table(tgrelid::regclass)
from pg_trigger
where tgname = 'cdc_capture_i' and not tgisinternal;

-- V2's NOTIFY helper is no longer called by the capture functions; kept for compatibility.
comment on function cdc_notify() is 'unused since V3: NOTIFY is opt-in, see cdc_set_notify(boolean)';
