//! Shared SQL for the two queues: `jobs` (work for the receptionist) and `outbox` (messages to
//! deliver). Claiming crosses tenants in one short transaction (`claim_tx`: PostgreSQL sets
//! `app.queue_claim` and skips rows other workers hold, SQLite takes the write lock); all work
//! on a claimed row then runs in the row's own tenant scope, and every completion is checked
//! against the lease (worker + attempt), so a worker whose lease ran out cannot finish twice.
//! Only active clinics' rows are claimed: a terminated clinic's queued work waits (and goes
//! with its purge, or runs if it is reinstated).

/// Attempts before a job is given up and staff are alerted.
pub const JOB_MAX_ATTEMPTS: i32 = 8;
/// Attempts before an outbound message is dead-lettered (with backoff capped at five minutes
/// this rides out an outage of well over an hour).
pub const OUTBOX_MAX_ATTEMPTS: i32 = 20;

macro_rules! impl_queue {
    ($Store:ty, $skip_locked:literal) => {
        use $crate::sql::queue::{JOB_MAX_ATTEMPTS, OUTBOX_MAX_ATTEMPTS};

        impl $Store {
            /// Marks the leased job done inside `tx`; `Conflict` when the lease was lost.
            pub(crate) async fn finish_job_tx(&self, tx: &mut Tx, lease: &JobLease, now: i64) -> Result<()> {
                let done = sqlx::query(
                    "UPDATE jobs SET status = 'done', lease_until = NULL, updated_at = $5 \
                     WHERE tenant_id = $1 AND id = $2 AND status = 'running' AND locked_by = $3 AND attempts = $4",
                )
                .bind(lease.scope.tenant_id().as_uuid())
                .bind(lease.id)
                .bind(&lease.worker)
                .bind(lease.attempt)
                .bind(now)
                .execute(&mut **tx)
                .await?;
                if done.rows_affected() == 1 { Ok(()) } else { Err(StoreError::Conflict("job lease lost")) }
            }

            /// Alerts staff: the notification (ids and rule names only) and the job that emails it.
            pub(crate) async fn notify_staff_tx(&self, tx: &mut Tx, tenant: TenantId, conversation: Option<Uuid>, kind: NotificationKind, details: &serde_json::Value, now: i64) -> Result<()> {
                let text = serde_json::to_string(details).map_err(|_| StoreError::Corrupt("notification details"))?;
                let id = Uuid::now_v7();
                sqlx::query(
                    "INSERT INTO staff_notifications (tenant_id, id, conversation_id, kind, details, status, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, 'pending', $6, $6)",
                )
                .bind(tenant.as_uuid())
                .bind(id)
                .bind(conversation)
                .bind(kind.as_str())
                .bind(text)
                .bind(now)
                .execute(&mut **tx)
                .await?;
                self.enqueue_job_tx(tx, tenant, NOTIFY_STAFF_JOB, &NotifyStaffJob { notification: id }, &format!("notify:{id}"), now).await
            }

            /// Queues a job of `kind`, due now, unique per clinic by `key`.
            pub(crate) async fn enqueue_job_tx(&self, tx: &mut Tx, tenant: TenantId, kind: &str, payload: &(impl serde::Serialize + Sync), key: &str, now: i64) -> Result<()> {
                sqlx::query(
                    "INSERT INTO jobs (tenant_id, id, kind, payload, status, run_at, attempts, max_attempts, idempotency_key, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, 'queued', $5, 0, $6, $7, $5, $5)",
                )
                .bind(tenant.as_uuid())
                .bind(Uuid::now_v7())
                .bind(kind)
                .bind(sqlx::types::Json(payload))
                .bind(now)
                .bind(JOB_MAX_ATTEMPTS)
                .bind(key)
                .execute(&mut **tx)
                .await?;
                Ok(())
            }

            async fn notify_failure_tx(&self, tx: &mut Tx, tenant: TenantId, conversation: Option<Uuid>, details: serde_json::Value, now: i64) -> Result<()> {
                self.notify_staff_tx(tx, tenant, conversation, NotificationKind::DeliveryFailure, &details, now).await
            }

            /// Reads what a claimed outbox row needs for sending, in the row's tenant scope.
            /// The row to send, and why it must not be sent, if so: the patient opted out
            /// (`opted_out`), or staff hold the conversation and this is not a staff message
            /// (`held_by_staff`: while someone holds it the AI sends nothing, checked here at
            /// the send layer whatever queued the row).
            async fn open_outbox(&self, lease: JobLease, message: Uuid, channel: Channel, purpose: OutboxPurpose, key: String) -> Result<(OutboxItem, Option<&'static str>)> {
                let tenant = lease.scope.tenant_id();
                let mut tx = self.read_tx(Some(lease.scope)).await?;
                let row: Option<(Vec<u8>, Uuid, Uuid, String, Option<i64>)> = sqlx::query_as(
                    "SELECT m.body_ct, c.id, c.patient_id, m.sender, CASE WHEN c.owner_user_id IS NULL THEN NULL ELSE c.hold_expires_at END \
                     FROM messages m JOIN conversations c ON c.tenant_id = m.tenant_id AND c.id = m.conversation_id \
                     WHERE m.tenant_id = $1 AND m.id = $2",
                )
                .bind(tenant.as_uuid())
                .bind(message)
                .fetch_optional(&mut *tx)
                .await?;
                let (body_ct, conv, patient, sender, hold_until) = row.ok_or(StoreError::NotFound)?;
                let held = hold_until.is_some_and(|until| until > self.now_us())
                    && sender != Sender::Staff.as_str()
                    && purpose != OutboxPurpose::OptoutConfirmation;
                let patient = self.fetch_patient(&mut tx, tenant, PatientId::from_uuid(patient)).await?;
                let to = patient.phone.ok_or(StoreError::NotFound)?;
                let keys = self.tenant_keys(&mut tx, tenant).await?;
                let pkey = self.patient_key(&mut tx, &keys, tenant, patient.id).await?;
                let body = pkey.open_string(&aad(tenant, "messages", "body", &message.to_string()), &body_ct)?;
                let last: Option<(Option<i64>,)> = sqlx::query_as(
                    "SELECT MAX(created_at) FROM messages WHERE tenant_id = $1 AND conversation_id = $2 AND direction = 'inbound'",
                )
                .bind(tenant.as_uuid())
                .bind(conv)
                .fetch_optional(&mut *tx)
                .await?;
                let bidx = keys.index.blind_index("phone", to.as_str());
                let consent: Option<(String,)> = sqlx::query_as(
                    "SELECT status FROM channel_consents WHERE tenant_id = $1 AND channel = $2 AND phone_bidx = $3",
                )
                .bind(tenant.as_uuid())
                .bind(channel.as_str())
                .bind(bidx)
                .fetch_optional(&mut *tx)
                .await?;
                tx.commit().await?;
                let opted_out = matches!(consent, Some((s,)) if s == "opted_out");
                let last_inbound_at = last.and_then(|(l,)| l).map(from_us).transpose()?;
                let item = OutboxItem { lease, channel, purpose, to, body, idempotency_key: key, message: Some(MessageId::from_uuid(message)), last_inbound_at };
                let refusal = if opted_out && purpose != OutboxPurpose::OptoutConfirmation {
                    Some("opted_out")
                } else if held {
                    Some("held_by_staff")
                } else {
                    None
                };
                Ok((item, refusal))
            }
        }

        #[async_trait]
        impl QueueStore for $Store {
            async fn claim_jobs(&self, worker: &str, lease: jiff::SignedDuration, limit: u32) -> Result<Vec<Job>> {
                let now_ts = self.clock.now();
                let now = crate::to_us(now_ts);
                let until = crate::to_us(now_ts.checked_add(lease).map_err(|_| StoreError::Corrupt("lease"))?);
                let mut tx = self.claim_tx().await?;
                let due: Vec<(Uuid, Uuid, i32, i32)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "SELECT tenant_id, id, attempts, max_attempts FROM jobs \
                     WHERE ((status = 'queued' AND run_at <= $1) OR (status = 'running' AND lease_until < $1)) \
                       AND tenant_id IN (SELECT id FROM tenants WHERE status = 'active') \
                     ORDER BY run_at LIMIT $2{}",
                    $skip_locked
                )))
                .bind(now)
                .bind(i64::from(limit))
                .fetch_all(&mut *tx)
                .await?;
                let mut jobs = Vec::with_capacity(due.len());
                for (tenant, id, attempts, max) in due {
                    if attempts >= max {
                        // Its last attempt died with its worker: give up rather than loop.
                        sqlx::query("UPDATE jobs SET status = 'failed', last_error = 'lease_expired', lease_until = NULL, updated_at = $3 WHERE tenant_id = $1 AND id = $2")
                            .bind(tenant)
                            .bind(id)
                            .bind(now)
                            .execute(&mut *tx)
                            .await?;
                        continue;
                    }
                    let (kind, sqlx::types::Json(payload), attempt): (String, sqlx::types::Json<serde_json::Value>, i32) = sqlx::query_as(
                        "UPDATE jobs SET status = 'running', attempts = attempts + 1, lease_until = $3, locked_by = $4, updated_at = $5 \
                         WHERE tenant_id = $1 AND id = $2 RETURNING kind, payload, attempts",
                    )
                    .bind(tenant)
                    .bind(id)
                    .bind(until)
                    .bind(worker)
                    .bind(now)
                    .fetch_one(&mut *tx)
                    .await?;
                    let scope = TenantScope::new(TenantId::from_uuid(tenant));
                    jobs.push(Job {
                        lease: JobLease { scope, id, worker: worker.to_owned(), attempt },
                        kind,
                        payload,
                        max_attempts: max,
                    });
                }
                tx.commit().await?;
                Ok(jobs)
            }

            async fn finish_job(&self, lease: &JobLease) -> Result<()> {
                let now = self.now_us();
                let mut tx = self.write_tx(Some(lease.scope)).await?;
                self.finish_job_tx(&mut tx, lease, now).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn retry_job(&self, lease: &JobLease, at: Option<jiff::Timestamp>, error_code: &str) -> Result<()> {
                let tenant = lease.scope.tenant_id();
                let now = self.now_us();
                let mut tx = self.write_tx(Some(lease.scope)).await?;
                let row: Option<(i32, String)> = sqlx::query_as(
                    "SELECT max_attempts, kind FROM jobs WHERE tenant_id = $1 AND id = $2 AND status = 'running' AND locked_by = $3 AND attempts = $4",
                )
                .bind(tenant.as_uuid())
                .bind(lease.id)
                .bind(&lease.worker)
                .bind(lease.attempt)
                .fetch_optional(&mut *tx)
                .await?;
                let (max, kind) = row.ok_or(StoreError::Conflict("job lease lost"))?;
                let give_up = at.is_none() || lease.attempt >= max;
                let (status, run_at) = match at {
                    Some(at) if !give_up => ("queued", crate::to_us(at)),
                    _ => ("failed", now),
                };
                sqlx::query(
                    "UPDATE jobs SET status = $3, run_at = $4, lease_until = NULL, last_error = $5, updated_at = $6 WHERE tenant_id = $1 AND id = $2",
                )
                .bind(tenant.as_uuid())
                .bind(lease.id)
                .bind(status)
                .bind(run_at)
                .bind(error_code)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                if give_up {
                    let details = serde_json::json!({ "job": lease.id.to_string(), "kind": kind, "error_code": error_code, "attempts": lease.attempt });
                    self.notify_failure_tx(&mut tx, tenant, None, details.clone(), now).await?;
                    let ev = AuditEvent::new(Actor::System, "job.failed").target("job", lease.id).details(details);
                    self.append_audit_tx(&mut tx, tenant, now, &ev).await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn claim_outbox(&self, worker: &str, lease: jiff::SignedDuration, limit: u32) -> Result<Vec<OutboxItem>> {
                let now_ts = self.clock.now();
                let now = crate::to_us(now_ts);
                let until = crate::to_us(now_ts.checked_add(lease).map_err(|_| StoreError::Corrupt("lease"))?);
                let mut tx = self.claim_tx().await?;
                let due: Vec<(Uuid, Uuid)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "SELECT tenant_id, id FROM outbox WHERE status IN ('pending', 'sending') AND next_attempt_at <= $1 \
                       AND tenant_id IN (SELECT id FROM tenants WHERE status = 'active') \
                     ORDER BY next_attempt_at LIMIT $2{}",
                    $skip_locked
                )))
                .bind(now)
                .bind(i64::from(limit))
                .fetch_all(&mut *tx)
                .await?;
                let mut claimed = Vec::with_capacity(due.len());
                for (tenant, id) in due {
                    let row: (Option<Uuid>, String, String, String, i32) = sqlx::query_as(
                        "UPDATE outbox SET status = 'sending', attempts = attempts + 1, next_attempt_at = $3, locked_by = $4, updated_at = $5 \
                         WHERE tenant_id = $1 AND id = $2 RETURNING message_id, channel, purpose, idempotency_key, attempts",
                    )
                    .bind(tenant)
                    .bind(id)
                    .bind(until)
                    .bind(worker)
                    .bind(now)
                    .fetch_one(&mut *tx)
                    .await?;
                    claimed.push((tenant, id, row));
                }
                tx.commit().await?;
                let mut items = Vec::with_capacity(claimed.len());
                for (tenant, id, (message, channel, purpose, key, attempt)) in claimed {
                    let scope = TenantScope::new(TenantId::from_uuid(tenant));
                    let lease = JobLease { scope, id, worker: worker.to_owned(), attempt };
                    let opened = match message {
                        Some(m) => self.open_outbox(lease.clone(), m, Channel::parse(&channel)?, OutboxPurpose::parse(&purpose)?, key).await,
                        None => Err(StoreError::NotFound),
                    };
                    match opened {
                        Ok((item, None)) => items.push(item),
                        // Opted out, or held by staff: never sent, recorded as refused (no
                        // alert: the patient asked, or a person is answering).
                        Ok((_, Some(reason))) => self.settle(&lease, "failed", None, Some(reason), false).await?,
                        // The message or the patient's phone is gone (e.g. erased): nothing to send.
                        Err(StoreError::NotFound) => self.settle(&lease, "failed", None, Some("recipient_gone"), false).await?,
                        Err(e) => return Err(e),
                    }
                }
                Ok(items)
            }

            async fn settle_outbox(&self, lease: &JobLease, outcome: &DeliveryOutcome) -> Result<()> {
                match outcome {
                    DeliveryOutcome::Sent { provider_message_id } => self.settle(lease, "sent", Some(provider_message_id), None, false).await,
                    DeliveryOutcome::Retry { at, error_code } if lease.attempt < OUTBOX_MAX_ATTEMPTS => {
                        self.reschedule_outbox(lease, *at, Some(error_code), 0).await
                    }
                    DeliveryOutcome::Deferred { at } => self.reschedule_outbox(lease, *at, None, 1).await,
                    DeliveryOutcome::Retry { error_code, .. } | DeliveryOutcome::Permanent { error_code } => {
                        self.settle(lease, "dead", None, Some(error_code), true).await
                    }
                }
            }

            async fn outbox_entries(&self, scope: TenantScope, limit: u32) -> Result<Vec<OutboxEntry>> {
                let mut tx = self.read_tx(Some(scope)).await?;
                #[allow(clippy::type_complexity)]
                let rows: Vec<(Uuid, Option<Uuid>, String, String, String, i32, Option<String>, Option<String>)> = sqlx::query_as(
                    "SELECT id, message_id, channel, purpose, status, attempts, provider_message_id, last_error FROM outbox \
                     WHERE tenant_id = $1 ORDER BY id LIMIT $2",
                )
                .bind(scope.tenant_id().as_uuid())
                .bind(i64::from(limit))
                .fetch_all(&mut *tx)
                .await?;
                tx.commit().await?;
                rows.into_iter()
                    .map(|(id, message, channel, purpose, status, attempts, provider_message_id, last_error)| {
                        Ok(OutboxEntry {
                            id,
                            message: message.map(MessageId::from_uuid),
                            channel: Channel::parse(&channel)?,
                            purpose: OutboxPurpose::parse(&purpose)?,
                            status,
                            attempts,
                            provider_message_id,
                            last_error,
                        })
                    })
                    .collect()
            }
        }

        #[async_trait]
        impl NotificationStore for $Store {
            async fn notification(&self, scope: TenantScope, id: Uuid) -> Result<StaffNotification> {
                let mut tx = self.read_tx(Some(scope)).await?;
                let row: Option<(Option<Uuid>, String, String, String, i64)> = sqlx::query_as(
                    "SELECT conversation_id, kind, details, status, created_at FROM staff_notifications WHERE tenant_id = $1 AND id = $2",
                )
                .bind(scope.tenant_id().as_uuid())
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
                tx.commit().await?;
                let (conv, kind, details, status, created_at) = row.ok_or(StoreError::NotFound)?;
                Ok(StaffNotification {
                    id,
                    conversation_id: conv.map(ConversationId::from_uuid),
                    kind: NotificationKind::parse(&kind)?,
                    details,
                    status,
                    created_at: from_us(created_at)?,
                })
            }

            async fn mark_notification_sent(&self, lease: &JobLease, id: Uuid) -> Result<()> {
                let now = self.now_us();
                let mut tx = self.write_tx(Some(lease.scope)).await?;
                self.finish_job_tx(&mut tx, lease, now).await?;
                sqlx::query("UPDATE staff_notifications SET status = 'sent', updated_at = $3 WHERE tenant_id = $1 AND id = $2 AND status = 'pending'")
                    .bind(lease.scope.tenant_id().as_uuid())
                    .bind(id)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn staff_contacts(&self, scope: TenantScope) -> Result<Vec<StaffContact>> {
                let tenant = scope.tenant_id();
                let mut tx = self.read_tx(Some(scope)).await?;
                let rows: Vec<(Uuid, String, Vec<u8>)> = sqlx::query_as(
                    "SELECT id, role, email_ct FROM users WHERE tenant_id = $1 AND status = 'active' ORDER BY id",
                )
                .bind(tenant.as_uuid())
                .fetch_all(&mut *tx)
                .await?;
                let keys = self.tenant_keys(&mut tx, tenant).await?;
                tx.commit().await?;
                rows.into_iter()
                    .map(|(id, role, ct)| {
                        let email = keys.data.open_string(&aad(tenant, "users", "email", &id.to_string()), &ct)?;
                        Ok(StaffContact { role: Role::parse(&role)?, email: Email::parse(&email)? })
                    })
                    .collect()
            }
        }

        impl $Store {
            /// The lease-checked update of an outbox row, with the message's status beside it.
            async fn settle(&self, lease: &JobLease, status: &str, provider_id: Option<&str>, error: Option<&str>, alert: bool) -> Result<()> {
                let tenant = lease.scope.tenant_id();
                let now = self.now_us();
                let mut tx = self.write_tx(Some(lease.scope)).await?;
                let row: Option<(Option<Uuid>,)> = sqlx::query_as(
                    "UPDATE outbox SET status = $5, provider_message_id = COALESCE($6, provider_message_id), last_error = COALESCE($7, last_error), \
                     locked_by = NULL, updated_at = $8 \
                     WHERE tenant_id = $1 AND id = $2 AND status = 'sending' AND locked_by = $3 AND attempts = $4 RETURNING message_id",
                )
                .bind(tenant.as_uuid())
                .bind(lease.id)
                .bind(&lease.worker)
                .bind(lease.attempt)
                .bind(status)
                .bind(provider_id)
                .bind(error)
                .bind(now)
                .fetch_optional(&mut *tx)
                .await?;
                let (message,) = row.ok_or(StoreError::Conflict("outbox lease lost"))?;
                let message_status = if status == "sent" { "sent" } else { "failed" };
                let conversation: Option<(Uuid,)> = sqlx::query_as(
                    "UPDATE messages SET status = $3 WHERE tenant_id = $1 AND id = $2 RETURNING conversation_id",
                )
                .bind(tenant.as_uuid())
                .bind(message)
                .bind(message_status)
                .fetch_optional(&mut *tx)
                .await?;
                if status != "sent" {
                    let details = serde_json::json!({ "outbox": lease.id.to_string(), "error_code": error, "attempts": lease.attempt });
                    if alert {
                        self.notify_failure_tx(&mut tx, tenant, conversation.map(|c| c.0), details.clone(), now).await?;
                    }
                    let action = if alert { "outbox.dead_lettered" } else { "outbox.suppressed" };
                    let ev = AuditEvent::new(Actor::System, action).target("outbox", lease.id).details(details);
                    self.append_audit_tx(&mut tx, tenant, now, &ev).await?;
                }
                tx.commit().await?;
                Ok(())
            }

            /// Back to `pending` until `at`; `uncount` = 1 gives the attempt back (it was not made).
            async fn reschedule_outbox(&self, lease: &JobLease, at: jiff::Timestamp, error: Option<&str>, uncount: i32) -> Result<()> {
                let now = self.now_us();
                let mut tx = self.write_tx(Some(lease.scope)).await?;
                let done = sqlx::query(
                    "UPDATE outbox SET status = 'pending', next_attempt_at = $5, last_error = COALESCE($6, last_error), locked_by = NULL, \
                     updated_at = $7, attempts = attempts - $8 \
                     WHERE tenant_id = $1 AND id = $2 AND status = 'sending' AND locked_by = $3 AND attempts = $4",
                )
                .bind(lease.scope.tenant_id().as_uuid())
                .bind(lease.id)
                .bind(&lease.worker)
                .bind(lease.attempt)
                .bind(crate::to_us(at))
                .bind(error)
                .bind(now)
                .bind(uncount)
                .execute(&mut *tx)
                .await?;
                if done.rows_affected() != 1 {
                    return Err(StoreError::Conflict("outbox lease lost"));
                }
                tx.commit().await?;
                Ok(())
            }
        }
    };
}

pub(crate) use impl_queue;
