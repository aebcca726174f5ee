//! The CDC daemon against real PostgreSQL: commit order, long transactions, concurrency.

use std::time::{Duration, Instant};

use crate::support::{assert_verified, scalar, shop, wait_caught_up, wait_for, InProcessDaemon, TestDb};

async fn fact_order_exists(t: &TestDb, order_id: i32) -> bool {
    let olap = t.olap().await;
    olap.query_opt("select 1 from fact_orders where order_id = $1", &[&order_id]).await.unwrap().is_some()
}

#[tokio::test(flavor = "multi_thread")]
async fn out_of_order_commits_are_neither_lost_nor_doubled() {
    let t = TestDb::new().await;
    t.oltp().await.batch_execute(shop::SHOP).await.unwrap();
    let daemon = InProcessDaemon::start(&t.config);
    let mut c1 = t.oltp().await;
    let t1 = c1.transaction().await.unwrap();
    let first = shop::place_order(&t1, 1, 1, &[(1, 1)]).await; // takes the lower ids, stays open
    let second = shop::place_order(&t.oltp().await, 2, 1, &[(2, 2)]).await;
    assert!(first < second);
    wait_for("T2 applied", Duration::from_secs(10), || async { fact_order_exists(&t, second).await.then_some(()) })
        .await;
    assert!(!fact_order_exists(&t, first).await, "T1 is not committed yet");
    t1.commit().await.unwrap();
    wait_for("T1 applied", Duration::from_secs(10), || async { fact_order_exists(&t, first).await.then_some(()) })
        .await;
    wait_caught_up(&t, Duration::from_secs(10)).await;
    daemon.stop().await;
    assert_verified(&t).await;
    let olap = t.olap().await;
    assert_eq!(scalar::<i64>(&olap, "select count(*) from fact_sales").await, 2);
    assert_eq!(scalar::<i64>(&olap, "select count(*) from fact_payments").await, 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn aborted_transactions_leave_nothing() {
    let t = TestDb::new().await;
    t.oltp().await.batch_execute(shop::SHOP).await.unwrap();
    let daemon = InProcessDaemon::start(&t.config);
    let mut c = t.oltp().await;
    let tx = c.transaction().await.unwrap();
    let aborted = shop::place_order(&tx, 1, 1, &[(1, 1)]).await;
    tx.rollback().await.unwrap();
    let kept = shop::place_order(&t.oltp().await, 1, 1, &[(1, 1)]).await;
    wait_for("order applied", Duration::from_secs(10), || async { fact_order_exists(&t, kept).await.then_some(()) })
        .await;
    wait_caught_up(&t, Duration::from_secs(10)).await;
    daemon.stop().await;
    assert!(!fact_order_exists(&t, aborted).await);
    assert_verified(&t).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_long_open_transaction_does_not_delay_other_orders() {
    let t = TestDb::new().await;
    t.oltp().await.batch_execute(shop::SHOP).await.unwrap();
    let daemon = InProcessDaemon::start(&t.config);
    let mut long = t.oltp().await;
    let held = long.transaction().await.unwrap();
    // The held transaction writes rows no other writer waits for (a new customer and product).
    held.batch_execute("insert into customers (name, email) values ('Held', 'held@example.com')").await.unwrap();
    let held_product: i32 =
        held.query_one("insert into products (name, price) values ('Held', 1) returning id", &[]).await.unwrap().get(0);
    let writer = t.oltp().await;
    let started = Instant::now();
    let mut worst = Duration::ZERO;
    // Orders keep flowing for 30 s while the transaction stays open.
    while started.elapsed() < Duration::from_secs(30) {
        let id = shop::random_order(&writer).await;
        let placed = Instant::now();
        wait_for("order applied while a transaction is open", Duration::from_secs(5), || async {
            fact_order_exists(&t, id).await.then_some(())
        })
        .await;
        worst = worst.max(placed.elapsed());
        tokio::time::sleep(Duration::from_millis(500)).await; // pacing of the writer, not a wait on the daemon
    }
    assert!(worst < Duration::from_secs(2), "an order took {worst:?} to apply");
    let olap = t.olap().await;
    let product_applied = async |olap: &tokio_postgres::Client| {
        olap.query_opt("select 1 from dim_product where product_id = $1", &[&held_product]).await.unwrap().is_some()
    };
    assert!(!product_applied(&olap).await);
    held.commit().await.unwrap();
    wait_caught_up(&t, Duration::from_secs(10)).await;
    daemon.stop().await;
    assert!(product_applied(&olap).await);
    assert_verified(&t).await;
}
