//! The reconciliation checks: the same per-key aggregate over the OLTP business tables and over
//! the warehouse. Each query returns `(day, k, v1 … vN)`: `day` is the UTC `yyyymmdd` the key
//! belongs to (null when it has none), `k` the key, `v…` numeric values. Totals are computed from
//! these rows by the caller (`union all`, never `grouping sets`: a later Citus port refuses them).

/// One check.
pub(super) struct Check {
    pub name: &'static str,
    pub oltp: &'static str,
    pub olap: &'static str,
    /// How many value columns the queries return.
    pub values: usize,
    /// Whether a `total` row (the sum of every key, whatever the scope) is compared too.
    pub totals: bool,
}

/// The business tables whose state the OLTP queries read (all captured by `cdc_orders`).
pub(super) const TABLES: [&str; 9] = [
    "stores",
    "customers",
    "products",
    "employees",
    "orders",
    "order_items",
    "payments",
    "inventory_movements",
    "feedback",
];

pub(super) const CHECKS: [Check; 6] = [
    Check {
        name: "order lines (count/quantity/amount by day and order status)",
        oltp: "select to_char(o.order_time at time zone 'UTC', 'YYYYMMDD')::int4,
                      to_char(o.order_time at time zone 'UTC', 'YYYYMMDD') || ':' || o.status,
                      count(*)::numeric, sum(i.quantity)::numeric, sum(i.quantity * i.price)
               from order_items i join orders o on o.id = i.order_id
               group by 1, 2",
        olap: "select date_key, date_key || ':' || order_status,
                      count(*)::numeric, sum(quantity)::numeric, sum(line_total)
               from fact_sales where not is_deleted group by 1, 2",
        values: 3,
        totals: true,
    },
    Check {
        name: "orders (count/total by day and status)",
        oltp: "select to_char(order_time at time zone 'UTC', 'YYYYMMDD')::int4,
                      to_char(order_time at time zone 'UTC', 'YYYYMMDD') || ':' || status,
                      count(*)::numeric, sum(total)
               from orders group by 1, 2",
        olap: "select date_key, date_key || ':' || status, count(*)::numeric, sum(total)
               from fact_orders where not is_deleted group by 1, 2",
        values: 2,
        totals: true,
    },
    Check {
        name: "payments (count/amount by day and method)",
        oltp: "select to_char(paid_at at time zone 'UTC', 'YYYYMMDD')::int4,
                      to_char(paid_at at time zone 'UTC', 'YYYYMMDD') || ':' || method,
                      count(*)::numeric, sum(amount)
               from payments group by 1, 2",
        olap: "select date_key, date_key || ':' || method, count(*)::numeric, sum(amount)
               from fact_payments where not is_deleted group by 1, 2",
        values: 2,
        totals: true,
    },
    Check {
        name: "inventory movements (received/sold/wasted/adjusted/net by day, store and product)",
        oltp: "select to_char(moved_at at time zone 'UTC', 'YYYYMMDD')::int4,
                      to_char(moved_at at time zone 'UTC', 'YYYYMMDD') || ':' || store_id || ':' || product_id,
                      coalesce(sum(quantity) filter (where reason = 'restock'), 0)::numeric,
                      coalesce(-sum(quantity) filter (where reason = 'sale'), 0)::numeric,
                      coalesce(-sum(quantity) filter (where reason = 'waste'), 0)::numeric,
                      coalesce(sum(quantity) filter (where reason = 'adjustment'), 0)::numeric,
                      sum(quantity)::numeric
               from inventory_movements group by 1, 2",
        olap: "select date_key, date_key || ':' || store_id || ':' || product_id,
                      sum(units_received)::numeric, sum(units_sold)::numeric, sum(units_wasted)::numeric,
                      sum(units_adjusted)::numeric, sum(net_units)::numeric
               from fact_inventory
               where (units_received, units_sold, units_wasted, units_adjusted) <> (0, 0, 0, 0)
               group by 1, 2",
        values: 5,
        totals: true,
    },
    Check {
        name: "feedback (count/rating sum by day of the rating)",
        oltp: "select to_char(created_at at time zone 'UTC', 'YYYYMMDD')::int4,
                      to_char(created_at at time zone 'UTC', 'YYYYMMDD'),
                      count(*)::numeric, sum(rating)::numeric
               from feedback group by 1, 2",
        olap: "select date_key, date_key::text, count(*)::numeric, sum(rating)::numeric
               from fact_feedback where not is_deleted group by 1, 2",
        values: 2,
        totals: true,
    },
    Check {
        name: "dimensions (live members)",
        oltp: "select null::int4, 'stores', count(*)::numeric from stores
               union all select null, 'customers', count(*) from customers
               union all select null, 'employees', count(*) from employees
               union all select null, 'products', count(*) from products",
        olap: "select null::int4, 'stores', count(*)::numeric from dim_store
                   where store_key > 0 and not is_deleted and not is_inferred
               union all select null, 'customers', count(*) from dim_customer
                   where customer_key > 0 and not is_deleted and not is_inferred
               union all select null, 'employees', count(*) from dim_employee
                   where employee_key > 0 and not is_deleted and not is_inferred
               union all select null, 'products', count(*) from dim_product
                   where product_key > 0 and is_current and not is_deleted and not is_inferred",
        values: 1,
        totals: false,
    },
];

/// `with` clauses that shadow every table of [`TABLES`] with its state as of snapshot `$1`
/// (`pg_snapshot` text, xmin `$2`), inside a transaction whose own snapshot sees more: a row
/// touched by a transaction visible here but not in `$1` is replaced by the before image of its
/// first such change (none when that change inserted it); every other row is as read. "First"
/// is by (changed_at, id), the daemon's version order: a second writer of a row waits for the
/// first one's commit, so its clock_timestamp() is later (ids follow insert order only within a
/// session, the identity caches values per session).
pub(super) fn as_of_prefix() -> String {
    let mut sql = String::from(
        "with cdc_window as materialized (
             select distinct on (table_name, row_id) table_name, row_id, before
             from cdc_orders
             where txid >= $2::text::xid8 and not pg_visible_in_snapshot(txid, $1::text::pg_snapshot)
             order by table_name, row_id, changed_at, id)",
    );
    for t in TABLES {
        sql.push_str(&format!(
            ", {t} as (
                 select * from public.{t} x
                 where not exists (select from cdc_window w where w.table_name = '{t}' and w.row_id = x.id)
                 union all
                 select r.* from cdc_window w cross join lateral json_populate_record(null::public.{t}, w.before::json) r
                 where w.table_name = '{t}' and w.before is not null)"
        ));
    }
    sql.push_str(", ");
    sql
}

/// The full statement of one side of a check: its key rows from day `$since` on (keys without a
/// day always), then the `total` row over every key. The columns are named by a subquery alias,
/// not by a column list on the `with` query: Citus 13 loses such a list when the query is a
/// `union all` of reference tables (the dimensions check: `column "k" does not exist`).
pub(super) fn statement(prefix: &str, check: &Check, sql: &str, since: usize) -> String {
    let n = check.values;
    let columns: Vec<String> = (1..=n).map(|i| format!("v{i}")).collect();
    let text = |cols: &[String]| {
        cols.iter().map(|c| format!("coalesce({c}::text, '-')")).collect::<Vec<_>>().join(" || '/' || ")
    };
    let mut out = format!(
        "{prefix}q as (select * from ({sql}) s(day, k, {cols}))
         select k, {vals} from q where day is null or day >= ${since}",
        prefix = if prefix.is_empty() { "with " } else { prefix },
        cols = columns.join(", "),
        vals = text(&columns),
    );
    if check.totals {
        let sums: Vec<String> = columns.iter().map(|c| format!("sum({c}) as {c}")).collect();
        out.push_str(&format!(
            " union all select 'total', {vals} from (select {sums} from q) t",
            vals = text(&columns),
            sums = sums.join(", ")
        ));
    }
    out
}
