//! The warehouse on Citus: where each table lives on a coordinator and its workers, and the
//! distribution step `brewlytics migrate` runs after the migrations when the `citus` extension
//! is in the warehouse database (the extension is the switch: no option, and nothing happens on
//! plain PostgreSQL).
//!
//! * Dimensions are **reference tables** (a copy on every node: every fact joins them).
//! * `fact_orders`, `fact_sales`, `fact_payments` and `fact_feedback` are **distributed by
//!   `order_id`** and colocated: an order's lines, payments and rating live on the shard of the
//!   order, so the sink's
//!   look-ups of `fact_orders` and the header updates stay on the batch's shards.
//! * `fact_inventory` is distributed by `store_id`, in a colocation group of its own.
//! * The fact tables partitioned by order id range (`fact_orders`, `fact_sales`, `fact_payments`,
//!   `fact_feedback`) are distributed partitioned tables: their partitions follow.
//! * The daemon's bookkeeping (`cdc_offset`, `cdc_dead_letter`, `cdc_snapshot`,
//!   `cdc_snapshot_table`), the rollups (`rollup_*`) and refinery's history stay **plain local
//!   tables on the coordinator**:
//!   a batch commits them in the same transaction as its facts, and Citus's two-phase commit makes
//!   the coordinator's local commit the decision for every worker.
//!
//! The step is idempotent: it reads `pg_dist_partition` first and places only what is not placed
//! yet (a second `create_distributed_table` fails with 42P16), in one transaction; a table placed
//! differently (another distribution column or colocation) is an error naming it, never changed.

use std::collections::BTreeMap;

use tokio_postgres::Client;

use super::DbError;
use crate::tables::{self, Placement};

/// The calendar: reference tables no captured table loads.
const CALENDAR: [&str; 2] = ["dim_date", "dim_time"];

/// The warehouse tables Citus holds, in the order they are placed (a colocated table after the
/// table it follows): the calendar, then each table's star tables as it says
/// ([`crate::tables::Target::placement`]).
pub(crate) fn layout() -> Vec<(&'static str, Placement)> {
    let calendar = CALENDAR.into_iter().map(|t| (t, Placement::Reference));
    calendar.chain(tables::targets().map(|(_, t)| (t.name, t.placement))).collect()
}

/// The daemon's bookkeeping: plain local tables on the coordinator (they commit with each batch).
const BOOKKEEPING: [&str; 5] =
    ["cdc_offset", "cdc_dead_letter", "cdc_snapshot", "cdc_snapshot_table", "refinery_schema_history"];

/// Tables that stay plain local tables on the coordinator: the bookkeeping, and the rollups (a
/// few thousand rows per year, moved by every batch with its checkpoint, read by every reader
/// through the coordinator).
pub(crate) fn local() -> Vec<&'static str> {
    BOOKKEEPING.into_iter().chain(crate::rollups::ROLLUPS.iter().map(|r| r.table)).collect()
}

/// The distribution column of a warehouse table, if Citus distributes it (the tests of the sink's
/// statements check their shape against it).
#[cfg(test)]
pub(crate) fn distribution_column(table: &str) -> Option<&'static str> {
    layout().into_iter().find(|(t, _)| *t == table).and_then(|(_, p)| match p {
        Placement::Distributed { column, .. } => Some(column),
        Placement::Reference => None,
    })
}

/// What `pg_dist_partition` says about a table already known to Citus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Placed {
    Reference,
    Distributed {
        column: String,
        colocation: i32,
    },
    /// Anything else (a Citus-managed local table, a single-shard table, append distribution).
    Other(String),
}

/// A table Citus already holds, but not as [`layout`] says.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{table} is already {found} on Citus, but the warehouse needs it {wanted}; undistribute it (undistribute_table) and run migrate again")]
pub struct Misplaced {
    pub table: String,
    pub found: String,
    pub wanted: String,
}

/// The statements that place every table of [`layout`] not in `placed`, in order. Fails on a
/// table placed differently (see [`Misplaced`]).
pub(crate) fn plan(placed: &BTreeMap<String, Placed>) -> Result<Vec<String>, Misplaced> {
    let mut statements = Vec::new();
    for (table, wanted) in layout() {
        match placed.get(table) {
            None => statements.push(create(table, wanted)),
            Some(found) => check(table, wanted, found, placed)?,
        }
    }
    Ok(statements)
}

fn create(table: &str, placement: Placement) -> String {
    match placement {
        Placement::Reference => format!("select create_reference_table('public.{table}')"),
        Placement::Distributed { column, with } => {
            let with = with.map_or_else(|| "none".to_string(), |t| format!("public.{t}"));
            format!("select create_distributed_table('public.{table}', '{column}', colocate_with => '{with}')")
        }
    }
}

fn check(table: &str, wanted: Placement, found: &Placed, placed: &BTreeMap<String, Placed>) -> Result<(), Misplaced> {
    let ok = match (wanted, found) {
        (Placement::Reference, Placed::Reference) => true,
        (Placement::Distributed { column, with }, Placed::Distributed { column: c, colocation }) => c == column
            && with.is_none_or(
                |w| matches!(placed.get(w), Some(Placed::Distributed { colocation: other, .. }) if other == colocation),
            ),
        _ => false,
    };
    if ok {
        return Ok(());
    }
    Err(Misplaced { table: table.to_string(), found: describe_placed(found), wanted: describe(wanted) })
}

fn describe(p: Placement) -> String {
    match p {
        Placement::Reference => "a reference table".into(),
        Placement::Distributed { column, with: Some(w) } => format!("distributed by {column}, colocated with {w}"),
        Placement::Distributed { column, with: None } => format!("distributed by {column}"),
    }
}

fn describe_placed(p: &Placed) -> String {
    match p {
        Placed::Reference => "a reference table".into(),
        Placed::Distributed { column, colocation } => {
            format!("distributed by {column} (colocation group {colocation})")
        }
        Placed::Other(what) => what.clone(),
    }
}

/// Whether the warehouse database has the `citus` extension.
pub(crate) async fn is_citus(client: &Client) -> Result<bool, tokio_postgres::Error> {
    Ok(client.query_one("select exists (select from pg_extension where extname = 'citus')", &[]).await?.get(0))
}

/// Connections a session's Citus executor keeps open to each worker between transactions. Citus
/// keeps 1 by default, so each batch that touches several shards of a worker opens new
/// connections (TCP, TLS, backend start) for the others; measured in docs/SCALING.md.
const CACHED_CONNECTIONS_PER_WORKER: &str = "16";

/// The settings [`tune_session`] gives a warehouse session on Citus, each unless configured
/// otherwise (for the role, the database or the server):
/// * `citus.max_cached_conns_per_worker`: see [`CACHED_CONNECTIONS_PER_WORKER`];
/// * `citus.multi_shard_modify_mode = sequential`: a batch writes reference tables (dimensions,
///   inferred members) and then distributed facts in one transaction. In the default `parallel`
///   mode Citus may write two shards of one worker over two connections, and the next statement
///   that needs both (a fact upsert reading `fact_orders` after the dimension write) then fails
///   with 25001 `cannot perform query with placements that were modified over multiple
///   connections`, depending on timing. One connection per worker for multi-shard writes is the
///   mode Citus documents for this; the batch still writes both workers at once.
const SESSION_SETTINGS: [(&str, &str); 2] = [
    ("citus.max_cached_conns_per_worker", CACHED_CONNECTIONS_PER_WORKER),
    ("citus.multi_shard_modify_mode", "sequential"),
];

/// The `set` statements for a Citus session whose [`SESSION_SETTINGS`] come from `sources`
/// (`pg_settings.source` by name): only those still at their default.
fn session_statements(sources: &BTreeMap<String, String>) -> Vec<String> {
    SESSION_SETTINGS
        .iter()
        .filter(|(name, _)| sources.get(*name).is_some_and(|source| source == "default"))
        .map(|(name, value)| format!("set {name} = '{value}'"))
        .collect()
}

/// Prepare a warehouse session that runs the sink (the daemon's, `dlq replay`'s): on Citus, apply
/// [`SESSION_SETTINGS`] (see there); nothing on plain PostgreSQL.
pub(crate) async fn tune_session(client: &Client) -> Result<(), tokio_postgres::Error> {
    if !is_citus(client).await? {
        return Ok(());
    }
    let names: Vec<String> = SESSION_SETTINGS.iter().map(|(n, _)| n.to_string()).collect();
    let rows = client.query("select name, source from pg_settings where name = any($1)", &[&names]).await?;
    let sources: BTreeMap<String, String> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    for statement in session_statements(&sources) {
        client.batch_execute(&statement).await?;
    }
    Ok(())
}

/// What the distribution step did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Distributed {
    /// Tables placed by this run.
    pub placed: Vec<&'static str>,
    /// Tables of [`layout`] found placed already.
    pub already: usize,
}

/// On a Citus coordinator, place every warehouse table as [`layout`] says (see the module docs);
/// `None` on plain PostgreSQL.
pub(crate) async fn distribute(client: &mut Client) -> Result<Option<Distributed>, DbError> {
    let sql = |step| move |source| DbError::Sql { step, source };
    if !is_citus(client).await.map_err(sql("looking for the citus extension"))? {
        return Ok(None);
    }
    let placed = placed(client).await.map_err(sql("reading pg_dist_partition"))?;
    let statements = plan(&placed).map_err(DbError::Misplaced)?;
    let layout = layout();
    let pending: Vec<&'static str> = layout.iter().map(|(t, _)| *t).filter(|t| !placed.contains_key(*t)).collect();
    warn_unplaced(client).await.map_err(sql("listing the warehouse tables"))?;
    if statements.is_empty() {
        return Ok(Some(Distributed { placed: vec![], already: layout.len() }));
    }
    let tx = client.transaction().await.map_err(sql("distributing the warehouse on Citus"))?;
    choose_shard_count(&tx).await.map_err(sql("choosing the shard count"))?;
    for statement in &statements {
        tx.batch_execute(statement).await.map_err(sql("distributing the warehouse on Citus"))?;
    }
    // The rows a table held (the calendar, the unknown members, or a whole warehouse moved here)
    // were copied into its shards; the coordinator's own copy is hidden but still on disk.
    for table in &pending {
        tx.batch_execute(&format!("select truncate_local_data_after_distributing_table('public.{table}')"))
            .await
            .map_err(sql("removing the coordinator's copies of distributed tables"))?;
    }
    tx.commit().await.map_err(sql("distributing the warehouse on Citus"))?;
    for table in &pending {
        tracing::info!(table, "citus: table placed");
    }
    Ok(Some(Distributed { already: layout.len() - pending.len(), placed: pending }))
}

/// Shards per distributed table on a cluster of `workers` (at least one): four per worker.
///
/// Every batch the daemon applies touches every shard of each fact table it writes (its orders
/// hash to all of them), and Citus runs one task per shard and statement, those of a worker one
/// after another in the daemon's sessions (see [`SESSION_SETTINGS`]). So the drain slows
/// with the shard count (measured in docs/SCALING.md: 32 shards, Citus's default, drain at 0.10 of
/// one PostgreSQL; 8 shards at 0.45), while readers gain from more shards only up to the cores
/// that run them. Four per worker keeps each worker's cores busy for readers, and lets the cluster
/// grow to four times its workers by moving shards (`citus_rebalance_start()`) before a table has
/// to be split.
fn shard_count(workers: i64) -> i64 {
    4 * workers.max(1)
}

/// Set the shard count of the tables this transaction distributes ([`shard_count`]), unless
/// `citus.shard_count` is configured (for the role, the database or the server): that is kept.
async fn choose_shard_count(tx: &tokio_postgres::Transaction<'_>) -> Result<(), tokio_postgres::Error> {
    let row = tx
        .query_one(
            "select (select source from pg_settings where name = 'citus.shard_count'),
                    (select count(*) from citus_get_active_worker_nodes())",
            &[],
        )
        .await?;
    let (source, workers): (String, i64) = (row.get(0), row.get(1));
    if source != "default" {
        tracing::info!(source, "citus: the configured citus.shard_count is kept");
        return Ok(());
    }
    let shards = shard_count(workers);
    tracing::info!(workers, shards, "citus: shards per distributed table");
    tx.batch_execute(&format!("set local citus.shard_count = {shards}")).await
}

/// The tables of `public` Citus holds, with their placement.
async fn placed(client: &Client) -> Result<BTreeMap<String, Placed>, tokio_postgres::Error> {
    let rows = client
        .query(
            "select c.relname::text, p.partmethod::text, p.repmodel::text, p.colocationid,
                    case when p.partkey is not null and p.partkey <> ''
                         then column_to_column_name(p.logicalrelid, p.partkey) end
             from pg_dist_partition p join pg_class c on c.oid = p.logicalrelid
             where c.relnamespace = 'public'::regnamespace",
            &[],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| {
            let (method, model, column): (String, String, Option<String>) = (r.get(1), r.get(2), r.get(4));
            let placed = match (method.as_str(), model.as_str(), column) {
                ("n", "t", _) => Placed::Reference,
                ("h", _, Some(column)) => Placed::Distributed { column, colocation: r.get(3) },
                _ => Placed::Other(format!("a Citus table of method '{method}', replication '{model}'")),
            };
            (r.get(0), placed)
        })
        .collect())
}

/// Warn about tables of `public` neither in [`layout`] nor in [`local`]: they stay local tables
/// on the coordinator, which works but is read and written through the coordinator alone.
async fn warn_unplaced(client: &Client) -> Result<(), tokio_postgres::Error> {
    for table in unplaced(client).await? {
        tracing::warn!(table, "citus: a table the distribution layout does not know stays local on the coordinator");
    }
    Ok(())
}

/// The tables of `public` (partitions and extensions' tables aside: partitions follow their
/// parent) that neither [`layout`] places nor [`local`] keeps on the coordinator. Empty for the
/// warehouse `migrate` builds (a test holds the migrations and the layout to that).
pub async fn unplaced(client: &Client) -> Result<Vec<String>, tokio_postgres::Error> {
    let rows = client
        .query(
            "select c.relname::text from pg_class c
             where c.relnamespace = 'public'::regnamespace and c.relkind in ('r', 'p') and not c.relispartition
               and not exists (select from pg_depend d where d.classid = 'pg_class'::regclass and d.objid = c.oid
                               and d.deptype = 'e')
             order by 1",
            &[],
        )
        .await?;
    let (layout, local) = (layout(), local());
    Ok(rows
        .iter()
        .map(|row| row.get::<_, String>(0))
        .filter(|table| !layout.iter().any(|(t, _)| t == table) && !local.contains(&table.as_str()))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn distributed(column: &str, colocation: i32) -> Placed {
        Placed::Distributed { column: column.into(), colocation }
    }

    #[test]
    fn four_shards_per_worker() {
        assert_eq!(shard_count(2), 8);
        assert_eq!(shard_count(3), 12);
        assert_eq!(shard_count(0), 4, "shards on the coordinator alone");
    }

    #[test]
    fn a_new_warehouse_gets_every_table_placed_in_order() {
        let statements = plan(&BTreeMap::new()).unwrap();
        assert_eq!(
            statements,
            [
                "select create_reference_table('public.dim_date')",
                "select create_reference_table('public.dim_time')",
                "select create_reference_table('public.dim_store')",
                "select create_reference_table('public.dim_customer')",
                "select create_reference_table('public.dim_employee')",
                "select create_reference_table('public.dim_product')",
                "select create_distributed_table('public.fact_orders', 'order_id', colocate_with => 'none')",
                "select create_distributed_table('public.fact_sales', 'order_id', colocate_with => 'public.fact_orders')",
                "select create_distributed_table('public.fact_payments', 'order_id', colocate_with => 'public.fact_orders')",
                "select create_distributed_table('public.fact_inventory', 'store_id', colocate_with => 'none')",
                "select create_distributed_table('public.fact_feedback', 'order_id', colocate_with => 'public.fact_orders')",
                "select create_distributed_table('public.fact_app_events', 'session_id', colocate_with => 'none')",
                "select create_distributed_table('public.fact_app_sessions', 'session_id', colocate_with => 'public.fact_app_events')",
            ]
        );
        // Nothing of the bookkeeping: it must commit locally with each batch.
        for table in local() {
            assert!(statements.iter().all(|s| !s.contains(table)), "{table} is placed");
        }
    }

    #[test]
    fn a_second_run_places_nothing_and_a_half_run_the_rest() {
        let mut placed: BTreeMap<String, Placed> =
            layout()[..6].iter().map(|(t, _)| (t.to_string(), Placed::Reference)).collect();
        placed.insert("fact_orders".into(), distributed("order_id", 3));
        let rest = plan(&placed).unwrap();
        assert_eq!(rest.len(), 6);
        assert!(rest[0].contains("'public.fact_sales', 'order_id', colocate_with => 'public.fact_orders'"));
        placed.insert("fact_sales".into(), distributed("order_id", 3));
        placed.insert("fact_payments".into(), distributed("order_id", 3));
        placed.insert("fact_feedback".into(), distributed("order_id", 3));
        placed.insert("fact_inventory".into(), distributed("store_id", 4));
        placed.insert("fact_app_events".into(), distributed("session_id", 5));
        placed.insert("fact_app_sessions".into(), distributed("session_id", 5));
        assert_eq!(plan(&placed).unwrap(), Vec::<String>::new());
    }

    #[test]
    fn a_table_placed_otherwise_is_refused_by_name() {
        let mut placed: BTreeMap<String, Placed> =
            layout()[..6].iter().map(|(t, _)| (t.to_string(), Placed::Reference)).collect();
        placed.insert("fact_orders".into(), distributed("order_id", 3));
        placed.insert("fact_sales".into(), distributed("order_id", 5));
        let err = plan(&placed).unwrap_err();
        assert_eq!(err.table, "fact_sales");
        assert_eq!(err.to_string(), "fact_sales is already distributed by order_id (colocation group 5) on Citus, but the warehouse needs it distributed by order_id, colocated with fact_orders; undistribute it (undistribute_table) and run migrate again");
        placed.insert("fact_sales".into(), distributed("order_item_id", 3));
        assert_eq!(plan(&placed).unwrap_err().table, "fact_sales");
        placed.insert("dim_date".into(), distributed("date_key", 9));
        assert_eq!(plan(&placed).unwrap_err().table, "dim_date");
    }

    #[test]
    fn a_citus_session_gets_each_setting_not_configured_elsewhere() {
        let sources = |cached: &str, mode: &str| -> BTreeMap<String, String> {
            [("citus.max_cached_conns_per_worker", cached), ("citus.multi_shard_modify_mode", mode)]
                .into_iter()
                .map(|(n, s)| (n.to_string(), s.to_string()))
                .collect()
        };
        assert_eq!(
            session_statements(&sources("default", "default")),
            ["set citus.max_cached_conns_per_worker = '16'", "set citus.multi_shard_modify_mode = 'sequential'"]
        );
        // `alter role brewlytics_cdc set citus.max_cached_conns_per_worker = 4` wins.
        assert_eq!(
            session_statements(&sources("user", "default")),
            ["set citus.multi_shard_modify_mode = 'sequential'"]
        );
        assert_eq!(session_statements(&sources("database", "configuration file")), Vec::<String>::new());
        assert_eq!(session_statements(&BTreeMap::new()), Vec::<String>::new());
    }

    #[test]
    fn facts_are_distributed_by_order_except_inventory() {
        for fact in ["fact_orders", "fact_sales", "fact_payments", "fact_feedback"] {
            assert_eq!(distribution_column(fact), Some("order_id"));
        }
        assert_eq!(distribution_column("fact_inventory"), Some("store_id"));
        assert_eq!(distribution_column("dim_product"), None);
        assert_eq!(distribution_column("cdc_offset"), None);
    }
}
