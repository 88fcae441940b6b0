//! Shared SQL for the retention purge (#8 item 2): a clinic keeps conversations (with their
//! messages, calls and everything that hangs off them) for `conversation_days` after their
//! last message, and call recordings for `recording_days` after they were made, or as long
//! as their conversation, whichever ends first (see `frontdesk_domain::RetentionPolicy`).
//!
//! The purge works in small batches, one short write transaction each, so traffic is never
//! held up for long; each batch that removed anything is audited `retention.purged` with
//! counts (no ids of patients, no text). Recordings go in two steps so that no audio is left
//! behind: the caller lists the expired ones, deletes their audio from blob storage, and then
//! has the rows of those it deleted removed. A conversation goes only once it has no
//! recording left.
//!
//! Language model usage rows (`llm_usage`: counts and cost, no text) go after
//! `conversation_days` too, but never within their calendar month (the monthly budget).
//!
//! Audit entries are kept `audit_years` and then removed from the start of the chain only;
//! the chain's floor (`audit_heads.floor_seq/floor_hash`) records where the kept part starts.

/// How many conversations, and how many recordings, one purge batch removes at most.
pub(crate) const PURGE_BATCH: i64 = 100;
/// How many messages one purge batch removes at most. A batch whose expired conversations hold
/// more removes this many of their messages and leaves the conversations to a later batch, so
/// no purge transaction grows with a conversation's length. (#12, measured idle: against
/// 1,000-message batches the worst webhook ack during the purge fell from 45 to 23 ms; the
/// p99 did not move beyond the noise. docs/PERFORMANCE.md, "Scale".)
pub(crate) const MESSAGE_PURGE_BATCH: i64 = 250;
/// How many language model usage rows one purge batch removes at most.
pub(crate) const USAGE_PURGE_BATCH: i64 = 1000;
/// How many audit entries one audit retention batch removes at most.
pub(crate) const AUDIT_PURGE_BATCH: i64 = 1000;

macro_rules! impl_retention {
    ($Store:ty) => {
        use $crate::sql::retention::{AUDIT_PURGE_BATCH, MESSAGE_PURGE_BATCH, PURGE_BATCH, USAGE_PURGE_BATCH};

        impl $Store {
            /// The clinic's cutoffs (µs): conversations last written before the first, and
            /// recordings made before the second, have expired.
            async fn retention_cutoffs(&self, tx: &mut Tx, tenant: TenantId, now: i64) -> Result<(i64, i64, RetentionPolicy)> {
                let (profile,): (sqlx::types::Json<ClinicProfile>,) =
                    sqlx::query_as("SELECT profile FROM clinic_profiles WHERE tenant_id = $1")
                        .bind(tenant.as_uuid())
                        .fetch_one(&mut **tx)
                        .await?;
                let policy = profile.0.retention;
                let day_us: i64 = 86_400 * 1_000_000;
                Ok((
                    now.saturating_sub(i64::from(policy.conversation_days) * day_us),
                    now.saturating_sub(i64::from(policy.recording_days) * day_us),
                    policy,
                ))
            }
        }

        #[async_trait]
        impl RetentionStore for $Store {
            async fn expired_recordings(&self, scope: TenantScope) -> Result<Vec<(RecordingId, Option<String>)>> {
                let tenant = scope.tenant_id();
                let now = self.now_us();
                let mut tx = self.read_tx(Some(scope)).await?;
                let (conv_cutoff, rec_cutoff, _) = self.retention_cutoffs(&mut tx, tenant, now).await?;
                let rows: Vec<(Uuid, Option<String>)> = sqlx::query_as(
                    "SELECT r.id, r.blob_key FROM call_recordings r \
                     JOIN conversations c ON c.tenant_id = r.tenant_id AND c.id = r.conversation_id \
                     WHERE r.tenant_id = $1 AND (r.created_at < $2 OR c.last_message_at < $3) \
                     ORDER BY r.created_at LIMIT $4",
                )
                .bind(tenant.as_uuid())
                .bind(rec_cutoff)
                .bind(conv_cutoff)
                .bind(PURGE_BATCH)
                .fetch_all(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(rows.into_iter().map(|(id, key)| (RecordingId::from_uuid(id), key)).collect())
            }

            async fn purge_recordings(&self, scope: TenantScope, ids: &[RecordingId]) -> Result<u64> {
                if ids.is_empty() {
                    return Ok(0);
                }
                let tenant = scope.tenant_id();
                let now = self.now_us();
                let mut tx = self.write_tx(Some(scope)).await?;
                let mut gone = 0;
                for id in ids.iter().take(PURGE_BATCH as usize) {
                    gone += sqlx::query("DELETE FROM call_recordings WHERE tenant_id = $1 AND id = $2")
                        .bind(tenant.as_uuid())
                        .bind(id.as_uuid())
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                }
                if gone > 0 {
                    let ev = AuditEvent::new(Actor::System, "retention.purged")
                        .details(serde_json::json!({ "recordings": gone }));
                    self.append_audit_tx(&mut tx, tenant, now, &ev).await?;
                }
                tx.commit().await?;
                Ok(gone)
            }

            async fn purge_audit(&self, scope: TenantScope) -> Result<AuditPurge> {
                let tenant = scope.tenant_id();
                let t = tenant.as_uuid();
                let now = self.now_us();
                let mut tx = self.write_tx(Some(scope)).await?;
                let (_, _, policy) = self.retention_cutoffs(&mut tx, tenant, now).await?;
                // A year counts 366 days: an entry is kept at least as long as the policy says.
                let cutoff = now.saturating_sub(i64::from(policy.audit_years) * 366 * 86_400 * 1_000_000);
                let floor: i64 = sqlx::query_scalar("SELECT floor_seq FROM audit_heads WHERE tenant_id = $1")
                    .bind(t)
                    .fetch_one(&mut *tx)
                    .await?;
                let rows: Vec<(i64, i64, Vec<u8>)> = sqlx::query_as(
                    "SELECT seq, at, hash FROM audit_log WHERE tenant_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
                )
                .bind(t)
                .bind(floor)
                .bind(AUDIT_PURGE_BATCH + 1)
                .fetch_all(&mut *tx)
                .await?;
                // Only a prefix of the chain goes: up to the first entry still within retention.
                let old = rows.iter().take_while(|r| r.1 < cutoff).count();
                let take = old.min(AUDIT_PURGE_BATCH as usize);
                let Some((through, _, hash)) = take.checked_sub(1).map(|i| rows[i].clone()) else {
                    tx.commit().await?;
                    return Ok(AuditPurge::default());
                };
                let entries: i64 = if self.engine() == "postgres" {
                    sqlx::query_scalar("SELECT frontdesk_purge_audit($1, $2, $3)")
                        .bind(t)
                        .bind(through)
                        .bind(cutoff)
                        .fetch_one(&mut *tx)
                        .await?
                } else {
                    let n = sqlx::query("DELETE FROM audit_log WHERE tenant_id = $1 AND seq <= $2")
                        .bind(t)
                        .bind(through)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                    sqlx::query("UPDATE audit_heads SET floor_seq = $2, floor_hash = $3 WHERE tenant_id = $1")
                        .bind(t)
                        .bind(through)
                        .bind(&hash)
                        .execute(&mut *tx)
                        .await?;
                    n as i64
                };
                let ev = AuditEvent::new(Actor::System, "audit.purged").details(serde_json::json!({
                    "entries": entries,
                    "through_seq": through,
                    "through_hash": hex(&hash),
                    "older_than": from_us(cutoff)?.to_string(),
                }));
                self.append_audit_tx(&mut tx, tenant, now, &ev).await?;
                tx.commit().await?;
                Ok(AuditPurge { entries: entries as u64, through_seq: through, more: old > take })
            }

            async fn purge_expired(&self, scope: TenantScope) -> Result<PurgeBatch> {
                let tenant = scope.tenant_id();
                let t = tenant.as_uuid();
                let now = self.now_us();
                let mut tx = self.write_tx(Some(scope)).await?;
                let (conv_cutoff, _, policy) = self.retention_cutoffs(&mut tx, tenant, now).await?;
                // The batch: the oldest expired conversations with no recording left.
                const EXPIRED: &str = "SELECT c.id FROM conversations c WHERE c.tenant_id = $1 AND c.last_message_at < $2 \
                                       AND NOT EXISTS (SELECT 1 FROM call_recordings r WHERE r.tenant_id = c.tenant_id AND r.conversation_id = c.id) \
                                       ORDER BY c.last_message_at LIMIT $3";
                // Messages first (the biggest share), at most MESSAGE_PURGE_BATCH of them; once
                // the batch's conversations have none left, the conversations themselves, which
                // takes everything else hanging off them by the foreign keys' cascade.
                let messages = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "DELETE FROM messages WHERE tenant_id = $1 AND id IN \
                     (SELECT id FROM messages WHERE tenant_id = $1 AND conversation_id IN ({EXPIRED}) LIMIT $4)"
                )))
                .bind(t)
                .bind(conv_cutoff)
                .bind(PURGE_BATCH)
                .bind(MESSAGE_PURGE_BATCH)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                let messages_left = messages as i64 == MESSAGE_PURGE_BATCH;
                let conversations = if messages_left {
                    0
                } else {
                    sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM conversations WHERE tenant_id = $1 AND id IN ({EXPIRED})")))
                        .bind(t)
                        .bind(conv_cutoff)
                        .bind(PURGE_BATCH)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected()
                };
                // Language model usage rows (no text: counts and cost) are kept as long as
                // conversations, and never before their calendar month (UTC) is over: the
                // monthly budget sums the month's rows.
                let usage_cutoff = conv_cutoff.min(crate::to_us(month_start(from_us(now)?)));
                let llm_usage = sqlx::query(
                    "DELETE FROM llm_usage WHERE tenant_id = $1 AND id IN                      (SELECT id FROM llm_usage WHERE tenant_id = $1 AND at < $2 ORDER BY at LIMIT $3)",
                )
                .bind(t)
                .bind(usage_cutoff)
                .bind(USAGE_PURGE_BATCH)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if conversations > 0 || messages > 0 || llm_usage > 0 {
                    let mut details = serde_json::json!({
                        "conversations": conversations,
                        "messages": messages,
                        "conversation_days": policy.conversation_days,
                    });
                    if llm_usage > 0 {
                        details["llm_usage"] = serde_json::json!(llm_usage);
                    }
                    let ev = AuditEvent::new(Actor::System, "retention.purged").details(details);
                    self.append_audit_tx(&mut tx, tenant, now, &ev).await?;
                }
                tx.commit().await?;
                Ok(PurgeBatch {
                    conversations,
                    messages,
                    llm_usage,
                    more: messages_left || conversations as i64 == PURGE_BATCH || llm_usage as i64 == USAGE_PURGE_BATCH,
                })
            }
        }
    };
}

pub(crate) use impl_retention;
