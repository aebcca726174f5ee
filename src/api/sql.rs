//! Statements prepared once per pooled connection (deadpool's statement cache), saving a round
//! trip per query.

use deadpool_postgres::GenericClient;
use tokio_postgres::{types::ToSql, Error, Row};

/// Parameters of a statement.
pub(super) type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

/// All rows of a cached statement.
pub(super) async fn query<C: GenericClient>(c: &C, sql: &str, params: Params<'_>) -> Result<Vec<Row>, Error> {
    let stmt = c.prepare_cached(sql).await?;
    c.query(&stmt, params).await
}

/// At most one row of a cached statement.
pub(super) async fn query_opt<C: GenericClient>(c: &C, sql: &str, params: Params<'_>) -> Result<Option<Row>, Error> {
    let stmt = c.prepare_cached(sql).await?;
    c.query_opt(&stmt, params).await
}

/// Exactly one row of a cached statement.
pub(super) async fn query_one<C: GenericClient>(c: &C, sql: &str, params: Params<'_>) -> Result<Row, Error> {
    let stmt = c.prepare_cached(sql).await?;
    c.query_one(&stmt, params).await
}
