//! One implementation of every store operation, compiled once per engine.
//!
//! The SQL is the same text on SQLite and PostgreSQL (`$N` placeholders, `RETURNING`,
//! `ON CONFLICT`), so the two engines cannot drift apart; only opening a transaction differs
//! (SQLite: writes are savepoints in a group-committed `BEGIN IMMEDIATE` batch on the one
//! writer connection; PostgreSQL: `set_config('app.tenant_id', …, true)` first, for
//! row-level security). Each engine type provides `pool`, `keys`, `clock`, `write_tx`,
//! `read_tx` and `snapshot_tx` (a read transaction over one consistent snapshot), and
//! invokes [`sql_store!`] with its transaction type.
//!
//! Every query on tenant data filters by `tenant_id` itself: SQLite relies on that alone,
//! PostgreSQL's row-level security is a second, independent wall.

pub(crate) mod analytics;
pub(crate) mod api_keys;
pub(crate) mod appointments;
pub(crate) mod assignments;
pub(crate) mod calcom;
pub(crate) mod calendar_feeds;
pub(crate) mod calls;
pub(crate) mod catalog;
pub(crate) mod channels;
pub(crate) mod checkpoints;
pub(crate) mod conversations;
pub(crate) mod coordination;
pub(crate) mod data_requests;
pub(crate) mod inbox;
pub(crate) mod incident;
pub(crate) mod lifecycle;
pub(crate) mod llm;
pub(crate) mod payments;
pub(crate) mod people;
pub(crate) mod queue;
pub(crate) mod recordings;
pub(crate) mod reminders;
pub(crate) mod retention;
pub(crate) mod rewrap;
pub(crate) mod security_alerts;
pub(crate) mod staff_auth;
pub(crate) mod verification;
pub(crate) mod waitlist;
pub(crate) mod webhooks;

macro_rules! sql_store {
    ($Store:ty, $Tx:ty, $engine:literal, $skip_locked:literal) => {
        type Tx = $Tx;
        /// The engine these operations are compiled for (`"sqlite"` or `"postgres"`), for the
        /// few statements whose best form differs.
        const ENGINE: &str = $engine;
        /// The engine's sqlx database and row types (for `QueryBuilder` and rows read by index).
        type Db = <<Tx as std::ops::Deref>::Target as sqlx::Connection>::Database;
        type DbRow = <Db as sqlx::Database>::Row;

        impl $Store {
            async fn resolve_slug(&self, slug: &TenantSlug) -> Result<TenantId> {
                let row: Option<(Uuid, String)> =
                    sqlx::query_as("SELECT id, status FROM tenants WHERE slug = $1")
                        .bind(slug.as_str())
                        .fetch_optional(&self.pool)
                        .await?;
                match row {
                    Some((id, status)) if status == "active" => Ok(TenantId::from_uuid(id)),
                    _ => Err(StoreError::NotFound),
                }
            }

            /// The tenant's data and index keys, unwrapped with the keyring (cached for
            /// [`KEY_CACHE_TTL`](crate::keys::KEY_CACHE_TTL)). Every live data key version
            /// opens; the newest one old enough to be known to every process seals (see
            /// [`crate::keys`]).
            async fn tenant_keys(&self, tx: &mut Tx, tenant: TenantId) -> Result<Arc<TenantKeys>> {
                let now = self.now_us();
                if let Some(k) = self.keys.get(tenant, now) {
                    return Ok(k);
                }
                let rows: Vec<(String, i32, String, Vec<u8>, i64)> = sqlx::query_as(
                    "SELECT purpose, version, master_key_id, wrapped, created_at FROM tenant_keys \
                     WHERE tenant_id = $1 AND retired_at IS NULL ORDER BY version DESC",
                )
                .bind(tenant.as_uuid())
                .fetch_all(&mut **tx)
                .await?;
                let seal_after = crate::keys::SEAL_WITH_NEW_AFTER.as_micros() as i64;
                let mut until = now + crate::keys::KEY_CACHE_TTL.as_micros() as i64;
                let oldest_data = rows.iter().filter(|r| r.0 == "data").map(|r| r.1).min();
                let mut data = Vec::new();
                let mut index = None;
                for (purpose, version, key_id, wrapped, created_at) in rows {
                    let row = tenant_key_row(&purpose, version);
                    let key = self.keys.ring().unwrap_key(&key_id, &aad(tenant, "tenant_keys", "wrapped", &row), &wrapped)?;
                    match purpose.as_str() {
                        "data" => {
                            let sealable = Some(version) == oldest_data || created_at + seal_after <= now;
                            if !sealable {
                                until = until.min(created_at + seal_after);
                            }
                            data.push((version, key, sealable));
                        }
                        "index" if index.is_none() => index = Some(key),
                        _ => {}
                    }
                }
                let (Some(data), Some(index)) = (crate::keys::TenantDataKeys::new(data), index) else {
                    return Err(StoreError::Corrupt("tenant keys missing"));
                };
                let keys = Arc::new(TenantKeys { data, index });
                self.keys.insert(tenant, keys.clone(), now, until);
                Ok(keys)
            }

            /// A patient's own data key (unwrapped with the tenant data key).
            async fn patient_key(&self, tx: &mut Tx, keys: &TenantKeys, tenant: TenantId, patient: PatientId) -> Result<DataKey> {
                let wrapped: Option<(Vec<u8>,)> = sqlx::query_as(
                    "SELECT wrapped FROM patient_keys WHERE tenant_id = $1 AND patient_id = $2",
                )
                .bind(tenant.as_uuid())
                .bind(patient.as_uuid())
                .fetch_optional(&mut **tx)
                .await?;
                let (wrapped,) = wrapped.ok_or(StoreError::NotFound)?;
                open_patient_key(keys, tenant, patient, &wrapped)
            }

            /// The patient key `patient_key` would answer, from its row's `wrapped` when the
            /// caller read it already; `None`: read it.
            async fn patient_key_from(&self, tx: &mut Tx, keys: &TenantKeys, tenant: TenantId, patient: PatientId, wrapped: Option<Vec<u8>>) -> Result<DataKey> {
                match wrapped {
                    Some(w) => open_patient_key(keys, tenant, patient, &w),
                    None => self.patient_key(tx, keys, tenant, patient).await,
                }
            }

            /// Appends one entry to the tenant's audit chain inside `tx`. The head row is
            /// updated first, which serialises appenders of one tenant on PostgreSQL.
            async fn append_audit_tx(&self, tx: &mut Tx, tenant: TenantId, at_us: i64, ev: &AuditEvent) -> Result<()> {
                let (seq, prev_hash): (i64, Vec<u8>) = sqlx::query_as(
                    "UPDATE audit_heads SET seq = seq + 1 WHERE tenant_id = $1 RETURNING seq, hash",
                )
                .bind(tenant.as_uuid())
                .fetch_one(&mut **tx)
                .await?;
                let e = crate::audit::Entry::new(tenant.as_uuid(), &prev_hash, seq, at_us, ev)?;
                // PostgreSQL moves the head's hash on in the same statement (one round trip
                // fewer while the head row is locked); SQLite cannot write inside a `WITH`.
                let moves_head = ENGINE == "postgres";
                let sql = if moves_head {
                    "WITH head AS (UPDATE audit_heads SET hash = $12 WHERE tenant_id = $1) \
                     INSERT INTO audit_log (tenant_id, seq, id, at, actor_kind, actor_id, action, \
                     target_kind, target_id, details, prev_hash, hash) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
                } else {
                    "INSERT INTO audit_log (tenant_id, seq, id, at, actor_kind, actor_id, action, \
                     target_kind, target_id, details, prev_hash, hash) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
                };
                sqlx::query(sql)
                .bind(tenant.as_uuid())
                .bind(e.seq)
                .bind(Uuid::now_v7())
                .bind(at_us)
                .bind(e.actor_kind)
                .bind(e.actor_id.as_deref())
                .bind(e.action)
                .bind(e.target_kind)
                .bind(e.target_id)
                .bind(&e.details)
                .bind(&e.prev_hash)
                .bind(&e.hash)
                .execute(&mut **tx)
                .await?;
                if !moves_head {
                    sqlx::query("UPDATE audit_heads SET hash = $2 WHERE tenant_id = $1")
                        .bind(tenant.as_uuid())
                        .bind(&e.hash)
                        .execute(&mut **tx)
                        .await?;
                }
                Ok(())
            }

            /// Ends a transaction that only read, without waiting for the database: its
            /// `ROLLBACK` (for a transaction that wrote nothing, the same as a `COMMIT`) is
            /// queued on the connection and goes out with the ping the pool sends as the
            /// connection is returned, off the caller's path: one round trip fewer for a read
            /// on a request's path. Anything that wrote commits and waits.
            fn end_read(tx: Tx) {
                drop(tx);
            }

            fn now_us(&self) -> i64 {
                crate::to_us(self.clock.now())
            }
        }

        /// Unwraps a patient's own data key (`patient_keys.wrapped`) with the tenant data key.
        fn open_patient_key(keys: &TenantKeys, tenant: TenantId, patient: PatientId, wrapped: &[u8]) -> Result<DataKey> {
            let row = patient.to_string();
            Ok(keys.data.unwrap_key(&aad(tenant, "patient_keys", "wrapped", &row), wrapped)?)
        }

        /// An `audit_log` row as `SELECT seq, at, actor_kind, actor_id, action, target_kind,
        /// target_id, details, prev_hash, hash` reads it.
        type AuditRow = (i64, i64, String, Option<String>, String, Option<String>, Option<String>, String, Vec<u8>, Vec<u8>);

        fn audit_entry_from_row(r: AuditRow) -> Result<AuditEntry> {
            let (seq, at, actor_kind, actor_id, action, target_kind, target_id, details, prev_hash, hash) = r;
            Ok(AuditEntry { seq, at: from_us(at)?, actor_kind, actor_id, action, target_kind, target_id, details, prev_hash, hash })
        }

        $crate::sql::appointments::impl_appointments!($Store);
        $crate::sql::catalog::impl_catalog!($Store);
        $crate::sql::people::impl_people!($Store);
        $crate::sql::conversations::impl_conversations!($Store);
        $crate::sql::channels::impl_channels!($Store);
        $crate::sql::queue::impl_queue!($Store, $skip_locked);
        $crate::sql::verification::impl_verification!($Store);
        $crate::sql::calls::impl_calls!($Store);
        $crate::sql::reminders::impl_reminders!($Store);
        $crate::sql::waitlist::impl_waitlist!($Store);
        $crate::sql::recordings::impl_recordings!($Store);
        $crate::sql::staff_auth::impl_staff_auth!($Store);
        $crate::sql::inbox::impl_inbox!($Store);
        $crate::sql::analytics::impl_analytics!($Store);
        $crate::sql::assignments::impl_assignments!($Store);
        $crate::sql::data_requests::impl_data_requests!($Store);
        $crate::sql::retention::impl_retention!($Store);
        $crate::sql::incident::impl_incident!($Store);
        $crate::sql::api_keys::impl_api_keys!($Store);
        $crate::sql::webhooks::impl_webhooks!($Store, $skip_locked);
        $crate::sql::calendar_feeds::impl_calendar_feeds!($Store);
        $crate::sql::payments::impl_payments!($Store);
        $crate::sql::calcom::impl_calcom!($Store);
        $crate::sql::security_alerts::impl_security_alerts!($Store);
        $crate::sql::checkpoints::impl_checkpoints!($Store);
        $crate::sql::rewrap::impl_rewrap!($Store);
        $crate::sql::lifecycle::impl_lifecycle!($Store);
        $crate::sql::llm::impl_llm!($Store);
        $crate::sql::coordination::impl_coordination!($Store);

        #[async_trait]
        impl AuditStore for $Store {
            async fn append_audit(&self, scope: TenantScope, event: &AuditEvent) -> Result<()> {
                let mut tx = self.write_tx(Some(scope)).await?;
                self.append_audit_tx(&mut tx, scope.tenant_id(), self.now_us(), event).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn audit_entries(&self, scope: TenantScope, after_seq: i64, limit: u32) -> Result<Vec<AuditEntry>> {
                let mut tx = self.read_tx(Some(scope)).await?;
                let rows: Vec<AuditRow> =
                    sqlx::query_as(
                        "SELECT seq, at, actor_kind, actor_id, action, target_kind, target_id, details, prev_hash, hash \
                         FROM audit_log WHERE tenant_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
                    )
                    .bind(scope.tenant_id().as_uuid())
                    .bind(after_seq)
                    .bind(i64::from(limit))
                    .fetch_all(&mut *tx)
                    .await?;
                tx.commit().await?;
                rows.into_iter().map(audit_entry_from_row).collect()
            }

            async fn verify_audit_chain(&self, scope: TenantScope) -> Result<ChainReport> {
                use crate::audit::{AUDIT_VERIFY_PAGE, ChainFields, GENESIS, chain_hash};
                let tenant = scope.tenant_id().as_uuid();
                let mut tx = self.snapshot_tx(scope).await?;
                let row: Option<(i64, Vec<u8>, i64, Option<Vec<u8>>)> =
                    sqlx::query_as("SELECT seq, hash, floor_seq, floor_hash FROM audit_heads WHERE tenant_id = $1")
                        .bind(tenant)
                        .fetch_optional(&mut *tx)
                        .await?;
                let floor = row.as_ref().map_or((0, None), |r| (r.2, r.3.clone()));
                let head = row.map(|r| (r.0, r.1));
                let mut entries: u64 = 0;
                // The last link checked: its seq and hash (the floor left by retention, or
                // seq 0 and GENESIS, before the first).
                let mut last_seq: i64 = floor.0;
                let mut last_hash: Vec<u8> = floor.1.clone().unwrap_or_else(|| GENESIS.to_vec());
                // The floor the latest `audit.purged` entry recorded: it must be the floor.
                let mut recorded_floor: (i64, String) = (0, String::new());
                let mut first_break = None;
                'pages: loop {
                    // `at` is read as the stored integer (microseconds), exactly as hashed.
                    #[allow(clippy::type_complexity)]
                    let rows: Vec<(i64, i64, String, Option<String>, String, Option<String>, Option<String>, String, Vec<u8>, Vec<u8>)> =
                        sqlx::query_as(
                            "SELECT seq, at, actor_kind, actor_id, action, target_kind, target_id, details, prev_hash, hash \
                             FROM audit_log WHERE tenant_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
                        )
                        .bind(tenant)
                        .bind(last_seq)
                        .bind(AUDIT_VERIFY_PAGE as i64)
                        .fetch_all(&mut *tx)
                        .await?;
                    let page_len = rows.len();
                    for (seq, at_us, actor_kind, actor_id, action, target_kind, target_id, details, prev_hash, hash) in rows {
                        entries += 1;
                        let reason = if Some(seq) != last_seq.checked_add(1) {
                            Some(BreakReason::Gap)
                        } else if prev_hash != last_hash {
                            Some(BreakReason::PrevHash)
                        } else if hash
                            != chain_hash(&ChainFields {
                                tenant,
                                prev_hash: &prev_hash,
                                seq,
                                at_us,
                                actor_kind: &actor_kind,
                                actor_id: actor_id.as_deref(),
                                action: &action,
                                target_kind: target_kind.as_deref(),
                                target_id: target_id.as_deref(),
                                details: &details,
                            })
                        {
                            Some(BreakReason::Hash)
                        } else {
                            None
                        };
                        if let Some(reason) = reason {
                            first_break = Some(ChainBreak { seq, reason });
                            break 'pages;
                        }
                        if action == "audit.purged" {
                            let d: serde_json::Value = serde_json::from_str(&details).unwrap_or_default();
                            recorded_floor = (
                                d["through_seq"].as_i64().unwrap_or(-1),
                                d["through_hash"].as_str().unwrap_or_default().to_owned(),
                            );
                        }
                        last_seq = seq;
                        last_hash = hash;
                    }
                    if page_len < AUDIT_VERIFY_PAGE {
                        break;
                    }
                }
                tx.commit().await?;
                let head_seq = head.as_ref().map_or(0, |(seq, _)| *seq);
                let floor_hex = floor.1.as_deref().map(hex).unwrap_or_default();
                if first_break.is_none() && floor.0 > 0 && recorded_floor != (floor.0, floor_hex) {
                    first_break = Some(ChainBreak { seq: floor.0, reason: BreakReason::Floor });
                }
                if first_break.is_none() {
                    first_break = match head {
                        Some((seq, hash)) if seq == last_seq && hash == last_hash => None,
                        Some((seq, _)) => Some(ChainBreak { seq, reason: BreakReason::Head }),
                        None => Some(ChainBreak { seq: last_seq, reason: BreakReason::Head }),
                    };
                }
                Ok(ChainReport { entries, head_seq, floor_seq: floor.0, first_break })
            }
        }

        #[async_trait]
        impl Health for $Store {
            async fn ping(&self) -> Result<()> {
                sqlx::query("SELECT 1").execute(&self.pool).await?;
                Ok(())
            }
            fn engine(&self) -> &'static str {
                $engine
            }
            async fn writer_stats(&self) -> Option<crate::testing::GroupStats> {
                self.group_stats().await
            }
            async fn queue_stats(&self) -> Result<QueueStats> {
                let now = self.now_us();
                // Across clinics, as the workers' claims read (counts only).
                let mut tx = self.stats_tx().await?;
                let (jobs_due, jobs_oldest): (i64, Option<i64>) = sqlx::query_as(
                    "SELECT COUNT(*), MIN(run_at) FROM jobs WHERE status = 'queued' AND run_at <= $1 \
                     AND tenant_id IN (SELECT id FROM tenants WHERE status = 'active')",
                )
                .bind(now)
                .fetch_one(&mut *tx)
                .await?;
                let (outbox_due, outbox_oldest): (i64, Option<i64>) = sqlx::query_as(
                    "SELECT COUNT(*), MIN(next_attempt_at) FROM outbox WHERE status = 'pending' AND next_attempt_at <= $1 \
                     AND tenant_id IN (SELECT id FROM tenants WHERE status = 'active')",
                )
                .bind(now)
                .fetch_one(&mut *tx)
                .await?;
                let (outbox_dead,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM outbox WHERE status = 'dead'")
                    .fetch_one(&mut *tx)
                    .await?;
                tx.commit().await?;
                let count = |n: i64| u64::try_from(n).unwrap_or(0);
                Ok(QueueStats {
                    jobs_due: count(jobs_due),
                    jobs_oldest_due: jobs_oldest.map(from_us).transpose()?,
                    outbox_due: count(outbox_due),
                    outbox_oldest_due: outbox_oldest.map(from_us).transpose()?,
                    outbox_dead: count(outbox_dead),
                    pool_size: self.pool.size(),
                    pool_idle: u32::try_from(self.pool.num_idle()).unwrap_or(u32::MAX),
                    pool_max: self.pool.options().get_max_connections(),
                })
            }
        }
    };
}

pub(crate) use sql_store;

/// Imports every engine module needs before invoking [`sql_store!`].
macro_rules! sql_prelude {
    () => {
        #[allow(unused_imports)]
        use crate::{
            Result, StoreError, TenantScope,
            anomaly::*,
            calcom::*,
            calendar::*,
            coordination::*,
            crypto::{DataKey, new_token, token_hash},
            from_us,
            keys::{TenantKeys, aad, tenant_key_row},
            llm::*,
            model::*,
            traits::*,
            webhooks::*,
        };
        #[allow(unused_imports)]
        use async_trait::async_trait;
        #[allow(unused_imports)]
        use frontdesk_domain::*;
        #[allow(unused_imports)]
        use std::sync::Arc;
        #[allow(unused_imports)]
        use uuid::Uuid;
    };
}

pub(crate) use sql_prelude;
