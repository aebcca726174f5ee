-- Snapshot jobs: the initial load of a warehouse whose checkpoint was never set, and resyncs
-- (`brewlytics resync`). A job loads the current state of its target tables from one OLTP
-- snapshot while streaming waits; it is committed chunk by chunk with its progress, so a killed
-- daemon resumes it. Append-only: never edit a landed migration.
create table cdc_snapshot (
    job_id       bigserial primary key,
    kind         text not null check (kind in ('initial', 'resync')),
    -- warehouse tables the job rebuilds
    targets      text[] not null,
    state        text not null default 'requested' check (state in ('requested', 'running', 'done')),
    -- the first OLTP snapshot the job read (pg_snapshot text); streaming resumes from it
    origin       text,
    requested_at timestamptz not null default now(),
    started_at   timestamptz,
    finished_at  timestamptz
);
-- At most one job is open at a time.
create unique index cdc_snapshot_one_open_idx on cdc_snapshot ((true)) where state <> 'done';

-- Progress of a job per OLTP table: rows are read in primary-key order, so `last_id` is where a
-- restarted job goes on.
create table cdc_snapshot_table (
    job_id      bigint not null references cdc_snapshot (job_id) on delete cascade,
    source      text not null,
    last_id     bigint not null default 0,
    rows_done   bigint not null default 0,
    rows_total  bigint not null default 0,
    done        boolean not null default false,
    started_at  timestamptz,
    finished_at timestamptz,
    primary key (job_id, source)
);
