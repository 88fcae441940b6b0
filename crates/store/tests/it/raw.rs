//! Access below the store, for assertions about what is really stored: SQLite opened
//! directly, PostgreSQL as the test database's owner (a superuser, so RLS does not apply).

use frontdesk_store::testing::{Engine, TestDb};
use sqlx::{AssertSqlSafe, Connection, PgConnection, SqliteConnection};
use std::collections::BTreeMap;
use uuid::Uuid;

pub enum Raw {
    Sqlite(SqliteConnection),
    Pg(PgConnection),
}

/// Quotes a table or column name taken from the catalogue or from the test itself.
pub fn ident(name: &str) -> String {
    assert!(
        !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
        "unexpected identifier {name:?}"
    );
    format!("\"{name}\"")
}

impl Raw {
    pub async fn open(db: &TestDb) -> Raw {
        match db.engine {
            Engine::Sqlite => Raw::Sqlite(
                SqliteConnection::connect(&db.cfg.url)
                    .await
                    .expect("raw SQLite connection"),
            ),
            Engine::Postgres => {
                let owner = db
                    .owner_url
                    .as_deref()
                    .expect("owner URL of a PostgreSQL test database");
                Raw::Pg(
                    PgConnection::connect(owner)
                        .await
                        .expect("owner connection"),
                )
            }
        }
    }

    /// Every table of the schema, migrations bookkeeping included.
    pub async fn tables(&mut self) -> Vec<String> {
        let tables: Vec<String> = match self {
            Raw::Sqlite(c) => sqlx::query_scalar(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
            )
            .fetch_all(c)
            .await
            .unwrap(),
            Raw::Pg(c) => sqlx::query_scalar(
                "SELECT table_name::text FROM information_schema.tables \
                 WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY 1",
            )
            .fetch_all(c)
            .await
            .unwrap(),
        };
        assert!(
            tables.len() >= 20,
            "expected the whole schema, found {tables:?}"
        );
        tables
    }

    /// Every table with a `tenant_id` column (the clinic's data, the routing directory and
    /// the operator's `deletion_certificates`), on either engine.
    pub async fn tables_with_tenant_id(&mut self) -> Vec<String> {
        match self {
            Raw::Sqlite(c) => sqlx::query_scalar(
                "SELECT m.name FROM sqlite_master m JOIN pragma_table_info(m.name) p \
                 WHERE m.type = 'table' AND p.name = 'tenant_id' ORDER BY 1",
            )
            .fetch_all(c)
            .await
            .unwrap(),
            Raw::Pg(c) => sqlx::query_scalar(
                "SELECT c.table_name::text FROM information_schema.columns c \
                 JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name \
                 WHERE c.table_schema = 'public' AND c.column_name = 'tenant_id' AND t.table_type = 'BASE TABLE' ORDER BY 1",
            )
            .fetch_all(c)
            .await
            .unwrap(),
        }
    }

    /// How many rows of `tenant` each of `tables` holds.
    pub async fn rows_of(&mut self, tables: &[String], tenant: Uuid) -> BTreeMap<String, i64> {
        let mut out = BTreeMap::new();
        for t in tables {
            let sql = format!("SELECT count(*) FROM {} WHERE tenant_id = $1", ident(t));
            out.insert(t.clone(), self.scalar(sql, &[tenant]).await);
        }
        out
    }

    /// The number of rows in every table.
    pub async fn row_counts(&mut self) -> BTreeMap<String, i64> {
        let mut counts = BTreeMap::new();
        for table in self.tables().await {
            let sql = AssertSqlSafe(format!("SELECT count(*) FROM {}", ident(&table)));
            let n: i64 = match self {
                Raw::Sqlite(c) => sqlx::query_scalar(sql).fetch_one(c).await.unwrap(),
                Raw::Pg(c) => sqlx::query_scalar(sql).fetch_one(c).await.unwrap(),
            };
            counts.insert(table, n);
        }
        counts
    }

    /// Overwrites `column` of row `to` with the value the same column holds in row `from`
    /// (how an attacker with write access to the database would swap ciphertexts).
    pub async fn copy_column(&mut self, table: &str, column: &str, from: Uuid, to: Uuid) {
        let (t, c) = (ident(table), ident(column));
        let sql = format!("UPDATE {t} SET {c} = (SELECT {c} FROM {t} WHERE id = $1) WHERE id = $2");
        assert_eq!(
            self.execute(sql, &[from, to]).await,
            1,
            "exactly one row of {table} changed"
        );
    }

    /// Overwrites column `to_column` of row `row` with its own `from_column`.
    pub async fn copy_within_row(
        &mut self,
        table: &str,
        from_column: &str,
        to_column: &str,
        row: Uuid,
    ) {
        let sql = format!(
            "UPDATE {} SET {} = {} WHERE id = $1",
            ident(table),
            ident(to_column),
            ident(from_column)
        );
        assert_eq!(
            self.execute(sql, &[row]).await,
            1,
            "exactly one row of {table} changed"
        );
    }

    /// The bytes `column` of row `id` holds, as stored (`None` for NULL).
    pub async fn bytes(&mut self, table: &str, column: &str, id: Uuid) -> Option<Vec<u8>> {
        let sql = AssertSqlSafe(format!(
            "SELECT {} FROM {} WHERE id = $1",
            ident(column),
            ident(table)
        ));
        match self {
            Raw::Sqlite(c) => sqlx::query_scalar(sql).bind(id).fetch_one(c).await.unwrap(),
            Raw::Pg(c) => sqlx::query_scalar(sql).bind(id).fetch_one(c).await.unwrap(),
        }
    }

    /// The bytes a one-value query binding `ids` as $1, $2, … answers.
    pub async fn blob(&mut self, sql: &str, ids: &[Uuid]) -> Vec<u8> {
        let sql = AssertSqlSafe(sql.to_owned());
        match self {
            Raw::Sqlite(c) => {
                let mut q = sqlx::query_scalar(sql);
                for id in ids {
                    q = q.bind(*id);
                }
                q.fetch_one(c).await.unwrap()
            }
            Raw::Pg(c) => {
                let mut q = sqlx::query_scalar(sql);
                for id in ids {
                    q = q.bind(*id);
                }
                q.fetch_one(c).await.unwrap()
            }
        }
    }

    /// Runs one statement binding `blob` as $1 and `ids` as $2, $3, …; rows affected.
    pub async fn execute_blob(&mut self, sql: &str, blob: &[u8], ids: &[Uuid]) -> u64 {
        let sql = AssertSqlSafe(sql.to_owned());
        match self {
            Raw::Sqlite(c) => {
                let mut q = sqlx::query(sql).bind(blob);
                for id in ids {
                    q = q.bind(*id);
                }
                q.execute(c).await.unwrap().rows_affected()
            }
            Raw::Pg(c) => {
                let mut q = sqlx::query(sql).bind(blob);
                for id in ids {
                    q = q.bind(*id);
                }
                q.execute(c).await.unwrap().rows_affected()
            }
        }
    }

    /// The `count(*)` (or other integer) a query binding `ids` as $1, $2, … answers.
    pub async fn scalar(&mut self, sql: String, ids: &[Uuid]) -> i64 {
        match self {
            Raw::Sqlite(c) => {
                let mut q = sqlx::query_scalar(AssertSqlSafe(sql));
                for id in ids {
                    q = q.bind(*id);
                }
                q.fetch_one(c).await.unwrap()
            }
            Raw::Pg(c) => {
                let mut q = sqlx::query_scalar(AssertSqlSafe(sql));
                for id in ids {
                    q = q.bind(*id);
                }
                q.fetch_one(c).await.unwrap()
            }
        }
    }

    /// Runs one statement binding `ids` as $1, $2, …; returns the number of rows affected.
    pub async fn execute(&mut self, sql: String, ids: &[Uuid]) -> u64 {
        match self {
            Raw::Sqlite(c) => {
                let mut q = sqlx::query(AssertSqlSafe(sql));
                for id in ids {
                    q = q.bind(*id);
                }
                q.execute(c).await.unwrap().rows_affected()
            }
            Raw::Pg(c) => {
                let mut q = sqlx::query(AssertSqlSafe(sql));
                for id in ids {
                    q = q.bind(*id);
                }
                q.execute(c).await.unwrap().rows_affected()
            }
        }
    }
}
