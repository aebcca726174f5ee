-- Synthetic coffee_olap content for validating the readers (dbt marts, Metabase cards).
-- Apply AFTER migrations/olap/V1__star_schema.sql on a throwaway database:
--   psql -v ON_ERROR_STOP=1 -d coffee_olap -f scripts/readers/synthetic_warehouse.sql
-- Deterministic (setseed) and relative to now(), so the last-hour freshness card, the 7-day
-- forecast and the RFM recency always have data. It deliberately contains the awkward cases the
-- readers must handle:
-- * duplicate customer and product names with different ids (cards must group by key);
-- * a product with two type 2 versions (renamed and repriced) and an inferred product;
-- * every order status, and soft-deleted orders / lines / payments (must be excluded);
-- * refunds as negative payments; an inventory row for a product that never sold.
-- Re-runnable: it empties the facts and the non-unknown dimension members first.

begin;
select setseed(0.42);

delete from fact_sales;
delete from fact_orders;
delete from fact_payments;
delete from fact_inventory;
delete from cdc_dead_letter;
delete from dim_store where store_key <> 0;
delete from dim_customer where customer_key <> 0;
delete from dim_employee where employee_key <> 0;
delete from dim_product where product_key <> 0;

-- Stores (store_key = store_id + 10 so keys and ids differ on purpose).
insert into dim_store (store_key, store_id, name, city, changed_at, src_id) values
    (11, 1, 'Downtown', 'Lisbon', now() - interval '90 days', 1),
    (12, 2, 'Harbour', 'Porto', now() - interval '90 days', 2),
    (13, 3, 'Campus', 'Coimbra', now() - interval '90 days', 3);

-- Customers: 40, with repeated names ("Carlos Chen" x3, "Ana Silva" x2), one inferred.
insert into dim_customer (customer_key, customer_id, name, email, is_inferred, changed_at, src_id)
select 100 + i, i,
       case when i in (1, 7, 23) then 'Carlos Chen'
            when i in (2, 30) then 'Ana Silva'
            else (array['Maria', 'João', 'Pedro', 'Inês', 'Rui', 'Sofia', 'Tiago', 'Beatriz'])[1 + i % 8]
                 || ' ' || (array['Costa', 'Santos', 'Ferreira', 'Pereira', 'Oliveira'])[1 + i % 5] || ' ' || i
       end,
       'customer' || i || '@example.com', false, now() - interval '90 days', 100 + i
from generate_series(1, 40) as i;
update dim_customer set name = null, email = null, is_inferred = true where customer_id = 40;

-- Employees: 2 per store; employee 6 soft-deleted in the source (its facts still count).
insert into dim_employee (employee_key, employee_id, store_id, name, role, active, is_deleted, changed_at, src_id)
select 200 + i, i, 1 + (i - 1) / 2,
       (array['Alice', 'Bob', 'Carla', 'Duarte', 'Eva', 'Filipe'])[i],
       case when i % 2 = 1 then 'barista' else 'manager' end,
       i <> 6, i = 6, now() - interval '90 days', 200 + i
from generate_series(1, 6) as i;

-- Products: 10 current versions; product 1 renamed and repriced 20 days ago (two versions);
-- products 4 and 5 share the name "Small Cortado"; product 10 is inferred (no name yet).
insert into dim_product (product_key, product_id, name, category, price, active, valid_from, valid_to, is_current,
                         changed_at, src_id)
values
    (301, 1, 'Espresso', 'coffee', 2.00, true, '-infinity', now() - interval '20 days', false, now() - interval '20 days', 301),
    (311, 1, 'Espresso Doppio', 'coffee', 2.50, true, now() - interval '20 days', 'infinity', true, now() - interval '20 days', 311),
    (302, 2, 'Americano', 'coffee', 3.50, true, '-infinity', 'infinity', true, now() - interval '90 days', 302),
    (303, 3, 'Cappuccino', 'coffee', 4.00, true, '-infinity', 'infinity', true, now() - interval '90 days', 303),
    (304, 4, 'Small Cortado', 'coffee', 3.20, true, '-infinity', 'infinity', true, now() - interval '90 days', 304),
    (305, 5, 'Small Cortado', 'coffee', 3.40, true, '-infinity', 'infinity', true, now() - interval '90 days', 305),
    (306, 6, 'Muffin', 'bakery', 2.75, true, '-infinity', 'infinity', true, now() - interval '90 days', 306),
    (307, 7, 'Croissant', 'bakery', 2.40, true, '-infinity', 'infinity', true, now() - interval '90 days', 307),
    (308, 8, 'Iced Latte', 'cold drinks', 4.50, true, '-infinity', 'infinity', true, now() - interval '90 days', 308),
    (309, 9, 'Chai Latte', 'tea', 4.20, false, '-infinity', 'infinity', true, now() - interval '90 days', 309);
insert into dim_product (product_key, product_id, is_inferred, changed_at, src_id)
values (310, 10, true, '-infinity', 0);

-- Orders: 420 over the last 60 days, times skewed to a morning and a lunch peak, ~40 in the
-- last hour (for the freshness card). Status mix: 75% served, 8% placed, 9% cancelled, 8% refunded.
create temp table syn_orders on commit drop as
with raw as (
    select i,
           case when i <= 40 then now() - random() * interval '55 minutes'
                else date_trunc('day', now() - (1 + floor(random() * 60)) * interval '1 day')
                     + (case when random() < 0.45 then 7 + random() * 3
                             when random() < 0.6 then 12 + random() * 2
                             else 6 + random() * 14 end) * interval '1 hour'
           end as order_time,
           random() as r_status, random() as r_store, random() as r_cust, random() as r_del
    from generate_series(1, 420) as i
)
select i as order_id,
       order_time,
       1 + floor(r_store * 3)::int as store_id,
       1 + floor(r_cust * r_cust * 40)::int as customer_id,
       case when r_status < 0.75 then 'served' when r_status < 0.83 then 'placed'
            when r_status < 0.92 then 'cancelled' else 'refunded' end as status,
       r_del < 0.02 as is_deleted
from raw;
-- A few orders with an unknown time/date member (time_key -1, date_key 0) are not generated:
-- the daemon always has order_time. Orders still get an employee of their store.

create temp table syn_items on commit drop as
select o.order_id * 10 + n as order_item_id, o.order_id,
       (array[1, 2, 3, 4, 5, 6, 7, 8, 10])[1 + floor(random() * 9)::int] as product_id,
       1 + floor(random() * random() * 4)::int as quantity,
       random() < 0.02 as is_deleted
from syn_orders o, lateral generate_series(1, 1 + (o.order_id % 3)) as n;

insert into fact_orders (order_id, customer_id, employee_id, store_id, date_key, time_key, store_key, customer_key,
                         employee_key, order_time, status, total, is_deleted, changed_at, src_id, loaded_at)
select o.order_id, o.customer_id, e.employee_id, o.store_id,
       to_char(o.order_time at time zone 'UTC', 'YYYYMMDD')::int,
       extract(hour from o.order_time at time zone 'UTC')::int * 60 + extract(minute from o.order_time at time zone 'UTC')::int,
       s.store_key, c.customer_key, e.employee_key, o.order_time, o.status, 0, o.is_deleted,
       o.order_time, o.order_id, o.order_time + (0.05 + random() * random() * 3) * interval '1 second'
from syn_orders o
join dim_store s on s.store_id = o.store_id
join dim_customer c on c.customer_id = o.customer_id
join dim_employee e on e.employee_id = (o.store_id - 1) * 2 + 1 + o.order_id % 2;

insert into fact_sales (order_item_id, order_id, product_id, date_key, time_key, store_key, customer_key, employee_key,
                        product_key, quantity, unit_price, line_total, order_status, order_time, is_deleted,
                        changed_at, src_id, loaded_at)
select i.order_item_id, i.order_id, i.product_id, fo.date_key, fo.time_key, fo.store_key, fo.customer_key,
       fo.employee_key, p.product_key, i.quantity, coalesce(p.price, 3.00), i.quantity * coalesce(p.price, 3.00),
       fo.status, fo.order_time, i.is_deleted or fo.is_deleted, fo.changed_at, 1000 + i.order_item_id,
       fo.changed_at + (0.05 + random() * random() * 4) * interval '1 second'
from syn_items i
join fact_orders fo on fo.order_id = i.order_id
join dim_product p on p.product_id = i.product_id and fo.order_time >= p.valid_from and fo.order_time < p.valid_to;

update fact_orders fo set total = coalesce(t.total, 0)
from (select order_id, sum(line_total) as total from fact_sales where not is_deleted group by order_id) t
where t.order_id = fo.order_id;

-- Payments: served and refunded orders are paid; refunded ones get a negative refund too.
insert into fact_payments (payment_id, order_id, date_key, time_key, store_key, customer_key, amount, method, paid_at,
                           is_deleted, changed_at, src_id, loaded_at)
select fo.order_id * 2, fo.order_id, fo.date_key, fo.time_key, fo.store_key, fo.customer_key, fo.total,
       (array['cash', 'card', 'mobile'])[1 + fo.order_id % 3], fo.order_time, fo.is_deleted or fo.order_id % 97 = 0,
       fo.changed_at, 5000 + fo.order_id, fo.loaded_at
from fact_orders fo
where fo.status in ('served', 'refunded') and fo.total > 0;
insert into fact_payments (payment_id, order_id, date_key, time_key, store_key, customer_key, amount, method, paid_at,
                           is_deleted, changed_at, src_id, loaded_at)
select fo.order_id * 2 + 1, fo.order_id, fo.date_key, fo.time_key, fo.store_key, fo.customer_key, -fo.total,
       (array['cash', 'card', 'mobile'])[1 + fo.order_id % 3], fo.order_time + interval '2 hours', fo.is_deleted,
       fo.changed_at + interval '2 hours', 9000 + fo.order_id, fo.loaded_at + interval '2 hours'
from fact_orders fo
where fo.status = 'refunded' and fo.total > 0 and fo.order_time < now() - interval '3 hours';

-- Inventory: sales of served/refunded lines per product x store x day, plus a daily restock and
-- some waste; product 9 only restocked (never sold).
insert into fact_inventory (date_key, store_id, product_id, store_key, product_key, units_received, units_sold,
                            units_wasted, units_adjusted, net_units, on_hand, on_hand_at)
select d.date_key, d.store_id, d.product_id, d.store_key, d.product_key, d.received, d.sold, d.wasted, 0,
       d.received - d.sold - d.wasted, 100 + d.received - d.sold - d.wasted, now()
from (
    select fs.date_key, s.store_id, fs.product_id, fs.store_key, max(fs.product_key) as product_key,
           20 as received, sum(fs.quantity)::int as sold, (fs.product_id % 3) as wasted
    from fact_sales fs join dim_store s using (store_key)
    where not fs.is_deleted and fs.order_status in ('served', 'refunded')
    group by fs.date_key, s.store_id, fs.product_id, fs.store_key
) d;
insert into fact_inventory (date_key, store_id, product_id, store_key, product_key, units_received, net_units, on_hand,
                            on_hand_at)
select to_char(now() at time zone 'UTC' - interval '1 day', 'YYYYMMDD')::int, s.store_id, 9, s.store_key, 309, 12, 12, 12, now()
from dim_store s where s.store_key <> 0
on conflict do nothing;

-- One dead letter, as the daemon would write it.
insert into cdc_dead_letter (source_id, txid, table_name, op, row_id, after, changed_at, reason, error_kind)
values (424242, 1234, 'order_items', 'I', 999999, '{"id": 999999, "quantity": 0}', now() - interval '10 minutes',
        'quantity must be > 0', 'data');

update cdc_offset set applied_changes = (select count(*) from fact_sales) + (select count(*) from fact_orders),
                      batch_seq = 42, updated_at = now();
commit;

analyze;
select 'fact_orders' as t, count(*) from fact_orders
union all select 'fact_sales', count(*) from fact_sales
union all select 'fact_payments', count(*) from fact_payments
union all select 'fact_inventory', count(*) from fact_inventory;
