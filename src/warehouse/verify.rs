//! `brewlytics verify`: reconcile OLTP truth with the warehouse. Each check runs an aggregate on
//! both sides, keyed by day (UTC date_key) plus a `total` row, and compares the values exactly
//! (numeric sums as text). The grand-total row has a NULL key, shown as `total`. The warehouse
//! side computes it with `union all` rather than `grouping sets`, which Citus refuses (0A000) on
//! distributed tables; the OLTP side is plain PostgreSQL.

use std::collections::BTreeMap;

use tokio_postgres::Client;

/// One check: the same aggregate over OLTP and over the warehouse, as (key, value) text rows.
struct Check {
    name: &'static str,
    oltp: &'static str,
    olap: &'static str,
}

fn checks() -> Vec<Check> {
    vec![
        Check {
            name: "order lines (count/quantity/amount by day and order status)",
            oltp: "select to_char(o.order_time at time zone 'UTC', 'YYYYMMDD') || ':' || o.status,
                          count(*) || '/' || sum(i.quantity) || '/' || sum(i.quantity * i.price)
                   from order_items i join orders o on o.id = i.order_id
                   group by grouping sets ((1), ())",
            olap: "select date_key || ':' || order_status,
                          count(*) || '/' || sum(quantity) || '/' || sum(line_total)
                   from fact_sales where not is_deleted group by 1
                   union all
                   select null, count(*) || '/' || sum(quantity) || '/' || sum(line_total)
                   from fact_sales where not is_deleted",
        },
        Check {
            name: "orders (count/total by day and status)",
            oltp: "select to_char(order_time at time zone 'UTC', 'YYYYMMDD') || ':' || status,
                          count(*) || '/' || sum(total)
                   from orders group by grouping sets ((1), ())",
            olap: "select date_key || ':' || status, count(*) || '/' || sum(total)
                   from fact_orders where not is_deleted group by 1
                   union all
                   select null, count(*) || '/' || sum(total) from fact_orders where not is_deleted",
        },
        Check {
            name: "payments (count/amount by day and method)",
            oltp: "select to_char(paid_at at time zone 'UTC', 'YYYYMMDD') || ':' || method,
                          count(*) || '/' || sum(amount)
                   from payments group by grouping sets ((1), ())",
            olap: "select date_key || ':' || method, count(*) || '/' || sum(amount)
                   from fact_payments where not is_deleted group by 1
                   union all
                   select null, count(*) || '/' || sum(amount) from fact_payments where not is_deleted",
        },
        Check {
            name: "inventory movements (received/sold/wasted/adjusted/net by day, store and product)",
            oltp: "select to_char(moved_at at time zone 'UTC', 'YYYYMMDD') || ':' || store_id || ':' || product_id,
                          coalesce(sum(quantity) filter (where reason = 'restock'), 0)
                          || '/' || coalesce(-sum(quantity) filter (where reason = 'sale'), 0)
                          || '/' || coalesce(-sum(quantity) filter (where reason = 'waste'), 0)
                          || '/' || coalesce(sum(quantity) filter (where reason = 'adjustment'), 0)
                          || '/' || sum(quantity)
                   from inventory_movements
                   group by grouping sets ((1), ())",
            olap: "select date_key || ':' || store_id || ':' || product_id,
                          sum(units_received) || '/' || sum(units_sold) || '/' || sum(units_wasted)
                          || '/' || sum(units_adjusted) || '/' || sum(net_units)
                   from fact_inventory
                   where (units_received, units_sold, units_wasted, units_adjusted) <> (0, 0, 0, 0)
                   group by 1
                   union all
                   select null, sum(units_received) || '/' || sum(units_sold) || '/' || sum(units_wasted)
                          || '/' || sum(units_adjusted) || '/' || sum(net_units)
                   from fact_inventory
                   where (units_received, units_sold, units_wasted, units_adjusted) <> (0, 0, 0, 0)",
        },
        Check {
            name: "feedback (count/rating sum by day of the rating)",
            oltp: "select to_char(created_at at time zone 'UTC', 'YYYYMMDD'), count(*) || '/' || sum(rating)
                   from feedback group by grouping sets ((1), ())",
            olap: "select date_key, count(*) || '/' || sum(rating)
                   from fact_feedback where not is_deleted group by 1
                   union all
                   select null, count(*) || '/' || sum(rating) from fact_feedback where not is_deleted",
        },
        Check {
            name: "dimensions (live members)",
            oltp: "select 'stores', count(*)::text from stores union all select 'customers', count(*)::text from customers
                   union all select 'employees', count(*)::text from employees
                   union all select 'products', count(*)::text from products",
            olap: "select 'stores', count(*)::text from dim_store where store_key > 0 and not is_deleted and not is_inferred
                   union all select 'customers', count(*)::text from dim_customer where customer_key > 0 and not is_deleted and not is_inferred
                   union all select 'employees', count(*)::text from dim_employee where employee_key > 0 and not is_deleted and not is_inferred
                   union all select 'products', count(*)::text from dim_product where product_key > 0 and is_current and not is_deleted and not is_inferred",
        },
    ]
}

/// One value that differs between OLTP and the warehouse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    pub check: &'static str,
    pub key: String,
    pub oltp: Option<String>,
    pub warehouse: Option<String>,
}

/// The outcome of a reconciliation.
#[derive(Debug, Clone, Default)]
pub struct VerifyReport {
    pub checks: Vec<(&'static str, usize)>,
    pub differences: Vec<Difference>,
}

impl VerifyReport {
    /// No differences.
    pub fn is_clean(&self) -> bool {
        self.differences.is_empty()
    }
}

/// Run every check.
pub async fn verify(oltp: &Client, olap: &Client) -> Result<VerifyReport, tokio_postgres::Error> {
    let mut report = VerifyReport::default();
    for check in checks() {
        let truth = rows(oltp, check.oltp).await?;
        let seen = rows(olap, check.olap).await?;
        report.checks.push((check.name, truth.len()));
        let keys: std::collections::BTreeSet<&String> = truth.keys().chain(seen.keys()).collect();
        for key in keys {
            let (a, b) = (truth.get(key), seen.get(key));
            if a != b {
                report.differences.push(Difference {
                    check: check.name,
                    key: key.clone(),
                    oltp: a.cloned(),
                    warehouse: b.cloned(),
                });
            }
        }
    }
    Ok(report)
}

async fn rows(client: &Client, sql: &str) -> Result<BTreeMap<String, String>, tokio_postgres::Error> {
    let rows =
        client.query(&format!("select coalesce(k::text, 'total'), v::text from ({sql}) as q(k, v)"), &[]).await?;
    Ok(rows.iter().map(|r| (r.get::<_, String>(0), r.get::<_, Option<String>>(1).unwrap_or_default())).collect())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_warehouse_side_uses_no_grouping_sets() {
        for check in super::checks() {
            assert!(!check.olap.contains("grouping sets"), "{}", check.name);
        }
    }
}
