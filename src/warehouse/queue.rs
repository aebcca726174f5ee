//! A queue of prepared statements sent back to back on one connection (pipelined): the server
//! executes them one after another in the order sent, so each sees the writes of those before
//! it; only the client's round-trip waits between them go.

use tokio_postgres::{types::ToSql, Statement, Transaction};

/// An owned statement parameter.
pub type Param = Box<dyn ToSql + Sync + Send>;

/// Box a parameter.
pub fn bx<T: ToSql + Sync + Send + 'static>(v: T) -> Param {
    Box::new(v)
}

/// Statements to send back to back.
#[derive(Default)]
pub struct Queue<'s> {
    calls: Vec<(&'s Statement, Vec<Param>)>,
}

impl<'s> Queue<'s> {
    /// Queue a statement; returns its index in [`Queue::run`]'s result.
    pub fn push(&mut self, stmt: &'s Statement, params: Vec<Param>) -> usize {
        self.calls.push((stmt, params));
        self.calls.len() - 1
    }

    /// Send every statement, then wait for all; rows affected per statement, or the first error
    /// in sending order (the statements after a failed one fail only because the transaction
    /// aborted). `join_all` polls its futures in order, and each sends its request on its first
    /// poll, so the sending order is the queue's order.
    pub async fn run(self, tx: &Transaction<'_>) -> Result<Vec<u64>, tokio_postgres::Error> {
        let calls = self.calls.iter().map(|(stmt, params)| {
            let params: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p.as_ref() as &(dyn ToSql + Sync)).collect();
            async move { tx.execute(*stmt, &params).await }
        });
        futures_util::future::join_all(calls).await.into_iter().collect()
    }
}
