//! The OLTP side of a snapshot job: one repeatable-read, read-only transaction whose snapshot
//! every read of the job shares, and the reads themselves (binary `COPY`, as each table's
//! [`Read`] says): a table's rows in primary-key chunks, or one query whole. Only
//! `AccessShareLock`s are taken: writers never wait for a job.

use std::pin::pin;

use futures_util::TryStreamExt;
use tokio_postgres::{
    binary_copy::{BinaryCopyOutRow, BinaryCopyOutStream},
    types::Type,
    Client,
};

use crate::{
    cdc::{
        error::CdcError,
        stream::{gate::Lsn, identity::SourceMark, PgSnapshot},
    },
    tables::{self, Read, Source},
};

/// Rows of one source, in the order read.
#[derive(Default)]
pub(super) struct Chunk {
    pub rows: Vec<BinaryCopyOutRow>,
    /// The primary key of the last row read (0 when the chunk is empty or not keyed).
    pub last_id: i64,
}

/// An open repeatable-read transaction on OLTP.
pub(in crate::cdc) struct SnapshotReader {
    client: Client,
    /// The snapshot every read sees.
    pub snapshot: PgSnapshot,
    /// The WAL insert position read with it (what the standby gate waits for).
    pub lsn: Lsn,
    /// The source it reads.
    pub mark: SourceMark,
    /// Its id for `SET TRANSACTION SNAPSHOT` (valid while this transaction is open).
    exported: String,
}

impl SnapshotReader {
    /// Begin the transaction on `client` and take its snapshot.
    pub(in crate::cdc) async fn open(client: Client) -> Result<Self, CdcError> {
        let err = |e| CdcError::db("opening the snapshot transaction", e);
        client.batch_execute("begin isolation level repeatable read read only").await.map_err(err)?;
        let row = client
            .query_one(
                "select pg_current_snapshot()::text, pg_export_snapshot(), pg_current_wal_insert_lsn()::text,
                        s.system_identifier, s.timeline
                 from cdc_source_state() s",
                &[],
            )
            .await;
        let row = row.map_err(err)?;
        let snapshot = row.get::<_, String>(0).parse().map_err(|e| CdcError::internal("parsing a snapshot", e))?;
        let lsn = row.get::<_, String>(2).parse().map_err(|e| CdcError::internal("parsing a WAL position", e))?;
        let mark = SourceMark { system: row.get(3), timeline: row.get(4), max_id: 0, lsn: Some(lsn) };
        Ok(SnapshotReader { client, snapshot, lsn, mark, exported: row.get(1) })
    }

    /// A second reader on `client` that sees exactly what `self` sees (`SET TRANSACTION SNAPSHOT`).
    pub(in crate::cdc) async fn join(&self, client: Client) -> Result<Self, CdcError> {
        let err = |e| CdcError::db("joining the snapshot transaction", e);
        let sql = format!(
            "begin isolation level repeatable read read only; set transaction snapshot '{}'",
            self.exported.replace('\'', "")
        );
        client.batch_execute(&sql).await.map_err(err)?;
        Ok(SnapshotReader {
            client,
            snapshot: self.snapshot.clone(),
            lsn: self.lsn,
            mark: self.mark.clone(),
            exported: self.exported.clone(),
        })
    }

    /// Rows of `source` in the snapshot (exact, for progress).
    pub(super) async fn count(&self, source: &Source) -> Result<i64, CdcError> {
        let sql = format!("select count(*) from {}", source.name);
        let row = self.client.query_one(&sql, &[]).await.map_err(|e| CdcError::db("counting snapshot rows", e))?;
        Ok(row.get(0))
    }

    /// The next at most `limit` rows of keyed `source` after primary key `after`.
    pub(super) async fn chunk(&self, source: &Source, after: i64, limit: i64) -> Result<Chunk, CdcError> {
        let Read::Rows { columns, types } = source.snapshot.read else {
            return self.whole(source).await;
        };
        let query = format!("select {columns} from {} where id > {after} order by id limit {limit}", source.name);
        let rows = self.copy(&query, types).await?;
        let last_id = rows.last().map_or(0, tables::key_of);
        Ok(Chunk { rows, last_id })
    }

    /// Every row `source`'s query selects.
    pub(super) async fn whole(&self, source: &Source) -> Result<Chunk, CdcError> {
        let (query, types) = match &source.snapshot.read {
            Read::Rows { columns, types } => (format!("select {columns} from {} order by id", source.name), *types),
            Read::Query { sql, types } => (sql.to_string(), *types),
        };
        Ok(Chunk { rows: self.copy(&query, types).await?, last_id: 0 })
    }

    async fn copy(&self, query: &str, types: &[Type]) -> Result<Vec<BinaryCopyOutRow>, CdcError> {
        let err = |e| CdcError::db("reading snapshot rows", e);
        let stream = self.client.copy_out(&format!("copy ({query}) to stdout (format binary)")).await.map_err(err)?;
        let mut rows = pin!(BinaryCopyOutStream::new(stream, types));
        let mut out = Vec::new();
        while let Some(row) = rows.try_next().await.map_err(err)? {
            out.push(row);
        }
        Ok(out)
    }

    /// End the transaction (dropping the reader ends it too, with its connection).
    pub(in crate::cdc) async fn close(self) {
        let _ = self.client.batch_execute("commit").await;
    }
}
