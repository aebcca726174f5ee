//! A private PostgreSQL cluster: used by the tests and by `brewlytics up` when no database is
//! configured.
//!
//! It finds the server binaries (PATH, then `/usr/lib/postgresql/*/bin`), `initdb`s a cluster
//! into a directory (as the `postgres` user when running as root, since PostgreSQL refuses root),
//! starts it on a free loopback port with its socket inside that directory, and creates the
//! databases asked for. The cluster's port is kept in `cluster.json` beside the data so other
//! commands run from the same directory can find it.
//!
//! Authentication: the superuser `postgres` is trusted on loopback (it is the cluster's admin,
//! and `status` next to `up` needs no password); every other role logs in with its password
//! (scram-sha-256), so the roles of `brewlytics roles` are used as in a real deployment. A
//! cluster may also serve TLS and take its own `pg_hba.conf` lines (the TLS tests).

use std::{
    fs,
    net::TcpListener,
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

use serde::{Deserialize, Serialize};

/// What can go wrong while running a private cluster.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error(
        "no PostgreSQL server binaries found (looked for initdb on PATH and in /usr/lib/postgresql/*/bin). \
         Install them (Debian: apt-get install postgresql) or point brewlytics at an existing server \
         with OLTP_DATABASE_URL and OLAP_DATABASE_URL"
    )]
    NoBinaries,
    #[error(
        "running as root, but there is no `postgres` user to run the server as (create one, or run as a normal user)"
    )]
    NoPostgresUser,
    #[error("{step} failed: {detail}")]
    Step { step: String, detail: String },
    #[error("i/o error on {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Where a running private cluster listens; saved as `cluster.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClusterState {
    pub port: u16,
    pub user: String,
}

impl ClusterState {
    /// The state saved under `home`, if a cluster there is running.
    pub fn load(home: &Path) -> Option<Self> {
        let text = fs::read_to_string(home.join("cluster.json")).ok()?;
        let state: Self = serde_json::from_str(&text).ok()?;
        home.join("data/postmaster.pid").exists().then_some(state)
    }

    /// A libpq DSN for one database of the cluster.
    pub fn dsn(&self, db: &str) -> String {
        format!("postgresql://{}@127.0.0.1:{}/{}", self.user, self.port, db)
    }
}

/// Settings of a private cluster.
#[derive(Debug, Clone, Default)]
pub struct ClusterOptions {
    /// Directory for data, socket and log; created if missing.
    pub dir: PathBuf,
    /// fsync on (benchmarks, `up`) or off (tests).
    pub durable: bool,
    /// Remove `dir` when the cluster is stopped by drop.
    pub remove_on_drop: bool,
    /// Serve TLS (`ssl = on`) with this certificate and key.
    pub tls: Option<ServerTls>,
    /// The lines of `pg_hba.conf`; empty: [`DEFAULT_HBA`].
    pub hba: Vec<String>,
}

/// A server certificate (PEM, with its chain) and its private key (PEM).
#[derive(Debug, Clone)]
pub struct ServerTls {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// Who may connect how, by default: `postgres` trusted on the socket and loopback, every other
/// role with its password.
pub const DEFAULT_HBA: &[&str] =
    &["local all all trust", "host all postgres 127.0.0.1/32 trust", "host all all 127.0.0.1/32 scram-sha-256"];

/// The `pg_hba.conf` line that lets the superuser stream WAL on loopback (a standby of
/// [`PrivateCluster::start_standby`]).
pub const REPLICATION_HBA: &str = "host replication postgres 127.0.0.1/32 trust";

/// A running private cluster; stopped (fast shutdown) on drop.
#[derive(Debug)]
pub struct PrivateCluster {
    opts: ClusterOptions,
    bin: PathBuf,
    run_as: Option<&'static str>,
    pub state: ClusterState,
}

impl PrivateCluster {
    /// Start the cluster in `opts.dir`, initialising it first if it is new.
    pub fn start(opts: ClusterOptions) -> Result<Self, ClusterError> {
        let bin = find_bin_dir().ok_or(ClusterError::NoBinaries)?;
        let run_as = running_as_root().then_some("postgres");
        if run_as.is_some() && !user_exists("postgres") {
            return Err(ClusterError::NoPostgresUser);
        }
        let mut cluster = Self { state: ClusterState { port: 0, user: "postgres".into() }, opts, bin, run_as };
        cluster.prepare_dir()?;
        // The server tools run from `/`: give them an absolute path.
        let dir = &cluster.opts.dir;
        cluster.opts.dir = dir.canonicalize().map_err(|source| ClusterError::Io { path: dir.clone(), source })?;
        let data = cluster.data_dir();
        if !data.join("PG_VERSION").exists() {
            cluster.initdb()?;
        }
        if data.join("postmaster.pid").exists() {
            // A previous run was killed: let pg_ctl clean up a stale pid file, or stop a live server.
            let _ = cluster.pg_ctl(&["stop", "-m", "fast", "-w"]);
        }
        cluster.state.port = cluster.port()?;
        cluster.write_settings()?;
        cluster.pg_ctl(&[
            "start",
            "-w",
            "-t",
            "60",
            "-l",
            &cluster.opts.dir.join("postgres.log").display().to_string(),
        ])?;
        let state = serde_json::to_string(&cluster.state).expect("state serialises");
        write(&cluster.opts.dir.join("cluster.json"), &state)?;
        Ok(cluster)
    }

    /// The port of the previous run (in `cluster.json`) when it is free, so a DSN copied
    /// yesterday still works; a new free port when it is taken (or on the first run).
    fn port(&self) -> Result<u16, ClusterError> {
        let previous = fs::read_to_string(self.opts.dir.join("cluster.json"))
            .ok()
            .and_then(|text| serde_json::from_str::<ClusterState>(&text).ok())
            .map(|state| state.port);
        match previous {
            Some(port) if port_is_free(port) => Ok(port),
            _ => free_port(),
        }
    }

    /// The data directory.
    pub(crate) fn data_dir(&self) -> PathBuf {
        self.opts.dir.join("data")
    }

    /// Create a database unless it exists.
    pub fn create_database(&self, name: &str) -> Result<(), ClusterError> {
        let sql = format!(
            "select 'create database \"{name}\"' where not exists (select from pg_database where datname = '{name}') \\gexec"
        );
        self.psql("postgres", &sql)
    }

    /// Run SQL through psql as the superuser.
    pub(crate) fn psql(&self, db: &str, sql: &str) -> Result<(), ClusterError> {
        let port = self.state.port.to_string();
        let psql = self.bin.join("psql");
        let args = ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", &port, "-U", "postgres", "-d", db];
        let mut cmd = Command::new(&psql);
        cmd.args(args).stdin(Stdio::piped());
        if self.opts.tls.is_some() {
            cmd.env("PGSSLMODE", "require");
        }
        run_with_stdin(cmd, sql, "psql")
    }

    /// Stop the server (fast shutdown: in-flight transactions roll back).
    pub(crate) fn stop(&self) -> Result<(), ClusterError> {
        self.pg_ctl(&["stop", "-m", "fast", "-w"])
    }

    /// Stop the server abruptly, as a crash would (for restart tests).
    pub fn kill(&self) -> Result<(), ClusterError> {
        self.pg_ctl(&["stop", "-m", "immediate", "-w"])
    }

    /// Start a stopped server again on the same port.
    pub fn restart(&self) -> Result<(), ClusterError> {
        self.pg_ctl(&["start", "-w", "-t", "60", "-l", &self.opts.dir.join("postgres.log").display().to_string()])
    }

    /// Start a physical streaming standby of this cluster in `opts.dir`: a base backup
    /// (`pg_basebackup -R`) whose connection to the primary is named `application_name` (what
    /// `pg_stat_replication` shows). The primary's `pg_hba.conf` must allow replication.
    pub fn start_standby(&self, opts: ClusterOptions, application_name: &str) -> Result<Self, ClusterError> {
        prepare_dir(&opts.dir, self.run_as)?;
        let data = opts.dir.canonicalize().map_err(|source| ClusterError::Io { path: opts.dir.clone(), source })?;
        let data = data.join("data");
        let conninfo = format!(
            "host=127.0.0.1 port={} user={} application_name={application_name}",
            self.state.port, self.state.user
        );
        let mut cmd = self.command("pg_basebackup");
        cmd.args(["-d", &conninfo, "-D", &data.display().to_string(), "-R", "-X", "stream", "-c", "fast"]);
        run(cmd, "pg_basebackup")?;
        Self::start(opts)
    }

    /// Promote a standby to a primary (a new timeline) and wait until it accepts writes.
    pub fn promote(&self) -> Result<(), ClusterError> {
        self.pg_ctl(&["promote", "-w", "-t", "60"])
    }

    /// Restart the server on `port` (a promoted standby taking over its old primary's address).
    pub fn move_to_port(&mut self, port: u16) -> Result<(), ClusterError> {
        self.stop()?;
        self.state.port = port;
        self.write_settings()?;
        self.restart()?;
        let state = serde_json::to_string(&self.state).expect("state serialises");
        write(&self.opts.dir.join("cluster.json"), &state)
    }

    fn prepare_dir(&self) -> Result<(), ClusterError> {
        prepare_dir(&self.opts.dir, self.run_as)
    }

    fn initdb(&self) -> Result<(), ClusterError> {
        let data = self.data_dir().display().to_string();
        let mut cmd = self.command("initdb");
        cmd.args(["-D", &data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"]);
        run(cmd, "initdb")
    }

    fn write_settings(&self) -> Result<(), ClusterError> {
        let mut conf = format!(
            "port = {}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{}'\n\
             max_connections = 300\nshared_buffers = 256MB\ntimezone = 'UTC'\nlog_timezone = 'UTC'\n\
             max_wal_size = 4GB\nlog_min_messages = warning\n",
            self.state.port,
            self.opts.dir.canonicalize().map(|p| p.display().to_string()).unwrap_or_default()
        );
        if !self.opts.durable {
            conf.push_str("fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n");
        }
        if let Some(tls) = &self.opts.tls {
            self.install(&tls.cert, "server.crt")?;
            self.install(&tls.key, "server.key")?;
            conf.push_str("ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n");
        }
        // A standby's link to its primary (written by `pg_basebackup -R` or `alter system`) stays.
        let kept = fs::read_to_string(self.data_dir().join("postgresql.auto.conf")).unwrap_or_default();
        for line in kept.lines().filter(|l| l.starts_with("primary_conninfo")) {
            conf.push_str(line);
            conf.push('\n');
        }
        self.write_owned("postgresql.auto.conf", &conf)?;
        let hba: Vec<&str> = match self.opts.hba.is_empty() {
            true => DEFAULT_HBA.to_vec(),
            false => self.opts.hba.iter().map(String::as_str).collect(),
        };
        self.write_owned("pg_hba.conf", &(hba.join("\n") + "\n"))
    }

    /// Write a file of the data directory, owned by the server's user.
    fn write_owned(&self, name: &str, text: &str) -> Result<(), ClusterError> {
        let path = self.data_dir().join(name);
        write(&path, text)?;
        if let Some(user) = self.run_as {
            chown(&path, user)?;
        }
        Ok(())
    }

    /// Copy a TLS file into the data directory, readable by the server's user alone.
    fn install(&self, from: &Path, name: &str) -> Result<(), ClusterError> {
        use std::os::unix::fs::PermissionsExt;
        let text = fs::read_to_string(from).map_err(|source| ClusterError::Io { path: from.to_path_buf(), source })?;
        self.write_owned(name, &text)?;
        let path = self.data_dir().join(name);
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600))
            .map_err(|source| ClusterError::Io { path, source })
    }

    fn pg_ctl(&self, args: &[&str]) -> Result<(), ClusterError> {
        let data = self.data_dir().display().to_string();
        let mut cmd = self.command("pg_ctl");
        cmd.args(["-D", &data]).args(args);
        run(cmd, &format!("pg_ctl {}", args[0]))
    }

    fn command(&self, program: &str) -> Command {
        let exe = self.bin.join(program);
        let mut cmd = match self.run_as {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(exe);
                c
            }
            None => Command::new(exe),
        };
        cmd.current_dir("/").stdin(Stdio::null());
        cmd
    }
}

impl Drop for PrivateCluster {
    fn drop(&mut self) {
        let _ = self.stop();
        if self.opts.remove_on_drop {
            let _ = fs::remove_dir_all(&self.opts.dir);
        }
    }
}

/// The directory holding `initdb`, `pg_ctl` and `postgres`: PATH first, then the newest
/// `/usr/lib/postgresql/*/bin`.
pub fn find_bin_dir() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .find(|d| d.join("initdb").is_file() && d.join("pg_ctl").is_file())
        // Follow a symlink on PATH to the real bin directory, which also holds psql and postgres.
        .and_then(|d| d.join("initdb").canonicalize().ok()?.parent().map(Path::to_path_buf));
    on_path.or_else(|| {
        let mut dirs: Vec<PathBuf> = fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
            .filter(|d| d.join("initdb").is_file())
            .collect();
        dirs.sort_by_key(|d| d.parent().and_then(|v| v.file_name()?.to_str()?.parse::<u32>().ok()));
        dirs.pop()
    })
}

/// Create `dir`; when the server runs as another user, give it the directory and the way to it.
fn prepare_dir(dir: &Path, run_as: Option<&str>) -> Result<(), ClusterError> {
    fs::create_dir_all(dir).map_err(|source| ClusterError::Io { path: dir.to_path_buf(), source })?;
    if let Some(user) = run_as {
        let mut p = dir.canonicalize().map_err(|source| ClusterError::Io { path: dir.to_path_buf(), source })?;
        chown(&p, user)?;
        while let Some(parent) = p.parent().map(Path::to_path_buf) {
            allow_traverse(&parent);
            p = parent;
        }
    }
    Ok(())
}

fn running_as_root() -> bool {
    Command::new("id").arg("-u").output().map(|o| o.stdout.starts_with(b"0\n")).unwrap_or(false)
}

fn user_exists(user: &str) -> bool {
    Command::new("id").arg(user).stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok_and(|s| s.success())
}

fn chown(path: &Path, user: &str) -> Result<(), ClusterError> {
    let mut cmd = Command::new("chown");
    cmd.args(["-R", &format!("{user}:{user}")]).arg(path);
    run(cmd, "chown")
}

fn allow_traverse(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = fs::metadata(dir) {
        let mode = meta.permissions().mode();
        if mode & 0o001 == 0 {
            let _ = fs::set_permissions(dir, fs::Permissions::from_mode(mode | 0o011));
        }
    }
}

fn port_is_free(port: u16) -> bool {
    TcpListener::bind(("127.0.0.1", port)).is_ok()
}

/// A port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> Result<u16, ClusterError> {
    let l =
        TcpListener::bind("127.0.0.1:0").map_err(|source| ClusterError::Io { path: "127.0.0.1:0".into(), source })?;
    Ok(l.local_addr().map_err(|source| ClusterError::Io { path: "127.0.0.1:0".into(), source })?.port())
}

fn write(path: &Path, text: &str) -> Result<(), ClusterError> {
    fs::write(path, text).map_err(|source| ClusterError::Io { path: path.to_path_buf(), source })
}

fn run(mut cmd: Command, step: &str) -> Result<(), ClusterError> {
    let out = cmd.output().map_err(|e| ClusterError::Step { step: step.into(), detail: e.to_string() })?;
    if out.status.success() {
        return Ok(());
    }
    let detail = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    Err(ClusterError::Step { step: step.into(), detail: detail.trim().to_string() })
}

fn run_with_stdin(mut cmd: Command, input: &str, step: &str) -> Result<(), ClusterError> {
    use std::io::Write;
    let err = |e: std::io::Error| ClusterError::Step { step: step.into(), detail: e.to_string() };
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().map_err(err)?;
    child.stdin.take().expect("piped stdin").write_all(input.as_bytes()).map_err(err)?;
    let out = child.wait_with_output().map_err(err)?;
    if out.status.success() {
        return Ok(());
    }
    Err(ClusterError::Step { step: step.into(), detail: String::from_utf8_lossy(&out.stderr).trim().to_string() })
}

impl PrivateCluster {
    /// Keep the cluster running past this value's lifetime, and have a watchdog stop it (and
    /// remove its directory) once process `pid` exits. For test harnesses whose cluster lives
    /// in a static, which Rust never drops.
    pub fn stop_when_process_exits(self, pid: u32) -> ClusterState {
        let data = self.data_dir().display().to_string();
        let pg_ctl = self.bin.join("pg_ctl").display().to_string();
        let prefix = match self.run_as {
            Some(user) => format!("runuser -u {user} -- {pg_ctl}"),
            None => pg_ctl,
        };
        let remove =
            if self.opts.remove_on_drop { format!("rm -rf '{}'", self.opts.dir.display()) } else { String::new() };
        let script = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 0.5; done; {prefix} -D '{data}' -m immediate stop >/dev/null 2>&1; {remove}"
        );
        let _ = Command::new("sh")
            .args(["-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        let state = self.state.clone();
        std::mem::forget(self);
        state
    }
}
