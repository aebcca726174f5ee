-- One row per product_id (all type 2 versions together), from rollup_sales (served lines, all
-- days), with the name and category of its current version. Products without a served sale are
-- listed with zeros. `orders` counts served lines of the product (the rollup does not hold order
-- ids: equal to the orders containing it unless an order has two lines of it); first_sold_at and
-- last_sold_at are the start (00:00 UTC) of the first and last day with a served sale.
with sales as (
    select
        product_id,
        sum(quantity) as units_sold,
        sum(revenue) as revenue,
        sum(lines) as orders,
        min(date_key) filter (where date_key <> 0) as first_key,
        max(date_key) filter (where date_key <> 0) as last_key
    from {{ source('star', 'rollup_sales') }}
    where order_status = 'served'
      and lines > 0
    group by product_id
),

products as (
    select * from {{ ref('stg_products_current') }}
),

ids as (
    select product_id from sales
    union
    select product_id from products
),

totals as (
    select nullif(sum(revenue), 0) as all_revenue from sales
)

select
    ids.product_id,
    coalesce(p.name, 'Product #' || ids.product_id) as product_name,
    coalesce(p.category, 'unknown') as category,
    p.price as current_price,
    coalesce(p.active, false) and not coalesce(p.is_deleted, false) as is_active,
    coalesce(p.is_inferred, p.product_id is null) as is_inferred,
    coalesce(s.units_sold, 0)::bigint as units_sold,
    coalesce(s.revenue, 0)::numeric(14, 2) as revenue,
    coalesce(s.orders, 0)::bigint as orders,
    round(s.revenue / nullif(s.units_sold, 0), 2) as avg_unit_price,
    round(100 * coalesce(s.revenue, 0) / t.all_revenue, 2) as revenue_share_pct,
    rank() over (order by coalesce(s.revenue, 0) desc) as revenue_rank,
    (fd.date::timestamp at time zone 'UTC') as first_sold_at,
    (ld.date::timestamp at time zone 'UTC') as last_sold_at,
    {{ build_stamp() }}
from ids
left join products as p on p.product_id = ids.product_id
left join sales as s on s.product_id = ids.product_id
left join {{ source('star', 'dim_date') }} as fd on fd.date_key = s.first_key
left join {{ source('star', 'dim_date') }} as ld on ld.date_key = s.last_key
cross join totals as t
