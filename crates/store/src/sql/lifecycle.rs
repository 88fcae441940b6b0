//! Shared SQL for the end of a clinic (#8 item 2): termination, reinstatement during the
//! hold, and the purge after it, which leaves a deletion certificate.
//!
//! A purge has two steps so that nothing is ever readable-but-broken and a purge that stops
//! midway can simply be run again: `begin_tenant_purge` marks the clinic `purging` in one
//! transaction (from then on `operator_scope` refuses it, like every public route already
//! did since its termination) and hands back its recordings' blob keys; the caller deletes
//! those blobs (deleting a missing blob is fine); `finish_tenant_purge` then deletes every
//! row of the clinic in one transaction, keys first, turns its `tenants` row into a `purged`
//! tombstone and stores the certificate.

/// Every table holding a clinic's rows, in the order a purge deletes them: its keys first
/// (from then on none of its ciphertexts can be opened, wherever a copy sits), then children
/// before parents, so that each table's count is exactly its own rows (no foreign key
/// cascades rows away uncounted). A table added to the schema must be added here: the purge
/// test counts every table with a `tenant_id` column and fails on any row left.
/// `audit_log` is deleted through the engine's `purge_audit_log` (append-only otherwise).
pub(crate) const PURGE_ORDER: &[&str] = &[
    "tenant_keys",
    "patient_keys",
    "api_key_networks",
    "api_keys",
    "api_key_routes",
    "security_alerts",
    "security_events",
    "outbound_rates",
    "webhook_deliveries",
    "webhook_endpoints",
    "calendar_feeds",
    "calendar_feed_routes",
    "payments",
    "payment_settings",
    "llm_usage",
    "llm_settings",
    "calcom_event_types",
    "calcom_settings",
    "waitlist_offers",
    "slot_holds",
    "waitlist_entries",
    "outbox",
    "call_recordings",
    "calls",
    "conversation_reads",
    "reply_drafts",
    "phone_verifications",
    "staff_notifications",
    "webchat_sessions",
    "messages",
    "conversations",
    "appointments",
    "patients",
    "practitioner_services",
    "working_hours",
    "schedule_exceptions",
    "practitioners",
    "services",
    "login_links",
    "staff_sessions",
    "recovery_codes",
    "login_requests",
    "users",
    "faqs",
    "clinic_red_flag_rules",
    "jobs",
    "channel_consents",
    "channel_accounts",
    "channel_routes",
    "verification_sends",
    "erasure_ledger",
    "audit_checkpoints",
    "clinic_profiles",
    "audit_log",
    "audit_heads",
];

macro_rules! impl_lifecycle {
    ($Store:ty) => {
        use $crate::certificate::{CERTIFICATE_FORMAT, CertificateBody, ChainHead, DeletionCertificate, DestroyedKey, PurgePlan, sha256_hex};
        use $crate::sql::lifecycle::PURGE_ORDER;

        /// A `tenants` row as `SELECT id, slug, status, created_at, terminated_at, purged_at` reads it.
        type TenantRow = (Uuid, String, String, i64, Option<i64>, Option<i64>);

        fn tenant_summary_from_row(r: TenantRow) -> Result<TenantSummary> {
            let (id, slug, status, created_at, terminated_at, purged_at) = r;
            Ok(TenantSummary {
                id: TenantId::from_uuid(id),
                slug: TenantSlug::parse(&slug)?,
                status,
                created_at: from_us(created_at)?,
                terminated_at: terminated_at.map(from_us).transpose()?,
                purged_at: purged_at.map(from_us).transpose()?,
            })
        }

        impl $Store {
            async fn tenant_row_tx(&self, tx: &mut Tx, tenant: TenantId) -> Result<TenantRow> {
                sqlx::query_as("SELECT id, slug, status, created_at, terminated_at, purged_at FROM tenants WHERE id = $1")
                    .bind(tenant.as_uuid())
                    .fetch_optional(&mut **tx)
                    .await?
                    .ok_or(StoreError::NotFound)
            }

            /// Moves the clinic from one of `from` to `to` (with its times), audited `action`.
            async fn set_tenant_status(&self, scope: TenantScope, from: &[&str], to: &str, actor: Actor, action: &'static str) -> Result<TenantSummary> {
                let tenant = scope.tenant_id();
                let now = self.now_us();
                let mut tx = self.write_tx(Some(scope)).await?;
                let (_, _, status, _, _, _) = self.tenant_row_tx(&mut tx, tenant).await?;
                if !from.contains(&status.as_str()) {
                    return Err(StoreError::Conflict(if to == "terminated" {
                        "only an active or suspended clinic can be terminated"
                    } else {
                        "only a terminated clinic can be reinstated"
                    }));
                }
                let terminated_at = (to == "terminated").then_some(now);
                sqlx::query("UPDATE tenants SET status = $2, terminated_at = $3 WHERE id = $1")
                    .bind(tenant.as_uuid())
                    .bind(to)
                    .bind(terminated_at)
                    .execute(&mut *tx)
                    .await?;
                let mut details = serde_json::json!({ "from": status });
                if to == "terminated" {
                    let sessions = self.end_clinic_sessions_tx(&mut tx, tenant, now).await?;
                    details["sessions_ended"] = serde_json::json!(sessions);
                }
                let ev = AuditEvent::new(actor, action).target("tenant", tenant).details(details);
                self.append_audit_tx(&mut tx, tenant, now, &ev).await?;
                let row = self.tenant_row_tx(&mut tx, tenant).await?;
                tx.commit().await?;
                tenant_summary_from_row(row)
            }

            async fn certificate_tx(&self, tx: &mut Tx, tenant: TenantId) -> Result<DeletionCertificate> {
                let row: Option<(String, i64, String, String)> =
                    sqlx::query_as("SELECT slug, purged_at, body, sha256 FROM deletion_certificates WHERE tenant_id = $1")
                        .bind(tenant.as_uuid())
                        .fetch_optional(&mut **tx)
                        .await?;
                let (slug, purged_at, body, sha256) = row.ok_or(StoreError::NotFound)?;
                Ok(DeletionCertificate { tenant, slug: TenantSlug::parse(&slug)?, purged_at: from_us(purged_at)?, body, sha256 })
            }
        }

        #[async_trait]
        impl TenantLifecycleStore for $Store {
            async fn terminate_tenant(&self, scope: TenantScope, actor: Actor) -> Result<TenantSummary> {
                self.set_tenant_status(scope, &["active", "suspended"], "terminated", actor, "tenant.terminated").await
            }

            async fn reinstate_tenant(&self, scope: TenantScope, actor: Actor) -> Result<TenantSummary> {
                self.set_tenant_status(scope, &["terminated"], "active", actor, "tenant.reinstated").await
            }

            async fn begin_tenant_purge(&self, slug: &TenantSlug, hold: jiff::SignedDuration, before_hold_ends: bool) -> Result<PurgePlan> {
                let (id,): (Uuid,) = sqlx::query_as("SELECT id FROM tenants WHERE slug = $1")
                    .bind(slug.as_str())
                    .fetch_optional(&self.pool)
                    .await?
                    .ok_or(StoreError::NotFound)?;
                let tenant = TenantId::from_uuid(id);
                let now = self.now_us();
                let mut tx = self.write_tx(Some(TenantScope::new(tenant))).await?;
                let (_, _, status, _, terminated_at, _) = self.tenant_row_tx(&mut tx, tenant).await?;
                let mut plan = PurgePlan { tenant, slug: slug.clone(), blob_keys: Vec::new(), already_purged: false };
                match status.as_str() {
                    "purged" => {
                        plan.already_purged = true;
                        tx.commit().await?;
                        return Ok(plan);
                    }
                    "purging" => {}
                    "terminated" => {
                        let since = terminated_at.ok_or(StoreError::Corrupt("terminated clinic without a time"))?;
                        let hold_us = i64::try_from(hold.as_micros()).map_err(|_| StoreError::Corrupt("hold"))?;
                        if !before_hold_ends && now < since.saturating_add(hold_us) {
                            return Err(StoreError::Conflict("the clinic's hold has not ended"));
                        }
                        let began = sqlx::query("UPDATE tenants SET status = 'purging' WHERE id = $1 AND status = 'terminated'")
                            .bind(tenant.as_uuid())
                            .execute(&mut *tx)
                            .await?
                            .rows_affected();
                        if began == 1 {
                            let ev = AuditEvent::new(Actor::Operator, "tenant.purge_started")
                                .target("tenant", tenant)
                                .details(serde_json::json!({ "before_hold_ended": now < since.saturating_add(hold_us) }));
                            self.append_audit_tx(&mut tx, tenant, now, &ev).await?;
                        }
                    }
                    _ => return Err(StoreError::Conflict("only a terminated clinic can be purged")),
                }
                plan.blob_keys = sqlx::query_scalar("SELECT blob_key FROM call_recordings WHERE tenant_id = $1 AND blob_key IS NOT NULL ORDER BY id")
                    .bind(tenant.as_uuid())
                    .fetch_all(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(plan)
            }

            async fn finish_tenant_purge(&self, tenant: TenantId, hold: jiff::SignedDuration, blobs_deleted: u64) -> Result<DeletionCertificate> {
                let now = self.now_us();
                let mut tx = self.write_tx(Some(TenantScope::new(tenant))).await?;
                let (_, slug, status, _, terminated_at, _) = self.tenant_row_tx(&mut tx, tenant).await?;
                if status == "purged" {
                    let cert = self.certificate_tx(&mut tx, tenant).await?;
                    tx.commit().await?;
                    return Ok(cert);
                }
                if status != "purging" {
                    return Err(StoreError::Conflict("the clinic's purge has not begun"));
                }
                let terminated_at = terminated_at.ok_or(StoreError::Corrupt("terminated clinic without a time"))?;
                let (seq, hash): (i64, Vec<u8>) = sqlx::query_as("SELECT seq, hash FROM audit_heads WHERE tenant_id = $1")
                    .bind(tenant.as_uuid())
                    .fetch_optional(&mut *tx)
                    .await?
                    .unwrap_or((0, crate::audit::GENESIS.to_vec()));
                let keys: Vec<(String, i32, String)> = sqlx::query_as(
                    "SELECT purpose, version, master_key_id FROM tenant_keys WHERE tenant_id = $1 ORDER BY purpose, version",
                )
                .bind(tenant.as_uuid())
                .fetch_all(&mut *tx)
                .await?;
                let mut rows_deleted = std::collections::BTreeMap::new();
                for table in PURGE_ORDER {
                    let n = if *table == "audit_log" {
                        self.purge_audit_log(&mut tx, tenant).await?
                    } else {
                        sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {table} WHERE tenant_id = $1")))
                            .bind(tenant.as_uuid())
                            .execute(&mut *tx)
                            .await?
                            .rows_affected()
                    };
                    rows_deleted.insert((*table).to_owned(), n);
                }
                sqlx::query("UPDATE tenants SET status = 'purged', purged_at = $2 WHERE id = $1")
                    .bind(tenant.as_uuid())
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                let hold_us = i64::try_from(hold.as_micros()).map_err(|_| StoreError::Corrupt("hold"))?;
                let body = CertificateBody {
                    audit_head: ChainHead { hash: hex(&hash), seq },
                    blobs_deleted,
                    format: CERTIFICATE_FORMAT.to_owned(),
                    hold_days: hold.as_hours() / 24,
                    purged_before_hold_ended: now < terminated_at.saturating_add(hold_us),
                    purged_at: from_us(now)?.to_string(),
                    rows_deleted,
                    slug: slug.clone(),
                    tenant_keys_destroyed: keys
                        .into_iter()
                        .map(|(purpose, version, master_key_id)| DestroyedKey { master_key_id, purpose, version })
                        .collect(),
                    tenant_id: tenant.to_string(),
                    terminated_at: from_us(terminated_at)?.to_string(),
                };
                let text = body.canonical()?;
                let digest = sha256_hex(&text);
                sqlx::query("INSERT INTO deletion_certificates (tenant_id, slug, purged_at, body, sha256) VALUES ($1, $2, $3, $4, $5)")
                    .bind(tenant.as_uuid())
                    .bind(&slug)
                    .bind(now)
                    .bind(&text)
                    .bind(&digest)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                // This process's unwrapped copy goes too (other processes no longer serve it).
                self.keys.forget(tenant);
                let rows: u64 = body.rows_deleted.values().sum();
                tracing::info!(tenant = %tenant, rows, blobs = blobs_deleted, "clinic purged: every row deleted, its keys destroyed");
                Ok(DeletionCertificate { tenant, slug: TenantSlug::parse(&slug)?, purged_at: from_us(now)?, body: text, sha256: digest })
            }

            async fn deletion_certificate(&self, slug: &TenantSlug) -> Result<DeletionCertificate> {
                let (id,): (Uuid,) = sqlx::query_as("SELECT tenant_id FROM deletion_certificates WHERE slug = $1")
                    .bind(slug.as_str())
                    .fetch_optional(&self.pool)
                    .await?
                    .ok_or(StoreError::NotFound)?;
                let tenant = TenantId::from_uuid(id);
                let mut tx = self.read_tx(None).await?;
                let cert = self.certificate_tx(&mut tx, tenant).await?;
                tx.commit().await?;
                Ok(cert)
            }
        }
    };
}

pub(crate) use impl_lifecycle;
