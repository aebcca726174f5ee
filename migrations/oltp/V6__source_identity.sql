-- What the CDC daemon checks to know that the OLTP database it reads is still the source its
-- checkpoint describes (issue #21): the cluster's system identifier, its timeline, the capture's
-- sequence, and what retention has pruned. Append-only: never edit a landed migration.

-- What retention has deleted from cdc_orders: changes of transactions visible in `horizon` (the
-- checkpoint it pruned behind, the latest one) up to `max_txid`. A warehouse whose checkpoint does
-- not see one of those transactions (restored from an older backup) needs changes that are gone.
-- One row, written by retention (none until it first prunes).
create table cdc_pruned (
    singleton boolean primary key default true check (singleton),
    max_txid  xid8 not null,
    horizon   pg_snapshot not null,
    pruned_at timestamptz not null default now()
);

-- The source's identity and positions in one call, with the owner's rights (the daemon's role
-- needs no privilege on the control file, the sequence or pg_wal). The system identifier is null
-- where the owner may not read the control file (a managed server without superuser); the
-- timeline is that of the current WAL insert position (it moves at once when a standby is
-- promoted), and its history file (which names where each ancestor timeline was left) is null
-- on timeline 1 or where the owner may not read it.
create function cdc_source_state(out system_identifier text, out timeline integer, out last_id bigint,
                                 out pruned_txid xid8, out pruned_horizon pg_snapshot,
                                 out timeline_history text)
language plpgsql security definer as $$
begin
    begin
        select s.system_identifier::text into system_identifier from pg_catalog.pg_control_system() s;
    exception when insufficient_privilege then
        system_identifier := null;
    end;
    timeline := ('x' || pg_catalog.substr(pg_catalog.pg_walfile_name(pg_catalog.pg_current_wal_insert_lsn()), 1, 8))
                ::bit(32)::integer;
    if timeline > 1 then
        begin
            timeline_history := pg_catalog.convert_from(pg_catalog.pg_read_binary_file(
                'pg_wal/' || pg_catalog.lpad(pg_catalog.upper(pg_catalog.to_hex(timeline)), 8, '0') || '.history'), 'UTF8');
        exception when insufficient_privilege or undefined_file then
            timeline_history := null;
        end;
    end if;
    select s.last_value into last_id from public.cdc_orders_id_seq s;
    select p.max_txid, p.horizon into pruned_txid, pruned_horizon from public.cdc_pruned p;
end $$;
