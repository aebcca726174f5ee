-- Served revenue per store and day (known dates only): the history the forecast reads.
select
    s.store_key,
    s.date_key,
    sum(s.line_total) as revenue,
    count(distinct s.order_id) as served_orders
from {{ ref('stg_sales') }} as s
where s.order_status = 'served'
  and s.date_key <> 0
group by s.store_key, s.date_key
