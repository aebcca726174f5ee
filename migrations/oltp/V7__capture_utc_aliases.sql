-- Append-only: never edit a landed migration.
-- The capture functions' fast path (V3) skipped the zone switch only for a session whose TimeZone
-- reads exactly 'UTC'. The official postgres images (docker-compose.yml) and Debian's initdb on a
-- UTC host write timezone = 'Etc/UTC' into postgresql.conf, so every captured row of such a
-- server took the slow path: two set_config calls and a zone lookup per row, ~10 % of the
-- trigger's CPU in a perf profile of bench/order.sql (~2 % of the order transaction's backend
-- time). 'Etc/UTC' renders timestamptz exactly as 'UTC' does ("+00:00"), so it takes the fast
-- path too. Images, names and guarantees are unchanged (see V3).

create or replace function cdc_capture_insert() returns trigger
language plpgsql security definer as $$
declare
    tz pg_catalog.text := pg_catalog.current_setting('TimeZone');
begin
    if tz operator(pg_catalog.=) 'UTC' or tz operator(pg_catalog.=) 'Etc/UTC' then
        insert into public.cdc_orders (table_name, op, row_id, after)
        values (tg_table_name, 'I', new.id, pg_catalog.row_to_json(new));
    else
        -- Render the images in UTC: switch the zone for this INSERT only.
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
    tz pg_catalog.text := pg_catalog.current_setting('TimeZone');
begin
    if tz operator(pg_catalog.=) 'UTC' or tz operator(pg_catalog.=) 'Etc/UTC' then
        insert into public.cdc_orders (table_name, op, row_id, before, after)
        values (tg_table_name, 'U', new.id, pg_catalog.row_to_json(old), pg_catalog.row_to_json(new));
    else
        -- Render the images in UTC: switch the zone for this INSERT only.
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
    tz pg_catalog.text := pg_catalog.current_setting('TimeZone');
begin
    if tz operator(pg_catalog.=) 'UTC' or tz operator(pg_catalog.=) 'Etc/UTC' then
        insert into public.cdc_orders (table_name, op, row_id, before)
        values (tg_table_name, 'D', old.id, pg_catalog.row_to_json(old));
    else
        -- Render the images in UTC: switch the zone for this INSERT only.
        perform pg_catalog.set_config('TimeZone', 'UTC', true);
        insert into public.cdc_orders (table_name, op, row_id, before)
        values (tg_table_name, 'D', old.id, pg_catalog.row_to_json(old));
        perform pg_catalog.set_config('TimeZone', tz, true);
    end if;
    return null;
end $$;
