//! Properties of the whole schema, read from the database's own catalogue after every
//! migration has run (new tables and keys are picked up without being listed).

use crate::raw::{Raw, ident};
use frontdesk_store::testing::TestDb;
use sqlx::Row;

engine_tests!(every_foreign_key_has_an_index_on_its_referencing_columns);

impl Raw {
    /// Every foreign key (`table (columns) -> parent`) whose referencing columns are not the
    /// leading columns, in any order, of a full (not partial) index of their table.
    pub async fn unindexed_foreign_keys(&mut self) -> Vec<String> {
        match self {
            Raw::Pg(c) => sqlx::query_scalar(
                "SELECT k.conrelid::regclass::text || ' (' || array_to_string(ARRAY( \
                   SELECT a.attname::text FROM unnest(k.conkey) WITH ORDINALITY n(attnum, o) \
                   JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = n.attnum ORDER BY n.o), ', ') \
                   || ') -> ' || k.confrelid::regclass::text \
                 FROM pg_constraint k \
                 WHERE k.contype = 'f' AND k.connamespace = 'public'::regnamespace AND NOT EXISTS ( \
                   SELECT 1 FROM pg_index i WHERE i.indrelid = k.conrelid AND i.indpred IS NULL \
                   AND (string_to_array(i.indkey::text, ' ')::int2[])[1:cardinality(k.conkey)] @> k.conkey \
                   AND (string_to_array(i.indkey::text, ' ')::int2[])[1:cardinality(k.conkey)] <@ k.conkey) \
                 ORDER BY 1",
            )
            .fetch_all(c)
            .await
            .unwrap(),
            Raw::Sqlite(_) => {
                let mut missing = Vec::new();
                for table in self.tables().await {
                    let Raw::Sqlite(c) = self else { unreachable!() };
                    // (id, seq, parent, column): one id per key, seq orders its columns.
                    let fks = sqlx::query(
                        "SELECT id, \"table\", \"from\" FROM pragma_foreign_key_list($1) ORDER BY id, seq",
                    )
                    .bind(&table)
                    .fetch_all(&mut *c)
                    .await
                    .unwrap();
                    let mut keys: Vec<(i64, String, Vec<String>)> = Vec::new();
                    for r in fks {
                        let (id, parent, col): (i64, String, String) =
                            (r.get(0), r.get(1), r.get(2));
                        match keys.last_mut() {
                            Some(k) if k.0 == id => k.2.push(col),
                            _ => keys.push((id, parent, vec![col])),
                        }
                    }
                    if keys.is_empty() {
                        continue;
                    }
                    let names: Vec<String> = sqlx::query_scalar(
                        "SELECT name FROM pragma_index_list($1) WHERE partial = 0",
                    )
                    .bind(&table)
                    .fetch_all(&mut *c)
                    .await
                    .unwrap();
                    let mut indexes = Vec::new();
                    for name in names {
                        let cols: Vec<String> = sqlx::query_scalar(
                            "SELECT name FROM pragma_index_info($1) ORDER BY seqno",
                        )
                        .bind(&name)
                        .fetch_all(&mut *c)
                        .await
                        .unwrap();
                        indexes.push(cols);
                    }
                    for (_, parent, cols) in keys {
                        let covered = indexes.iter().any(|ix| {
                            ix.len() >= cols.len()
                                && ix[..cols.len()].iter().all(|c| cols.contains(c))
                        });
                        if !covered {
                            missing.push(format!("{table} ({}) -> {parent}", cols.join(", ")));
                        }
                    }
                }
                missing.sort();
                missing
            }
        }
    }

    async fn drop_index(&mut self, name: &str) {
        let sql = sqlx::AssertSqlSafe(format!("DROP INDEX {}", ident(name)));
        match self {
            Raw::Pg(c) => {
                sqlx::query(sql).execute(c).await.unwrap();
            }
            Raw::Sqlite(c) => {
                sqlx::query(sql).execute(c).await.unwrap();
            }
        }
    }
}

/// Deleting a parent row (the retention purge's messages and conversations, a patient's
/// erasure, a clinic's purge) looks up its children by the key's columns; without an index
/// that is a scan of the child table for every row deleted (migration 0032). The check itself
/// is shown to find a key whose index is dropped.
async fn every_foreign_key_has_an_index_on_its_referencing_columns(db: &TestDb) {
    let mut raw = Raw::open(db).await;
    let missing = raw.unindexed_foreign_keys().await;
    assert!(
        missing.is_empty(),
        "foreign keys without an index on their referencing columns: {missing:#?}"
    );
    raw.drop_index("outbox_message_id_fk").await;
    assert_eq!(
        raw.unindexed_foreign_keys().await,
        vec!["outbox (tenant_id, message_id) -> messages".to_owned()]
    );
}
