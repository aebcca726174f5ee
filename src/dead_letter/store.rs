//! The `cdc_dead_letter` table: write, list, count.

use tokio_postgres::{types::ToSql, Client, GenericClient};

use super::{DeadLetter, DeadLetterError};

/// Record changes that cannot be applied, in the caller's transaction; one replayed and failing
/// again is updated in place.
pub(crate) async fn insert(tx: &impl GenericClient, r: &[DeadLetter]) -> Result<(), tokio_postgres::Error> {
    if r.is_empty() {
        return Ok(());
    }
    let params: [&(dyn ToSql + Sync); 10] = [
        &r.iter().map(|x| x.change.id).collect::<Vec<_>>(),
        &r.iter().map(|x| x.change.txid).collect::<Vec<_>>(),
        &r.iter().map(|x| x.change.table.as_str()).collect::<Vec<_>>(),
        &r.iter().map(|x| x.change.op.code()).collect::<Vec<_>>(),
        &r.iter().map(|x| x.change.row_id).collect::<Vec<_>>(),
        &r.iter().map(|x| x.change.before.as_deref()).collect::<Vec<_>>(),
        &r.iter().map(|x| x.change.after.as_deref()).collect::<Vec<_>>(),
        &r.iter().map(|x| x.change.changed_at).collect::<Vec<_>>(),
        &r.iter().map(|x| x.reason.as_str()).collect::<Vec<_>>(),
        &r.iter().map(|x| x.kind.as_str()).collect::<Vec<_>>(),
    ];
    tx.execute(INSERT, &params).await.map(drop)
}

/// The time of failure comes from the `select` list, not from a function in `do update set`
/// (which Citus refuses for any table it manages; `cdc_dead_letter` stays local, but the
/// statement keeps to the sink's rules).
const INSERT: &str = "
    insert into cdc_dead_letter (source_id, txid, table_name, op, row_id, before, after, changed_at, reason, error_kind,
                                 failed_at)
    select s.*, now() from unnest($1::int8[], $2::int8[], $3::text[], $4::text[], $5::int8[], $6::text[]::jsonb[],
                                  $7::text[]::jsonb[], $8::timestamptz[], $9::text[], $10::text[]) as s
    on conflict (source_id) do update set reason = excluded.reason, error_kind = excluded.error_kind,
      failed_at = excluded.failed_at, replayed_at = null";

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
pub async fn list(olap: &Client, include_replayed: bool) -> Result<Vec<DeadLetterEntry>, DeadLetterError> {
    let rows = olap
        .query(
            "select id, source_id, table_name, op, row_id, reason, error_kind, failed_at::text, replayed_at::text
             from cdc_dead_letter where $1 or replayed_at is null order by id desc",
            &[&include_replayed],
        )
        .await
        .map_err(DeadLetterError::at("listing dead letters"))?;
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

/// Dead letters not yet replayed.
pub async fn pending(olap: &Client) -> Result<i64, tokio_postgres::Error> {
    Ok(olap.query_one("select count(*) from cdc_dead_letter where replayed_at is null", &[]).await?.get(0))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_upsert_calls_no_function_in_do_update_set() {
        let (_, set) = super::INSERT.split_once("do update set").expect("an upsert");
        assert!(!set.contains('('), "a function call in do update set: {set}");
        assert!(super::INSERT.contains("now() from unnest"), "the time comes from the select list");
    }
}
