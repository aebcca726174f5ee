//! `brewlytics dlq replay [--id N]`: push each pending dead letter through the same transform and
//! sink as the daemon, in one transaction with marking it replayed; one that fails again keeps
//! its row with the new reason. Version guards make a replay of an old change harmless. A
//! snapshot row's letter (kind `snapshot`) replays the row as OLTP holds it now (none left: there
//! is nothing to load), so it succeeds once either the row or the warehouse has been fixed.

use tokio_postgres::{Client, Row, Transaction};

use super::{apply_reason, snapshot, DeadLetterError, Kind};
use crate::{
    change::{ChangeRow, Op},
    db::{self, classify, ErrorKind},
    warehouse::{transform, Sink},
};

/// What a replay did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ReplayReport {
    pub replayed: Vec<i64>,
    pub failed: Vec<(i64, String)>,
}

/// Replay pending dead letters (one, with `id`); `oltp` gives snapshot rows as they are now.
pub async fn replay(olap: &mut Client, oltp: &Client, id: Option<i64>) -> Result<ReplayReport, DeadLetterError> {
    db::citus::tune_session(olap).await.map_err(DeadLetterError::at("preparing the warehouse session"))?;
    let sink = Sink::prepare(olap).await.map_err(DeadLetterError::at("preparing the sink"))?;
    let mut tx = olap.transaction().await.map_err(DeadLetterError::at("beginning a replay"))?;
    let rows = tx
        .query(
            "select id, source_id, coalesce(txid, 0), coalesce(table_name, ''), coalesce(op, ''), coalesce(row_id, 0),
                    before::text, after::text, changed_at, error_kind
             from cdc_dead_letter where replayed_at is null and ($1::int8 is null or id = $1)
             order by changed_at, source_id for update",
            &[&id],
        )
        .await
        .map_err(DeadLetterError::at("loading dead letters"))?;
    let mut report = ReplayReport::default();
    for r in rows {
        let dl_id: i64 = r.get(0);
        match replay_one(&sink, &mut tx, oltp, &r).await? {
            Ok(()) => report.replayed.push(dl_id),
            Err(reason) => {
                mark_failed(&tx, dl_id, &reason).await?;
                report.failed.push((dl_id, reason));
            }
        }
    }
    tx.commit().await.map_err(DeadLetterError::at("committing a replay"))?;
    Ok(report)
}

/// Apply one stored dead letter; `Err(reason)` when it fails again.
async fn replay_one(
    sink: &Sink,
    tx: &mut Transaction<'_>,
    oltp: &Client,
    r: &Row,
) -> Result<Result<(), String>, DeadLetterError> {
    let op = match Op::from_code(r.get(4)) {
        Ok(op) => op,
        Err(e) => return Ok(Err(e.to_string())),
    };
    let mut change = ChangeRow {
        id: r.get(1),
        txid: r.get(2),
        table: r.get(3),
        op,
        row_id: r.get(5),
        before: r.get(6),
        after: r.get(7),
        changed_at: r.get(8),
    };
    if r.get::<_, &str>(9) == Kind::Snapshot.as_str() {
        match snapshot::current_image(oltp, &change.table, change.row_id).await? {
            Some(image) => change.after = Some(image),
            None => return mark_replayed(tx, r.get(0)).await.map(Ok),
        }
    }
    let batch = transform(std::slice::from_ref(&change));
    if let Some(rejected) = batch.rejected.first() {
        return Ok(Err(rejected.error.to_string()));
    }
    let sp = tx.savepoint("replay").await.map_err(DeadLetterError::at("taking a savepoint"))?;
    match sink.write(&sp, &batch).await {
        Ok(_) => {
            sp.commit().await.map_err(DeadLetterError::at("releasing a savepoint"))?;
            mark_replayed(tx, r.get(0)).await.map(Ok)
        }
        Err(e) if classify(&e) == ErrorKind::Data => {
            let reason = format!("replay failed: {}", apply_reason(&e));
            sp.rollback().await.map_err(DeadLetterError::at("rolling back a savepoint"))?;
            Ok(Err(reason))
        }
        Err(e) => Err(DeadLetterError::at("replaying")(e)),
    }
}

async fn mark_replayed(tx: &Transaction<'_>, id: i64) -> Result<(), DeadLetterError> {
    tx.execute("update cdc_dead_letter set replayed_at = now() where id = $1", &[&id])
        .await
        .map_err(DeadLetterError::at("marking a replay"))?;
    Ok(())
}

async fn mark_failed(tx: &Transaction<'_>, id: i64, reason: &str) -> Result<(), DeadLetterError> {
    tx.execute("update cdc_dead_letter set reason = $2, failed_at = now() where id = $1", &[&id, &reason])
        .await
        .map_err(DeadLetterError::at("recording a failed replay"))?;
    Ok(())
}
