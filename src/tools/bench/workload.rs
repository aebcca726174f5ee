//! What pgbench drives into OLTP: the order transaction of `bench/order.sql` (the API's, in SQL),
//! alone or followed by the app session that placed it — [`EVENTS_PER_ORDER`] events in a
//! transaction of their own, as `POST /events` stores them (an events-heavy mix: 500 orders/s
//! bring 5,000 events/s).

use std::{
    path::{Path, PathBuf},
    sync::OnceLock,
};

/// App events per order in the events-heavy mix.
pub(crate) const EVENTS_PER_ORDER: usize = 10;

/// A pgbench script.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub(crate) enum Workload {
    /// `bench/order.sql`.
    Orders,
    /// The order, then its app session's events.
    OrdersWithEvents,
}

/// The order's last statement in `bench/order.sql`, and what the events mix puts in its place.
const ORDER_END: &str = "select id from o;";
const ORDER_END_KEPT: &str = "select id as order_id, total as order_total from o \\gset";

/// One app session of [`EVENTS_PER_ORDER`] events ending with the order just placed.
const SESSION: &str = "
insert into app_events (session_id, event_id, event_type, at, store_id, customer_id, product_id, quantity,
                        query, order_id, order_total)
select s.id, e.n, e.t, now() - make_interval(secs => 10 - e.n), :store, :customer,
       case when e.t in ('product_view', 'add_to_cart') then p.id end,
       case when e.t = 'add_to_cart' then 1 end,
       case when e.t = 'search' then 'latte' end,
       case when e.t = 'order_placed' then :order_id::int4 end,
       case when e.t = 'order_placed' then :order_total::numeric end
from (select gen_random_uuid() as id) s,
     (select id from products where active order by id offset :k1 limit 1) p,
     (values (0, 'session_start'), (1, 'menu_view'), (2, 'search'), (3, 'product_view'), (4, 'product_view'),
             (5, 'product_view'), (6, 'add_to_cart'), (7, 'add_to_cart'), (8, 'checkout_start'),
             (9, 'order_placed')) as e(n, t);
";

impl Workload {
    /// The script's file.
    pub(crate) fn script(self) -> PathBuf {
        let order = Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/order.sql");
        match self {
            Workload::Orders => order,
            Workload::OrdersWithEvents => {
                static WRITTEN: OnceLock<PathBuf> = OnceLock::new();
                WRITTEN
                    .get_or_init(|| {
                        let text = std::fs::read_to_string(&order).expect("bench/order.sql is readable");
                        let path =
                            std::env::temp_dir().join(format!("brewlytics-order-events-{}.sql", std::process::id()));
                        std::fs::write(&path, with_events(&text)).expect("the events script is written");
                        path
                    })
                    .clone()
            }
        }
    }
}

/// The order script followed by its session's events.
fn with_events(order: &str) -> String {
    assert!(order.contains(ORDER_END), "bench/order.sql ends with `{ORDER_END}`");
    format!("{}{SESSION}", order.replace(ORDER_END, ORDER_END_KEPT))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_events_mix_keeps_the_order_and_adds_one_session_of_ten_events() {
        let order = std::fs::read_to_string(Workload::Orders.script()).unwrap();
        let mix = with_events(&order);
        assert!(mix.starts_with(&order[..order.find(ORDER_END).unwrap()]));
        let (_, events) = mix.rsplit_once("\\gset\n").expect("the order keeps its id and total");
        assert!(events.trim_start().starts_with("insert into app_events"), "{events}");
        let events: Vec<usize> = (0..20).filter(|n| SESSION.contains(&format!("({n}, '"))).collect();
        assert_eq!(events, (0..EVENTS_PER_ORDER).collect::<Vec<_>>());
    }
}
