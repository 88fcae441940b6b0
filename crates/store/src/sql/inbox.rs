//! Shared SQL for the staff inbox and conversation takeover.
//!
//! A takeover is a hold on the conversation row (`owner_user_id`, `hold_expires_at`), taken and
//! checked in one write transaction, so two staff members racing for the same conversation
//! cannot both win (PostgreSQL: the row lock of the conditional `UPDATE`; SQLite: one writer).
//! While the hold lasts the AI sends nothing: `record_turn` refuses AI replies and the outbox
//! refuses any queued non-staff message when it is claimed for sending (see `open_outbox`).
//! Every staff reply renews the hold; when it runs out the AI answers again, and the worker's
//! pass clears it with an audited `conversation.hold_expired` event staff can see.

/// The most conversations a name search looks through (names are sealed, so they are opened
/// and matched here rather than by the database).
pub(crate) const NAME_SEARCH_WINDOW: u32 = 500;
/// The longest staff reply accepted (WhatsApp's own limit for a text message is 4,096).
pub(crate) const MAX_STAFF_REPLY: usize = 4096;

/// A staff reply's or draft's text, trimmed: not empty, at most [`MAX_STAFF_REPLY`] characters.
pub(crate) fn checked_staff_text<'a>(text: &'a str, field: &'static str) -> crate::Result<&'a str> {
    let text = text.trim();
    if text.is_empty() {
        return Err(crate::StoreError::Invalid(
            frontdesk_domain::DomainError::invalid(field, "a reply needs some text"),
        ));
    }
    if text.chars().count() > MAX_STAFF_REPLY {
        return Err(crate::StoreError::Invalid(
            frontdesk_domain::DomainError::invalid(field, "a reply is at most 4,096 characters"),
        ));
    }
    Ok(text)
}

macro_rules! impl_inbox {
    ($Store:ty) => {
        use $crate::sql::inbox::{NAME_SEARCH_WINDOW, checked_staff_text};

        impl $Store {
            /// The holder of `conversation` at `now` with their name, read inside `tx`.
            async fn staff_hold_tx(&self, tx: &mut Tx, tenant: TenantId, conversation: ConversationId, now: i64) -> Result<Option<Hold>> {
                let row: Option<(Option<Uuid>, Option<i64>, Option<Vec<u8>>)> = sqlx::query_as(
                    "SELECT c.owner_user_id, c.hold_expires_at, u.name_ct FROM conversations c \
                     LEFT JOIN users u ON u.tenant_id = c.tenant_id AND u.id = c.owner_user_id \
                     WHERE c.tenant_id = $1 AND c.id = $2",
                )
                .bind(tenant.as_uuid())
                .bind(conversation.as_uuid())
                .fetch_optional(&mut **tx)
                .await?;
                let (owner, until, name_ct) = row.ok_or(StoreError::NotFound)?;
                match (owner, until, name_ct) {
                    (Some(user), Some(until), Some(name_ct)) if until > now => {
                        let keys = self.tenant_keys(tx, tenant).await?;
                        let name = keys.data.open_string(&aad(tenant, "users", "name", &user.to_string()), &name_ct)?;
                        Ok(Some(Hold { user: UserId::from_uuid(user), name, expires_at: from_us(until)? }))
                    }
                    _ => Ok(None),
                }
            }

            /// Sets (or renews) `user`'s hold until `until`.
            async fn set_staff_hold_tx(&self, tx: &mut Tx, tenant: TenantId, conversation: ConversationId, user: UserId, until: i64, now: i64) -> Result<()> {
                sqlx::query("UPDATE conversations SET owner_user_id = $3, hold_expires_at = $4, updated_at = $5 WHERE tenant_id = $1 AND id = $2")
                    .bind(tenant.as_uuid())
                    .bind(conversation.as_uuid())
                    .bind(user.as_uuid())
                    .bind(until)
                    .bind(now)
                    .execute(&mut **tx)
                    .await?;
                Ok(())
            }

            /// A staff reply inside `tx`: `user` must hold the conversation; the message goes
            /// through the outbox, the hold is renewed and `message.staff_sent` audited.
            #[allow(clippy::too_many_arguments)]
            async fn staff_reply_tx(&self, tx: &mut Tx, tenant: TenantId, conversation: ConversationId, user: UserId, text: &str, hold: jiff::SignedDuration, now: i64) -> Result<MessageId> {
                let until = now.saturating_add(hold.as_micros().clamp(1, i128::from(i64::MAX)) as i64);
                let (conv, _, _) = self.fetch_conversation_row(tx, tenant, conversation).await?;
                if conv.holder(from_us(now)?) != Some(user) {
                    return Err(StoreError::Conflict(NOT_HOLDING));
                }
                if !matches!(conv.channel, Channel::Whatsapp | Channel::Sms | Channel::Webchat) {
                    return Err(StoreError::Invalid(DomainError::invalid(
                        "channel",
                        "staff replies go out by WhatsApp, SMS or web chat, not on this conversation's channel",
                    )));
                }
                let keys = self.tenant_keys(tx, tenant).await?;
                let key = self.patient_key(tx, &keys, tenant, conv.patient_id).await?;
                let msg = NewMessage { sender: Sender::Staff, ..NewMessage::agent_reply(text) };
                let id = self.insert_message_tx(tx, tenant, &conv, &key, &msg, now).await?.ok_or(StoreError::Duplicate)?;
                sqlx::query("UPDATE messages SET sender_user_id = $3 WHERE tenant_id = $1 AND id = $2")
                    .bind(tenant.as_uuid())
                    .bind(id.as_uuid())
                    .bind(user.as_uuid())
                    .execute(&mut **tx)
                    .await?;
                // The same outbox as the AI's replies: retries, consent and delivery status. A
                // web chat reply is stored `sent`: the patient's chat fetches it from there.
                if matches!(conv.channel, Channel::Whatsapp | Channel::Sms) {
                    self.enqueue_outbox_tx(tx, tenant, id, conv.channel, OutboxPurpose::Reply, now).await?;
                }
                self.set_staff_hold_tx(tx, tenant, conversation, user, until, now).await?;
                sqlx::query("UPDATE conversations SET last_message_at = $3 WHERE tenant_id = $1 AND id = $2")
                    .bind(tenant.as_uuid())
                    .bind(conversation.as_uuid())
                    .bind(now)
                    .execute(&mut **tx)
                    .await?;
                let ev = AuditEvent::new(Actor::Staff(user), "message.staff_sent")
                    .target("message", id)
                    .details(serde_json::json!({ "conversation": conversation.to_string(), "channel": conv.channel.as_str() }));
                self.append_audit_tx(tx, tenant, now, &ev).await?;
                Ok(id)
            }

            /// Moves the conversation's `updated_at`, so live pages show a change to it.
            async fn touch_conversation_tx(&self, tx: &mut Tx, tenant: TenantId, conversation: ConversationId, now: i64) -> Result<()> {
                sqlx::query("UPDATE conversations SET updated_at = $3 WHERE tenant_id = $1 AND id = $2")
                    .bind(tenant.as_uuid())
                    .bind(conversation.as_uuid())
                    .bind(now)
                    .execute(&mut **tx)
                    .await?;
                Ok(())
            }

            /// A waiting draft of `conversation` inside `tx`: its author (`Conflict` if it
            /// was already decided, `NotFound` if unknown or of another conversation).
            async fn pending_draft_tx(&self, tx: &mut Tx, tenant: TenantId, conversation: ConversationId, draft: DraftId) -> Result<(UserId, Vec<u8>)> {
                let row: Option<(Uuid, String, Vec<u8>)> = sqlx::query_as(
                    "SELECT author_user_id, status, body_ct FROM reply_drafts WHERE tenant_id = $1 AND id = $2 AND conversation_id = $3",
                )
                .bind(tenant.as_uuid())
                .bind(draft.as_uuid())
                .bind(conversation.as_uuid())
                .fetch_optional(&mut **tx)
                .await?;
                let (author, status, body_ct) = row.ok_or(StoreError::NotFound)?;
                if status != "pending" {
                    return Err(StoreError::Conflict(DRAFT_DECIDED));
                }
                Ok((UserId::from_uuid(author), body_ct))
            }

            /// Marks a waiting draft decided (sent or discarded) inside `tx`, audited.
            #[allow(clippy::too_many_arguments)]
            async fn decide_draft_tx(&self, tx: &mut Tx, tenant: TenantId, conversation: ConversationId, draft: DraftId, user: UserId, status: &'static str, message: Option<MessageId>, now: i64) -> Result<()> {
                let done = sqlx::query(
                    "UPDATE reply_drafts SET status = $3, decided_by = $4, decided_at = $5, message_id = $6 \
                     WHERE tenant_id = $1 AND id = $2 AND status = 'pending'",
                )
                .bind(tenant.as_uuid())
                .bind(draft.as_uuid())
                .bind(status)
                .bind(user.as_uuid())
                .bind(now)
                .bind(message.map(|m| m.as_uuid()))
                .execute(&mut **tx)
                .await?
                .rows_affected();
                if done != 1 {
                    return Err(StoreError::Conflict(DRAFT_DECIDED));
                }
                let mut details = serde_json::json!({ "conversation": conversation.to_string() });
                if let Some(m) = message {
                    details["message"] = serde_json::Value::String(m.to_string());
                }
                let ev = AuditEvent::new(Actor::Staff(user), if status == "sent" { "draft.sent" } else { "draft.discarded" })
                    .target("draft", draft)
                    .details(details);
                self.append_audit_tx(tx, tenant, now, &ev).await
            }
        }

        #[async_trait]
        impl InboxStore for $Store {
            async fn inbox(&self, scope: TenantScope, viewer: UserId, query: &InboxQuery) -> Result<Vec<InboxEntry>> {
                let tenant = scope.tenant_id();
                let now = self.now_us();
                let limit = query.limit.clamp(1, 200);
                let name = query.name.as_deref().map(str::trim).filter(|n| !n.is_empty()).map(str::to_lowercase);
                let window = if name.is_some() { NAME_SEARCH_WINDOW } else { limit };
                let mut tx = self.read_tx(Some(scope)).await?;
                let keys = self.tenant_keys(&mut tx, tenant).await?;
                let phone_bidx = query.phone.as_ref().map(|p| keys.index.blind_index("phone", p.as_str()));
                #[allow(clippy::type_complexity)]
                let rows: Vec<(Uuid, Uuid, String, String, Option<Vec<u8>>, Option<Uuid>, Option<i64>, i64, Option<i64>, Option<Vec<u8>>, Option<Vec<u8>>, Option<Vec<u8>>, Option<Uuid>, Option<Vec<u8>>)> = sqlx::query_as(
                    "SELECT c.id, c.patient_id, c.channel, c.urgency, c.summary_ct, c.owner_user_id, c.hold_expires_at, c.last_message_at, \
                            r.read_at, p.name_ct, k.wrapped, u.name_ct, c.assignee_user_id, au.name_ct \
                     FROM conversations c \
                     JOIN patients p ON p.tenant_id = c.tenant_id AND p.id = c.patient_id \
                     LEFT JOIN patient_keys k ON k.tenant_id = c.tenant_id AND k.patient_id = c.patient_id \
                     LEFT JOIN conversation_reads r ON r.tenant_id = c.tenant_id AND r.conversation_id = c.id AND r.user_id = $2 \
                     LEFT JOIN users u ON u.tenant_id = c.tenant_id AND u.id = c.owner_user_id \
                     LEFT JOIN users au ON au.tenant_id = c.tenant_id AND au.id = c.assignee_user_id \
                     WHERE c.tenant_id = $1 AND ($4 IS NULL OR p.phone_bidx = $4) AND ($5 IS NULL OR c.assignee_user_id = $5) \
                     ORDER BY c.last_message_at DESC, c.id DESC LIMIT $3",
                )
                .bind(tenant.as_uuid())
                .bind(viewer.as_uuid())
                .bind(i64::from(window))
                .bind(phone_bidx)
                .bind(query.assignee.map(|u| u.as_uuid()))
                .fetch_all(&mut *tx)
                .await?;
                tx.commit().await?;
                let mut out = Vec::with_capacity(rows.len().min(limit as usize));
                for (id, patient, channel, urgency, summary_ct, owner, until, last, read_at, name_ct, wrapped, holder_ct, assignee, assignee_ct) in rows {
                    let conversation = ConversationId::from_uuid(id);
                    let patient = PatientId::from_uuid(patient);
                    // A patient erased meanwhile has no key: nothing of theirs can be opened.
                    let key = wrapped
                        .map(|w| keys.data.unwrap_key(&aad(tenant, "patient_keys", "wrapped", &patient.to_string()), &w))
                        .transpose()?;
                    let patient_name = match (&key, name_ct) {
                        (Some(k), Some(ct)) => Some(k.open_string(&aad(tenant, "patients", "name", &patient.to_string()), &ct)?),
                        _ => None,
                    };
                    if let Some(needle) = &name {
                        if !patient_name.as_deref().is_some_and(|n| n.to_lowercase().contains(needle.as_str())) {
                            continue;
                        }
                    }
                    let summary = match (&key, summary_ct) {
                        (Some(k), Some(ct)) => Some(open_summary(k, tenant, conversation, &ct)?),
                        _ => None,
                    };
                    let holder = match (owner, until, holder_ct) {
                        (Some(user), Some(until), Some(ct)) if until > now => Some(Hold {
                            user: UserId::from_uuid(user),
                            name: keys.data.open_string(&aad(tenant, "users", "name", &user.to_string()), &ct)?,
                            expires_at: from_us(until)?,
                        }),
                        _ => None,
                    };
                    let assignee = match (assignee, assignee_ct) {
                        (Some(user), Some(ct)) => Some((
                            UserId::from_uuid(user),
                            keys.data.open_string(&aad(tenant, "users", "name", &user.to_string()), &ct)?,
                        )),
                        _ => None,
                    };
                    out.push(InboxEntry {
                        conversation,
                        patient,
                        patient_name,
                        channel: Channel::parse(&channel)?,
                        urgency,
                        triage: summary.as_ref().map(|s| s.triage_level),
                        reason: summary.map(|s| s.reason),
                        holder,
                        assignee,
                        unread: read_at.is_none_or(|r| r < last),
                        last_message_at: from_us(last)?,
                    });
                    if out.len() >= limit as usize {
                        break;
                    }
                }
                Ok(out)
            }

            async fn mark_read(&self, scope: TenantScope, viewer: UserId, conversation: ConversationId) -> Result<()> {
                let tenant = scope.tenant_id();
                let now = self.now_us();
                let mut tx = self.write_tx(Some(scope)).await?;
                let done = sqlx::query(
                    "INSERT INTO conversation_reads (tenant_id, user_id, conversation_id, read_at) \
                     SELECT $1, $2, $3, $4 WHERE EXISTS (SELECT 1 FROM conversations WHERE tenant_id = $1 AND id = $3) \
                     ON CONFLICT (tenant_id, user_id, conversation_id) DO UPDATE SET read_at = excluded.read_at",
                )
                .bind(tenant.as_uuid())
                .bind(viewer.as_uuid())
                .bind(conversation.as_uuid())
                .bind(now)
                .execute(&mut *tx)
                .await?;
                if done.rows_affected() == 0 {
                    return Err(StoreError::NotFound);
                }
                tx.commit().await?;
                Ok(())
            }

            async fn holder(&self, scope: TenantScope, conversation: ConversationId) -> Result<Option<Hold>> {
                let mut tx = self.read_tx(Some(scope)).await?;
                let hold = self.staff_hold_tx(&mut tx, scope.tenant_id(), conversation, self.now_us()).await?;
                tx.commit().await?;
                Ok(hold)
            }

            async fn take_over(&self, scope: TenantScope, conversation: ConversationId, user: UserId, hold: jiff::SignedDuration) -> Result<Hold> {
                let tenant = scope.tenant_id();
                let now = self.now_us();
                let until = now.saturating_add(hold.as_micros().clamp(1, i128::from(i64::MAX)) as i64);
                let mut tx = self.write_tx(Some(scope)).await?;
                // The conditional update is the race's referee: it changes the row only if
                // nobody else holds it now (PostgreSQL re-checks it under the row lock).
                let taken = sqlx::query(
                    "UPDATE conversations SET owner_user_id = $3, hold_expires_at = $4, updated_at = $5 \
                     WHERE tenant_id = $1 AND id = $2 AND (owner_user_id IS NULL OR owner_user_id = $3 OR hold_expires_at IS NULL OR hold_expires_at <= $5)",
                )
                .bind(tenant.as_uuid())
                .bind(conversation.as_uuid())
                .bind(user.as_uuid())
                .bind(until)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                if taken.rows_affected() == 0 {
                    // Either unknown (404) or held by someone else. Committed (it changed
                    // nothing) rather than dropped: on SQLite the other holder's take-over
                    // may sit in the same write batch, and commit waits for that batch to be
                    // durable, so a page read right after this answer shows who holds it.
                    let held = self.staff_hold_tx(&mut tx, tenant, conversation, now).await?;
                    tx.commit().await?;
                    return match held {
                        Some(_) => Err(StoreError::Conflict(HELD_BY_ANOTHER)),
                        None => Err(StoreError::NotFound),
                    };
                }
                let held = self.staff_hold_tx(&mut tx, tenant, conversation, now).await?.ok_or(StoreError::NotFound)?;
                let (conv, _, _) = self.fetch_conversation_row(&mut tx, tenant, conversation).await?;
                self.emit_conversation_event_tx(&mut tx, tenant, "conversation.handed_off", &conv, now).await?;
                let ev = AuditEvent::new(Actor::Staff(user), "conversation.taken_over")
                    .target("conversation", conversation)
                    .details(serde_json::json!({ "until": held.expires_at.to_string() }));
                self.append_audit_tx(&mut tx, tenant, now, &ev).await?;
                tx.commit().await?;
                Ok(held)
            }

            async fn release(&self, scope: TenantScope, conversation: ConversationId, user: UserId) -> Result<()> {
                let tenant = scope.tenant_id();
                let now = self.now_us();
                let mut tx = self.write_tx(Some(scope)).await?;
                let done = sqlx::query(
                    "UPDATE conversations SET owner_user_id = NULL, hold_expires_at = NULL, updated_at = $4 \
                     WHERE tenant_id = $1 AND id = $2 AND owner_user_id = $3 AND hold_expires_at > $4",
                )
                .bind(tenant.as_uuid())
                .bind(conversation.as_uuid())
                .bind(user.as_uuid())
                .bind(now)
                .execute(&mut *tx)
                .await?;
                if done.rows_affected() == 0 {
                    // Unknown conversation (404), or not (or no longer) held by this user.
                    self.staff_hold_tx(&mut tx, tenant, conversation, now).await?;
                    return Err(StoreError::Conflict(NOT_HOLDING));
                }
                let ev = AuditEvent::new(Actor::Staff(user), "conversation.released").target("conversation", conversation);
                self.append_audit_tx(&mut tx, tenant, now, &ev).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn staff_reply(&self, scope: TenantScope, conversation: ConversationId, user: UserId, text: &str, hold: jiff::SignedDuration) -> Result<MessageId> {
                let text = checked_staff_text(text, "reply")?;
                let now = self.now_us();
                let mut tx = self.write_tx(Some(scope)).await?;
                let id = self.staff_reply_tx(&mut tx, scope.tenant_id(), conversation, user, text, hold, now).await?;
                tx.commit().await?;
                Ok(id)
            }

            async fn conversation_events(&self, scope: TenantScope, conversation: ConversationId, limit: u32) -> Result<Vec<AuditEntry>> {
                let mut tx = self.read_tx(Some(scope)).await?;
                let rows: Vec<AuditRow> =
                    sqlx::query_as(
                        "SELECT seq, at, actor_kind, actor_id, action, target_kind, target_id, details, prev_hash, hash FROM audit_log \
                         WHERE tenant_id = $1 AND target_kind = 'conversation' AND target_id = $2 AND action IN ('conversation.taken_over', 'conversation.released', 'conversation.hold_expired') \
                         ORDER BY seq DESC LIMIT $3",
                    )
                    .bind(scope.tenant_id().as_uuid())
                    .bind(conversation.to_string())
                    .bind(i64::from(limit.clamp(1, 500)))
                    .fetch_all(&mut *tx)
                    .await?;
                tx.commit().await?;
                let mut out = rows.into_iter().map(audit_entry_from_row).collect::<Result<Vec<_>>>()?;
                out.reverse();
                Ok(out)
            }

            async fn inbox_version(&self, scope: TenantScope, conversation: Option<ConversationId>) -> Result<i64> {
                let tenant = scope.tenant_id();
                let mut tx = self.read_tx(Some(scope)).await?;
                // `updated_at` moves with every message, takeover, release and expiry; the
                // number of conversations catches a new one started in the same microsecond.
                let version: Option<(Option<i64>, i64)> = match conversation {
                    None => sqlx::query_as("SELECT MAX(updated_at), COUNT(*) FROM conversations WHERE tenant_id = $1")
                        .bind(tenant.as_uuid())
                        .fetch_optional(&mut *tx)
                        .await?,
                    Some(id) => sqlx::query_as("SELECT updated_at, CAST(1 AS BIGINT) FROM conversations WHERE tenant_id = $1 AND id = $2")
                        .bind(tenant.as_uuid())
                        .bind(id.as_uuid())
                        .fetch_optional(&mut *tx)
                        .await?,
                };
                tx.commit().await?;
                match version {
                    Some((at, n)) => Ok(at.unwrap_or(0).wrapping_add(n)),
                    None => Err(StoreError::NotFound),
                }
            }

            async fn expire_holds(&self, scope: TenantScope) -> Result<u32> {
                let tenant = scope.tenant_id();
                let now = self.now_us();
                let mut tx = self.write_tx(Some(scope)).await?;
                // Who held what is read first (`RETURNING` would give the cleared values); the
                // update re-checks each row, so a hold renewed meanwhile is left alone.
                let due: Vec<(Uuid, Uuid, i64)> = sqlx::query_as(
                    "SELECT id, owner_user_id, hold_expires_at FROM conversations \
                     WHERE tenant_id = $1 AND owner_user_id IS NOT NULL AND hold_expires_at <= $2",
                )
                .bind(tenant.as_uuid())
                .bind(now)
                .fetch_all(&mut *tx)
                .await?;
                let mut expired = Vec::with_capacity(due.len());
                for (conversation, user, until) in due {
                    let done = sqlx::query(
                        "UPDATE conversations SET owner_user_id = NULL, hold_expires_at = NULL, updated_at = $4 \
                         WHERE tenant_id = $1 AND id = $2 AND owner_user_id = $3 AND hold_expires_at <= $4",
                    )
                    .bind(tenant.as_uuid())
                    .bind(conversation)
                    .bind(user)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                    if done.rows_affected() == 1 {
                        expired.push((conversation, user, until));
                    }
                }
                for (conversation, user, until) in &expired {
                    let ev = AuditEvent::new(Actor::System, "conversation.hold_expired")
                        .target("conversation", conversation)
                        .details(serde_json::json!({ "user": user.to_string(), "expired_at": from_us(*until)?.to_string() }));
                    self.append_audit_tx(&mut tx, tenant, now, &ev).await?;
                }
                tx.commit().await?;
                Ok(expired.len() as u32)
            }

            async fn write_draft(&self, scope: TenantScope, conversation: ConversationId, author: UserId, text: &str) -> Result<DraftId> {
                let text = checked_staff_text(text, "draft")?;
                let tenant = scope.tenant_id();
                let now = self.now_us();
                let mut tx = self.write_tx(Some(scope)).await?;
                let (conv, _, _, wrapped) = self.fetch_conversation_keyed(&mut tx, tenant, conversation).await?;
                let keys = self.tenant_keys(&mut tx, tenant).await?;
                let key = self.patient_key_from(&mut tx, &keys, tenant, conv.patient_id, wrapped).await?;
                let id = DraftId::new();
                let body_ct = key.seal(&aad(tenant, "reply_drafts", "body", &id.to_string()), text.as_bytes())?;
                sqlx::query(
                    "INSERT INTO reply_drafts (tenant_id, id, conversation_id, author_user_id, body_ct, status, created_at) \
                     VALUES ($1, $2, $3, $4, $5, 'pending', $6)",
                )
                .bind(tenant.as_uuid())
                .bind(id.as_uuid())
                .bind(conversation.as_uuid())
                .bind(author.as_uuid())
                .bind(body_ct)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                // Staff watching the conversation see the draft arrive.
                self.touch_conversation_tx(&mut tx, tenant, conversation, now).await?;
                let ev = AuditEvent::new(Actor::Staff(author), "draft.written")
                    .target("draft", id)
                    .details(serde_json::json!({ "conversation": conversation.to_string() }));
                self.append_audit_tx(&mut tx, tenant, now, &ev).await?;
                tx.commit().await?;
                Ok(id)
            }

            async fn drafts(&self, scope: TenantScope, conversation: ConversationId) -> Result<Vec<Draft>> {
                let tenant = scope.tenant_id();
                let mut tx = self.read_tx(Some(scope)).await?;
                let keys = self.tenant_keys(&mut tx, tenant).await?;
                #[allow(clippy::type_complexity)]
                let rows: Vec<(Uuid, Uuid, Vec<u8>, i64, Vec<u8>, Uuid, Option<Vec<u8>>)> = sqlx::query_as(
                    "SELECT d.id, d.author_user_id, d.body_ct, d.created_at, u.name_ct, c.patient_id, k.wrapped FROM reply_drafts d \
                     JOIN conversations c ON c.tenant_id = d.tenant_id AND c.id = d.conversation_id \
                     JOIN users u ON u.tenant_id = d.tenant_id AND u.id = d.author_user_id \
                     LEFT JOIN patient_keys k ON k.tenant_id = c.tenant_id AND k.patient_id = c.patient_id \
                     WHERE d.tenant_id = $1 AND d.conversation_id = $2 AND d.status = 'pending' \
                     ORDER BY d.created_at, d.id LIMIT 50",
                )
                .bind(tenant.as_uuid())
                .bind(conversation.as_uuid())
                .fetch_all(&mut *tx)
                .await?;
                tx.commit().await?;
                let mut out = Vec::with_capacity(rows.len());
                for (id, author, body_ct, at, name_ct, patient, wrapped) in rows {
                    // An erased patient has no key: their drafts cannot be opened (nor shown).
                    let Some(wrapped) = wrapped else { continue };
                    let key = keys.data.unwrap_key(&aad(tenant, "patient_keys", "wrapped", &patient.to_string()), &wrapped)?;
                    out.push(Draft {
                        id: DraftId::from_uuid(id),
                        conversation,
                        author: UserId::from_uuid(author),
                        author_name: keys.data.open_string(&aad(tenant, "users", "name", &author.to_string()), &name_ct)?,
                        text: key.open_string(&aad(tenant, "reply_drafts", "body", &id.to_string()), &body_ct)?,
                        created_at: from_us(at)?,
                    });
                }
                Ok(out)
            }

            async fn send_draft(&self, scope: TenantScope, conversation: ConversationId, draft: DraftId, user: UserId, hold: jiff::SignedDuration) -> Result<MessageId> {
                let tenant = scope.tenant_id();
                let now = self.now_us();
                let mut tx = self.write_tx(Some(scope)).await?;
                let (author, body_ct) = self.pending_draft_tx(&mut tx, tenant, conversation, draft).await?;
                if author == user {
                    return Err(StoreError::Conflict(OWN_DRAFT));
                }
                let (conv, _, _, wrapped) = self.fetch_conversation_keyed(&mut tx, tenant, conversation).await?;
                let keys = self.tenant_keys(&mut tx, tenant).await?;
                let key = self.patient_key_from(&mut tx, &keys, tenant, conv.patient_id, wrapped).await?;
                let text = key.open_string(&aad(tenant, "reply_drafts", "body", &draft.to_string()), &body_ct)?;
                let id = self.staff_reply_tx(&mut tx, tenant, conversation, user, &text, hold, now).await?;
                self.decide_draft_tx(&mut tx, tenant, conversation, draft, user, "sent", Some(id), now).await?;
                tx.commit().await?;
                Ok(id)
            }

            async fn discard_draft(&self, scope: TenantScope, conversation: ConversationId, draft: DraftId, user: UserId) -> Result<()> {
                let tenant = scope.tenant_id();
                let now = self.now_us();
                let mut tx = self.write_tx(Some(scope)).await?;
                self.pending_draft_tx(&mut tx, tenant, conversation, draft).await?;
                self.decide_draft_tx(&mut tx, tenant, conversation, draft, user, "discarded", None, now).await?;
                self.touch_conversation_tx(&mut tx, tenant, conversation, now).await?;
                tx.commit().await?;
                Ok(())
            }
        }
    };
}

pub(crate) use impl_inbox;
