//! Shared SQL for data subject requests (#8): erasing one patient for good, the erasure
//! ledger, the audit entries about one target (a patient's access log), and the list of a
//! clinic's patients (for a whole-clinic export).
//!
//! Erasure is one transaction: the patient's data key is destroyed first (crypto-shredding:
//! a copy of their ciphertexts anywhere, a backup included, can no longer be opened), then
//! their rows are deleted (the foreign keys cascade from `patients` to conversations,
//! messages, appointments, calls, recordings, drafts and the rest), the consents and
//! verification sends keyed by their phone's blind index are deleted, other conversations'
//! references to them are cleared, and an erasure-ledger row (ids and counts only) and the
//! audit entry `patient.erased` are written. The audit log keeps its entries: they hold ids,
//! never personal data, and the chain must stay intact.

macro_rules! impl_data_requests {
    ($Store:ty) => {
        #[async_trait]
        impl DataRequestStore for $Store {
            async fn erase_patient(&self, scope: TenantScope, patient: PatientId, actor: Actor) -> Result<Erasure> {
                let tenant = scope.tenant_id();
                let (t, p) = (tenant.as_uuid(), patient.as_uuid());
                let now = self.now_us();
                let mut tx = self.write_tx(Some(scope)).await?;
                let row: Option<(Option<Vec<u8>>,)> = sqlx::query_as("SELECT phone_bidx FROM patients WHERE tenant_id = $1 AND id = $2")
                    .bind(t)
                    .bind(p)
                    .fetch_optional(&mut *tx)
                    .await?;
                let (phone_bidx,) = row.ok_or(StoreError::NotFound)?;
                let count = |sql: &'static str| sqlx::query_as::<_, (i64,)>(sql).bind(t).bind(p);
                let (conversations,) = count("SELECT COUNT(*) FROM conversations WHERE tenant_id = $1 AND patient_id = $2").fetch_one(&mut *tx).await?;
                let (messages,) = count(
                    "SELECT COUNT(*) FROM messages m JOIN conversations c ON c.tenant_id = m.tenant_id AND c.id = m.conversation_id \
                     WHERE m.tenant_id = $1 AND c.patient_id = $2",
                )
                .fetch_one(&mut *tx)
                .await?;
                let (appointments,) = count("SELECT COUNT(*) FROM appointments WHERE tenant_id = $1 AND patient_id = $2").fetch_one(&mut *tx).await?;
                let (calls,) = count(
                    "SELECT COUNT(*) FROM calls k JOIN conversations c ON c.tenant_id = k.tenant_id AND c.id = k.conversation_id \
                     WHERE k.tenant_id = $1 AND c.patient_id = $2",
                )
                .fetch_one(&mut *tx)
                .await?;
                let blobs: Vec<(Option<String>,)> = sqlx::query_as("SELECT blob_key FROM call_recordings WHERE tenant_id = $1 AND patient_id = $2")
                    .bind(t)
                    .bind(p)
                    .fetch_all(&mut *tx)
                    .await?;
                // The key first: from here on nothing of theirs can be opened.
                sqlx::query("DELETE FROM patient_keys WHERE tenant_id = $1 AND patient_id = $2")
                    .bind(t)
                    .bind(p)
                    .execute(&mut *tx)
                    .await?;
                let mut consents = 0;
                if let Some(bidx) = &phone_bidx {
                    consents = sqlx::query("DELETE FROM channel_consents WHERE tenant_id = $1 AND phone_bidx = $2")
                        .bind(t)
                        .bind(bidx)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                    sqlx::query("DELETE FROM verification_sends WHERE tenant_id = $1 AND phone_bidx = $2")
                        .bind(t)
                        .bind(bidx)
                        .execute(&mut *tx)
                        .await?;
                }
                // A web chat that proved it was this patient keeps no pointer to them.
                sqlx::query("UPDATE conversations SET verified_patient_id = NULL, verified_until = NULL WHERE tenant_id = $1 AND verified_patient_id = $2")
                    .bind(t)
                    .bind(p)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("DELETE FROM patients WHERE tenant_id = $1 AND id = $2")
                    .bind(t)
                    .bind(p)
                    .execute(&mut *tx)
                    .await?;
                let counts = ErasureCounts {
                    conversations: conversations as u64,
                    messages: messages as u64,
                    appointments: appointments as u64,
                    calls: calls as u64,
                    recordings: blobs.len() as u64,
                    consents,
                };
                let counts_json = serde_json::to_value(counts).map_err(|_| StoreError::Corrupt("erasure counts"))?;
                sqlx::query(
                    "INSERT INTO erasure_ledger (tenant_id, patient_id, erased_at, actor_kind, actor_id, counts) VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(t)
                .bind(p)
                .bind(now)
                .bind(actor.kind())
                .bind(actor.id())
                .bind(counts_json.to_string())
                .execute(&mut *tx)
                .await?;
                let ev = AuditEvent::new(actor, "patient.erased").target("patient", patient).details(counts_json);
                let data = serde_json::json!({
                    "patient_id": patient.to_string(),
                    "kind": "erasure",
                    "completed_at": from_us(now)?.to_string(),
                });
                self.emit_event_tx(&mut tx, tenant, "data_request.completed", data, now).await?;
                self.append_audit_tx(&mut tx, tenant, now, &ev).await?;
                tx.commit().await?;
                Ok(Erasure {
                    patient,
                    erased_at: from_us(now)?,
                    counts,
                    recording_blobs: blobs.into_iter().filter_map(|(k,)| k).collect(),
                })
            }

            async fn record_patient_export(&self, scope: TenantScope, patient: PatientId, actor: Actor, format: &str) -> Result<()> {
                let tenant = scope.tenant_id();
                let now = self.now_us();
                let mut tx = self.write_tx(Some(scope)).await?;
                let found: Option<(Uuid,)> = sqlx::query_as("SELECT id FROM patients WHERE tenant_id = $1 AND id = $2")
                    .bind(tenant.as_uuid())
                    .bind(patient.as_uuid())
                    .fetch_optional(&mut *tx)
                    .await?;
                found.ok_or(StoreError::NotFound)?;
                let ev = AuditEvent::new(actor, "patient.exported")
                    .target("patient", patient)
                    .details(serde_json::json!({ "format": format }));
                self.append_audit_tx(&mut tx, tenant, now, &ev).await?;
                let data = serde_json::json!({
                    "patient_id": patient.to_string(),
                    "kind": "export",
                    "completed_at": from_us(now)?.to_string(),
                });
                self.emit_event_tx(&mut tx, tenant, "data_request.completed", data, now).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn erasure_ledger(&self, scope: TenantScope) -> Result<Vec<ErasureEntry>> {
                let mut tx = self.read_tx(Some(scope)).await?;
                let rows: Vec<(Uuid, i64, String, Option<String>, String)> = sqlx::query_as(
                    "SELECT patient_id, erased_at, actor_kind, actor_id, counts FROM erasure_ledger WHERE tenant_id = $1 ORDER BY erased_at, patient_id",
                )
                .bind(scope.tenant_id().as_uuid())
                .fetch_all(&mut *tx)
                .await?;
                tx.commit().await?;
                rows.into_iter()
                    .map(|(patient, at, actor_kind, actor_id, counts)| {
                        Ok(ErasureEntry {
                            patient: PatientId::from_uuid(patient),
                            erased_at: from_us(at)?,
                            actor_kind,
                            actor_id,
                            counts: serde_json::from_str(&counts).map_err(|_| StoreError::Corrupt("erasure counts"))?,
                        })
                    })
                    .collect()
            }

            async fn patient_ids(&self, scope: TenantScope) -> Result<Vec<PatientId>> {
                let mut tx = self.read_tx(Some(scope)).await?;
                let rows: Vec<(Uuid,)> = sqlx::query_as("SELECT id FROM patients WHERE tenant_id = $1 ORDER BY created_at, id")
                    .bind(scope.tenant_id().as_uuid())
                    .fetch_all(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(rows.into_iter().map(|(id,)| PatientId::from_uuid(id)).collect())
            }

            async fn audit_about(&self, scope: TenantScope, target_kind: &str, target_id: &str, limit: u32) -> Result<Vec<AuditEntry>> {
                let mut tx = self.read_tx(Some(scope)).await?;
                let rows: Vec<AuditRow> = sqlx::query_as(
                    "SELECT seq, at, actor_kind, actor_id, action, target_kind, target_id, details, prev_hash, hash FROM audit_log \
                     WHERE tenant_id = $1 AND target_kind = $2 AND target_id = $3 ORDER BY seq DESC LIMIT $4",
                )
                .bind(scope.tenant_id().as_uuid())
                .bind(target_kind)
                .bind(target_id)
                .bind(i64::from(limit.clamp(1, 10_000)))
                .fetch_all(&mut *tx)
                .await?;
                tx.commit().await?;
                let mut out = rows.into_iter().map(audit_entry_from_row).collect::<Result<Vec<_>>>()?;
                out.reverse();
                Ok(out)
            }
        }
    };
}

pub(crate) use impl_data_requests;
