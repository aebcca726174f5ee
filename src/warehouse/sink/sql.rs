//! The sink's statements. Each takes one array per column (`unnest`), so a batch is one round trip
//! per table.
//!
//! They run unchanged on plain PostgreSQL and on Citus (facts distributed by order, dimensions
//! reference tables: [`crate::db`]'s distribution layout), which is why they keep to these rules
//! (checked by the tests below):
//! * every fact is read and written only for the batch's keys: the `fact_orders` look-ups go
//!   through `order_id = any(…)` of the batch, and the header updates filter the rows they change
//!   by `f.order_id = any($1)` too, so on Citus a batch touches only the shards of its orders;
//! * each `on conflict` target is the table's key, which contains its distribution column;
//! * no function in `do update set` (Citus refuses even `now()` there): a timestamp is computed in
//!   the `select` list and taken from `excluded`;
//! * `insert … on conflict do nothing` says `returning`, so the row count is the rows inserted on
//!   Citus too (it otherwise reports the rows selected).
//!
//! Versions: `changed_at` arrives as NULL for a row loaded by a snapshot job and is stored as
//! `-infinity`, with `src_id = -job`; such a row replaces any row (the job owns the table while it
//! runs), and any captured change later replaces it. A captured change replaces only an older one.

/// An upsert's condition for replacing the existing row `t` with `excluded`.
macro_rules! guard {
    () => {
        "excluded.src_id < 0 or (t.changed_at, t.src_id) < (excluded.changed_at, excluded.src_id)"
    };
}

/// The guard as text, for statements built outside this file ([`super::feedback`]).
pub(super) const GUARD: &str = guard!();

pub(super) const STORES: &str = concat!(
    "insert into dim_store as t (store_id, name, city, is_deleted, changed_at, src_id)
     select s.id, s.name, s.city, s.deleted, coalesce(s.at, '-infinity'), s.src
     from unnest($1::int4[], $2::text[], $3::text[], $4::bool[], $5::timestamptz[], $6::int8[])
          as s(id, name, city, deleted, at, src)
     on conflict (store_id) do update set name = excluded.name, city = excluded.city,
       is_deleted = excluded.is_deleted, is_inferred = false, changed_at = excluded.changed_at,
       src_id = excluded.src_id
     where ",
    guard!()
);

pub(super) const CUSTOMERS: &str = concat!(
    "insert into dim_customer as t (customer_id, name, email, is_deleted, changed_at, src_id)
     select s.id, s.name, s.email, s.deleted, coalesce(s.at, '-infinity'), s.src
     from unnest($1::int4[], $2::text[], $3::text[], $4::bool[], $5::timestamptz[], $6::int8[])
          as s(id, name, email, deleted, at, src)
     on conflict (customer_id) do update set name = excluded.name, email = excluded.email,
       is_deleted = excluded.is_deleted, is_inferred = false, changed_at = excluded.changed_at,
       src_id = excluded.src_id
     where ",
    guard!()
);

pub(super) const EMPLOYEES: &str = concat!(
    "insert into dim_employee as t (employee_id, store_id, name, role, active, is_deleted, changed_at, src_id)
     select s.id, s.store_id, s.name, s.role, s.active, s.deleted, coalesce(s.at, '-infinity'), s.src
     from unnest($1::int4[], $2::int4[], $3::text[], $4::text[], $5::bool[], $6::bool[],
                 $7::timestamptz[], $8::int8[])
          as s(id, store_id, name, role, active, deleted, at, src)
     on conflict (employee_id) do update set store_id = excluded.store_id, name = excluded.name,
       role = excluded.role, active = excluded.active, is_deleted = excluded.is_deleted,
       is_inferred = false, changed_at = excluded.changed_at, src_id = excluded.src_id
     where ",
    guard!()
);

/// Placeholder members for keys that facts reference before their dimension row exists, for
/// every dimension in one round trip; returns how many each got.
pub(super) const INFERRED: &str = "
    with s as (insert into dim_store (store_id, is_inferred) select unnest($1::int4[]), true
               on conflict (store_id) do nothing returning 1),
         c as (insert into dim_customer (customer_id, is_inferred) select unnest($2::int4[]), true
               on conflict (customer_id) do nothing returning 1),
         e as (insert into dim_employee (employee_id, is_inferred) select unnest($3::int4[]), true
               on conflict (employee_id) do nothing returning 1),
         p as (insert into dim_product (product_id, is_inferred) select unnest($4::int4[]), true
               on conflict (product_id) where is_current do nothing returning 1)
    select (select count(*) from s), (select count(*) from c), (select count(*) from e), (select count(*) from p)";

pub(super) const ORDERS: &str = concat!(
    "insert into fact_orders as t (order_id, customer_id, employee_id, store_id, status, order_time, total,
            date_key, time_key, is_deleted, changed_at, src_id, store_key, customer_key, employee_key, loaded_at)
     select s.order_id, s.customer_id, s.employee_id, s.store_id, s.status, s.order_time, s.total, s.date_key,
            s.time_key, s.deleted, coalesce(s.at, '-infinity'), s.src,
            coalesce(ds.store_key, 0), coalesce(dc.customer_key, 0), coalesce(de.employee_key, 0), clock_timestamp()
     from unnest($1::int4[], $2::int4[], $3::int4[], $4::int4[], $5::text[], $6::timestamptz[], $7::numeric[],
                 $8::int4[], $9::int4[], $10::bool[], $11::timestamptz[], $12::int8[])
          as s(order_id, customer_id, employee_id, store_id, status, order_time, total, date_key, time_key,
               deleted, at, src)
     left join dim_store ds on ds.store_id = s.store_id
     left join dim_customer dc on dc.customer_id = s.customer_id
     left join dim_employee de on de.employee_id = s.employee_id
     on conflict (order_id) do update set customer_id = excluded.customer_id, employee_id = excluded.employee_id,
       store_id = excluded.store_id, status = excluded.status, order_time = excluded.order_time,
       total = excluded.total, date_key = excluded.date_key, time_key = excluded.time_key,
       is_deleted = excluded.is_deleted, changed_at = excluded.changed_at, src_id = excluded.src_id,
       store_key = excluded.store_key, customer_key = excluded.customer_key,
       employee_key = excluded.employee_key, loaded_at = excluded.loaded_at
     where ",
    guard!()
);

/// Copy an order's header (status, date, time, store, customer, employee) onto its lines or
/// payments. Both sides are restricted to the batch's orders (`$1`): `f.order_id = any($1)` lets
/// the planner reach the lines through their `order_id` index (with the join condition alone it
/// hashed a sequential scan of the whole fact table, every batch), and on Citus the filter on `o`
/// alone does not prune the shards of `f`.
pub(super) fn header(table: &str, lines: bool) -> String {
    let (extra_set, extra_cmp, extra_src) = if lines {
        (
            ", order_status = o.status, employee_key = o.employee_key, order_time = o.order_time, \
             date_key = o.date_key, time_key = o.time_key",
            ", f.order_status, f.employee_key, f.date_key, f.time_key",
            ", o.status, o.employee_key, o.date_key, o.time_key",
        )
    } else {
        ("", "", "")
    };
    format!(
        "update {table} f set store_key = o.store_key, customer_key = o.customer_key{extra_set}
         from fact_orders o
         where o.order_id = any($1::int4[]) and f.order_id = any($1::int4[]) and f.order_id = o.order_id
           and (f.store_key, f.customer_key{extra_cmp}) is distinct from (o.store_key, o.customer_key{extra_src})"
    )
}

pub(super) const SALES: &str = concat!(
    "insert into fact_sales as t (order_item_id, order_id, product_id, quantity, unit_price, line_total,
            is_deleted, changed_at, src_id, date_key, time_key, store_key, customer_key, employee_key,
            product_key, order_status, order_time, loaded_at)
     select s.order_item_id, s.order_id, s.product_id, s.quantity, s.unit_price, s.line_total, s.deleted,
            coalesce(s.at, '-infinity'), s.src, coalesce(o.date_key, 0), coalesce(o.time_key, -1),
            coalesce(o.store_key, 0), coalesce(o.customer_key, 0), coalesce(o.employee_key, 0),
            coalesce(p.product_key, 0), coalesce(o.status, 'unknown'), o.order_time, clock_timestamp()
     from unnest($1::int4[], $2::int4[], $3::int4[], $4::int4[], $5::numeric[], $6::numeric[], $7::bool[],
                 $8::timestamptz[], $9::int8[])
          as s(order_item_id, order_id, product_id, quantity, unit_price, line_total, deleted, at, src)
     left join (select order_id, date_key, time_key, store_key, customer_key, employee_key, status, order_time
                from fact_orders where order_id = any($2::int4[])) o on o.order_id = s.order_id
     left join lateral (
         select d.product_key from dim_product d
         where d.product_id = s.product_id
           and (case when o.order_time is null then d.is_current
                     else o.order_time >= d.valid_from and o.order_time < d.valid_to end)
         order by d.valid_from desc limit 1) p on true
     on conflict (order_id, order_item_id) do update set product_id = excluded.product_id,
       quantity = excluded.quantity, unit_price = excluded.unit_price, line_total = excluded.line_total,
       is_deleted = excluded.is_deleted, changed_at = excluded.changed_at, src_id = excluded.src_id,
       date_key = excluded.date_key, time_key = excluded.time_key, store_key = excluded.store_key,
       customer_key = excluded.customer_key, employee_key = excluded.employee_key,
       product_key = excluded.product_key, order_status = excluded.order_status,
       order_time = excluded.order_time, loaded_at = excluded.loaded_at
     where ",
    guard!()
);

pub(super) const PAYMENTS: &str = concat!(
    "insert into fact_payments as t (payment_id, order_id, amount, method, paid_at, date_key, time_key,
            is_deleted, changed_at, src_id, store_key, customer_key, loaded_at)
     select s.payment_id, s.order_id, s.amount, s.method, s.paid_at, s.date_key, s.time_key, s.deleted,
            coalesce(s.at, '-infinity'), s.src, coalesce(o.store_key, 0), coalesce(o.customer_key, 0),
            clock_timestamp()
     from unnest($1::int4[], $2::int4[], $3::numeric[], $4::text[], $5::timestamptz[], $6::int4[], $7::int4[],
                 $8::bool[], $9::timestamptz[], $10::int8[])
          as s(payment_id, order_id, amount, method, paid_at, date_key, time_key, deleted, at, src)
     left join (select order_id, store_key, customer_key from fact_orders where order_id = any($2::int4[])) o
            on o.order_id = s.order_id
     on conflict (order_id, payment_id) do update set amount = excluded.amount,
       method = excluded.method, paid_at = excluded.paid_at, date_key = excluded.date_key,
       time_key = excluded.time_key, is_deleted = excluded.is_deleted, changed_at = excluded.changed_at,
       src_id = excluded.src_id, store_key = excluded.store_key, customer_key = excluded.customer_key,
       loaded_at = excluded.loaded_at
     where ",
    guard!()
);

/// How inventory figures meet the day's row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum InventoryMode {
    /// Streamed movements: add into the day's figures.
    Add,
    /// A snapshot's whole-day figures: replace them.
    Replace,
}

/// Upsert into `fact_inventory` (product × store × day); the stock level keeps the latest seen.
pub(super) fn inventory(mode: InventoryMode) -> String {
    let unit = |col: &str| match mode {
        InventoryMode::Add => format!("{col} = t.{col} + excluded.{col}"),
        InventoryMode::Replace => format!("{col} = excluded.{col}"),
    };
    let units = ["units_received", "units_sold", "units_wasted", "units_adjusted", "net_units"].map(unit).join(",\n");
    format!(
        "insert into fact_inventory as t (date_key, store_id, product_id, units_received, units_sold, units_wasted,
                units_adjusted, net_units, on_hand, on_hand_at, store_key, product_key, loaded_at)
         select s.*, coalesce(ds.store_key, 0), coalesce(dp.product_key, 0), clock_timestamp()
         from unnest($1::int4[], $2::int4[], $3::int4[], $4::int4[], $5::int4[], $6::int4[], $7::int4[],
                     $8::int4[], $9::int4[], $10::timestamptz[])
              as s(date_key, store_id, product_id, received, sold, wasted, adjusted, net, on_hand, on_hand_at)
         left join dim_store ds on ds.store_id = s.store_id
         left join dim_product dp on dp.product_id = s.product_id and dp.is_current
         on conflict (date_key, store_id, product_id) do update set {units},
           on_hand = case when excluded.on_hand_at >= coalesce(t.on_hand_at, '-infinity') then excluded.on_hand
                          else t.on_hand end,
           on_hand_at = greatest(t.on_hand_at, excluded.on_hand_at),
           store_key = excluded.store_key, product_key = excluded.product_key, loaded_at = excluded.loaded_at"
    )
}

#[cfg(test)]
#[path = "sql_tests.rs"]
mod tests;
