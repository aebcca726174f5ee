-- Data the adoption cannot carry into our schema. One row per problem:
--   (table_name, column_name, problem, row_ids: up to 20 offending ids, rows: how many).
-- No row = adoptable. Runs on the original schema (public.*). adopt.sql runs it and refuses,
-- changing nothing, if it returns any row; it can also be run alone as a dry run.
with items as (select * from public.order_items),
dup_emails as (
    select c.id, c.email,
           case when row_number() over (partition by c.email order by c.id) = 1 then c.email
                when strpos(c.email, '@') > 0 then regexp_replace(c.email, '@([^@]*)$', '+dup' || c.id || '@\1')
                else c.email || '+dup' || c.id end as adopted_email
    from public.customers c
),
totals as (
    select i.order_id, sum(i.quantity * i.price) as total from items i where i.order_id is not null group by i.order_id
),
problems (table_name, column_name, problem, id) as (
    select 'order_items', 'quantity', 'quantity <= 0 (ours requires quantity > 0)', i.id from items i where i.quantity <= 0
    union all
    select 'order_items', 'order_id', 'null order_id (a line of no order)', i.id from items i where i.order_id is null
    union all
    select 'order_items', 'product_id', 'null product_id (a line of no product)', i.id from items i where i.product_id is null
    union all
    select 'order_items', 'price', 'price < 0 (ours requires price >= 0)', i.id from items i where i.price < 0
    union all
    select 'order_items', 'price', 'price has more than 2 decimals (numeric(10,2) would round it)', i.id
    from items i where i.price <> round(i.price, 2)
    union all
    select 'order_items', 'price', 'price >= 100000000 (does not fit numeric(10,2))', i.id from items i where i.price >= 1e8
    union all
    select 'products', 'price', 'price <= 0 (ours requires price > 0)', p.id from public.products p where p.price <= 0
    union all
    select 'products', 'price', 'price has more than 2 decimals (numeric(10,2) would round it)', p.id
    from public.products p where p.price <> round(p.price, 2)
    union all
    select 'products', 'price', 'price >= 100000000 (does not fit numeric(10,2))', p.id from public.products p where p.price >= 1e8
    union all
    select 'orders', 'total', 'sum of quantity * price of its lines does not fit numeric(12,2) (>= 10000000000 or < 0)', t.order_id
    from totals t where t.total >= 1e10 or t.total < 0
    union all
    select 'customers', 'email', 'the adopted e-mail (duplicates get +dup<id>) is still not unique', d.id
    from dup_emails d
    where d.adopted_email in (select adopted_email from dup_emails group by adopted_email having count(*) > 1)
       or (d.adopted_email = 'unknown-customer@brewlytics.invalid'
           and exists (select from public.orders o where o.customer_id is null))
)
select table_name, column_name, problem, (array_agg(id order by id))[1:20] as row_ids, count(*) as rows
from problems
group by table_name, column_name, problem
order by table_name, column_name, problem;
