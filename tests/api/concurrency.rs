//! Many orders at once: none lost, none doubled, stock adds up.

use std::collections::BTreeMap;

use rand::{rngs::StdRng, seq::SliceRandom, RngExt, SeedableRng};
use serde_json::json;
use tokio::task::JoinSet;

use super::TestApi;

const ORDERS: usize = 200;

#[tokio::test(flavor = "multi_thread")]
async fn two_hundred_concurrent_orders_add_up() {
    let api = std::sync::Arc::new(TestApi::seeded().await);
    let products: Vec<i64> = {
        let rows = api.db.query("select id::int8 from products order by id limit 5", &[]).await.unwrap();
        rows.iter().map(|r| r.get(0)).collect()
    };
    let stores: Vec<i64> = {
        let rows = api
            .db
            .query("select distinct store_id::int8 from employees where active order by 1 limit 2", &[])
            .await
            .unwrap();
        rows.iter().map(|r| r.get(0)).collect()
    };
    let stock_sql = "select product_id::int8, store_id::int8, on_hand::int8 from inventory";
    let stock = |rows: Vec<tokio_postgres::Row>| -> BTreeMap<(i64, i64), i64> {
        rows.iter().map(|r| ((r.get(0), r.get(1)), r.get(2))).collect()
    };
    let initial = stock(api.db.query(stock_sql, &[]).await.unwrap());
    let before = api.counts().await;
    // Overlapping products in shuffled line order: the worst case for lock ordering.
    let mut rng = StdRng::seed_from_u64(42);
    let mut sold: BTreeMap<(i64, i64), i64> = BTreeMap::new();
    let mut tasks = JoinSet::new();
    let mut line_count = 0;
    for i in 0..ORDERS {
        let store = stores[i % stores.len()];
        let mut picked = products.clone();
        picked.shuffle(&mut rng);
        picked.truncate(rng.random_range(2..=4));
        let items: Vec<_> = picked
            .iter()
            .map(|&p| {
                let q = rng.random_range(1..=3);
                *sold.entry((p, store)).or_default() += q;
                json!({"product_id": p, "quantity": q})
            })
            .collect();
        line_count += items.len() as i64;
        let body = json!({"customer_id": 1 + (i % 50) as i64, "store_id": store, "items": items});
        let api = api.clone();
        tasks.spawn(async move { api.post("/orders/new", body).await });
    }
    let mut ids = Vec::new();
    let mut total_sum = rust_decimal::Decimal::ZERO;
    while let Some(result) = tasks.join_next().await {
        let (status, order) = result.unwrap();
        assert_eq!(status, 200, "{order}");
        ids.push(order["order_id"].as_i64().unwrap());
        total_sum += super::exact(&order["total"]).parse::<rust_decimal::Decimal>().unwrap();
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), ORDERS, "order ids are distinct");
    let after = api.counts().await;
    let added: BTreeMap<&str, i64> =
        super::WRITTEN.iter().zip(after.iter().zip(&before)).map(|(t, (a, b))| (*t, a - b)).collect();
    assert_eq!(added["orders"], ORDERS as i64);
    assert_eq!(added["order_items"], line_count);
    assert_eq!(added["payments"], ORDERS as i64);
    assert_eq!(added["inventory_movements"], line_count);
    assert_eq!(added["inventory"], 0, "every pair had opening stock");
    let paid: String = crate::support::scalar(&api.db, "select sum(amount)::text from payments").await;
    assert_eq!(paid.parse::<rust_decimal::Decimal>().unwrap(), total_sum);
    let final_stock = stock(api.db.query(stock_sql, &[]).await.unwrap());
    for (pair, on_hand) in &final_stock {
        let expected = initial[pair] - sold.get(pair).copied().unwrap_or(0);
        assert_eq!(*on_hand, expected, "on-hand of product/store {pair:?}");
    }
    let drift = api
        .int(
            "select count(*) from inventory i
             where on_hand <> (select coalesce(sum(quantity), 0) from inventory_movements m
                               where m.product_id = i.product_id and m.store_id = i.store_id)",
        )
        .await;
    assert_eq!(drift, 0, "movements sum to on-hand for every product and store");
    let captured = api.int("select count(*) from cdc_orders where table_name = 'orders' and op = 'I'").await;
    assert_eq!(captured, api.int("select count(*) from orders").await);
}
