//! Types of the messaging pipeline (#4): provider accounts and their write-only secrets,
//! consent, inbound deliveries, the job queue and the outbox.
//!
//! The queues are shared by every clinic: a worker claims due rows of any tenant in one query,
//! then does the work inside that row's own [`TenantScope`]. A claim is a lease: a worker that
//! dies leaves rows that are claimed again once the lease runs out, and every completion checks
//! that it still holds the lease (worker and attempt), so late work is refused, not repeated.

use crate::TenantScope;
use crate::model::{Channel, str_enum};
use frontdesk_domain::{ConversationId, E164Phone, MessageId, PatientId, TenantId};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use zeroize::Zeroizing;

str_enum!(
    /// A messaging provider a clinic can connect.
    Provider { Whatsapp = "whatsapp", Twilio = "twilio", AfricasTalking = "africastalking" }
);

impl Provider {
    /// The conversation channel this provider carries.
    pub fn channel(self) -> Channel {
        match self {
            Provider::Whatsapp => Channel::Whatsapp,
            Provider::Twilio | Provider::AfricasTalking => Channel::Sms,
        }
    }

    /// The secrets a connected account must hold (what verifies its webhooks and sends).
    pub fn required_secrets(self) -> &'static [&'static str] {
        match self {
            Provider::Whatsapp => &["app_secret", "verify_token", "access_token"],
            Provider::Twilio => &["auth_token"],
            Provider::AfricasTalking => &["api_key", "callback_token"],
        }
    }

    /// Every provider, for listings.
    pub const ALL: [Provider; 3] = [
        Provider::Whatsapp,
        Provider::Twilio,
        Provider::AfricasTalking,
    ];

    /// A name for people.
    pub fn label(self) -> &'static str {
        match self {
            Provider::Whatsapp => "WhatsApp (Meta Cloud API)",
            Provider::Twilio => "Twilio (SMS and voice)",
            Provider::AfricasTalking => "Africa's Talking (SMS)",
        }
    }
}

str_enum!(
    /// Why an outbound message exists; only an opt-out confirmation reaches an opted-out number.
    OutboxPurpose {
        Reply = "reply",
        OptoutConfirmation = "optout_confirmation",
        Notice = "notice",
        Reminder = "reminder",
        FollowUp = "follow_up",
    }
);

/// A provider's secrets (app secret, tokens, API keys). Never printed, zeroized on drop.
///
/// A rotated secret keeps its previous value for an overlap window, so that a provider still
/// signing with the old one (until the clinic has updated it there) is not refused meanwhile:
/// [`ChannelSecrets::accepted`] gives both until the window ends. Outbound calls always use
/// the current value.
#[derive(Clone, Default)]
pub struct ChannelSecrets {
    current: BTreeMap<String, Zeroizing<String>>,
    previous: BTreeMap<String, PreviousSecret>,
}

#[derive(Clone)]
struct PreviousSecret {
    value: Zeroizing<String>,
    until_us: i64,
}

/// The key under which previous values are kept in the sealed JSON (not a secret name: names
/// are plain identifiers).
const PREVIOUS: &str = "~previous";

impl ChannelSecrets {
    pub fn new() -> Self {
        Self::default()
    }
    /// Sets a secret, replacing its value at once (any overlap with an older value ends).
    pub fn with(mut self, name: &str, value: impl Into<String>) -> Self {
        self.previous.remove(name);
        self.current
            .insert(name.to_owned(), Zeroizing::new(value.into()));
        self
    }
    /// The current value.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.current.get(name).map(|v| v.as_str())
    }
    /// Every value a webhook may be verified with at `now`: the current one, then the previous
    /// one while its overlap window lasts. Empty values are never accepted.
    pub fn accepted(&self, name: &str, now: Timestamp) -> Vec<&str> {
        let current = self.get(name);
        let previous = self
            .previous
            .get(name)
            .filter(|p| p.until_us > now.as_microsecond())
            .map(|p| p.value.as_str());
        current
            .into_iter()
            .chain(previous)
            .filter(|v| !v.is_empty())
            .collect()
    }
    /// Replaces a secret with `value`, keeping the old value accepted until `until` (no
    /// overlap when `until` is not in the future or there was no old value). Returns when the
    /// old value stops being accepted, if it still is.
    pub fn rotate(
        &mut self,
        name: &str,
        value: Zeroizing<String>,
        now: Timestamp,
        until: Timestamp,
    ) -> Option<Timestamp> {
        let old = self.current.insert(name.to_owned(), value);
        self.previous.remove(name);
        match old {
            Some(old) if !old.is_empty() && until > now => {
                self.previous.insert(
                    name.to_owned(),
                    PreviousSecret {
                        value: old,
                        until_us: until.as_microsecond(),
                    },
                );
                Some(until)
            }
            _ => None,
        }
    }
    /// When the previous value of `name` stops being accepted, if one is kept.
    pub fn previous_until(&self, name: &str, now: Timestamp) -> Option<Timestamp> {
        self.previous
            .get(name)
            .filter(|p| p.until_us > now.as_microsecond())
            .and_then(|p| Timestamp::from_microsecond(p.until_us).ok())
    }
    /// Forgets previous values whose window has ended.
    pub fn prune(&mut self, now: Timestamp) {
        self.previous
            .retain(|_, p| p.until_us > now.as_microsecond());
    }
    /// The names of the secrets held (for status displays: values are write-only).
    pub fn names(&self) -> Vec<&str> {
        self.current.keys().map(String::as_str).collect()
    }
    pub(crate) fn to_json(&self) -> Zeroizing<Vec<u8>> {
        let mut map = serde_json::Map::new();
        for (k, v) in &self.current {
            map.insert(k.clone(), serde_json::Value::String(v.as_str().to_owned()));
        }
        if !self.previous.is_empty() {
            let previous: serde_json::Map<String, serde_json::Value> = self
                .previous
                .iter()
                .map(|(k, p)| {
                    (
                        k.clone(),
                        serde_json::json!({ "value": p.value.as_str(), "until_us": p.until_us }),
                    )
                })
                .collect();
            map.insert(PREVIOUS.to_owned(), serde_json::Value::Object(previous));
        }
        let out = Zeroizing::new(serde_json::to_vec(&map).unwrap_or_default());
        zeroize_json(serde_json::Value::Object(map));
        out
    }
    pub(crate) fn from_json(bytes: &[u8]) -> Result<Self, crate::StoreError> {
        let corrupt = || crate::StoreError::Corrupt("channel secrets");
        let map: serde_json::Map<String, serde_json::Value> =
            serde_json::from_slice(bytes).map_err(|_| corrupt())?;
        let mut out = Self::default();
        for (k, v) in map {
            match v {
                serde_json::Value::String(s) => {
                    out.current.insert(k, Zeroizing::new(s));
                }
                serde_json::Value::Object(previous) if k == PREVIOUS => {
                    for (name, p) in previous {
                        let value = p
                            .get("value")
                            .and_then(|v| v.as_str())
                            .ok_or_else(corrupt)?;
                        let until_us = p
                            .get("until_us")
                            .and_then(|v| v.as_i64())
                            .ok_or_else(corrupt)?;
                        out.previous.insert(
                            name,
                            PreviousSecret {
                                value: Zeroizing::new(value.to_owned()),
                                until_us,
                            },
                        );
                    }
                }
                _ => return Err(corrupt()),
            }
        }
        Ok(out)
    }
}

/// Wipes the secret strings of a JSON value built from secrets, before it is dropped.
fn zeroize_json(v: serde_json::Value) {
    match v {
        serde_json::Value::String(s) => drop(Zeroizing::new(s)),
        serde_json::Value::Object(m) => m.into_iter().for_each(|(_, v)| zeroize_json(v)),
        serde_json::Value::Array(a) => a.into_iter().for_each(zeroize_json),
        _ => {}
    }
}

impl std::fmt::Debug for ChannelSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set()
            .entries(self.current.keys())
            .finish_non_exhaustive()
    }
}

/// A clinic's account with a provider, as configured (secrets included: handle with care).
#[derive(Debug, Clone)]
pub struct ChannelAccount {
    pub provider: Provider,
    /// The provider address that routes to this clinic (phone_number_id, number, short code).
    pub address: String,
    /// Non-secret settings (e.g. `account_sid`, `username`, `sender`).
    pub config: serde_json::Value,
    pub secrets: ChannelSecrets,
    pub(crate) tenant: TenantId,
}

impl ChannelAccount {
    pub fn tenant_id(&self) -> TenantId {
        self.tenant
    }
    /// The clinic's scope. Call this only after the webhook was verified with this account's
    /// secrets: that verification is what makes the request the clinic's.
    pub fn verified_scope(&self) -> TenantScope {
        TenantScope::new(self.tenant)
    }
}

/// Opt-in / opt-out recorded for one phone on one channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsentChange {
    OptIn,
    OptOut,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consent {
    pub opted_in: bool,
    pub source: String,
    pub updated_at: Timestamp,
}

/// A message a patient sent through a provider, as it enters the pipeline.
#[derive(Clone)]
pub struct InboundDelivery {
    pub channel: Channel,
    pub from: E164Phone,
    /// The provider's message id: unique per channel, so a redelivery is recognised.
    pub provider_message_id: String,
    pub body: String,
    /// STOP / START keywords: recorded in the same transaction.
    pub consent: Option<(ConsentChange, String)>,
    /// A fixed answer sent without the receptionist (opt-out confirmation, help text).
    pub auto_reply: Option<(String, OutboxPurpose)>,
    /// Queue a job for the receptionist to answer.
    pub run_agent: bool,
}

impl std::fmt::Debug for InboundDelivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InboundDelivery")
            .field("channel", &self.channel)
            .field("body_len", &self.body.len())
            .field("consent", &self.consent)
            .field("run_agent", &self.run_agent)
            .finish_non_exhaustive()
    }
}

/// What an inbound delivery created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ingested {
    pub patient: PatientId,
    pub conversation: ConversationId,
    pub message: MessageId,
    pub job: Option<uuid::Uuid>,
}

/// The payload of the `reply` job: answer this stored message.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ReplyJob {
    pub conversation: ConversationId,
    pub message: MessageId,
    /// The conversation's first message from the patient: its answer carries the privacy
    /// notice (decided on arrival, so messages that arrive together cannot both miss it).
    #[serde(default)]
    pub first_contact: bool,
}

pub const REPLY_JOB: &str = "reply";

/// A claimed job: proof of the lease that every completion presents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobLease {
    pub scope: TenantScope,
    pub id: uuid::Uuid,
    pub worker: String,
    /// 1 on the first run; rises on every claim.
    pub attempt: i32,
}

#[derive(Debug, Clone)]
pub struct Job {
    pub lease: JobLease,
    pub kind: String,
    pub payload: serde_json::Value,
    pub max_attempts: i32,
}

/// A claimed outbox row, opened for sending.
#[derive(Clone)]
pub struct OutboxItem {
    pub lease: JobLease,
    pub channel: Channel,
    pub purpose: OutboxPurpose,
    pub to: E164Phone,
    pub body: String,
    pub idempotency_key: String,
    pub message: Option<MessageId>,
    /// When the patient last wrote on this conversation (WhatsApp's 24-hour window).
    pub last_inbound_at: Option<Timestamp>,
}

impl std::fmt::Debug for OutboxItem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutboxItem")
            .field("lease", &self.lease)
            .field("channel", &self.channel)
            .field("purpose", &self.purpose)
            .field("attempt", &self.lease.attempt)
            .finish_non_exhaustive()
    }
}

/// How an attempt to deliver ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryOutcome {
    Sent {
        provider_message_id: String,
    },
    /// Try again at `at` (or give up if attempts are exhausted).
    Retry {
        at: Timestamp,
        error_code: String,
    },
    /// Not attempted (the clinic's send rate is used up): try at `at`, the attempt uncounted.
    Deferred {
        at: Timestamp,
    },
    /// The provider refused for good: dead-lettered and staff alerted.
    Permanent {
        error_code: String,
    },
}

/// An outbox row as staff and tests see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEntry {
    pub id: uuid::Uuid,
    pub message: Option<MessageId>,
    pub channel: Channel,
    pub purpose: OutboxPurpose,
    pub status: String,
    pub attempts: i32,
    pub provider_message_id: Option<String>,
    pub last_error: Option<String>,
}

/// How a one-time code check ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeCheck {
    /// The visitor is this patient (the one with the phone the code went to).
    Verified(PatientId),
    Wrong {
        attempts_left: u8,
    },
    /// No pending code: never sent, expired, or locked after too many wrong tries.
    ExpiredOrLocked,
}

/// Codes a web chat conversation may ask for per hour, and a phone may receive per day.
pub const CODES_PER_CONVERSATION_PER_HOUR: i64 = 3;
pub const CODES_PER_PHONE_PER_DAY: i64 = 5;
/// Codes a clinic sends per hour in all: bounds what a script trying many numbers can cost.
pub const CODES_PER_CLINIC_PER_HOUR: i64 = 60;
/// Wrong tries before a code is withdrawn.
pub const CODE_ATTEMPTS: i32 = 5;

/// The `notify_staff` job: email the staff about this notification.
pub const NOTIFY_STAFF_JOB: &str = "notify_staff";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct NotifyStaffJob {
    pub notification: uuid::Uuid,
}

/// A staff member who may be alerted by email.
#[derive(Clone, PartialEq, Eq)]
pub struct StaffContact {
    pub role: frontdesk_domain::Role,
    pub email: frontdesk_domain::Email,
}

impl std::fmt::Debug for StaffContact {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StaffContact")
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

/// A phone call: its own voice conversation with the caller's patient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    pub call_sid: String,
    pub conversation: ConversationId,
    pub patient: PatientId,
    /// `in-progress` until it ended, then Twilio's final status (`completed`, `busy`, ...).
    pub status: String,
    pub started_at: Timestamp,
    pub ended_at: Option<Timestamp>,
    pub duration_secs: Option<i32>,
}

/// What [`crate::CallStore::start_call`] found or made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallStart {
    pub call: Call,
    /// False when the call sid was already known (a retried webhook): nothing was written.
    pub started: bool,
}

/// How a call ended, as the provider reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallEnd {
    /// Twilio's final call status: `completed`, `busy`, `failed`, `no-answer`, `canceled`.
    pub status: String,
    pub duration_secs: Option<u32>,
    /// The end-of-call summary written into the conversation (sealed like every message).
    pub note: String,
}

/// How [`crate::ReminderStore::send_reminder`] ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReminderOutcome {
    /// Written to this conversation and queued for delivery.
    Sent {
        conversation: ConversationId,
        channel: Channel,
    },
    /// Decided but not sent: the patient has no number, the clinic no channel to it, or the
    /// number opted out. Never tried again.
    Skipped(&'static str),
    /// Already decided (by this or another instance), cancelled, or no longer ahead.
    NotDue,
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::SignedDuration;

    fn at(s: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + s).unwrap()
    }

    #[test]
    fn a_rotated_secret_keeps_the_old_value_for_the_overlap_only() {
        let mut s = ChannelSecrets::new().with("app_secret", "old");
        let until = at(0) + SignedDuration::from_hours(24);
        assert_eq!(
            s.rotate("app_secret", Zeroizing::new("new".into()), at(0), until),
            Some(until)
        );
        assert_eq!(s.get("app_secret"), Some("new"));
        assert_eq!(s.accepted("app_secret", at(60)), vec!["new", "old"]);
        assert_eq!(s.previous_until("app_secret", at(60)), Some(until));
        assert_eq!(s.accepted("app_secret", at(24 * 3600)), vec!["new"]);
        assert_eq!(s.previous_until("app_secret", at(24 * 3600)), None);
        assert_eq!(s.names(), vec!["app_secret"]);
    }

    #[test]
    fn no_overlap_when_asked_for_none_or_nothing_was_set() {
        let mut s = ChannelSecrets::new().with("auth_token", "old");
        assert_eq!(
            s.rotate("auth_token", Zeroizing::new("new".into()), at(0), at(0)),
            None
        );
        assert_eq!(s.accepted("auth_token", at(0)), vec!["new"]);
        let mut fresh = ChannelSecrets::new();
        assert_eq!(
            fresh.rotate("auth_token", Zeroizing::new("t".into()), at(0), at(99)),
            None
        );
        assert_eq!(fresh.accepted("auth_token", at(1)), vec!["t"]);
        assert!(
            ChannelSecrets::new()
                .with("x", "")
                .accepted("x", at(0))
                .is_empty()
        );
    }

    #[test]
    fn replacing_a_secret_outright_ends_its_overlap() {
        let mut s = ChannelSecrets::new().with("app_secret", "old");
        s.rotate("app_secret", Zeroizing::new("new".into()), at(0), at(3600));
        let s = s.with("app_secret", "newer");
        assert_eq!(s.accepted("app_secret", at(1)), vec!["newer"]);
    }

    #[test]
    fn previous_values_survive_sealing_and_old_json_still_reads() {
        let mut s = ChannelSecrets::new()
            .with("app_secret", "old")
            .with("access_token", "tok");
        s.rotate("app_secret", Zeroizing::new("new".into()), at(0), at(3600));
        let back = ChannelSecrets::from_json(&s.to_json()).unwrap();
        assert_eq!(back.accepted("app_secret", at(1)), vec!["new", "old"]);
        assert_eq!(back.get("access_token"), Some("tok"));
        assert_eq!(back.names(), vec!["access_token", "app_secret"]);
        let legacy = ChannelSecrets::from_json(br#"{"auth_token":"t"}"#).unwrap();
        assert_eq!(legacy.accepted("auth_token", at(0)), vec!["t"]);
        assert!(ChannelSecrets::from_json(br#"{"auth_token":1}"#).is_err());
        let mut pruned = back.clone();
        pruned.prune(at(3600));
        assert_eq!(pruned.accepted("app_secret", at(1)), vec!["new"]);
        assert!(!format!("{back:?}").contains("old"));
    }
}
