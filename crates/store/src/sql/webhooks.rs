//! Shared SQL for signed outbound webhooks (#10): endpoints made, listed, disabled and
//! rotated in the clinic's scope; events queued once per subscribed endpoint; deliveries
//! claimed across clinics and settled under their lease.
//!
//! The claim copies the outbox's (see `queue`): one short cross-tenant transaction
//! (`claim_tx`: PostgreSQL's `queue_claim` policy and `SKIP LOCKED`, SQLite's write lock)
//! that only leases due rows of active clinics; each endpoint's URL and secrets are then
//! opened in the delivery's own tenant scope. A lease is the worker's name and the lease's end
//! as written by that claim: a settle that finds either changed answers `Conflict`.

/// The longest `event_id` accepted.
pub(crate) const MAX_EVENT_ID_LEN: usize = 200;
/// The largest envelope accepted (envelopes carry ids only).
pub(crate) const MAX_BODY_LEN: usize = 64 * 1024;
/// The longest signing secret accepted.
pub(crate) const MAX_SECRET_LEN: usize = 256;
/// The longest overlap of a rotated secret.
pub(crate) const MAX_OVERLAP: jiff::SignedDuration = jiff::SignedDuration::from_hours(30 * 24);

/// One event to queue: its id (unique per endpoint), its wire type and the exact envelope.
pub(crate) struct EventRef<'a> {
    pub id: &'a str,
    pub kind: &'a str,
    pub body: &'a [u8],
}

macro_rules! impl_webhooks {
    ($Store:ty, $skip_locked:literal) => {
        /// A `webhook_endpoints` row as `SELECT id, url_ct, host, events, active, created_at,
        /// created_by, previous_until` reads it.
        type WebhookEndpointRow = (Uuid, Vec<u8>, String, String, bool, i64, String, Option<i64>);

        fn invalid(field: &'static str, why: &'static str) -> StoreError {
            StoreError::Invalid(DomainError::invalid(field, why))
        }

        fn checked_secret(secret: &str) -> Result<()> {
            if secret.is_empty() || secret.len() > $crate::sql::webhooks::MAX_SECRET_LEN {
                return Err(invalid("secret", "1 to 256 characters"));
            }
            Ok(())
        }

        use $crate::sql::webhooks::EventRef;

        fn checked_event(event: &EventRef) -> Result<()> {
            if event.id.is_empty() || event.id.len() > $crate::sql::webhooks::MAX_EVENT_ID_LEN {
                return Err(invalid("event_id", "1 to 200 characters"));
            }
            if event.body.len() > $crate::sql::webhooks::MAX_BODY_LEN {
                return Err(invalid("body", "at most 64 KiB"));
            }
            Ok(())
        }

        impl $Store {
            fn webhook_endpoint_from_row(&self, keys: &TenantKeys, tenant: TenantId, row: WebhookEndpointRow, now: i64) -> Result<WebhookEndpoint> {
                let (id, url_ct, host, events, active, created_at, created_by, previous_until) = row;
                let url = keys.data.open_string(&aad(tenant, "webhook_endpoints", "url", &id.to_string()), &url_ct)?;
                Ok(WebhookEndpoint {
                    id: WebhookEndpointId::from_uuid(id),
                    url,
                    host,
                    events: events.split(' ').filter(|e| !e.is_empty()).map(str::to_owned).collect(),
                    active,
                    created_at: from_us(created_at)?,
                    created_by,
                    previous_until: previous_until.filter(|&t| t > now).map(from_us).transpose()?,
                })
            }

            async fn webhook_endpoint_tx(&self, tx: &mut Tx, tenant: TenantId, id: WebhookEndpointId) -> Result<WebhookEndpoint> {
                let row: Option<WebhookEndpointRow> = sqlx::query_as(
                    "SELECT id, url_ct, host, events, active, created_at, created_by, previous_until \
                     FROM webhook_endpoints WHERE tenant_id = $1 AND id = $2",
                )
                .bind(tenant.as_uuid())
                .bind(id.as_uuid())
                .fetch_optional(&mut **tx)
                .await?;
                let row = row.ok_or(StoreError::NotFound)?;
                let keys = self.tenant_keys(tx, tenant).await?;
                self.webhook_endpoint_from_row(&keys, tenant, row, self.now_us())
            }

            /// Queues one delivery of `body` for `endpoint` unless this event is already
            /// queued for it. Answers whether a row was added.
            async fn insert_webhook_delivery_tx(&self, tx: &mut Tx, tenant: TenantId, endpoint: Uuid, event: &EventRef<'_>, now: i64) -> Result<bool> {
                let added = sqlx::query(
                    "INSERT INTO webhook_deliveries (tenant_id, id, endpoint_id, event_id, event_type, body, status, attempts, next_attempt_at, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, 'pending', 0, $7, $7) \
                     ON CONFLICT (tenant_id, endpoint_id, event_id) DO NOTHING",
                )
                .bind(tenant.as_uuid())
                .bind(Uuid::now_v7())
                .bind(endpoint)
                .bind(event.id)
                .bind(event.kind)
                .bind(event.body)
                .bind(now)
                .execute(&mut **tx)
                .await?
                .rows_affected();
                Ok(added == 1)
            }

            /// Queues an event for the clinic's subscribed endpoints, inside the transaction
            /// that made the change (so an event is queued exactly when the change commits).
            /// The envelope is the one `frontdesk_server::outbound::Envelope` reads:
            /// `{id: "evt_…", type, created_at, tenant: slug, data}`; `data` holds ids, times
            /// and statuses only. A clinic with no subscribed endpoint pays one indexed read.
            pub(crate) async fn emit_event_tx(&self, tx: &mut Tx, tenant: TenantId, kind: &'static str, data: serde_json::Value, now: i64) -> Result<u64> {
                let endpoints = self.subscribed_endpoints_tx(tx, tenant, kind).await?;
                if endpoints.is_empty() {
                    return Ok(0);
                }
                let (slug,): (String,) = sqlx::query_as("SELECT slug FROM tenants WHERE id = $1")
                    .bind(tenant.as_uuid())
                    .fetch_one(&mut **tx)
                    .await?;
                let id = format!("evt_{}", Uuid::now_v7().hyphenated());
                let body = serde_json::to_vec(&serde_json::json!({
                    "id": id,
                    "type": kind,
                    "created_at": from_us(now)?.to_string(),
                    "tenant": slug,
                    "data": data,
                }))
                .map_err(|_| StoreError::Corrupt("webhook envelope"))?;
                let event = EventRef { id: &id, kind, body: &body };
                checked_event(&event)?;
                let mut queued = 0;
                for endpoint in endpoints {
                    if self.insert_webhook_delivery_tx(tx, tenant, endpoint, &event, now).await? {
                        queued += 1;
                    }
                }
                Ok(queued)
            }

            /// The clinic's active endpoints subscribed to `kind` (one indexed read).
            async fn subscribed_endpoints_tx(&self, tx: &mut Tx, tenant: TenantId, kind: &str) -> Result<Vec<Uuid>> {
                let endpoints: Vec<(Uuid, String)> =
                    sqlx::query_as("SELECT id, events FROM webhook_endpoints WHERE tenant_id = $1 AND active")
                        .bind(tenant.as_uuid())
                        .fetch_all(&mut **tx)
                        .await?;
                Ok(endpoints
                    .into_iter()
                    .filter(|(_, events)| events.split(' ').any(|e| e == kind))
                    .map(|(id, _)| id)
                    .collect())
            }

            /// [`Self::emit_event_tx`] for an `appointment.*` event; a move names the appointment
            /// it replaced.
            pub(crate) async fn emit_appointment_event_tx(
                &self,
                tx: &mut Tx,
                tenant: TenantId,
                kind: &'static str,
                appt: &Appointment,
                previous: Option<AppointmentId>,
                now: i64,
            ) -> Result<u64> {
                let mut data = serde_json::json!({
                    "appointment_id": appt.id.to_string(),
                    "patient_id": appt.patient_id.to_string(),
                    "practitioner_id": appt.practitioner_id.to_string(),
                    "service_id": appt.service_id.to_string(),
                    "starts_at": appt.starts_at.to_string(),
                    "ends_at": appt.ends_at.to_string(),
                    "status": appt.status.as_str(),
                });
                if let Some(p) = previous {
                    data["previous_appointment_id"] = serde_json::Value::String(p.to_string());
                }
                self.emit_event_tx(tx, tenant, kind, data, now).await
            }

            /// [`Self::emit_event_tx`] for a `conversation.*` event.
            pub(crate) async fn emit_conversation_event_tx(&self, tx: &mut Tx, tenant: TenantId, kind: &'static str, conv: &Conversation, now: i64) -> Result<u64> {
                let data = serde_json::json!({
                    "conversation_id": conv.id.to_string(),
                    "patient_id": conv.patient_id.to_string(),
                    "channel": conv.channel.as_str(),
                    "at": from_us(now)?.to_string(),
                });
                self.emit_event_tx(tx, tenant, kind, data, now).await
            }

            pub(crate) async fn enqueue_webhook_event_tx(&self, tx: &mut Tx, tenant: TenantId, event: &EventRef<'_>, now: i64) -> Result<u64> {
                checked_event(event)?;
                if !WEBHOOK_EVENT_TYPES.contains(&event.kind) {
                    return Err(invalid("event_type", "not a webhook event type"));
                }
                let mut queued = 0;
                for endpoint in self.subscribed_endpoints_tx(tx, tenant, event.kind).await? {
                    if self.insert_webhook_delivery_tx(tx, tenant, endpoint, event, now).await? {
                        queued += 1;
                    }
                }
                Ok(queued)
            }

            /// Opens what a claimed delivery needs, in its own tenant scope.
            async fn open_webhook_job(&self, lease: WebhookLease, endpoint: Uuid, claimed: (String, String, Vec<u8>, i32)) -> Result<WebhookJob> {
                let tenant = lease.scope.tenant_id();
                let now = self.now_us();
                let mut tx = self.read_tx(Some(lease.scope)).await?;
                let row: Option<(Vec<u8>, Vec<u8>, Option<Vec<u8>>, Option<i64>)> = sqlx::query_as(
                    "SELECT url_ct, secret_ct, previous_secret_ct, previous_until FROM webhook_endpoints WHERE tenant_id = $1 AND id = $2",
                )
                .bind(tenant.as_uuid())
                .bind(endpoint)
                .fetch_optional(&mut *tx)
                .await?;
                let (url_ct, secret_ct, previous_ct, previous_until) = row.ok_or(StoreError::Corrupt("webhook endpoint missing"))?;
                let keys = self.tenant_keys(&mut tx, tenant).await?;
                tx.commit().await?;
                let row = endpoint.to_string();
                let url = keys.data.open_string(&aad(tenant, "webhook_endpoints", "url", &row), &url_ct)?;
                let secret = zeroize::Zeroizing::new(keys.data.open_string(&aad(tenant, "webhook_endpoints", "secret", &row), &secret_ct)?);
                let previous_secret = match (previous_ct, previous_until) {
                    (Some(ct), Some(until)) if until > now => Some(zeroize::Zeroizing::new(
                        keys.data.open_string(&aad(tenant, "webhook_endpoints", "previous_secret", &row), &ct)?,
                    )),
                    _ => None,
                };
                let (event_id, event_type, body, attempts) = claimed;
                Ok(WebhookJob {
                    lease,
                    endpoint: WebhookEndpointId::from_uuid(endpoint),
                    url,
                    secret,
                    previous_secret,
                    body,
                    attempt: u32::try_from(attempts).map_err(|_| StoreError::Corrupt("webhook attempts"))? + 1,
                    event_id,
                    event_type,
                })
            }
        }

        #[async_trait]
        impl WebhookStore for $Store {
            async fn create_webhook_endpoint(&self, scope: TenantScope, endpoint: &NewWebhookEndpoint, actor: Actor) -> Result<WebhookEndpoint> {
                let url = endpoint.url.trim();
                if url.is_empty() || url.len() > MAX_WEBHOOK_URL_LEN {
                    return Err(invalid("url", "1 to 2048 characters"));
                }
                let host = endpoint.host.trim();
                if host.is_empty() || host.len() > 253 {
                    return Err(invalid("host", "1 to 253 characters"));
                }
                let mut events: Vec<&str> = Vec::new();
                for e in &endpoint.events {
                    let e = e.trim();
                    if !WEBHOOK_EVENT_TYPES.contains(&e) {
                        return Err(invalid("events", "each one a webhook event type"));
                    }
                    if !events.contains(&e) {
                        events.push(e);
                    }
                }
                if events.is_empty() {
                    return Err(invalid("events", "at least one event type"));
                }
                checked_secret(&endpoint.secret)?;
                let tenant = scope.tenant_id();
                let now = self.now_us();
                let id = WebhookEndpointId::new();
                let mut tx = self.write_tx(Some(scope)).await?;
                // The audit append updates the clinic's audit head first: concurrent creations
                // for one clinic wait here, so the count below sees the other's endpoint.
                let ev = AuditEvent::new(actor.clone(), "webhook.endpoint_created")
                    .target("webhook_endpoint", id)
                    .details(serde_json::json!({ "host": host, "events": events.join(" ") }));
                self.append_audit_tx(&mut tx, tenant, now, &ev).await?;
                let active: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM webhook_endpoints WHERE tenant_id = $1 AND active")
                    .bind(tenant.as_uuid())
                    .fetch_one(&mut *tx)
                    .await?;
                if active >= MAX_ACTIVE_WEBHOOK_ENDPOINTS {
                    return Err(invalid("endpoints", "at most 10 active endpoints per clinic"));
                }
                let keys = self.tenant_keys(&mut tx, tenant).await?;
                let row = id.to_string();
                sqlx::query(
                    "INSERT INTO webhook_endpoints (tenant_id, id, url_ct, host, events, secret_ct, active, created_at, created_by) \
                     VALUES ($1, $2, $3, $4, $5, $6, TRUE, $7, $8)",
                )
                .bind(tenant.as_uuid())
                .bind(id.as_uuid())
                .bind(keys.data.seal_str(&aad(tenant, "webhook_endpoints", "url", &row), url)?)
                .bind(host)
                .bind(events.join(" "))
                .bind(keys.data.seal_str(&aad(tenant, "webhook_endpoints", "secret", &row), &endpoint.secret)?)
                .bind(now)
                .bind(actor_label(&actor))
                .execute(&mut *tx)
                .await?;
                let created = self.webhook_endpoint_tx(&mut tx, tenant, id).await?;
                tx.commit().await?;
                Ok(created)
            }

            async fn webhook_endpoints(&self, scope: TenantScope) -> Result<Vec<WebhookEndpoint>> {
                let tenant = scope.tenant_id();
                let mut tx = self.read_tx(Some(scope)).await?;
                let rows: Vec<WebhookEndpointRow> = sqlx::query_as(
                    "SELECT id, url_ct, host, events, active, created_at, created_by, previous_until \
                     FROM webhook_endpoints WHERE tenant_id = $1 ORDER BY created_at DESC, id DESC",
                )
                .bind(tenant.as_uuid())
                .fetch_all(&mut *tx)
                .await?;
                let keys = self.tenant_keys(&mut tx, tenant).await?;
                tx.commit().await?;
                let now = self.now_us();
                rows.into_iter().map(|r| self.webhook_endpoint_from_row(&keys, tenant, r, now)).collect()
            }

            async fn disable_webhook_endpoint(&self, scope: TenantScope, id: WebhookEndpointId, actor: Actor) -> Result<bool> {
                let tenant = scope.tenant_id();
                let now = self.now_us();
                let mut tx = self.write_tx(Some(scope)).await?;
                let endpoint = self.webhook_endpoint_tx(&mut tx, tenant, id).await?;
                if endpoint.active {
                    sqlx::query("UPDATE webhook_endpoints SET active = FALSE, disabled_at = $3 WHERE tenant_id = $1 AND id = $2")
                        .bind(tenant.as_uuid())
                        .bind(id.as_uuid())
                        .bind(now)
                        .execute(&mut *tx)
                        .await?;
                    let dead = sqlx::query(
                        "UPDATE webhook_deliveries SET status = 'dead', last_error = 'endpoint_disabled', lease_until = NULL, leased_by = NULL \
                         WHERE tenant_id = $1 AND endpoint_id = $2 AND status = 'pending'",
                    )
                    .bind(tenant.as_uuid())
                    .bind(id.as_uuid())
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                    let ev = AuditEvent::new(actor, "webhook.endpoint_disabled")
                        .target("webhook_endpoint", id)
                        .details(serde_json::json!({ "host": endpoint.host, "deliveries_dropped": dead }));
                    self.append_audit_tx(&mut tx, tenant, now, &ev).await?;
                }
                tx.commit().await?;
                Ok(endpoint.active)
            }

            async fn rotate_webhook_secret(&self, scope: TenantScope, id: WebhookEndpointId, new_secret: zeroize::Zeroizing<String>, overlap: jiff::SignedDuration, actor: Actor) -> Result<()> {
                checked_secret(&new_secret)?;
                if overlap > $crate::sql::webhooks::MAX_OVERLAP {
                    return Err(invalid("overlap", "at most 30 days"));
                }
                let tenant = scope.tenant_id();
                let now = self.now_us();
                let mut tx = self.write_tx(Some(scope)).await?;
                let endpoint = self.webhook_endpoint_tx(&mut tx, tenant, id).await?;
                if !endpoint.active {
                    return Err(StoreError::Conflict("this webhook endpoint is disabled"));
                }
                let keys = self.tenant_keys(&mut tx, tenant).await?;
                let row = id.to_string();
                let (previous_ct, until) = if overlap.is_positive() {
                    let (old_ct,): (Vec<u8>,) = sqlx::query_as("SELECT secret_ct FROM webhook_endpoints WHERE tenant_id = $1 AND id = $2")
                        .bind(tenant.as_uuid())
                        .bind(id.as_uuid())
                        .fetch_one(&mut *tx)
                        .await?;
                    let old = zeroize::Zeroizing::new(keys.data.open_string(&aad(tenant, "webhook_endpoints", "secret", &row), &old_ct)?);
                    let ct = keys.data.seal_str(&aad(tenant, "webhook_endpoints", "previous_secret", &row), &old)?;
                    (Some(ct), Some(now + overlap.as_micros() as i64))
                } else {
                    (None, None)
                };
                sqlx::query(
                    "UPDATE webhook_endpoints SET secret_ct = $3, previous_secret_ct = $4, previous_until = $5 WHERE tenant_id = $1 AND id = $2",
                )
                .bind(tenant.as_uuid())
                .bind(id.as_uuid())
                .bind(keys.data.seal_str(&aad(tenant, "webhook_endpoints", "secret", &row), &new_secret)?)
                .bind(previous_ct)
                .bind(until)
                .execute(&mut *tx)
                .await?;
                let ev = AuditEvent::new(actor, "webhook.secret_rotated")
                    .target("webhook_endpoint", id)
                    .details(serde_json::json!({ "host": endpoint.host, "overlap_secs": overlap.as_secs().max(0) }));
                self.append_audit_tx(&mut tx, tenant, now, &ev).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn enqueue_webhook_event(&self, scope: TenantScope, event_id: &str, event_type: &str, body: &[u8]) -> Result<u64> {
                let now = self.now_us();
                let mut tx = self.write_tx(Some(scope)).await?;
                let event = EventRef { id: event_id, kind: event_type, body };
                let queued = self.enqueue_webhook_event_tx(&mut tx, scope.tenant_id(), &event, now).await?;
                tx.commit().await?;
                Ok(queued)
            }

            async fn enqueue_webhook_test(&self, scope: TenantScope, endpoint: WebhookEndpointId, event_id: &str, body: &[u8]) -> Result<bool> {
                let event = EventRef { id: event_id, kind: "ping", body };
                checked_event(&event)?;
                let tenant = scope.tenant_id();
                let now = self.now_us();
                let mut tx = self.write_tx(Some(scope)).await?;
                let found = self.webhook_endpoint_tx(&mut tx, tenant, endpoint).await?;
                if !found.active {
                    return Err(StoreError::Conflict("this webhook endpoint is disabled"));
                }
                let queued = self.insert_webhook_delivery_tx(&mut tx, tenant, endpoint.as_uuid(), &event, now).await?;
                tx.commit().await?;
                Ok(queued)
            }

            async fn claim_webhook_deliveries(&self, worker: &str, lease: jiff::SignedDuration, limit: u32) -> Result<Vec<WebhookJob>> {
                if !lease.is_positive() {
                    return Err(invalid("lease", "a positive duration"));
                }
                let now_ts = self.clock.now();
                let now = crate::to_us(now_ts);
                let until = crate::to_us(now_ts.checked_add(lease).map_err(|_| StoreError::Corrupt("lease"))?);
                let mut tx = self.claim_tx().await?;
                let due: Vec<(Uuid, Uuid)> = sqlx::query_as(concat!(
                    "SELECT tenant_id, id FROM webhook_deliveries \
                     WHERE status = 'pending' AND next_attempt_at <= $1 AND (lease_until IS NULL OR lease_until < $1) \
                       AND tenant_id IN (SELECT id FROM tenants WHERE status = 'active') \
                     ORDER BY next_attempt_at LIMIT $2",
                    $skip_locked
                ))
                .bind(now)
                .bind(i64::from(limit))
                .fetch_all(&mut *tx)
                .await?;
                let mut claimed = Vec::with_capacity(due.len());
                for (tenant, id) in due {
                    let row: (Uuid, String, String, Vec<u8>, i32) = sqlx::query_as(
                        "UPDATE webhook_deliveries SET lease_until = $3, leased_by = $4 \
                         WHERE tenant_id = $1 AND id = $2 RETURNING endpoint_id, event_id, event_type, body, attempts",
                    )
                    .bind(tenant)
                    .bind(id)
                    .bind(until)
                    .bind(worker)
                    .fetch_one(&mut *tx)
                    .await?;
                    claimed.push((tenant, id, row));
                }
                tx.commit().await?;
                let mut jobs = Vec::with_capacity(claimed.len());
                for (tenant, id, (endpoint, event_id, event_type, body, attempts)) in claimed {
                    let lease = WebhookLease {
                        scope: TenantScope::new(TenantId::from_uuid(tenant)),
                        id: WebhookDeliveryId::from_uuid(id),
                        worker: worker.to_owned(),
                        until_us: until,
                    };
                    jobs.push(self.open_webhook_job(lease, endpoint, (event_id, event_type, body, attempts)).await?);
                }
                Ok(jobs)
            }

            async fn settle_webhook_delivery(&self, lease: &WebhookLease, outcome: &WebhookSettle) -> Result<()> {
                let now = self.now_us();
                let (status, last_status, error, next, delivered) = match outcome {
                    WebhookSettle::Delivered { status } => ("delivered", Some(*status), None, None, Some(now)),
                    WebhookSettle::Retry { at, status, error } => ("pending", *status, Some(error.as_str()), Some(crate::to_us(*at)), None),
                    WebhookSettle::Dead { status, error } => ("dead", *status, Some(error.as_str()), None, None),
                };
                if error.is_some_and(|e| !$crate::webhooks::is_error_code(e)) {
                    return Err(invalid("error", "a short code: a-z, 0-9, _ . : -, at most 64"));
                }
                let tenant = lease.scope.tenant_id();
                let mut tx = self.write_tx(Some(lease.scope)).await?;
                let done: Option<(Uuid, String, String, i32)> = sqlx::query_as(
                    "UPDATE webhook_deliveries SET status = $5, attempts = attempts + 1, last_status = $6, last_error = $7, \
                     next_attempt_at = COALESCE($8, next_attempt_at), delivered_at = $9, lease_until = NULL, leased_by = NULL \
                     WHERE tenant_id = $1 AND id = $2 AND status = 'pending' AND leased_by = $3 AND lease_until = $4 \
                     RETURNING endpoint_id, event_id, event_type, attempts",
                )
                .bind(lease.scope.tenant_id().as_uuid())
                .bind(lease.id.as_uuid())
                .bind(&lease.worker)
                .bind(lease.until_us)
                .bind(status)
                .bind(last_status.map(i32::from))
                .bind(error)
                .bind(next)
                .bind(delivered)
                .fetch_optional(&mut *tx)
                .await?;
                let Some((endpoint, event_id, event_type, attempts)) = done else {
                    return Err(StoreError::Conflict("webhook delivery lease lost"));
                };
                // A delivery given up on is the clinic's business to know: audited with the
                // endpoint's host, the event and the last error code (never a URL or a body).
                if let WebhookSettle::Dead { status, error } = outcome {
                    let (host,): (String,) = sqlx::query_as("SELECT host FROM webhook_endpoints WHERE tenant_id = $1 AND id = $2")
                        .bind(tenant.as_uuid())
                        .bind(endpoint)
                        .fetch_one(&mut *tx)
                        .await?;
                    let ev = AuditEvent::new(Actor::System, "webhook.delivery_failed")
                        .target("webhook_delivery", lease.id)
                        .details(serde_json::json!({
                            "endpoint": endpoint.to_string(),
                            "host": host,
                            "event_id": event_id,
                            "event_type": event_type,
                            "attempts": attempts,
                            "last_status": status,
                            "error": error,
                        }));
                    self.append_audit_tx(&mut tx, tenant, now, &ev).await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn webhook_deliveries(&self, scope: TenantScope, endpoint: Option<WebhookEndpointId>, limit: u32) -> Result<Vec<WebhookDelivery>> {
                let tenant = scope.tenant_id();
                let mut tx = self.read_tx(Some(scope)).await?;
                if let Some(endpoint) = endpoint {
                    let found: Option<(Uuid,)> = sqlx::query_as("SELECT id FROM webhook_endpoints WHERE tenant_id = $1 AND id = $2")
                        .bind(tenant.as_uuid())
                        .bind(endpoint.as_uuid())
                        .fetch_optional(&mut *tx)
                        .await?;
                    found.ok_or(StoreError::NotFound)?;
                }
                #[allow(clippy::type_complexity)]
                let rows: Vec<(Uuid, Uuid, String, String, String, String, i32, Option<i32>, Option<String>, i64, i64, Option<i64>)> = sqlx::query_as(
                    "SELECT d.id, d.endpoint_id, e.host, d.event_id, d.event_type, d.status, d.attempts, d.last_status, d.last_error, \
                            d.created_at, d.next_attempt_at, d.delivered_at \
                     FROM webhook_deliveries d JOIN webhook_endpoints e ON e.tenant_id = d.tenant_id AND e.id = d.endpoint_id \
                     WHERE d.tenant_id = $1 AND ($2 IS NULL OR d.endpoint_id = $2) \
                     ORDER BY d.created_at DESC, d.id DESC LIMIT $3",
                )
                .bind(tenant.as_uuid())
                .bind(endpoint.map(|e| e.as_uuid()))
                .bind(i64::from(limit))
                .fetch_all(&mut *tx)
                .await?;
                tx.commit().await?;
                rows.into_iter()
                    .map(|(id, endpoint_id, host, event_id, event_type, status, attempts, last_status, last_error, created, next, delivered)| {
                        Ok(WebhookDelivery {
                            id: WebhookDeliveryId::from_uuid(id),
                            endpoint_id: WebhookEndpointId::from_uuid(endpoint_id),
                            host,
                            event_id,
                            event_type,
                            status: WebhookDeliveryStatus::parse(&status)?,
                            attempts: u32::try_from(attempts).map_err(|_| StoreError::Corrupt("webhook attempts"))?,
                            last_status: last_status.map(u16::try_from).transpose().map_err(|_| StoreError::Corrupt("webhook status"))?,
                            last_error,
                            created_at: from_us(created)?,
                            next_attempt_at: from_us(next)?,
                            delivered_at: delivered.map(from_us).transpose()?,
                        })
                    })
                    .collect()
            }
        }
    };
}

pub(crate) use impl_webhooks;
