-- pgbench script: the same order transaction as POST /orders/new, in SQL only.
-- Variables (pgbench -D): customers, stores, products = counts of customers, stores with an
-- active employee, and active products. Two distinct products, quantities 1 and 1-2.
\set c random(0, :customers - 1)
\set s random(0, :stores - 1)
\set k1 random(0, :products - 1)
\set k2 (:k1 + random(1, :products - 1)) % :products
\set q2 random(1, 2)
select (select id from customers order by id offset :c limit 1) as customer,
       e.store_id as store, e.id as employee
from employees e
where e.active and e.store_id = (select distinct store_id from employees where active order by 1 offset :s limit 1)
order by random() limit 1 \gset
with lines as (
    select p.id as product_id, l.quantity, p.price
    from (values ((select id from products where active order by id offset :k1 limit 1), 1),
                 ((select id from products where active order by id offset :k2 limit 1), :q2)) as l (product_id, quantity)
    join products p on p.id = l.product_id
), o as (
    insert into orders (customer_id, employee_id, store_id, status, order_time, total)
    select :customer, :employee, :store, 'placed', now(), sum(quantity * price) from lines
    returning id, total
), items as (
    insert into order_items (order_id, product_id, quantity, price)
    select o.id, l.product_id, l.quantity, l.price from o, lines l order by l.product_id
), pay as (
    insert into payments (order_id, amount, method) select o.id, o.total, 'card' from o
), moves as (
    insert into inventory_movements (product_id, store_id, order_id, quantity, reason)
    select l.product_id, :store, o.id, -l.quantity, 'sale' from o, lines l order by l.product_id
), stock as (
    insert into inventory (product_id, store_id, on_hand)
    select l.product_id, :store, -l.quantity from lines l order by l.product_id
    on conflict (product_id, store_id)
    do update set on_hand = inventory.on_hand + excluded.on_hand, updated_at = now()
)
select id from o;
