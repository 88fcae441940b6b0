//! Handling one patient message, the same way for every channel that answers at once
//! (web chat now, the terminal chat, later voice): gather the clinic's knowledge, ask the
//! agent, and store the patient's message, the replies, the escalation (urgency raised, staff
//! alerted), the updated conversation summary and the audit entries in one transaction.

use frontdesk_agent::{
    Alert, ClinicKnowledge, ClinicRule, PractitionerInfo, RULE_SET, ServiceInfo, TriageLevel,
    TurnContext,
};
use frontdesk_domain::{Clock, ConversationId, PatientId};
use frontdesk_store::{
    Actor, AuditEvent, Channel, Conversation, Escalation, HELD_BY_STAFF, JobLease, LlmUsage,
    Message, NewMessage, NotificationKind, Store, StoreError, TenantScope, Turn, Urgency,
};
use serde_json::json;

use crate::summary::{TurnFacts, next_summary};

/// The largest patient message accepted, in bytes (4 KiB).
pub const MAX_TEXT_BYTES: usize = 4096;

/// Everything the receptionist may say about this clinic, read from the store.
pub async fn clinic_knowledge(
    store: &dyn Store,
    scope: TenantScope,
) -> Result<ClinicKnowledge, StoreError> {
    Ok(knowledge_of(store.clinic_catalog(scope).await?))
}

fn knowledge_of(catalog: frontdesk_store::ClinicCatalog) -> ClinicKnowledge {
    let services = catalog
        .services
        .into_iter()
        .filter(|s| s.active)
        .map(|s| ServiceInfo {
            id: s.id,
            name: s.name,
            duration_min: s.duration_min,
            price_minor: s.price_minor,
            practitioners: s.practitioners,
        })
        .collect();
    let practitioners = catalog
        .practitioners
        .into_iter()
        .filter(|p| p.active)
        .map(|p| PractitionerInfo {
            id: p.id,
            name: p.name,
            title: p.title,
        })
        .collect();
    let faqs = catalog
        .faqs
        .into_iter()
        .map(|f| (f.id, f.question, f.answer))
        .collect();
    let mut rules = Vec::new();
    for r in catalog.red_flag_rules {
        let level = if r.level == Urgency::Emergency {
            TriageLevel::Emergency
        } else {
            TriageLevel::Urgent
        };
        let phrases: Vec<&str> = r.phrases.iter().map(String::as_str).collect();
        match ClinicRule::new(&format!("clinic.{}", r.id), &phrases, level, &r.language) {
            Ok(rule) => rules.push(rule),
            // A stored rule the matcher cannot use is skipped, never fatal: built-in rules still run.
            Err(e) => tracing::warn!(rule = %r.id, error = %e, "clinic red-flag rule skipped"),
        }
    }
    ClinicKnowledge::new(catalog.clinic.profile, services, practitioners, faqs, rules)
}

fn escalation(alert: Alert, triage: &frontdesk_agent::Triage) -> Escalation {
    let (urgency, notify) = match alert {
        Alert::Emergency => (Urgency::Emergency, NotificationKind::Emergency),
        Alert::Urgent => (Urgency::Urgent, NotificationKind::Urgent),
        Alert::Handoff => (Urgency::Normal, NotificationKind::Handoff),
        Alert::Task => (Urgency::Normal, NotificationKind::Task),
    };
    let details = if triage.is_red_flag() {
        json!({ "rule_set": triage.rule_set, "rule": triage.rule_id, "category": triage.category.as_str() })
    } else {
        json!({ "reason": alert.as_str() })
    };
    Escalation {
        urgency,
        notify,
        details,
    }
}

/// A message answered at once (web chat, terminal): stored together with its replies.
pub async fn handle_patient_message(
    store: &dyn Store,
    clock: &dyn Clock,
    scope: TenantScope,
    conversation: ConversationId,
    patient: PatientId,
    text: &str,
) -> Result<Vec<String>, StoreError> {
    answer(store, clock, scope, conversation, patient, text, None)
        .await
        .map(|a| a.messages)
}

/// [`handle_patient_message`] with the clinic's language models, as `models` has them (no
/// settings, or disabled: exactly the built-in receptionist).
pub async fn handle_patient_message_with(
    store: &dyn Store,
    clock: &dyn Clock,
    models: &crate::llm::settings::ModelDirectory,
    scope: TenantScope,
    conversation: ConversationId,
    patient: PatientId,
    text: &str,
) -> Result<Vec<String>, StoreError> {
    answer_by(
        store,
        clock,
        models,
        scope,
        conversation,
        patient,
        text,
        None,
    )
    .await
    .map(|a| a.messages)
}

/// A message that was stored on arrival (WhatsApp, SMS) and is answered by a job: the replies
/// go to the outbox and the job is completed in the same transaction.
pub struct StoredMessage {
    pub job: JobLease,
    /// No earlier message from the patient in this conversation.
    pub first_contact: bool,
}

/// What one answered turn said, and the alert it raised (the phone line dials the clinic's
/// escalation number on an emergency).
#[derive(Debug)]
pub struct Answered {
    pub messages: Vec<String>,
    pub alert: Option<Alert>,
}

pub async fn answer(
    store: &dyn Store,
    clock: &dyn Clock,
    scope: TenantScope,
    conversation: ConversationId,
    patient: PatientId,
    text: &str,
    stored: Option<StoredMessage>,
) -> Result<Answered, StoreError> {
    answer_with(
        store,
        clock,
        scope,
        conversation,
        patient,
        text,
        stored,
        None,
    )
    .await
}

/// [`answer`], with these language models (issue #9; the clinic's own come through
/// [`answer_by`]): the built-in receptionist still triages first and reads the message; a
/// model answers only what [`crate::llm::route`] sends it, and the built-in reply is used
/// whenever the model fails.
// One more than clippy's limit: the models are the only addition to `answer`'s inputs.
#[allow(clippy::too_many_arguments)]
pub async fn answer_with(
    store: &dyn Store,
    clock: &dyn Clock,
    scope: TenantScope,
    conversation: ConversationId,
    patient: PatientId,
    text: &str,
    stored: Option<StoredMessage>,
    models: Option<&crate::llm::agent::TenantModels>,
) -> Result<Answered, StoreError> {
    // The clinic and the conversation (with the model's context) read side by side: neither
    // needs the other. When the clinic turns out paused, the context goes unused.
    let (clinic, read) = tokio::join!(
        clinic(store, scope),
        read_conversation(store, scope, conversation, context_to_read(models))
    );
    let clinic = clinic?;
    answer_for(
        store,
        clock,
        scope,
        &clinic,
        conversation,
        read?,
        patient,
        text,
        stored,
        models,
    )
    .await
}

/// [`answer`], with the clinic's language models as `directory` has them: the clinic and the
/// conversation are read side by side, with as much context as the models this process last
/// built for the clinic want, and the models are then checked against the stamp the clinic
/// was read at ([`models_for`]).
#[allow(clippy::too_many_arguments)]
pub async fn answer_by(
    store: &dyn Store,
    clock: &dyn Clock,
    directory: &crate::llm::settings::ModelDirectory,
    scope: TenantScope,
    conversation: ConversationId,
    patient: PatientId,
    text: &str,
    stored: Option<StoredMessage>,
) -> Result<Answered, StoreError> {
    let guessed = guessed_context(directory, scope);
    let (clinic, read) = tokio::join!(
        clinic(store, scope),
        read_conversation(store, scope, conversation, guessed)
    );
    let clinic = clinic?;
    let mut read = read?;
    let models = models_for(
        store,
        clock,
        directory,
        scope,
        &clinic,
        conversation,
        &mut read,
        guessed,
    )
    .await?;
    answer_for(
        store,
        clock,
        scope,
        &clinic,
        conversation,
        read,
        patient,
        text,
        stored,
        models.as_deref(),
    )
    .await
}

/// How much context to read with the conversation before the clinic's stamp is known: what
/// the models this process last built for the clinic want (none before its first turn here).
pub fn guessed_context(
    directory: &crate::llm::settings::ModelDirectory,
    scope: TenantScope,
) -> u32 {
    context_to_read(directory.guess(scope.tenant_id()).flatten().as_deref())
}

/// The clinic's models for this turn, checked against the stamp `clinic` was read at (a read
/// of the settings only when they changed since this process last read them) and its budget
/// against the spend read with it. `read` holds the conversation
/// and the `guessed` newest messages read with it: when the models want more (the clinic just
/// added a model, or this is the clinic's first turn in this process) they are read again.
#[allow(clippy::too_many_arguments)]
pub async fn models_for(
    store: &dyn Store,
    clock: &dyn Clock,
    directory: &crate::llm::settings::ModelDirectory,
    scope: TenantScope,
    clinic: &Clinic,
    conversation: ConversationId,
    read: &mut (Conversation, Vec<Message>),
    guessed: u32,
) -> Result<Option<std::sync::Arc<crate::llm::agent::TenantModels>>, StoreError> {
    let models = directory
        .models(store, scope, clock.now(), clinic.version, clinic.llm_spend)
        .await?;
    let wanted = context_to_read(models.as_deref());
    if wanted > guessed {
        *read = store
            .conversation_with_recent(scope, conversation, wanted)
            .await?;
    }
    Ok(models)
}

/// The clinic as a turn needs it, from one read of its catalogue.
pub struct Clinic {
    pub knowledge: ClinicKnowledge,
    /// The clinic can text verification codes (web chat visitors can prove a phone).
    sends_codes: bool,
    /// The clinic paused its AI receptionist (the kill switch).
    paused: bool,
    /// The catalogue's stamp: what the clinic's models are checked against.
    version: i64,
    /// The clinic's language model spend as this turn read it (its budget's check).
    llm_spend: frontdesk_store::MonthSpend,
}

/// Reads the clinic's catalogue for a turn (the phone line reads it once for its own words
/// and the turn).
pub async fn clinic(store: &dyn Store, scope: TenantScope) -> Result<Clinic, StoreError> {
    let catalog = store.clinic_catalog(scope).await?;
    Ok(Clinic {
        version: catalog.version,
        llm_spend: catalog.llm_spend,
        sends_codes: catalog.sends_codes,
        paused: catalog.clinic.profile.ai_paused,
        knowledge: knowledge_of(catalog),
    })
}

/// The conversation and its `newest` messages (the model's context, see
/// [`context_to_read`]), in one read.
async fn read_conversation(
    store: &dyn Store,
    scope: TenantScope,
    conversation: ConversationId,
    newest: u32,
) -> Result<(Conversation, Vec<Message>), StoreError> {
    match newest {
        0 => Ok((store.conversation(scope, conversation).await?, Vec::new())),
        newest => {
            store
                .conversation_with_recent(scope, conversation, newest)
                .await
        }
    }
}

/// How many of the conversation's newest messages a turn reads with it: the model's context
/// when the clinic has a model, else none. (Read before the clinic is known to be paused; a
/// paused clinic's context goes unused.)
pub fn context_to_read(models: Option<&crate::llm::agent::TenantModels>) -> u32 {
    match models {
        Some(_) => crate::llm::context::HISTORY_READ,
        None => 0,
    }
}

/// [`answer_with`] for a clinic and a conversation already read. `read`: the conversation and
/// its newest messages, the model's context when the clinic has a model (the phone line reads
/// them with the call, in one read transaction).
#[allow(clippy::too_many_arguments)]
pub async fn answer_for(
    store: &dyn Store,
    clock: &dyn Clock,
    scope: TenantScope,
    clinic: &Clinic,
    conversation: ConversationId,
    read: (Conversation, Vec<Message>),
    patient: PatientId,
    text: &str,
    stored: Option<StoredMessage>,
    models: Option<&crate::llm::agent::TenantModels>,
) -> Result<Answered, StoreError> {
    let sends_codes = clinic.sends_codes;
    let paused = clinic.paused;
    let knowledge = &clinic.knowledge;
    let (conv, history) = read;
    // A conversation whose last message time is still its creation time has no messages yet.
    // A phone call's greeting (its first message) always states the privacy notice.
    let first_contact = match &stored {
        Some(s) => s.first_contact,
        None => conv.channel != Channel::Voice && conv.last_message_at == conv.created_at,
    };
    let now = clock.now();
    // A staff member holds the conversation: the receptionist still reads the message (a red
    // flag still alerts the team and raises the conversation's urgency) but says nothing and
    // does nothing. The store refuses AI replies while the hold lasts, whatever this read said.
    let held = conv.holder(now).is_some() && conv.channel != Channel::Voice;
    if !held
        && !paused
        && let Some(said) =
            crate::payments::pay_again(store, scope, conversation, patient, text).await?
    {
        return pay_turn(store, scope, conversation, patient, text, stored, said).await;
    }
    let needs_phone = conv.channel == Channel::Webchat;
    // SMS and WhatsApp conversations belong to the patient found by the sender's phone when
    // the message arrived (and voice, by the caller id): the caller is who the patient record
    // says. Web chat and the terminal chat are anonymous, unless the visitor proved a phone
    // with a texted code (web chat only, where the clinic can send SMS).
    let verified = match conv.channel {
        Channel::Whatsapp | Channel::Sms | Channel::Voice => {
            (patient == conv.patient_id).then_some(patient)
        }
        Channel::Webchat => conv.verified_patient,
        Channel::Cli => None,
    };
    let identity_verified = verified.is_some();
    // Read with the catalogue: no extra round trip on the hot path.
    let can_verify = conv.channel == Channel::Webchat && !identity_verified && sends_codes;
    // A state that no longer parses (an older format) starts the dialogue afresh.
    let mut state: frontdesk_agent::DialogueState = conv
        .dialogue_state
        .as_deref()
        .and_then(|s| serde_json::from_str(s).ok())
        .unwrap_or_default();
    let partial = crate::booking::Caller {
        conversation,
        patient,
        needs_phone,
        verified,
        can_verify,
        reminded: None,
        offered: None,
    };
    // Only conversations a reminder or a waitlist offer went to pay for these reads.
    let reminded =
        crate::booking::reminded(store, scope, &partial, conv.reminded_appointment, now).await?;
    let offered = crate::booking::offered(store, scope, &partial, conv.offered_hold, now).await?;
    let caller = crate::booking::Caller {
        reminded,
        offered,
        ..partial
    };
    // The built-in dialogue is mid-way (or a reminder or offer awaits a yes): it keeps the turn.
    // (A remembered service or practitioner alone does not make it busy.)
    let dialogue_busy = state.booking.is_some()
        || state.change.is_some()
        || state.verify.is_some()
        || reminded.is_some()
        || offered.is_some();
    let before = models.map(|_| state.clone());
    let mut reply = frontdesk_agent::reply(
        TurnContext {
            clinic: knowledge,
            now,
            first_contact,
            needs_phone,
            identity_verified,
            can_verify,
            reminded,
            offered,
        },
        text,
        &mut state,
    );
    let mut booked = None;
    let accounted = match models {
        Some(m) if !held && !paused => {
            let env = crate::llm::tools_exec::ExecEnv {
                store,
                scope,
                clinic: knowledge,
                conversation,
                verified,
                now,
            };
            let turn = crate::llm::agent::ModelTurn {
                text,
                history: &history,
                first_contact,
                dialogue_busy,
            };
            crate::llm::agent::take_turn(m, env, turn, &mut reply).await?
        }
        _ => crate::llm::agent::Accounted::default(),
    };
    let (by_model, call) = (accounted.answer, accounted.call);
    if let (Some(m), Some(before)) = (&by_model, before) {
        // The built-in dialogue does not move on a turn the model answered.
        state = before;
        booked = m.booked;
    }
    if held {
        reply.next = None;
    }
    if paused && !held {
        pause(&mut reply, knowledge, first_contact);
    }
    if let Some(step) = reply.next.take() {
        let done =
            crate::booking::run(store, scope, &caller, knowledge, &mut state, now, step).await?;
        reply.messages.extend(done.messages);
        booked = done.booked;
        if done.handoff {
            reply.alert = reply.alert.or(Some(Alert::Handoff));
        }
    }
    // A booking at a clinic that asks for a deposit: the reply says how to pay.
    let asks_payment = match booked {
        Some(_) if !held && !paused => {
            crate::payments::after_booking(store, scope, conv.channel).await?
        }
        _ => None,
    };
    if let Some(a) = &asks_payment {
        reply.messages.push(a.sentence.clone());
    }
    let dialogue_state =
        serde_json::to_string(&state).map_err(|_| StoreError::Corrupt("dialogue state"))?;
    let mut details = json!({
        "rule_set": RULE_SET,
        "intent": reply.intent,
        "confidence": (reply.confidence * 100.0).round() / 100.0,
        "replies": reply.messages.len(),
        "patient": patient.to_string(),
    });
    if let Some(m) = &by_model {
        details["rule_set"] = json!(crate::llm::agent::MODEL_RULE_SET);
        details["model"] = json!(m.model);
        details["tier"] = json!(m.tier.as_str());
        details["tool_calls"] = json!(m.tool_calls);
    }
    if let Some(c) = &call {
        // A turn routed to a model: what it cost, answered or not.
        if c.answered {
            details["provider"] = json!(c.provider);
        } else {
            details["llm_fallback"] = json!(c.reason);
        }
        details["input_tokens"] = json!(c.usage.input_tokens);
        details["output_tokens"] = json!(c.usage.output_tokens);
        details["cost_micros"] = json!(c.cost_micros);
    }
    let mut audit = vec![
        AuditEvent::new(Actor::Agent, "agent.replied")
            .target("conversation", conversation)
            .details(details),
    ];
    if reply.triage.is_red_flag() {
        audit.push(
            AuditEvent::new(Actor::Agent, "triage.red_flag")
                .target("conversation", conversation)
                .details(json!({
                    "level": reply.triage.level.as_str(),
                    "rule_set": reply.triage.rule_set,
                    "rule": reply.triage.rule_id,
                    "category": reply.triage.category.as_str(),
                })),
        );
    }
    let mut turn = Turn {
        inbound: stored.is_none().then(|| NewMessage::inbound(text)),
        job: stored.map(|s| s.job),
        replies: reply.messages.iter().map(NewMessage::agent_reply).collect(),
        audit,
        escalation: reply.alert.map(|a| escalation(a, &reply.triage)),
        summary: Some(next_summary(
            conv.summary.as_ref(),
            &TurnFacts::of(&reply, booked),
        )),
        dialogue_state: Some(dialogue_state),
        llm_usage: call.map(|c| usage_row(conversation, c)),
    };
    if held {
        withhold(&mut turn, &mut reply, conversation);
    } else if paused {
        // The dialogue does not move while paused, and the audit says why it did not.
        turn.dialogue_state = None;
        for e in turn
            .audit
            .iter_mut()
            .filter(|e| e.action == "agent.replied")
        {
            *e = AuditEvent::new(Actor::Agent, "agent.paused")
                .target("conversation", conversation)
                .details(
                    json!({ "replies": reply.messages.len(), "patient": patient.to_string() }),
                );
        }
    }
    match store.record_turn(scope, conversation, &turn).await {
        Ok(_) => {
            if let (Some(_), Some(appointment)) = (&asks_payment, booked) {
                // Its own transaction, after the booking's: the booking stands whatever
                // happens to the payment, and a failure here is for the operator to see.
                if let Err(e) =
                    crate::payments::request_after_booking(store, scope, appointment, conversation)
                        .await
                {
                    tracing::error!(%conversation, error = %e, "the deposit for a booking could not be requested");
                }
            }
        }
        // Taken over between the read above and this write: record it without the replies.
        Err(StoreError::Conflict(HELD_BY_STAFF)) if !held => {
            withhold(&mut turn, &mut reply, conversation);
            store.record_turn(scope, conversation, &turn).await?;
        }
        Err(e) => return Err(e),
    }
    let channel = conv.channel.as_str();
    metrics::counter!("frontdesk_messages_total", "channel" => channel, "direction" => "inbound")
        .increment(1);
    metrics::counter!("frontdesk_messages_total", "channel" => channel, "direction" => "outbound")
        .increment(reply.messages.len() as u64);
    if let Some(alert) = reply.alert {
        metrics::counter!("frontdesk_alerts_total", "kind" => alert.as_str()).increment(1);
    }
    Ok(Answered {
        messages: reply.messages,
        alert: reply.alert,
    })
}

/// A patient's `PAY` after a failed, cancelled or expired payment: the new request is made
/// (see [`crate::payments::pay_again`]) and the turn records the message and `said`.
async fn pay_turn(
    store: &dyn Store,
    scope: TenantScope,
    conversation: ConversationId,
    patient: PatientId,
    text: &str,
    stored: Option<StoredMessage>,
    said: String,
) -> Result<Answered, StoreError> {
    let turn = Turn {
        inbound: stored.is_none().then(|| NewMessage::inbound(text)),
        job: stored.map(|s| s.job),
        replies: vec![NewMessage::agent_reply(&said)],
        audit: vec![
            AuditEvent::new(Actor::Agent, "agent.replied")
                .target("conversation", conversation)
                .details(json!({
                    "rule_set": RULE_SET,
                    "intent": "payment.retry",
                    "replies": 1,
                    "patient": patient.to_string(),
                })),
        ],
        escalation: None,
        summary: None,
        dialogue_state: None,
        llm_usage: None,
    };
    store.record_turn(scope, conversation, &turn).await?;
    Ok(Answered {
        messages: vec![said],
        alert: None,
    })
}

/// The accounting row of a turn routed to a model.
fn usage_row(conversation: ConversationId, c: crate::llm::agent::ModelCall) -> LlmUsage {
    LlmUsage {
        conversation,
        provider: c.provider.to_owned(),
        model: c.model,
        tier: c.tier.as_str().to_owned(),
        outcome: if c.answered { "answered" } else { "fallback" }.to_owned(),
        reason: c.reason.to_owned(),
        latency_ms: c.latency_ms,
        input_tokens: c.usage.input_tokens,
        output_tokens: c.usage.output_tokens,
        cost_micros: c.cost_micros,
    }
}

/// The kill switch (the clinic paused its AI receptionist): whatever the receptionist would
/// have said or done, the patient gets a holding reply and the staff an alert to answer them,
/// and nothing is booked. Red-flag advice still goes: it comes from the deterministic triage,
/// which a pause must never silence.
fn pause(reply: &mut frontdesk_agent::Reply, clinic: &ClinicKnowledge, first_contact: bool) {
    reply.next = None;
    if !reply.triage.is_red_flag() {
        let emergency = clinic
            .profile
            .emergency_numbers
            .first()
            .map_or("the emergency number", String::as_str);
        let holding = format!(
            "Thank you for your message. {} will reply as soon as they can. If this is an emergency, call {emergency} now.",
            clinic.profile.name
        );
        let notice = clinic.profile.privacy_notice.trim();
        reply.messages = if first_contact && !notice.is_empty() {
            vec![notice.to_owned(), holding]
        } else {
            vec![holding]
        };
    }
    reply.alert = reply.alert.or(Some(Alert::Task));
}

/// Turns a turn into one that says and changes nothing in the dialogue because staff hold the
/// conversation: no replies, the dialogue state kept, `agent.withheld` instead of
/// `agent.replied`, and only a red flag's alert (staff already have the conversation).
fn withhold(turn: &mut Turn, reply: &mut frontdesk_agent::Reply, conversation: ConversationId) {
    turn.replies.clear();
    turn.dialogue_state = None;
    turn.audit.retain(|e| e.action != "agent.replied");
    turn.audit.insert(
        0,
        AuditEvent::new(Actor::Agent, "agent.withheld")
            .target("conversation", conversation)
            .details(
                json!({ "reason": "held_by_staff", "replies_withheld": reply.messages.len() }),
            ),
    );
    if !reply.triage.is_red_flag() {
        turn.escalation = None;
        reply.alert = None;
    }
    reply.messages.clear();
}

/// A caller who said nothing twice: the goodbye is recorded in the call's conversation and the
/// staff are asked to call back (a silent caller may be unable to speak), in one transaction.
pub async fn silent_call(
    store: &dyn Store,
    scope: TenantScope,
    conversation: ConversationId,
    goodbye: &str,
) -> Result<(), StoreError> {
    let turn = Turn {
        inbound: None,
        job: None,
        replies: vec![NewMessage::agent_reply(goodbye)],
        audit: vec![
            AuditEvent::new(Actor::Agent, "call.silent").target("conversation", conversation),
        ],
        escalation: Some(Escalation {
            urgency: Urgency::Normal,
            notify: NotificationKind::Handoff,
            details: json!({ "reason": "silent_call" }),
        }),
        summary: None,
        dialogue_state: None,
        llm_usage: None,
    };
    store.record_turn(scope, conversation, &turn).await?;
    metrics::counter!("frontdesk_alerts_total", "kind" => Alert::Handoff.as_str()).increment(1);
    Ok(())
}
