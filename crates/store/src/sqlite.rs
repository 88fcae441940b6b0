//! The SQLite engine: one file in WAL mode, foreign keys on, a busy timeout, and write
//! transactions opened with `BEGIN IMMEDIATE` so writers queue instead of failing midway.
//! Tenant scoping is enforced by the application (every query filters by `tenant_id`).

use crate::group_commit::{GroupWriter, WriteTx};
use crate::keys::KeyCache;
use crate::{Result, StoreError, TenantScope, crypto::Keyring};
use frontdesk_domain::Clock;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{ConnectOptions, Sqlite, SqlitePool};
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
    (
        8,
        "staff_auth",
        include_str!("../migrations/sqlite/0008_staff_auth.sql"),
    ),
    (
        9,
        "staff_mfa",
        include_str!("../migrations/sqlite/0009_staff_mfa.sql"),
    ),
    (
        10,
        "inbox",
        include_str!("../migrations/sqlite/0010_inbox.sql"),
    ),
    (
        11,
        "inbox_live",
        include_str!("../migrations/sqlite/0011_inbox_live.sql"),
    ),
    (
        12,
        "assignments",
        include_str!("../migrations/sqlite/0012_assignments.sql"),
    ),
    (
        13,
        "data_requests",
        include_str!("../migrations/sqlite/0013_data_requests.sql"),
    ),
    (
        14,
        "audit_checkpoints",
        include_str!("../migrations/sqlite/0014_audit_checkpoints.sql"),
    ),
    (
        15,
        "tenant_end",
        include_str!("../migrations/sqlite/0015_tenant_end.sql"),
    ),
    (
        16,
        "audit_retention",
        include_str!("../migrations/sqlite/0016_audit_retention.sql"),
    ),
    (
        17,
        "api_keys",
        include_str!("../migrations/sqlite/0017_api_keys.sql"),
    ),
    (
        18,
        "api_messages",
        include_str!("../migrations/sqlite/0018_api_messages.sql"),
    ),
    (
        19,
        "webhooks",
        include_str!("../migrations/sqlite/0019_webhooks.sql"),
    ),
    (
        20,
        "llm_settings",
        include_str!("../migrations/sqlite/0020_llm_settings.sql"),
    ),
    (
        21,
        "coordination",
        include_str!("../migrations/sqlite/0021_coordination.sql"),
    ),
    (
        22,
        "calendar_feeds",
        include_str!("../migrations/sqlite/0022_calendar_feeds.sql"),
    ),
    (
        23,
        "payments",
        include_str!("../migrations/sqlite/0023_payments.sql"),
    ),
    (
        24,
        "calcom",
        include_str!("../migrations/sqlite/0024_calcom.sql"),
    ),
    (
        25,
        "llm_limits",
        include_str!("../migrations/sqlite/0025_llm_limits.sql"),
    ),
    (
        26,
        "security_alerts",
        include_str!("../migrations/sqlite/0026_security_alerts.sql"),
    ),
    (
        30,
        "catalog_version",
        include_str!("../migrations/sqlite/0030_catalog_version.sql"),
    ),
    (
        31,
        "channels_version",
        include_str!("../migrations/sqlite/0031_channels_version.sql"),
    ),
    (
        32,
        "foreign_key_indexes",
        include_str!("../migrations/sqlite/0032_foreign_key_indexes.sql"),
    ),
    (
        33,
        "llm_settings_version",
        include_str!("../migrations/sqlite/0033_llm_settings_version.sql"),
    ),
    (
        34,
        "llm_month_spend",
        include_str!("../migrations/sqlite/0034_llm_month_spend.sql"),
    ),
    (
        35,
        "llm_spend_with_budget",
        include_str!("../migrations/sqlite/0035_llm_spend_with_budget.sql"),
    ),
];

pub struct SqliteStore {
    /// Readers (WAL: they never wait for the writer).
    pool: SqlitePool,
    /// The one connection that writes. SQLite allows one writer at a time; queueing writers
    /// here, in order and without sleeping, beats letting them collide in `BEGIN IMMEDIATE`
    /// and back off in SQLite's busy handler (other processes still wait there). Writes
    /// queued together share one durable commit (see `group_commit`).
    writer: GroupWriter,
    keys: KeyCache,
    /// Each clinic's catalogue, checked against its version stamp on every read.
    catalogs: crate::catalog_cache::CatalogCache,
    /// Each clinic's channel accounts, checked against its version stamp on every webhook.
    channels: crate::catalog_cache::ChannelCache,
    clock: Arc<dyn Clock>,
    /// Each clinic's outbound send bucket: in memory, as one process serves a SQLite file.
    send_buckets: crate::coordination::LocalSendBuckets,
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
        let pool = crate::pool::options::<sqlx::Sqlite>(max_connections)
            .connect_with(options(url)?)
            .await?;
        let writer = GroupWriter::new(options(url)?.connect().await?);
        Ok(Self {
            pool,
            writer,
            keys: KeyCache::new(keyring),
            catalogs: Default::default(),
            channels: Default::default(),
            clock,
            send_buckets: Default::default(),
        })
    }

    /// Makes this process the one that serves the SQLite database at `url`: an exclusive lock
    /// on `<file>.serve-lock`, held while the returned file is open (the operating system
    /// releases it when the process ends, however it ends). A second `serve` or `demo` on the
    /// same file is refused, because each clinic's send rate and other in-process state are
    /// kept by the one serving process (PostgreSQL keeps them in the database and runs many
    /// instances). `None` for an in-memory database.
    pub fn lock_for_serving(url: &str) -> std::io::Result<Option<std::fs::File>> {
        let opts = options(url).map_err(std::io::Error::other)?;
        let file = opts.get_filename();
        if file.as_os_str().is_empty() || file.as_os_str() == ":memory:" {
            return Ok(None);
        }
        let mut lock_path = file.as_os_str().to_owned();
        lock_path.push(".serve-lock");
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)?;
        match lock.try_lock() {
            Ok(()) => Ok(Some(lock)),
            Err(std::fs::TryLockError::WouldBlock) => Err(std::io::Error::new(
                std::io::ErrorKind::WouldBlock,
                format!(
                    "another frontdesk process is already serving this SQLite database (it holds {}); \
                     one process serves a SQLite file: stop the other one, or use PostgreSQL for several instances",
                    std::path::Path::new(&lock_path).display()
                ),
            )),
            Err(std::fs::TryLockError::Error(e)) => Err(e),
        }
    }

    fn local_send_buckets(&self) -> Option<&crate::coordination::LocalSendBuckets> {
        Some(&self.send_buckets)
    }

    /// Applies pending migrations; returns how many were applied.
    ///
    /// Foreign keys are off on the migration's own connection, as SQLite's procedure for
    /// rebuilding a table requires (a CHECK constraint cannot be changed in place: 0015
    /// rebuilds `tenants`, which every tenant table references); every foreign key of the
    /// whole database is then checked before the migrations commit.
    pub async fn migrate(url: &str) -> Result<usize> {
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options(url)?.foreign_keys(false))
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
        let broken = sqlx::query("PRAGMA foreign_key_check")
            .fetch_all(&mut *tx)
            .await?;
        if !broken.is_empty() {
            return Err(StoreError::Corrupt("a migration left a broken foreign key"));
        }
        tx.commit().await?;
        pool.close().await;
        Ok(applied)
    }

    /// SQLite has one writer at a time: a savepoint in the writer's current batch, which
    /// holds the write lock (`BEGIN IMMEDIATE`) from its start.
    async fn write_tx(&self, _scope: Option<TenantScope>) -> Result<SqliteTx> {
        Ok(SqliteTx::Write(self.writer.begin().await?))
    }

    async fn read_tx(&self, _scope: Option<TenantScope>) -> Result<SqliteTx> {
        Ok(SqliteTx::Read(self.pool.begin().await?))
    }

    /// A read transaction over one snapshot: in WAL mode a read transaction sees the database
    /// as of its first read until it ends, whatever is committed meanwhile.
    async fn snapshot_tx(&self, _scope: TenantScope) -> Result<SqliteTx> {
        Ok(SqliteTx::Read(self.pool.begin().await?))
    }

    /// Claiming due queue rows: one writer at a time, so claims never overlap.
    async fn claim_tx(&self) -> Result<SqliteTx> {
        self.write_tx(None).await
    }

    /// A read across clinics for counts: a reader, so the gauges never wait on the writer.
    async fn stats_tx(&self) -> Result<SqliteTx> {
        self.read_tx(None).await
    }

    async fn group_stats(&self) -> Option<crate::testing::GroupStats> {
        Some(self.writer.stats().await)
    }

    /// Deletes a clinic's audit log inside its purge (SQLite has no roles to keep it
    /// append-only). Answers how many entries went.
    async fn purge_audit_log(
        &self,
        tx: &mut SqliteTx,
        tenant: frontdesk_domain::TenantId,
    ) -> Result<u64> {
        Ok(sqlx::query("DELETE FROM audit_log WHERE tenant_id = $1")
            .bind(tenant.as_uuid())
            .execute(&mut **tx)
            .await?
            .rows_affected())
    }

    pub async fn close(&self) {
        self.writer.close().await;
        self.pool.close().await;
    }
}

/// A transaction as the shared operations see it: a read transaction on a reader connection,
/// or a write (a savepoint in the writer's group-committed batch).
pub(crate) enum SqliteTx {
    Read(sqlx::Transaction<'static, Sqlite>),
    Write(WriteTx),
}

impl SqliteTx {
    /// Ends the transaction; a write returns once it is durably committed.
    pub(crate) async fn commit(self) -> Result<()> {
        match self {
            SqliteTx::Read(tx) => Ok(tx.commit().await?),
            SqliteTx::Write(tx) => tx.commit().await,
        }
    }
}

impl std::ops::Deref for SqliteTx {
    type Target = SqliteConnection;
    fn deref(&self) -> &SqliteConnection {
        match self {
            SqliteTx::Read(tx) => tx,
            SqliteTx::Write(tx) => tx,
        }
    }
}

impl std::ops::DerefMut for SqliteTx {
    fn deref_mut(&mut self) -> &mut SqliteConnection {
        match self {
            SqliteTx::Read(tx) => tx,
            SqliteTx::Write(tx) => tx,
        }
    }
}

/// The shared operations (see `crate::sql`), compiled for this engine.
mod ops {
    use super::{SqliteStore, SqliteTx};
    crate::sql::sql_prelude!();
    crate::sql::sql_store!(SqliteStore, SqliteTx, "sqlite", "");
}
