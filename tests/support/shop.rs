//! Writes a small coffee shop into OLTP the way the API does, in plain SQL.

use rand::RngExt;
use tokio_postgres::GenericClient;

/// Two stores, employees, customers and a menu; ids 1..=N.
pub(crate) const SHOP: &str = "
    insert into stores (name, city) values ('Harbour', 'Leith'), ('Castle', 'Old Town');
    insert into employees (store_id, name, role) values (1, 'Ana', 'barista'), (1, 'Ben', 'manager'), (2, 'Cy', 'barista');
    insert into customers (name, email) select 'Customer ' || g, 'c' || g || '@example.com' from generate_series(1, 20) g;
    insert into products (name, category, price) values
        ('Espresso', 'coffee', 2.50), ('Latte', 'coffee', 3.80), ('Flat White', 'coffee', 3.60),
        ('Croissant', 'bakery', 2.90), ('Muffin', 'bakery', 2.75), ('Chai', 'tea', 3.10);
    insert into inventory (product_id, store_id, on_hand) select p, s, 1000 from generate_series(1, 6) p, generate_series(1, 2) s;
";

/// Place one order with `lines` of (product, quantity), its payment, movements and stock update.
/// Runs in the caller's transaction if `c` is one.
pub(crate) async fn place_order<C: GenericClient>(c: &C, customer: i32, store: i32, lines: &[(i32, i32)]) -> i32 {
    try_place_order(c, customer, store, lines).await.expect("place an order")
}

/// [`place_order`], returning the error (a deadlock between concurrent writers, say).
pub(crate) async fn try_place_order<C: GenericClient>(
    c: &C,
    customer: i32,
    store: i32,
    lines: &[(i32, i32)],
) -> Result<i32, tokio_postgres::Error> {
    let employee = if store == 1 { 1 } else { 3 };
    let order_id: i32 = c
        .query_one(
            "insert into orders (customer_id, employee_id, store_id, total) values ($1, $2, $3, 0) returning id",
            &[&customer, &employee, &store],
        )
        .await?
        .get(0);
    let products: Vec<i32> = lines.iter().map(|l| l.0).collect();
    let quantities: Vec<i32> = lines.iter().map(|l| l.1).collect();
    c.execute(
        "with l as (select * from unnest($2::int4[], $3::int4[]) as l(product_id, quantity) order by product_id),
              i as (insert into order_items (order_id, product_id, quantity, price)
                    select $1, l.product_id, l.quantity, p.price from l join products p on p.id = l.product_id
                    returning quantity * price as amount),
              t as (update orders set total = (select sum(amount) from i) where id = $1 returning total)
         insert into payments (order_id, amount, method) select $1, total, 'card' from t",
        &[&order_id, &products, &quantities],
    )
    .await?;
    c.execute(
        "insert into inventory_movements (product_id, store_id, order_id, quantity, reason)
         select l.product_id, $2, $1, -l.quantity, 'sale' from unnest($3::int4[], $4::int4[]) as l(product_id, quantity)",
        &[&order_id, &store, &products, &quantities],
    )
    .await?;
    // Lock the stock rows in product order first, so concurrent orders rarely deadlock.
    c.execute(
        "select 1 from inventory where store_id = $1 and product_id = any($2) order by product_id for update",
        &[&store, &products],
    )
    .await?;
    c.execute(
        "update inventory i set on_hand = on_hand - l.q, updated_at = now()
         from (select product_id, sum(quantity) q from unnest($2::int4[], $3::int4[]) as l(product_id, quantity)
               group by product_id order by product_id) l
         where i.product_id = l.product_id and i.store_id = $1",
        &[&store, &products, &quantities],
    )
    .await?;
    Ok(order_id)
}

/// A random order of 1-3 lines.
pub(crate) async fn random_order<C: GenericClient>(c: &C) -> i32 {
    try_random_order(c).await.expect("place a random order")
}

/// [`random_order`], returning the error.
pub(crate) async fn try_random_order<C: GenericClient>(c: &C) -> Result<i32, tokio_postgres::Error> {
    let (customer, store, lines) = {
        let mut rng = rand::rng();
        let n = rng.random_range(1..=3);
        let lines: Vec<(i32, i32)> = (0..n).map(|_| (rng.random_range(1..=6), rng.random_range(1..=3))).collect();
        (rng.random_range(1..=20), rng.random_range(1..=2), lines)
    };
    try_place_order(c, customer, store, &lines).await
}

/// `orders` orders of four lines each, with their payments (a refund for cancelled ones), sale
/// movements and totals, written with capture bypassed (`session_replication_role = replica`): a
/// history that `cdc_orders` does not hold, as a database restored from a backup or older than
/// the capture has. Order times go back one minute per order.
pub(crate) const HISTORY: &str = "
    set session_replication_role = replica;
    create temp table h as
        select g, 1 + g % 20 as customer_id, 1 + g % 2 as store_id,
               (array['served', 'served', 'served', 'placed', 'cancelled'])[1 + g % 5] as status,
               now() - make_interval(mins => g::int) as order_time
        from generate_series(1, $ORDERS) g;
    insert into orders (customer_id, employee_id, store_id, status, order_time, total)
        select customer_id, case when store_id = 1 then 1 else 3 end, store_id, status, order_time, 0 from h order by g;
    insert into order_items (order_id, product_id, quantity, price)
        select o.id, p.id, 1 + (o.id + k) % 3, p.price
        from orders o cross join generate_series(0, 3) k join products p on p.id = 1 + (o.id + k) % 6
        where not exists (select from order_items i where i.order_id = o.id);
    update orders o set total = s.total
        from (select order_id, sum(quantity * price) as total from order_items group by order_id) s
        where s.order_id = o.id and o.total = 0;
    insert into payments (order_id, amount, method, paid_at)
        select id, total, 'card', order_time from orders o
        where not exists (select from payments p where p.order_id = o.id);
    insert into payments (order_id, amount, method, paid_at)
        select id, -total, 'card', order_time from orders where status = 'cancelled';
    insert into inventory_movements (product_id, store_id, order_id, quantity, reason, moved_at)
        select i.product_id, o.store_id, o.id, -i.quantity, 'sale', o.order_time
        from order_items i join orders o on o.id = i.order_id;
    drop table h;
    set session_replication_role = origin;
";

/// [`HISTORY`] for `orders` orders.
pub(crate) async fn write_history<C: GenericClient>(c: &C, orders: i64) {
    c.batch_execute(&HISTORY.replace("$ORDERS", &orders.to_string())).await.expect("write the history");
}

/// Totals counted independently on both sides: order lines (count, quantity, amount), orders
/// (count, total) and payments (count, amount), as text; live rows only in the warehouse.
pub(crate) async fn independent_totals(
    oltp: &tokio_postgres::Client,
    olap: &tokio_postgres::Client,
) -> (String, String) {
    let truth =
        "select (select count(*) || '/' || coalesce(sum(quantity), 0) || '/' || coalesce(sum(quantity * price), 0)
                         from order_items)
                 || ' ' || (select count(*) || '/' || coalesce(sum(total), 0) from orders)
                 || ' ' || (select count(*) || '/' || coalesce(sum(amount), 0) from payments)";
    let seen = "select (select count(*) || '/' || coalesce(sum(quantity), 0) || '/' || coalesce(sum(line_total), 0)
                        from fact_sales where not is_deleted)
                || ' ' || (select count(*) || '/' || coalesce(sum(total), 0) from fact_orders where not is_deleted)
                || ' ' || (select count(*) || '/' || coalesce(sum(amount), 0) from fact_payments where not is_deleted)";
    (oltp.query_one(truth, &[]).await.unwrap().get(0), olap.query_one(seen, &[]).await.unwrap().get(0))
}
