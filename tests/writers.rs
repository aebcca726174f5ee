//! Who writes the warehouse at once: a `dlq replay` never writes while a unit of the daemon does,
//! nor the daemon while a replay does (each would count the other's facts in its rollup delta).
//! The lock is held here by hand, as the other writer would hold it, and the waiting writer is
//! seen in `pg_locks`.

use std::time::Duration;

use brewlytics::db::WRITERS_LOCK;
use tokio_postgres::Client;

use crate::support::{assert_verified, scalar, shop, wait_caught_up, wait_for, InProcessDaemon, TestDb};

const DEADLINE: Duration = Duration::from_secs(15);

/// Someone waits for the writers' lock.
async fn wait_for_a_waiter(olap: &Client) {
    wait_for("a writer waiting for the writers' lock", DEADLINE, || async {
        let waiting: i64 = olap
            .query_one(
                "select count(*) from pg_locks
                 where locktype = 'advisory' and not granted and (classid::int8 << 32) + objid::int8 = $1",
                &[&WRITERS_LOCK],
            )
            .await
            .unwrap()
            .get(0);
        (waiting > 0).then_some(())
    })
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dlq_replay_and_the_daemons_batches_take_turns() {
    let t = TestDb::new().await;
    let oltp = t.oltp().await;
    oltp.batch_execute(shop::SHOP).await.unwrap();
    let daemon = InProcessDaemon::start(&t.config);
    wait_caught_up(&t, DEADLINE).await;
    // A letter to replay: a line of a served order that the warehouse rejects for a while.
    let olap = t.olap().await;
    olap.batch_execute("alter table fact_sales add constraint for_a_while check (quantity < 100)").await.unwrap();
    let order = shop::place_order(&oltp, 1, 1, &[(1, 150)]).await;
    oltp.execute("update orders set status = 'served' where id = $1", &[&order]).await.unwrap();
    wait_caught_up(&t, DEADLINE).await;
    let letter: i64 = scalar(&olap, "select id from cdc_dead_letter where error_kind = 'apply'").await;
    olap.batch_execute("alter table fact_sales drop constraint for_a_while").await.unwrap();
    let line = &format!("select count(*) from fact_sales where order_id = {order}");

    // A unit of the daemon holds the lock (shared): the replay waits for it to commit.
    let mut holder = t.olap().await;
    let unit = holder.transaction().await.unwrap();
    unit.execute("select pg_advisory_xact_lock_shared($1)", &[&WRITERS_LOCK]).await.unwrap();
    let (mut replayer, source) = (t.olap().await, t.oltp().await);
    let replay = tokio::spawn(async move { brewlytics::apply::replay(&mut replayer, &source, Some(letter)).await });
    wait_for_a_waiter(&olap).await;
    assert!(!replay.is_finished());
    assert_eq!(scalar::<i64>(&olap, line).await, 0, "nothing replayed while the unit is open");
    unit.commit().await.unwrap();
    assert_eq!(replay.await.unwrap().unwrap().replayed, vec![letter]);
    assert_eq!(scalar::<i64>(&olap, line).await, 1);

    // A replay holds it (alone): the daemon's next batch waits for it to commit.
    let replay = holder.transaction().await.unwrap();
    replay.execute("select pg_advisory_xact_lock($1)", &[&WRITERS_LOCK]).await.unwrap();
    let next = shop::place_order(&oltp, 2, 1, &[(2, 1)]).await;
    wait_for_a_waiter(&olap).await;
    let applied = format!("select count(*) from fact_orders where order_id = {next}");
    assert_eq!(scalar::<i64>(&olap, &applied).await, 0, "no batch written while the replay is open");
    replay.commit().await.unwrap();
    wait_caught_up(&t, DEADLINE).await;
    assert_eq!(scalar::<i64>(&olap, &applied).await, 1);
    daemon.stop().await;
    assert_verified(&t).await;
}
