//! The database behind the server: PostgreSQL, or an embedded SQLite file.

use std::str::FromStr;
use std::time::Duration;

use sqlx::pool::PoolOptions;
use sqlx::postgres::PgConnectOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sqlx::{Postgres, Sqlite};
use vitals_pool::{MeteredPool, PoolSizing};

use crate::error::StartupError;
use crate::redact::redact_url;
use crate::settings::Settings;

/// The `application_name` the server's PostgreSQL connections carry.
pub const APPLICATION_NAME: &str = "vitals-server";

/// File name of the embedded database inside `--data-dir`.
pub const EMBEDDED_FILE: &str = "vitals.db";

/// A metered pool on one of the supported backends.
#[derive(Clone)]
pub enum Db {
    /// PostgreSQL.
    Postgres(MeteredPool<Postgres>),
    /// SQLite (embedded or given by URL).
    Sqlite(MeteredPool<Sqlite>),
}

impl Db {
    /// Opens the pool the settings describe and checks one connection works.
    pub async fn connect(settings: &Settings) -> Result<Self, StartupError> {
        let sizing = PoolSizing {
            min: settings.pool_min,
            max: settings.pool_max,
        };
        let acquire = Duration::from_millis(settings.acquire_timeout_ms);
        let give_up_ms = settings.database_timeout().as_millis().to_string();
        match settings.database_url.as_deref() {
            Some(url) if url.starts_with("postgres") => {
                let target = redact_url(url);
                // The database abandons a statement, a wait for a lock (the commit's too), or
                // a transaction whose next statement does not come, before the request
                // deadline: a request answered "not stored" cannot be committed later
                // (docs/health-agent.md, "What each status means").
                let options = PgConnectOptions::from_str(url)
                    .map_err(|e| StartupError::database(&target, e))?
                    .application_name(APPLICATION_NAME)
                    .options([
                        ("statement_timeout", give_up_ms.as_str()),
                        ("lock_timeout", give_up_ms.as_str()),
                        ("idle_in_transaction_session_timeout", give_up_ms.as_str()),
                    ]);
                let pool = sizing
                    .apply(PoolOptions::<Postgres>::new())
                    .acquire_timeout(acquire)
                    .connect_with(options)
                    .await
                    .map_err(|e| StartupError::database(&target, e))?;
                Ok(Self::Postgres(MeteredPool::new(pool)))
            }
            Some(url) => {
                let target = redact_url(url);
                let options = SqliteConnectOptions::from_str(url)
                    .map_err(|e| StartupError::database(&target, e))?;
                Self::sqlite(&target, options, sizing, acquire, settings).await
            }
            None => {
                let dir = &settings.data_dir;
                std::fs::create_dir_all(dir).map_err(|source| StartupError::DataDir {
                    path: dir.display().to_string(),
                    source,
                })?;
                let path = dir.join(EMBEDDED_FILE);
                let options = SqliteConnectOptions::new().filename(&path);
                Self::sqlite(
                    &path.display().to_string(),
                    options,
                    sizing,
                    acquire,
                    settings,
                )
                .await
            }
        }
    }

    async fn sqlite(
        target: &str,
        options: SqliteConnectOptions,
        sizing: PoolSizing,
        acquire: Duration,
        settings: &Settings,
    ) -> Result<Self, StartupError> {
        // WAL lets readers work while one connection writes; NORMAL sync is durable at each
        // checkpoint and safe against corruption, the usual choice with WAL. A writer waits
        // for another's lock no longer than the database timeout.
        let options = options
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(acquire.min(settings.database_timeout()));
        let pool = sizing
            .apply(PoolOptions::<Sqlite>::new())
            .acquire_timeout(acquire)
            .connect_with(options)
            .await
            .map_err(|e| StartupError::database(target, e))?;
        Ok(Self::Sqlite(MeteredPool::new(pool)))
    }

    /// `postgresql` or `sqlite`.
    pub fn backend(&self) -> &str {
        match self {
            Self::Postgres(p) => p.backend(),
            Self::Sqlite(p) => p.backend(),
        }
    }

    /// Brings the schema up to date (the migrations are compiled into the binary).
    pub async fn migrate(&self) -> Result<(), sqlx::migrate::MigrateError> {
        match self {
            Self::Postgres(p) => sqlx::migrate!("./migrations/postgres").run(p.pool()).await,
            Self::Sqlite(p) => sqlx::migrate!("./migrations/sqlite").run(p.pool()).await,
        }
    }

    /// Closes every connection, waiting for those in use to come back.
    pub async fn close(&self) {
        match self {
            Self::Postgres(p) => p.pool().close().await,
            Self::Sqlite(p) => p.pool().close().await,
        }
    }
}
