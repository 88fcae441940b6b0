//! Shared SQL for call recordings. A recording is filed (pending) when the provider announces
//! it, with the job that fetches it in the same transaction; the audio never enters the
//! database: it is sealed here with the patient's own data key (so erasing the patient shreds
//! it) and the caller keeps the sealed blob in blob storage, reporting where with
//! `recording_stored`. Filing twice is prevented by the unique (tenant, recording sid) key:
//! `INSERT … ON CONFLICT DO NOTHING` makes a racing second delivery find the first one's row
//! (PostgreSQL waits for the first writer to commit; SQLite has one writer at a time).

/// Where sealed audio is bound (with the tenant and the recording id) in its AAD.
pub(crate) const RECORDING_AAD: (&str, &str) = ("call_recordings", "audio");
/// The longest blob key accepted.
pub(crate) const MAX_BLOB_KEY: usize = 512;

macro_rules! impl_recordings {
    ($Store:ty) => {
        use $crate::sql::recordings::{MAX_BLOB_KEY, RECORDING_AAD};

        type RecordingRow = (Uuid, String, String, Uuid, Uuid, Option<i32>, String, Option<String>, Option<i64>, Option<String>, i64, Option<i64>, Option<i64>);
        const RECORDING_COLUMNS: &str = "id, call_sid, recording_sid, conversation_id, patient_id, duration_secs, status, \
                                         blob_key, sealed_bytes, sealed_sha256, created_at, stored_at, provider_deleted_at";

        fn recording_from_row(r: RecordingRow) -> Result<CallRecording> {
            Ok(CallRecording {
                id: RecordingId::from_uuid(r.0),
                call_sid: r.1,
                recording_sid: r.2,
                conversation: ConversationId::from_uuid(r.3),
                patient: PatientId::from_uuid(r.4),
                duration_secs: r.5,
                status: RecordingStatus::parse(&r.6)?,
                blob_key: r.7,
                sealed_bytes: r.8,
                sealed_sha256: r.9,
                created_at: from_us(r.10)?,
                stored_at: r.11.map(from_us).transpose()?,
                provider_deleted_at: r.12.map(from_us).transpose()?,
            })
        }

        impl $Store {
            async fn recording_tx(&self, tx: &mut Tx, tenant: TenantId, id: RecordingId) -> Result<CallRecording> {
                let row: Option<RecordingRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "SELECT {RECORDING_COLUMNS} FROM call_recordings WHERE tenant_id = $1 AND id = $2"
                )))
                .bind(tenant.as_uuid())
                .bind(id.as_uuid())
                .fetch_optional(&mut **tx)
                .await?;
                recording_from_row(row.ok_or(StoreError::NotFound)?)
            }

            /// The data key of the recording's patient (`NotFound` once that key is destroyed).
            async fn recording_key(&self, scope: TenantScope, id: RecordingId) -> Result<DataKey> {
                let tenant = scope.tenant_id();
                let mut tx = self.read_tx(Some(scope)).await?;
                let recording = self.recording_tx(&mut tx, tenant, id).await?;
                let keys = self.tenant_keys(&mut tx, tenant).await?;
                let key = self.patient_key(&mut tx, &keys, tenant, recording.patient).await?;
                tx.commit().await?;
                Ok(key)
            }
        }

        #[async_trait]
        impl RecordingStore for $Store {
            async fn note_recording(&self, scope: TenantScope, call_sid: &str, recording_sid: &str, duration_secs: Option<i32>) -> Result<Option<RecordingId>> {
                let sid_ok = (2..=64).contains(&recording_sid.len()) && recording_sid.bytes().all(|b| b.is_ascii_alphanumeric());
                if !sid_ok {
                    return Err(DomainError::invalid("recording_sid", "must be 2 to 64 letters and digits").into());
                }
                if duration_secs.is_some_and(|d| d < 0) {
                    return Err(DomainError::invalid("duration_secs", "must not be negative").into());
                }
                let tenant = scope.tenant_id();
                let now = self.now_us();
                let mut tx = self.write_tx(Some(scope)).await?;
                let call = self.call_tx(&mut tx, tenant, call_sid).await?.ok_or(StoreError::NotFound)?;
                let id = RecordingId::new();
                let inserted: Option<(Uuid,)> = sqlx::query_as(
                    "INSERT INTO call_recordings (tenant_id, id, call_sid, recording_sid, conversation_id, patient_id, duration_secs, status, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', $8) ON CONFLICT (tenant_id, recording_sid) DO NOTHING RETURNING id",
                )
                .bind(tenant.as_uuid())
                .bind(id.as_uuid())
                .bind(call_sid)
                .bind(recording_sid)
                .bind(call.conversation.as_uuid())
                .bind(call.patient.as_uuid())
                .bind(duration_secs)
                .bind(now)
                .fetch_optional(&mut *tx)
                .await?;
                if inserted.is_none() {
                    return Ok(None);
                }
                self.enqueue_job_tx(&mut tx, tenant, FETCH_RECORDING_JOB, &FetchRecordingJob { recording: id }, &format!("recording:{id}"), now).await?;
                let ev = AuditEvent::new(Actor::System, "recording.received").target("recording", id).details(serde_json::json!({
                    "call_sid": call_sid,
                    "recording_sid": recording_sid,
                    "conversation": call.conversation.to_string(),
                    "patient": call.patient.to_string(),
                    "duration_secs": duration_secs,
                }));
                self.append_audit_tx(&mut tx, tenant, now, &ev).await?;
                tx.commit().await?;
                Ok(Some(id))
            }

            async fn recording(&self, scope: TenantScope, id: RecordingId) -> Result<CallRecording> {
                let mut tx = self.read_tx(Some(scope)).await?;
                let recording = self.recording_tx(&mut tx, scope.tenant_id(), id).await?;
                tx.commit().await?;
                Ok(recording)
            }

            async fn conversation_recordings(&self, scope: TenantScope, conversation: ConversationId) -> Result<Vec<CallRecording>> {
                let mut tx = self.read_tx(Some(scope)).await?;
                let rows: Vec<RecordingRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "SELECT {RECORDING_COLUMNS} FROM call_recordings WHERE tenant_id = $1 AND conversation_id = $2 ORDER BY created_at, id"
                )))
                .bind(scope.tenant_id().as_uuid())
                .bind(conversation.as_uuid())
                .fetch_all(&mut *tx)
                .await?;
                tx.commit().await?;
                rows.into_iter().map(recording_from_row).collect()
            }

            async fn seal_recording(&self, scope: TenantScope, id: RecordingId, audio: &[u8]) -> Result<Vec<u8>> {
                let key = self.recording_key(scope, id).await?;
                let row = id.to_string();
                Ok(key.seal(&aad(scope.tenant_id(), RECORDING_AAD.0, RECORDING_AAD.1, &row), audio)?)
            }

            async fn open_recording(&self, scope: TenantScope, id: RecordingId, sealed: &[u8]) -> Result<zeroize::Zeroizing<Vec<u8>>> {
                let key = self.recording_key(scope, id).await?;
                let row = id.to_string();
                Ok(key.open(&aad(scope.tenant_id(), RECORDING_AAD.0, RECORDING_AAD.1, &row), sealed)?)
            }

            async fn recording_stored(&self, scope: TenantScope, id: RecordingId, blob_key: &str, sealed_bytes: i64, sealed_sha256: &str) -> Result<()> {
                if blob_key.is_empty() || blob_key.len() > MAX_BLOB_KEY {
                    return Err(DomainError::invalid("blob_key", "must be 1 to 512 bytes").into());
                }
                if sealed_bytes < 1 {
                    return Err(DomainError::invalid("sealed_bytes", "must be positive").into());
                }
                if sealed_sha256.len() != 64 || !sealed_sha256.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
                    return Err(DomainError::invalid("sealed_sha256", "must be 64 lowercase hex digits").into());
                }
                let tenant = scope.tenant_id();
                let now = self.now_us();
                let mut tx = self.write_tx(Some(scope)).await?;
                let recording = self.recording_tx(&mut tx, tenant, id).await?;
                if recording.status == RecordingStatus::Stored {
                    if recording.blob_key.as_deref() != Some(blob_key) {
                        return Err(StoreError::Conflict("recording already stored under another key"));
                    }
                    if recording.sealed_bytes == Some(sealed_bytes) && recording.sealed_sha256.as_deref() == Some(sealed_sha256) {
                        return Ok(());
                    }
                }
                sqlx::query(
                    "UPDATE call_recordings SET status = 'stored', blob_key = $3, sealed_bytes = $4, sealed_sha256 = $5, stored_at = $6 \
                     WHERE tenant_id = $1 AND id = $2",
                )
                .bind(tenant.as_uuid())
                .bind(id.as_uuid())
                .bind(blob_key)
                .bind(sealed_bytes)
                .bind(sealed_sha256)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                let ev = AuditEvent::new(Actor::System, "recording.stored")
                    .target("recording", id)
                    .details(serde_json::json!({ "bytes": sealed_bytes }));
                self.append_audit_tx(&mut tx, tenant, now, &ev).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn recording_deleted_at_provider(&self, lease: &JobLease, id: RecordingId) -> Result<()> {
                let tenant = lease.scope.tenant_id();
                let now = self.now_us();
                let mut tx = self.write_tx(Some(lease.scope)).await?;
                let recording = self.recording_tx(&mut tx, tenant, id).await?;
                if recording.status != RecordingStatus::Stored {
                    return Err(StoreError::Conflict("recording not stored"));
                }
                self.finish_job_tx(&mut tx, lease, now).await?;
                if recording.provider_deleted_at.is_none() {
                    sqlx::query("UPDATE call_recordings SET provider_deleted_at = $3 WHERE tenant_id = $1 AND id = $2")
                        .bind(tenant.as_uuid())
                        .bind(id.as_uuid())
                        .bind(now)
                        .execute(&mut *tx)
                        .await?;
                    let ev = AuditEvent::new(Actor::System, "recording.deleted_at_provider")
                        .target("recording", id)
                        .details(serde_json::json!({ "job": lease.id.to_string() }));
                    self.append_audit_tx(&mut tx, tenant, now, &ev).await?;
                }
                tx.commit().await?;
                Ok(())
            }
        }
    };
}

pub(crate) use impl_recordings;
