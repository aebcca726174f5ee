-- One row per product_id (the natural key: all type 2 versions of a product together), with the
-- name and category of its current version. Products without a served sale are listed with zeros.
with sales as (
    select
        product_id,
        sum(quantity) as units_sold,
        sum(line_total) as revenue,
        count(distinct order_id) as orders,
        min(order_time) as first_sold_at,
        max(order_time) as last_sold_at
    from {{ ref('stg_sales') }}
    where order_status = 'served'
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
    s.first_sold_at,
    s.last_sold_at
from ids
left join products as p on p.product_id = ids.product_id
left join sales as s on s.product_id = ids.product_id
cross join totals as t
