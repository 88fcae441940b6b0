//! Shared SQL for the waitlist. A cancelled or moved appointment leaves a pending
//! `slot_holds` row (written by the cancellation itself, see `free_slot_tx`). `offer_hold`
//! claims a pending hold (pending → offered, conditional, so two offerers never both offer
//! it) and messages the first matching waiting patients. `take_hold` claims an offered hold
//! with one conditional UPDATE (offered → taken) and books the time in the same transaction:
//! on PostgreSQL racing confirmations queue on that row's lock and the losers find it taken
//! once the winner commits; on SQLite the write transaction (`BEGIN IMMEDIATE`) runs them one
//! at a time. Either way there is never more than one winner, and the booking itself is also
//! keyed `waitlist:<hold>` and protected against overlaps like any other.

macro_rules! impl_waitlist {
    ($Store:ty) => {
        type WaitlistRow = (Uuid, Uuid, Uuid, Option<Uuid>, i64, i64, String, i64);
        const WAITLIST_COLUMNS: &str = "id, patient_id, service_id, practitioner_id, window_start, window_end, status, created_at";

        fn waitlist_from_row(r: WaitlistRow) -> Result<WaitlistEntry> {
            Ok(WaitlistEntry {
                id: WaitlistEntryId::from_uuid(r.0),
                patient: PatientId::from_uuid(r.1),
                service: ServiceId::from_uuid(r.2),
                practitioner: r.3.map(PractitionerId::from_uuid),
                window_start: from_us(r.4)?,
                window_end: from_us(r.5)?,
                status: WaitlistStatus::parse(&r.6)?,
                created_at: from_us(r.7)?,
            })
        }

        type HoldRow = (Uuid, Uuid, Uuid, Uuid, i64, String, Option<i64>, Option<Uuid>);
        const HOLD_COLUMNS: &str = "id, source_appointment_id, practitioner_id, service_id, starts_at, status, expires_at, appointment_id";

        /// An offered hold whose offer has run out reads as `Expired`.
        fn hold_from_row(r: HoldRow, now: i64) -> Result<SlotHold> {
            let mut status = HoldStatus::parse(&r.5)?;
            if status == HoldStatus::Offered && r.6.is_none_or(|e| e <= now) {
                status = HoldStatus::Expired;
            }
            Ok(SlotHold {
                id: SlotHoldId::from_uuid(r.0),
                source_appointment: AppointmentId::from_uuid(r.1),
                practitioner: PractitionerId::from_uuid(r.2),
                service: ServiceId::from_uuid(r.3),
                starts_at: from_us(r.4)?,
                status,
                expires_at: r.6.map(from_us).transpose()?,
                appointment: r.7.map(AppointmentId::from_uuid),
            })
        }

        impl $Store {
            async fn hold_tx(&self, tx: &mut Tx, tenant: TenantId, id: SlotHoldId) -> Result<Option<SlotHold>> {
                let row: Option<HoldRow> =
                    sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT {HOLD_COLUMNS} FROM slot_holds WHERE tenant_id = $1 AND id = $2")))
                        .bind(tenant.as_uuid())
                        .bind(id.as_uuid())
                        .fetch_optional(&mut **tx)
                        .await?;
                row.map(|r| hold_from_row(r, self.now_us())).transpose()
            }

            /// The claimed hold's time could not be booked (taken meanwhile through a normal
            /// booking, hours changed, practitioner gone): the hold is dead.
            async fn expire_hold(&self, scope: TenantScope, hold: SlotHoldId) -> Result<()> {
                let now = self.now_us();
                let mut tx = self.write_tx(Some(scope)).await?;
                sqlx::query(
                    "UPDATE slot_holds SET status = 'expired', updated_at = $3 WHERE tenant_id = $1 AND id = $2 AND status = 'offered'",
                )
                .bind(scope.tenant_id().as_uuid())
                .bind(hold.as_uuid())
                .bind(now)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(())
            }

            /// The claim and the booking, in one transaction; `Err(Conflict | Invalid |
            /// NotFound)` from the booking means the time cannot be had.
            async fn try_take_hold(&self, scope: TenantScope, hold: SlotHoldId, patient: PatientId, actor: Actor) -> Result<TakeOutcome> {
                let tenant = scope.tenant_id();
                let now = self.clock.now();
                let now_us = crate::to_us(now);
                let mut tx = self.write_tx(Some(scope)).await?;
                if self.hold_tx(&mut tx, tenant, hold).await?.is_none() {
                    return Err(StoreError::NotFound);
                }
                // The winner confirming again (a redelivered "yes") gets its booking back.
                let won: Option<(Option<Uuid>,)> = sqlx::query_as(
                    "SELECT h.appointment_id FROM slot_holds h JOIN waitlist_entries e ON e.tenant_id = h.tenant_id AND e.id = h.winner_entry_id \
                     WHERE h.tenant_id = $1 AND h.id = $2 AND h.status = 'taken' AND e.patient_id = $3",
                )
                .bind(tenant.as_uuid())
                .bind(hold.as_uuid())
                .bind(patient.as_uuid())
                .fetch_optional(&mut *tx)
                .await?;
                if let Some((appointment,)) = won {
                    let appt = match appointment {
                        Some(a) => self.appointment_tx(&mut tx, tenant, AppointmentId::from_uuid(a)).await?,
                        None => None,
                    };
                    return Ok(match appt {
                        Some(a) if matches!(a.status, AppointmentStatus::Booked | AppointmentStatus::Confirmed) => TakeOutcome::Booked(a),
                        _ => TakeOutcome::Gone,
                    });
                }
                let offered: Option<(Uuid,)> = sqlx::query_as(
                    "SELECT e.id FROM waitlist_offers o JOIN waitlist_entries e ON e.tenant_id = o.tenant_id AND e.id = o.entry_id \
                     WHERE o.tenant_id = $1 AND o.hold_id = $2 AND e.patient_id = $3 AND e.status = 'waiting' \
                     ORDER BY e.created_at, e.id LIMIT 1",
                )
                .bind(tenant.as_uuid())
                .bind(hold.as_uuid())
                .bind(patient.as_uuid())
                .fetch_optional(&mut *tx)
                .await?;
                let Some((entry,)) = offered else {
                    return Ok(TakeOutcome::NotOffered);
                };
                // The one claim: whoever changes the row first wins; everyone after finds it taken.
                let claimed: Option<(Uuid, Uuid, i64)> = sqlx::query_as(
                    "UPDATE slot_holds SET status = 'taken', winner_entry_id = $3, updated_at = $4 \
                     WHERE tenant_id = $1 AND id = $2 AND status = 'offered' AND expires_at > $4 AND starts_at > $4 \
                     RETURNING practitioner_id, service_id, starts_at",
                )
                .bind(tenant.as_uuid())
                .bind(hold.as_uuid())
                .bind(entry)
                .bind(now_us)
                .fetch_optional(&mut *tx)
                .await?;
                let Some((practitioner, service, starts_at)) = claimed else {
                    return Ok(TakeOutcome::Gone);
                };
                let new = NewAppointment {
                    patient,
                    practitioner: PractitionerId::from_uuid(practitioner),
                    service: ServiceId::from_uuid(service),
                    starts_at: from_us(starts_at)?,
                    idempotency_key: format!("waitlist:{hold}"),
                    actor,
                };
                let appt = self.insert_booking(&mut tx, tenant, now, &new).await?;
                self.emit_appointment_event_tx(&mut tx, tenant, "appointment.created", &appt, None, now_us).await?;
                sqlx::query("UPDATE waitlist_entries SET status = 'booked', updated_at = $3 WHERE tenant_id = $1 AND id = $2")
                    .bind(tenant.as_uuid())
                    .bind(entry)
                    .bind(now_us)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("UPDATE slot_holds SET appointment_id = $3 WHERE tenant_id = $1 AND id = $2")
                    .bind(tenant.as_uuid())
                    .bind(hold.as_uuid())
                    .bind(appt.id.as_uuid())
                    .execute(&mut *tx)
                    .await?;
                self.append_audit_tx(&mut tx, tenant, now_us, &Self::booked_event(actor, &appt)).await?;
                let ev = AuditEvent::new(actor, "waitlist.taken").target("slot_hold", hold).details(serde_json::json!({
                    "entry": entry.to_string(),
                    "patient": patient.to_string(),
                    "appointment": appt.id.to_string(),
                }));
                self.append_audit_tx(&mut tx, tenant, now_us, &ev).await?;
                tx.commit().await?;
                Ok(TakeOutcome::Booked(appt))
            }
        }

        #[async_trait]
        impl WaitlistStore for $Store {
            async fn join_waitlist(&self, scope: TenantScope, new: &NewWaitlistEntry) -> Result<WaitlistEntry> {
                let tenant = scope.tenant_id();
                let now = self.now_us();
                let (start, end) = (crate::to_us(new.window_start), crate::to_us(new.window_end));
                if end <= start {
                    return Err(DomainError::invalid("window", "must end after it starts").into());
                }
                if end <= now {
                    return Err(DomainError::invalid("window", "is in the past").into());
                }
                let mut tx = self.write_tx(Some(scope)).await?;
                let t = tenant.as_uuid();
                sqlx::query("SELECT id FROM patients WHERE tenant_id = $1 AND id = $2")
                    .bind(t)
                    .bind(new.patient.as_uuid())
                    .fetch_optional(&mut *tx)
                    .await?
                    .ok_or(StoreError::NotFound)?;
                let service: Option<(bool,)> = sqlx::query_as("SELECT active FROM services WHERE tenant_id = $1 AND id = $2")
                    .bind(t)
                    .bind(new.service.as_uuid())
                    .fetch_optional(&mut *tx)
                    .await?;
                if service != Some((true,)) {
                    return Err(StoreError::NotFound);
                }
                if let Some(p) = new.practitioner {
                    let active: Option<(bool,)> = sqlx::query_as("SELECT active FROM practitioners WHERE tenant_id = $1 AND id = $2")
                        .bind(t)
                        .bind(p.as_uuid())
                        .fetch_optional(&mut *tx)
                        .await?;
                    if active != Some((true,)) {
                        return Err(StoreError::NotFound);
                    }
                }
                let id = WaitlistEntryId::new();
                // The unique index `waitlist_entries_once` makes the same waiting request one row.
                let inserted = sqlx::query(
                    "INSERT INTO waitlist_entries (tenant_id, id, patient_id, service_id, practitioner_id, window_start, window_end, \
                     status, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, 'waiting', $8, $8) ON CONFLICT DO NOTHING",
                )
                .bind(t)
                .bind(id.as_uuid())
                .bind(new.patient.as_uuid())
                .bind(new.service.as_uuid())
                .bind(new.practitioner.map(|p| p.as_uuid()))
                .bind(start)
                .bind(end)
                .bind(now)
                .execute(&mut *tx)
                .await?
                .rows_affected()
                    == 1;
                if inserted {
                    let ev = AuditEvent::new(new.actor, "waitlist.joined").target("waitlist_entry", id).details(serde_json::json!({
                        "patient": new.patient.to_string(),
                        "service": new.service.to_string(),
                        "practitioner": new.practitioner.map(|p| p.to_string()),
                    }));
                    self.append_audit_tx(&mut tx, tenant, now, &ev).await?;
                }
                let row: WaitlistRow = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "SELECT {WAITLIST_COLUMNS} FROM waitlist_entries WHERE tenant_id = $1 AND patient_id = $2 AND service_id = $3 \
                     AND (practitioner_id = $4 OR (practitioner_id IS NULL AND $4 IS NULL)) AND window_start = $5 AND window_end = $6 \
                     AND status = 'waiting'"
                )))
                .bind(t)
                .bind(new.patient.as_uuid())
                .bind(new.service.as_uuid())
                .bind(new.practitioner.map(|p| p.as_uuid()))
                .bind(start)
                .bind(end)
                .fetch_one(&mut *tx)
                .await?;
                tx.commit().await?;
                waitlist_from_row(row)
            }

            async fn patient_waitlist(&self, scope: TenantScope, patient: PatientId) -> Result<Vec<WaitlistEntry>> {
                let mut tx = self.read_tx(Some(scope)).await?;
                let rows: Vec<WaitlistRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "SELECT {WAITLIST_COLUMNS} FROM waitlist_entries WHERE tenant_id = $1 AND patient_id = $2 AND status = 'waiting' \
                     ORDER BY created_at, id"
                )))
                .bind(scope.tenant_id().as_uuid())
                .bind(patient.as_uuid())
                .fetch_all(&mut *tx)
                .await?;
                tx.commit().await?;
                rows.into_iter().map(waitlist_from_row).collect()
            }

            async fn withdraw_waitlist(&self, scope: TenantScope, entry: WaitlistEntryId, actor: Actor) -> Result<()> {
                let tenant = scope.tenant_id();
                let now = self.now_us();
                let mut tx = self.write_tx(Some(scope)).await?;
                let status: Option<(String,)> = sqlx::query_as("SELECT status FROM waitlist_entries WHERE tenant_id = $1 AND id = $2")
                    .bind(tenant.as_uuid())
                    .bind(entry.as_uuid())
                    .fetch_optional(&mut *tx)
                    .await?;
                let (status,) = status.ok_or(StoreError::NotFound)?;
                match WaitlistStatus::parse(&status)? {
                    WaitlistStatus::Withdrawn => return Ok(()),
                    WaitlistStatus::Booked => return Err(StoreError::Conflict("the waitlist entry was already booked")),
                    WaitlistStatus::Waiting => {}
                }
                sqlx::query(
                    "UPDATE waitlist_entries SET status = 'withdrawn', updated_at = $3 WHERE tenant_id = $1 AND id = $2 AND status = 'waiting'",
                )
                .bind(tenant.as_uuid())
                .bind(entry.as_uuid())
                .bind(now)
                .execute(&mut *tx)
                .await?;
                let ev = AuditEvent::new(actor, "waitlist.withdrawn").target("waitlist_entry", entry);
                self.append_audit_tx(&mut tx, tenant, now, &ev).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn pending_holds(&self, scope: TenantScope, limit: u32) -> Result<Vec<SlotHold>> {
                let now = self.now_us();
                let mut tx = self.read_tx(Some(scope)).await?;
                let rows: Vec<HoldRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "SELECT {HOLD_COLUMNS} FROM slot_holds WHERE tenant_id = $1 AND status = 'pending' AND starts_at > $2 \
                     ORDER BY starts_at LIMIT $3"
                )))
                .bind(scope.tenant_id().as_uuid())
                .bind(now)
                .bind(i64::from(limit))
                .fetch_all(&mut *tx)
                .await?;
                tx.commit().await?;
                rows.into_iter().map(|r| hold_from_row(r, now)).collect()
            }

            async fn offer_hold(
                &self,
                scope: TenantScope,
                hold: SlotHoldId,
                max_offers: u32,
                expires_at: jiff::Timestamp,
                text: &str,
            ) -> Result<HoldOffer> {
                let tenant = scope.tenant_id();
                let t = tenant.as_uuid();
                let now = self.now_us();
                if max_offers == 0 {
                    return Err(DomainError::invalid("max_offers", "must be at least 1").into());
                }
                let expires = crate::to_us(expires_at);
                if expires <= now {
                    return Err(DomainError::invalid("expires_at", "is in the past").into());
                }
                let mut tx = self.write_tx(Some(scope)).await?;
                let claimed: Option<(Uuid, Uuid, Uuid, i64, i64)> = sqlx::query_as(
                    "UPDATE slot_holds SET status = 'offered', expires_at = $3, updated_at = $4 \
                     WHERE tenant_id = $1 AND id = $2 AND status = 'pending' AND starts_at > $4 \
                     RETURNING source_appointment_id, practitioner_id, service_id, starts_at, busy_until",
                )
                .bind(t)
                .bind(hold.as_uuid())
                .bind(expires)
                .bind(now)
                .fetch_optional(&mut *tx)
                .await?;
                let Some((source, practitioner, service, starts_at, busy_until)) = claimed else {
                    return match self.hold_tx(&mut tx, tenant, hold).await? {
                        Some(_) => Ok(HoldOffer::NotPending),
                        None => Err(StoreError::NotFound),
                    };
                };
                // Offer nothing for a time that is no longer free (e.g. a move to an overlapping
                // time, a booking made meanwhile, a closure added since).
                let free = self.busy_spans(&mut tx, tenant, PractitionerId::from_uuid(practitioner), starts_at, busy_until).await?.is_empty();
                // Waiting entries that fit, in join order; never the patient who gave the time up,
                // nor anyone already booked at an overlapping time.
                let candidates: Vec<(Uuid, Uuid)> = if free {
                    sqlx::query_as(
                        "SELECT e.id, e.patient_id FROM waitlist_entries e WHERE e.tenant_id = $1 AND e.service_id = $2 \
                         AND e.status = 'waiting' AND (e.practitioner_id IS NULL OR e.practitioner_id = $3) \
                         AND e.window_start <= $4 AND e.window_end >= $4 \
                         AND e.patient_id NOT IN (SELECT patient_id FROM appointments WHERE tenant_id = $1 AND id = $6) \
                         AND NOT EXISTS (SELECT 1 FROM appointments a WHERE a.tenant_id = $1 AND a.patient_id = e.patient_id \
                         AND a.status IN ('booked', 'confirmed') AND a.starts_at < $5 AND a.ends_at > $4) \
                         ORDER BY e.created_at, e.id",
                    )
                    .bind(t)
                    .bind(service)
                    .bind(practitioner)
                    .bind(starts_at)
                    .bind(busy_until)
                    .bind(source)
                    .fetch_all(&mut *tx)
                    .await?
                } else {
                    Vec::new()
                };
                let (mut sent, mut skipped) = (0usize, 0usize);
                let mut seen = std::collections::HashSet::new();
                for (entry, patient) in candidates {
                    if sent >= max_offers as usize {
                        break;
                    }
                    // One offer per patient, whatever the number of their entries that fit.
                    if !seen.insert(patient) {
                        continue;
                    }
                    let patient = PatientId::from_uuid(patient);
                    let Ok(channel) = self.reachable_channel_tx(&mut tx, tenant, patient).await? else {
                        skipped += 1;
                        continue;
                    };
                    let conversation = self.notify_patient_tx(&mut tx, tenant, patient, channel, text, OutboxPurpose::Notice, now).await?;
                    sqlx::query("UPDATE conversations SET offered_hold_id = $3 WHERE tenant_id = $1 AND id = $2")
                        .bind(t)
                        .bind(conversation.as_uuid())
                        .bind(hold.as_uuid())
                        .execute(&mut *tx)
                        .await?;
                    sqlx::query(
                        "INSERT INTO waitlist_offers (tenant_id, hold_id, entry_id, conversation_id, created_at) VALUES ($1, $2, $3, $4, $5)",
                    )
                    .bind(t)
                    .bind(hold.as_uuid())
                    .bind(entry)
                    .bind(conversation.as_uuid())
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                    sent += 1;
                }
                if sent == 0 {
                    sqlx::query("UPDATE slot_holds SET status = 'unmatched', expires_at = NULL WHERE tenant_id = $1 AND id = $2")
                        .bind(t)
                        .bind(hold.as_uuid())
                        .execute(&mut *tx)
                        .await?;
                }
                let ev = AuditEvent::new(Actor::System, "waitlist.offered")
                    .target("slot_hold", hold)
                    .details(serde_json::json!({ "offered": sent, "skipped": skipped, "free": free }));
                self.append_audit_tx(&mut tx, tenant, now, &ev).await?;
                tx.commit().await?;
                Ok(HoldOffer::Offered { patients: sent })
            }

            async fn hold(&self, scope: TenantScope, id: SlotHoldId) -> Result<SlotHold> {
                let mut tx = self.read_tx(Some(scope)).await?;
                let found = self.hold_tx(&mut tx, scope.tenant_id(), id).await?;
                tx.commit().await?;
                found.ok_or(StoreError::NotFound)
            }

            async fn take_hold(&self, scope: TenantScope, hold: SlotHoldId, patient: PatientId, actor: Actor) -> Result<TakeOutcome> {
                match self.try_take_hold(scope, hold, patient, actor).await {
                    // The hold was claimed but its time cannot be booked any more (taken through
                    // a normal booking meanwhile, outside the hours now, practitioner or service
                    // withdrawn): everything rolled back; the hold is dead for everyone.
                    Err(StoreError::Conflict(_) | StoreError::Invalid(_)) => {
                        self.expire_hold(scope, hold).await?;
                        Ok(TakeOutcome::Gone)
                    }
                    Err(StoreError::NotFound) if self.hold(scope, hold).await.is_ok() => {
                        self.expire_hold(scope, hold).await?;
                        Ok(TakeOutcome::Gone)
                    }
                    other => other,
                }
            }
        }
    };
}

pub(crate) use impl_waitlist;
