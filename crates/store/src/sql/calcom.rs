//! Shared SQL for Cal.com as a clinic's calendar (#11 item 3; types in `crate::calcom`).
//!
//! The API key and webhook secret are sealed with the clinic's data key, bound to (tenant,
//! `calcom_settings`, column, tenant id); only `calcom_runtime` opens them. Mirrored bookings
//! skip the opening-hours checks of a built-in booking (Cal.com decided the time is free) but
//! keep everything else: tenant, patient, practitioner and service checked, one transaction
//! with the audit entry and the outbound webhook event, idempotent by request key and uid.

use crate::calcom::{CALCOM_MAX_SECRET_LEN, CALCOM_MAX_UID_LEN, CALCOM_MAX_URL_LEN};
use crate::{Result, StoreError};
use frontdesk_domain::DomainError;

fn invalid(field: &'static str, why: &'static str) -> StoreError {
    StoreError::Invalid(DomainError::invalid(field, why))
}

pub(crate) fn checked_base_url(url: &str) -> Result<()> {
    let url = url.trim();
    if url.is_empty() || url.len() > CALCOM_MAX_URL_LEN || url.chars().any(char::is_control) {
        return Err(invalid("base_url", "1 to 2048 characters"));
    }
    Ok(())
}

pub(crate) fn checked_secret(field: &'static str, secret: &str) -> Result<()> {
    if secret.trim().is_empty()
        || secret.len() > CALCOM_MAX_SECRET_LEN
        || secret.chars().any(char::is_control)
    {
        return Err(invalid(field, "1 to 512 characters, no control characters"));
    }
    Ok(())
}

pub(crate) fn checked_uid(uid: &str) -> Result<()> {
    if uid.is_empty() || uid.len() > CALCOM_MAX_UID_LEN || uid.chars().any(char::is_control) {
        return Err(invalid("uid", "1 to 200 characters"));
    }
    Ok(())
}

macro_rules! impl_calcom {
    ($Store:ty) => {
        /// A `calcom_settings` row as `SELECT enabled, base_url, api_key_ct, api_key_set_at,
        /// webhook_secret_ct, webhook_secret_set_at, updated_at, updated_by` reads it.
        #[allow(clippy::type_complexity)]
        type CalcomRow = (bool, String, Option<Vec<u8>>, Option<i64>, Option<Vec<u8>>, Option<i64>, i64, String);

        impl $Store {
            async fn calcom_row_tx(&self, tx: &mut Tx, tenant: TenantId) -> Result<Option<CalcomRow>> {
                Ok(sqlx::query_as(
                    "SELECT enabled, base_url, api_key_ct, api_key_set_at, webhook_secret_ct, webhook_secret_set_at, \
                     updated_at, updated_by FROM calcom_settings WHERE tenant_id = $1",
                )
                .bind(tenant.as_uuid())
                .fetch_optional(&mut **tx)
                .await?)
            }

            async fn calcom_event_types_tx(&self, tx: &mut Tx, tenant: TenantId) -> Result<Vec<CalcomEventType>> {
                let rows: Vec<(Uuid, Uuid, i64)> = sqlx::query_as(
                    "SELECT practitioner_id, service_id, event_type_id FROM calcom_event_types WHERE tenant_id = $1 \
                     ORDER BY event_type_id, practitioner_id, service_id",
                )
                .bind(tenant.as_uuid())
                .fetch_all(&mut **tx)
                .await?;
                Ok(rows
                    .into_iter()
                    .map(|(p, s, e)| CalcomEventType {
                        practitioner: PractitionerId::from_uuid(p),
                        service: ServiceId::from_uuid(s),
                        event_type_id: e,
                    })
                    .collect())
            }

            fn calcom_settings_from_row(row: CalcomRow, event_types: Vec<CalcomEventType>) -> Result<CalcomSettings> {
                let (enabled, base_url, key_ct, key_at, secret_ct, secret_at, updated_at, updated_by) = row;
                Ok(CalcomSettings {
                    enabled,
                    base_url,
                    api_key_set_at: key_at.filter(|_| key_ct.is_some()).map(from_us).transpose()?,
                    webhook_secret_set_at: secret_at.filter(|_| secret_ct.is_some()).map(from_us).transpose()?,
                    event_types,
                    updated_at: from_us(updated_at)?,
                    updated_by,
                })
            }

            async fn appointment_by_calcom_uid(&self, tx: &mut Tx, tenant: TenantId, uid: &str) -> Result<Option<Appointment>> {
                let row: Option<AppointmentRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "SELECT {APPOINTMENT_COLUMNS} FROM appointments WHERE tenant_id = $1 AND calcom_uid = $2"
                )))
                .bind(tenant.as_uuid())
                .bind(uid)
                .fetch_optional(&mut **tx)
                .await?;
                row.map(appointment_from_row).transpose()
            }

            /// Inserts the mirror of a booking Cal.com accepted (no audit).
            async fn insert_calcom_mirror(&self, tx: &mut Tx, tenant: TenantId, now: i64, req: &CalcomRequest, b: &CalcomBooking) -> Result<Appointment> {
                $crate::sql::calcom::checked_uid(&b.uid)?;
                if b.end <= b.start {
                    return Err(DomainError::invalid("end", "must be after the start").into());
                }
                let t = tenant.as_uuid();
                let found: Option<(i64,)> = sqlx::query_as(
                    "SELECT (SELECT COUNT(*) FROM patients WHERE tenant_id = $1 AND id = $2) \
                     + (SELECT COUNT(*) FROM practitioners WHERE tenant_id = $1 AND id = $3) \
                     + (SELECT COUNT(*) FROM services WHERE tenant_id = $1 AND id = $4)",
                )
                .bind(t)
                .bind(req.patient.as_uuid())
                .bind(req.practitioner.as_uuid())
                .bind(req.service.as_uuid())
                .fetch_optional(&mut **tx)
                .await?;
                if found.map(|(n,)| n) != Some(3) {
                    return Err(StoreError::NotFound);
                }
                let id = AppointmentId::new();
                let (s_us, e_us) = (crate::to_us(b.start), crate::to_us(b.end));
                sqlx::query(
                    "INSERT INTO appointments (tenant_id, id, patient_id, practitioner_id, service_id, starts_at, ends_at, busy_until, \
                     status, idempotency_key, calcom_uid, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $7, 'booked', $8, $9, $10, $10)",
                )
                .bind(t)
                .bind(id.as_uuid())
                .bind(req.patient.as_uuid())
                .bind(req.practitioner.as_uuid())
                .bind(req.service.as_uuid())
                .bind(s_us)
                .bind(e_us)
                .bind(&req.key)
                .bind(&b.uid)
                .bind(now)
                .execute(&mut **tx)
                .await?;
                Ok(Appointment {
                    id,
                    patient_id: req.patient,
                    practitioner_id: req.practitioner,
                    service_id: req.service,
                    starts_at: b.start,
                    ends_at: b.end,
                    busy_until: b.end,
                    status: AppointmentStatus::Booked,
                })
            }

            /// An appointment already mirrored for this request or booking, if any; a mirror of
            /// the request that lacks the uid (a webhook got there first) is given it.
            async fn calcom_mirrored(&self, tx: &mut Tx, tenant: TenantId, key: &str, uid: &str) -> Result<Option<Appointment>> {
                if let Some(a) = self.appointment_by_calcom_uid(tx, tenant, uid).await? {
                    return Ok(Some(a));
                }
                let Some(a) = self.appointment_by_key(tx, tenant, key).await? else {
                    return Ok(None);
                };
                sqlx::query("UPDATE appointments SET calcom_uid = $3 WHERE tenant_id = $1 AND id = $2 AND calcom_uid IS NULL")
                    .bind(tenant.as_uuid())
                    .bind(a.id.as_uuid())
                    .bind(uid)
                    .execute(&mut **tx)
                    .await?;
                Ok(Some(a))
            }

            fn calcom_booked_event(actor: Actor, appt: &Appointment, uid: &str) -> AuditEvent {
                AuditEvent::new(actor, "appointment.booked").target("appointment", appt.id).details(serde_json::json!({
                    "patient": appt.patient_id.to_string(),
                    "practitioner": appt.practitioner_id.to_string(),
                    "service": appt.service_id.to_string(),
                    "starts_at": appt.starts_at.to_string(),
                    "calendar": "calcom",
                    "calcom_uid": uid,
                }))
            }

            async fn try_mirror_calcom_booking(&self, scope: TenantScope, req: &CalcomRequest, b: &CalcomBooking, actor: Actor) -> Result<Appointment> {
                let tenant = scope.tenant_id();
                let now = self.now_us();
                let mut tx = self.write_tx(Some(scope)).await?;
                if let Some(a) = self.calcom_mirrored(&mut tx, tenant, &req.key, &b.uid).await? {
                    tx.commit().await?;
                    return Ok(a);
                }
                let appt = self.insert_calcom_mirror(&mut tx, tenant, now, req, b).await?;
                let ev = Self::calcom_booked_event(actor, &appt, &b.uid);
                self.append_audit_tx(&mut tx, tenant, now, &ev).await?;
                self.emit_appointment_event_tx(&mut tx, tenant, "appointment.created", &appt, None, now).await?;
                tx.commit().await?;
                Ok(appt)
            }

            async fn try_mirror_calcom_move(&self, scope: TenantScope, from: AppointmentId, req: &CalcomRequest, b: &CalcomBooking, actor: Actor) -> Result<Appointment> {
                let tenant = scope.tenant_id();
                let now = self.now_us();
                let mut tx = self.write_tx(Some(scope)).await?;
                let old = self.appointment_tx(&mut tx, tenant, from).await?.ok_or(StoreError::NotFound)?;
                if let Some(a) = self.calcom_mirrored(&mut tx, tenant, &req.key, &b.uid).await? {
                    tx.commit().await?;
                    return Ok(a);
                }
                let appt = self.move_calcom_tx(&mut tx, tenant, now, &old, req, b, actor).await?;
                tx.commit().await?;
                Ok(appt)
            }

            /// Cancels `old` and mirrors its replacement, audited `appointment.rescheduled`.
            #[allow(clippy::too_many_arguments)]
            async fn move_calcom_tx(&self, tx: &mut Tx, tenant: TenantId, now: i64, old: &Appointment, req: &CalcomRequest, b: &CalcomBooking, actor: Actor) -> Result<Appointment> {
                let done = sqlx::query(
                    "UPDATE appointments SET status = 'cancelled', updated_at = $3 WHERE tenant_id = $1 AND id = $2 \
                     AND status IN ('booked', 'confirmed')",
                )
                .bind(tenant.as_uuid())
                .bind(old.id.as_uuid())
                .bind(now)
                .execute(&mut **tx)
                .await?;
                if done.rows_affected() != 1 {
                    return Err(StoreError::Conflict("the appointment is no longer booked"));
                }
                self.free_slot_tx(tx, tenant, old, now).await?;
                let appt = self.insert_calcom_mirror(tx, tenant, now, req, b).await?;
                let ev = AuditEvent::new(actor, "appointment.rescheduled").target("appointment", appt.id).details(serde_json::json!({
                    "from": old.id.to_string(),
                    "patient": old.patient_id.to_string(),
                    "service": old.service_id.to_string(),
                    "from_practitioner": old.practitioner_id.to_string(),
                    "from_starts_at": old.starts_at.to_string(),
                    "practitioner": appt.practitioner_id.to_string(),
                    "starts_at": appt.starts_at.to_string(),
                    "calendar": "calcom",
                    "calcom_uid": b.uid,
                }));
                self.append_audit_tx(tx, tenant, now, &ev).await?;
                self.emit_appointment_event_tx(tx, tenant, "appointment.changed", &appt, Some(old.id), now).await?;
                Ok(appt)
            }

            /// A mirror that lost a race (a webhook mirroring the same booking at once, caught
            /// by the unique uid or key) answers the winner's appointment.
            async fn calcom_raced(&self, scope: TenantScope, uid: &str, done: Result<Appointment>) -> Result<Appointment> {
                let Err(StoreError::Conflict(why)) = done else { return done };
                let mut tx = self.read_tx(Some(scope)).await?;
                let found = self.appointment_by_calcom_uid(&mut tx, scope.tenant_id(), uid).await?;
                tx.commit().await?;
                found.ok_or(StoreError::Conflict(why))
            }

            /// The busy time standing for an outside Cal.com booking: its id and practitioner.
            async fn calcom_busy_by_uid(&self, tx: &mut Tx, tenant: TenantId, uid: &str) -> Result<Option<(Uuid, Option<Uuid>)>> {
                Ok(sqlx::query_as("SELECT id, practitioner_id FROM schedule_exceptions WHERE tenant_id = $1 AND calcom_uid = $2")
                    .bind(tenant.as_uuid())
                    .bind(uid)
                    .fetch_optional(&mut **tx)
                    .await?)
            }

            /// The practitioner an event type books (any service), if mapped.
            async fn calcom_practitioner_of(&self, tx: &mut Tx, tenant: TenantId, event_type: Option<i64>) -> Result<Option<Uuid>> {
                let Some(event_type) = event_type else { return Ok(None) };
                let row: Option<(Uuid,)> = sqlx::query_as(
                    "SELECT practitioner_id FROM calcom_event_types WHERE tenant_id = $1 AND event_type_id = $2 \
                     ORDER BY practitioner_id LIMIT 1",
                )
                .bind(tenant.as_uuid())
                .bind(event_type)
                .fetch_optional(&mut **tx)
                .await?;
                Ok(row.map(|(p,)| p))
            }

            /// Records an outside booking as a busy time of the practitioner, audited.
            async fn add_calcom_busy_tx(&self, tx: &mut Tx, tenant: TenantId, now: i64, ev: &CalcomEvent) -> Result<CalcomReflected> {
                let Some(practitioner) = self.calcom_practitioner_of(tx, tenant, ev.event_type_id).await? else {
                    return Ok(CalcomReflected::Ignored);
                };
                if ev.end <= ev.start {
                    return Err(DomainError::invalid("end", "must be after the start").into());
                }
                let id = Uuid::now_v7();
                sqlx::query(
                    "INSERT INTO schedule_exceptions (tenant_id, id, practitioner_id, starts_at, ends_at, reason, calcom_uid) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(tenant.as_uuid())
                .bind(id)
                .bind(practitioner)
                .bind(crate::to_us(ev.start))
                .bind(crate::to_us(ev.end))
                .bind($crate::calcom::CALCOM_BUSY_REASON)
                .bind(&ev.uid)
                .execute(&mut **tx)
                .await?;
                let audit = AuditEvent::new(Actor::System, "calcom.busy_added").target("schedule_exception", id).details(serde_json::json!({
                    "practitioner": practitioner.to_string(),
                    "starts_at": ev.start.to_string(),
                    "ends_at": ev.end.to_string(),
                    "calcom_uid": ev.uid,
                }));
                self.append_audit_tx(tx, tenant, now, &audit).await?;
                Ok(CalcomReflected::Busy)
            }

            async fn calcom_created_tx(&self, tx: &mut Tx, tenant: TenantId, now: i64, ev: &CalcomEvent) -> Result<CalcomReflected> {
                if self.appointment_by_calcom_uid(tx, tenant, &ev.uid).await?.is_some() || self.calcom_busy_by_uid(tx, tenant, &ev.uid).await?.is_some() {
                    return Ok(CalcomReflected::Unchanged);
                }
                let b = CalcomBooking { uid: ev.uid.clone(), start: ev.start, end: ev.end };
                if let Some(req) = &ev.request {
                    if self.calcom_mirrored(tx, tenant, &req.key, &ev.uid).await?.is_some() {
                        return Ok(CalcomReflected::Unchanged);
                    }
                    // Our own booking whose turn never mirrored it (it failed after Cal.com
                    // accepted): mirrored now. Metadata naming nothing of this clinic is an
                    // outside booking.
                    match self.insert_calcom_mirror(tx, tenant, now, req, &b).await {
                        Ok(appt) => {
                            let audit = Self::calcom_booked_event(Actor::System, &appt, &ev.uid);
                            self.append_audit_tx(tx, tenant, now, &audit).await?;
                            self.emit_appointment_event_tx(tx, tenant, "appointment.created", &appt, None, now).await?;
                            return Ok(CalcomReflected::Appointment(appt.id));
                        }
                        Err(StoreError::NotFound) => {}
                        Err(e) => return Err(e),
                    }
                }
                self.add_calcom_busy_tx(tx, tenant, now, ev).await
            }

            async fn calcom_cancelled_tx(&self, tx: &mut Tx, tenant: TenantId, now: i64, uid: &str) -> Result<CalcomReflected> {
                if let Some(mut appt) = self.appointment_by_calcom_uid(tx, tenant, uid).await? {
                    if !matches!(appt.status, AppointmentStatus::Booked | AppointmentStatus::Confirmed) {
                        return Ok(CalcomReflected::Unchanged);
                    }
                    sqlx::query("UPDATE appointments SET status = 'cancelled', updated_at = $3 WHERE tenant_id = $1 AND id = $2")
                        .bind(tenant.as_uuid())
                        .bind(appt.id.as_uuid())
                        .bind(now)
                        .execute(&mut **tx)
                        .await?;
                    self.free_slot_tx(tx, tenant, &appt, now).await?;
                    let audit = AuditEvent::new(Actor::System, "appointment.cancelled")
                        .target("appointment", appt.id)
                        .details(serde_json::json!({ "calendar": "calcom", "calcom_uid": uid }));
                    self.append_audit_tx(tx, tenant, now, &audit).await?;
                    appt.status = AppointmentStatus::Cancelled;
                    self.emit_appointment_event_tx(tx, tenant, "appointment.cancelled", &appt, None, now).await?;
                    return Ok(CalcomReflected::Appointment(appt.id));
                }
                if let Some((id, _)) = self.calcom_busy_by_uid(tx, tenant, uid).await? {
                    sqlx::query("DELETE FROM schedule_exceptions WHERE tenant_id = $1 AND id = $2")
                        .bind(tenant.as_uuid())
                        .bind(id)
                        .execute(&mut **tx)
                        .await?;
                    let audit = AuditEvent::new(Actor::System, "calcom.busy_removed")
                        .target("schedule_exception", id)
                        .details(serde_json::json!({ "calcom_uid": uid }));
                    self.append_audit_tx(tx, tenant, now, &audit).await?;
                    return Ok(CalcomReflected::Busy);
                }
                Ok(CalcomReflected::Unchanged)
            }

            async fn calcom_rescheduled_tx(&self, tx: &mut Tx, tenant: TenantId, now: i64, ev: &CalcomEvent, from_uid: &str) -> Result<CalcomReflected> {
                if self.appointment_by_calcom_uid(tx, tenant, &ev.uid).await?.is_some() || self.calcom_busy_by_uid(tx, tenant, &ev.uid).await?.is_some() {
                    return Ok(CalcomReflected::Unchanged);
                }
                let b = CalcomBooking { uid: ev.uid.clone(), start: ev.start, end: ev.end };
                if let Some(old) = self.appointment_by_calcom_uid(tx, tenant, from_uid).await? {
                    if !matches!(old.status, AppointmentStatus::Booked | AppointmentStatus::Confirmed) {
                        // Cancelled here meanwhile: the new time is still taken on Cal.com.
                        return self.add_calcom_busy_tx(tx, tenant, now, ev).await;
                    }
                    let req = CalcomRequest {
                        key: format!("calcom:{}", ev.uid),
                        patient: old.patient_id,
                        practitioner: old.practitioner_id,
                        service: old.service_id,
                    };
                    let appt = self.move_calcom_tx(tx, tenant, now, &old, &req, &b, Actor::System).await?;
                    return Ok(CalcomReflected::Appointment(appt.id));
                }
                if let Some((id, _)) = self.calcom_busy_by_uid(tx, tenant, from_uid).await? {
                    sqlx::query("UPDATE schedule_exceptions SET starts_at = $3, ends_at = $4, calcom_uid = $5 WHERE tenant_id = $1 AND id = $2")
                        .bind(tenant.as_uuid())
                        .bind(id)
                        .bind(crate::to_us(ev.start))
                        .bind(crate::to_us(ev.end))
                        .bind(&ev.uid)
                        .execute(&mut **tx)
                        .await?;
                    let audit = AuditEvent::new(Actor::System, "calcom.busy_moved")
                        .target("schedule_exception", id)
                        .details(serde_json::json!({ "starts_at": ev.start.to_string(), "ends_at": ev.end.to_string(), "calcom_uid": ev.uid }));
                    self.append_audit_tx(tx, tenant, now, &audit).await?;
                    return Ok(CalcomReflected::Busy);
                }
                // The old booking was never known here: the new one is a booking like any other.
                self.calcom_created_tx(tx, tenant, now, ev).await
            }
        }

        #[async_trait]
        impl CalcomStore for $Store {
            async fn calcom_settings(&self, scope: TenantScope) -> Result<Option<CalcomSettings>> {
                let tenant = scope.tenant_id();
                let mut tx = self.read_tx(Some(scope)).await?;
                let row = self.calcom_row_tx(&mut tx, tenant).await?;
                let types = self.calcom_event_types_tx(&mut tx, tenant).await?;
                tx.commit().await?;
                row.map(|r| Self::calcom_settings_from_row(r, types)).transpose()
            }

            async fn set_calcom_settings(
                &self,
                scope: TenantScope,
                base_url: &str,
                enabled: bool,
                api_key: CalcomSecretChange,
                webhook_secret: CalcomSecretChange,
                actor: Actor,
            ) -> Result<CalcomSettings> {
                $crate::sql::calcom::checked_base_url(base_url)?;
                if let CalcomSecretChange::Set(k) = &api_key {
                    $crate::sql::calcom::checked_secret("api_key", k)?;
                }
                if let CalcomSecretChange::Set(k) = &webhook_secret {
                    $crate::sql::calcom::checked_secret("webhook_secret", k)?;
                }
                let tenant = scope.tenant_id();
                let now = self.now_us();
                let base_url = base_url.trim().trim_end_matches('/');
                let mut tx = self.write_tx(Some(scope)).await?;
                sqlx::query(
                    "INSERT INTO calcom_settings (tenant_id, enabled, base_url, updated_at, updated_by) VALUES ($1, $2, $3, $4, $5) \
                     ON CONFLICT (tenant_id) DO UPDATE SET enabled = excluded.enabled, base_url = excluded.base_url, \
                     updated_at = excluded.updated_at, updated_by = excluded.updated_by",
                )
                .bind(tenant.as_uuid())
                .bind(enabled)
                .bind(base_url)
                .bind(now)
                .bind(actor_label(&actor))
                .execute(&mut *tx)
                .await?;
                let ev = AuditEvent::new(actor.clone(), "calcom.settings_changed")
                    .details(serde_json::json!({ "enabled": enabled, "base_url": base_url }));
                self.append_audit_tx(&mut tx, tenant, now, &ev).await?;
                for (column, change) in [("api_key", api_key), ("webhook_secret", webhook_secret)] {
                    let sealed = match change {
                        CalcomSecretChange::Keep => continue,
                        CalcomSecretChange::Clear => None,
                        CalcomSecretChange::Set(k) => {
                            let keys = self.tenant_keys(&mut tx, tenant).await?;
                            let row = tenant.to_string();
                            Some(keys.data.seal_str(&aad(tenant, "calcom_settings", column, &row), k.trim())?)
                        }
                    };
                    let cleared = sealed.is_none();
                    let sql = if column == "api_key" {
                        "UPDATE calcom_settings SET api_key_ct = $2, api_key_set_at = $3 WHERE tenant_id = $1"
                    } else {
                        "UPDATE calcom_settings SET webhook_secret_ct = $2, webhook_secret_set_at = $3 WHERE tenant_id = $1"
                    };
                    sqlx::query(sql)
                        .bind(tenant.as_uuid())
                        .bind(sealed)
                        .bind((!cleared).then_some(now))
                        .execute(&mut *tx)
                        .await?;
                    let ev = AuditEvent::new(actor.clone(), "calcom.credentials_set")
                        .details(serde_json::json!({ "secret": column, "cleared": cleared }));
                    self.append_audit_tx(&mut tx, tenant, now, &ev).await?;
                }
                let row = self.calcom_row_tx(&mut tx, tenant).await?.ok_or(StoreError::Corrupt("calcom settings missing"))?;
                let types = self.calcom_event_types_tx(&mut tx, tenant).await?;
                tx.commit().await?;
                Self::calcom_settings_from_row(row, types)
            }

            async fn disable_calcom(&self, scope: TenantScope, actor: Actor) -> Result<bool> {
                let tenant = scope.tenant_id();
                let now = self.now_us();
                let mut tx = self.write_tx(Some(scope)).await?;
                let row = self.calcom_row_tx(&mut tx, tenant).await?.ok_or(StoreError::NotFound)?;
                let was = row.0;
                if was {
                    sqlx::query("UPDATE calcom_settings SET enabled = FALSE, updated_at = $2, updated_by = $3 WHERE tenant_id = $1")
                        .bind(tenant.as_uuid())
                        .bind(now)
                        .bind(actor_label(&actor))
                        .execute(&mut *tx)
                        .await?;
                    let ev = AuditEvent::new(actor, "calcom.settings_changed")
                        .details(serde_json::json!({ "enabled": false, "base_url": row.1 }));
                    self.append_audit_tx(&mut tx, tenant, now, &ev).await?;
                }
                tx.commit().await?;
                Ok(was)
            }

            async fn map_calcom_event_type(
                &self,
                scope: TenantScope,
                practitioner: PractitionerId,
                service: ServiceId,
                event_type_id: Option<i64>,
                actor: Actor,
            ) -> Result<()> {
                if event_type_id.is_some_and(|e| e < 1) {
                    return Err($crate::sql::calcom::invalid_event_type());
                }
                let tenant = scope.tenant_id();
                let now = self.now_us();
                let mut tx = self.write_tx(Some(scope)).await?;
                let found: (i64,) = sqlx::query_as(
                    "SELECT (SELECT COUNT(*) FROM practitioners WHERE tenant_id = $1 AND id = $2) \
                     + (SELECT COUNT(*) FROM services WHERE tenant_id = $1 AND id = $3)",
                )
                .bind(tenant.as_uuid())
                .bind(practitioner.as_uuid())
                .bind(service.as_uuid())
                .fetch_one(&mut *tx)
                .await?;
                if found.0 != 2 {
                    return Err(StoreError::NotFound);
                }
                match event_type_id {
                    Some(e) => {
                        sqlx::query(
                            "INSERT INTO calcom_event_types (tenant_id, practitioner_id, service_id, event_type_id) VALUES ($1, $2, $3, $4) \
                             ON CONFLICT (tenant_id, practitioner_id, service_id) DO UPDATE SET event_type_id = excluded.event_type_id",
                        )
                        .bind(tenant.as_uuid())
                        .bind(practitioner.as_uuid())
                        .bind(service.as_uuid())
                        .bind(e)
                        .execute(&mut *tx)
                        .await?;
                    }
                    None => {
                        sqlx::query("DELETE FROM calcom_event_types WHERE tenant_id = $1 AND practitioner_id = $2 AND service_id = $3")
                            .bind(tenant.as_uuid())
                            .bind(practitioner.as_uuid())
                            .bind(service.as_uuid())
                            .execute(&mut *tx)
                            .await?;
                    }
                }
                let ev = AuditEvent::new(actor, "calcom.event_type_mapped").details(serde_json::json!({
                    "practitioner": practitioner.to_string(),
                    "service": service.to_string(),
                    "event_type_id": event_type_id,
                }));
                self.append_audit_tx(&mut tx, tenant, now, &ev).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn calcom_runtime(&self, scope: TenantScope) -> Result<Option<CalcomRuntime>> {
                let tenant = scope.tenant_id();
                let mut tx = self.read_tx(Some(scope)).await?;
                let Some((enabled, base_url, key_ct, _, secret_ct, _, _, _)) = self.calcom_row_tx(&mut tx, tenant).await? else {
                    tx.commit().await?;
                    return Ok(None);
                };
                let event_types = self.calcom_event_types_tx(&mut tx, tenant).await?;
                let row = tenant.to_string();
                let open = |column: &str, ct: Option<Vec<u8>>, keys: &TenantKeys| -> Result<Option<zeroize::Zeroizing<String>>> {
                    ct.map(|ct| Ok(zeroize::Zeroizing::new(keys.data.open_string(&aad(tenant, "calcom_settings", column, &row), &ct)?)))
                        .transpose()
                };
                let (api_key, webhook_secret) = if key_ct.is_some() || secret_ct.is_some() {
                    let keys = self.tenant_keys(&mut tx, tenant).await?;
                    (open("api_key", key_ct, &keys)?, open("webhook_secret", secret_ct, &keys)?)
                } else {
                    (None, None)
                };
                tx.commit().await?;
                Ok(Some(CalcomRuntime { enabled, base_url, api_key, webhook_secret, event_types }))
            }

            async fn mirror_calcom_booking(&self, scope: TenantScope, request: &CalcomRequest, booking: &CalcomBooking, actor: Actor) -> Result<Appointment> {
                let done = self.try_mirror_calcom_booking(scope, request, booking, actor).await;
                self.calcom_raced(scope, &booking.uid, done).await
            }

            async fn mirror_calcom_move(&self, scope: TenantScope, from: AppointmentId, request: &CalcomRequest, booking: &CalcomBooking, actor: Actor) -> Result<Appointment> {
                let done = self.try_mirror_calcom_move(scope, from, request, booking, actor).await;
                self.calcom_raced(scope, &booking.uid, done).await
            }

            async fn calcom_webhook_key(&self, slug: &TenantSlug) -> Result<CalcomWebhookKey> {
                let tenant = self.resolve_slug(slug).await?;
                let scope = TenantScope::new(tenant);
                let rt = self.calcom_runtime(scope).await?;
                match rt {
                    Some(CalcomRuntime { enabled: true, webhook_secret: Some(secret), .. }) => Ok(CalcomWebhookKey::new(tenant, secret)),
                    _ => Err(StoreError::NotFound),
                }
            }

            async fn appointment_by_request_key(&self, scope: TenantScope, key: &str) -> Result<Option<Appointment>> {
                let mut tx = self.read_tx(Some(scope)).await?;
                let found = self.appointment_by_key(&mut tx, scope.tenant_id(), key).await?;
                tx.commit().await?;
                Ok(found)
            }

            async fn appointment_calcom_uid(&self, scope: TenantScope, id: AppointmentId) -> Result<Option<String>> {
                let mut tx = self.read_tx(Some(scope)).await?;
                let row: Option<(Option<String>,)> = sqlx::query_as("SELECT calcom_uid FROM appointments WHERE tenant_id = $1 AND id = $2")
                    .bind(scope.tenant_id().as_uuid())
                    .bind(id.as_uuid())
                    .fetch_optional(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(row.ok_or(StoreError::NotFound)?.0)
            }

            async fn reflect_calcom_event(&self, scope: TenantScope, ev: &CalcomEvent) -> Result<CalcomReflected> {
                $crate::sql::calcom::checked_uid(&ev.uid)?;
                let tenant = scope.tenant_id();
                let now = self.now_us();
                let mut tx = self.write_tx(Some(scope)).await?;
                let done = match &ev.change {
                    CalcomChange::Created => self.calcom_created_tx(&mut tx, tenant, now, ev).await?,
                    CalcomChange::Cancelled => self.calcom_cancelled_tx(&mut tx, tenant, now, &ev.uid).await?,
                    CalcomChange::Rescheduled { from_uid } => self.calcom_rescheduled_tx(&mut tx, tenant, now, ev, from_uid).await?,
                };
                tx.commit().await?;
                Ok(done)
            }
        }
    };
}

pub(crate) fn invalid_event_type() -> StoreError {
    invalid("event_type_id", "a Cal.com event type id (1 or more)")
}

pub(crate) use impl_calcom;
