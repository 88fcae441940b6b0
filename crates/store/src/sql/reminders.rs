//! Shared SQL for appointment reminders and confirmations. A reminder is claimed by setting
//! `appointments.reminder_at` where it is still NULL, inside the transaction that writes the
//! message and its outbox row, so several instances sending reminders at once send each one
//! exactly once (PostgreSQL re-checks the row after the first writer commits; SQLite has one
//! writer at a time).

macro_rules! impl_reminders {
    ($Store:ty) => {
        impl $Store {
            /// The channel a reminder to this patient goes on: their latest WhatsApp or SMS
            /// conversation's, else SMS, else WhatsApp, as the clinic is connected.
            async fn reminder_channel_tx(&self, tx: &mut Tx, tenant: TenantId, patient: PatientId) -> Result<Option<Channel>> {
                let latest: Option<(String,)> = sqlx::query_as(
                    "SELECT channel FROM conversations WHERE tenant_id = $1 AND patient_id = $2 \
                     AND channel IN ('whatsapp', 'sms') ORDER BY last_message_at DESC LIMIT 1",
                )
                .bind(tenant.as_uuid())
                .bind(patient.as_uuid())
                .fetch_optional(&mut **tx)
                .await?;
                let connected: Vec<(String,)> = sqlx::query_as("SELECT provider FROM channel_accounts WHERE tenant_id = $1")
                    .bind(tenant.as_uuid())
                    .fetch_all(&mut **tx)
                    .await?;
                let has = |p: &str| connected.iter().any(|(c,)| c == p);
                let sms = has("twilio") || has("africastalking");
                let whatsapp = has("whatsapp");
                Ok(match latest.as_ref().map(|(c,)| c.as_str()) {
                    Some("whatsapp") if whatsapp => Some(Channel::Whatsapp),
                    Some("sms") if sms => Some(Channel::Sms),
                    _ if sms => Some(Channel::Sms),
                    _ if whatsapp => Some(Channel::Whatsapp),
                    _ => None,
                })
            }

            /// Whether a message can reach this patient outside a conversation they started
            /// (reminders, waitlist offers): the channel to use, or why not (`no_phone`,
            /// `no_channel`, `opted_out`: the number opted out of that channel).
            async fn reachable_channel_tx(&self, tx: &mut Tx, tenant: TenantId, patient: PatientId) -> Result<std::result::Result<Channel, &'static str>> {
                let bidx: Option<(Option<Vec<u8>>,)> = sqlx::query_as("SELECT phone_bidx FROM patients WHERE tenant_id = $1 AND id = $2")
                    .bind(tenant.as_uuid())
                    .bind(patient.as_uuid())
                    .fetch_optional(&mut **tx)
                    .await?;
                let channel = self.reminder_channel_tx(tx, tenant, patient).await?;
                let (bidx, channel) = match (bidx.and_then(|(b,)| b), channel) {
                    (Some(b), Some(c)) => (b, c),
                    (None, _) => return Ok(Err("no_phone")),
                    (_, None) => return Ok(Err("no_channel")),
                };
                let consent: Option<(String,)> = sqlx::query_as(
                    "SELECT status FROM channel_consents WHERE tenant_id = $1 AND channel = $2 AND phone_bidx = $3",
                )
                .bind(tenant.as_uuid())
                .bind(channel.as_str())
                .bind(&bidx)
                .fetch_optional(&mut **tx)
                .await?;
                if consent.is_some_and(|(s,)| s == "opted_out") {
                    return Ok(Err("opted_out"));
                }
                Ok(Ok(channel))
            }

            /// Writes `text` as a system message to the patient's open conversation on
            /// `channel` (or a new one) with its outbox row; answers the conversation.
            #[allow(clippy::too_many_arguments)]
            async fn notify_patient_tx(
                &self,
                tx: &mut Tx,
                tenant: TenantId,
                patient: PatientId,
                channel: Channel,
                text: &str,
                purpose: OutboxPurpose,
                now: i64,
            ) -> Result<ConversationId> {
                let (conversation, _) = self.open_conversation_tx(tx, tenant, patient, channel, now).await?;
                let (conv, _, _) = self.fetch_conversation_row(tx, tenant, conversation).await?;
                let keys = self.tenant_keys(tx, tenant).await?;
                let key = self.patient_key(tx, &keys, tenant, patient).await?;
                let msg = NewMessage { sender: Sender::System, ..NewMessage::agent_reply(text) };
                let id = self.insert_message_tx(tx, tenant, &conv, &key, &msg, now).await?.ok_or(StoreError::Duplicate)?;
                self.enqueue_outbox_tx(tx, tenant, id, channel, purpose, now).await?;
                sqlx::query("UPDATE conversations SET last_message_at = $3, updated_at = $3 WHERE tenant_id = $1 AND id = $2")
                    .bind(tenant.as_uuid())
                    .bind(conversation.as_uuid())
                    .bind(now)
                    .execute(&mut **tx)
                    .await?;
                Ok(conversation)
            }

            async fn decide_reminder_tx(&self, tx: &mut Tx, tenant: TenantId, id: AppointmentId, outcome: &str) -> Result<()> {
                sqlx::query("UPDATE appointments SET reminder_outcome = $3 WHERE tenant_id = $1 AND id = $2")
                    .bind(tenant.as_uuid())
                    .bind(id.as_uuid())
                    .bind(outcome)
                    .execute(&mut **tx)
                    .await?;
                Ok(())
            }
        }

        #[async_trait]
        impl ReminderStore for $Store {
            async fn due_reminders(&self, scope: TenantScope, until: jiff::Timestamp, limit: u32) -> Result<Vec<Appointment>> {
                let now = self.now_us();
                let mut tx = self.read_tx(Some(scope)).await?;
                let rows: Vec<AppointmentRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "SELECT {APPOINTMENT_COLUMNS} FROM appointments WHERE tenant_id = $1 AND reminder_at IS NULL \
                     AND status IN ('booked', 'confirmed') AND starts_at > $2 AND starts_at <= $3 ORDER BY starts_at LIMIT $4"
                )))
                .bind(scope.tenant_id().as_uuid())
                .bind(now)
                .bind(crate::to_us(until))
                .bind(i64::from(limit))
                .fetch_all(&mut *tx)
                .await?;
                tx.commit().await?;
                rows.into_iter().map(appointment_from_row).collect()
            }

            async fn send_reminder(&self, scope: TenantScope, appointment: AppointmentId, text: &str) -> Result<ReminderOutcome> {
                let tenant = scope.tenant_id();
                let now = self.now_us();
                let mut tx = self.write_tx(Some(scope)).await?;
                let claimed: Option<(Uuid,)> = sqlx::query_as(
                    "UPDATE appointments SET reminder_at = $3 WHERE tenant_id = $1 AND id = $2 AND reminder_at IS NULL \
                     AND status IN ('booked', 'confirmed') AND starts_at > $3 RETURNING patient_id",
                )
                .bind(tenant.as_uuid())
                .bind(appointment.as_uuid())
                .bind(now)
                .fetch_optional(&mut *tx)
                .await?;
                let Some((patient,)) = claimed else {
                    return Ok(ReminderOutcome::NotDue);
                };
                let patient = PatientId::from_uuid(patient);
                let (channel, conversation) = match self.reachable_channel_tx(&mut tx, tenant, patient).await? {
                    Ok(channel) => (channel, self.notify_patient_tx(&mut tx, tenant, patient, channel, text, OutboxPurpose::Reminder, now).await?),
                    Err(why) => {
                        self.decide_reminder_tx(&mut tx, tenant, appointment, why).await?;
                        tx.commit().await?;
                        return Ok(ReminderOutcome::Skipped(why));
                    }
                };
                sqlx::query(
                    "UPDATE conversations SET reminded_appointment_id = $3 WHERE tenant_id = $1 AND id = $2",
                )
                .bind(tenant.as_uuid())
                .bind(conversation.as_uuid())
                .bind(appointment.as_uuid())
                .execute(&mut *tx)
                .await?;
                self.decide_reminder_tx(&mut tx, tenant, appointment, "sent").await?;
                let ev = AuditEvent::new(Actor::System, "appointment.reminder_sent")
                    .target("appointment", appointment)
                    .details(serde_json::json!({ "channel": channel.as_str(), "conversation": conversation.to_string() }));
                self.append_audit_tx(&mut tx, tenant, now, &ev).await?;
                tx.commit().await?;
                Ok(ReminderOutcome::Sent { conversation, channel })
            }
        }
    };
}

pub(crate) use impl_reminders;
