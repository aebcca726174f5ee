//! Shared test harness: one private PostgreSQL per test run (or `TEST_DATABASE_URL`), migrated
//! template databases, and a fresh pair of databases per test cloned from them.
#![allow(dead_code)]

use std::{
    future::Future,
    sync::{
        atomic::{AtomicU32, Ordering},
        OnceLock,
    },
    time::{Duration, Instant},
};

use brewlytics::{
    config::Config,
    db::{self, Db, Role},
    tools::cluster::{ClusterOptions, PrivateCluster},
};
use tokio_postgres::Client;

/// The server every test uses: a superuser DSN without a database name.
struct Server {
    /// `postgresql://user@host:port` (plus options), to which `/dbname` is appended.
    base: String,
    templates: (String, String),
}

static SERVER: OnceLock<Server> = OnceLock::new();
static NEXT_DB: AtomicU32 = AtomicU32::new(0);

fn server() -> &'static Server {
    SERVER.get_or_init(|| {
        // Runs on a plain thread with its own runtime: the caller is inside a tokio runtime.
        std::thread::spawn(start_server).join().expect("test server setup panicked")
    })
}

fn start_server() -> Server {
    let base = match std::env::var("TEST_DATABASE_URL") {
        Ok(url) => url.trim_end_matches('/').rsplit_once('/').map(|(b, _)| b.to_string()).unwrap_or(url),
        Err(_) => {
            let dir = std::env::temp_dir().join(format!("brewlytics-test-{}", std::process::id()));
            let cluster = PrivateCluster::start(ClusterOptions {
                dir,
                durable: false,
                remove_on_drop: true,
                ..Default::default()
            })
            .expect("start a private PostgreSQL for the tests");
            let state = cluster.stop_when_process_exits(std::process::id());
            format!("postgresql://{}@127.0.0.1:{}", state.user, state.port)
        }
    };
    let suffix = std::process::id();
    let templates = (format!("tpl_oltp_{suffix}"), format!("tpl_olap_{suffix}"));
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let admin = connect_url(&format!("{base}/postgres")).await;
        for name in [&templates.0, &templates.1] {
            admin.batch_execute(&format!("drop database if exists \"{name}\"")).await.unwrap();
            admin.batch_execute(&format!("create database \"{name}\"")).await.unwrap();
        }
        let mut oltp = connect_url(&format!("{base}/{}", templates.0)).await;
        let mut olap = connect_url(&format!("{base}/{}", templates.1)).await;
        db::migrate(&mut oltp, Db::Oltp).await.expect("migrate the OLTP template");
        db::migrate(&mut olap, Db::Olap).await.expect("migrate the OLAP template");
        db::apply_roles(&oltp, &olap, &Config::defaults()).await.expect("roles on the templates");
    });
    Server { base, templates }
}

/// Connect to a DSN (through the product's one connect function) and drive the connection in
/// the background.
pub(crate) async fn connect_url(url: &str) -> Client {
    db::connect_dsn(url).await.unwrap_or_else(|e| panic!("connect: {}", brewlytics::telemetry::Chain(&e)))
}

/// A fresh pair of migrated databases for one test.
pub(crate) struct TestDb {
    pub config: Config,
    pub oltp_url: String,
    pub olap_url: String,
    pub base: String,
}

impl TestDb {
    /// Clone both templates into new databases.
    pub(crate) async fn new() -> Self {
        let server = server();
        let n = NEXT_DB.fetch_add(1, Ordering::SeqCst);
        let pid = std::process::id();
        let (oltp, olap) = (format!("t{pid}_{n}_oltp"), format!("t{pid}_{n}_olap"));
        let admin = connect_url(&format!("{}/postgres", server.base)).await;
        for (name, tpl) in [(&oltp, &server.templates.0), (&olap, &server.templates.1)] {
            let sql = format!("create database \"{name}\" template \"{tpl}\"");
            retry(|| admin.batch_execute(&sql)).await;
        }
        let mut config = Config::defaults();
        let oltp_url = format!("{}/{oltp}", server.base);
        let olap_url = format!("{}/{olap}", server.base);
        // Only the roles that work in a database may connect to it (not inherited from the template).
        db::grant_database_access(&connect_url(&oltp_url).await, &connect_url(&olap_url).await)
            .await
            .expect("CONNECT grants on the test databases");
        config.oltp_database_url = Some(oltp_url.clone().into());
        config.olap_database_url = Some(olap_url.clone().into());
        config.oltp_db = oltp;
        config.olap_db = olap;
        TestDb { config, oltp_url, olap_url, base: server.base.clone() }
    }

    /// A pair of new, empty databases (no migration applied), for tests of what `migrate` finds.
    pub(crate) async fn empty() -> Self {
        let t = TestDb::new().await;
        let admin = connect_url(&format!("{}/postgres", t.base)).await;
        for name in [&t.config.oltp_db, &t.config.olap_db] {
            admin.batch_execute(&format!("drop database \"{name}\"")).await.unwrap();
            admin.batch_execute(&format!("create database \"{name}\"")).await.unwrap();
        }
        t
    }

    pub(crate) async fn oltp(&self) -> Client {
        connect_url(&self.oltp_url).await
    }

    pub(crate) async fn olap(&self) -> Client {
        connect_url(&self.olap_url).await
    }

    /// A DSN for one of this test's databases as one of the roles, with its (default) password:
    /// the private cluster authenticates every role but the superuser by password.
    pub(crate) fn url_as(&self, db: Db, role: &str) -> String {
        let url = match db {
            Db::Oltp => &self.oltp_url,
            Db::Olap => &self.olap_url,
        };
        let (scheme, rest) = url.split_once("://").unwrap();
        let rest = rest.split_once('@').map(|(_, r)| r).unwrap_or(rest);
        let role = Role::ALL.into_iter().find(|r| r.name() == role).unwrap_or_else(|| panic!("no role {role}"));
        let password = role.password(&self.config).1.expose();
        format!("{scheme}://{}:{password}@{rest}", role.name())
    }

    /// This test's config, connecting as `role` (as `up` runs the components).
    pub(crate) fn config_as(&self, role: Role) -> Config {
        role.config(&self.config)
    }
}

async fn retry<F, Fut, T, E>(mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
    E: std::fmt::Display,
{
    let mut last = String::new();
    for _ in 0..50 {
        match f().await {
            Ok(v) => return v,
            Err(e) => last = e.to_string(),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("gave up after retries: {last}");
}

/// Wait until `check` returns `Some`, polling every 20 ms, failing after `deadline`.
pub(crate) async fn wait_for<T, F, Fut>(what: &str, deadline: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(start.elapsed() < deadline, "timed out after {deadline:?} waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// One sample of a `/metrics` text at `url` (`name` with its labels, as printed), if present.
pub(crate) async fn metric(http: &reqwest::Client, url: &str, name: &str) -> Option<f64> {
    let text = http.get(url).send().await.ok()?.text().await.ok()?;
    text.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

/// One scalar of a query.
pub(crate) async fn scalar<T: for<'a> tokio_postgres::types::FromSql<'a>>(c: &Client, sql: &str) -> T {
    c.query_one(sql, &[]).await.unwrap_or_else(|e| panic!("{sql}: {e}")).get(0)
}

pub(crate) mod load;
pub(crate) mod process;
pub(crate) mod shop;

/// The CDC daemon running in-process on a test's databases.
pub(crate) struct InProcessDaemon {
    pub token: tokio_util::sync::CancellationToken,
    pub task: tokio::task::JoinHandle<()>,
}

impl InProcessDaemon {
    /// Start `brewlytics cdc`'s loop on `config`, as the `brewlytics_cdc` role (as `up` runs it).
    pub(crate) fn start(config: &Config) -> Self {
        let token = tokio_util::sync::CancellationToken::new();
        let (cfg, t) = (Role::Cdc.config(config), token.clone());
        let task = tokio::spawn(async move { brewlytics::cdc::run(&cfg, t).await });
        InProcessDaemon { token, task }
    }

    /// Cancel and wait for it to stop.
    pub(crate) async fn stop(self) {
        self.token.cancel();
        tokio::time::timeout(Duration::from_secs(10), self.task).await.expect("daemon stops within 10 s").unwrap();
    }
}

/// The changes the daemon streams (and counts in `applied_changes`): every change of `cdc_orders`
/// its initial snapshot did not load, i.e. not visible in that job's origin (all of them when
/// the warehouse never had an initial snapshot).
pub(crate) async fn streamed_changes(oltp: &Client, olap: &Client) -> i64 {
    let origin = olap
        .query_opt("select origin from cdc_snapshot where kind = 'initial' and state = 'done'", &[])
        .await
        .expect("read the initial snapshot job")
        .map(|r| r.get::<_, String>(0));
    let sql = "select count(*) from cdc_orders
               where $1::text is null or not pg_visible_in_snapshot(txid, $1::text::pg_snapshot)";
    oltp.query_one(sql, &[&origin]).await.expect("count streamed changes").get(0)
}

/// Wait until the warehouse has applied everything committed in OLTP so far (any snapshot job
/// finished first), then return.
pub(crate) async fn wait_caught_up(t: &TestDb, deadline: Duration) {
    let oltp = t.oltp().await;
    let olap = t.olap().await;
    wait_for("the daemon to apply every change", deadline, || async {
        let open: i64 = scalar(&olap, "select count(*) from cdc_snapshot where state <> 'done'").await;
        if open > 0 {
            return None;
        }
        let target = streamed_changes(&oltp, &olap).await;
        let applied: i64 = scalar(&olap, "select applied_changes from cdc_offset").await;
        (applied >= target).then_some(())
    })
    .await;
}

/// Wait until the warehouse holds every change committed in OLTP (writers stopped): no snapshot
/// job open, the source not replaced, and the checkpoint sees every transaction of `cdc_orders`.
pub(crate) async fn wait_drained(t: &TestDb, deadline: Duration) {
    let (oltp, olap) = (t.oltp().await, t.olap().await);
    wait_for("the warehouse to hold every committed change", deadline, || async {
        let row = olap
            .query_one(
                "select window_start, window_end is null and source_replaced is null
                        and not exists (select from cdc_snapshot where state <> 'done')
                 from cdc_offset",
                &[],
            )
            .await
            .ok()?;
        let (start, settled): (Option<String>, bool) = (row.get(0), row.get(1));
        let start = start.filter(|_| settled)?;
        let sql = "select count(*) from cdc_orders where not pg_visible_in_snapshot(txid, $1::text::pg_snapshot)";
        let left: i64 = oltp.query_one(sql, &[&start]).await.ok()?.get(0);
        (left == 0).then_some(())
    })
    .await;
}

/// Run the exact reconciliation of `brewlytics verify` on two connections; panics when it cannot
/// compare.
pub(crate) async fn verify_report(oltp: &mut Client, olap: &mut Client) -> brewlytics::cdc::reconcile::VerifyReport {
    match brewlytics::cdc::reconcile::verify(oltp, olap).await.expect("verify runs") {
        brewlytics::cdc::reconcile::Outcome::Compared { report, .. } => report,
        brewlytics::cdc::reconcile::Outcome::CannotCompare(reason) => panic!("verify cannot compare: {reason}"),
    }
}

/// Assert `brewlytics verify` finds no difference.
pub(crate) async fn assert_verified(t: &TestDb) {
    let report = verify_report(&mut t.oltp().await, &mut t.olap().await).await;
    assert!(report.is_clean(), "verify found differences: {:#?}", report.differences);
}
