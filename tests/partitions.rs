//! The large fact tables are partitioned by order id range: `migrate` creates the first
//! partitions and a default one, and the daemon creates the next ones ahead of OLTP's orders, so
//! rows never land in the default partition.

use std::time::Duration;

use brewlytics::cdc::ops::partitions::{SPAN, TABLES};

use crate::support::{process::DaemonProcess, scalar, shop, verify_report, wait_drained, TestDb};

#[tokio::test(flavor = "multi_thread")]
async fn the_daemon_creates_partitions_ahead_of_the_orders() {
    let t = TestDb::new().await;
    let (oltp, olap) = (t.oltp().await, t.olap().await);
    for table in TABLES {
        let partitions: Vec<String> = olap
            .query(
                &format!(
                    "select inhrelid::regclass::text from pg_inherits where inhparent = '{table}'::regclass order by 1"
                ),
                &[],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        // Half a span ahead of an empty warehouse.
        assert_eq!(partitions, [format!("{table}_default"), format!("{table}_p0000")]);
    }
    oltp.batch_execute(shop::SHOP).await.unwrap();
    // Orders whose ids are in the second partition, past its middle.
    oltp.execute("select setval('orders_id_seq', $1)", &[&(SPAN + SPAN / 2 + 10)]).await.unwrap();
    for i in 0..5 {
        shop::place_order(&oltp, 1 + i, 1, &[(1, 1), (2, 2)]).await;
    }
    let daemon = DaemonProcess::start(&t);
    wait_drained(&t, Duration::from_secs(60)).await;
    for table in TABLES {
        let next: bool = scalar(&olap, &format!("select to_regclass('{table}_p0002') is not null")).await;
        assert!(next, "{table}_p0002 was created ahead");
        let default: i64 = scalar(&olap, &format!("select count(*) from {table}_default")).await;
        assert_eq!(default, 0, "nothing in {table}_default");
    }
    let placed: Vec<String> = olap
        .query("select distinct tableoid::regclass::text from fact_sales", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(placed, ["fact_sales_p0001"], "the lines are in their order's partition");
    let report = verify_report(&mut t.oltp().await, &mut t.olap().await).await;
    assert!(report.is_clean(), "{:#?}", report.differences);
    drop(daemon);
}
