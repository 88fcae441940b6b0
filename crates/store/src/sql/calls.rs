//! Shared SQL for phone calls: the call sid → voice conversation directory, the greeting as the
//! conversation's first message, and the end of the call (status, length, a sealed note).

macro_rules! impl_calls {
    ($Store:ty) => {
        impl $Store {
            async fn call_tx(&self, tx: &mut Tx, tenant: TenantId, call_sid: &str) -> Result<Option<Call>> {
                #[allow(clippy::type_complexity)]
                let row: Option<(Uuid, Uuid, String, i64, Option<i64>, Option<i32>)> = sqlx::query_as(
                    "SELECT conversation_id, patient_id, status, started_at, ended_at, duration_secs FROM calls \
                     WHERE tenant_id = $1 AND call_sid = $2",
                )
                .bind(tenant.as_uuid())
                .bind(call_sid)
                .fetch_optional(&mut **tx)
                .await?;
                let Some((conv, patient, status, started, ended, duration)) = row else {
                    return Ok(None);
                };
                Ok(Some(Call {
                    call_sid: call_sid.to_owned(),
                    conversation: ConversationId::from_uuid(conv),
                    patient: PatientId::from_uuid(patient),
                    status,
                    started_at: from_us(started)?,
                    ended_at: ended.map(from_us).transpose()?,
                    duration_secs: duration,
                }))
            }

            fn check_call_sid(call_sid: &str) -> Result<()> {
                let ok = (2..=64).contains(&call_sid.len()) && call_sid.bytes().all(|b| b.is_ascii_alphanumeric());
                if ok {
                    Ok(())
                } else {
                    Err(DomainError::invalid("call_sid", "must be 2 to 64 letters and digits").into())
                }
            }
        }

        #[async_trait]
        impl CallStore for $Store {
            async fn start_call(&self, scope: TenantScope, call_sid: &str, from: &E164Phone, greeting: &str) -> Result<CallStart> {
                Self::check_call_sid(call_sid)?;
                let tenant = scope.tenant_id();
                let now = self.now_us();
                let mut tx = self.write_tx(Some(scope)).await?;
                if let Some(call) = self.call_tx(&mut tx, tenant, call_sid).await? {
                    return Ok(CallStart { call, started: false });
                }
                let keys = self.tenant_keys(&mut tx, tenant).await?;
                let patient = self.patient_by_phone_tx(&mut tx, tenant, &keys, from, "call", now).await?;
                let conversation = self.insert_conversation_tx(&mut tx, tenant, patient, Channel::Voice, now).await?;
                let (conv, _, _) = self.fetch_conversation_row(&mut tx, tenant, conversation).await?;
                let key = self.patient_key(&mut tx, &keys, tenant, patient).await?;
                self.insert_message_tx(&mut tx, tenant, &conv, &key, &NewMessage::agent_reply(greeting), now)
                    .await?
                    .ok_or(StoreError::Duplicate)?;
                sqlx::query(
                    "INSERT INTO calls (tenant_id, call_sid, conversation_id, patient_id, status, started_at) \
                     VALUES ($1, $2, $3, $4, 'in-progress', $5)",
                )
                .bind(tenant.as_uuid())
                .bind(call_sid)
                .bind(conversation.as_uuid())
                .bind(patient.as_uuid())
                .bind(now)
                .execute(&mut *tx)
                .await?;
                let ev = AuditEvent::new(Actor::System, "call.started")
                    .target("conversation", conversation)
                    .details(serde_json::json!({ "patient": patient.to_string() }));
                self.append_audit_tx(&mut tx, tenant, now, &ev).await?;
                let call = self.call_tx(&mut tx, tenant, call_sid).await?.ok_or(StoreError::NotFound)?;
                tx.commit().await?;
                Ok(CallStart { call, started: true })
            }

            async fn call(&self, scope: TenantScope, call_sid: &str) -> Result<Call> {
                let mut tx = self.read_tx(Some(scope)).await?;
                let call = self.call_tx(&mut tx, scope.tenant_id(), call_sid).await?.ok_or(StoreError::NotFound)?;
                tx.commit().await?;
                Ok(call)
            }

            async fn call_with_recent(&self, scope: TenantScope, call_sid: &str, recent: u32) -> Result<(Call, Conversation, Vec<Message>)> {
                use sqlx::Row;
                let tenant = scope.tenant_id();
                let mut tx = self.read_tx(Some(scope)).await?;
                // The call, its conversation and the newest messages in one statement.
                let rows = sqlx::query($crate::sql::conversations::recent_by_call!())
                    .bind(tenant.as_uuid())
                    .bind(call_sid)
                    .bind(i64::from(recent))
                    .fetch_all(&mut *tx)
                    .await?;
                let first = rows.first().ok_or(StoreError::NotFound)?;
                let call = Call {
                    call_sid: call_sid.to_owned(),
                    conversation: ConversationId::from_uuid(first.try_get(22)?),
                    patient: PatientId::from_uuid(first.try_get(23)?),
                    status: first.try_get(24)?,
                    started_at: from_us(first.try_get(25)?)?,
                    ended_at: first.try_get::<Option<i64>, _>(26)?.map(from_us).transpose()?,
                    duration_secs: first.try_get(27)?,
                };
                let (conv, messages) = self.open_recent_rows(&mut tx, tenant, call.conversation, &rows).await?;
                Self::end_read(tx);
                Ok((call, conv, messages))
            }

            async fn end_call(&self, scope: TenantScope, call_sid: &str, end: &CallEnd) -> Result<bool> {
                let status_ok = !end.status.is_empty()
                    && end.status.len() <= 20
                    && end.status.bytes().all(|b| b.is_ascii_lowercase() || b == b'-');
                if !status_ok || end.status == "in-progress" {
                    return Err(DomainError::invalid("status", "must be a final call status").into());
                }
                let tenant = scope.tenant_id();
                let now = self.now_us();
                let mut tx = self.write_tx(Some(scope)).await?;
                let call = self.call_tx(&mut tx, tenant, call_sid).await?.ok_or(StoreError::NotFound)?;
                if call.ended_at.is_some() {
                    return Ok(false);
                }
                let duration = end.duration_secs.map(|d| i32::try_from(d).unwrap_or(i32::MAX));
                sqlx::query("UPDATE calls SET status = $3, ended_at = $4, duration_secs = $5 WHERE tenant_id = $1 AND call_sid = $2")
                    .bind(tenant.as_uuid())
                    .bind(call_sid)
                    .bind(&end.status)
                    .bind(now)
                    .bind(duration)
                    .execute(&mut *tx)
                    .await?;
                let (conv, _, _) = self.fetch_conversation_row(&mut tx, tenant, call.conversation).await?;
                let keys = self.tenant_keys(&mut tx, tenant).await?;
                let key = self.patient_key(&mut tx, &keys, tenant, call.patient).await?;
                let note = NewMessage { sender: Sender::System, ..NewMessage::agent_reply(end.note.clone()) };
                self.insert_message_tx(&mut tx, tenant, &conv, &key, &note, now).await?.ok_or(StoreError::Duplicate)?;
                sqlx::query("UPDATE conversations SET status = 'closed', last_message_at = $3, updated_at = $3 WHERE tenant_id = $1 AND id = $2")
                    .bind(tenant.as_uuid())
                    .bind(call.conversation.as_uuid())
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                let ev = AuditEvent::new(Actor::System, "call.ended")
                    .target("conversation", call.conversation)
                    .details(serde_json::json!({ "status": end.status, "duration_secs": end.duration_secs }));
                self.append_audit_tx(&mut tx, tenant, now, &ev).await?;
                tx.commit().await?;
                Ok(true)
            }
        }
    };
}

pub(crate) use impl_calls;
