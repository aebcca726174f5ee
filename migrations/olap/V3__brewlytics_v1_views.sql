-- Append-only: never edit a landed migration.
-- brewlytics_v1: the original Brewlytics warehouse (reference §3) as read-only views over OUR
-- star schema (migrations/olap/V1__star_schema.sql), so that the original's Metabase questions
-- (reference §8) run unchanged with `search_path = brewlytics_v1, public`.
--
-- Mapping (ours -> original):
--   dim_customer   customer_key -> id, customer_id, name, email           (every row, key 0 = unknown)
--   dim_employee   employee_key -> id, employee_id, name                  (every row, key 0 = unknown)
--   dim_date       date_key (yyyymmdd) -> id, date                        (every row, key 0 = unknown)
--   dim_product    ONE row per product: the product_key of its current type 2 version -> id,
--                  product_id, current name and price (the original was type 1: one row per product,
--                  overwritten); plus the unknown member 0. Facts point at that key whatever version
--                  they were sold under, so grouping by dim_product.name shows each product under its
--                  current name, as the original did.
--   fact_sales     order_item_id -> id, date_key -> date_id, customer_key -> customer_dim_id,
--                  current product key -> product_dim_id, employee_key -> employee_dim_id (0 when the
--                  order has no employee), quantity, unit_price -> price, line_total -> total,
--                  order_time. Only lines of SERVED orders that are not soft-deleted: the revenue our
--                  own dashboard, dbt marts and `verify` use. Adopted history is all 'served', so on it
--                  this is every original line, like the original's ETL.
--   fact_inventory one row per product and UTC day (summed over stores) with units sold there:
--                  quantity_sold = sum(units_sold) (the 'sale' stock movements, one per order line and
--                  product); id is synthetic (date_key * 10^10 + product_id), recorded_at = the last
--                  load time of the day's rows. Rows that sold nothing (restock only) are left out.
--   fact_payments  payment_id -> id, customer_key -> customer_dim_id, order_id, amount ->
--                  payment_amount (refunds are negative payments), method -> payment_method,
--                  date_key -> date_id, paid_at -> recorded_at. Soft-deleted payments left out.
-- The views are owned by the migration user and read the public tables with its rights, so
-- analytics_reader needs only the grants at the end.

create schema brewlytics_v1;
comment on schema brewlytics_v1 is
    'The original Brewlytics warehouse names (dim_*.id, fact_sales.total, ...) as views over the star schema in public. Read-only.';

-- The key each product_id is presented under: its current version (the latest one if, against the
-- rules, none is current). One definition, used by dim_product and the facts alike.
create view brewlytics_v1.product_keys as
select distinct on (d.product_id) d.product_id, d.product_key
from public.dim_product d
where d.product_id is not null
order by d.product_id, d.is_current desc, d.valid_from desc, d.product_key desc;
comment on view brewlytics_v1.product_keys is 'product_id -> the product_key brewlytics_v1 presents it under (current version).';

create view brewlytics_v1.dim_customer as
select c.customer_key as id, c.customer_id, c.name, c.email
from public.dim_customer c;

create view brewlytics_v1.dim_employee as
select e.employee_key as id, e.employee_id, e.name
from public.dim_employee e;

create view brewlytics_v1.dim_date as
select d.date_key as id, d.date
from public.dim_date d;

create view brewlytics_v1.dim_product as
select d.product_key as id, d.product_id, d.name, d.price
from public.dim_product d
where d.product_key = 0
   or d.product_key in (select k.product_key from brewlytics_v1.product_keys k);

create view brewlytics_v1.fact_sales as
select s.order_item_id as id,
       s.date_key as date_id,
       s.customer_key as customer_dim_id,
       coalesce(k.product_key, 0) as product_dim_id,
       s.employee_key as employee_dim_id,
       s.quantity,
       s.unit_price as price,
       s.line_total as total,
       s.order_time
from public.fact_sales s
left join brewlytics_v1.product_keys k on k.product_id = s.product_id
where not s.is_deleted
  and s.order_status = 'served';

create view brewlytics_v1.fact_inventory as
select i.date_key::bigint * 10000000000 + i.product_id as id,
       coalesce(k.product_key, 0) as product_dim_id,
       i.quantity_sold::integer as quantity_sold,
       i.date_key as date_id,
       i.recorded_at
from (select f.date_key, f.product_id, sum(f.units_sold) as quantity_sold, max(f.loaded_at) as recorded_at
      from public.fact_inventory f
      group by f.date_key, f.product_id
      having sum(f.units_sold) <> 0) i
left join brewlytics_v1.product_keys k on k.product_id = i.product_id;

create view brewlytics_v1.fact_payments as
select p.payment_id as id,
       p.customer_key as customer_dim_id,
       p.order_id,
       p.amount as payment_amount,
       p.method as payment_method,
       p.date_key as date_id,
       coalesce(p.paid_at, p.loaded_at) as recorded_at
from public.fact_payments p
where not p.is_deleted;

-- Grants to analytics_reader are in `brewlytics roles` (src/db/roles.rs): the role may not exist yet.
