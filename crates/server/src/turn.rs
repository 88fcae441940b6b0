//! Handling one patient message, the same way for every channel that answers at once
//! (web chat now, the terminal chat, later voice): load the clinic, ask the agent, and store
//! the patient's message, the replies and the audit entry in one transaction.

use frontdesk_agent::{RULE_SET, TurnContext};
use frontdesk_domain::Clock;
use frontdesk_domain::{ConversationId, PatientId};
use frontdesk_store::{Actor, AuditEvent, NewMessage, Store, StoreError, TenantScope, Turn};
use serde_json::json;

/// The largest patient message accepted, in bytes (4 KiB).
pub const MAX_TEXT_BYTES: usize = 4096;

pub async fn handle_patient_message(
    store: &dyn Store,
    clock: &dyn Clock,
    scope: TenantScope,
    conversation: ConversationId,
    patient: PatientId,
    text: &str,
) -> Result<Vec<String>, StoreError> {
    let clinic = store.clinic(scope).await?;
    let conv = store.conversation(scope, conversation).await?;
    // A conversation whose last message time is still its creation time has no messages yet.
    let first_contact = conv.last_message_at == conv.created_at;
    let reply = frontdesk_agent::reply(
        TurnContext {
            clinic: &clinic.profile,
            now: clock.now(),
            first_contact,
        },
        text,
    );
    let turn = Turn {
        inbound: NewMessage::inbound(text),
        replies: reply.messages.iter().map(NewMessage::agent_reply).collect(),
        audit: vec![
            AuditEvent::new(Actor::Agent, "agent.replied")
                .target("conversation", conversation)
                .details(json!({ "rule_set": RULE_SET, "intent": reply.intent.as_str(), "replies": reply.messages.len(), "patient": patient.to_string() })),
        ],
    };
    store.record_turn(scope, conversation, &turn).await?;
    let channel = conv.channel.as_str();
    metrics::counter!("frontdesk_messages_total", "channel" => channel, "direction" => "inbound")
        .increment(1);
    metrics::counter!("frontdesk_messages_total", "channel" => channel, "direction" => "outbound")
        .increment(reply.messages.len() as u64);
    Ok(reply.messages)
}
