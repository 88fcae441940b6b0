//! The SQLite engine: one file in WAL mode, foreign keys on, a busy timeout, and write
//! transactions opened with `BEGIN IMMEDIATE` so writers queue instead of failing midway.
//! Tenant scoping is enforced by the application (every query filters by `tenant_id`).

use crate::keys::KeyCache;
use crate::{Result, StoreError, TenantScope, crypto::Keyring};
use frontdesk_domain::Clock;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, SqlitePool};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "init",
        include_str!("../migrations/sqlite/0001_init.sql"),
    ),
    (
        2,
        "channels",
        include_str!("../migrations/sqlite/0002_channels.sql"),
    ),
    (
        3,
        "verification",
        include_str!("../migrations/sqlite/0003_verification.sql"),
    ),
    (
        4,
        "calls",
        include_str!("../migrations/sqlite/0004_calls.sql"),
    ),
    (
        5,
        "reminders",
        include_str!("../migrations/sqlite/0005_reminders.sql"),
    ),
    (
        6,
        "waitlist",
        include_str!("../migrations/sqlite/0006_waitlist.sql"),
    ),
    (
        7,
        "recordings",
        include_str!("../migrations/sqlite/0007_recordings.sql"),
    ),
];

pub struct SqliteStore {
    /// Readers (WAL: they never wait for the writer).
    pool: SqlitePool,
    /// The one connection that writes. SQLite allows one writer at a time; queueing writers
    /// here, in order and without sleeping, beats letting them collide in `BEGIN IMMEDIATE`
    /// and back off in SQLite's busy handler (other processes still wait there).
    writer: SqlitePool,
    keys: KeyCache,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SqliteStore")
    }
}

fn options(url: &str) -> Result<SqliteConnectOptions> {
    Ok(SqliteConnectOptions::from_str(url)
        .map_err(StoreError::Database)?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        // FULL: an acknowledged message survives power loss, not only a process crash.
        .synchronous(SqliteSynchronous::Full)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(10)))
}

impl SqliteStore {
    pub async fn connect(
        url: &str,
        keyring: Keyring,
        clock: Arc<dyn Clock>,
        max_connections: u32,
    ) -> Result<Self> {
        let pool = SqlitePoolOptions::new()
            .max_connections(max_connections.max(1))
            .connect_with(options(url)?)
            .await?;
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options(url)?)
            .await?;
        Ok(Self {
            pool,
            writer,
            keys: KeyCache::new(keyring),
            clock,
        })
    }

    /// Applies pending migrations; returns how many were applied.
    pub async fn migrate(url: &str) -> Result<usize> {
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options(url)?)
            .await?;
        let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
        sqlx::raw_sql(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, \
             checksum BLOB NOT NULL, applied_at INTEGER NOT NULL) STRICT",
        )
        .execute(&mut *tx)
        .await?;
        let mut applied = 0;
        for (version, name, sql) in MIGRATIONS {
            let checksum = crate::crypto::token_hash(sql);
            let existing: Option<(Vec<u8>,)> =
                sqlx::query_as("SELECT checksum FROM schema_migrations WHERE version = $1")
                    .bind(version)
                    .fetch_optional(&mut *tx)
                    .await?;
            match existing {
                Some((c,)) if c == checksum => continue,
                Some(_) => {
                    return Err(StoreError::Corrupt(
                        "an applied migration was changed after it ran",
                    ));
                }
                None => {}
            }
            sqlx::raw_sql(sqlx::AssertSqlSafe(*sql))
                .execute(&mut *tx)
                .await?;
            sqlx::query("INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES ($1, $2, $3, $4)")
                .bind(version)
                .bind(name)
                .bind(checksum)
                .bind(crate::to_us(jiff::Timestamp::now()))
                .execute(&mut *tx)
                .await?;
            applied += 1;
        }
        tx.commit().await?;
        pool.close().await;
        Ok(applied)
    }

    /// SQLite has one writer at a time; `BEGIN IMMEDIATE` takes the write lock up front.
    async fn write_tx(
        &self,
        _scope: Option<TenantScope>,
    ) -> Result<sqlx::Transaction<'static, Sqlite>> {
        Ok(self.writer.begin_with("BEGIN IMMEDIATE").await?)
    }

    async fn read_tx(
        &self,
        _scope: Option<TenantScope>,
    ) -> Result<sqlx::Transaction<'static, Sqlite>> {
        Ok(self.pool.begin().await?)
    }

    /// A read transaction over one snapshot: in WAL mode a read transaction sees the database
    /// as of its first read until it ends, whatever is committed meanwhile.
    async fn snapshot_tx(&self, _scope: TenantScope) -> Result<sqlx::Transaction<'static, Sqlite>> {
        Ok(self.pool.begin().await?)
    }

    /// Claiming due queue rows: one writer at a time, so claims never overlap.
    async fn claim_tx(&self) -> Result<sqlx::Transaction<'static, Sqlite>> {
        Ok(self.writer.begin_with("BEGIN IMMEDIATE").await?)
    }

    pub async fn close(&self) {
        self.writer.close().await;
        self.pool.close().await;
    }
}

/// The shared operations (see `crate::sql`), compiled for this engine.
mod ops {
    use super::SqliteStore;
    use sqlx::Sqlite;
    crate::sql::sql_prelude!();
    crate::sql::sql_store!(SqliteStore, Sqlite, "sqlite", "");
}
