-- ---------------------------------------------------------------------------------------------
-- Adoption step 4/5 (after our V1 created the business tables): copy every row, with its id.
-- ---------------------------------------------------------------------------------------------
-- Our V2 (capture triggers) has not run yet, so nothing here writes to our cdc_orders: the
-- daemon's initial snapshot loads the adopted rows into the warehouse.
--
-- Settings the caller may pass with `set local` (defaults in brackets):
--   brewlytics.adopt_store_name ['Main store'], brewlytics.adopt_store_city ['Unknown'].

-- Bulk-load practice (as pg_restore does): the foreign keys our V1 just created are dropped for
-- the copy and re-added, under the same names and definitions, once the rows are in: one
-- validating join per key instead of a lookup per row (3x faster on 1M order lines).
create temp table adopt_fks on commit drop as
select c.conrelid::regclass::text as tbl, c.conname::text as conname, pg_get_constraintdef(c.oid) as def
from pg_constraint c
where c.contype = 'f' and c.connamespace = 'public'::regnamespace;
do $dropfk$
declare r record;
begin
    for r in select * from adopt_fks order by tbl, conname loop
        execute format('alter table %s drop constraint %I', r.tbl, r.conname);
    end loop;
end
$dropfk$;

-- The default store: every adopted order and employee belongs to it. It opened with the first order.
insert into stores (name, city, opened_at)
select coalesce(nullif(current_setting('brewlytics.adopt_store_name', true), ''), 'Main store'),
       coalesce(nullif(current_setting('brewlytics.adopt_store_city', true), ''), 'Unknown'),
       coalesce((select min(order_time) from brewlytics_adopt.orders), now());

-- Customers. e-mail is unique in ours: the first customer (lowest id) of an address keeps it,
-- each later one gets '+dup<id>' before the last '@' (deterministic, still deliverable with
-- plus addressing); every change is recorded in brewlytics_legacy.customer_email_changes.
-- created_at: the customer's first order (the best bound the original knows), else now().
create table brewlytics_legacy.customer_email_changes (
    customer_id    integer primary key,
    original_email text not null,
    adopted_email  text not null
);
insert into brewlytics_legacy.customer_email_changes (customer_id, original_email, adopted_email)
select id, email, case when strpos(email, '@') > 0 then regexp_replace(email, '@([^@]*)$', '+dup' || id || '@\1')
                       else email || '+dup' || id end
from (select c.id, c.email, row_number() over (partition by c.email order by c.id) as rn
      from brewlytics_adopt.customers c) d
where rn > 1
order by id;

insert into customers (id, name, email, created_at)
select c.id, c.name, coalesce(x.adopted_email, c.email), coalesce(f.first_order, now())
from brewlytics_adopt.customers c
left join brewlytics_legacy.customer_email_changes x on x.customer_id = c.id
left join (select o.customer_id, min(o.order_time) as first_order
           from brewlytics_adopt.orders o group by o.customer_id) f on f.customer_id = c.id
order by c.id;

-- Ids continue after the highest id the original ever handed out (its sequence), so no new row
-- reuses an id that appears in legacy_cdc_orders (rows wiped by the original's dbt reseed).
select setval(pg_get_serial_sequence('customers', 'id'), greatest(
           (select max(id) from customers),
           (select case when is_called then last_value end from brewlytics_adopt.customers_id_seq)))
where greatest((select max(id) from customers),
               (select case when is_called then last_value end from brewlytics_adopt.customers_id_seq)) is not null;

-- Orders without a customer (nullable in the original, NOT NULL in ours) go to one 'Unknown
-- customer', created only when needed, with a reserved .invalid address.
insert into customers (name, email, created_at)
select 'Unknown customer', 'unknown-customer@brewlytics.invalid', min(o.order_time)
from brewlytics_adopt.orders o
where o.customer_id is null
having count(*) > 0;

-- Products: category is the column default ('coffee'), prices become numeric(10,2) (the
-- preflight refused any value that would change), all on sale.
insert into products (id, name, category, price, active)
select p.id, p.name, 'coffee', p.price::numeric(10,2), true
from brewlytics_adopt.products p
order by p.id;

-- Employees: all in the default store, role 'barista' (the default); active NULL (possible in the
-- original: V4 added the column nullable) becomes false, as the original API treated it
-- (`WHERE active = true` did not list them).
insert into employees (id, store_id, name, role, active)
select e.id, (select min(id) from stores), e.name, 'barista', coalesce(e.active, false)
from brewlytics_adopt.employees e
order by e.id;

-- Orders: historical orders are 'served' (they were sales rung up at the till), in the default
-- store, total = sum of quantity * price of their lines (0 with no lines), employee kept
-- (NULL allowed in ours too), customer NULL -> the unknown customer.
-- (Aggregates are joined, never correlated: the original has no index on any FK column.)
insert into orders (id, customer_id, employee_id, store_id, status, order_time, total)
select o.id,
       coalesce(o.customer_id, (select id from customers where email = 'unknown-customer@brewlytics.invalid')),
       o.employee_id,
       (select min(id) from stores),
       'served',
       o.order_time,
       coalesce(t.total, 0)
from brewlytics_adopt.orders o
left join (select i.order_id, sum(i.quantity * i.price) as total
           from brewlytics_adopt.order_items i group by i.order_id) t on t.order_id = o.id
order by o.id;

-- Order lines, unchanged (the preflight refused quantities <= 0, NULL keys and prices that do not fit).
insert into order_items (id, order_id, product_id, quantity, price)
select i.id, i.order_id, i.product_id, i.quantity, i.price::numeric(10,2)
from brewlytics_adopt.order_items i
order by i.id;

-- The stock movements our API writes with every order: one 'sale' per order and product, at the
-- order time, in the order's store. fact_inventory (units_sold) is built from them.
insert into inventory_movements (product_id, store_id, order_id, quantity, reason, moved_at)
select i.product_id, o.store_id, o.id, -sum(i.quantity)::int, 'sale', o.order_time
from order_items i
join orders o on o.id = i.order_id
group by o.id, o.store_id, o.order_time, i.product_id
order by o.id, i.product_id;

-- No payments (the original recorded none, and inventing a method would be a lie) and no
-- inventory rows (the stock on hand is unknown: a restock or `brewlytics seed` opens it).

-- Sequences past every existing id (and past the original's own sequence values).
-- (customers_id_seq was set before the unknown customer was added.)
select setval(pg_get_serial_sequence(t.tbl, 'id'), greatest(t.max_id, t.old_last))
from (
    select 'products' as tbl, (select max(id) from products) as max_id,
           (select case when is_called then last_value end from brewlytics_adopt.products_id_seq) as old_last
    union all
    select 'employees', (select max(id) from employees),
           (select case when is_called then last_value end from brewlytics_adopt.employees_id_seq)
    union all
    select 'orders', (select max(id) from orders),
           (select case when is_called then last_value end from brewlytics_adopt.orders_id_seq)
    union all
    select 'order_items', (select max(id) from order_items),
           (select case when is_called then last_value end from brewlytics_adopt.order_items_id_seq)
    union all
    select 'stores', (select max(id) from stores), null
    union all
    select 'inventory_movements', (select max(id) from inventory_movements), null
) t
where greatest(t.max_id, t.old_last) is not null;

-- The foreign keys again (validated now, against every copied row).
do $addfk$
declare r record;
begin
    for r in select * from adopt_fks order by tbl, conname loop
        execute format('alter table %s add constraint %I %s', r.tbl, r.conname, r.def);
    end loop;
end
$addfk$;
