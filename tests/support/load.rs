//! Concurrent OLTP writers with a realistic mix of changes and random delays before commit.

use std::{
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc,
    },
    time::Duration,
};

use rand::RngExt;
use tokio::task::JoinSet;
use tokio_postgres::Transaction;

use super::{connect_url, shop};

/// Writers running in the background until stopped.
pub(crate) struct Writers {
    stop: Arc<AtomicBool>,
    tasks: JoinSet<()>,
    pub committed: Arc<AtomicU64>,
    pub failed: Arc<AtomicU64>,
}

impl Writers {
    /// Start `n` writers on `oltp_url`, each doing at most `max_txns` transactions (0 = until stopped).
    pub(crate) fn start(oltp_url: &str, n: usize, max_txns: u64) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let (committed, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
        let mut tasks = JoinSet::new();
        for _ in 0..n {
            let (url, stop, committed, failed) =
                (oltp_url.to_string(), stop.clone(), committed.clone(), failed.clone());
            tasks.spawn(async move {
                let mut client = connect_url(&url).await;
                let mut done = 0;
                while !stop.load(Ordering::Relaxed) && (max_txns == 0 || done < max_txns) {
                    done += 1;
                    let tx = client.transaction().await.expect("begin");
                    match one_change(&tx).await {
                        Ok(()) => {
                            let delay = rand::rng().random_range(0..20);
                            tokio::time::sleep(Duration::from_millis(delay)).await; // commit out of order
                            match tx.commit().await {
                                Ok(()) => committed.fetch_add(1, Ordering::Relaxed),
                                Err(_) => failed.fetch_add(1, Ordering::Relaxed),
                            };
                        }
                        Err(_) => {
                            // Deadlocks between writers are possible; the rollback must leave nothing behind.
                            let _ = tx.rollback().await;
                            failed.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            });
        }
        Writers { stop, tasks, committed, failed }
    }

    /// Stop and wait for the writers.
    pub(crate) async fn stop(mut self) -> (u64, u64) {
        self.stop.store(true, Ordering::Relaxed);
        while self.tasks.join_next().await.is_some() {}
        (self.committed.load(Ordering::Relaxed), self.failed.load(Ordering::Relaxed))
    }

    /// Wait until every writer has finished its transactions.
    pub(crate) async fn join(mut self) -> (u64, u64) {
        while self.tasks.join_next().await.is_some() {}
        (self.committed.load(Ordering::Relaxed), self.failed.load(Ordering::Relaxed))
    }
}

/// One random business transaction: mostly new orders, plus status changes, price changes,
/// line edits and deletions.
async fn one_change(tx: &Transaction<'_>) -> Result<(), tokio_postgres::Error> {
    let roll = rand::rng().random_range(0..100);
    match roll {
        0..60 => {
            shop::try_random_order(tx).await?;
        }
        60..78 => {
            tx.execute(
                "update orders set status = 'served' where id = (select max(id) - (random() * 20)::int from orders) and status = 'placed'",
                &[],
            )
            .await?;
        }
        78..82 => {
            tx.batch_execute(
                "with o as (update orders set status = 'cancelled'
                            where id = (select max(id) - (random() * 20)::int from orders) and status = 'placed'
                            returning id, total)
                 insert into payments (order_id, amount, method) select id, -total, 'card' from o where total > 0",
            )
            .await?;
        }
        82..85 => {
            tx.execute("update products set price = price + 0.10 where id = 1 + (random() * 5)::int", &[]).await?;
        }
        85..91 => {
            tx.execute(
                "update order_items set quantity = quantity + 1 where id = (select max(id) - (random() * 30)::int from order_items)",
                &[],
            )
            .await?;
        }
        91..95 => {
            tx.execute(
                "delete from order_items where id = (select max(id) - (random() * 30)::int from order_items)",
                &[],
            )
            .await?;
        }
        95..98 => {
            tx.execute(
                "delete from inventory_movements where id = (select max(id) - (random() * 30)::int from inventory_movements)",
                &[],
            )
            .await?;
        }
        _ => {
            tx.execute(
                "insert into inventory_movements (product_id, store_id, quantity, reason)
                 values (1 + (random() * 5)::int, 1 + (random())::int, 24, 'restock')",
                &[],
            )
            .await?;
        }
    }
    Ok(())
}
