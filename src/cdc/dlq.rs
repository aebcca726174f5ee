//! The dead-letter table: `brewlytics dlq list` and `brewlytics dlq replay [--id N]`.
//!
//! A replay pushes each pending dead letter through the same transform and sink as the daemon,
//! in one transaction with marking it replayed; one that fails again keeps its row with the new
//! reason. Version guards make a replay of an old change harmless.

use tokio_postgres::Client;

use super::{
    change::ChangeRow,
    error::{classify, CdcError, ErrorKind},
};
use crate::warehouse::{sink::Sink, transform::transform};

/// One dead letter as `dlq list` shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DeadLetterEntry {
    pub id: i64,
    pub source_id: i64,
    pub table_name: Option<String>,
    pub op: Option<String>,
    pub row_id: Option<i64>,
    pub reason: String,
    pub error_kind: String,
    pub failed_at: String,
    pub replayed_at: Option<String>,
}

/// Dead letters, newest first.
pub async fn list(olap: &Client, include_replayed: bool) -> Result<Vec<DeadLetterEntry>, CdcError> {
    let rows = olap
        .query(
            "select id, source_id, table_name, op, row_id, reason, error_kind, failed_at::text, replayed_at::text
             from cdc_dead_letter where $1 or replayed_at is null order by id desc",
            &[&include_replayed],
        )
        .await
        .map_err(|e| CdcError::db("listing dead letters", e))?;
    Ok(rows
        .iter()
        .map(|r| DeadLetterEntry {
            id: r.get(0),
            source_id: r.get(1),
            table_name: r.get(2),
            op: r.get(3),
            row_id: r.get(4),
            reason: r.get(5),
            error_kind: r.get(6),
            failed_at: r.get(7),
            replayed_at: r.get(8),
        })
        .collect())
}

/// What a replay did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ReplayReport {
    pub replayed: Vec<i64>,
    pub failed: Vec<(i64, String)>,
}

/// Replay pending dead letters (one, with `id`).
pub async fn replay(olap: &mut Client, id: Option<i64>) -> Result<ReplayReport, CdcError> {
    let sink = Sink::prepare(olap).await.map_err(|e| CdcError::db("preparing the sink", e))?;
    let mut tx = olap.transaction().await.map_err(|e| CdcError::db("beginning a replay", e))?;
    let rows = tx
        .query(
            "select id, source_id, coalesce(txid, 0), coalesce(table_name, ''), coalesce(op, ''), coalesce(row_id, 0),
                    before::text, after::text, changed_at
             from cdc_dead_letter where replayed_at is null and ($1::int8 is null or id = $1)
             order by changed_at, source_id for update",
            &[&id],
        )
        .await
        .map_err(|e| CdcError::db("loading dead letters", e))?;
    let mut report = ReplayReport::default();
    for r in rows {
        let dl_id: i64 = r.get(0);
        let change = ChangeRow {
            id: r.get(1),
            txid: r.get(2),
            table: r.get(3),
            op: r.get(4),
            row_id: r.get(5),
            before: r.get(6),
            after: r.get(7),
            changed_at: r.get(8),
        };
        let batch = transform(std::slice::from_ref(&change));
        if let Some(dl) = batch.dead_letters.first() {
            mark_failed(&tx, dl_id, &dl.reason).await?;
            report.failed.push((dl_id, dl.reason.clone()));
            continue;
        }
        let sp = tx.savepoint("replay").await.map_err(|e| CdcError::db("savepoint", e))?;
        match sink.write(&sp, &batch).await {
            Ok(_) => {
                sp.commit().await.map_err(|e| CdcError::db("releasing a savepoint", e))?;
                tx.execute("update cdc_dead_letter set replayed_at = now() where id = $1", &[&dl_id])
                    .await
                    .map_err(|e| CdcError::db("marking a replay", e))?;
                report.replayed.push(dl_id);
            }
            Err(e) if classify(&e) == ErrorKind::Data => {
                let reason = e.as_db_error().map(|d| d.message().to_string()).unwrap_or_else(|| e.to_string());
                sp.rollback().await.map_err(|e| CdcError::db("rolling back a savepoint", e))?;
                mark_failed(&tx, dl_id, &format!("replay failed: {reason}")).await?;
                report.failed.push((dl_id, reason));
            }
            Err(e) => return Err(CdcError::db("replaying", e)),
        }
    }
    tx.commit().await.map_err(|e| CdcError::db("committing a replay", e))?;
    Ok(report)
}

async fn mark_failed(tx: &tokio_postgres::Transaction<'_>, id: i64, reason: &str) -> Result<(), CdcError> {
    tx.execute("update cdc_dead_letter set reason = $2, failed_at = now() where id = $1", &[&id, &reason])
        .await
        .map_err(|e| CdcError::db("recording a failed replay", e))?;
    Ok(())
}
