//! Meta WhatsApp Cloud API, inbound side: the `X-Hub-Signature-256` check, the GET
//! verification handshake, and parsing of `whatsapp_business_account` webhooks into
//! [`InboundEvent`]s. The Graph send client lives in `whatsapp_client.rs`.
//!
//! The signature covers the raw bytes exactly as received (Meta may send non-ASCII text as
//! UTF-8 or as `\uXXXX` escapes), so always verify before parsing and never re-serialise.

use super::{
    DeliveryStatus, InboundEvent, InboundMessage, ParseError, StatusUpdate, hex_decode, secret_eq,
};
use hmac::{Hmac, KeyInit, Mac};
use serde::Deserialize;
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// Free-form messages may only be sent within 24 hours of the patient's last message;
/// outside it only templates are delivered (Graph error 131047 otherwise).
pub const SERVICE_WINDOW_SECS: i64 = 24 * 60 * 60;

/// Checks `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(app secret, raw body)>` in constant
/// time. Hex of either case is accepted; a missing or malformed header fails.
pub fn verify_signature(app_secret: &[u8], raw_body: &[u8], header: Option<&str>) -> bool {
    header
        .map(str::trim)
        .and_then(|h| h.strip_prefix("sha256="))
        .is_some_and(|hex| hex_hmac_sha256_matches(app_secret, raw_body, hex))
}

/// Whether `given_hex` is the hex (either case) HMAC-SHA256 of `raw_body` under `secret`,
/// compared in constant time. An empty secret never matches. Shared with Cal.com's
/// `X-Cal-Signature-256` (the same MAC without the `sha256=` prefix).
pub(crate) fn hex_hmac_sha256_matches(secret: &[u8], raw_body: &[u8], given_hex: &str) -> bool {
    let Some(given) = hex_decode(given_hex.trim()) else {
        return false;
    };
    if secret.is_empty() || given.len() != 32 {
        return false;
    }
    let Ok(mut mac) = <Hmac<Sha256> as KeyInit>::new_from_slice(secret) else {
        return false;
    };
    mac.update(raw_body);
    let expected = mac.finalize().into_bytes();
    expected.as_slice().ct_eq(&given).into()
}

/// The subscription handshake (`GET ?hub.mode=subscribe&hub.verify_token=…&hub.challenge=…`):
/// returns the challenge to echo when the mode is `subscribe` and the token matches
/// (constant time), `None` (answer 403) otherwise. The challenge is only echoed when it looks
/// like one (1–256 visible ASCII characters) so this can never reflect arbitrary content.
pub fn verify_handshake(
    mode: Option<&str>,
    token: Option<&str>,
    challenge: Option<&str>,
    expected_token: &str,
) -> Option<String> {
    let (mode, token, challenge) = (mode?, token?, challenge?);
    let token_ok = secret_eq(expected_token.as_bytes(), token.as_bytes());
    let plausible =
        (1..=256).contains(&challenge.len()) && challenge.bytes().all(|b| b.is_ascii_graphic());
    (mode == "subscribe" && token_ok && plausible).then(|| challenge.to_owned())
}

/// True while a free-form (non-template) message may be sent: the patient wrote to us less
/// than 24 hours ago. A timestamp slightly in the future (clock skew) counts as inside.
pub fn within_service_window(last_inbound_at_unix: Option<i64>, now_unix: i64) -> bool {
    last_inbound_at_unix.is_some_and(|t| now_unix.saturating_sub(t) < SERVICE_WINDOW_SECS)
}

/// Graph error codes we know how to treat: `Some(true)` retryable (rate limits, transient
/// service errors), `Some(false)` permanent, `None` unknown (decide by HTTP status).
pub(crate) fn graph_code_retryable(code: i64) -> Option<bool> {
    match code {
        // 1, 2: unknown / temporary API errors; 4, 80007, 130429, 131048, 131056: rate
        // limits; 131000: something went wrong; 131016: service unavailable.
        1 | 2 | 4 | 80007 | 130429 | 131048 | 131056 | 131000 | 131016 => Some(true),
        // 131047: outside the 24 h window (re-engagement); 131026: undeliverable; 131051:
        // unsupported type; 131052: media download; 100: invalid parameter; 190: token
        // expired/invalid; 368: policy block; 131031: account locked.
        131047 | 131026 | 131051 | 131052 | 100 | 190 | 368 | 131031 => Some(false),
        _ => None,
    }
}

/// Parses a `whatsapp_business_account` webhook. Messages become [`InboundEvent::Message`]
/// (text, button and list replies, template quick-reply buttons) or
/// [`InboundEvent::Unsupported`] (images, audio, locations…; reactions are dropped, since
/// answering "I can only read text" to a 👍 would be absurd). Statuses become
/// [`InboundEvent::Status`]; status kinds we do not track are skipped, as are changes other
/// than `messages`, so a new Meta feature never makes the whole delivery fail.
pub fn parse_webhook(raw: &[u8]) -> Result<Vec<InboundEvent>, ParseError> {
    let hook: Webhook = serde_json::from_slice(raw)?;
    if hook.object.as_deref() != Some("whatsapp_business_account") {
        return Err(ParseError::WrongObject);
    }
    let mut events = Vec::new();
    let changes = hook.entry.into_iter().flat_map(|e| e.changes);
    for change in changes.filter(|c| c.field.as_deref().unwrap_or("messages") == "messages") {
        let Some(value) = change.value else { continue };
        if value.messages.is_empty() && value.statuses.is_empty() {
            continue;
        }
        let to = value
            .metadata
            .and_then(|m| m.phone_number_id)
            .filter(|s| !s.is_empty())
            .ok_or(ParseError::MissingField("metadata.phone_number_id"))?;
        for m in value.messages {
            events.extend(message_event(m, &to)?);
        }
        for s in value.statuses {
            events.extend(status_event(s, &to)?);
        }
    }
    Ok(events)
}

fn required(v: Option<String>, name: &'static str) -> Result<String, ParseError> {
    v.filter(|s| !s.is_empty())
        .ok_or(ParseError::MissingField(name))
}

fn message_event(m: WaMessage, to: &str) -> Result<Option<InboundEvent>, ParseError> {
    let id = required(m.id, "messages[].id")?;
    let from = required(m.from, "messages[].from")?;
    let sent_at = m.timestamp.and_then(|t| t.parse::<i64>().ok());
    let (text, reply_id) = match m.kind.as_deref() {
        Some("text") => {
            let body = m.text.and_then(|t| t.body);
            (required(body, "messages[].text.body")?, None)
        }
        Some("interactive") => {
            let i = m.interactive.unwrap_or_default();
            let Some(reply) = i.button_reply.or(i.list_reply) else {
                return Ok(Some(unsupported(id, from, to)));
            };
            let title = reply.title.unwrap_or_default();
            (title, Some(required(reply.id, "interactive reply id")?))
        }
        Some("button") => {
            let b = m.button.unwrap_or_default();
            (
                b.text.unwrap_or_default(),
                b.payload.filter(|p| !p.is_empty()),
            )
        }
        Some("reaction") => return Ok(None),
        _ => return Ok(Some(unsupported(id, from, to))),
    };
    Ok(Some(InboundEvent::Message(InboundMessage {
        provider_message_id: id,
        from,
        to: to.to_owned(),
        text,
        reply_id,
        sent_at,
    })))
}

fn unsupported(provider_message_id: String, from: String, to: &str) -> InboundEvent {
    InboundEvent::Unsupported {
        provider_message_id,
        from,
        to: to.to_owned(),
    }
}

fn status_event(s: WaStatus, to: &str) -> Result<Option<InboundEvent>, ParseError> {
    let id = required(s.id, "statuses[].id")?;
    let code = s.errors.first().and_then(|e| e.code);
    let status = match s.status.as_deref() {
        Some("sent") => DeliveryStatus::Sent,
        Some("delivered") => DeliveryStatus::Delivered,
        Some("read") => DeliveryStatus::Read,
        // An unknown failure code is treated as permanent: retrying blindly could spam.
        Some("failed") => DeliveryStatus::Failed {
            permanent: !code.and_then(graph_code_retryable).unwrap_or(false),
        },
        _ => return Ok(None),
    };
    Ok(Some(InboundEvent::Status(StatusUpdate {
        provider_message_id: id,
        to: to.to_owned(),
        status,
        error_code: code.map(|c| format!("graph_{c}")),
    })))
}

#[derive(Deserialize)]
struct Webhook {
    object: Option<String>,
    #[serde(default)]
    entry: Vec<Entry>,
}

#[derive(Deserialize)]
struct Entry {
    #[serde(default)]
    changes: Vec<Change>,
}

#[derive(Deserialize)]
struct Change {
    field: Option<String>,
    value: Option<ChangeValue>,
}

#[derive(Deserialize)]
struct ChangeValue {
    metadata: Option<Metadata>,
    #[serde(default)]
    messages: Vec<WaMessage>,
    #[serde(default)]
    statuses: Vec<WaStatus>,
}

#[derive(Deserialize)]
struct Metadata {
    phone_number_id: Option<String>,
}

#[derive(Deserialize)]
struct WaMessage {
    id: Option<String>,
    from: Option<String>,
    timestamp: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    text: Option<WaText>,
    interactive: Option<WaInteractive>,
    button: Option<WaButton>,
}

#[derive(Deserialize)]
struct WaText {
    body: Option<String>,
}

#[derive(Deserialize, Default)]
struct WaInteractive {
    button_reply: Option<WaReply>,
    list_reply: Option<WaReply>,
}

#[derive(Deserialize)]
struct WaReply {
    id: Option<String>,
    title: Option<String>,
}

#[derive(Deserialize, Default)]
struct WaButton {
    payload: Option<String>,
    text: Option<String>,
}

#[derive(Deserialize)]
struct WaStatus {
    id: Option<String>,
    status: Option<String>,
    #[serde(default)]
    errors: Vec<WaError>,
}

#[derive(Deserialize)]
struct WaError {
    code: Option<i64>,
}

#[cfg(test)]
#[path = "whatsapp_tests.rs"]
mod tests;
