//! Shared SQL for provider accounts (secrets sealed with the tenant data key, bound to
//! (tenant, channel_accounts, secrets, provider)), consent by phone blind index, inbound
//! deliveries (patient + conversation + message + job + audit in one transaction) and
//! delivery-status updates.

macro_rules! impl_channels {
    ($Store:ty) => {
        use $crate::channel::*;

        impl $Store {
            fn seal_secrets(keys: &TenantKeys, tenant: TenantId, provider: Provider, s: &ChannelSecrets) -> Result<Vec<u8>> {
                Ok(keys.data.seal(&aad(tenant, "channel_accounts", "secrets", provider.as_str()), &s.to_json())?)
            }

            async fn load_account(&self, tx: &mut Tx, tenant: TenantId, provider: Provider) -> Result<ChannelAccount> {
                let row: Option<(String, String, Vec<u8>)> = sqlx::query_as(
                    "SELECT address, config, secrets_ct FROM channel_accounts WHERE tenant_id = $1 AND provider = $2",
                )
                .bind(tenant.as_uuid())
                .bind(provider.as_str())
                .fetch_optional(&mut **tx)
                .await?;
                let (address, config, ct) = row.ok_or(StoreError::NotFound)?;
                let keys = self.tenant_keys(tx, tenant).await?;
                let plain = keys.data.open(&aad(tenant, "channel_accounts", "secrets", provider.as_str()), &ct)?;
                Ok(ChannelAccount {
                    provider,
                    address,
                    config: serde_json::from_str(&config).map_err(|_| StoreError::Corrupt("channel config"))?,
                    secrets: ChannelSecrets::from_json(&plain)?,
                    tenant,
                })
            }

            async fn upsert_consent_tx(&self, tx: &mut Tx, tenant: TenantId, bidx: &[u8], channel: Channel, (change, source): (ConsentChange, &str), now: i64) -> Result<()> {
                let status = match change {
                    ConsentChange::OptIn => "opted_in",
                    ConsentChange::OptOut => "opted_out",
                };
                sqlx::query(
                    "INSERT INTO channel_consents (tenant_id, channel, phone_bidx, status, source, updated_at) VALUES ($1, $2, $3, $4, $5, $6) \
                     ON CONFLICT (tenant_id, channel, phone_bidx) DO UPDATE SET status = $4, source = $5, updated_at = $6",
                )
                .bind(tenant.as_uuid())
                .bind(channel.as_str())
                .bind(bidx)
                .bind(status)
                .bind(source)
                .bind(now)
                .execute(&mut **tx)
                .await?;
                Ok(())
            }

            /// Adds an outbox row for a stored outbound message (delivered by the outbox worker).
            async fn enqueue_outbox_tx(&self, tx: &mut Tx, tenant: TenantId, message: MessageId, channel: Channel, purpose: OutboxPurpose, now: i64) -> Result<()> {
                let mut q = sqlx::QueryBuilder::new("");
                Self::push_outbox_insert(&mut q, tenant, &[message], channel, purpose, now);
                q.build().execute(&mut **tx).await?;
                Ok(())
            }

            /// The `INSERT` of one outbox row per message of `messages`, onto `q` (alone, or in
            /// a turn's one statement: see `write_turn_folded`). A message already queued is
            /// left as it is.
            fn push_outbox_insert(q: &mut sqlx::QueryBuilder<Db>, tenant: TenantId, messages: &[MessageId], channel: Channel, purpose: OutboxPurpose, now: i64) {
                q.push(
                    "INSERT INTO outbox (tenant_id, id, message_id, channel, idempotency_key, status, attempts, next_attempt_at, \
                     purpose, created_at, updated_at) ",
                );
                q.push_values(messages, |mut row, message| {
                    row.push_bind(tenant.as_uuid())
                        .push_bind(Uuid::now_v7())
                        .push_bind(message.as_uuid())
                        .push_bind(channel.as_str())
                        .push_bind(format!("msg:{message}"))
                        .push("'pending'")
                        .push("0")
                        .push_bind(now)
                        .push_bind(purpose.as_str())
                        .push_bind(now)
                        .push_bind(now);
                });
                q.push(" ON CONFLICT DO NOTHING");
            }
        }

        /// The audit entry of a patient's new message (ids and channel only, never the text).
        fn message_received(patient: PatientId, message: MessageId, channel: Channel, conversation: ConversationId) -> AuditEvent {
            AuditEvent::new(Actor::Patient(patient), "message.received")
                .target("message", message)
                .details(serde_json::json!({ "channel": channel.as_str(), "conversation": conversation.to_string() }))
        }

        impl $Store {
            /// SQLite, an inbound message without a consent change or an automatic reply
            /// (nearly every one): the clinic's audit head moved on by one, then the message,
            /// the conversation's time, the reply job and the `message.received` audit entry
            /// as the statements of one string, which the driver's thread runs in one go: two
            /// trips to it where the one-by-one write takes six, while the clinic's one writer
            /// connection is held. The same rows as the one-by-one write (PostgreSQL, where
            /// each statement stays its own round trip in the order that locks the conversation
            /// before the head). `Duplicate` for a redelivery (the caller drops the
            /// transaction, so nothing is written).
            #[allow(clippy::too_many_arguments)]
            async fn ingest_folded(&self, tx: &mut Tx, tenant: TenantId, conv: MessageTarget, key: &DataKey, inbound: &NewMessage, first_contact: bool, run_agent: bool, now: i64) -> Result<Ingested> {
                use sqlx::Row;
                let (before, prev): (i64, Vec<u8>) = sqlx::query_as("UPDATE audit_heads SET seq = seq + 1 WHERE tenant_id = $1 RETURNING seq - 1, hash")
                    .bind(tenant.as_uuid())
                    .fetch_one(&mut **tx)
                    .await?;
                let message = MessageId::new();
                let body_ct = key.seal_str(&aad(tenant, "messages", "body", &message.to_string()), &inbound.body)?;
                let ev = message_received(conv.patient_id, message, conv.channel, conv.id);
                let entry = crate::audit::Entry::new(tenant.as_uuid(), &prev, before + 1, now, &ev)?;
                let mut q = sqlx::QueryBuilder::<Db>::new("");
                Self::push_message_insert(&mut q, tenant, conv, vec![(message, inbound, body_ct)], now);
                // One row when the message is new (none for a redelivery): whether any of the
                // clinic's active endpoints subscribes to `message.received`.
                Self::push_subscriber_count(&mut q, tenant);
                q.push("; ");
                q.push("UPDATE conversations SET last_message_at = ").push_bind(now).push(", updated_at = ").push_bind(now);
                q.push(" WHERE tenant_id = ").push_bind(tenant.as_uuid()).push(" AND id = ").push_bind(conv.id.as_uuid()).push("; ");
                let job = run_agent.then(Uuid::now_v7);
                if let Some(id) = job {
                    q.push(
                        "INSERT INTO jobs (tenant_id, id, kind, payload, status, run_at, attempts, max_attempts, idempotency_key, created_at, updated_at) ",
                    );
                    q.push_values([()], |mut row, ()| {
                        row.push_bind(tenant.as_uuid())
                            .push_bind(id)
                            .push_bind(REPLY_JOB)
                            .push_bind(sqlx::types::Json(ReplyJob { conversation: conv.id, message, first_contact }))
                            .push("'queued'")
                            .push_bind(now)
                            .push("0")
                            .push_bind(JOB_MAX_ATTEMPTS)
                            .push_bind(format!("reply:{message}"))
                            .push_bind(now)
                            .push_bind(now);
                    });
                    q.push("; ");
                }
                Self::push_audit_insert(&mut q, tenant, std::slice::from_ref(&entry), now);
                q.push("; UPDATE audit_heads SET hash = ").push_bind(entry.hash.clone()).push(" WHERE tenant_id = ").push_bind(tenant.as_uuid());
                let rows = q.build().fetch_all(&mut **tx).await?;
                let [row] = rows.as_slice() else {
                    return Err(StoreError::Duplicate);
                };
                let subscribers: i64 = row.try_get(0)?;
                if subscribers > 0 {
                    self.emit_message_received_tx(tx, tenant, conv, message, now).await?;
                }
                Ok(Ingested { patient: conv.patient_id, conversation: conv.id, message, job })
            }
        }

        #[async_trait]
        impl ChannelStore for $Store {
            async fn set_channel_account_by(&self, scope: TenantScope, provider: Provider, address: &str, config: &serde_json::Value, secrets: &ChannelSecrets, actor: Actor) -> Result<()> {
                let address = address.trim();
                if address.is_empty() || address.len() > 200 {
                    return Err(StoreError::Invalid(DomainError::invalid("channel address", "must be 1-200 characters")));
                }
                let tenant = scope.tenant_id();
                let now = self.now_us();
                let mut tx = self.write_tx(Some(scope)).await?;
                let keys = self.tenant_keys(&mut tx, tenant).await?;
                let ct = Self::seal_secrets(&keys, tenant, provider, secrets)?;
                let owner: Option<(Uuid,)> = sqlx::query_as("SELECT tenant_id FROM channel_routes WHERE provider = $1 AND address = $2")
                    .bind(provider.as_str())
                    .bind(address)
                    .fetch_optional(&mut *tx)
                    .await?;
                if matches!(owner, Some((t,)) if t != tenant.as_uuid()) {
                    return Err(StoreError::Conflict("that provider address belongs to another clinic"));
                }
                sqlx::query("DELETE FROM channel_routes WHERE provider = $1 AND tenant_id = $2")
                    .bind(provider.as_str())
                    .bind(tenant.as_uuid())
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("INSERT INTO channel_routes (provider, address, tenant_id) VALUES ($1, $2, $3)")
                    .bind(provider.as_str())
                    .bind(address)
                    .bind(tenant.as_uuid())
                    .execute(&mut *tx)
                    .await?;
                let config_text = serde_json::to_string(config).map_err(|_| StoreError::Corrupt("channel config"))?;
                sqlx::query(
                    "INSERT INTO channel_accounts (tenant_id, provider, address, config, secrets_ct, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $6) ON CONFLICT (tenant_id, provider) DO UPDATE \
                     SET address = $3, config = $4, secrets_ct = $5, updated_at = $6",
                )
                .bind(tenant.as_uuid())
                .bind(provider.as_str())
                .bind(address)
                .bind(config_text)
                .bind(ct)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                // Names of the secrets only: their values never reach the audit log.
                let ev = AuditEvent::new(actor, "channel.configured")
                    .target("channel", provider.as_str())
                    .details(serde_json::json!({ "provider": provider.as_str(), "secrets": secrets.names() }));
                self.append_audit_tx(&mut tx, tenant, now, &ev).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn rotate_channel_secret(&self, scope: TenantScope, provider: Provider, name: &str, value: zeroize::Zeroizing<String>, overlap: jiff::SignedDuration, actor: Actor) -> Result<Option<jiff::Timestamp>> {
                if !provider.required_secrets().contains(&name) {
                    return Err(StoreError::Invalid(DomainError::invalid("secret name", "is not one this provider uses")));
                }
                if value.trim().is_empty() || value.len() > 4096 {
                    return Err(StoreError::Invalid(DomainError::invalid("secret", "must be 1-4096 characters")));
                }
                if overlap.is_negative() || overlap > jiff::SignedDuration::from_hours(24 * 30) {
                    return Err(StoreError::Invalid(DomainError::invalid("overlap", "must be between 0 and 30 days")));
                }
                let tenant = scope.tenant_id();
                let now_us = self.now_us();
                let now = jiff::Timestamp::from_microsecond(now_us).map_err(|_| StoreError::Corrupt("clock"))?;
                let mut tx = self.write_tx(Some(scope)).await?;
                let mut account = self.load_account(&mut tx, tenant, provider).await?;
                account.secrets.prune(now);
                let until = account.secrets.rotate(name, value, now, now + overlap);
                let keys = self.tenant_keys(&mut tx, tenant).await?;
                let ct = Self::seal_secrets(&keys, tenant, provider, &account.secrets)?;
                sqlx::query("UPDATE channel_accounts SET secrets_ct = $3, updated_at = $4 WHERE tenant_id = $1 AND provider = $2")
                    .bind(tenant.as_uuid())
                    .bind(provider.as_str())
                    .bind(ct)
                    .bind(now_us)
                    .execute(&mut *tx)
                    .await?;
                // The name and the window only: values never reach the audit log.
                let ev = AuditEvent::new(actor, "channel.secret_rotated")
                    .target("channel", provider.as_str())
                    .details(serde_json::json!({
                        "provider": provider.as_str(),
                        "secret": name,
                        "overlap_seconds": overlap.as_secs(),
                        "previous_valid_until": until.map(|t| t.to_string()),
                    }));
                self.append_audit_tx(&mut tx, tenant, now_us, &ev).await?;
                tx.commit().await?;
                Ok(until)
            }

            async fn route_channel(&self, provider: Provider, address: &str) -> Result<ChannelAccount> {
                // One statement when this process already holds the account at the clinic's
                // current `channels_version` (see `crate::catalog_cache`).
                let row: Option<(Uuid, String, i64)> = sqlx::query_as(
                    "SELECT r.tenant_id, t.status, t.channels_version FROM channel_routes r JOIN tenants t ON t.id = r.tenant_id \
                     WHERE r.provider = $1 AND r.address = $2",
                )
                .bind(provider.as_str())
                .bind(address)
                .fetch_optional(&self.pool)
                .await?;
                let (tenant, version) = match row {
                    Some((id, status, version)) if status == "active" => (TenantId::from_uuid(id), version),
                    _ => return Err(StoreError::NotFound),
                };
                if let Some(account) = self.channels.get(&(tenant, provider), version) {
                    return Ok(account);
                }
                let mut tx = self.read_tx(Some(TenantScope::new(tenant))).await?;
                let account = self.load_account(&mut tx, tenant, provider).await?;
                tx.commit().await?;
                self.channels.put((tenant, provider), version, &account);
                Ok(account)
            }

            async fn channel_addresses(&self, provider: Provider) -> Result<Vec<String>> {
                Ok(sqlx::query_scalar(
                    "SELECT r.address FROM channel_routes r JOIN tenants t ON t.id = r.tenant_id \
                     WHERE r.provider = $1 AND t.status = 'active' ORDER BY r.address",
                )
                .bind(provider.as_str())
                .fetch_all(&self.pool)
                .await?)
            }

            async fn channel_account(&self, scope: TenantScope, provider: Provider) -> Result<ChannelAccount> {
                let mut tx = self.read_tx(Some(scope)).await?;
                let account = self.load_account(&mut tx, scope.tenant_id(), provider).await?;
                tx.commit().await?;
                Ok(account)
            }

            async fn consent(&self, scope: TenantScope, channel: Channel, phone: &E164Phone) -> Result<Option<Consent>> {
                let tenant = scope.tenant_id();
                let mut tx = self.read_tx(Some(scope)).await?;
                let keys = self.tenant_keys(&mut tx, tenant).await?;
                let bidx = keys.index.blind_index("phone", phone.as_str());
                let row: Option<(String, String, i64)> = sqlx::query_as(
                    "SELECT status, source, updated_at FROM channel_consents WHERE tenant_id = $1 AND channel = $2 AND phone_bidx = $3",
                )
                .bind(tenant.as_uuid())
                .bind(channel.as_str())
                .bind(bidx)
                .fetch_optional(&mut *tx)
                .await?;
                tx.commit().await?;
                row.map(|(status, source, at)| Ok(Consent { opted_in: status == "opted_in", source, updated_at: from_us(at)? }))
                    .transpose()
            }

            async fn record_consent(&self, scope: TenantScope, channel: Channel, phone: &E164Phone, change: ConsentChange, source: &str) -> Result<()> {
                let tenant = scope.tenant_id();
                let now = self.now_us();
                let mut tx = self.write_tx(Some(scope)).await?;
                let keys = self.tenant_keys(&mut tx, tenant).await?;
                let bidx = keys.index.blind_index("phone", phone.as_str());
                self.upsert_consent_tx(&mut tx, tenant, &bidx, channel, (change, source), now).await?;
                let action = if change == ConsentChange::OptIn { "consent.opted_in" } else { "consent.opted_out" };
                let ev = AuditEvent::new(Actor::Operator, action).details(serde_json::json!({ "channel": channel.as_str(), "source": source }));
                self.append_audit_tx(&mut tx, tenant, now, &ev).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn ingest_inbound(&self, scope: TenantScope, d: &InboundDelivery) -> Result<Ingested> {
                let tenant = scope.tenant_id();
                let now = self.now_us();
                let mut tx = self.write_tx(Some(scope)).await?;
                let keys = self.tenant_keys(&mut tx, tenant).await?;
                let bidx = keys.index.blind_index("phone", d.from.as_str());
                // As few round trips as the ack allows: the patient comes with their key, the
                // open conversation with whether they wrote before, and its row is not read
                // again (what the message needs of it is known).
                let (patient, wrapped) = self.patient_and_key_by_phone_tx(&mut tx, tenant, &keys, &d.from, d.channel.as_str(), now).await?;
                let (conversation, first_contact) = self.open_conversation_tx(&mut tx, tenant, patient, d.channel, now).await?;
                let conv = MessageTarget { id: conversation, patient_id: patient, channel: d.channel };
                let key = self.patient_key_from(&mut tx, &keys, tenant, patient, wrapped).await?;
                let inbound = NewMessage { provider_message_id: Some(d.provider_message_id.clone()), ..NewMessage::inbound(d.body.clone()) };
                if ENGINE == "sqlite" && d.consent.is_none() && d.auto_reply.is_none() {
                    let ingested = self.ingest_folded(&mut tx, tenant, conv, &key, &inbound, first_contact, d.run_agent, now).await?;
                    tx.commit().await?;
                    return Ok(ingested);
                }
                // A redelivery: nothing is written (the transaction is dropped).
                let Some(message) = self.insert_message_tx(&mut tx, tenant, conv, &key, &inbound, now).await? else {
                    return Err(StoreError::Duplicate);
                };
                sqlx::query("UPDATE conversations SET last_message_at = $3, updated_at = $3 WHERE tenant_id = $1 AND id = $2")
                    .bind(tenant.as_uuid())
                    .bind(conversation.as_uuid())
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                if let Some((change, source)) = &d.consent {
                    self.upsert_consent_tx(&mut tx, tenant, &bidx, d.channel, (*change, source), now).await?;
                    let action = if *change == ConsentChange::OptIn { "consent.opted_in" } else { "consent.opted_out" };
                    let ev = AuditEvent::new(Actor::Patient(patient), action)
                        .target("message", message)
                        .details(serde_json::json!({ "channel": d.channel.as_str(), "source": source }));
                    self.append_audit_tx(&mut tx, tenant, now, &ev).await?;
                }
                if let Some((text, purpose)) = &d.auto_reply {
                    let reply = NewMessage { sender: Sender::System, ..NewMessage::agent_reply(text.clone()) };
                    let id = self.insert_message_tx(&mut tx, tenant, conv, &key, &reply, now).await?.ok_or(StoreError::Duplicate)?;
                    self.enqueue_outbox_tx(&mut tx, tenant, id, d.channel, *purpose, now).await?;
                }
                let job = if d.run_agent {
                    let id = Uuid::now_v7();
                    let payload = sqlx::types::Json(ReplyJob { conversation, message, first_contact });
                    sqlx::query(
                        "INSERT INTO jobs (tenant_id, id, kind, payload, status, run_at, attempts, max_attempts, idempotency_key, created_at, updated_at) \
                         VALUES ($1, $2, $3, $4, 'queued', $5, 0, $6, $7, $5, $5)",
                    )
                    .bind(tenant.as_uuid())
                    .bind(id)
                    .bind(REPLY_JOB)
                    .bind(payload)
                    .bind(now)
                    .bind(JOB_MAX_ATTEMPTS)
                    .bind(format!("reply:{message}"))
                    .execute(&mut *tx)
                    .await?;
                    Some(id)
                } else {
                    None
                };
                let ev = message_received(patient, message, d.channel, conversation);
                self.append_audit_tx(&mut tx, tenant, now, &ev).await?;
                tx.commit().await?;
                Ok(Ingested { patient, conversation, message, job })
            }

            async fn delivery_status(&self, scope: TenantScope, channel: Channel, provider_message_id: &str, status: &str, error_code: Option<&str>) -> Result<bool> {
                const RANK: &[&str] = &["queued", "sent", "delivered", "read"];
                let tenant = scope.tenant_id();
                let now = self.now_us();
                let mut tx = self.write_tx(Some(scope)).await?;
                let row: Option<(Uuid, String)> = sqlx::query_as(
                    "SELECT m.id, m.status FROM outbox o JOIN messages m ON m.tenant_id = o.tenant_id AND m.id = o.message_id \
                     WHERE o.tenant_id = $1 AND o.channel = $2 AND o.provider_message_id = $3",
                )
                .bind(tenant.as_uuid())
                .bind(channel.as_str())
                .bind(provider_message_id)
                .fetch_optional(&mut *tx)
                .await?;
                let Some((message, current)) = row else {
                    return Ok(false);
                };
                // Callbacks arrive out of order: a status only moves forward (failed is final).
                let rank = |s: &str| RANK.iter().position(|r| *r == s);
                let forward = match (rank(&current), rank(status)) {
                    _ if current == "failed" => false,
                    _ if status == "failed" => true,
                    (Some(a), Some(b)) => b > a,
                    (None, Some(_)) => true,
                    _ => false,
                };
                if forward {
                    sqlx::query("UPDATE messages SET status = $3 WHERE tenant_id = $1 AND id = $2")
                        .bind(tenant.as_uuid())
                        .bind(message)
                        .bind(status)
                        .execute(&mut *tx)
                        .await?;
                    if status == "failed" {
                        let ev = AuditEvent::new(Actor::System, "message.delivery_failed")
                            .target("message", MessageId::from_uuid(message))
                            .details(serde_json::json!({ "channel": channel.as_str(), "error_code": error_code }));
                        self.append_audit_tx(&mut tx, tenant, now, &ev).await?;
                    }
                }
                tx.commit().await?;
                Ok(forward)
            }
        }
    };
}

pub(crate) use impl_channels;
