//! Shared SQL for conversations, messages and web chat sessions. Message bodies are sealed
//! with the patient's own key, bound to (tenant, messages, body, message id); a conversation's
//! summary is sealed as JSON with the same key, bound to (tenant, conversations, summary,
//! conversation id).

use crate::crypto::DataKey;
use crate::keys::aad;
use crate::model::{Channel, Conversation, ConversationSummary, Direction, Message, Sender};
use crate::{Result, StoreError};
use frontdesk_domain::{ConversationId, MessageId, PatientId, TenantId};
use zeroize::Zeroizing;

/// What storing a message needs of its conversation (a webhook's ack knows it without reading
/// the conversation's row).
#[derive(Debug, Clone, Copy)]
pub(crate) struct MessageTarget {
    pub id: ConversationId,
    pub patient_id: PatientId,
    pub channel: Channel,
}

impl From<&Conversation> for MessageTarget {
    fn from(c: &Conversation) -> Self {
        Self {
            id: c.id,
            patient_id: c.patient_id,
            channel: c.channel,
        }
    }
}

/// A new message's status: an inbound one is received; a reply to a provider channel waits
/// in the outbox until the provider accepts it; any other reply is sent as it is stored.
pub(crate) fn new_message_status(direction: Direction, channel: Channel) -> &'static str {
    match (direction, channel) {
        (Direction::Inbound, _) => "received",
        (Direction::Outbound, Channel::Whatsapp | Channel::Sms) => "queued",
        (Direction::Outbound, _) => "sent",
    }
}

/// Validates and seals a summary for `conversations.summary_ct`.
pub(crate) fn seal_summary(
    key: &DataKey,
    tenant: TenantId,
    conversation: ConversationId,
    summary: &ConversationSummary,
) -> Result<Vec<u8>> {
    summary.validate()?;
    let json = Zeroizing::new(
        serde_json::to_vec(summary).map_err(|_| StoreError::Corrupt("conversation summary"))?,
    );
    let row = conversation.to_string();
    Ok(key.seal(&aad(tenant, "conversations", "summary", &row), &json)?)
}

/// Opens what [`seal_summary`] sealed for this conversation; any other row's ciphertext fails.
pub(crate) fn open_summary(
    key: &DataKey,
    tenant: TenantId,
    conversation: ConversationId,
    ct: &[u8],
) -> Result<ConversationSummary> {
    let row = conversation.to_string();
    let json = key.open(&aad(tenant, "conversations", "summary", &row), ct)?;
    serde_json::from_slice(&json).map_err(|_| StoreError::Corrupt("conversation summary"))
}

/// Opens a conversation row's sealed summary and dialogue state into `conv`.
pub(crate) fn open_conversation(
    conv: &mut Conversation,
    key: &DataKey,
    tenant: TenantId,
    summary_ct: Option<Vec<u8>>,
    state_ct: Option<Vec<u8>>,
) -> Result<()> {
    if let Some(ct) = summary_ct {
        conv.summary = Some(open_summary(key, tenant, conv.id, &ct)?);
    }
    if let Some(ct) = state_ct {
        let row = conv.id.to_string();
        conv.dialogue_state =
            Some(key.open_string(&aad(tenant, "conversations", "state", &row), &ct)?);
    }
    Ok(())
}

/// The columns `conversation_from_row` reads, in its order: the conversation `c` and the
/// patient's wrapped key `k.wrapped` (`patient_keys k`, joined on the patient).
macro_rules! conversation_columns {
    () => {
        "c.patient_id, c.channel, c.status, c.urgency, c.created_at, c.last_message_at, c.summary_ct, c.state_ct, \
         c.verified_patient_id, c.verified_until, c.reminded_appointment_id, c.offered_hold_id, c.owner_user_id, \
         c.hold_expires_at, c.assignee_user_id, k.wrapped"
    };
}

/// A conversation (`conversation_columns!`, indexes 0 to 15) and its newest `$3` messages
/// (`message_columns`, 16 to 21), one message per row, oldest first; one row with the message
/// columns `NULL` when it has none. The messages come from the conversation's index on
/// (tenant, conversation, id), newest first, in the same statement: one round trip.
macro_rules! recent_by_conversation {
    () => {
        concat!(
            "SELECT ",
            $crate::sql::conversations::conversation_columns!(),
            ", m.id, m.direction, m.sender, m.body_ct, m.status, m.created_at \
             FROM conversations c LEFT JOIN patient_keys k ON k.tenant_id = c.tenant_id AND k.patient_id = c.patient_id \
             LEFT JOIN (SELECT id, direction, sender, body_ct, status, created_at FROM messages \
                        WHERE tenant_id = $1 AND conversation_id = $2 ORDER BY id DESC LIMIT $3) m ON TRUE \
             WHERE c.tenant_id = $1 AND c.id = $2 ORDER BY m.id"
        )
    };
}

/// `recent_by_conversation!` for the conversation of the call `$2`, with the call's own
/// columns after the messages (22 to 27: conversation, patient, status, started, ended,
/// duration).
macro_rules! recent_by_call {
    () => {
        concat!(
            "SELECT ",
            $crate::sql::conversations::conversation_columns!(),
            ", m.id, m.direction, m.sender, m.body_ct, m.status, m.created_at, \
             ca.conversation_id, ca.patient_id, ca.status, ca.started_at, ca.ended_at, ca.duration_secs \
             FROM calls ca JOIN conversations c ON c.tenant_id = ca.tenant_id AND c.id = ca.conversation_id \
             LEFT JOIN patient_keys k ON k.tenant_id = c.tenant_id AND k.patient_id = c.patient_id \
             LEFT JOIN (SELECT id, direction, sender, body_ct, status, created_at FROM messages \
                        WHERE tenant_id = $1 AND conversation_id = (SELECT conversation_id FROM calls WHERE tenant_id = $1 AND call_sid = $2) \
                        ORDER BY id DESC LIMIT $3) m ON TRUE \
             WHERE ca.tenant_id = $1 AND ca.call_sid = $2 ORDER BY m.id"
        )
    };
}

/// A message row (`id, direction, sender, body_ct, status, created_at`) with its body opened
/// with the patient's `key`.
pub(crate) fn open_message(
    tenant: TenantId,
    conv: &Conversation,
    key: &DataKey,
    (id, direction, sender, body_ct, status, created_at): (
        uuid::Uuid,
        String,
        String,
        Vec<u8>,
        String,
        i64,
    ),
) -> Result<Message> {
    let row = id.to_string();
    Ok(Message {
        id: MessageId::from_uuid(id),
        conversation_id: conv.id,
        direction: Direction::parse(&direction)?,
        sender: Sender::parse(&sender)?,
        channel: conv.channel,
        body: key.open_string(&aad(tenant, "messages", "body", &row), &body_ct)?,
        status,
        created_at: crate::from_us(created_at)?,
    })
}

macro_rules! impl_conversations {
    ($Store:ty) => {
        use $crate::sql::conversations::{MessageTarget, open_conversation, open_message, open_summary, seal_summary};

        impl $Store {
            async fn insert_conversation_tx(&self, tx: &mut Tx, tenant: TenantId, patient: PatientId, channel: Channel, now: i64) -> Result<ConversationId> {
                let id = ConversationId::new();
                sqlx::query(
                    "INSERT INTO conversations (tenant_id, id, patient_id, channel, status, urgency, last_message_at, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, 'open', 'normal', $5, $5, $5)",
                )
                .bind(tenant.as_uuid())
                .bind(id.as_uuid())
                .bind(patient.as_uuid())
                .bind(channel.as_str())
                .bind(now)
                .execute(&mut **tx)
                .await?;
                Ok(id)
            }

            /// The conversation's row with its summary still sealed (`summary: None`): for the
            /// writers and readers that do not need the summary, so no key is unwrapped for it.
            #[allow(clippy::type_complexity)]
            async fn fetch_conversation_row(&self, tx: &mut Tx, tenant: TenantId, id: ConversationId) -> Result<(Conversation, Option<Vec<u8>>, Option<Vec<u8>>)> {
                let (conv, summary_ct, state_ct, _) = self.fetch_conversation_keyed(tx, tenant, id).await?;
                Ok((conv, summary_ct, state_ct))
            }

            /// `fetch_conversation_row` with the patient's wrapped key (`patient_keys.wrapped`)
            /// from the same statement, for `patient_key_from`: one round trip fewer for the
            /// readers and writers that open the patient's data.
            #[allow(clippy::type_complexity)]
            async fn fetch_conversation_keyed(&self, tx: &mut Tx, tenant: TenantId, id: ConversationId) -> Result<(Conversation, Option<Vec<u8>>, Option<Vec<u8>>, Option<Vec<u8>>)> {
                let row = sqlx::query(concat!("SELECT ", $crate::sql::conversations::conversation_columns!(), " \
                     FROM conversations c LEFT JOIN patient_keys k ON k.tenant_id = c.tenant_id AND k.patient_id = c.patient_id \
                     WHERE c.tenant_id = $1 AND c.id = $2"))
                .bind(tenant.as_uuid())
                .bind(id.as_uuid())
                .fetch_optional(&mut **tx)
                .await?
                .ok_or(StoreError::NotFound)?;
                self.conversation_from_row(id, &row)
            }

            /// The conversation (summary and dialogue state still sealed) and the patient's
            /// wrapped key from the first columns of `row`, selected as `conversation_columns!`.
            #[allow(clippy::type_complexity)]
            fn conversation_from_row(&self, id: ConversationId, row: &DbRow) -> Result<(Conversation, Option<Vec<u8>>, Option<Vec<u8>>, Option<Vec<u8>>)> {
                use sqlx::Row;
                let verified: Option<Uuid> = row.try_get(8)?;
                let until: Option<i64> = row.try_get(9)?;
                let verified_patient = match (verified, until) {
                    (Some(p), Some(until)) if until > self.now_us() => Some(PatientId::from_uuid(p)),
                    _ => None,
                };
                let conv = Conversation {
                    id,
                    patient_id: PatientId::from_uuid(row.try_get(0)?),
                    channel: Channel::parse(row.try_get::<&str, _>(1)?)?,
                    status: row.try_get(2)?,
                    urgency: row.try_get(3)?,
                    created_at: from_us(row.try_get(4)?)?,
                    last_message_at: from_us(row.try_get(5)?)?,
                    summary: None,
                    dialogue_state: None,
                    verified_patient,
                    reminded_appointment: row.try_get::<Option<Uuid>, _>(10)?.map(AppointmentId::from_uuid),
                    offered_hold: row.try_get::<Option<Uuid>, _>(11)?.map(SlotHoldId::from_uuid),
                    held_by: row.try_get::<Option<Uuid>, _>(12)?.map(UserId::from_uuid),
                    hold_expires_at: row.try_get::<Option<i64>, _>(13)?.map(from_us).transpose()?,
                    assignee: row.try_get::<Option<Uuid>, _>(14)?.map(UserId::from_uuid),
                };
                Ok((conv, row.try_get(6)?, row.try_get(7)?, row.try_get(15)?))
            }

            /// The conversation with its summary opened with the patient's own key.
            async fn fetch_conversation(&self, tx: &mut Tx, tenant: TenantId, id: ConversationId) -> Result<Conversation> {
                Ok(self.fetch_conversation_recent(tx, tenant, id, 0).await?.0)
            }

            /// The conversation (summary and dialogue state opened) and its newest `recent`
            /// messages, oldest first; the patient's key is unwrapped only when something
            /// needs it.
            async fn fetch_conversation_recent(&self, tx: &mut Tx, tenant: TenantId, id: ConversationId, recent: u32) -> Result<(Conversation, Vec<Message>)> {
                if recent == 0 {
                    let (mut conv, summary_ct, state_ct, wrapped) = self.fetch_conversation_keyed(tx, tenant, id).await?;
                    if summary_ct.is_some() || state_ct.is_some() {
                        let keys = self.tenant_keys(tx, tenant).await?;
                        let key = self.patient_key_from(tx, &keys, tenant, conv.patient_id, wrapped).await?;
                        open_conversation(&mut conv, &key, tenant, summary_ct, state_ct)?;
                    }
                    return Ok((conv, Vec::new()));
                }
                let rows = sqlx::query($crate::sql::conversations::recent_by_conversation!())
                    .bind(tenant.as_uuid())
                    .bind(id.as_uuid())
                    .bind(i64::from(recent))
                    .fetch_all(&mut **tx)
                    .await?;
                self.open_recent_rows(tx, tenant, id, &rows).await
            }

            /// The rows of `recent_by_conversation!` / `recent_by_call!` (the conversation
            /// and its key repeated on each, one of the newest messages per row, oldest
            /// first, or one row without a message) opened: the conversation's summary and
            /// state and the messages with the patient's key.
            async fn open_recent_rows(&self, tx: &mut Tx, tenant: TenantId, id: ConversationId, rows: &[DbRow]) -> Result<(Conversation, Vec<Message>)> {
                use sqlx::Row;
                let first = rows.first().ok_or(StoreError::NotFound)?;
                let (mut conv, summary_ct, state_ct, wrapped) = self.conversation_from_row(id, first)?;
                let has_messages = first.try_get::<Option<Uuid>, _>(16)?.is_some();
                if !has_messages && summary_ct.is_none() && state_ct.is_none() {
                    return Ok((conv, Vec::new()));
                }
                let keys = self.tenant_keys(tx, tenant).await?;
                let key = self.patient_key_from(tx, &keys, tenant, conv.patient_id, wrapped).await?;
                open_conversation(&mut conv, &key, tenant, summary_ct, state_ct)?;
                let mut messages = Vec::with_capacity(rows.len());
                if has_messages {
                    for row in rows {
                        let parts = (row.try_get(16)?, row.try_get(17)?, row.try_get(18)?, row.try_get(19)?, row.try_get(20)?, row.try_get(21)?);
                        messages.push(open_message(tenant, &conv, &key, parts)?);
                    }
                }
                Ok((conv, messages))
            }

            /// Up to `limit` of the conversation's messages after `after`, opened with the
            /// patient's `key`: the oldest ones first, or with `newest` the newest ones first.
            /// Only these rows are read and opened (the index on (tenant, conversation, id)
            /// serves both orders).
            #[allow(clippy::too_many_arguments)]
            async fn select_messages_tx(&self, tx: &mut Tx, tenant: TenantId, conv: &Conversation, key: &DataKey, after: Option<MessageId>, limit: u32, newest: bool) -> Result<Vec<Message>> {
                let sql = if newest {
                    "SELECT id, direction, sender, body_ct, status, created_at FROM messages \
                     WHERE tenant_id = $1 AND conversation_id = $2 AND ($3 IS NULL OR id > $3) ORDER BY id DESC LIMIT $4"
                } else {
                    "SELECT id, direction, sender, body_ct, status, created_at FROM messages \
                     WHERE tenant_id = $1 AND conversation_id = $2 AND ($3 IS NULL OR id > $3) ORDER BY id LIMIT $4"
                };
                let rows: Vec<(Uuid, String, String, Vec<u8>, String, i64)> = sqlx::query_as(sql)
                    .bind(tenant.as_uuid())
                    .bind(conv.id.as_uuid())
                    .bind(after.map(|m| m.as_uuid()))
                    .bind(i64::from(limit))
                    .fetch_all(&mut **tx)
                    .await?;
                rows.into_iter().map(|parts| open_message(tenant, conv, key, parts)).collect()
            }

            /// Seals and inserts one message; `false` when its provider id was already stored.
            async fn insert_message_tx(&self, tx: &mut Tx, tenant: TenantId, conv: impl Into<MessageTarget> + Send, key: &DataKey, m: &NewMessage, now: i64) -> Result<Option<MessageId>> {
                let conv: MessageTarget = conv.into();
                let id = MessageId::new();
                let row = id.to_string();
                let body_ct = key.seal_str(&aad(tenant, "messages", "body", &row), &m.body)?;
                // The insert also asks, in the same statement, whether any of the clinic's
                // active endpoints subscribes to `message.received`: a clinic without one pays
                // no extra round trip on the hot path. (`ON CONFLICT DO NOTHING` returns no row
                // for a redelivery.)
                let mut q = sqlx::QueryBuilder::<Db>::new("");
                Self::push_message_insert(&mut q, tenant, conv, vec![(id, m, body_ct)], now);
                Self::push_subscriber_count(&mut q, tenant);
                let subscribers: Option<i64> = q.build_query_scalar().fetch_optional(&mut **tx).await?;
                let Some(subscribers) = subscribers else {
                    return Ok(None);
                };
                if m.direction == Direction::Inbound && subscribers > 0 {
                    self.emit_message_received_tx(tx, tenant, conv, id, now).await?;
                }
                Ok(Some(id))
            }

            /// The `INSERT` of new messages into `conv`, each `(id, message, body sealed with
            /// the patient's key)`, onto `q`, up to `ON CONFLICT DO NOTHING RETURNING `: the
            /// caller adds what each stored message returns (a redelivered one returns no row).
            fn push_message_insert(q: &mut sqlx::QueryBuilder<Db>, tenant: TenantId, conv: MessageTarget, rows: Vec<(MessageId, &NewMessage, Vec<u8>)>, now: i64) {
                q.push("INSERT INTO messages (tenant_id, id, conversation_id, direction, sender, channel, body_ct, \
                        provider_message_id, status, created_at) ");
                q.push_values(rows, |mut row, (id, m, body_ct)| {
                    row.push_bind(tenant.as_uuid())
                        .push_bind(id.as_uuid())
                        .push_bind(conv.id.as_uuid())
                        .push_bind(m.direction.as_str())
                        .push_bind(m.sender.as_str())
                        .push_bind(conv.channel.as_str())
                        .push_bind(body_ct)
                        .push_bind(m.provider_message_id.clone())
                        .push_bind($crate::sql::conversations::new_message_status(m.direction, conv.channel))
                        .push_bind(now);
                });
                q.push(" ON CONFLICT DO NOTHING RETURNING ");
            }

            /// What a message insert returns for each new message (see `push_message_insert`):
            /// how many of the clinic's active endpoints subscribe to `message.received`.
            fn push_subscriber_count(q: &mut sqlx::QueryBuilder<Db>, tenant: TenantId) {
                q.push("(SELECT COUNT(*) FROM webhook_endpoints w WHERE w.tenant_id = ").push_bind(tenant.as_uuid());
                q.push(" AND w.active AND (' ' || w.events || ' ') LIKE '% message.received %')");
            }

            /// The `INSERT` of audit `entries` (hashed in order after the head's seq and hash
            /// by `audit::Entry::new`), onto `q`: in a turn's one statement, or in the
            /// webhook's one call on SQLite (see `ingest_inbound`).
            fn push_audit_insert(q: &mut sqlx::QueryBuilder<Db>, tenant: TenantId, entries: &[crate::audit::Entry<'_>], now: i64) {
                q.push("INSERT INTO audit_log (tenant_id, seq, id, at, actor_kind, actor_id, action, target_kind, \
                        target_id, details, prev_hash, hash) ");
                q.push_values(entries, |mut row, e| {
                    row.push_bind(tenant.as_uuid())
                        .push_bind(e.seq)
                        .push_bind(Uuid::now_v7())
                        .push_bind(now)
                        .push_bind(e.actor_kind)
                        .push_bind(e.actor_id.clone())
                        .push_bind(e.action)
                        .push_bind(e.target_kind)
                        .push_bind(e.target_id)
                        .push_bind(e.details.clone())
                        .push_bind(e.prev_hash.clone())
                        .push_bind(e.hash.clone());
                });
            }

            /// Every new message from a patient, whatever the channel, is one
            /// `message.received` event, queued with the message itself (ids only: the
            /// receiver reads the text through the API with `conversations:read`).
            async fn emit_message_received_tx(&self, tx: &mut Tx, tenant: TenantId, conv: MessageTarget, id: MessageId, now: i64) -> Result<()> {
                let data = serde_json::json!({
                    "message_id": id.to_string(),
                    "conversation_id": conv.id.to_string(),
                    "patient_id": conv.patient_id.to_string(),
                    "channel": conv.channel.as_str(),
                    "received_at": from_us(now)?.to_string(),
                });
                self.emit_event_tx(tx, tenant, "message.received", data, now).await?;
                Ok(())
            }

            /// The first of a turn's two calls to the database: the conversation's row (as
            /// `fetch_conversation_keyed` reads it), then the clinic's audit chain head moved on
            /// by the turn's `entries` at once, returning its seq and hash before the move.
            /// PostgreSQL: one statement, the conversation locked first, as every writer of both
            /// locks them (the statement-by-statement write included; the other order could
            /// deadlock with them): the head is only updated once the conversation's row is
            /// (`EXISTS` on it). SQLite (one writer at a time, nothing to lock): the read and
            /// the update as two statements sent together, one trip to the driver's thread.
            #[allow(clippy::type_complexity)]
            async fn lock_for_turn(&self, tx: &mut Tx, tenant: TenantId, id: ConversationId, entries: usize) -> Result<(Conversation, Option<Vec<u8>>, Option<Vec<u8>>, (i64, Vec<u8>))> {
                use sqlx::Row;
                let n = i64::try_from(entries).map_err(|_| StoreError::Corrupt("audit entries"))?;
                if ENGINE == "sqlite" {
                    let rows = sqlx::query(concat!("SELECT ", $crate::sql::conversations::conversation_columns!(), " \
                         FROM conversations c LEFT JOIN patient_keys k ON k.tenant_id = c.tenant_id AND k.patient_id = c.patient_id \
                         WHERE c.tenant_id = $1 AND c.id = $2; \
                         UPDATE audit_heads SET seq = seq + $3 WHERE tenant_id = $1 RETURNING seq - $3, hash"))
                    .bind(tenant.as_uuid())
                    .bind(id.as_uuid())
                    .bind(n)
                    .fetch_all(&mut **tx)
                    .await?;
                    // The conversation's row, then the head's; without the conversation only
                    // the head's (moved in this transaction, which the caller drops).
                    let [conv_row, head_row] = rows.as_slice() else {
                        return Err(StoreError::NotFound);
                    };
                    let (conv, summary_ct, _, wrapped) = self.conversation_from_row(id, conv_row)?;
                    return Ok((conv, summary_ct, wrapped, (head_row.try_get(0)?, head_row.try_get(1)?)));
                }
                let row = sqlx::query(concat!("WITH cv AS (SELECT ", $crate::sql::conversations::conversation_columns!(), " \
                     FROM conversations c LEFT JOIN patient_keys k ON k.tenant_id = c.tenant_id AND k.patient_id = c.patient_id \
                     WHERE c.tenant_id = $1 AND c.id = $2 FOR NO KEY UPDATE OF c), \
                     h AS (UPDATE audit_heads SET seq = seq + $3 WHERE tenant_id = $1 AND EXISTS (SELECT 1 FROM cv) \
                     RETURNING seq - $3, hash) \
                     SELECT cv.*, h.* FROM cv CROSS JOIN h"))
                .bind(tenant.as_uuid())
                .bind(id.as_uuid())
                .bind(n)
                .fetch_optional(&mut **tx)
                .await?
                .ok_or(StoreError::NotFound)?;
                let (conv, summary_ct, _, wrapped) = self.conversation_from_row(id, &row)?;
                Ok((conv, summary_ct, wrapped, (row.try_get(16)?, row.try_get(17)?)))
            }

            /// The second of a turn's two calls: its messages, the conversation's update, its
            /// audit entries (after `head`, the seq and hash `lock_for_turn` found), its outbox
            /// rows and its model usage at once. PostgreSQL: **one** statement (data-modifying
            /// `WITH`); SQLite, which cannot write inside a `WITH`: the same statements one
            /// after the other in one string, run by the driver's thread in one go. The same
            /// rows as the statement-by-statement write (turns with an escalation), in 2 round
            /// trips (PostgreSQL) or thread hops (SQLite) instead of one for the conversation's
            /// read, one per message, one for the conversation's update, two or three per audit
            /// entry and one for the usage (7 or 8 for a plain phone turn answered by a model):
            /// the turn's transaction, and the caller on the phone, wait that much less. The
            /// new messages' ids, oldest first; `Duplicate` when any message was already stored
            /// (a redelivered inbound message: the caller drops the transaction, so nothing is
            /// written).
            #[allow(clippy::too_many_arguments)]
            async fn write_turn_folded(&self, tx: &mut Tx, tenant: TenantId, conv: &Conversation, key: &DataKey, turn: &Turn, summary_ct: Option<Vec<u8>>, state_ct: Option<Vec<u8>>, head: (i64, Vec<u8>), now: i64) -> Result<Vec<MessageId>> {
                let (before, mut prev) = head;
                let mut entries = Vec::with_capacity(turn.audit.len());
                for (seq, ev) in (before + 1..).zip(&turn.audit) {
                    let e = crate::audit::Entry::new(tenant.as_uuid(), &prev, seq, now, ev)?;
                    prev.clone_from(&e.hash);
                    entries.push(e);
                }
                let messages: Vec<&NewMessage> = turn.inbound.iter().chain(&turn.replies).collect();
                let mut ids = Vec::with_capacity(messages.len());
                // Each part is a `WITH` member (PostgreSQL) or a statement of its own (SQLite).
                let sqlite = ENGINE == "sqlite";
                let mut q = sqlx::QueryBuilder::<Db>::new(if sqlite { "" } else { "WITH c AS (" });
                q.push("UPDATE conversations SET last_message_at = ");
                q.push_bind(now).push(", updated_at = ").push_bind(now);
                q.push(", summary_ct = COALESCE(").push_bind(summary_ct).push(", summary_ct), state_ct = COALESCE(").push_bind(state_ct);
                q.push(", state_ct) WHERE tenant_id = ").push_bind(tenant.as_uuid()).push(" AND id = ").push_bind(conv.id.as_uuid());
                let close = |q: &mut sqlx::QueryBuilder<Db>| {
                    q.push(if sqlite { "; " } else { ")" });
                };
                close(&mut q);
                let open = |q: &mut sqlx::QueryBuilder<Db>, name: &str| {
                    if !sqlite {
                        q.push(", ").push(name).push(" AS (");
                    }
                };
                if !messages.is_empty() {
                    open(&mut q, "m");
                    let mut rows = Vec::with_capacity(messages.len());
                    for m in &messages {
                        let id = MessageId::new();
                        let body_ct = key.seal_str(&aad(tenant, "messages", "body", &id.to_string()), &m.body)?;
                        rows.push((id, *m, body_ct));
                        ids.push(id);
                    }
                    Self::push_message_insert(&mut q, tenant, conv.into(), rows, now);
                    // One row per message stored (none for a redelivery).
                    q.push("1");
                    close(&mut q);
                }
                if let Some(last) = entries.last() {
                    open(&mut q, "h");
                    q.push("UPDATE audit_heads SET hash = ").push_bind(last.hash.clone());
                    q.push(" WHERE tenant_id = ").push_bind(tenant.as_uuid());
                    close(&mut q);
                    open(&mut q, "a");
                    Self::push_audit_insert(&mut q, tenant, &entries, now);
                    close(&mut q);
                }
                // Provider channels deliver the replies through the outbox.
                let delivered: Vec<MessageId> = ids.iter().zip(&messages).filter(|(_, m)| m.direction == Direction::Outbound).map(|(id, _)| *id).collect();
                if matches!(conv.channel, Channel::Whatsapp | Channel::Sms) && !delivered.is_empty() {
                    open(&mut q, "o");
                    Self::push_outbox_insert(&mut q, tenant, &delivered, conv.channel, OutboxPurpose::Reply, now);
                    close(&mut q);
                }
                if let Some(u) = &turn.llm_usage {
                    open(&mut q, "u");
                    Self::push_llm_usage_insert(&mut q, tenant, u, now);
                    close(&mut q);
                }
                // The last row: how many messages were stored (PostgreSQL; on SQLite the rows
                // the message insert returned, before it, count them) and whether any of the
                // clinic's active endpoints subscribes to `message.received` (asked in the same
                // call, as the one-by-one insert does).
                q.push(" SELECT ");
                if sqlite || messages.is_empty() {
                    q.push("CAST(0 AS BIGINT)");
                } else {
                    q.push("(SELECT COUNT(*) FROM m)");
                }
                q.push(", (SELECT COUNT(*) FROM webhook_endpoints w WHERE w.tenant_id = ").push_bind(tenant.as_uuid());
                q.push(" AND w.active AND (' ' || w.events || ' ') LIKE '% message.received %')");
                let rows = q.build().fetch_all(&mut **tx).await?;
                let (last, returned) = rows.split_last().ok_or(StoreError::Corrupt("turn write"))?;
                let (counted, subscribers): (i64, i64) = {
                    use sqlx::Row;
                    (last.try_get(0)?, last.try_get(1)?)
                };
                let stored = if sqlite { i64::try_from(returned.len()).unwrap_or(i64::MAX) } else { counted };
                if usize::try_from(stored).ok() != Some(messages.len()) {
                    return Err(StoreError::Duplicate);
                }
                if subscribers > 0 {
                    let target = MessageTarget::from(conv);
                    for (id, _) in ids.iter().zip(&messages).filter(|(_, m)| m.direction == Direction::Inbound) {
                        self.emit_message_received_tx(tx, tenant, target, *id, now).await?;
                    }
                }
                Ok(ids)
            }
        }

        #[async_trait]
        impl ConversationStore for $Store {
            async fn start_webchat(&self, slug: &TenantSlug, ttl: jiff::SignedDuration) -> Result<WebchatStart> {
                let tenant = self.resolve_slug(slug).await?;
                let scope = TenantScope::new(tenant);
                let now_ts = self.clock.now();
                let now = crate::to_us(now_ts);
                let expires_at = now_ts.checked_add(ttl).map_err(|_| StoreError::Corrupt("ttl"))?;
                let mut tx = self.write_tx(Some(scope)).await?;
                let keys = self.tenant_keys(&mut tx, tenant).await?;
                let patient = self.insert_patient_tx(&mut tx, tenant, &keys, now, &NewPatient::default()).await?;
                let conversation_id = self.insert_conversation_tx(&mut tx, tenant, patient, Channel::Webchat, now).await?;
                let token = new_token("fdw_");
                sqlx::query(
                    "INSERT INTO webchat_sessions (tenant_id, id, conversation_id, token_hash, created_at, expires_at) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(tenant.as_uuid())
                .bind(WebchatSessionId::new().as_uuid())
                .bind(conversation_id.as_uuid())
                .bind(token_hash(&token))
                .bind(now)
                .bind(crate::to_us(expires_at))
                .execute(&mut *tx)
                .await?;
                let ev = AuditEvent::new(Actor::Patient(patient), "webchat.session_started").target("conversation", conversation_id);
                self.append_audit_tx(&mut tx, tenant, now, &ev).await?;
                tx.commit().await?;
                Ok(WebchatStart { token, conversation_id, expires_at })
            }

            async fn authenticate_webchat(&self, slug: &TenantSlug, token: &str) -> Result<WebchatAuth> {
                let tenant = self.resolve_slug(slug).await?;
                let scope = TenantScope::new(tenant);
                let mut tx = self.read_tx(Some(scope)).await?;
                let row: Option<(Uuid, i64, Uuid)> = sqlx::query_as(
                    "SELECT s.conversation_id, s.expires_at, c.patient_id FROM webchat_sessions s \
                     JOIN conversations c ON c.tenant_id = s.tenant_id AND c.id = s.conversation_id \
                     WHERE s.tenant_id = $1 AND s.token_hash = $2",
                )
                .bind(tenant.as_uuid())
                .bind(token_hash(token))
                .fetch_optional(&mut *tx)
                .await?;
                tx.commit().await?;
                match row {
                    Some((conv, expires_at, patient)) if expires_at > self.now_us() => Ok(WebchatAuth {
                        scope,
                        conversation_id: ConversationId::from_uuid(conv),
                        patient_id: PatientId::from_uuid(patient),
                    }),
                    _ => Err(StoreError::Unauthorized),
                }
            }

            async fn start_conversation(&self, scope: TenantScope, patient: PatientId, channel: Channel) -> Result<ConversationId> {
                let tenant = scope.tenant_id();
                let now = self.now_us();
                let mut tx = self.write_tx(Some(scope)).await?;
                let id = self.insert_conversation_tx(&mut tx, tenant, patient, channel, now).await?;
                let ev = AuditEvent::new(Actor::Patient(patient), "conversation.started")
                    .target("conversation", id)
                    .details(serde_json::json!({ "channel": channel.as_str() }));
                self.append_audit_tx(&mut tx, tenant, now, &ev).await?;
                tx.commit().await?;
                Ok(id)
            }

            async fn conversation(&self, scope: TenantScope, id: ConversationId) -> Result<Conversation> {
                let mut tx = self.read_tx(Some(scope)).await?;
                let c = self.fetch_conversation(&mut tx, scope.tenant_id(), id).await?;
                tx.commit().await?;
                Ok(c)
            }

            async fn record_turn(&self, scope: TenantScope, conversation: ConversationId, turn: &Turn) -> Result<Vec<MessageId>> {
                let tenant = scope.tenant_id();
                let now = self.now_us();
                tracing::trace!(target: "frontdesk::step", "turn.begin");
                let mut tx = self.write_tx(Some(scope)).await?;
                tracing::trace!(target: "frontdesk::step", "turn.begun");
                // A turn without an escalation (nearly all) is written in two calls to the
                // database: see `lock_for_turn` and `write_turn_folded`.
                let folded = turn.escalation.is_none();
                if let Some(job) = &turn.job {
                    self.finish_job_tx(&mut tx, job, now).await?;
                }
                let (conv, stored_ct, wrapped, head) = if folded {
                    let (conv, stored_ct, wrapped, head) = self.lock_for_turn(&mut tx, tenant, conversation, turn.audit.len()).await?;
                    tracing::trace!(target: "frontdesk::step", "turn.locked");
                    (conv, stored_ct, wrapped, Some(head))
                } else {
                    let (conv, stored_ct, _, wrapped) = self.fetch_conversation_keyed(&mut tx, tenant, conversation).await?;
                    (conv, stored_ct, wrapped, None)
                };
                // Checked here, in the transaction that would store them, not only by the
                // caller: while staff hold the conversation no AI reply is stored or queued.
                if conv.holder(from_us(now)?).is_some() && turn.replies.iter().any(|r| r.sender != Sender::Staff) {
                    return Err(StoreError::Conflict(HELD_BY_STAFF));
                }
                let keys = self.tenant_keys(&mut tx, tenant).await?;
                let key = self.patient_key_from(&mut tx, &keys, tenant, conv.patient_id, wrapped).await?;
                let summary_ct = match (&turn.summary, stored_ct) {
                    (Some(new), Some(ct)) => {
                        let stored = open_summary(&key, tenant, conversation, &ct)?;
                        Some(seal_summary(&key, tenant, conversation, &new.clone().over(&stored))?)
                    }
                    (Some(new), None) => Some(seal_summary(&key, tenant, conversation, new)?),
                    (None, _) => None,
                };
                let conv_row = conversation.to_string();
                let state_ct = turn
                    .dialogue_state
                    .as_deref()
                    .map(|st| key.seal_str(&aad(tenant, "conversations", "state", &conv_row), st))
                    .transpose()?;
                if let Some(head) = head {
                    let ids = self.write_turn_folded(&mut tx, tenant, &conv, &key, turn, summary_ct, state_ct, head, now).await?;
                    tracing::trace!(target: "frontdesk::step", "turn.written");
                    tx.commit().await?;
                    tracing::trace!(target: "frontdesk::step", "turn.committed");
                    return Ok(ids);
                }
                let mut ids = Vec::with_capacity(1 + turn.replies.len());
                if let Some(inbound) = &turn.inbound {
                    // A redelivered inbound message: nothing is written (the transaction is dropped).
                    let Some(id) = self.insert_message_tx(&mut tx, tenant, &conv, &key, inbound, now).await? else {
                        return Err(StoreError::Duplicate);
                    };
                    ids.push(id);
                }
                for reply in &turn.replies {
                    let id = self.insert_message_tx(&mut tx, tenant, &conv, &key, reply, now).await?.ok_or(StoreError::Duplicate)?;
                    // Provider channels deliver through the outbox (same transaction as the reply).
                    if matches!(conv.channel, Channel::Whatsapp | Channel::Sms) {
                        self.enqueue_outbox_tx(&mut tx, tenant, id, conv.channel, OutboxPurpose::Reply, now).await?;
                    }
                    ids.push(id);
                }
                // Written only after the inbound message was new: a redelivery keeps the summary
                // and the dialogue state.
                sqlx::query(
                    "UPDATE conversations SET last_message_at = $3, updated_at = $3, summary_ct = COALESCE($4, summary_ct), \
                     state_ct = COALESCE($5, state_ct) WHERE tenant_id = $1 AND id = $2",
                )
                .bind(tenant.as_uuid())
                .bind(conversation.as_uuid())
                .bind(now)
                .bind(summary_ct)
                .bind(state_ct)
                .execute(&mut *tx)
                .await?;
                if let Some(esc) = &turn.escalation {
                    // Urgency only rises: a calm follow-up never clears an emergency.
                    sqlx::query(
                        "UPDATE conversations SET urgency = CASE \
                           WHEN urgency = 'emergency' OR $3 = 'emergency' THEN 'emergency' \
                           WHEN urgency = 'urgent' OR $3 = 'urgent' THEN 'urgent' ELSE 'normal' END \
                         WHERE tenant_id = $1 AND id = $2",
                    )
                    .bind(tenant.as_uuid())
                    .bind(conversation.as_uuid())
                    .bind(esc.urgency.as_str())
                    .execute(&mut *tx)
                    .await?;
                    self.notify_staff_tx(&mut tx, tenant, Some(conversation.as_uuid()), esc.notify, &esc.details, now).await?;
                    let kind = match esc.notify {
                        NotificationKind::Handoff => Some("conversation.handed_off"),
                        _ if esc.urgency != Urgency::Normal => Some("conversation.escalated"),
                        _ => None,
                    };
                    if let Some(kind) = kind {
                        self.emit_conversation_event_tx(&mut tx, tenant, kind, &conv, now).await?;
                    }
                }
                for ev in &turn.audit {
                    self.append_audit_tx(&mut tx, tenant, now, ev).await?;
                }
                if let Some(usage) = &turn.llm_usage {
                    self.insert_llm_usage_tx(&mut tx, tenant, usage, now).await?;
                }
                tracing::trace!(target: "frontdesk::step", "turn.written");
                tx.commit().await?;
                tracing::trace!(target: "frontdesk::step", "turn.committed");
                Ok(ids)
            }

            async fn pending_notifications(&self, scope: TenantScope, limit: u32) -> Result<Vec<StaffNotification>> {
                let mut tx = self.read_tx(Some(scope)).await?;
                let rows: Vec<(Uuid, Option<Uuid>, String, String, String, i64)> = sqlx::query_as(
                    "SELECT id, conversation_id, kind, details, status, created_at FROM staff_notifications \
                     WHERE tenant_id = $1 AND status = 'pending' ORDER BY id DESC LIMIT $2",
                )
                .bind(scope.tenant_id().as_uuid())
                .bind(i64::from(limit))
                .fetch_all(&mut *tx)
                .await?;
                tx.commit().await?;
                rows.into_iter()
                    .map(|(id, conv, kind, details, status, created_at)| {
                        Ok(StaffNotification {
                            id,
                            conversation_id: conv.map(ConversationId::from_uuid),
                            kind: NotificationKind::parse(&kind)?,
                            details,
                            status,
                            created_at: from_us(created_at)?,
                        })
                    })
                    .collect()
            }

            async fn message(&self, scope: TenantScope, conversation: ConversationId, id: MessageId) -> Result<Message> {
                let tenant = scope.tenant_id();
                let mut tx = self.read_tx(Some(scope)).await?;
                let (conv, _, _) = self.fetch_conversation_row(&mut tx, tenant, conversation).await?;
                let row: Option<(String, String, Vec<u8>, String, i64)> = sqlx::query_as(
                    "SELECT direction, sender, body_ct, status, created_at FROM messages \
                     WHERE tenant_id = $1 AND conversation_id = $2 AND id = $3",
                )
                .bind(tenant.as_uuid())
                .bind(conversation.as_uuid())
                .bind(id.as_uuid())
                .fetch_optional(&mut *tx)
                .await?;
                let (direction, sender, body_ct, status, created_at) = row.ok_or(StoreError::NotFound)?;
                let keys = self.tenant_keys(&mut tx, tenant).await?;
                let key = self.patient_key(&mut tx, &keys, tenant, conv.patient_id).await?;
                tx.commit().await?;
                Ok(Message {
                    id,
                    conversation_id: conversation,
                    direction: Direction::parse(&direction)?,
                    sender: Sender::parse(&sender)?,
                    channel: conv.channel,
                    body: key.open_string(&aad(tenant, "messages", "body", &id.to_string()), &body_ct)?,
                    status,
                    created_at: from_us(created_at)?,
                })
            }

            async fn messages(&self, scope: TenantScope, conversation: ConversationId) -> Result<Vec<Message>> {
                self.messages_page(scope, conversation, None, u32::MAX).await
            }

            async fn messages_page(&self, scope: TenantScope, conversation: ConversationId, after: Option<MessageId>, limit: u32) -> Result<Vec<Message>> {
                let tenant = scope.tenant_id();
                let mut tx = self.read_tx(Some(scope)).await?;
                let (conv, _, _, wrapped) = self.fetch_conversation_keyed(&mut tx, tenant, conversation).await?;
                let keys = self.tenant_keys(&mut tx, tenant).await?;
                let key = self.patient_key_from(&mut tx, &keys, tenant, conv.patient_id, wrapped).await?;
                let page = self.select_messages_tx(&mut tx, tenant, &conv, &key, after, limit, false).await?;
                tx.commit().await?;
                Ok(page)
            }

            async fn conversation_with_recent(&self, scope: TenantScope, id: ConversationId, limit: u32) -> Result<(Conversation, Vec<Message>)> {
                let tenant = scope.tenant_id();
                let mut tx = self.read_tx(Some(scope)).await?;
                let read = self.fetch_conversation_recent(&mut tx, tenant, id, limit).await?;
                Self::end_read(tx);
                Ok(read)
            }
        }
    };
}

pub(crate) use conversation_columns;
pub(crate) use impl_conversations;
pub(crate) use recent_by_call;
pub(crate) use recent_by_conversation;
