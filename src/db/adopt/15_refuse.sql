-- Refuse, naming every offending row, when the data cannot be carried over (see preflight.sql).
do $refuse$
declare
    n bigint;
    detail text;
begin
    select count(*), string_agg(format('%s.%s: %s; %s row(s), ids %s%s', table_name, column_name, problem, rows,
                                       array_to_string(row_ids, ', '), case when rows > 20 then ', …' else '' end),
                                E'\n' order by table_name, column_name, problem)
      into n, detail
      from adopt_problems;
    if n > 0 then
        raise exception 'the original database cannot be adopted: % problem(s) in its data; nothing was changed', n
            using errcode = 'check_violation',
                  detail = detail,
                  hint = 'correct or delete these rows in coffee_oltp (for example DELETE FROM order_items WHERE quantity <= 0) and run `brewlytics migrate` again';
    end if;
end
$refuse$;
