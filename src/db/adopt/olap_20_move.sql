do $kind$
declare
    k text := (select kind from adopt_detect limit 1);
    detail text;
begin
    if k <> 'original' then
        select string_agg(concat_ws('.', table_name, column_name) || ': ' || problem, E'\n'
                          order by table_name, column_name, problem)
          into detail from adopt_detect where problem is not null;
        raise exception 'warehouse adoption refused: coffee_olap is % (not the original Brewlytics warehouse)', k
            using errcode = 'object_not_in_prerequisite_state', detail = coalesce(detail, '');
    end if;
end
$kind$;

create schema brewlytics_legacy;
comment on schema brewlytics_legacy is
    'The original Brewlytics warehouse (Flyway olap V1), moved aside by brewlytics migrate. Read-only history; nothing reads it.';

do $move$
declare
    t text;
begin
    foreach t in array array['fact_sales', 'fact_inventory', 'fact_payments', 'dim_customer', 'dim_product',
                             'dim_employee', 'dim_date', 'flyway_schema_history'] loop
        if to_regclass('public.' || t) is not null then
            execute format('lock table public.%I in access exclusive mode', t);
            -- serial sequences, indexes and constraints move with their table
            execute format('alter table public.%I set schema brewlytics_legacy', t);
        end if;
    end loop;
end
$move$;
