//! Shared SQL for the diary: schedule exceptions, free slots, bookings and moves.
//!
//! A booking checks, inside its write transaction, that the time lies within the
//! practitioner's hours (clinic-local), is not in the past, and overlaps no live booking and
//! no exception. On SQLite that transaction holds the write lock from its first statement
//! (`BEGIN IMMEDIATE`), so check and insert cannot interleave with another booking. On
//! PostgreSQL two checks can interleave, and the exclusion constraint on
//! `int8range(starts_at, busy_until)` rejects the loser (`Conflict`).
//!
//! A move (reschedule) is one such transaction that first cancels the old appointment, then
//! books the new time with the same checks: either both happen or neither does.

macro_rules! impl_appointments {
    ($Store:ty) => {
        type AppointmentRow = (Uuid, Uuid, Uuid, Uuid, i64, i64, i64, String);
        const APPOINTMENT_COLUMNS: &str = "id, patient_id, practitioner_id, service_id, starts_at, ends_at, busy_until, status";

        fn appointment_from_row(r: AppointmentRow) -> Result<Appointment> {
            Ok(Appointment {
                id: AppointmentId::from_uuid(r.0),
                patient_id: PatientId::from_uuid(r.1),
                practitioner_id: PractitionerId::from_uuid(r.2),
                service_id: ServiceId::from_uuid(r.3),
                starts_at: from_us(r.4)?,
                ends_at: from_us(r.5)?,
                busy_until: from_us(r.6)?,
                status: AppointmentStatus::parse(&r.7)?,
            })
        }

        impl $Store {
            /// The clinic's time zone, the practitioner's hours and the service's timings.
            async fn booking_context(
                &self,
                tx: &mut Tx,
                tenant: TenantId,
                practitioner: PractitionerId,
                service: ServiceId,
            ) -> Result<(jiff::tz::TimeZone, WeeklyHours, jiff::SignedDuration, jiff::SignedDuration)> {
                let t = tenant.as_uuid();
                let (profile,): (sqlx::types::Json<ClinicProfile>,) =
                    sqlx::query_as("SELECT profile FROM clinic_profiles WHERE tenant_id = $1").bind(t).fetch_one(&mut **tx).await?;
                let active: Option<(bool,)> = sqlx::query_as("SELECT active FROM practitioners WHERE tenant_id = $1 AND id = $2")
                    .bind(t)
                    .bind(practitioner.as_uuid())
                    .fetch_optional(&mut **tx)
                    .await?;
                let svc: Option<(i32, i32, bool)> =
                    sqlx::query_as("SELECT duration_min, buffer_min, active FROM services WHERE tenant_id = $1 AND id = $2")
                        .bind(t)
                        .bind(service.as_uuid())
                        .fetch_optional(&mut **tx)
                        .await?;
                let (Some((true,)), Some((duration, buffer, true))) = (active, svc) else {
                    return Err(StoreError::NotFound);
                };
                // When the clinic says who provides the service, nobody else can be booked for it.
                let providers: Vec<(Uuid,)> =
                    sqlx::query_as("SELECT practitioner_id FROM practitioner_services WHERE tenant_id = $1 AND service_id = $2")
                        .bind(t)
                        .bind(service.as_uuid())
                        .fetch_all(&mut **tx)
                        .await?;
                if !providers.is_empty() && !providers.iter().any(|(p,)| *p == practitioner.as_uuid()) {
                    return Err(StoreError::NotFound);
                }
                let rows: Vec<(i16, i32, i32)> = sqlx::query_as(
                    "SELECT weekday, open_min, close_min FROM working_hours WHERE tenant_id = $1 AND practitioner_id = $2",
                )
                .bind(t)
                .bind(practitioner.as_uuid())
                .fetch_all(&mut **tx)
                .await?;
                let mut hours = WeeklyHours::default();
                for (weekday, open, close) in rows {
                    if let (Some(slot), Ok(open), Ok(close)) =
                        (usize::try_from(weekday - 1).ok().and_then(|i| hours.0.get_mut(i)), u16::try_from(open), u16::try_from(close))
                    {
                        *slot = Some(DayHours::new(open, close)?);
                    }
                }
                let tz = profile.0.time_zone()?;
                Ok((tz, hours, jiff::SignedDuration::from_mins(i64::from(duration)), jiff::SignedDuration::from_mins(i64::from(buffer))))
            }

            /// Live bookings and exceptions of the practitioner overlapping `[from, to)`.
            async fn busy_spans(&self, tx: &mut Tx, tenant: TenantId, practitioner: PractitionerId, from: i64, to: i64) -> Result<Vec<frontdesk_domain::schedule::Span>> {
                let rows: Vec<(i64, i64)> = sqlx::query_as(
                    "SELECT starts_at, busy_until FROM appointments WHERE tenant_id = $1 AND practitioner_id = $2 \
                     AND status IN ('booked', 'confirmed') AND starts_at < $4 AND busy_until > $3 \
                     UNION ALL \
                     SELECT starts_at, ends_at FROM schedule_exceptions WHERE tenant_id = $1 \
                     AND (practitioner_id = $2 OR practitioner_id IS NULL) AND starts_at < $4 AND ends_at > $3",
                )
                .bind(tenant.as_uuid())
                .bind(practitioner.as_uuid())
                .bind(from)
                .bind(to)
                .fetch_all(&mut **tx)
                .await?;
                rows.into_iter().map(|(s, e)| Ok(frontdesk_domain::schedule::Span { start: from_us(s)?, end: from_us(e)? })).collect()
            }

            async fn appointment_by_key(&self, tx: &mut Tx, tenant: TenantId, key: &str) -> Result<Option<Appointment>> {
                let row: Option<AppointmentRow> =
                    sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT {APPOINTMENT_COLUMNS} FROM appointments WHERE tenant_id = $1 AND idempotency_key = $2")))
                        .bind(tenant.as_uuid())
                        .bind(key)
                        .fetch_optional(&mut **tx)
                        .await?;
                row.map(appointment_from_row).transpose()
            }

            async fn appointment_tx(&self, tx: &mut Tx, tenant: TenantId, id: AppointmentId) -> Result<Option<Appointment>> {
                let row: Option<AppointmentRow> =
                    sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT {APPOINTMENT_COLUMNS} FROM appointments WHERE tenant_id = $1 AND id = $2")))
                        .bind(tenant.as_uuid())
                        .bind(id.as_uuid())
                        .fetch_optional(&mut **tx)
                        .await?;
                row.map(appointment_from_row).transpose()
            }

            /// Checks and inserts one booking inside the caller's write transaction (no audit).
            async fn insert_booking(&self, tx: &mut Tx, tenant: TenantId, now: jiff::Timestamp, new: &NewAppointment) -> Result<Appointment> {
                // The patient must exist in this tenant (and not only somewhere).
                sqlx::query("SELECT id FROM patients WHERE tenant_id = $1 AND id = $2")
                    .bind(tenant.as_uuid())
                    .bind(new.patient.as_uuid())
                    .fetch_optional(&mut **tx)
                    .await?
                    .ok_or(StoreError::NotFound)?;
                let (tz, hours, duration, buffer) = self.booking_context(tx, tenant, new.practitioner, new.service).await?;
                let start = new.starts_at;
                let end = start.checked_add(duration).map_err(|_| StoreError::Corrupt("duration"))?;
                let busy_until = end.checked_add(buffer).map_err(|_| StoreError::Corrupt("buffer"))?;
                if start < now {
                    return Err(DomainError::invalid("start", "is in the past").into());
                }
                let last_minute = end.checked_sub(jiff::SignedDuration::from_mins(1)).unwrap_or(end);
                let same_local_day = start.to_zoned(tz.clone()).date() == last_minute.to_zoned(tz.clone()).date();
                if !(hours.is_open_at(start, &tz) && hours.is_open_at(last_minute, &tz) && same_local_day) {
                    return Err(DomainError::invalid("start", "is outside the practitioner's hours").into());
                }
                let (s_us, b_us) = (crate::to_us(start), crate::to_us(busy_until));
                if !self.busy_spans(tx, tenant, new.practitioner, s_us, b_us).await?.is_empty() {
                    return Err(StoreError::Conflict("that time is no longer free"));
                }
                let id = AppointmentId::new();
                let now_us = crate::to_us(now);
                sqlx::query(
                    "INSERT INTO appointments (tenant_id, id, patient_id, practitioner_id, service_id, starts_at, ends_at, busy_until, \
                     status, idempotency_key, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'booked', $9, $10, $10)",
                )
                .bind(tenant.as_uuid())
                .bind(id.as_uuid())
                .bind(new.patient.as_uuid())
                .bind(new.practitioner.as_uuid())
                .bind(new.service.as_uuid())
                .bind(s_us)
                .bind(crate::to_us(end))
                .bind(b_us)
                .bind(&new.idempotency_key)
                .bind(now_us)
                .execute(&mut **tx)
                .await?;
                Ok(Appointment {
                    id,
                    patient_id: new.patient,
                    practitioner_id: new.practitioner,
                    service_id: new.service,
                    starts_at: start,
                    ends_at: end,
                    busy_until,
                    status: AppointmentStatus::Booked,
                })
            }

            /// The audit entry of a new booking.
            fn booked_event(actor: Actor, appt: &Appointment) -> AuditEvent {
                AuditEvent::new(actor, "appointment.booked").target("appointment", appt.id).details(serde_json::json!({
                    "patient": appt.patient_id.to_string(),
                    "practitioner": appt.practitioner_id.to_string(),
                    "service": appt.service_id.to_string(),
                    "starts_at": appt.starts_at.to_string(),
                }))
            }

            /// A live appointment still ahead was just cancelled or moved away: its time is held
            /// for the waitlist (a pending hold, offered by `offer_hold`), when someone is
            /// waiting for that service at that time. At most one hold per appointment.
            async fn free_slot_tx(&self, tx: &mut Tx, tenant: TenantId, old: &Appointment, now: i64) -> Result<()> {
                let starts = crate::to_us(old.starts_at);
                if !matches!(old.status, AppointmentStatus::Booked | AppointmentStatus::Confirmed) || starts <= now {
                    return Ok(());
                }
                sqlx::query(
                    "INSERT INTO slot_holds (tenant_id, id, source_appointment_id, practitioner_id, service_id, starts_at, busy_until, \
                     status, created_at, updated_at) \
                     SELECT $1, $2, $3, $4, $5, $6, $7, 'pending', $8, $8 WHERE EXISTS (SELECT 1 FROM waitlist_entries \
                     WHERE tenant_id = $1 AND service_id = $5 AND status = 'waiting' AND (practitioner_id IS NULL OR practitioner_id = $4) \
                     AND window_start <= $6 AND window_end >= $6) \
                     ON CONFLICT DO NOTHING",
                )
                .bind(tenant.as_uuid())
                .bind(SlotHoldId::new().as_uuid())
                .bind(old.id.as_uuid())
                .bind(old.practitioner_id.as_uuid())
                .bind(old.service_id.as_uuid())
                .bind(starts)
                .bind(crate::to_us(old.busy_until))
                .bind(now)
                .execute(&mut **tx)
                .await?;
                Ok(())
            }

            async fn try_book(&self, scope: TenantScope, new: &NewAppointment) -> Result<Appointment> {
                let tenant = scope.tenant_id();
                let now = self.clock.now();
                let mut tx = self.write_tx(Some(scope)).await?;
                if let Some(existing) = self.appointment_by_key(&mut tx, tenant, &new.idempotency_key).await? {
                    return Ok(existing);
                }
                let appt = self.insert_booking(&mut tx, tenant, now, new).await?;
                let ev = Self::booked_event(new.actor, &appt);
                self.append_audit_tx(&mut tx, tenant, crate::to_us(now), &ev).await?;
                self.emit_appointment_event_tx(&mut tx, tenant, "appointment.created", &appt, None, crate::to_us(now)).await?;
                tx.commit().await?;
                Ok(appt)
            }

            /// One move: the old appointment is cancelled first, so the new time may overlap
            /// it (10:00 → 10:15), then the new one is booked with every check; any failure
            /// rolls both back.
            async fn try_reschedule(&self, scope: TenantScope, id: AppointmentId, to: (jiff::Timestamp, PractitionerId), actor: Actor, key: &str) -> Result<Appointment> {
                let tenant = scope.tenant_id();
                let now = self.clock.now();
                let now_us = crate::to_us(now);
                let mut tx = self.write_tx(Some(scope)).await?;
                let old = self.appointment_tx(&mut tx, tenant, id).await?.ok_or(StoreError::NotFound)?;
                if let Some(existing) = self.appointment_by_key(&mut tx, tenant, key).await? {
                    // A key names one move of one patient's appointment; anything else is a clash.
                    return if existing.patient_id == old.patient_id && existing.service_id == old.service_id {
                        Ok(existing)
                    } else {
                        Err(StoreError::Conflict("already exists"))
                    };
                }
                if !matches!(old.status, AppointmentStatus::Booked | AppointmentStatus::Confirmed) {
                    return Err(StoreError::Conflict("the appointment is no longer booked"));
                }
                if old.starts_at < now {
                    return Err(DomainError::invalid("appointment", "has already started").into());
                }
                // Conditional, so a cancellation committed meanwhile is not silently overridden.
                let done = sqlx::query(
                    "UPDATE appointments SET status = 'cancelled', updated_at = $3 WHERE tenant_id = $1 AND id = $2 \
                     AND status IN ('booked', 'confirmed')",
                )
                .bind(tenant.as_uuid())
                .bind(id.as_uuid())
                .bind(now_us)
                .execute(&mut *tx)
                .await?;
                if done.rows_affected() != 1 {
                    return Err(StoreError::Conflict("the appointment is no longer booked"));
                }
                self.free_slot_tx(&mut tx, tenant, &old, now_us).await?;
                let new = NewAppointment {
                    patient: old.patient_id,
                    practitioner: to.1,
                    service: old.service_id,
                    starts_at: to.0,
                    idempotency_key: key.to_owned(),
                    actor,
                };
                let appt = self.insert_booking(&mut tx, tenant, now, &new).await?;
                let ev = AuditEvent::new(new.actor, "appointment.rescheduled").target("appointment", appt.id).details(serde_json::json!({
                    "from": old.id.to_string(),
                    "patient": old.patient_id.to_string(),
                    "service": old.service_id.to_string(),
                    "from_practitioner": old.practitioner_id.to_string(),
                    "from_starts_at": old.starts_at.to_string(),
                    "practitioner": appt.practitioner_id.to_string(),
                    "starts_at": appt.starts_at.to_string(),
                }));
                self.append_audit_tx(&mut tx, tenant, now_us, &ev).await?;
                self.emit_appointment_event_tx(&mut tx, tenant, "appointment.changed", &appt, Some(old.id), now_us).await?;
                tx.commit().await?;
                Ok(appt)
            }
        }

        #[async_trait]
        impl AppointmentStore for $Store {
            async fn add_schedule_exception(
                &self,
                scope: TenantScope,
                practitioner: Option<PractitionerId>,
                span: frontdesk_domain::schedule::Span,
                reason: &str,
            ) -> Result<()> {
                if span.start >= span.end {
                    return Err(DomainError::invalid("exception", "must end after it starts").into());
                }
                let tenant = scope.tenant_id();
                let now = self.now_us();
                let mut tx = self.write_tx(Some(scope)).await?;
                if let Some(p) = practitioner {
                    sqlx::query("SELECT id FROM practitioners WHERE tenant_id = $1 AND id = $2")
                        .bind(tenant.as_uuid())
                        .bind(p.as_uuid())
                        .fetch_optional(&mut *tx)
                        .await?
                        .ok_or(StoreError::NotFound)?;
                }
                let id = Uuid::now_v7();
                sqlx::query("INSERT INTO schedule_exceptions (tenant_id, id, practitioner_id, starts_at, ends_at, reason) VALUES ($1, $2, $3, $4, $5, $6)")
                    .bind(tenant.as_uuid())
                    .bind(id)
                    .bind(practitioner.map(|p| p.as_uuid()))
                    .bind(crate::to_us(span.start))
                    .bind(crate::to_us(span.end))
                    .bind(reason)
                    .execute(&mut *tx)
                    .await?;
                let ev = AuditEvent::new(Actor::Operator, "schedule.exception_added").target("schedule_exception", id);
                self.append_audit_tx(&mut tx, tenant, now, &ev).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn free_slots(&self, scope: TenantScope, search: &SlotSearch) -> Result<Vec<frontdesk_domain::schedule::Slot>> {
                let tenant = scope.tenant_id();
                let mut tx = self.read_tx(Some(scope)).await?;
                let (tz, hours, duration, buffer) = self.booking_context(&mut tx, tenant, search.practitioner, search.service).await?;
                // Busy ranges from a day before the first date to two days after the last, in UTC.
                let edge = |d: jiff::civil::Date, days: i64| -> Result<i64> {
                    let z = d.to_zoned(tz.clone()).map_err(|_| StoreError::Corrupt("date"))?;
                    let z = z.checked_add(jiff::SignedDuration::from_hours(24 * days)).map_err(|_| StoreError::Corrupt("date"))?;
                    Ok(crate::to_us(z.timestamp()))
                };
                let busy = self.busy_spans(&mut tx, tenant, search.practitioner, edge(search.from, -1)?, edge(search.to, 2)?).await?;
                tx.commit().await?;
                let q = frontdesk_domain::schedule::SlotQuery {
                    tz: &tz,
                    hours: &hours,
                    duration,
                    buffer,
                    busy: &busy,
                    now: self.clock.now(),
                    min_notice: search.min_notice,
                    from: search.from,
                    to: search.to,
                    step_min: 15,
                    day_start: search.day_start,
                    day_end: search.day_end,
                };
                Ok(frontdesk_domain::schedule::free_slots(&q, search.limit))
            }

            async fn book_appointment(&self, scope: TenantScope, new: &NewAppointment) -> Result<Appointment> {
                let mut attempt = 1;
                let booked = loop {
                    match self.try_book(scope, new).await {
                        Err(e) if e.is_transient() && attempt < $crate::error::TRANSIENT_ATTEMPTS => {
                            tracing::debug!(attempt, "booking was a deadlock victim; trying again");
                            $crate::error::transient_backoff(attempt).await;
                            attempt += 1;
                        }
                        other => break other,
                    }
                };
                match booked {
                    // Requests with one idempotency key raced (a redelivery): the loser may trip
                    // the unique key or, on PostgreSQL, the exclusion constraint first. Either
                    // way it answers the winner's booking.
                    Err(StoreError::Conflict(why)) => {
                        let mut tx = self.read_tx(Some(scope)).await?;
                        let found = self.appointment_by_key(&mut tx, scope.tenant_id(), &new.idempotency_key).await?;
                        tx.commit().await?;
                        match found {
                            Some(existing) => Ok(existing),
                            None if why == "already exists" => Err(StoreError::Conflict("that time is no longer free")),
                            None => Err(StoreError::Conflict(why)),
                        }
                    }
                    other => other,
                }
            }

            async fn cancel_appointment(&self, scope: TenantScope, id: AppointmentId, actor: Actor) -> Result<Appointment> {
                let tenant = scope.tenant_id();
                let now = self.now_us();
                let mut tx = self.write_tx(Some(scope)).await?;
                let mut appt = self.appointment_tx(&mut tx, tenant, id).await?.ok_or(StoreError::NotFound)?;
                if appt.status == AppointmentStatus::Cancelled {
                    return Ok(appt);
                }
                sqlx::query("UPDATE appointments SET status = 'cancelled', updated_at = $3 WHERE tenant_id = $1 AND id = $2")
                    .bind(tenant.as_uuid())
                    .bind(id.as_uuid())
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                self.free_slot_tx(&mut tx, tenant, &appt, now).await?;
                let ev = AuditEvent::new(actor, "appointment.cancelled").target("appointment", id);
                self.append_audit_tx(&mut tx, tenant, now, &ev).await?;
                appt.status = AppointmentStatus::Cancelled;
                self.emit_appointment_event_tx(&mut tx, tenant, "appointment.cancelled", &appt, None, now).await?;
                tx.commit().await?;
                Ok(appt)
            }

            async fn reschedule_appointment(
                &self,
                scope: TenantScope,
                id: AppointmentId,
                new_start: jiff::Timestamp,
                practitioner: PractitionerId,
                actor: Actor,
                idempotency_key: &str,
            ) -> Result<Appointment> {
                let mut attempt = 1;
                let moved = loop {
                    match self.try_reschedule(scope, id, (new_start, practitioner), actor, idempotency_key).await {
                        Err(e) if e.is_transient() && attempt < $crate::error::TRANSIENT_ATTEMPTS => {
                            tracing::debug!(attempt, "move was a deadlock victim; trying again");
                            $crate::error::transient_backoff(attempt).await;
                            attempt += 1;
                        }
                        other => break other,
                    }
                };
                match moved {
                    // As for bookings: a retry that raced the first move answers that move.
                    Err(StoreError::Conflict(why)) => {
                        let mut tx = self.read_tx(Some(scope)).await?;
                        let tenant = scope.tenant_id();
                        let found = self.appointment_by_key(&mut tx, tenant, idempotency_key).await?;
                        let old = self.appointment_tx(&mut tx, tenant, id).await?;
                        tx.commit().await?;
                        match (found, old) {
                            (Some(moved), Some(old)) if moved.patient_id == old.patient_id && moved.service_id == old.service_id => Ok(moved),
                            (_, None) => Err(StoreError::NotFound),
                            _ if why == "already exists" => Err(StoreError::Conflict("that time is no longer free")),
                            _ => Err(StoreError::Conflict(why)),
                        }
                    }
                    other => other,
                }
            }

            async fn confirm_appointment(&self, scope: TenantScope, id: AppointmentId, actor: Actor) -> Result<Appointment> {
                let tenant = scope.tenant_id();
                let now = self.now_us();
                let mut tx = self.write_tx(Some(scope)).await?;
                let mut appt = self.appointment_tx(&mut tx, tenant, id).await?.ok_or(StoreError::NotFound)?;
                match appt.status {
                    AppointmentStatus::Confirmed => return Ok(appt),
                    AppointmentStatus::Booked => {}
                    _ => return Err(StoreError::Conflict("the appointment is no longer booked")),
                }
                if crate::to_us(appt.starts_at) <= now {
                    return Err(DomainError::invalid("appointment", "has already started").into());
                }
                sqlx::query("UPDATE appointments SET status = 'confirmed', updated_at = $3 WHERE tenant_id = $1 AND id = $2")
                    .bind(tenant.as_uuid())
                    .bind(id.as_uuid())
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                let ev = AuditEvent::new(actor, "appointment.confirmed").target("appointment", id);
                self.append_audit_tx(&mut tx, tenant, now, &ev).await?;
                appt.status = AppointmentStatus::Confirmed;
                self.emit_appointment_event_tx(&mut tx, tenant, "appointment.changed", &appt, None, now).await?;
                tx.commit().await?;
                Ok(appt)
            }

            async fn appointment(&self, scope: TenantScope, id: AppointmentId) -> Result<Appointment> {
                let mut tx = self.read_tx(Some(scope)).await?;
                let found = self.appointment_tx(&mut tx, scope.tenant_id(), id).await?;
                tx.commit().await?;
                found.ok_or(StoreError::NotFound)
            }

            async fn patient_appointments(&self, scope: TenantScope, patient: PatientId, after: jiff::Timestamp) -> Result<Vec<Appointment>> {
                let mut tx = self.read_tx(Some(scope)).await?;
                let rows: Vec<AppointmentRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "SELECT {APPOINTMENT_COLUMNS} FROM appointments WHERE tenant_id = $1 AND patient_id = $2 \
                     AND status IN ('booked', 'confirmed') AND ends_at > $3 ORDER BY starts_at"
                )))
                .bind(scope.tenant_id().as_uuid())
                .bind(patient.as_uuid())
                .bind(crate::to_us(after))
                .fetch_all(&mut *tx)
                .await?;
                tx.commit().await?;
                rows.into_iter().map(appointment_from_row).collect()
            }

            async fn search_appointments(&self, scope: TenantScope, q: &AppointmentSearch) -> Result<Vec<(Appointment, jiff::Timestamp)>> {
                if q.limit == 0 || q.limit > 1000 {
                    return Err(StoreError::Invalid(DomainError::invalid("limit", "1 to 1000")));
                }
                let statuses: String = q.statuses.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" ");
                let mut tx = self.read_tx(Some(scope)).await?;
                let rows: Vec<(Uuid, Uuid, Uuid, Uuid, i64, i64, i64, String, i64)> = sqlx::query_as(
                    "SELECT id, patient_id, practitioner_id, service_id, starts_at, ends_at, busy_until, status, updated_at \
                     FROM appointments WHERE tenant_id = $1 \
                       AND ($2 IS NULL OR starts_at >= $2) AND ($3 IS NULL OR starts_at < $3) \
                       AND ($4 IS NULL OR practitioner_id = $4) AND ($5 IS NULL OR patient_id = $5) \
                       AND ($6 IS NULL OR updated_at >= $6) AND ($7 IS NULL OR updated_at < $7) \
                       AND ($8 = '' OR (' ' || $8 || ' ') LIKE ('% ' || status || ' %')) \
                       AND ($9 IS NULL OR starts_at > $9 OR (starts_at = $9 AND id > $10)) \
                       AND ($12 IS NULL OR id = $12) \
                     ORDER BY starts_at, id LIMIT $11",
                )
                .bind(scope.tenant_id().as_uuid())
                .bind(q.starts_from.map(crate::to_us))
                .bind(q.starts_before.map(crate::to_us))
                .bind(q.practitioner.map(|p| p.as_uuid()))
                .bind(q.patient.map(|p| p.as_uuid()))
                .bind(q.updated_from.map(crate::to_us))
                .bind(q.updated_before.map(crate::to_us))
                .bind(statuses)
                .bind(q.after.map(|(t, _)| crate::to_us(t)))
                .bind(q.after.map(|(_, id)| id.as_uuid()))
                .bind(i64::from(q.limit))
                .bind(q.id.map(|id| id.as_uuid()))
                .fetch_all(&mut *tx)
                .await?;
                tx.commit().await?;
                rows.into_iter()
                    .map(|(a, b, c, d, e, f, g, h, updated)| Ok((appointment_from_row((a, b, c, d, e, f, g, h))?, from_us(updated)?)))
                    .collect()
            }

            async fn diary(&self, scope: TenantScope, from: jiff::Timestamp, to: jiff::Timestamp) -> Result<Vec<DiaryEntry>> {
                self.diary_between(scope, from, to).await
            }
        }

        impl $Store {
            /// A patient's appointments, newest first (at most 100), inside `tx`.
            pub(crate) async fn patient_history_tx(&self, tx: &mut Tx, tenant: TenantId, patient: PatientId) -> Result<Vec<Appointment>> {
                let rows: Vec<AppointmentRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "SELECT {APPOINTMENT_COLUMNS} FROM appointments WHERE tenant_id = $1 AND patient_id = $2 ORDER BY starts_at DESC LIMIT 100"
                )))
                .bind(tenant.as_uuid())
                .bind(patient.as_uuid())
                .fetch_all(&mut **tx)
                .await?;
                rows.into_iter().map(appointment_from_row).collect()
            }

            async fn diary_between(&self, scope: TenantScope, from: jiff::Timestamp, to: jiff::Timestamp) -> Result<Vec<DiaryEntry>> {
                let tenant = scope.tenant_id();
                let mut tx = self.read_tx(Some(scope)).await?;
                let rows: Vec<AppointmentRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "SELECT {APPOINTMENT_COLUMNS} FROM appointments WHERE tenant_id = $1 \
                     AND status IN ('booked', 'confirmed') AND starts_at < $3 AND ends_at > $2 ORDER BY starts_at, id LIMIT 1000"
                )))
                .bind(tenant.as_uuid())
                .bind(crate::to_us(from))
                .bind(crate::to_us(to))
                .fetch_all(&mut *tx)
                .await?;
                let mut names: std::collections::HashMap<PatientId, Option<String>> = std::collections::HashMap::new();
                let mut out = Vec::with_capacity(rows.len());
                for row in rows {
                    let appointment = appointment_from_row(row)?;
                    let patient = appointment.patient_id;
                    if !names.contains_key(&patient) {
                        let name = match self.fetch_patient(&mut tx, tenant, patient).await {
                            Ok(p) => p.name,
                            // Erased meanwhile: no key, nothing to open.
                            Err(StoreError::NotFound) => None,
                            Err(e) => return Err(e),
                        };
                        names.insert(patient, name);
                    }
                    out.push(DiaryEntry { patient_name: names.get(&patient).cloned().flatten(), appointment });
                }
                tx.commit().await?;
                Ok(out)
            }
        }
    };
}

pub(crate) use impl_appointments;
