-- Only the original's schema, exactly, is adopted; anything else is refused with every
-- difference named, before anything is touched.
do $kind$
declare
    k text := (select kind from adopt_detect limit 1);
    detail text;
begin
    if k = 'ours' then
        raise exception 'adoption refused: refinery_schema_history exists, this database is already ours'
            using errcode = 'object_not_in_prerequisite_state';
    elsif k = 'empty' then
        raise exception 'adoption refused: the database is empty, there is nothing to adopt'
            using errcode = 'object_not_in_prerequisite_state', hint = 'run our migrations instead';
    elsif k <> 'original' then
        select string_agg(concat_ws('.', table_name, column_name) || ': ' || problem, E'\n'
                          order by table_name, column_name, problem)
          into detail from adopt_detect;
        raise exception 'adoption refused: this is not the original Brewlytics schema (Flyway V1-V5); % difference(s)',
                        (select count(*) from adopt_detect)
            using errcode = 'object_not_in_prerequisite_state', detail = detail,
                  hint = 'remove or rename what is not the original''s, or migrate an empty database instead';
    end if;
end
$kind$;

-- Nothing may write the original tables while they are copied.
lock table public.customers, public.products, public.employees, public.orders, public.order_items,
           public.cdc_orders, public.cdc_offset, public.flyway_schema_history
    in access exclusive mode;
