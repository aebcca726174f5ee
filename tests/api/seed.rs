//! The reference-data seeder.

use brewlytics::tools::seed::seed;

use super::{TestApi, WRITTEN};
use crate::support::TestDb;

#[tokio::test(flavor = "multi_thread")]
async fn seeding_twice_adds_nothing_the_second_time() {
    let t = TestDb::new().await;
    let mut c = t.oltp().await;
    let first = seed(&mut c).await.unwrap();
    assert_eq!((first.stores, first.products, first.customers), (4, 20, 200));
    assert!((12..=20).contains(&first.employees), "{first}");
    assert_eq!(first.stock, 4 * 20);
    let before = counts(&c).await;
    let second = seed(&mut c).await.unwrap();
    assert_eq!(second.total(), 0, "{second}");
    assert_eq!(counts(&c).await, before);
    let inactive = crate::support::scalar::<i64>(&c, "select count(*) from employees where not active").await;
    assert_eq!(inactive, 1);
    let per_store: i64 = crate::support::scalar(
        &c,
        "select count(*) from (select store_id from employees group by store_id having count(*) not between 3 and 5) x",
    )
    .await;
    assert_eq!(per_store, 0);
    let stock_ok: i64 = crate::support::scalar(
        &c,
        "select count(*) from inventory i join inventory_movements m
           on m.product_id = i.product_id and m.store_id = i.store_id and m.reason = 'restock' and m.quantity = i.on_hand",
    )
    .await;
    assert_eq!(stock_ok, 80, "each opening stock row has its restock movement");
}

#[tokio::test(flavor = "multi_thread")]
async fn seeding_a_live_database_only_fills_gaps() {
    let api = TestApi::seeded().await;
    // Live changes: an order, a new product, a renamed customer, a deleted stock row.
    let f = api.fixture().await;
    let (s, _) = api
        .post(
            "/orders/new",
            serde_json::json!({"customer_id": f.customer, "items": [{"product_id": f.coffee, "quantity": 1}]}),
        )
        .await;
    assert_eq!(s, 200);
    api.post("/products/new", serde_json::json!({"name": "Flat Red", "price": 3})).await;
    api.db.batch_execute("update customers set name = 'Renamed' where id = 1").await.unwrap();
    let before = api.counts().await;
    let mut c = api.t.oltp().await;
    let report = seed(&mut c).await.unwrap();
    // Only the new product's stock rows are new (one per store).
    assert_eq!((report.stores, report.employees, report.products, report.customers, report.stock), (0, 0, 0, 0, 4));
    let after = api.counts().await;
    let inventory = WRITTEN.iter().position(|t| *t == "inventory").unwrap();
    assert_eq!(after[inventory] - before[inventory], 4);
    assert_eq!(api.text("select name from customers where id = 1").await, "Renamed", "seed never overwrites");
}

async fn counts(c: &tokio_postgres::Client) -> Vec<i64> {
    let mut v = Vec::new();
    for table in ["stores", "employees", "products", "customers", "inventory", "inventory_movements", "cdc_orders"] {
        v.push(crate::support::scalar::<i64>(c, &format!("select count(*) from {table}")).await);
    }
    v
}
