//! Test support shared by the store's and the server's test suites: every test gets its own
//! database — a SQLite file in a temporary directory, or a fresh PostgreSQL database named by
//! a UUID, migrated as the owner and used through the non-owner app role, exactly as in
//! production.
//!
//! PostgreSQL is found at `FRONTDESK_TEST_PG_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`).
//! When it cannot be reached the PostgreSQL half of each test is skipped — unless
//! `CI` or `FRONTDESK_REQUIRE_PG` is set, in which case the test fails.

use crate::{
    DatabaseConfig, Result, Store, StoreError,
    crypto::{Keyring, MasterKey},
    open,
};
use frontdesk_domain::{Clock, SystemClock};
use sqlx::{Connection, PgConnection};
use std::sync::Arc;

/// SQLite's group-committed writer, for benchmarks that measure the engine's own limit with
/// the same commit strategy as the store.
pub use crate::group_commit::{GroupStats, GroupWriter, WriteTx};

/// The role the application uses in tests (created once per cluster if missing).
pub const TEST_APP_ROLE: &str = "frontdesk_app";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

pub fn pg_admin_url() -> String {
    std::env::var("FRONTDESK_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// Whether a missing PostgreSQL must fail the test run instead of skipping.
pub fn pg_required() -> bool {
    std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "false")
        || std::env::var_os("FRONTDESK_REQUIRE_PG").is_some()
}

fn with_database(url: &str, db: &str) -> String {
    match url.rfind('/') {
        Some(i)
            if url[..i].contains("://")
                && url[..i].len() > url.find("://").map_or(0, |p| p + 2) =>
        {
            let (base, rest) = url.split_at(i);
            let query = rest.find('?').map(|q| &rest[q..]).unwrap_or("");
            format!("{base}/{db}{query}")
        }
        _ => format!("{url}/{db}"),
    }
}

fn with_user(url: &str, user: &str) -> String {
    // postgres://USER[:PASS]@host... -> postgres://frontdesk_app@host...
    match (url.find("://"), url.find('@')) {
        (Some(s), Some(at)) if at > s => format!("{}{}{}", &url[..s + 3], user, &url[at..]),
        (Some(s), None) => format!("{}{}@{}", &url[..s + 3], user, &url[s + 3..]),
        _ => url.to_owned(),
    }
}

/// `url` with its `host:port` replaced by `host_port` (user, database and query kept).
fn with_host_port(url: &str, host_port: &str) -> String {
    let authority = url.find("://").map_or(0, |s| s + 3);
    let end = url[authority..]
        .find(['/', '?'])
        .map_or(url.len(), |e| authority + e);
    let host = url[authority..end]
        .rfind('@')
        .map_or(authority, |at| authority + at + 1);
    format!("{}{host_port}{}", &url[..host], &url[end..])
}

/// One test's private database.
pub struct TestDb {
    pub engine: Engine,
    pub cfg: DatabaseConfig,
    /// PostgreSQL: the owner's URL of this test database (bypasses RLS; for test assertions).
    pub owner_url: Option<String>,
    /// SQLite: the database file.
    pub sqlite_path: Option<std::path::PathBuf>,
    pg_name: Option<String>,
    _dir: Option<tempfile::TempDir>,
}

impl std::fmt::Debug for TestDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TestDb({:?})", self.engine)
    }
}

impl TestDb {
    pub async fn sqlite() -> Result<Self> {
        let dir = tempfile::tempdir().map_err(|e| StoreError::Database(sqlx::Error::Io(e)))?;
        let path = dir.path().join("frontdesk.db");
        let cfg = DatabaseConfig {
            url: format!("sqlite://{}", path.display()),
            owner_url: None,
            app_role: None,
            max_connections: 4,
        };
        crate::migrate(&cfg).await?;
        Ok(Self {
            engine: Engine::Sqlite,
            cfg,
            owner_url: None,
            sqlite_path: Some(path),
            pg_name: None,
            _dir: Some(dir),
        })
    }

    /// A fresh PostgreSQL database, or `None` when PostgreSQL is unreachable and not required.
    pub async fn postgres() -> Result<Option<Self>> {
        let admin = pg_admin_url();
        let mut conn = match PgConnection::connect(&admin).await {
            Ok(c) => c,
            Err(e) if !pg_required() => {
                eprintln!(
                    "PostgreSQL unreachable ({e}); skipping the PostgreSQL half of this test"
                );
                return Ok(None);
            }
            Err(e) => return Err(e.into()),
        };
        // Roles are cluster-wide; tolerate another test creating it at the same moment.
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "DO $$ BEGIN
               CREATE ROLE {TEST_APP_ROLE} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
             EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$;"
        )))
        .execute(&mut conn)
        .await?;
        let name = format!("fd_test_{}", uuid::Uuid::now_v7().simple());
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await?;
        conn.close().await?;
        let owner_url = with_database(&admin, &name);
        let cfg = DatabaseConfig {
            url: with_user(&owner_url, TEST_APP_ROLE),
            owner_url: Some(owner_url.clone()),
            app_role: Some(TEST_APP_ROLE.into()),
            max_connections: 4,
        };
        crate::migrate(&cfg).await?;
        Ok(Some(Self {
            engine: Engine::Postgres,
            cfg,
            owner_url: Some(owner_url),
            sqlite_path: None,
            pg_name: Some(name),
            _dir: None,
        }))
    }

    /// PostgreSQL: this database's configuration with the application's connections sent to
    /// `host_port` instead (e.g. a test's TCP proxy in front of the server, to cut and refuse
    /// connections as a database outage would); migrations and `owner_url` are unchanged.
    pub fn cfg_via(&self, host_port: &str) -> DatabaseConfig {
        DatabaseConfig {
            url: with_host_port(&self.cfg.url, host_port),
            ..self.cfg.clone()
        }
    }

    pub async fn open(&self, keyring: Keyring, clock: Arc<dyn Clock>) -> Result<Arc<dyn Store>> {
        Ok(open(&self.cfg, keyring, clock).await?.store)
    }

    /// Opens with a fresh random master key and the system clock.
    pub async fn open_default(&self) -> Result<Arc<dyn Store>> {
        self.open(test_keyring(), Arc::new(SystemClock)).await
    }

    /// Drops a PostgreSQL test database (call at the end of a passing test).
    pub async fn cleanup(self) {
        if let Some(name) = &self.pg_name
            && let Ok(mut conn) = PgConnection::connect(&pg_admin_url()).await
        {
            let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
            )))
            .execute(&mut conn)
            .await;
        }
    }
}

pub fn test_keyring() -> Keyring {
    Keyring::new(MasterKey::generate("test1"), vec![])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_rewriting() {
        let u = with_database("postgres://postgres@127.0.0.1:5432/postgres", "fd_x");
        assert_eq!(u, "postgres://postgres@127.0.0.1:5432/fd_x");
        assert_eq!(with_user(&u, "app"), "postgres://app@127.0.0.1:5432/fd_x");
        assert_eq!(
            with_user("postgres://127.0.0.1/db", "app"),
            "postgres://app@127.0.0.1/db"
        );
        assert_eq!(
            with_database("postgres://u:p@h/db?sslmode=disable", "t"),
            "postgres://u:p@h/t?sslmode=disable"
        );
        assert_eq!(
            with_host_port("postgres://app@127.0.0.1:5432/fd_x", "127.0.0.1:40123"),
            "postgres://app@127.0.0.1:40123/fd_x"
        );
        assert_eq!(
            with_host_port("postgres://u:p@db/t?sslmode=disable", "[::1]:7"),
            "postgres://u:p@[::1]:7/t?sslmode=disable"
        );
        assert_eq!(
            with_host_port("postgres://localhost", "h:1"),
            "postgres://h:1"
        );
        assert_eq!(
            with_host_port("postgres://h:5432/db?application_name=a@b", "p:2"),
            "postgres://p:2/db?application_name=a@b"
        );
    }
}
