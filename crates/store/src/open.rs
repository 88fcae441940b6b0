//! Choosing and preparing the engine from `database_url`: `sqlite:` (or `sqlite://`) opens
//! an embedded file; `postgres://` / `postgresql://` connects to PostgreSQL.

use crate::{PgStore, Result, SqliteStore, Store, StoreError, crypto::Keyring};
use frontdesk_domain::Clock;
use std::sync::Arc;

/// Where the data lives and how to reach it.
#[derive(Clone)]
pub struct DatabaseConfig {
    /// The application's connection (on PostgreSQL: the non-owner app role).
    pub url: String,
    /// PostgreSQL only: the schema owner's connection, used for migrations. Defaults to `url`.
    pub owner_url: Option<String>,
    /// PostgreSQL only: the role granted table access by migrations.
    pub app_role: Option<String>,
    pub max_connections: u32,
}

impl std::fmt::Debug for DatabaseConfig {
    // URLs may carry passwords: never print them.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "DatabaseConfig({}, <urls redacted>)",
            engine_of(&self.url).unwrap_or("unknown")
        )
    }
}

pub(crate) fn engine_of(url: &str) -> Option<&'static str> {
    if url.starts_with("sqlite:") {
        Some("sqlite")
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Some("postgres")
    } else {
        None
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MigrationReport {
    pub engine: &'static str,
    pub applied: usize,
}

/// Applies pending migrations for the configured engine.
pub async fn migrate(cfg: &DatabaseConfig) -> Result<MigrationReport> {
    match engine_of(&cfg.url) {
        Some("sqlite") => Ok(MigrationReport {
            engine: "sqlite",
            applied: SqliteStore::migrate(&cfg.url).await?,
        }),
        Some(_) => {
            // Grants are given by the owner to the app role; without a separate owner URL the
            // application's own role runs migrations and there is nobody to grant to.
            let (owner, grant_to) = match cfg.owner_url.as_deref() {
                Some(owner) => (owner, cfg.app_role.as_deref()),
                None => (cfg.url.as_str(), None),
            };
            Ok(MigrationReport {
                engine: "postgres",
                applied: PgStore::migrate(owner, grant_to).await?,
            })
        }
        None => Err(StoreError::Corrupt(
            "database_url must start with sqlite: or postgres://",
        )),
    }
}

/// An opened store and, on PostgreSQL, what (if anything) makes its role unsafe.
pub struct Opened {
    pub store: Arc<dyn Store>,
    pub insecure_role: Vec<&'static str>,
}

/// Opens the configured engine (migrations are separate: see [`migrate`]).
pub async fn open(cfg: &DatabaseConfig, keyring: Keyring, clock: Arc<dyn Clock>) -> Result<Opened> {
    match engine_of(&cfg.url) {
        Some("sqlite") => Ok(Opened {
            store: Arc::new(
                SqliteStore::connect(&cfg.url, keyring, clock, cfg.max_connections).await?,
            ),
            insecure_role: Vec::new(),
        }),
        Some(_) => {
            let pg = PgStore::connect(&cfg.url, keyring, clock, cfg.max_connections).await?;
            let insecure_role = pg.insecure_role_reasons().await?;
            Ok(Opened {
                store: Arc::new(pg),
                insecure_role,
            })
        }
        None => Err(StoreError::Corrupt(
            "database_url must start with sqlite: or postgres://",
        )),
    }
}

/// A consistent copy of a SQLite database file into `out` (which must not exist), taken with
/// `VACUUM INTO` on a read-only connection: safe while the server writes (WAL), and the copy
/// holds every committed transaction up to the moment it starts.
pub async fn sqlite_snapshot(db: &std::path::Path, out: &std::path::Path) -> Result<()> {
    use sqlx::Connection;
    let opts = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(db)
        .read_only(true);
    let mut conn = sqlx::SqliteConnection::connect_with(&opts).await?;
    let target = out
        .to_str()
        .ok_or(StoreError::Corrupt("the snapshot path is not UTF-8"))?;
    sqlx::query("VACUUM INTO ?")
        .bind(target)
        .execute(&mut conn)
        .await?;
    conn.close().await?;
    Ok(())
}
