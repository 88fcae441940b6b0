//! Shared SQL for API keys (#10): made, listed, revoked and rotated in the clinic's scope,
//! and checked on every API call.
//!
//! A call's key is routed to its clinic by its public prefix (`api_key_routes`, a directory
//! without secrets), then checked and counted in that clinic's scope in one write
//! transaction: the SHA-256 of the whole key compared in constant time, the key's state, and
//! one `UPDATE … RETURNING` that moves the key's rate window and `last_used_at` together, so
//! that concurrent calls on any number of instances are counted exactly.

/// Length of a rate window.
pub(crate) const RATE_WINDOW_US: i64 = 60 * 1_000_000;

macro_rules! impl_api_keys {
    ($Store:ty) => {
        type ApiKeyRow = (Uuid, String, String, String, i32, i64, String, Option<i64>, Option<i64>, Option<Uuid>, Option<i64>);

        fn api_key_info(row: ApiKeyRow) -> Result<ApiKeyInfo> {
            let (id, prefix, name, scopes, rate, created, created_by, expires, revoked, replaced_by, last_used) = row;
            Ok(ApiKeyInfo {
                id: ApiKeyId::from_uuid(id),
                prefix,
                name,
                scopes: ApiScopes::parse(&scopes).map_err(|_| StoreError::Corrupt("api key scopes"))?,
                rate_per_minute: u32::try_from(rate).map_err(|_| StoreError::Corrupt("api key rate"))?,
                created_at: from_us(created)?,
                created_by,
                expires_at: expires.map(from_us).transpose()?,
                revoked_at: revoked.map(from_us).transpose()?,
                replaced_by: replaced_by.map(ApiKeyId::from_uuid),
                last_used_at: last_used.map(from_us).transpose()?,
            })
        }

        fn actor_label(actor: &Actor) -> String {
            match actor.id() {
                Some(id) => format!("{}:{id}", actor.kind()),
                None => actor.kind().to_owned(),
            }
        }

        impl $Store {
            /// The active clinic that a token's public `prefix` routes to, read with `sql` from
            /// a directory (`SELECT r.tenant_id, t.status FROM <routes> r JOIN tenants t …
            /// WHERE r.prefix = $1`) before any tenant scope exists. Unknown prefix or a clinic
            /// that is not active: `Unauthorized`.
            pub(crate) async fn routed_scope(&self, sql: &'static str, prefix: &str) -> Result<TenantScope> {
                let route: Option<(Uuid, String)> = sqlx::query_as(sql).bind(prefix).fetch_optional(&self.pool).await?;
                match route {
                    Some((id, status)) if status == "active" => Ok(TenantScope::new(TenantId::from_uuid(id))),
                    _ => Err(StoreError::Unauthorized),
                }
            }

            /// Inserts a new key (and its route) inside `tx`; answers it with its secret.
            async fn insert_api_key_tx(&self, tx: &mut Tx, tenant: TenantId, key: &NewApiKey, actor: &Actor, now: i64) -> Result<IssuedApiKey> {
                let name = key.name.trim();
                if name.is_empty() || name.chars().count() > 80 || name.chars().any(char::is_control) {
                    return Err(StoreError::Invalid(DomainError::invalid("name", "1 to 80 characters, no control characters")));
                }
                if key.rate_per_minute == 0 || key.rate_per_minute > $crate::api_key::MAX_RATE_PER_MINUTE {
                    return Err(StoreError::Invalid(DomainError::invalid("rate_per_minute", "1 to 6000 requests a minute")));
                }
                let (prefix, secret) = $crate::api_key::generate();
                let id = ApiKeyId::new();
                sqlx::query("INSERT INTO api_key_routes (prefix, tenant_id) VALUES ($1, $2)")
                    .bind(&prefix)
                    .bind(tenant.as_uuid())
                    .execute(&mut **tx)
                    .await?;
                let row: ApiKeyRow = sqlx::query_as(
                    "INSERT INTO api_keys (tenant_id, id, prefix, name, secret_hash, scopes, rate_per_minute, created_at, created_by) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id, prefix, name, scopes, rate_per_minute, created_at, created_by, expires_at, revoked_at, replaced_by, last_used_at"
                )
                .bind(tenant.as_uuid())
                .bind(id.as_uuid())
                .bind(&prefix)
                .bind(name)
                .bind(token_hash(&secret))
                .bind(key.scopes.to_stored())
                .bind(i32::try_from(key.rate_per_minute).unwrap_or(i32::MAX))
                .bind(now)
                .bind(actor_label(actor))
                .fetch_one(&mut **tx)
                .await?;
                Ok(IssuedApiKey { info: api_key_info(row)?, key: secret })
            }

            async fn api_key_row_tx(&self, tx: &mut Tx, tenant: TenantId, id: ApiKeyId) -> Result<ApiKeyInfo> {
                let row: Option<ApiKeyRow> = sqlx::query_as("SELECT id, prefix, name, scopes, rate_per_minute, created_at, created_by, expires_at, revoked_at, replaced_by, last_used_at FROM api_keys WHERE tenant_id = $1 AND id = $2")
                    .bind(tenant.as_uuid())
                    .bind(id.as_uuid())
                    .fetch_optional(&mut **tx)
                    .await?;
                api_key_info(row.ok_or(StoreError::NotFound)?)
            }
        }

        #[async_trait]
        impl ApiKeyStore for $Store {
            async fn create_api_key(&self, scope: TenantScope, key: &NewApiKey, actor: Actor) -> Result<IssuedApiKey> {
                let tenant = scope.tenant_id();
                let now = self.now_us();
                let mut tx = self.write_tx(Some(scope)).await?;
                let issued = self.insert_api_key_tx(&mut tx, tenant, key, &actor, now).await?;
                let ev = AuditEvent::new(actor, "api_key.created")
                    .target("api_key", issued.info.id)
                    .details(serde_json::json!({
                        "prefix": issued.info.prefix,
                        "scopes": issued.info.scopes.to_stored(),
                        "rate_per_minute": issued.info.rate_per_minute,
                    }));
                self.append_audit_tx(&mut tx, tenant, now, &ev).await?;
                tx.commit().await?;
                Ok(issued)
            }

            async fn api_keys(&self, scope: TenantScope) -> Result<Vec<ApiKeyInfo>> {
                let mut tx = self.read_tx(Some(scope)).await?;
                let rows: Vec<ApiKeyRow> = sqlx::query_as(
                    "SELECT id, prefix, name, scopes, rate_per_minute, created_at, created_by, expires_at, revoked_at, replaced_by, last_used_at FROM api_keys WHERE tenant_id = $1 ORDER BY created_at DESC, id DESC",
                )
                .bind(scope.tenant_id().as_uuid())
                .fetch_all(&mut *tx)
                .await?;
                tx.commit().await?;
                rows.into_iter().map(api_key_info).collect()
            }

            async fn api_key_by_prefix(&self, scope: TenantScope, prefix: &str) -> Result<ApiKeyInfo> {
                let mut tx = self.read_tx(Some(scope)).await?;
                let row: Option<ApiKeyRow> = sqlx::query_as("SELECT id, prefix, name, scopes, rate_per_minute, created_at, created_by, expires_at, revoked_at, replaced_by, last_used_at FROM api_keys WHERE tenant_id = $1 AND prefix = $2")
                    .bind(scope.tenant_id().as_uuid())
                    .bind(prefix)
                    .fetch_optional(&mut *tx)
                    .await?;
                tx.commit().await?;
                api_key_info(row.ok_or(StoreError::NotFound)?)
            }

            async fn revoke_api_key(&self, scope: TenantScope, id: ApiKeyId, actor: Actor) -> Result<bool> {
                let tenant = scope.tenant_id();
                let now = self.now_us();
                let mut tx = self.write_tx(Some(scope)).await?;
                let key = self.api_key_row_tx(&mut tx, tenant, id).await?;
                let usable = key.revoked_at.is_none() && key.expires_at.is_none_or(|t| crate::to_us(t) > now);
                if key.revoked_at.is_none() {
                    sqlx::query("UPDATE api_keys SET revoked_at = $3 WHERE tenant_id = $1 AND id = $2 AND revoked_at IS NULL")
                        .bind(tenant.as_uuid())
                        .bind(id.as_uuid())
                        .bind(now)
                        .execute(&mut *tx)
                        .await?;
                    let ev = AuditEvent::new(actor, "api_key.revoked")
                        .target("api_key", id)
                        .details(serde_json::json!({ "prefix": key.prefix, "was_usable": usable }));
                    self.append_audit_tx(&mut tx, tenant, now, &ev).await?;
                }
                tx.commit().await?;
                Ok(usable)
            }

            async fn revoke_all_api_keys(&self, scope: TenantScope, actor: Actor) -> Result<u64> {
                let tenant = scope.tenant_id();
                let now = self.now_us();
                let mut tx = self.write_tx(Some(scope)).await?;
                let ended = sqlx::query(
                    "UPDATE api_keys SET revoked_at = $2 WHERE tenant_id = $1 AND revoked_at IS NULL \
                     AND (expires_at IS NULL OR expires_at > $2)",
                )
                .bind(tenant.as_uuid())
                .bind(now)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                let ev = AuditEvent::new(actor, "api_key.all_revoked").details(serde_json::json!({ "keys": ended }));
                self.append_audit_tx(&mut tx, tenant, now, &ev).await?;
                tx.commit().await?;
                Ok(ended)
            }

            async fn rotate_api_key(&self, scope: TenantScope, id: ApiKeyId, overlap_hours: u32, actor: Actor) -> Result<IssuedApiKey> {
                if overlap_hours > $crate::api_key::MAX_OVERLAP_HOURS {
                    return Err(StoreError::Invalid(DomainError::invalid("overlap_hours", "at most 720 hours (30 days)")));
                }
                let tenant = scope.tenant_id();
                let now = self.now_us();
                let mut tx = self.write_tx(Some(scope)).await?;
                let old = self.api_key_row_tx(&mut tx, tenant, id).await?;
                if old.revoked_at.is_some() || old.expires_at.is_some() || old.replaced_by.is_some() {
                    return Err(StoreError::Conflict("this key was already rotated or revoked; rotate its successor"));
                }
                let new = NewApiKey { name: old.name.clone(), scopes: old.scopes.clone(), rate_per_minute: old.rate_per_minute };
                let issued = self.insert_api_key_tx(&mut tx, tenant, &new, &actor, now).await?;
                let until = now + i64::from(overlap_hours) * 3_600_000_000;
                sqlx::query("UPDATE api_keys SET expires_at = $3, replaced_by = $4 WHERE tenant_id = $1 AND id = $2")
                    .bind(tenant.as_uuid())
                    .bind(id.as_uuid())
                    .bind(until)
                    .bind(issued.info.id.as_uuid())
                    .execute(&mut *tx)
                    .await?;
                let ev = AuditEvent::new(actor, "api_key.rotated")
                    .target("api_key", id)
                    .details(serde_json::json!({
                        "prefix": old.prefix,
                        "new_prefix": issued.info.prefix,
                        "new_id": issued.info.id.to_string(),
                        "overlap_hours": overlap_hours,
                    }));
                self.append_audit_tx(&mut tx, tenant, now, &ev).await?;
                tx.commit().await?;
                Ok(issued)
            }

            async fn api_send_message(&self, scope: TenantScope, conversation: ConversationId, key: ApiKeyId, idempotency_key: &str, text: &str) -> Result<ApiSent> {
                let text = $crate::sql::inbox::checked_staff_text(text, "text")?;
                if idempotency_key.is_empty() || idempotency_key.len() > 200 {
                    return Err(StoreError::Invalid(DomainError::invalid("idempotency_key", "1 to 200 characters")));
                }
                let tenant = scope.tenant_id();
                let now = self.now_us();
                let mut tx = self.write_tx(Some(scope)).await?;
                let (conv, _, _, wrapped) = self.fetch_conversation_keyed(&mut tx, tenant, conversation).await?;
                let keys = self.tenant_keys(&mut tx, tenant).await?;
                let pkey = self.patient_key_from(&mut tx, &keys, tenant, conv.patient_id, wrapped).await?;
                let earlier: Option<(Uuid, Uuid, Vec<u8>)> = sqlx::query_as(
                    "SELECT id, conversation_id, body_ct FROM messages WHERE tenant_id = $1 AND api_key_id = $2 AND api_idempotency_key = $3",
                )
                .bind(tenant.as_uuid())
                .bind(key.as_uuid())
                .bind(idempotency_key)
                .fetch_optional(&mut *tx)
                .await?;
                if let Some((id, conv_id, body_ct)) = earlier {
                    let body = pkey.open_string(&aad(tenant, "messages", "body", &id.to_string()), &body_ct)?;
                    if conv_id != conversation.as_uuid() || body != text {
                        return Err(StoreError::Conflict(IDEMPOTENCY_KEY_REUSED));
                    }
                    tx.commit().await?;
                    return Ok(ApiSent { message: MessageId::from_uuid(id), replayed: true });
                }
                if conv.holder(from_us(now)?).is_some() {
                    return Err(StoreError::Conflict(HELD_BY_STAFF));
                }
                if !matches!(conv.channel, Channel::Whatsapp | Channel::Sms | Channel::Webchat) {
                    return Err(StoreError::Invalid(DomainError::invalid(
                        "channel",
                        "messages go out by WhatsApp, SMS or web chat, not on this conversation's channel",
                    )));
                }
                let msg = NewMessage { sender: Sender::Staff, ..NewMessage::agent_reply(text) };
                let id = self.insert_message_tx(&mut tx, tenant, &conv, &pkey, &msg, now).await?.ok_or(StoreError::Duplicate)?;
                sqlx::query("UPDATE messages SET api_key_id = $3, api_idempotency_key = $4 WHERE tenant_id = $1 AND id = $2")
                    .bind(tenant.as_uuid())
                    .bind(id.as_uuid())
                    .bind(key.as_uuid())
                    .bind(idempotency_key)
                    .execute(&mut *tx)
                    .await?;
                if matches!(conv.channel, Channel::Whatsapp | Channel::Sms) {
                    self.enqueue_outbox_tx(&mut tx, tenant, id, conv.channel, OutboxPurpose::Reply, now).await?;
                }
                sqlx::query("UPDATE conversations SET last_message_at = $3 WHERE tenant_id = $1 AND id = $2")
                    .bind(tenant.as_uuid())
                    .bind(conversation.as_uuid())
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                let ev = AuditEvent::new(Actor::ApiKey(key), "message.api_sent")
                    .target("message", id)
                    .details(serde_json::json!({ "conversation": conversation.to_string(), "channel": conv.channel.as_str() }));
                self.append_audit_tx(&mut tx, tenant, now, &ev).await?;
                tx.commit().await?;
                Ok(ApiSent { message: id, replayed: false })
            }

            async fn check_api_key(&self, key: &str) -> Result<ApiKeyCheck> {
                let Some(prefix) = $crate::api_key::prefix_of(key) else {
                    return Err(StoreError::Unauthorized);
                };
                let scope = self
                    .routed_scope("SELECT r.tenant_id, t.status FROM api_key_routes r JOIN tenants t ON t.id = r.tenant_id WHERE r.prefix = $1", prefix)
                    .await?;
                let tenant = scope.tenant_id();
                let now = self.now_us();
                let mut tx = self.write_tx(Some(scope)).await?;
                let row: Option<(Uuid, Vec<u8>, String, i32, Option<i64>, Option<i64>)> = sqlx::query_as(
                    "SELECT id, secret_hash, scopes, rate_per_minute, expires_at, revoked_at FROM api_keys WHERE tenant_id = $1 AND prefix = $2",
                )
                .bind(tenant.as_uuid())
                .bind(prefix)
                .fetch_optional(&mut *tx)
                .await?;
                let Some((id, hash, scopes, rate, expires, revoked)) = row else {
                    return Err(StoreError::Unauthorized);
                };
                use subtle::ConstantTimeEq;
                let same: bool = hash.as_slice().ct_eq(token_hash(key).as_slice()).into();
                if !same || revoked.is_some() || expires.is_some_and(|t| now >= t) {
                    return Err(StoreError::Unauthorized);
                }
                let window = $crate::sql::api_keys::RATE_WINDOW_US;
                let (start, count): (i64, i32) = sqlx::query_as(
                    "UPDATE api_keys SET \
                       window_start = CASE WHEN $3 - window_start >= $4 THEN $3 ELSE window_start END, \
                       window_count = CASE WHEN $3 - window_start >= $4 THEN 1 ELSE window_count + 1 END, \
                       last_used_at = $3 \
                     WHERE tenant_id = $1 AND id = $2 RETURNING window_start, window_count",
                )
                .bind(tenant.as_uuid())
                .bind(id)
                .bind(now)
                .bind(window)
                .fetch_one(&mut *tx)
                .await?;
                tx.commit().await?;
                if count > rate {
                    let left_us = (start + window - now).max(0);
                    return Ok(ApiKeyCheck::RateLimited { retry_after_secs: u64::try_from(left_us).unwrap_or(0).div_ceil(1_000_000).max(1) });
                }
                Ok(ApiKeyCheck::Allowed(ApiPrincipal {
                    scope,
                    key: ApiKeyId::from_uuid(id),
                    prefix: prefix.to_owned(),
                    scopes: ApiScopes::parse(&scopes).map_err(|_| StoreError::Corrupt("api key scopes"))?,
                }))
            }
        }
    };
}

pub(crate) use impl_api_keys;
