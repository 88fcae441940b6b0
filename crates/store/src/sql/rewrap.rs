//! Shared SQL for master key rotation (#8 item 5): re-wrapping a clinic's keys with the
//! keyring's active master key, so that a retired master key can then be removed. The
//! clinic's own keys, and every patient key under them, stay as they are: nothing else has
//! to be re-encrypted.

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
        }
    };
}

pub(crate) use impl_rewrap;
