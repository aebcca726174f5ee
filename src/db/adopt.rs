//! Upgrading from the original Brewlytics: before refinery runs, `brewlytics migrate` looks at
//! what it was pointed at. An empty database or one of ours is migrated as usual; a database the
//! original's Flyway migrations V1–V5 created is adopted (its rows kept with their ids, its schema
//! brought to ours in one transaction, its own change log kept aside in `brewlytics_legacy`,
//! never replayed); anything else is refused with every difference named, and left untouched.
//!
//! The SQL lives in `src/db/adopt/`: `detect_*.sql` list what the original's databases hold and
//! `detect.sql` compares a database with that, in one query; the other
//! files are the steps of the adoption, run in this order with our own V1 and V2 verbatim in
//! between (so `public` ends exactly as a database our migrations created).

use tokio_postgres::Client;

use super::{embedded::oltp_migration, Db, DbError};

/// The classifying query of each database: what the original's holds, then the shared comparison.
const DETECT_OLTP: &str = concat!(include_str!("adopt/detect_oltp.sql"), include_str!("adopt/detect.sql"));
const DETECT_OLAP: &str = concat!(include_str!("adopt/detect_olap.sql"), include_str!("adopt/detect.sql"));

/// What a database holds before `migrate`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Found {
    /// Nothing of anyone's: migrate it.
    Empty,
    /// Ours (refinery's history table is there): migrate it.
    Ours,
    /// The original Brewlytics: adopt it, then migrate it.
    Original,
    /// Something else, with every difference from the original's schema.
    Other(Vec<String>),
}

/// Classify `client`'s database.
pub(super) async fn inspect(client: &Client, db: Db) -> Result<Found, DbError> {
    let sql = match db {
        Db::Oltp => DETECT_OLTP,
        Db::Olap => DETECT_OLAP,
    };
    let rows =
        client.query(sql, &[]).await.map_err(|source| DbError::Sql { step: "inspecting the database", source })?;
    let kind: Option<String> = rows.first().map(|r| r.get(0));
    Ok(match kind.as_deref() {
        Some("empty") | None => Found::Empty,
        Some("ours") => Found::Ours,
        Some("original") => Found::Original,
        Some(_) => Found::Other(
            rows.iter()
                .map(|r| {
                    let (table, column, problem): (Option<String>, Option<String>, Option<String>) =
                        (r.get(1), r.get(2), r.get(3));
                    let place = [table, column].into_iter().flatten().collect::<Vec<_>>().join(".");
                    format!("{place}: {}", problem.unwrap_or_default())
                })
                .collect(),
        ),
    })
}

/// Adopt the original's database in one transaction (a refusal rolls everything back).
pub(super) async fn adopt(client: &mut Client, db: Db) -> Result<(), DbError> {
    let script = match db {
        Db::Oltp => oltp_script()?,
        Db::Olap => {
            [include_str!("adopt/olap_10_settings.sql"), DETECT_OLAP, include_str!("adopt/olap_20_move.sql")].concat()
        }
    };
    let sql = |source| DbError::Sql { step: "adopting the original Brewlytics database", source };
    let tx = client.transaction().await.map_err(sql)?;
    tx.batch_execute(&script).await.map_err(sql)?;
    tx.commit().await.map_err(sql)?;
    if db == Db::Oltp {
        let report = client
            .query_one("select row_to_json(a)::text from brewlytics_legacy.adoption a", &[])
            .await
            .map_err(|source| DbError::Sql { step: "reading the adoption record", source })?;
        tracing::info!(report = report.get::<_, String>(0), "adopted the original Brewlytics coffee_oltp");
    } else {
        tracing::info!("moved the original Brewlytics warehouse aside into schema brewlytics_legacy");
    }
    Ok(())
}

/// The OLTP adoption: checks, set aside, our V1, copy, our V2, finish (see the module docs).
fn oltp_script() -> Result<String, DbError> {
    let (v1, v2) = (oltp_migration(1)?, oltp_migration(2)?);
    let finish = include_str!("adopt/40_finish.sql")
        .replace("__REFINERY_V1_CHECKSUM__", &v1.checksum().to_string())
        .replace("__REFINERY_V2_CHECKSUM__", &v2.checksum().to_string());
    let v1_sql = v1.sql().unwrap_or_default().to_string();
    let v2_sql = v2.sql().unwrap_or_default().to_string();
    Ok([
        include_str!("adopt/10_settings.sql"),
        DETECT_OLTP,
        include_str!("adopt/11_refuse_kind.sql"),
        "create temp table adopt_problems on commit drop as\n",
        include_str!("adopt/preflight.sql"),
        include_str!("adopt/15_refuse.sql"),
        include_str!("adopt/20_set_aside.sql"),
        &v1_sql,
        include_str!("adopt/30_copy.sql"),
        &v2_sql,
        &finish,
    ]
    .join("\n"))
}
