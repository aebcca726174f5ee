-- The checkpoint knows which OLTP source it describes (issue #21). Append-only: never edit a
-- landed migration.
--
-- * source_system / source_timeline: the OLTP cluster's system identifier and timeline when the
--   checkpoint was last saved; source_max_id: the highest cdc_orders id applied. A source whose
--   identifier or timeline differs, whose transaction ids or ids went back, or that pruned changes
--   the checkpoint still needs, was replaced (a promoted standby, a restore, a new cluster).
-- * source_lsn: the OLTP WAL insert position read with the newest snapshot applied (every change
--   applied committed before it): a new timeline that forked at or after it holds all of them.
-- * source_replaced: why, while the daemon re-bases (or, with CDC_ON_SOURCE_CHANGE=stop, waits for
--   an operator); null otherwise.
-- * A rebase is a snapshot job of every table from the new source that does not first stream up
--   to its snapshot (the old position means nothing there).
alter table cdc_offset
    add column source_system   text,
    add column source_timeline integer,
    add column source_max_id   bigint not null default 0,
    add column source_lsn      pg_lsn,
    add column source_replaced text;

alter table cdc_snapshot drop constraint cdc_snapshot_kind_check;
alter table cdc_snapshot add constraint cdc_snapshot_kind_check check (kind in ('initial', 'resync', 'rebase'));
