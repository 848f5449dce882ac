//! Test support shared by the Vitals crates' integration tests.
//!
//! Everything here talks to real services on loopback only: the PostgreSQL and Redis of the
//! machine, a `redis-server` the test starts itself, and a TCP proxy the test can cut.

// docs/slo.md's example, compiled and run with the doctests (no published crate may include
// a file from outside its own folder).
#[cfg(doctest)]
#[doc = include_str!("../../../docs/slo.md")]
struct SloDocs;

use std::net::{SocketAddr, TcpListener};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::sync::watch;

pub mod browser;
mod gate;

pub use gate::Gate;

/// The PostgreSQL the tests use: `VITALS_TEST_DATABASE_URL`, or the local `test` database.
pub fn postgres_url() -> String {
    std::env::var("VITALS_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// The Redis the tests use: `VITALS_TEST_REDIS_URL`, or the local server on 6379.
pub fn redis_url() -> String {
    std::env::var("VITALS_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

/// A loopback port nothing listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// A name no other test run shares (for keys and user ids in shared services).
pub fn unique(prefix: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{prefix}-{}-{nanos}", std::process::id())
}

/// A PostgreSQL database of the test's own on the test server, dropped (with its
/// connections) when this goes out of scope. Needs `psql` (.ci/run installs it).
pub struct OwnDatabase {
    /// The database's name.
    pub name: String,
}

impl OwnDatabase {
    /// Creates an empty database with a unique name.
    pub fn create() -> Self {
        let name = unique("vitals_test").replace('-', "_");
        psql(&format!("CREATE DATABASE {name}"));
        Self { name }
    }

    /// Its URL, on the server of [`postgres_url`].
    pub fn url(&self) -> String {
        let base = postgres_url();
        let server = base.rsplit_once('/').map_or(base.as_str(), |(s, _)| s);
        format!("{server}/{}", self.name)
    }

    /// Its URL for logging in as `role` instead of the test server's superuser.
    pub fn url_as(&self, role: &OwnRole) -> String {
        let url = self.url();
        let (scheme, rest) = url.split_once("://").unwrap_or(("postgres", url.as_str()));
        let place = rest.rsplit_once('@').map_or(rest, |(_, place)| place);
        format!("{scheme}://{}@{place}", role.name)
    }

    /// Runs `sql` (one or more statements) in this database as the superuser.
    pub fn execute(&self, sql: &str) {
        psql_on(&self.name, sql);
    }
}

/// A PostgreSQL role of the test's own, able to log in; dropped when this goes out of scope.
/// Declare it before the [`OwnDatabase`] it owns, so that the database is dropped first.
pub struct OwnRole {
    /// The role's name.
    pub name: String,
}

impl OwnRole {
    /// Creates a login role with a unique name.
    pub fn create() -> Self {
        let name = unique("vitals_role").replace('-', "_");
        psql(&format!("CREATE ROLE {name} LOGIN"));
        Self { name }
    }

    /// Makes it the owner of `db` (so it may create tables there, e.g. run migrations).
    pub fn owns(&self, db: &OwnDatabase) {
        psql(&format!(
            "ALTER DATABASE {} OWNER TO {}",
            db.name, self.name
        ));
    }

    /// Runs `statement` on the server as the superuser, with `{role}` replaced by the role's
    /// name (e.g. `ALTER ROLE {role} NOLOGIN`).
    pub fn admin(&self, statement: &str) {
        psql(&statement.replace("{role}", &self.name));
    }
}

impl Drop for OwnRole {
    fn drop(&mut self) {
        psql(&format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{}'",
            self.name
        ));
        psql(&format!("DROP ROLE IF EXISTS {}", self.name));
    }
}

impl Drop for OwnDatabase {
    fn drop(&mut self) {
        psql(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        ));
    }
}

/// The URL of a database of this test process's own, created on first use and shared by the
/// tests of the process (they migrate it, so they must not use the shared `test` database,
/// whose schema other branches' runs may have moved on). Statics are never dropped, so each
/// creation first drops the databases left by test processes that have exited.
pub fn process_database_url() -> String {
    static DB: std::sync::OnceLock<OwnDatabase> = std::sync::OnceLock::new();
    DB.get_or_init(|| {
        drop_databases_of_dead_processes();
        OwnDatabase::create()
    })
    .url()
}

/// Drops `vitals_test_<pid>_…` databases whose process is gone.
fn drop_databases_of_dead_processes() {
    let base = postgres_url();
    let server = base.rsplit_once('/').map_or(base.as_str(), |(s, _)| s);
    let Ok(out) = Command::new("psql")
        .args(["-qAt", "-d", &format!("{server}/postgres"), "-c"])
        .arg("SELECT datname FROM pg_database WHERE datname LIKE 'vitals\\_test\\_%'")
        .output()
    else {
        return;
    };
    for name in String::from_utf8_lossy(&out.stdout).lines() {
        let pid = name.trim_start_matches("vitals_test_").split('_').next();
        let alive = pid.is_some_and(|p| std::path::Path::new(&format!("/proc/{p}")).exists());
        if !alive {
            psql(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
        }
    }
}

/// Runs one statement as the test server's superuser, on its `postgres` database.
fn psql(statement: &str) {
    psql_on("postgres", statement);
}

/// Runs `statement` as the test server's superuser, on `database`.
fn psql_on(database: &str, statement: &str) {
    let base = postgres_url();
    let server = base.rsplit_once('/').map_or(base.as_str(), |(s, _)| s);
    let status = Command::new("psql")
        .args([
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-d",
            &format!("{server}/{database}"),
            "-c",
            statement,
        ])
        .stdout(Stdio::null())
        .status()
        .expect("psql is installed (.ci/run installs it)");
    assert!(status.success(), "psql failed: {statement}");
}

/// A `redis-server` owned by the test, on its own loopback port; killed on drop.
pub struct OwnRedis {
    /// Its port.
    pub port: u16,
    child: Child,
    paused: AtomicBool,
}

impl OwnRedis {
    /// Starts one on `port` and waits until it accepts connections.
    pub fn start(port: u16) -> Self {
        Self::start_with(port, &[])
    }

    /// Starts one on `port` with more `redis-server` arguments (e.g.
    /// `["--enable-debug-command", "local"]` for `DEBUG SLEEP`) and waits until it accepts
    /// connections.
    pub fn start_with(port: u16, extra_args: &[&str]) -> Self {
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .args(extra_args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server is installed (.ci/run installs it)");
        let deadline = Instant::now() + Duration::from_secs(5);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "redis-server did not start on {port}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Self {
            port,
            child,
            paused: AtomicBool::new(false),
        }
    }

    /// Starts one on `port` that keeps its data in an append-only file in `dir`, written
    /// through on every command, so a restart on the same `dir` comes back with every key.
    pub fn start_persistent(port: u16, dir: &std::path::Path) -> Self {
        let dir = dir.to_str().expect("a UTF-8 data folder");
        Self::start_with(
            port,
            &[
                "--dir",
                dir,
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
            ],
        )
    }

    /// Its URL.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Freezes it with SIGSTOP: connections stay open, nothing is answered (a hung Redis).
    pub fn pause(&self) {
        self.paused.store(true, Ordering::SeqCst);
        signal(self.pid(), "STOP");
    }

    /// Lets a paused one run again with SIGCONT.
    pub fn resume(&self) {
        signal(self.pid(), "CONT");
        self.paused.store(false, Ordering::SeqCst);
    }

    /// Kills it and waits for the exit.
    pub fn stop(mut self) {
        self.kill();
    }

    fn kill(&mut self) {
        if self.paused.swap(false, Ordering::SeqCst) {
            signal(self.child.id(), "CONT");
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Sends `SIG<name>` to `pid` with kill(1).
fn signal(pid: u32, name: &str) {
    let status = Command::new("kill")
        .args([format!("-{name}"), pid.to_string()])
        .stderr(Stdio::null())
        .status()
        .expect("kill(1) runs");
    assert!(
        status.success() || name == "CONT",
        "kill -{name} {pid} failed"
    );
}

/// A loopback TCP proxy in front of a real service, which the test can cut (every open
/// connection closed, new ones closed on arrival) and restore.
pub struct Proxy {
    /// Where clients connect.
    pub addr: SocketAddr,
    up: Arc<AtomicBool>,
    cut: watch::Sender<u64>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    /// Starts forwarding a loopback port to `target`. Needs a Tokio runtime.
    pub async fn start(target: SocketAddr) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind proxy");
        let addr = listener.local_addr().expect("proxy address");
        let up = Arc::new(AtomicBool::new(true));
        let (cut, cuts) = watch::channel(0u64);
        let task = {
            let up = Arc::clone(&up);
            tokio::spawn(async move {
                while let Ok((mut client, _)) = listener.accept().await {
                    if !up.load(Ordering::SeqCst) {
                        drop(client);
                        continue;
                    }
                    let mut cuts = cuts.clone();
                    // Only cuts after this connection was accepted close it.
                    cuts.borrow_and_update();
                    tokio::spawn(async move {
                        let Ok(mut server) = tokio::net::TcpStream::connect(target).await else {
                            return;
                        };
                        tokio::select! {
                            _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                            _ = cuts.changed() => {}
                        }
                    });
                }
            })
        };
        Self {
            addr,
            up,
            cut,
            task,
        }
    }

    /// Closes every open connection and refuses new ones until [`Proxy::restore`].
    pub fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        self.cut.send_modify(|n| *n += 1);
    }

    /// Lets connections through again.
    pub fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
        self.cut.send_modify(|n| *n += 1);
    }
}

/// Runs `promtool check metrics` over an exposition; panics with what it said unless it
/// passes without a word (lint warnings count as failures).
pub fn assert_promtool_clean(text: &str) {
    use std::io::Write;
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool is installed (.ci/setup installs it)");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("write to promtool");
    let out = child.wait_with_output().expect("promtool");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && said.trim().is_empty(),
        "promtool: {said}\n{text}"
    );
}
