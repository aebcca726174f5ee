{#-
  Incremental marts over the rollups (migrations/olap/V9__rollups.sql).

  The daemon keeps every rollup row exact in the same transaction as the facts it sums, and stamps
  it with `updated_xid`, the transaction that last moved it (indexed). Every mart row that comes
  from the rollups carries `built_snapshot` (pg_current_snapshot() of the one statement that
  computed it) and `built_at`. A rollup row moved by a transaction that snapshot did not see is
  exactly one with

      updated_xid >= pg_snapshot_xmin(snapshot) and not pg_visible_in_snapshot(updated_xid, snapshot)

  (the first half only lets the updated_xid index find them). No clock is involved, so an
  increment misses nothing and repeats nothing whatever the transactions' durations: a
  transaction still running when a build took its snapshot is invisible to it, and is picked up by
  the next build once committed.

  An incremental mart (materialized='incremental', incremental_strategy='delete+insert',
  unique_key = its day or month) rebuilds, in one statement, the days that moved since its last
  build (`days_moved_since_last_build`). dbt then deletes those days from the mart and inserts the
  new rows. A day that has nothing left to show (e.g. all its orders deleted) must still be
  deleted: the statement also emits one *tombstone* per rebuilt day (`tombstones`: the day's key,
  every other column null, built_at null), so dbt's delete sees every rebuilt day; the post-hook
  `drop_tombstones` removes them in the same transaction, before anyone can read them.
-#}

{#- `pg_current_snapshot()` and `now()` of the statement computing the row. -#}
{% macro build_stamp() -%}
    pg_current_snapshot() as built_snapshot,
    now() as built_at
{%- endmacro %}


{#- Whether the model builds incrementally: dbt's is_incremental() (the table exists, no
    --full-refresh), and the table has built_snapshot. A mart left by the previous design (full
    tables over stg_fact_cut, no built_snapshot) is rebuilt whole once: `adopt_previous_mart`. -#}
{% macro incremental_build() %}
    {%- if not is_incremental() -%}
        {{ return(false) }}
    {%- endif -%}
    {%- if not execute -%}
        {{ return(true) }}
    {%- endif -%}
    {%- set names = adapter.get_columns_in_relation(this) | map(attribute='name') | list -%}
    {{ return('built_snapshot' in names) }}
{% endmacro %}


{#- Pre-hook of the incremental marts: a table of the previous design (no built_snapshot) gets
    the two stamp columns and is emptied (in the build's transaction: readers see the old rows
    until it commits), and the model then computes every day (incremental_build() is false). -#}
{% macro adopt_previous_mart() %}
    {%- if is_incremental() and not incremental_build() -%}
        alter table {{ this }} add column if not exists built_snapshot pg_snapshot,
                               add column if not exists built_at timestamptz;
        delete from {{ this }}
    {%- endif -%}
{% endmacro %}


{#- The snapshot of the most recent build of `relation` (default: this model) that left rows:
    the largest xmax (snapshots' xmax only grow, and each build writes, so no clock decides);
    null when the mart is empty. -#}
{% macro last_build_snapshot(relation=none) -%}
    (select lb.built_snapshot
     from {{ relation if relation is not none else this }} as lb
     where lb.built_snapshot is not null
     order by pg_snapshot_xmax(lb.built_snapshot) desc, lb.built_at desc
     limit 1)
{%- endmacro %}


{#- Whether transaction `xid` (an xid8) is one `snapshot` did not see. -#}
{% macro moved_since(xid, snapshot) -%}
    ({{ xid }} >= pg_snapshot_xmin({{ snapshot }}) and not pg_visible_in_snapshot({{ xid }}, {{ snapshot }}))
{%- endmacro %}


{#- The days (column date_key; grain='month': months, column month_key = yyyymm) this
    incremental model must rebuild: the query of one CTE.
      * the days of the rows of `rollups` moved by a transaction the last build did not see (an
        index scan on updated_xid);
      * every day of the rollups when the mart is empty (never built, or nothing to show);
      * the days the mart shows (`mart_day`, over its row `m`, where `active` holds) that no
        rollup holds any more (the daemon rebuilt the rollups from facts that lost them): one
        probe of each rollup's primary key (date_key first) per mart row;
      * the days of the mart rows where `stale` holds (a name from a type 1 dimension changed).
    The model adds anything else its rows depend on (daily_sales: the zero-filled days), and
    reads only those days: `date_key = any(array(select date_key from days_to_build))`, an index
    scan (a plain `in (select ...)` may be planned as a scan of the whole table). -#}
{% macro days_moved_since_last_build(rollups, grain='day', mart_day='m.date_key', active='true', stale='false') %}
    {%- set snapshot = '(select prev.snapshot from prev)' -%}
    {%- set column = 'date_key' if grain == 'day' else 'month_key' -%}
    {%- set key = 'r.date_key' if grain == 'day' else 'r.date_key / 100' -%}
    with prev as (
        select {{ last_build_snapshot() }} as snapshot
    )
    {%- for rollup in rollups %}
    select distinct {{ key }} as {{ column }}
    from {{ source('star', rollup) }} as r
    where {{ moved_since('r.updated_xid', snapshot) }}
    union
    select distinct {{ key }}
    from {{ source('star', rollup) }} as r
    where {{ snapshot }} is null
    union
    {%- endfor %}
    select distinct {{ mart_day }}
    from {{ this }} as m
    where (({{ active }})
           {%- for rollup in rollups %}
           and (select 1 from {{ source('star', rollup) }} as r
                where {% if grain == 'day' %}r.date_key = {{ mart_day }}{% else %}r.date_key between {{ mart_day }} * 100 and {{ mart_day }} * 100 + 99{% endif %}
                limit 1) is null
           {%- endfor %})
       or ({{ stale }})
{% endmacro %}


{#- One tombstone per key of the CTE `keys` (column `key_column`): a row of this mart with only
    that key set (built_at null). Appended to an incremental model's rows so that dbt's
    delete+insert deletes every rebuilt day, even one left with no rows. -#}
{% macro tombstones(keys, key_column) -%}
    select t.*
    from {{ keys }} as k
    cross join lateral jsonb_populate_record(null::{{ this }}, jsonb_build_object('{{ key_column }}', k.{{ key_column }})) as t
{%- endmacro %}


{#- Post-hook of the incremental marts: remove the tombstones (same transaction as the insert). -#}
{% macro drop_tombstones() -%}
    delete from {{ this }} where built_at is null
{%- endmacro %}
