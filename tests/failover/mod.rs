//! The life of a database (issue #21), with the daemon running as a process throughout: OLTP
//! failing over to a streaming standby made with `pg_basebackup` (with and without the standby
//! gate), the warehouse restored from a `pg_dump` (behind pruned changes, and with every change
//! still there), and a fact row changed by hand, repaired by the scheduled reconciliation.

mod repair;
mod replication;
mod restore;

use std::{path::PathBuf, process::Command, time::Duration};

use brewlytics::{
    db::{self, Db},
    tools::cluster::{free_port, ClusterOptions, PrivateCluster, DEFAULT_HBA, REPLICATION_HBA},
};

use crate::support::{
    connect_url,
    process::{DaemonProcess, Logs},
    scalar, shop, wait_for, TestDb,
};

/// The `application_name` of the standby.
const STANDBY: &str = "brewlytics_standby";

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.expect("blocking task")
}

fn cluster_options(dir: PathBuf) -> ClusterOptions {
    let mut hba: Vec<String> = DEFAULT_HBA.iter().map(|l| l.to_string()).collect();
    hba.push(REPLICATION_HBA.into());
    ClusterOptions { dir, durable: false, remove_on_drop: true, hba, ..Default::default() }
}

/// An OLTP of its own (the shop, migrated, the roles) on a primary with a streaming standby; the
/// warehouse is the test's.
pub(super) struct Replicated {
    primary: PrivateCluster,
    /// None after a failover, until [`Replicated::rebuild_standby`].
    standby: Option<PrivateCluster>,
    base: PathBuf,
    pub t: TestDb,
}

impl Replicated {
    pub(super) async fn start(tag: &str) -> Self {
        let mut t = TestDb::new().await;
        let base = std::env::temp_dir().join(format!("brewlytics-{tag}-{}", std::process::id()));
        let dir = base.join("primary");
        let primary = blocking(move || PrivateCluster::start(cluster_options(dir)).expect("start the primary")).await;
        primary.create_database("coffee_oltp").unwrap();
        t.oltp_url = primary.state.dsn("coffee_oltp");
        t.config.oltp_database_url = Some(t.oltp_url.clone().into());
        t.config.oltp_db = "coffee_oltp".into();
        let mut oltp = t.oltp().await;
        db::migrate(&mut oltp, Db::Oltp).await.unwrap();
        db::apply_roles(&oltp, &t.olap().await, &t.config).await.unwrap();
        oltp.batch_execute(shop::SHOP).await.unwrap();
        let (primary, standby) = Self::standby_of(primary, &base, "standby").await;
        Replicated { primary, standby: Some(standby), base, t }
    }

    /// A new standby of `primary` in `base/name`, streaming.
    async fn standby_of(
        primary: PrivateCluster,
        base: &std::path::Path,
        name: &str,
    ) -> (PrivateCluster, PrivateCluster) {
        let dir = base.join(name);
        let (primary, standby) = blocking(move || {
            let standby = primary.start_standby(cluster_options(dir), STANDBY).expect("pg_basebackup a standby");
            (primary, standby)
        })
        .await;
        let admin = connect_url(&primary.state.dsn("postgres")).await;
        wait_for("the standby to stream", Duration::from_secs(30), || async {
            let sql = format!(
                "select count(*) from pg_stat_replication where application_name = '{STANDBY}' and state = 'streaming'"
            );
            (scalar::<i64>(&admin, &sql).await == 1).then_some(())
        })
        .await;
        (primary, standby)
    }

    fn standby(&self) -> &PrivateCluster {
        self.standby.as_ref().expect("a standby")
    }

    pub(super) fn standby_url(&self) -> String {
        self.standby().state.dsn("coffee_oltp")
    }

    /// Cut the standby off its primary without stopping it: it keeps what it has received.
    pub(super) async fn cut_off_standby(&self) {
        let standby = connect_url(&self.standby().state.dsn("postgres")).await;
        standby.batch_execute("alter system set primary_conninfo = ''").await.unwrap();
        standby.batch_execute("select pg_reload_conf()").await.unwrap();
        let primary = connect_url(&self.primary.state.dsn("postgres")).await;
        wait_for("the standby to be cut off", Duration::from_secs(30), || async {
            let sql = format!("select count(*) from pg_stat_replication where application_name = '{STANDBY}'");
            (scalar::<i64>(&primary, &sql).await == 0).then_some(())
        })
        .await;
    }

    /// The primary dies (`-m immediate`), the standby is promoted and takes over its address.
    pub(super) async fn fail_over(self) -> Self {
        let Replicated { primary, standby, base, t } = self;
        let mut standby = standby.expect("a standby to fail over to");
        let primary = blocking(move || {
            primary.kill().expect("stop the primary -m immediate");
            standby.promote().expect("promote the standby");
            standby.move_to_port(primary.state.port).expect("move the new primary to the old address");
            drop(primary);
            standby
        })
        .await;
        Replicated { primary, standby: None, base, t }
    }

    /// A new standby of the (new) primary under the same name.
    pub(super) async fn rebuild_standby(self) -> Self {
        let Replicated { primary, base, t, .. } = self;
        let (primary, standby) = Self::standby_of(primary, &base, "standby2").await;
        Replicated { primary, standby: Some(standby), base, t }
    }
}

/// A daemon as a process on the test's databases (as `brewlytics_cdc`), logging JSON at info,
/// serving its metrics at the returned URL.
pub(super) fn start_daemon(t: &TestDb, env: &[(&str, &str)]) -> (DaemonProcess, Logs, String) {
    let addr = format!("127.0.0.1:{}", free_port().unwrap());
    let mut all = vec![("METRICS_ADDR", addr.as_str())];
    all.extend_from_slice(env);
    let (daemon, logs) =
        DaemonProcess::start_logged(&t.url_as(Db::Oltp, "brewlytics_cdc"), &t.url_as(Db::Olap, "brewlytics_cdc"), &all);
    (daemon, logs, format!("http://{addr}/metrics"))
}

/// Every order line (quantity, price, status) and payment of OLTP is in the warehouse with the
/// same values, and the warehouse has no other live one.
pub(super) async fn assert_equal_to_oltp(t: &TestDb) {
    let (oltp, olap) = (t.oltp().await, t.olap().await);
    let pairs = [
        (
            "order lines",
            "select oi.id::text || '/' || oi.order_id || '/' || oi.product_id || '/' || oi.quantity || '/' || oi.price
                    || '/' || o.status
             from order_items oi join orders o on o.id = oi.order_id order by oi.id",
            "select order_item_id::text || '/' || order_id || '/' || product_id || '/' || quantity || '/' || unit_price
                    || '/' || order_status
             from fact_sales where not is_deleted order by order_item_id",
        ),
        (
            "payments",
            "select id::text || '/' || order_id || '/' || amount || '/' || method from payments order by id",
            "select payment_id::text || '/' || order_id || '/' || amount || '/' || method
             from fact_payments where not is_deleted order by payment_id",
        ),
    ];
    for (what, truth, warehouse) in pairs {
        let truth: Vec<String> = oltp.query(truth, &[]).await.unwrap().iter().map(|r| r.get(0)).collect();
        let held: Vec<String> = olap.query(warehouse, &[]).await.unwrap().iter().map(|r| r.get(0)).collect();
        let missing: Vec<&String> = truth.iter().filter(|r| !held.contains(r)).take(5).collect();
        let extra: Vec<&String> = held.iter().filter(|r| !truth.contains(r)).take(5).collect();
        assert!(
            truth == held,
            "{what}: OLTP has {} rows, the warehouse {}; missing or different in the warehouse {missing:?}, \
             only in the warehouse {extra:?}",
            truth.len(),
            held.len()
        );
        assert!(!truth.is_empty(), "{what}: the shop has some");
    }
}

/// `brewlytics <args>` on the test's databases (as the superuser): (exit code, stdout + stderr).
pub(super) fn cli(t: &TestDb, args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_brewlytics"))
        .args(args)
        .env("OLTP_DATABASE_URL", &t.oltp_url)
        .env("OLAP_DATABASE_URL", &t.olap_url)
        .output()
        .expect("run brewlytics");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.code().unwrap_or(-1), text)
}

/// The snapshot jobs the warehouse ran, by kind.
pub(super) async fn jobs(t: &TestDb) -> Vec<String> {
    let olap = t.olap().await;
    olap.query("select kind from cdc_snapshot order by job_id", &[]).await.unwrap().iter().map(|r| r.get(0)).collect()
}
