-- The comparison shared by detect_oltp.sql and detect_olap.sql, appended to either (one query).
-- Each of those opens the WITH list with what the original's database holds: expected_columns,
-- expected_sequences, expected_triggers, expected_functions, optional_tables, expected_versions
-- (Flyway) and created_schemas (the schemas the adoption creates). This part reads the catalog
-- and returns rows (kind, table_name, column_name, problem), as the files' headers describe.
expected_tables as (select distinct table_name from expected_columns),
ext_members as (
    select objid, classid from pg_depend where deptype = 'e'
),
rels as (
    select c.oid, c.relname::text as relname, c.relkind
    from pg_class c
    where c.relnamespace = 'public'::regnamespace
      and c.relkind in ('r', 'p', 'v', 'm', 'f', 'S', 'c')
      and not exists (select from ext_members e where e.classid = 'pg_class'::regclass and e.objid = c.oid)
),
funcs as (
    select p.oid, p.oid::regprocedure::text as signature
    from pg_proc p
    where p.pronamespace = 'public'::regnamespace
      and not exists (select from ext_members e where e.classid = 'pg_proc'::regclass and e.objid = p.oid)
),
types as (
    select t.typname::text as typname, t.typtype
    from pg_type t
    where t.typnamespace = 'public'::regnamespace and t.typtype in ('e', 'd', 'r', 'm')
      and not exists (select from ext_members e where e.classid = 'pg_type'::regclass and e.objid = t.oid)
),
actual_columns as (
    select r.relname as table_name, a.attname::text as column_name,
           format_type(a.atttypid, a.atttypmod) as data_type, a.attnotnull as not_null
    from rels r
    join pg_attribute a on a.attrelid = r.oid and a.attnum > 0 and not a.attisdropped
    where r.relkind in ('r', 'p')
),
flyway as (
    -- Flyway's rows, read only when the table exists: a plain FROM would fail to plan without it,
    -- so the read goes through query_to_xml() (core PostgreSQL, evaluated only in that case).
    select x.version, x.description, coalesce(x.success, false) as success
    from (select case when to_regclass('public.flyway_schema_history') is not null
                      then query_to_xml('select version, description, success from public.flyway_schema_history',
                                        false, false, '') end as doc) d,
         xmltable('/table/row' passing d.doc
                  columns version text path 'version', description text path 'description', success boolean path 'success') x
),
problems (table_name, column_name, problem) as (
    -- relations that are not the original's
    select r.relname, null::text,
           case r.relkind when 'v' then 'unknown view' when 'm' then 'unknown materialized view'
                          when 'f' then 'unknown foreign table' when 'c' then 'unknown composite type'
                          else 'unknown table' end
    from rels r
    where r.relkind in ('r', 'p', 'v', 'm', 'f', 'c')
      and r.relname not in (select table_name from expected_tables)
      and r.relname <> 'refinery_schema_history'
    union all
    select r.relname, null, 'unknown sequence'
    from rels r
    where r.relkind = 'S' and r.relname not in (select seq_name from expected_sequences)
      -- a sequence owned by a column is reported through its table or column
      and not exists (select from pg_depend d where d.classid = 'pg_class'::regclass and d.objid = r.oid
                                               and d.refclassid = 'pg_class'::regclass and d.deptype in ('a', 'i'))
    union all
    -- the original's relations: present, as tables
    select t.table_name, null, 'missing table'
    from expected_tables t
    where not exists (select from rels r where r.relname = t.table_name)
      and t.table_name not in (select table_name from optional_tables)
    union all
    select r.relname, null, format('is a %s, the original''s is a table',
                                   case r.relkind when 'v' then 'view' when 'm' then 'materialized view'
                                                  when 'f' then 'foreign table' when 'S' then 'sequence' else 'composite type' end)
    from rels r
    where r.relkind not in ('r', 'p') and r.relname in (select table_name from expected_tables)
    union all
    -- columns
    select c.table_name, c.column_name, format('unknown column (%s)', c.data_type)
    from actual_columns c
    where c.table_name in (select table_name from expected_tables)
      and c.table_name <> 'flyway_schema_history'
      and not exists (select from expected_columns e where e.table_name = c.table_name and e.column_name = c.column_name)
    union all
    select e.table_name, e.column_name, 'missing column'
    from expected_columns e
    where exists (select from rels r where r.relname = e.table_name and r.relkind in ('r', 'p'))
      and not exists (select from actual_columns c where c.table_name = e.table_name and c.column_name = e.column_name)
    union all
    select e.table_name, e.column_name, format('type is %s, the original''s is %s', c.data_type, e.data_type)
    from expected_columns e
    join actual_columns c using (table_name, column_name)
    where e.data_type is not null and c.data_type <> e.data_type
    union all
    select e.table_name, e.column_name, 'allows NULL, the original''s is NOT NULL'
    from expected_columns e
    join actual_columns c using (table_name, column_name)
    where e.not_null and not c.not_null
    union all
    -- id sequences: there, and owned by <table>.id (the adoption moves them with their table)
    select s.table_name, 'id', format('sequence %s is missing', s.seq_name)
    from expected_sequences s
    where exists (select from rels r where r.relname = s.table_name)
      and not exists (select from rels r where r.relname = s.seq_name and r.relkind = 'S')
    union all
    select s.table_name, 'id', format('sequence %s is not owned by %s.id', s.seq_name, s.table_name)
    from expected_sequences s
    join rels q on q.relname = s.seq_name and q.relkind = 'S'
    join rels t on t.relname = s.table_name and t.relkind in ('r', 'p')
    where not exists (select from pg_depend d
                      join pg_attribute a on a.attrelid = d.refobjid and a.attnum = d.refobjsubid
                      where d.classid = 'pg_class'::regclass and d.objid = q.oid
                        and d.refobjid = t.oid and a.attname = 'id' and d.deptype = 'a')
    union all
    -- triggers, functions and types of someone else
    select c.relname::text, null, format('unknown trigger %s', t.tgname)
    from pg_trigger t
    join pg_class c on c.oid = t.tgrelid
    where c.relnamespace = 'public'::regnamespace and not t.tgisinternal
      and (c.relname::text, t.tgname::text) not in (select table_name, trigger_name from expected_triggers)
    union all
    select f.signature, null, 'unknown function'
    from funcs f
    where f.signature not in (select function_name from expected_functions)
    union all
    select t.typname, null, format('unknown %s', case t.typtype when 'e' then 'enum type' when 'd' then 'domain'
                                                          else 'range type' end)
    from types t
    union all
    -- Flyway's history: the original's versions successful, nothing else
    select 'flyway_schema_history', 'version', format('version %s is not applied successfully', v.version)
    from expected_versions v
    where to_regclass('public.flyway_schema_history') is not null
      and not exists (select from flyway f where f.version = v.version and f.success)
    union all
    select 'flyway_schema_history', 'version',
           format('version %s (%s) is not one of the original''s migrations (%s)', f.version, f.description,
                  (select string_agg('V' || version, ', ' order by version) from expected_versions))
    from flyway f
    where f.version is not null and f.version not in (select version from expected_versions)
    union all
    select 'flyway_schema_history', 'success', format('version %s (%s) failed', f.version, f.description)
    from flyway f
    where not f.success
    union all
    -- objects in other schemas that use the original tables (the adoption replaces those tables)
    select t.relname, null, format('used by %s %s', case v.relkind when 'm' then 'materialized view' else 'view' end,
                                   v.oid::regclass)
    from rels t
    join pg_depend d on d.refclassid = 'pg_class'::regclass and d.refobjid = t.oid and d.classid = 'pg_rewrite'::regclass
    join pg_rewrite w on w.oid = d.objid
    join pg_class v on v.oid = w.ev_class
    where t.relname in (select table_name from expected_tables) and v.relnamespace <> 'public'::regnamespace
      and v.oid <> t.oid
    group by t.relname, v.oid, v.relkind
    union all
    select t.relname, null, format('referenced by foreign key %s of %s', c.conname, c.conrelid::regclass)
    from rels t
    join pg_constraint c on c.contype = 'f' and c.confrelid = t.oid
    where t.relname in (select table_name from expected_tables) and c.connamespace <> 'public'::regnamespace
    union all
    -- the schemas the adoption creates
    select n.nspname::text, null, 'schema exists (the adoption creates it)'
    from pg_namespace n
    where n.nspname in (select nspname from created_schemas)
),
kind as (
    select case
        when to_regclass('public.refinery_schema_history') is not null then 'ours'
        when not exists (select from rels) and not exists (select from funcs) and not exists (select from types) then 'empty'
        when not exists (select from problems) then 'original'
        else 'other'
    end as kind
)
select k.kind, p.table_name, p.column_name, p.problem
from kind k
left join problems p on k.kind = 'other'
order by p.table_name nulls first, p.column_name nulls first, p.problem;
