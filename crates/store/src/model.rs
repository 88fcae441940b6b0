//! Values passed to and returned by the store. Types holding personal data redact `Debug`.

use frontdesk_domain::*;
use jiff::Timestamp;
use serde::Serialize;
use zeroize::Zeroizing;

/// A tenant as listed in the directory (no clinic or patient data).
#[derive(Debug, Clone)]
pub struct TenantSummary {
    pub id: TenantId,
    pub slug: TenantSlug,
    pub status: String,
    pub created_at: Timestamp,
}

/// A clinic's public face: its slug and profile.
#[derive(Debug, Clone)]
pub struct Clinic {
    pub id: TenantId,
    pub slug: TenantSlug,
    pub profile: ClinicProfile,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Practitioner {
    pub id: PractitionerId,
    pub name: String,
    pub title: String,
    pub active: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewService {
    pub name: String,
    pub duration_min: u16,
    pub buffer_min: u16,
    /// Price in the clinic currency's minor unit (cents); `None` = not stated.
    pub price_minor: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    pub id: ServiceId,
    pub name: String,
    pub duration_min: u16,
    pub buffer_min: u16,
    pub price_minor: Option<i64>,
    pub currency: String,
    pub active: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Faq {
    pub id: FaqId,
    pub question: String,
    pub answer: String,
}

/// A patient to create. All fields are optional: a web chat visitor starts anonymous.
#[derive(Clone, Default)]
pub struct NewPatient {
    pub name: Option<String>,
    pub phone: Option<E164Phone>,
    pub email: Option<Email>,
    pub language: Option<String>,
}

/// A patient read back (decrypted).
#[derive(Clone, PartialEq, Eq)]
pub struct Patient {
    pub id: PatientId,
    pub name: Option<String>,
    pub phone: Option<E164Phone>,
    pub email: Option<Email>,
    pub language: Option<String>,
    pub created_at: Timestamp,
}

impl std::fmt::Debug for NewPatient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NewPatient(<redacted>)")
    }
}
impl std::fmt::Debug for Patient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Patient({}, <redacted>)", self.id)
    }
}

#[derive(Clone)]
pub struct NewUser {
    pub email: Email,
    pub name: String,
    pub role: Role,
}

#[derive(Clone, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub email: Email,
    pub name: String,
    pub role: Role,
    pub active: bool,
}

impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "User({}, {:?}, <redacted>)", self.id, self.role)
    }
}

macro_rules! str_enum {
    ($(#[$doc:meta])* $name:ident { $($variant:ident = $s:literal),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),* }

        impl $name {
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $s),* }
            }
            pub fn parse(s: &str) -> Result<Self, crate::StoreError> {
                match s {
                    $($s => Ok(Self::$variant),)*
                    _ => Err(crate::StoreError::Corrupt(concat!("unknown ", stringify!($name)))),
                }
            }
        }
    };
}

str_enum!(
    /// How the patient reached the clinic.
    Channel { Webchat = "webchat", Whatsapp = "whatsapp", Sms = "sms", Voice = "voice", Cli = "cli" }
);
str_enum!(Direction { Inbound = "inbound", Outbound = "outbound" });
str_enum!(Sender { Patient = "patient", Agent = "agent", Staff = "staff", System = "system" });

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conversation {
    pub id: ConversationId,
    pub patient_id: PatientId,
    pub channel: Channel,
    pub status: String,
    pub urgency: String,
    pub created_at: Timestamp,
    pub last_message_at: Timestamp,
}

/// A message to store. The body is encrypted with the patient's key before it is written.
#[derive(Clone)]
pub struct NewMessage {
    pub direction: Direction,
    pub sender: Sender,
    pub body: String,
    /// The provider's id for an inbound delivery; unique per channel (idempotency).
    pub provider_message_id: Option<String>,
}

impl NewMessage {
    pub fn inbound(body: impl Into<String>) -> Self {
        Self {
            direction: Direction::Inbound,
            sender: Sender::Patient,
            body: body.into(),
            provider_message_id: None,
        }
    }
    pub fn agent_reply(body: impl Into<String>) -> Self {
        Self {
            direction: Direction::Outbound,
            sender: Sender::Agent,
            body: body.into(),
            provider_message_id: None,
        }
    }
}

impl std::fmt::Debug for NewMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "NewMessage({:?}, {:?}, <redacted>)",
            self.direction, self.sender
        )
    }
}

#[derive(Clone, PartialEq, Eq)]
pub struct Message {
    pub id: MessageId,
    pub conversation_id: ConversationId,
    pub direction: Direction,
    pub sender: Sender,
    pub channel: Channel,
    pub body: String,
    pub status: String,
    pub created_at: Timestamp,
}

impl std::fmt::Debug for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Message({}, {:?}, {:?}, <redacted>)",
            self.id, self.direction, self.sender
        )
    }
}

/// One conversational exchange, written in one transaction: the patient's message, the
/// replies to it, the audit entries that record what happened and, when triage says so, the
/// escalation (the conversation marked urgent and the staff alerted).
#[derive(Debug, Clone)]
pub struct Turn {
    pub inbound: NewMessage,
    pub replies: Vec<NewMessage>,
    pub audit: Vec<AuditEvent>,
    pub escalation: Option<Escalation>,
}

str_enum!(
    /// How urgent a conversation is. It only ever rises within a conversation.
    Urgency { Normal = "normal", Urgent = "urgent", Emergency = "emergency" }
);
str_enum!(
    /// Why the clinic's staff are alerted.
    NotificationKind { Emergency = "emergency", Urgent = "urgent", Handoff = "handoff", Task = "task", DeliveryFailure = "delivery_failure" }
);

/// Raise the conversation's urgency (never lower it) and alert the staff.
#[derive(Debug, Clone)]
pub struct Escalation {
    pub urgency: Urgency,
    pub notify: NotificationKind,
    /// Ids and rule names only: never message text.
    pub details: serde_json::Value,
}

/// An alert for the clinic's staff, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffNotification {
    pub id: uuid::Uuid,
    pub conversation_id: Option<ConversationId>,
    pub kind: NotificationKind,
    pub details: String,
    pub status: String,
    pub created_at: Timestamp,
}

/// Who did something, for the audit log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    System,
    /// The operator through the CLI.
    Operator,
    /// The receptionist (built-in agent or a language model).
    Agent,
    Patient(PatientId),
    Staff(UserId),
}

impl Actor {
    pub fn kind(&self) -> &'static str {
        match self {
            Actor::System => "system",
            Actor::Operator => "operator",
            Actor::Agent => "agent",
            Actor::Patient(_) => "patient",
            Actor::Staff(_) => "staff",
        }
    }
    pub fn id(&self) -> Option<String> {
        match self {
            Actor::Patient(p) => Some(p.to_string()),
            Actor::Staff(u) => Some(u.to_string()),
            _ => None,
        }
    }
}

/// An audit event to append. `details` must never hold message text, PII or secrets.
#[derive(Debug, Clone)]
pub struct AuditEvent {
    pub actor: Actor,
    pub action: &'static str,
    pub target: Option<(&'static str, String)>,
    pub details: serde_json::Value,
}

impl AuditEvent {
    pub fn new(actor: Actor, action: &'static str) -> Self {
        Self {
            actor,
            action,
            target: None,
            details: serde_json::Value::Object(Default::default()),
        }
    }
    pub fn target(mut self, kind: &'static str, id: impl ToString) -> Self {
        self.target = Some((kind, id.to_string()));
        self
    }
    pub fn details(mut self, details: serde_json::Value) -> Self {
        self.details = details;
        self
    }
}

/// An audit log row as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub seq: i64,
    pub at: Timestamp,
    pub actor_kind: String,
    pub actor_id: Option<String>,
    pub action: String,
    pub target_kind: Option<String>,
    pub target_id: Option<String>,
    pub details: String,
    pub prev_hash: Vec<u8>,
    pub hash: Vec<u8>,
}

/// A new web chat: the visitor's bearer token (shown once) and their conversation.
pub struct WebchatStart {
    pub token: Zeroizing<String>,
    pub conversation_id: ConversationId,
    pub expires_at: Timestamp,
}

impl std::fmt::Debug for WebchatStart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "WebchatStart({}, <token redacted>)",
            self.conversation_id
        )
    }
}

/// What a valid web chat token proves: this tenant, this conversation, this patient.
#[derive(Debug, Clone, Copy)]
pub struct WebchatAuth {
    pub scope: crate::TenantScope,
    pub conversation_id: ConversationId,
    pub patient_id: PatientId,
}

str_enum!(
    /// An appointment's state. Only `booked` and `confirmed` keep the practitioner busy.
    AppointmentStatus { Booked = "booked", Confirmed = "confirmed", Cancelled = "cancelled", Completed = "completed", NoShow = "no_show" }
);

/// A booking request. `idempotency_key` makes retries safe: the same key books once and
/// answers with the same appointment (e.g. the provider message id that asked for it).
#[derive(Debug, Clone)]
pub struct NewAppointment {
    pub patient: PatientId,
    pub practitioner: PractitionerId,
    pub service: ServiceId,
    pub starts_at: Timestamp,
    pub idempotency_key: String,
    pub actor: Actor,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appointment {
    pub id: AppointmentId,
    pub patient_id: PatientId,
    pub practitioner_id: PractitionerId,
    pub service_id: ServiceId,
    pub starts_at: Timestamp,
    pub ends_at: Timestamp,
    pub busy_until: Timestamp,
    pub status: AppointmentStatus,
}

/// What free slots to look for: one practitioner, one service, a range of clinic-local dates.
#[derive(Debug, Clone)]
pub struct SlotSearch {
    pub practitioner: PractitionerId,
    pub service: ServiceId,
    pub from: jiff::civil::Date,
    pub to: jiff::civil::Date,
    pub min_notice: jiff::SignedDuration,
    /// Optional time-of-day window ("in the afternoon").
    pub day_start: Option<jiff::civil::Time>,
    pub day_end: Option<jiff::civil::Time>,
    pub limit: usize,
}

/// A red-flag rule a clinic added (on top of the built-in rules, which cannot be removed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedFlagRule {
    pub id: uuid::Uuid,
    /// Phrases that trigger the rule, matched like the built-in ones (typos, negation).
    pub phrases: Vec<String>,
    /// `Urgent` or `Emergency`.
    pub level: Urgency,
    /// BCP 47 language tag of the phrases, e.g. `en` or `sw`.
    pub language: String,
}

/// Everything the receptionist may say about a clinic, read in one transaction.
#[derive(Debug, Clone)]
pub struct ClinicCatalog {
    pub clinic: Clinic,
    pub services: Vec<Service>,
    pub practitioners: Vec<Practitioner>,
    pub faqs: Vec<Faq>,
    pub red_flag_rules: Vec<RedFlagRule>,
}
