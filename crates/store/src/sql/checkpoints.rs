//! Shared SQL for signed audit checkpoints (#8 item 1).
//!
//! A checkpoint is a clinic's audit chain head (its last seq and that entry's hash) at a
//! time, with an HMAC-SHA256 over `frontdesk/audit-checkpoint/v1|tenant|seq|hash|at` keyed by
//! the clinic's index key (domain-separated by its own label). The key is wrapped by the
//! master key, so someone who can write to the database, and could rewrite the whole chain
//! with fresh hashes, cannot make a checkpoint that verifies. Exported and kept elsewhere, a
//! checkpoint later shows whether the chain still holds that entry with that hash: a
//! truncated or rewritten chain does not.

/// The label the checkpoint MAC is domain-separated by (within the index key's HMAC).
pub(crate) const CHECKPOINT_LABEL: &str = "frontdesk/audit-checkpoint/v1";

/// What the MAC covers, as one canonical string.
pub(crate) fn checkpoint_message(tenant: uuid::Uuid, seq: i64, hash: &[u8], at_us: i64) -> String {
    format!("{tenant}|{seq}|{}|{at_us}", crate::model::hex(hash))
}

macro_rules! impl_checkpoints {
    ($Store:ty) => {
        use $crate::sql::checkpoints::{CHECKPOINT_LABEL, checkpoint_message};

        #[async_trait]
        impl CheckpointStore for $Store {
            async fn take_audit_checkpoint(&self, scope: TenantScope) -> Result<AuditCheckpoint> {
                let tenant = scope.tenant_id();
                let now = self.now_us();
                let mut tx = self.write_tx(Some(scope)).await?;
                let (seq, hash): (i64, Vec<u8>) = sqlx::query_as("SELECT seq, hash FROM audit_heads WHERE tenant_id = $1")
                    .bind(tenant.as_uuid())
                    .fetch_optional(&mut *tx)
                    .await?
                    .ok_or(StoreError::NotFound)?;
                let keys = self.tenant_keys(&mut tx, tenant).await?;
                let mac = keys.index.blind_index(CHECKPOINT_LABEL, &checkpoint_message(tenant.as_uuid(), seq, &hash, now));
                sqlx::query("INSERT INTO audit_checkpoints (tenant_id, seq, hash, at, mac) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING")
                    .bind(tenant.as_uuid())
                    .bind(seq)
                    .bind(&hash)
                    .bind(now)
                    .bind(&mac)
                    .execute(&mut *tx)
                    .await?;
                let ev = AuditEvent::new(Actor::System, "audit.checkpoint").details(serde_json::json!({ "seq": seq }));
                self.append_audit_tx(&mut tx, tenant, now, &ev).await?;
                tx.commit().await?;
                Ok(AuditCheckpoint { tenant, seq, hash, at: from_us(now)?, mac })
            }

            async fn audit_checkpoints(&self, scope: TenantScope, limit: u32) -> Result<Vec<AuditCheckpoint>> {
                let tenant = scope.tenant_id();
                let mut tx = self.read_tx(Some(scope)).await?;
                let rows: Vec<(i64, Vec<u8>, i64, Vec<u8>)> = sqlx::query_as(
                    "SELECT seq, hash, at, mac FROM audit_checkpoints WHERE tenant_id = $1 ORDER BY at DESC, seq DESC LIMIT $2",
                )
                .bind(tenant.as_uuid())
                .bind(i64::from(limit.clamp(1, 10_000)))
                .fetch_all(&mut *tx)
                .await?;
                tx.commit().await?;
                let mut out = rows
                    .into_iter()
                    .map(|(seq, hash, at, mac)| Ok(AuditCheckpoint { tenant, seq, hash, at: from_us(at)?, mac }))
                    .collect::<Result<Vec<_>>>()?;
                out.reverse();
                Ok(out)
            }

            async fn check_audit_checkpoint(&self, scope: TenantScope, cp: &AuditCheckpoint) -> Result<CheckpointCheck> {
                use subtle::ConstantTimeEq;
                let tenant = scope.tenant_id();
                if cp.tenant != tenant {
                    return Ok(CheckpointCheck::OtherClinic);
                }
                let mut tx = self.read_tx(Some(scope)).await?;
                let keys = self.tenant_keys(&mut tx, tenant).await?;
                let want = keys.index.blind_index(CHECKPOINT_LABEL, &checkpoint_message(tenant.as_uuid(), cp.seq, &cp.hash, $crate::to_us(cp.at)));
                if !bool::from(want.as_slice().ct_eq(cp.mac.as_slice())) {
                    tx.commit().await?;
                    return Ok(CheckpointCheck::BadSignature);
                }
                let entry: Option<(Vec<u8>,)> = sqlx::query_as("SELECT hash FROM audit_log WHERE tenant_id = $1 AND seq = $2")
                    .bind(tenant.as_uuid())
                    .bind(cp.seq)
                    .fetch_optional(&mut *tx)
                    .await?;
                let (floor_seq, floor_hash): (i64, Option<Vec<u8>>) =
                    sqlx::query_as("SELECT floor_seq, floor_hash FROM audit_heads WHERE tenant_id = $1")
                        .bind(tenant.as_uuid())
                        .fetch_optional(&mut *tx)
                        .await?
                        .unwrap_or((0, None));
                tx.commit().await?;
                Ok(match entry {
                    // The floor's own entry is gone but its hash is kept: still checkable.
                    None if cp.seq == floor_seq && floor_seq > 0 => match floor_hash {
                        Some(h) if h == cp.hash => CheckpointCheck::Holds,
                        _ => CheckpointCheck::Rewritten,
                    },
                    None if cp.seq < floor_seq => CheckpointCheck::Retired,
                    None => CheckpointCheck::Missing,
                    Some((hash,)) if hash != cp.hash => CheckpointCheck::Rewritten,
                    Some(_) => CheckpointCheck::Holds,
                })
            }
        }
    };
}

pub(crate) use impl_checkpoints;
