//! The source: snapshots and pages of changes from `cdc_orders` in OLTP.
//!
//! The reader runs single read-only statements, so it never holds a transaction id and never
//! holds back anything in OLTP. A page is the next changes of a window in (txid, id) order,
//! bounded by rows and bytes; it is streamed, so memory stays flat whatever the backlog.

use std::pin::pin;

use futures_util::TryStreamExt;
use tokio_postgres::{types::ToSql, Client, Statement};

use super::{
    gate::Lsn,
    identity::{self, Observed, Pruned},
    window::{PgSnapshot, Window},
};
use crate::cdc::error::CdcError;
use crate::change::{ChangeRow, Op, Position};

/// One poll of the source.
#[derive(Debug, Clone)]
pub(crate) struct Poll {
    pub snapshot: PgSnapshot,
    /// The WAL insert position when the snapshot was taken: every transaction it sees committed
    /// before it.
    pub lsn: Lsn,
    pub timeline: i32,
}

/// The snapshot, then the WAL insert position (after it: every commit the snapshot sees is
/// before it), and the timeline of that position.
const POLL_SQL: &str = "
    select pg_current_snapshot()::text, pg_current_wal_insert_lsn()::text,
           ('x' || substr(pg_walfile_name(pg_current_wal_insert_lsn()), 1, 8))::bit(32)::int4";

/// The next changes of a window.
#[derive(Debug, Default)]
pub(crate) struct Page {
    pub rows: Vec<ChangeRow>,
    /// No change of the window is left after these.
    pub complete: bool,
}

/// Reads `cdc_orders` over one OLTP connection.
pub(crate) struct Source {
    client: Client,
    page: Statement,
}

// Late commits (txids in the previous snapshot's in-progress list that have since finished)
// sort before the range part, as their txids are below prev.xmax; both parts walk the
// (txid, id) index from the position, and the outer order is on the xid8 columns (`c.txid`, not
// the int8 output column) so the two ordered scans merge and stop after `$6` rows. The range
// part's position (`$8`, `$9`) is at least the window's start (`$2`, 0): positioned at (0, 0),
// the scan walked the index from its beginning at every new window (11.6 ms at 0.8M change
// rows, 238 ms at 10M, against 0.015 and 1 ms).
const PAGE_SQL: &str = "
    select c.id, c.txid::text::int8, c.table_name, c.op, c.row_id, c.before::text, c.after::text, c.changed_at from (
        (select * from cdc_orders
         where txid = any($1::text[]::xid8[]) and (txid, id) > ($4::text::xid8, $5::int8)
         order by txid, id limit $6)
        union all
        (select * from cdc_orders
         where txid >= $2::text::xid8 and txid < $3::text::xid8 and txid <> all($7::text[]::xid8[])
           and (txid, id) > ($8::text::xid8, $9::int8)
         order by txid, id limit $6)
    ) c order by c.txid, c.id limit $6";

// A backlog written faster than autovacuum analyzes `cdc_orders` makes the planner expect a few
// rows in the window and pick a bitmap scan plus a top-N sort: every page then reads the whole
// rest of the window (measured: 200 ms instead of 15 ms per 5000-row page at an 800k backlog,
// quadratic overall). The reader's connection only runs these keyed reads, so it never wants a
// bitmap scan.
const SESSION_SQL: &str = "set enable_bitmapscan = off";

impl Source {
    /// Prepare the reader on an OLTP connection.
    pub(crate) async fn new(client: Client) -> Result<Self, CdcError> {
        let err = |e| CdcError::db("preparing the change reader", e);
        client.batch_execute(SESSION_SQL).await.map_err(err)?;
        let page = client.prepare(PAGE_SQL).await.map_err(err)?;
        Ok(Source { client, page })
    }

    /// The OLTP connection.
    pub(crate) fn client(&self) -> &Client {
        &self.client
    }

    /// The current snapshot, the WAL insert position read with it and the timeline. A plain
    /// `select` assigns no transaction id.
    pub(crate) async fn poll(&self) -> Result<Poll, CdcError> {
        let row = self.client.query_one(POLL_SQL, &[]).await.map_err(|e| CdcError::db("taking a snapshot", e))?;
        let snapshot = row.get::<_, String>(0).parse().map_err(|e| CdcError::internal("parsing a snapshot", e))?;
        let lsn = row.get::<_, String>(1).parse().map_err(|e| CdcError::internal("parsing a WAL position", e))?;
        Ok(Poll { snapshot, lsn, timeline: row.get(2) })
    }

    /// Everything the daemon checks of the source (see [`super::identity`]), with a current snapshot.
    pub(crate) async fn observe(&self) -> Result<Observed, CdcError> {
        let row = self
            .client
            .query_one(
                "select system_identifier, timeline, last_id, pruned_txid::text::int8, pg_current_snapshot()::text,
                        pruned_horizon::text, timeline_history
                 from cdc_source_state()",
                &[],
            )
            .await
            .map_err(|e| CdcError::db("reading the source's identity", e))?;
        let snapshot = row.get::<_, String>(4).parse().map_err(|e| CdcError::internal("parsing a snapshot", e))?;
        Ok(Observed {
            system: row.get(0),
            timeline: row.get(1),
            last_id: row.get(2),
            pruned: match (row.get::<_, Option<i64>>(3), row.get::<_, Option<String>>(5)) {
                (Some(max_txid), Some(horizon)) => Some(Pruned {
                    max_txid: max_txid as u64,
                    horizon: horizon.parse().map_err(|e| CdcError::internal("parsing the pruned horizon", e))?,
                }),
                _ => None,
            },
            snapshot: Some(snapshot),
            history: row.get::<_, Option<String>>(6).as_deref().and_then(identity::parse_history),
        })
    }

    /// The changes of `window` after `after`, at most `max_rows` rows and about `max_bytes` bytes.
    pub(crate) async fn read_page(
        &self,
        window: &Window,
        after: Option<Position>,
        max_rows: i64,
        max_bytes: i64,
    ) -> Result<Page, CdcError> {
        let text = |v: Vec<i64>| v.into_iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let (lo, hi) = window.range();
        let after = after.unwrap_or(Position { txid: 0, id: 0 });
        // Change ids are >= 1, so (lo, 0) is before every change of the range.
        let range_after = after.max(Position { txid: lo, id: 0 });
        let params: [&(dyn ToSql + Sync); 9] = [
            &text(window.late_commits()),
            &lo.to_string(),
            &hi.to_string(),
            &after.txid.to_string(),
            &after.id,
            &max_rows,
            &text(window.in_flight()),
            &range_after.txid.to_string(),
            &range_after.id,
        ];
        let err = |e| CdcError::db("reading changes", e);
        let mut stream = pin!(self.client.query_raw(&self.page, params).await.map_err(err)?);
        let mut page = Page::default();
        let mut bytes = 0i64;
        while let Some(row) = stream.try_next().await.map_err(err)? {
            let op = Op::from_code(row.get(3)).map_err(|e| CdcError::internal("decoding a change's op", e))?;
            let change = ChangeRow {
                id: row.get(0),
                txid: row.get(1),
                table: row.get(2),
                op,
                row_id: row.get(4),
                before: row.get(5),
                after: row.get(6),
                changed_at: row.get(7),
            };
            bytes += change.size() as i64;
            page.rows.push(change);
            if bytes >= max_bytes {
                // Stop early; the rest of the window comes in the next page.
                return Ok(page);
            }
        }
        page.complete = (page.rows.len() as i64) < max_rows;
        Ok(page)
    }
}
