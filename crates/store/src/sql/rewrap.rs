//! Shared SQL for key rotation (#8 item 5).
//!
//! Master key rotation re-wraps a clinic's keys with the keyring's active master key, so that
//! a retired master key can then be removed. The clinic's own keys, and every patient key
//! under them, stay as they are: nothing else has to be re-encrypted.
//!
//! Tenant data key rotation adds a new version of the clinic's data key, then (in short
//! batches, in the background) re-wraps every patient key and re-seals the few other values
//! the tenant key protects, and finally destroys the old version. See [`crate::keys`] for
//! why every process can read throughout.

macro_rules! impl_rewrap {
    ($Store:ty) => {
        #[async_trait]
        impl KeyRotationStore for $Store {
            async fn rewrap_tenant_keys(&self, scope: TenantScope, actor: Actor) -> Result<u32> {
                let tenant = scope.tenant_id();
                let now = self.now_us();
                let ring = self.keys.ring();
                let active = ring.active_id().to_owned();
                let mut tx = self.write_tx(Some(scope)).await?;
                let rows: Vec<(String, i32, String, Vec<u8>)> = sqlx::query_as(
                    "SELECT purpose, version, master_key_id, wrapped FROM tenant_keys WHERE tenant_id = $1 AND master_key_id <> $2",
                )
                .bind(tenant.as_uuid())
                .bind(&active)
                .fetch_all(&mut *tx)
                .await?;
                let mut from: Vec<String> = Vec::new();
                for (purpose, version, key_id, wrapped) in &rows {
                    let row = $crate::keys::tenant_key_row(purpose, *version);
                    let aad = aad(tenant, "tenant_keys", "wrapped", &row);
                    let key = ring.unwrap_key(key_id, &aad, wrapped)?;
                    let (new_id, rewrapped) = ring.wrap(&aad, &key)?;
                    sqlx::query(
                        "UPDATE tenant_keys SET master_key_id = $4, wrapped = $5 \
                         WHERE tenant_id = $1 AND purpose = $2 AND version = $3",
                    )
                    .bind(tenant.as_uuid())
                    .bind(purpose)
                    .bind(version)
                    .bind(&new_id)
                    .bind(rewrapped)
                    .execute(&mut *tx)
                    .await?;
                    if !from.contains(key_id) {
                        from.push(key_id.clone());
                    }
                }
                if !rows.is_empty() {
                    let ev = AuditEvent::new(actor, "keys.rewrapped").details(serde_json::json!({
                        "keys": rows.len(),
                        "from": from,
                        "to": active,
                    }));
                    self.append_audit_tx(&mut tx, tenant, now, &ev).await?;
                }
                tx.commit().await?;
                Ok(rows.len() as u32)
            }

            async fn rotate_tenant_key(&self, scope: TenantScope, actor: Actor) -> Result<i32> {
                let tenant = scope.tenant_id();
                let now = self.now_us();
                let mut tx = self.write_tx(Some(scope)).await?;
                let versions = Self::data_key_versions(&mut tx, tenant).await?;
                if versions.len() > 1 {
                    return Err(StoreError::Conflict("a rotation of this clinic's data key is still re-encrypting"));
                }
                let version = versions.first().map(|v| v.0).unwrap_or(0) + 1;
                let key = DataKey::generate();
                let row = tenant_key_row("data", version);
                let (key_id, wrapped) = self.keys.ring().wrap(&aad(tenant, "tenant_keys", "wrapped", &row), &key)?;
                sqlx::query(
                    "INSERT INTO tenant_keys (tenant_id, purpose, version, master_key_id, wrapped, created_at) \
                     VALUES ($1, 'data', $2, $3, $4, $5)",
                )
                .bind(tenant.as_uuid())
                .bind(version)
                .bind(&key_id)
                .bind(&wrapped)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                let reencrypt_from = from_us(now + $crate::keys::REENCRYPT_AFTER.as_micros() as i64)?;
                let ev = AuditEvent::new(actor, "keys.tenant_rotated").details(serde_json::json!({
                    "version": version,
                    "master_key": key_id,
                    "reencrypt_from": reencrypt_from.to_string(),
                }));
                self.append_audit_tx(&mut tx, tenant, now, &ev).await?;
                tx.commit().await?;
                self.keys.forget(tenant);
                Ok(version)
            }

            async fn tenant_key_status(&self, scope: TenantScope) -> Result<TenantKeyStatus> {
                let tenant = scope.tenant_id();
                let mut tx = self.read_tx(Some(scope)).await?;
                let versions = Self::data_key_versions(&mut tx, tenant).await?;
                let keys = self.tenant_keys(&mut tx, tenant).await?;
                let newest = versions.first().map(|v| v.0).unwrap_or(0);
                let (left, done): (i64, i64) = sqlx::query_as(
                    "SELECT COALESCE(SUM(CASE WHEN tenant_key_version < $2 THEN 1 ELSE 0 END), 0), \
                            COALESCE(SUM(CASE WHEN tenant_key_version >= $2 THEN 1 ELSE 0 END), 0) \
                     FROM patient_keys WHERE tenant_id = $1",
                )
                .bind(tenant.as_uuid())
                .bind(newest)
                .fetch_one(&mut *tx)
                .await?;
                tx.commit().await?;
                let reencrypt_from = match versions.first() {
                    Some((_, created)) if versions.len() > 1 => {
                        Some(from_us(created + $crate::keys::REENCRYPT_AFTER.as_micros() as i64)?)
                    }
                    _ => None,
                };
                Ok(TenantKeyStatus {
                    versions: versions.iter().map(|v| v.0).collect(),
                    sealing: keys.data.version(),
                    patient_keys_left: left as u64,
                    patient_keys_done: done as u64,
                    reencrypt_from,
                })
            }

            async fn reencrypt_tenant_batch(&self, scope: TenantScope, limit: u32) -> Result<ReencryptBatch> {
                let tenant = scope.tenant_id();
                let now = self.now_us();
                let mut tx = self.write_tx(Some(scope)).await?;
                let versions = Self::data_key_versions(&mut tx, tenant).await?;
                let Some(&(newest, created)) = versions.first() else {
                    return Err(StoreError::Corrupt("tenant keys missing"));
                };
                if versions.len() < 2 {
                    return Ok(ReencryptBatch::default());
                }
                let start = created + $crate::keys::REENCRYPT_AFTER.as_micros() as i64;
                let keys = self.tenant_keys(&mut tx, tenant).await?;
                if now < start || keys.data.version() != newest {
                    return Ok(ReencryptBatch { wait_until: Some(from_us(start.max(now + 1_000_000))?), ..Default::default() });
                }
                let mut batch = ReencryptBatch::default();
                let rows: Vec<(Uuid, Vec<u8>)> = sqlx::query_as(
                    "SELECT patient_id, wrapped FROM patient_keys WHERE tenant_id = $1 AND tenant_key_version < $2 \
                     ORDER BY patient_id LIMIT $3",
                )
                .bind(tenant.as_uuid())
                .bind(newest)
                .bind(i64::from(limit.max(1)))
                .fetch_all(&mut *tx)
                .await?;
                for (patient, wrapped) in &rows {
                    let row = patient.to_string();
                    let a = aad(tenant, "patient_keys", "wrapped", &row);
                    let key = keys.data.unwrap_key(&a, wrapped)?;
                    sqlx::query("UPDATE patient_keys SET wrapped = $3, tenant_key_version = $4 WHERE tenant_id = $1 AND patient_id = $2")
                        .bind(tenant.as_uuid())
                        .bind(patient)
                        .bind(keys.data.wrap(&a, &key)?)
                        .bind(newest)
                        .execute(&mut *tx)
                        .await?;
                }
                batch.reencrypted = rows.len() as u64;
                let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM patient_keys WHERE tenant_id = $1 AND tenant_key_version < $2")
                    .bind(tenant.as_uuid())
                    .bind(newest)
                    .fetch_one(&mut *tx)
                    .await?;
                batch.left = left as u64;
                if left == 0 {
                    // The few other values under the tenant key, then the old versions go.
                    let others = self.reseal_tenant_values(&mut tx, tenant, &keys, newest).await?;
                    batch.reencrypted += others;
                    let done: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM patient_keys WHERE tenant_id = $1")
                        .bind(tenant.as_uuid())
                        .fetch_one(&mut *tx)
                        .await?;
                    batch.destroyed = versions.iter().skip(1).map(|v| v.0).collect();
                    sqlx::query("DELETE FROM tenant_keys WHERE tenant_id = $1 AND purpose = 'data' AND version < $2")
                        .bind(tenant.as_uuid())
                        .bind(newest)
                        .execute(&mut *tx)
                        .await?;
                    let ev = AuditEvent::new(Actor::System, "keys.tenant_reencrypted").details(serde_json::json!({
                        "version": newest,
                        "destroyed": batch.destroyed,
                        "patient_keys": done,
                        "other_values": others,
                    }));
                    self.append_audit_tx(&mut tx, tenant, now, &ev).await?;
                }
                tx.commit().await?;
                if !batch.destroyed.is_empty() {
                    self.keys.forget(tenant);
                }
                Ok(batch)
            }
        }

        impl $Store {
            /// The live data key versions, newest first, with when each was added.
            async fn data_key_versions(tx: &mut Tx, tenant: TenantId) -> Result<Vec<(i32, i64)>> {
                Ok(sqlx::query_as(
                    "SELECT version, created_at FROM tenant_keys WHERE tenant_id = $1 AND purpose = 'data' \
                     AND retired_at IS NULL ORDER BY version DESC",
                )
                .bind(tenant.as_uuid())
                .fetch_all(&mut **tx)
                .await?)
            }

            /// Re-seals under `newest` every value sealed directly by the tenant data key
            /// (other than patient keys) that an older version sealed. Answers how many.
            async fn reseal_tenant_values(&self, tx: &mut Tx, tenant: TenantId, keys: &TenantKeys, newest: i32) -> Result<u64> {
                let mut n = 0;
                let users: Vec<(Uuid, Vec<u8>, Vec<u8>, Option<Vec<u8>>)> =
                    sqlx::query_as("SELECT id, email_ct, name_ct, totp_ct FROM users WHERE tenant_id = $1")
                        .bind(tenant.as_uuid())
                        .fetch_all(&mut **tx)
                        .await?;
                for (id, email, name, totp) in users {
                    let columns = [
                        ("email", Some(email), "UPDATE users SET email_ct = $3 WHERE tenant_id = $1 AND id = $2"),
                        ("name", Some(name), "UPDATE users SET name_ct = $3 WHERE tenant_id = $1 AND id = $2"),
                        ("totp", totp, "UPDATE users SET totp_ct = $3 WHERE tenant_id = $1 AND id = $2"),
                    ];
                    n += self.reseal_columns(tx, (tenant, keys, newest), "users", id, columns).await?;
                }
                let accounts: Vec<(String, Vec<u8>)> =
                    sqlx::query_as("SELECT provider, secrets_ct FROM channel_accounts WHERE tenant_id = $1")
                        .bind(tenant.as_uuid())
                        .fetch_all(&mut **tx)
                        .await?;
                for (provider, ct) in accounts {
                    let Some(fresh) = Self::reseal(keys, &aad(tenant, "channel_accounts", "secrets", &provider), &ct, newest)? else { continue };
                    sqlx::query("UPDATE channel_accounts SET secrets_ct = $3 WHERE tenant_id = $1 AND provider = $2")
                        .bind(tenant.as_uuid())
                        .bind(&provider)
                        .bind(fresh)
                        .execute(&mut **tx)
                        .await?;
                    n += 1;
                }
                let checks: Vec<(Uuid, Vec<u8>)> =
                    sqlx::query_as("SELECT conversation_id, phone_ct FROM phone_verifications WHERE tenant_id = $1")
                        .bind(tenant.as_uuid())
                        .fetch_all(&mut **tx)
                        .await?;
                for (conversation, ct) in checks {
                    let row = conversation.to_string();
                    let Some(fresh) = Self::reseal(keys, &aad(tenant, "phone_verifications", "phone", &row), &ct, newest)? else { continue };
                    sqlx::query("UPDATE phone_verifications SET phone_ct = $3 WHERE tenant_id = $1 AND conversation_id = $2")
                        .bind(tenant.as_uuid())
                        .bind(conversation)
                        .bind(fresh)
                        .execute(&mut **tx)
                        .await?;
                    n += 1;
                }
                n += self.reseal_webhook_endpoints(tx, tenant, keys, newest).await?;
                let llm_key: Option<(Option<Vec<u8>>,)> = sqlx::query_as("SELECT api_key_ct FROM llm_settings WHERE tenant_id = $1")
                    .bind(tenant.as_uuid())
                    .fetch_optional(&mut **tx)
                    .await?;
                if let Some((Some(ct),)) = llm_key {
                    let row = tenant.to_string();
                    if let Some(fresh) = Self::reseal(keys, &aad(tenant, "llm_settings", "api_key", &row), &ct, newest)? {
                        sqlx::query("UPDATE llm_settings SET api_key_ct = $2 WHERE tenant_id = $1")
                            .bind(tenant.as_uuid())
                            .bind(fresh)
                            .execute(&mut **tx)
                            .await?;
                        n += 1;
                    }
                }
                let payment: Option<(String, Vec<u8>)> = sqlx::query_as("SELECT provider, secrets_ct FROM payment_settings WHERE tenant_id = $1")
                    .bind(tenant.as_uuid())
                    .fetch_optional(&mut **tx)
                    .await?;
                if let Some((provider, ct)) = payment {
                    if let Some(fresh) = Self::reseal(keys, &aad(tenant, "payment_settings", "secrets", &provider), &ct, newest)? {
                        sqlx::query("UPDATE payment_settings SET secrets_ct = $2 WHERE tenant_id = $1")
                            .bind(tenant.as_uuid())
                            .bind(fresh)
                            .execute(&mut **tx)
                            .await?;
                        n += 1;
                    }
                }
                let calcom: Option<(Option<Vec<u8>>, Option<Vec<u8>>)> =
                    sqlx::query_as("SELECT api_key_ct, webhook_secret_ct FROM calcom_settings WHERE tenant_id = $1")
                        .bind(tenant.as_uuid())
                        .fetch_optional(&mut **tx)
                        .await?;
                if let Some((key_ct, secret_ct)) = calcom {
                    let row = tenant.to_string();
                    for (column, ct) in [("api_key", key_ct), ("webhook_secret", secret_ct)] {
                        let Some(ct) = ct else { continue };
                        let Some(fresh) = Self::reseal(keys, &aad(tenant, "calcom_settings", column, &row), &ct, newest)? else { continue };
                        let sql = if column == "api_key" {
                            "UPDATE calcom_settings SET api_key_ct = $2 WHERE tenant_id = $1"
                        } else {
                            "UPDATE calcom_settings SET webhook_secret_ct = $2 WHERE tenant_id = $1"
                        };
                        sqlx::query(sql).bind(tenant.as_uuid()).bind(fresh).execute(&mut **tx).await?;
                        n += 1;
                    }
                }
                Ok(n)
            }

            /// Re-seals the sealed columns of one row (`(column, value, update)`; a `None` value
            /// is skipped) that an older key version sealed. Answers how many.
            async fn reseal_columns(
                &self,
                tx: &mut Tx,
                (tenant, keys, newest): (TenantId, &TenantKeys, i32),
                table: &str,
                id: Uuid,
                columns: [(&str, Option<Vec<u8>>, &'static str); 3],
            ) -> Result<u64> {
                let row = id.to_string();
                let mut n = 0;
                for (column, ct, update) in columns {
                    let Some(ct) = ct else { continue };
                    let Some(fresh) = Self::reseal(keys, &aad(tenant, table, column, &row), &ct, newest)? else { continue };
                    sqlx::query(update)
                        .bind(tenant.as_uuid())
                        .bind(id)
                        .bind(fresh)
                        .execute(&mut **tx)
                        .await?;
                    n += 1;
                }
                Ok(n)
            }

            /// [`Self::reseal_tenant_values`] for webhook endpoints: URL and secrets.
            async fn reseal_webhook_endpoints(&self, tx: &mut Tx, tenant: TenantId, keys: &TenantKeys, newest: i32) -> Result<u64> {
                let mut n = 0;
                let endpoints: Vec<(Uuid, Vec<u8>, Vec<u8>, Option<Vec<u8>>)> = sqlx::query_as(
                    "SELECT id, url_ct, secret_ct, previous_secret_ct FROM webhook_endpoints WHERE tenant_id = $1",
                )
                .bind(tenant.as_uuid())
                .fetch_all(&mut **tx)
                .await?;
                for (id, url, secret, previous) in endpoints {
                    let columns = [
                        ("url", Some(url), "UPDATE webhook_endpoints SET url_ct = $3 WHERE tenant_id = $1 AND id = $2"),
                        ("secret", Some(secret), "UPDATE webhook_endpoints SET secret_ct = $3 WHERE tenant_id = $1 AND id = $2"),
                        ("previous_secret", previous, "UPDATE webhook_endpoints SET previous_secret_ct = $3 WHERE tenant_id = $1 AND id = $2"),
                    ];
                    n += self.reseal_columns(tx, (tenant, keys, newest), "webhook_endpoints", id, columns).await?;
                }
                Ok(n)
            }

            /// `ct` sealed again under the sealing version, unless `newest` already sealed it.
            fn reseal(keys: &TenantKeys, a: &$crate::crypto::Aad, ct: &[u8], newest: i32) -> Result<Option<Vec<u8>>> {
                let (version, plain) = keys.data.open_versioned(a, ct)?;
                if version == newest {
                    return Ok(None);
                }
                Ok(Some(keys.data.seal(a, &plain)?))
            }
        }
    };
}

pub(crate) use impl_rewrap;
