//! Shared SQL for one-time codes that let a web chat visitor prove they hold a phone: the
//! code's HMAC (tenant index key, bound to the conversation) is all that is kept of it; the
//! SMS that carries it goes through the outbox like every other message.

macro_rules! impl_verification {
    ($Store:ty) => {
        impl $Store {
            /// An SMS provider is connected (codes can be texted); read with the catalogue.
            pub(crate) async fn sms_account_tx(&self, tx: &mut Tx, tenant: TenantId) -> Result<bool> {
                let sms: Option<(i32,)> = sqlx::query_as(
                    "SELECT 1 FROM channel_accounts WHERE tenant_id = $1 AND provider IN ('twilio', 'africastalking') LIMIT 1",
                )
                .bind(tenant.as_uuid())
                .fetch_optional(&mut **tx)
                .await?;
                Ok(sms.is_some())
            }

            /// The patient with this phone (blind index), or a new one with it.
            async fn patient_by_phone_tx(&self, tx: &mut Tx, tenant: TenantId, keys: &TenantKeys, phone: &E164Phone, source: &str, now: i64) -> Result<PatientId> {
                Ok(self.patient_and_key_by_phone_tx(tx, tenant, keys, phone, source, now).await?.0)
            }

            /// [`Self::patient_by_phone_tx`], with the patient's own data key (read in the same
            /// statement as the patient when they exist: one round trip fewer on a webhook's ack).
            async fn patient_and_key_by_phone_tx(&self, tx: &mut Tx, tenant: TenantId, keys: &TenantKeys, phone: &E164Phone, source: &str, now: i64) -> Result<(PatientId, Option<Vec<u8>>)> {
                let bidx = keys.index.blind_index("phone", phone.as_str());
                let found: Option<(Uuid, Option<Vec<u8>>)> = sqlx::query_as(
                    "SELECT p.id, k.wrapped FROM patients p \
                     LEFT JOIN patient_keys k ON k.tenant_id = p.tenant_id AND k.patient_id = p.id \
                     WHERE p.tenant_id = $1 AND p.phone_bidx = $2",
                )
                .bind(tenant.as_uuid())
                .bind(&bidx)
                .fetch_optional(&mut **tx)
                .await?;
                if let Some((id, wrapped)) = found {
                    return Ok((PatientId::from_uuid(id), wrapped));
                }
                let new = NewPatient { phone: Some(phone.clone()), ..NewPatient::default() };
                let id = self.insert_patient_tx(tx, tenant, keys, now, &new).await?;
                let ev = AuditEvent::new(Actor::System, "patient.created")
                    .target("patient", id)
                    .details(serde_json::json!({ "source": source }));
                self.append_audit_tx(tx, tenant, now, &ev).await?;
                Ok((id, None))
            }

            /// The patient's open conversation on `channel`, or a new one; and whether the
            /// patient has not written in it yet.
            async fn open_conversation_tx(&self, tx: &mut Tx, tenant: TenantId, patient: PatientId, channel: Channel, now: i64) -> Result<(ConversationId, bool)> {
                // Whether the patient wrote in it before is asked in the same statement (one
                // round trip fewer on every webhook's ack).
                let open: Option<(Uuid, bool)> = sqlx::query_as(
                    "SELECT c.id, EXISTS (SELECT 1 FROM messages m WHERE m.tenant_id = c.tenant_id AND m.conversation_id = c.id \
                                          AND m.direction = 'inbound') \
                     FROM conversations c WHERE c.tenant_id = $1 AND c.patient_id = $2 AND c.channel = $3 AND c.status = 'open' \
                     ORDER BY c.last_message_at DESC LIMIT 1",
                )
                .bind(tenant.as_uuid())
                .bind(patient.as_uuid())
                .bind(channel.as_str())
                .fetch_optional(&mut **tx)
                .await?;
                match open {
                    Some((id, wrote_before)) => Ok((ConversationId::from_uuid(id), !wrote_before)),
                    None => Ok((self.insert_conversation_tx(tx, tenant, patient, channel, now).await?, true)),
                }
            }
        }

        #[async_trait]
        impl VerificationStore for $Store {
            async fn send_verification_code(
                &self,
                scope: TenantScope,
                conversation: ConversationId,
                phone: &E164Phone,
                ttl: jiff::SignedDuration,
                clinic_name: &str,
            ) -> Result<()> {
                let tenant = scope.tenant_id();
                let now = self.now_us();
                let mut tx = self.write_tx(Some(scope)).await?;
                let (conv, _, _) = self.fetch_conversation_row(&mut tx, tenant, conversation).await?;
                if conv.channel != Channel::Webchat {
                    return Err(DomainError::invalid("conversation", "codes are for web chat visitors").into());
                }
                if !self.sms_account_tx(&mut tx, tenant).await? {
                    return Err(StoreError::NotFound);
                }
                let keys = self.tenant_keys(&mut tx, tenant).await?;
                let bidx = keys.index.blind_index("phone", phone.as_str());
                let hour_ago = now - 3_600_000_000;
                let day_ago = now - 86_400_000_000;
                let (by_conv, by_phone, by_clinic): (i64, i64, i64) = sqlx::query_as(
                    "SELECT COALESCE(SUM(CASE WHEN conversation_id = $2 AND at > $4 THEN 1 ELSE 0 END), 0), \
                            COALESCE(SUM(CASE WHEN phone_bidx = $3 THEN 1 ELSE 0 END), 0), \
                            COALESCE(SUM(CASE WHEN at > $4 THEN 1 ELSE 0 END), 0) \
                     FROM verification_sends WHERE tenant_id = $1 AND at > $5",
                )
                .bind(tenant.as_uuid())
                .bind(conversation.as_uuid())
                .bind(&bidx)
                .bind(hour_ago)
                .bind(day_ago)
                .fetch_one(&mut *tx)
                .await?;
                if by_conv >= CODES_PER_CONVERSATION_PER_HOUR || by_phone >= CODES_PER_PHONE_PER_DAY || by_clinic >= CODES_PER_CLINIC_PER_HOUR {
                    return Err(StoreError::Conflict("too many codes asked for; please try again later"));
                }
                let code = format!("{:06}", rand::random_range(0..1_000_000u32));
                let code_hash = keys.index.blind_index("otp", &format!("{conversation}:{code}"));
                let phone_ct = keys.data.seal_str(&aad(tenant, "phone_verifications", "phone", &conversation.to_string()), phone.as_str())?;
                let expires = crate::to_us(self.clock.now().checked_add(ttl).map_err(|_| StoreError::Corrupt("ttl"))?);
                sqlx::query(
                    "INSERT INTO phone_verifications (tenant_id, conversation_id, phone_bidx, phone_ct, code_hash, attempts, expires_at, created_at) \
                     VALUES ($1, $2, $3, $4, $5, 0, $6, $7) ON CONFLICT (tenant_id, conversation_id) DO UPDATE \
                     SET phone_bidx = $3, phone_ct = $4, code_hash = $5, attempts = 0, expires_at = $6, created_at = $7",
                )
                .bind(tenant.as_uuid())
                .bind(conversation.as_uuid())
                .bind(&bidx)
                .bind(phone_ct)
                .bind(code_hash)
                .bind(expires)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                sqlx::query("INSERT INTO verification_sends (tenant_id, id, conversation_id, phone_bidx, at) VALUES ($1, $2, $3, $4, $5)")
                    .bind(tenant.as_uuid())
                    .bind(Uuid::now_v7())
                    .bind(conversation.as_uuid())
                    .bind(&bidx)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                // The SMS goes to whoever holds the phone, in their own SMS conversation.
                let owner = self.patient_by_phone_tx(&mut tx, tenant, &keys, phone, "verification", now).await?;
                let (sms_conv, _) = self.open_conversation_tx(&mut tx, tenant, owner, Channel::Sms, now).await?;
                let (sms_row, _, _) = self.fetch_conversation_row(&mut tx, tenant, sms_conv).await?;
                let key = self.patient_key(&mut tx, &keys, tenant, owner).await?;
                let minutes = ttl.as_secs() / 60;
                let text = format!(
                    "{code} is your {clinic_name} code. It expires in {minutes} minutes. If you did not ask for it, ignore this message."
                );
                let msg = NewMessage { sender: Sender::System, ..NewMessage::agent_reply(text) };
                let id = self.insert_message_tx(&mut tx, tenant, &sms_row, &key, &msg, now).await?.ok_or(StoreError::Duplicate)?;
                self.enqueue_outbox_tx(&mut tx, tenant, id, Channel::Sms, OutboxPurpose::Notice, now).await?;
                let ev = AuditEvent::new(Actor::System, "verification.code_sent").target("conversation", conversation);
                self.append_audit_tx(&mut tx, tenant, now, &ev).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn confirm_verification_code(
                &self,
                scope: TenantScope,
                conversation: ConversationId,
                code: &str,
                valid_for: jiff::SignedDuration,
            ) -> Result<CodeCheck> {
                use subtle::ConstantTimeEq;
                let tenant = scope.tenant_id();
                let now = self.now_us();
                let mut tx = self.write_tx(Some(scope)).await?;
                let row: Option<(Vec<u8>, Vec<u8>, i32, i64)> = sqlx::query_as(
                    "SELECT phone_ct, code_hash, attempts, expires_at FROM phone_verifications WHERE tenant_id = $1 AND conversation_id = $2",
                )
                .bind(tenant.as_uuid())
                .bind(conversation.as_uuid())
                .fetch_optional(&mut *tx)
                .await?;
                let delete = "DELETE FROM phone_verifications WHERE tenant_id = $1 AND conversation_id = $2";
                let Some((phone_ct, code_hash, attempts, expires_at)) = row else {
                    return Ok(CodeCheck::ExpiredOrLocked);
                };
                if expires_at <= now {
                    sqlx::query(delete).bind(tenant.as_uuid()).bind(conversation.as_uuid()).execute(&mut *tx).await?;
                    tx.commit().await?;
                    return Ok(CodeCheck::ExpiredOrLocked);
                }
                let keys = self.tenant_keys(&mut tx, tenant).await?;
                let given = keys.index.blind_index("otp", &format!("{conversation}:{}", code.trim()));
                let right: bool = given.ct_eq(&code_hash).into();
                let outcome = if right {
                    let phone = E164Phone::parse(&keys.data.open_string(&aad(tenant, "phone_verifications", "phone", &conversation.to_string()), &phone_ct)?)?;
                    let patient = self.patient_by_phone_tx(&mut tx, tenant, &keys, &phone, "verification", now).await?;
                    let until = crate::to_us(self.clock.now().checked_add(valid_for).map_err(|_| StoreError::Corrupt("ttl"))?);
                    sqlx::query("UPDATE conversations SET verified_patient_id = $3, verified_until = $4, updated_at = $5 WHERE tenant_id = $1 AND id = $2")
                        .bind(tenant.as_uuid())
                        .bind(conversation.as_uuid())
                        .bind(patient.as_uuid())
                        .bind(until)
                        .bind(now)
                        .execute(&mut *tx)
                        .await?;
                    sqlx::query(delete).bind(tenant.as_uuid()).bind(conversation.as_uuid()).execute(&mut *tx).await?;
                    let ev = AuditEvent::new(Actor::System, "verification.confirmed")
                        .target("conversation", conversation)
                        .details(serde_json::json!({ "patient": patient.to_string() }));
                    self.append_audit_tx(&mut tx, tenant, now, &ev).await?;
                    CodeCheck::Verified(patient)
                } else if attempts + 1 >= CODE_ATTEMPTS {
                    sqlx::query(delete).bind(tenant.as_uuid()).bind(conversation.as_uuid()).execute(&mut *tx).await?;
                    let ev = AuditEvent::new(Actor::System, "verification.locked").target("conversation", conversation);
                    self.append_audit_tx(&mut tx, tenant, now, &ev).await?;
                    CodeCheck::ExpiredOrLocked
                } else {
                    sqlx::query("UPDATE phone_verifications SET attempts = attempts + 1 WHERE tenant_id = $1 AND conversation_id = $2")
                        .bind(tenant.as_uuid())
                        .bind(conversation.as_uuid())
                        .execute(&mut *tx)
                        .await?;
                    CodeCheck::Wrong { attempts_left: u8::try_from(CODE_ATTEMPTS - attempts - 1).unwrap_or(0) }
                };
                tx.commit().await?;
                Ok(outcome)
            }
        }
    };
}

pub(crate) use impl_verification;
