//! Shared SQL for payments (#11): the clinic's provider settings (secrets sealed with the
//! tenant data key, bound to (tenant, payment_settings, secrets, provider)), and payments,
//! whose every change is audited and told to the patient in the transaction that makes it.
//! A payment leaves `pending` once: the `UPDATE … WHERE status = 'pending'` decides, so two
//! deliveries of the same webhook racing each other settle it once.

/// How many times the provider is asked before the request is given up.
pub(crate) const PAYMENT_JOB_ATTEMPTS: i32 = 5;

macro_rules! impl_payments {
    ($Store:ty) => {
        use $crate::payments::*;

        /// A `payments` row as `SELECT {PAYMENT_COLUMNS}` reads it.
        type PaymentRow = (Uuid, Uuid, Option<Uuid>, Uuid, String, String, i64, String, String, Option<String>, Option<String>, Option<String>, i64, i64, Option<i64>);
        const PAYMENT_COLUMNS: &str = "id, appointment_id, conversation_id, patient_id, channel, provider, amount_minor, currency, status, \
                                       reference, receipt, reason, created_at, updated_at, settled_at";

        fn payment_from_row(r: PaymentRow) -> Result<Payment> {
            let (id, appointment, conversation, patient, channel, provider, amount_minor, currency, status, reference, receipt, reason, created_at, updated_at, settled_at) = r;
            Ok(Payment {
                id: PaymentId::from_uuid(id),
                appointment: AppointmentId::from_uuid(appointment),
                conversation: conversation.map(ConversationId::from_uuid),
                patient: PatientId::from_uuid(patient),
                channel: Channel::parse(&channel)?,
                provider: PaymentProvider::parse(&provider)?,
                amount_minor,
                currency,
                status: PaymentStatus::parse(&status)?,
                reference,
                receipt,
                reason,
                created_at: from_us(created_at)?,
                updated_at: from_us(updated_at)?,
                settled_at: settled_at.map(from_us).transpose()?,
            })
        }

        impl $Store {
            async fn payment_tx(&self, tx: &mut Tx, tenant: TenantId, which: PaymentRef<'_>) -> Result<Payment> {
                let row: Option<PaymentRow> = match which {
                    PaymentRef::Id(id) => {
                        sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT {PAYMENT_COLUMNS} FROM payments WHERE tenant_id = $1 AND id = $2")))
                            .bind(tenant.as_uuid())
                            .bind(id.as_uuid())
                            .fetch_optional(&mut **tx)
                            .await?
                    }
                    PaymentRef::Reference(provider, reference) => {
                        sqlx::query_as(sqlx::AssertSqlSafe(format!(
                            "SELECT {PAYMENT_COLUMNS} FROM payments WHERE tenant_id = $1 AND provider = $2 AND reference = $3"
                        )))
                        .bind(tenant.as_uuid())
                        .bind(provider.as_str())
                        .bind(reference)
                        .fetch_optional(&mut **tx)
                        .await?
                    }
                };
                payment_from_row(row.ok_or(StoreError::NotFound)?)
            }

            /// Tells the patient `text` where they asked: in the payment's conversation if it
            /// is still there (queued for delivery on WhatsApp and SMS), otherwise in their
            /// open conversation on the same channel.
            async fn tell_payer_tx(&self, tx: &mut Tx, tenant: TenantId, p: &Payment, text: &str, now: i64) -> Result<()> {
                let conv = match p.conversation {
                    Some(c) => match self.fetch_conversation_row(tx, tenant, c).await {
                        Ok((conv, _, _)) => Some(conv),
                        Err(StoreError::NotFound) => None,
                        Err(e) => return Err(e),
                    },
                    None => None,
                };
                let Some(conv) = conv else {
                    // A web chat that is gone cannot be reached again: nothing to tell there.
                    if matches!(p.channel, Channel::Whatsapp | Channel::Sms) {
                        self.notify_patient_tx(tx, tenant, p.patient, p.channel, text, OutboxPurpose::Notice, now).await?;
                    }
                    return Ok(());
                };
                let keys = self.tenant_keys(tx, tenant).await?;
                let key = self.patient_key(tx, &keys, tenant, conv.patient_id).await?;
                let msg = NewMessage { sender: Sender::System, ..NewMessage::agent_reply(text) };
                let id = self.insert_message_tx(tx, tenant, &conv, &key, &msg, now).await?.ok_or(StoreError::Duplicate)?;
                if matches!(conv.channel, Channel::Whatsapp | Channel::Sms) {
                    self.enqueue_outbox_tx(tx, tenant, id, conv.channel, OutboxPurpose::Notice, now).await?;
                }
                sqlx::query("UPDATE conversations SET last_message_at = $3, updated_at = $3 WHERE tenant_id = $1 AND id = $2")
                    .bind(tenant.as_uuid())
                    .bind(conv.id.as_uuid())
                    .bind(now)
                    .execute(&mut **tx)
                    .await?;
                Ok(())
            }
        }

        #[async_trait]
        impl PaymentStore for $Store {
            async fn set_payment_settings(&self, scope: TenantScope, settings: &PaymentSettings, secrets: &ChannelSecrets, actor: Actor) -> Result<()> {
                settings.validate()?;
                let tenant = scope.tenant_id();
                let now = self.now_us();
                let mut tx = self.write_tx(Some(scope)).await?;
                let keys = self.tenant_keys(&mut tx, tenant).await?;
                let ct = keys.data.seal(&aad(tenant, "payment_settings", "secrets", settings.provider.as_str()), &secrets.to_json())?;
                let config = serde_json::to_string(&settings.config).map_err(|_| StoreError::Corrupt("payment config"))?;
                sqlx::query(
                    "INSERT INTO payment_settings (tenant_id, provider, amount_minor, currency, config, secrets_ct, enabled, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, TRUE, $7, $7) \
                     ON CONFLICT (tenant_id) DO UPDATE SET provider = $2, amount_minor = $3, currency = $4, config = $5, secrets_ct = $6, \
                     enabled = TRUE, updated_at = $7",
                )
                .bind(tenant.as_uuid())
                .bind(settings.provider.as_str())
                .bind(settings.amount_minor)
                .bind(&settings.currency)
                .bind(config)
                .bind(ct)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                let ev = AuditEvent::new(actor, "payments.configured")
                    .target("payments", settings.provider.as_str())
                    .details(serde_json::json!({
                        "provider": settings.provider.as_str(),
                        "amount_minor": settings.amount_minor,
                        "currency": settings.currency,
                        "secrets": secrets.names(),
                    }));
                self.append_audit_tx(&mut tx, tenant, now, &ev).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn payment_account(&self, scope: TenantScope) -> Result<Option<PaymentAccount>> {
                let tenant = scope.tenant_id();
                let mut tx = self.read_tx(Some(scope)).await?;
                let row: Option<(String, i64, String, String, Vec<u8>, bool, i64)> = sqlx::query_as(
                    "SELECT provider, amount_minor, currency, config, secrets_ct, enabled, updated_at FROM payment_settings WHERE tenant_id = $1",
                )
                .bind(tenant.as_uuid())
                .fetch_optional(&mut *tx)
                .await?;
                let Some((provider, amount_minor, currency, config, ct, enabled, updated_at)) = row else {
                    tx.commit().await?;
                    return Ok(None);
                };
                let keys = self.tenant_keys(&mut tx, tenant).await?;
                tx.commit().await?;
                let plain = keys.data.open(&aad(tenant, "payment_settings", "secrets", &provider), &ct)?;
                Ok(Some(PaymentAccount {
                    settings: PaymentSettings {
                        provider: PaymentProvider::parse(&provider)?,
                        amount_minor,
                        currency,
                        config: serde_json::from_str(&config).map_err(|_| StoreError::Corrupt("payment config"))?,
                    },
                    enabled,
                    secrets: ChannelSecrets::from_json(&plain)?,
                    updated_at: from_us(updated_at)?,
                }))
            }

            async fn disable_payments(&self, scope: TenantScope, actor: Actor) -> Result<bool> {
                let tenant = scope.tenant_id();
                let now = self.now_us();
                let mut tx = self.write_tx(Some(scope)).await?;
                let done = sqlx::query("UPDATE payment_settings SET enabled = FALSE, updated_at = $2 WHERE tenant_id = $1 AND enabled")
                    .bind(tenant.as_uuid())
                    .bind(now)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if done > 0 {
                    let ev = AuditEvent::new(actor, "payments.disabled").target("payments", "settings");
                    self.append_audit_tx(&mut tx, tenant, now, &ev).await?;
                }
                tx.commit().await?;
                Ok(done > 0)
            }

            async fn request_payment(&self, scope: TenantScope, appointment: AppointmentId, conversation: Option<ConversationId>, actor: Actor) -> Result<Payment> {
                let tenant = scope.tenant_id();
                let now = self.now_us();
                let mut tx = self.write_tx(Some(scope)).await?;
                let settings: Option<(String, i64, String, bool)> =
                    sqlx::query_as("SELECT provider, amount_minor, currency, enabled FROM payment_settings WHERE tenant_id = $1")
                        .bind(tenant.as_uuid())
                        .fetch_optional(&mut *tx)
                        .await?;
                let Some((provider, amount_minor, currency, true)) = settings else {
                    return Err(StoreError::Conflict("payments_disabled"));
                };
                let appt: Option<(Uuid, String)> = sqlx::query_as("SELECT patient_id, status FROM appointments WHERE tenant_id = $1 AND id = $2")
                    .bind(tenant.as_uuid())
                    .bind(appointment.as_uuid())
                    .fetch_optional(&mut *tx)
                    .await?;
                let (patient, status) = appt.ok_or(StoreError::NotFound)?;
                if !matches!(status.as_str(), "booked" | "confirmed") {
                    return Err(StoreError::Conflict("appointment_not_live"));
                }
                let open: Option<(Uuid,)> = sqlx::query_as(
                    "SELECT id FROM payments WHERE tenant_id = $1 AND appointment_id = $2 AND status IN ('pending', 'paid') LIMIT 1",
                )
                .bind(tenant.as_uuid())
                .bind(appointment.as_uuid())
                .fetch_optional(&mut *tx)
                .await?;
                if open.is_some() {
                    return Err(StoreError::Conflict("payment_exists"));
                }
                // Where the news goes: the conversation given (it must be this patient's, or a
                // web chat they proved to be), else the appointment's patient on SMS.
                let channel = match conversation {
                    Some(c) => {
                        let (conv, _, _) = self.fetch_conversation_row(&mut tx, tenant, c).await?;
                        conv.channel
                    }
                    None => Channel::Sms,
                };
                let id = PaymentId::new();
                let row: PaymentRow = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "INSERT INTO payments (tenant_id, id, appointment_id, conversation_id, channel, patient_id, provider, amount_minor, currency, status, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'pending', $10, $10) RETURNING {PAYMENT_COLUMNS}"
                )))
                .bind(tenant.as_uuid())
                .bind(id.as_uuid())
                .bind(appointment.as_uuid())
                .bind(conversation.map(|c| c.as_uuid()))
                .bind(channel.as_str())
                .bind(patient)
                .bind(&provider)
                .bind(amount_minor)
                .bind(&currency)
                .bind(now)
                .fetch_one(&mut *tx)
                .await?;
                let payload = PaymentRequestJob { payment: id, conversation };
                sqlx::query(
                    "INSERT INTO jobs (tenant_id, id, kind, payload, status, run_at, attempts, max_attempts, idempotency_key, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, 'queued', $5, 0, $6, $7, $5, $5)",
                )
                .bind(tenant.as_uuid())
                .bind(Uuid::now_v7())
                .bind(PAYMENT_REQUEST_JOB)
                .bind(sqlx::types::Json(payload))
                .bind(now)
                .bind($crate::sql::payments::PAYMENT_JOB_ATTEMPTS)
                .bind(format!("{PAYMENT_REQUEST_JOB}:{id}"))
                .execute(&mut *tx)
                .await?;
                let ev = AuditEvent::new(actor, "payment.requested")
                    .target("payment", id)
                    .details(serde_json::json!({
                        "appointment": appointment.to_string(),
                        "provider": provider,
                        "amount_minor": amount_minor,
                        "currency": currency,
                    }));
                self.append_audit_tx(&mut tx, tenant, now, &ev).await?;
                tx.commit().await?;
                payment_from_row(row)
            }

            async fn arm_payment_callback(&self, scope: TenantScope, id: PaymentId, secret_hash: &[u8]) -> Result<()> {
                let tenant = scope.tenant_id();
                let now = self.now_us();
                let mut tx = self.write_tx(Some(scope)).await?;
                let done = sqlx::query(
                    "UPDATE payments SET callback_hash = $3, updated_at = $4 WHERE tenant_id = $1 AND id = $2 AND status = 'pending' AND reference IS NULL",
                )
                .bind(tenant.as_uuid())
                .bind(id.as_uuid())
                .bind(secret_hash)
                .bind(now)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if done == 0 {
                    self.payment_tx(&mut tx, tenant, PaymentRef::Id(id)).await?;
                    return Err(StoreError::Conflict("payment_not_pending"));
                }
                tx.commit().await?;
                Ok(())
            }

            async fn payment_started(&self, scope: TenantScope, id: PaymentId, reference: &str, text: Option<&str>, job: Option<&JobLease>) -> Result<bool> {
                let tenant = scope.tenant_id();
                let now = self.now_us();
                let mut tx = self.write_tx(Some(scope)).await?;
                let p = self.payment_tx(&mut tx, tenant, PaymentRef::Id(id)).await?;
                if let Some(job) = job {
                    self.finish_job_tx(&mut tx, job, now).await?;
                }
                if p.reference.as_deref() == Some(reference) {
                    tx.commit().await?;
                    return Ok(false);
                }
                if p.reference.is_some() || p.status != PaymentStatus::Pending {
                    return Err(StoreError::Conflict("payment_not_pending"));
                }
                sqlx::query("UPDATE payments SET reference = $3, updated_at = $4 WHERE tenant_id = $1 AND id = $2")
                    .bind(tenant.as_uuid())
                    .bind(id.as_uuid())
                    .bind(reference)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                let ev = AuditEvent::new(Actor::System, "payment.started")
                    .target("payment", id)
                    .details(serde_json::json!({ "provider": p.provider.as_str(), "reference": reference }));
                self.append_audit_tx(&mut tx, tenant, now, &ev).await?;
                if let Some(text) = text {
                    self.tell_payer_tx(&mut tx, tenant, &p, text, now).await?;
                }
                tx.commit().await?;
                Ok(true)
            }

            async fn settle_payment(&self, scope: TenantScope, which: PaymentRef<'_>, outcome: &PaymentOutcome, text: Option<&str>, job: Option<&JobLease>) -> Result<Settled> {
                let tenant = scope.tenant_id();
                let now = self.now_us();
                let mut tx = self.write_tx(Some(scope)).await?;
                let p = self.payment_tx(&mut tx, tenant, which).await?;
                if let Some(job) = job {
                    self.finish_job_tx(&mut tx, job, now).await?;
                }
                let status = outcome.status();
                let (receipt, reason) = match outcome {
                    PaymentOutcome::Paid { receipt } => (Some(receipt.as_str()), None),
                    PaymentOutcome::Failed { reason } => (None, Some(reason.as_str())),
                    PaymentOutcome::Cancelled | PaymentOutcome::Expired => (None, None),
                };
                let done = sqlx::query(
                    "UPDATE payments SET status = $3, receipt = $4, reason = $5, settled_at = $6, updated_at = $6 \
                     WHERE tenant_id = $1 AND id = $2 AND status = 'pending'",
                )
                .bind(tenant.as_uuid())
                .bind(p.id.as_uuid())
                .bind(status.as_str())
                .bind(receipt)
                .bind(reason)
                .bind(now)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if done == 0 {
                    tx.commit().await?;
                    return Ok(Settled { payment: p, changed: false });
                }
                let mut details = serde_json::json!({
                    "provider": p.provider.as_str(),
                    "appointment": p.appointment.to_string(),
                    "amount_minor": p.amount_minor,
                    "currency": p.currency,
                });
                if let Some(r) = receipt {
                    details["receipt"] = serde_json::json!(r);
                }
                if let Some(r) = reason {
                    details["reason"] = serde_json::json!(r);
                }
                let ev = AuditEvent::new(Actor::System, match status {
                    PaymentStatus::Paid => "payment.paid",
                    PaymentStatus::Failed => "payment.failed",
                    PaymentStatus::Cancelled => "payment.cancelled",
                    _ => "payment.expired",
                })
                .target("payment", p.id)
                .details(details);
                self.append_audit_tx(&mut tx, tenant, now, &ev).await?;
                if let Some(text) = text {
                    self.tell_payer_tx(&mut tx, tenant, &p, text, now).await?;
                }
                let payment = self.payment_tx(&mut tx, tenant, PaymentRef::Id(p.id)).await?;
                tx.commit().await?;
                Ok(Settled { payment, changed: true })
            }

            async fn payment(&self, scope: TenantScope, id: PaymentId) -> Result<Payment> {
                let mut tx = self.read_tx(Some(scope)).await?;
                let p = self.payment_tx(&mut tx, scope.tenant_id(), PaymentRef::Id(id)).await?;
                tx.commit().await?;
                Ok(p)
            }

            async fn payment_by_reference(&self, scope: TenantScope, provider: PaymentProvider, reference: &str) -> Result<Payment> {
                let mut tx = self.read_tx(Some(scope)).await?;
                let p = self.payment_tx(&mut tx, scope.tenant_id(), PaymentRef::Reference(provider, reference)).await?;
                tx.commit().await?;
                Ok(p)
            }

            async fn check_payment_callback(&self, scope: TenantScope, id: PaymentId, secret: &str) -> Result<Payment> {
                let tenant = scope.tenant_id();
                let mut tx = self.read_tx(Some(scope)).await?;
                let row: Option<(Option<Vec<u8>>,)> = sqlx::query_as("SELECT callback_hash FROM payments WHERE tenant_id = $1 AND id = $2")
                    .bind(tenant.as_uuid())
                    .bind(id.as_uuid())
                    .fetch_optional(&mut *tx)
                    .await?;
                let (hash,) = row.ok_or(StoreError::NotFound)?;
                let p = self.payment_tx(&mut tx, tenant, PaymentRef::Id(id)).await?;
                tx.commit().await?;
                use subtle::ConstantTimeEq;
                let same = hash.is_some_and(|h| bool::from(h.as_slice().ct_eq(token_hash(secret).as_slice())));
                if !same {
                    return Err(StoreError::Unauthorized);
                }
                Ok(p)
            }

            async fn appointment_payments(&self, scope: TenantScope, appointments: &[AppointmentId]) -> Result<Vec<Payment>> {
                if appointments.is_empty() {
                    return Ok(Vec::new());
                }
                let mut tx = self.read_tx(Some(scope)).await?;
                let mut out = Vec::new();
                // Diaries show a day or a week: a handful of reads by index, no engine-specific
                // array binding.
                for chunk in appointments.chunks(50) {
                    let marks: Vec<String> = (0..chunk.len()).map(|i| format!("${}", i + 2)).collect();
                    let sql = format!(
                        "SELECT {PAYMENT_COLUMNS} FROM payments WHERE tenant_id = $1 AND appointment_id IN ({}) ORDER BY created_at DESC, id DESC",
                        marks.join(", ")
                    );
                    let mut q = sqlx::query_as::<_, PaymentRow>(sqlx::AssertSqlSafe(sql)).bind(scope.tenant_id().as_uuid());
                    for a in chunk {
                        q = q.bind(a.as_uuid());
                    }
                    for row in q.fetch_all(&mut *tx).await? {
                        out.push(payment_from_row(row)?);
                    }
                }
                tx.commit().await?;
                out.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
                Ok(out)
            }

            async fn latest_conversation_payment(&self, scope: TenantScope, conversation: ConversationId) -> Result<Option<Payment>> {
                let mut tx = self.read_tx(Some(scope)).await?;
                let row: Option<PaymentRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "SELECT {PAYMENT_COLUMNS} FROM payments WHERE tenant_id = $1 AND conversation_id = $2 ORDER BY created_at DESC, id DESC LIMIT 1"
                )))
                .bind(scope.tenant_id().as_uuid())
                .bind(conversation.as_uuid())
                .fetch_optional(&mut *tx)
                .await?;
                tx.commit().await?;
                row.map(payment_from_row).transpose()
            }

            async fn payment_webhook_scope(&self, slug: &TenantSlug) -> Result<TenantScope> {
                self.routed_scope("SELECT id, status FROM tenants WHERE slug = $1", slug.as_str())
                    .await
                    .map_err(|e| match e {
                        StoreError::Unauthorized => StoreError::NotFound,
                        other => other,
                    })
            }
        }
    };
}

pub(crate) use impl_payments;
