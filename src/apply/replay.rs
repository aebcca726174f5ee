//! `brewlytics dlq replay [--id N]`: each pending dead letter goes through the apply step again,
//! inside one transaction with its marking: applied, it is marked replayed; failing again, it keeps
//! its row with the new reason (the apply step writes the letter again). Version guards make a
//! replay of an old change harmless. A snapshot row's letter (kind `snapshot`) replays the row as
//! OLTP holds it now (none left: there is nothing to load), so it succeeds once either the row or
//! the warehouse has been fixed.

use tokio_postgres::{Client, Row, Transaction};

use super::{Applier, ApplyError, Input};
use crate::{
    change::{ChangeRow, Op},
    db,
    dead_letter::Kind,
    tables,
};

/// What a replay did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ReplayReport {
    pub replayed: Vec<i64>,
    pub failed: Vec<(i64, String)>,
}

/// Replay pending dead letters (one, with `id`); `oltp` gives snapshot rows as they are now.
pub async fn replay(olap: &mut Client, oltp: &Client, id: Option<i64>) -> Result<ReplayReport, ApplyError> {
    db::citus::tune_session(olap).await.map_err(ApplyError::db("preparing the warehouse session"))?;
    let applier = Applier::prepare_as(olap, db::Writer::Replay).await?;
    let mut tx = olap.transaction().await.map_err(ApplyError::db("beginning a replay"))?;
    // Before its letters' row locks: a batch that holds the lock may be waiting for one of them
    // (dead-lettering the same change again); taken in the other order, the two would deadlock.
    db::Writer::Replay.lock(&tx).await.map_err(ApplyError::db("taking the writers' lock"))?;
    let rows = tx
        .query(
            "select id, source_id, coalesce(txid, 0), coalesce(table_name, ''), coalesce(op, ''), coalesce(row_id, 0),
                    before::text, after::text, changed_at, error_kind
             from cdc_dead_letter where replayed_at is null and ($1::int8 is null or id = $1)
             order by changed_at, source_id for update",
            &[&id],
        )
        .await
        .map_err(ApplyError::db("loading dead letters"))?;
    let mut report = ReplayReport::default();
    for r in rows {
        let letter: i64 = r.get(0);
        let change = match stored_change(&r, oltp).await? {
            Ok(Some(change)) => change,
            // A snapshot row OLTP no longer has: nothing to load.
            Ok(None) => {
                mark_replayed(&tx, letter).await?;
                report.replayed.push(letter);
                continue;
            }
            Err(reason) => {
                mark_failed(&tx, letter, &reason).await?;
                report.failed.push((letter, reason));
                continue;
            }
        };
        let applied = applier.apply_in(&mut tx, Input::Changes(std::slice::from_ref(&change))).await?;
        match applied.dead_letters.into_iter().next() {
            None => {
                mark_replayed(&tx, letter).await?;
                report.replayed.push(letter);
            }
            Some(again) => report.failed.push((letter, again.reason)),
        }
    }
    tx.commit().await.map_err(ApplyError::db("committing a replay"))?;
    Ok(report)
}

/// The change a stored letter holds (a snapshot row's: as OLTP holds the row now, `None` when it
/// is gone); `Err(reason)` when it cannot be read back.
async fn stored_change(r: &Row, oltp: &Client) -> Result<Result<Option<ChangeRow>, String>, ApplyError> {
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
    if Kind::parse(r.get(9)) == Some(Kind::Snapshot) {
        match current_image(oltp, &change.table, change.row_id).await? {
            Some(image) => change.after = Some(image),
            None => return Ok(Ok(None)),
        }
    }
    Ok(Ok(Some(change)))
}

/// A row's image as OLTP holds it now (`row_to_json`, as the capture triggers render it); `None`
/// when the row is gone or `table` is not a captured table.
async fn current_image(oltp: &Client, table: &str, row_id: i64) -> Result<Option<String>, ApplyError> {
    let Some((_, source)) = tables::source(table) else { return Ok(None) };
    let sql = format!("select row_to_json(t)::text from {} t where id = $1::int8", source.name);
    let row = oltp.query_opt(&sql, &[&row_id]).await.map_err(ApplyError::db("reading a snapshot row"))?;
    Ok(row.map(|r| r.get(0)))
}

async fn mark_replayed(tx: &Transaction<'_>, id: i64) -> Result<(), ApplyError> {
    tx.execute("update cdc_dead_letter set replayed_at = now() where id = $1", &[&id])
        .await
        .map_err(ApplyError::db("marking a replay"))?;
    Ok(())
}

async fn mark_failed(tx: &Transaction<'_>, id: i64, reason: &str) -> Result<(), ApplyError> {
    tx.execute("update cdc_dead_letter set reason = $2, failed_at = now() where id = $1", &[&id, &reason])
        .await
        .map_err(ApplyError::db("recording a failed replay"))?;
    Ok(())
}
