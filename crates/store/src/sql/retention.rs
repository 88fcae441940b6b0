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

/// How many conversations, and how many recordings, one purge batch removes at most.
pub(crate) const PURGE_BATCH: i64 = 100;

macro_rules! impl_retention {
    ($Store:ty) => {
        use $crate::sql::retention::PURGE_BATCH;

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
                // Messages first (the biggest share), then the conversations themselves, which
                // takes everything else hanging off them by the foreign keys' cascade.
                let mut removed = [0u64; 2];
                for (n, target) in ["messages WHERE tenant_id = $1 AND conversation_id", "conversations WHERE tenant_id = $1 AND id"].into_iter().enumerate() {
                    removed[n] = sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {target} IN ({EXPIRED})")))
                        .bind(t)
                        .bind(conv_cutoff)
                        .bind(PURGE_BATCH)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                }
                let [messages, conversations] = removed;
                if conversations > 0 {
                    let ev = AuditEvent::new(Actor::System, "retention.purged").details(serde_json::json!({
                        "conversations": conversations,
                        "messages": messages,
                        "conversation_days": policy.conversation_days,
                    }));
                    self.append_audit_tx(&mut tx, tenant, now, &ev).await?;
                }
                tx.commit().await?;
                Ok(PurgeBatch { conversations, messages, more: conversations as i64 == PURGE_BATCH })
            }
        }
    };
}

pub(crate) use impl_retention;
