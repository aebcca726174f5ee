//! Isolation: a batch the warehouse rejected as data is applied again change by change, each
//! under a savepoint, in the caller's transaction; the changes it rejects become dead letters
//! and the rest are applied.

use std::collections::BTreeMap;

use tokio_postgres::Transaction;

use super::{apply_reason, insert, DeadLetter, DeadLetterError, Kind};
use crate::{
    change::{ChangeRow, Op, Table},
    db::{classify, ErrorKind},
    warehouse::{transform, Sink, WarehouseBatch, WriteStats},
};

/// What an isolation pass applied, and the dead letters it wrote.
#[derive(Debug, Default)]
pub(crate) struct Isolated {
    pub applied: BTreeMap<(Table, Op), u64>,
    pub dead_letters: Vec<DeadLetter>,
    pub stats: Vec<WriteStats>,
}

/// Apply `rows` one by one in `tx` and write the dead letters; the caller saves its checkpoint
/// and commits.
pub(crate) async fn isolate(
    sink: &Sink,
    tx: &mut Transaction<'_>,
    rows: &[ChangeRow],
) -> Result<Isolated, DeadLetterError> {
    let mut out = Isolated::default();
    let mut ordered: Vec<&ChangeRow> = rows.iter().collect();
    ordered.sort_by_key(|c| c.version());
    for change in ordered {
        let mut single = transform(std::slice::from_ref(change));
        out.dead_letters.extend(single.rejected.drain(..).map(DeadLetter::from));
        if single.applied.is_empty() {
            continue;
        }
        match apply_one(sink, tx, &single).await? {
            Err(reason) => out.dead_letters.push(DeadLetter { change: change.clone(), kind: Kind::Apply, reason }),
            Ok(stats) => {
                out.stats.push(stats);
                for (key, n) in single.applied {
                    *out.applied.entry(key).or_default() += n;
                }
            }
        }
    }
    insert(&*tx, &out.dead_letters).await.map_err(DeadLetterError::at("writing dead letters"))?;
    Ok(out)
}

/// Write one change under a savepoint: `Err(reason)` when the warehouse rejects it as data.
async fn apply_one(
    sink: &Sink,
    tx: &mut Transaction<'_>,
    single: &WarehouseBatch,
) -> Result<Result<WriteStats, String>, DeadLetterError> {
    let sp = tx.savepoint("change").await.map_err(DeadLetterError::at("taking a savepoint"))?;
    match sink.write(&sp, single).await {
        Ok(stats) => {
            sp.commit().await.map_err(DeadLetterError::at("releasing a savepoint"))?;
            Ok(Ok(stats))
        }
        Err(e) if classify(&e) == ErrorKind::Data => {
            let reason = apply_reason(&e);
            sp.rollback().await.map_err(DeadLetterError::at("rolling back a savepoint"))?;
            Ok(Err(reason))
        }
        Err(e) => Err(DeadLetterError::at("writing a change")(e)),
    }
}
