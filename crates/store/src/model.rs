//! Values passed to and returned by the store. Types holding personal data redact `Debug`.

use frontdesk_domain::*;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

/// A tenant as listed in the directory (no clinic or patient data).
#[derive(Debug, Clone)]
pub struct TenantSummary {
    pub id: TenantId,
    pub slug: TenantSlug,
    /// `active`, `suspended`, `terminated` (kept for the hold, then purged), `purging` or
    /// `purged` (a tombstone: nothing of the clinic is left).
    pub status: String,
    pub created_at: Timestamp,
    pub terminated_at: Option<Timestamp>,
    pub purged_at: Option<Timestamp>,
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
    /// Who provides it. Empty: any practitioner of the clinic.
    pub practitioners: Vec<PractitionerId>,
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
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
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
pub(crate) use str_enum;

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
    /// What staff see at a glance; `None` until the first turn that wrote one.
    pub summary: Option<ConversationSummary>,
    /// The receptionist's dialogue state (JSON), opened with the patient's key.
    pub dialogue_state: Option<String>,
    /// Web chat: the patient this visitor proved to be by a one-time code, while that lasts.
    /// (On WhatsApp and SMS the conversation's own patient is the verified sender.)
    pub verified_patient: Option<PatientId>,
    /// The appointment this conversation last sent a reminder for (its replies are about it).
    pub reminded_appointment: Option<AppointmentId>,
    /// The freed time (waitlist hold) this conversation was last offered (a "yes" takes it).
    pub offered_hold: Option<SlotHoldId>,
    /// The staff member who took the conversation over, and until when the hold lasts
    /// without activity (see [`Conversation::holder`]).
    pub held_by: Option<UserId>,
    pub hold_expires_at: Option<Timestamp>,
    /// The staff member the conversation is assigned to (see [`Assignable`]).
    pub assignee: Option<UserId>,
}

impl Conversation {
    /// Who holds the conversation at `now`: while someone does, the AI sends nothing.
    pub fn holder(&self, now: Timestamp) -> Option<UserId> {
        match (self.held_by, self.hold_expires_at) {
            (Some(user), Some(until)) if until > now => Some(user),
            _ => None,
        }
    }
}

/// The conflict `record_turn` answers when staff hold the conversation: the AI's replies are
/// not stored (the caller records the turn again without them).
pub const HELD_BY_STAFF: &str = "the conversation is held by a staff member";
/// A takeover of a conversation someone else holds.
pub const HELD_BY_ANOTHER: &str = "another staff member holds this conversation";
/// A staff reply or release by someone who does not hold the conversation.
pub const NOT_HOLDING: &str = "you do not hold this conversation";

/// A staff member's hold on a conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hold {
    pub user: UserId,
    /// The holder's name, for the other staff who see the conversation.
    pub name: String,
    pub expires_at: Timestamp,
}

/// What the inbox lists. `phone` finds a patient by the blind index (exact number); `name`
/// matches any part of the name, case-insensitively (names are sealed, so this is done
/// after opening them, over the most recent conversations only).
#[derive(Debug, Clone, Default)]
pub struct InboxQuery {
    pub phone: Option<E164Phone>,
    pub name: Option<String>,
    /// Only conversations assigned to this staff member (for roles whose reach is
    /// "assigned to them").
    pub assignee: Option<UserId>,
    pub limit: u32,
}

/// One conversation in the inbox.
#[derive(Clone, PartialEq, Eq)]
pub struct InboxEntry {
    pub conversation: ConversationId,
    pub patient: PatientId,
    pub patient_name: Option<String>,
    pub channel: Channel,
    pub urgency: String,
    /// The highest triage level seen (from the summary), if a turn wrote one.
    pub triage: Option<Urgency>,
    /// What the patient asked for, from the summary.
    pub reason: Option<String>,
    pub holder: Option<Hold>,
    /// The staff member the conversation is assigned to, and their name.
    pub assignee: Option<(UserId, String)>,
    /// A message arrived since this staff member last opened the conversation.
    pub unread: bool,
    pub last_message_at: Timestamp,
}

impl std::fmt::Debug for InboxEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "InboxEntry({}, {:?}, <redacted>)",
            self.conversation, self.channel
        )
    }
}

/// A conversation's short structured summary for the staff, stored sealed with the patient's
/// own key (so erasing the patient shreds it too). It holds names of intents, red-flag
/// categories and outcomes only, never patient text: the store accepts nothing else in
/// `reason` or `outcome` (see [`ConversationSummary::validate`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConversationSummary {
    /// The patient's main request: an intent or `red_flag:<category>`, e.g. `opening_hours`,
    /// `book`, `red_flag:chest_pain`.
    pub reason: String,
    /// The highest triage level seen in the conversation.
    pub triage_level: Urgency,
    /// e.g. `answered`, `escalated_emergency`, `flagged_urgent`, `handed_off`,
    /// `question_for_team`.
    pub outcome: String,
    pub appointment: Option<AppointmentId>,
    /// Patient turns summarised so far.
    pub turns: u32,
}

impl Default for ConversationSummary {
    fn default() -> Self {
        Self {
            reason: String::new(),
            triage_level: Urgency::Normal,
            outcome: String::new(),
            appointment: None,
            turns: 0,
        }
    }
}

impl ConversationSummary {
    /// The longest `reason` or `outcome` accepted.
    pub const MAX_LABEL: usize = 64;

    /// `reason` and `outcome` must be labels (`a-z 0-9 _ : . -`, at most [`Self::MAX_LABEL`]
    /// bytes; `reason` may be empty): a guard against patient text slipping into a summary
    /// that every staff member sees.
    pub fn validate(&self) -> Result<(), DomainError> {
        fn is_label(s: &str) -> bool {
            s.len() <= ConversationSummary::MAX_LABEL
                && s.bytes().all(|b| {
                    b.is_ascii_lowercase()
                        || b.is_ascii_digit()
                        || matches!(b, b'_' | b':' | b'.' | b'-')
                })
        }
        if !is_label(&self.reason) {
            return Err(DomainError::invalid(
                "summary_reason",
                "use an intent or category name",
            ));
        }
        if self.outcome.is_empty() || !is_label(&self.outcome) {
            return Err(DomainError::invalid(
                "summary_outcome",
                "use an outcome name",
            ));
        }
        Ok(())
    }

    /// This summary, to be written over `stored`. The caller computed it from a summary it read
    /// earlier, which a turn handled at the same time may have replaced since; so, like the
    /// conversation's urgency, the triage level never drops (when `stored` is higher, its
    /// reason and outcome, which describe that escalation, are kept with it) and the turn
    /// count never goes back.
    pub(crate) fn over(mut self, stored: &ConversationSummary) -> Self {
        if stored.triage_level > self.triage_level {
            self.triage_level = stored.triage_level;
            self.reason.clone_from(&stored.reason);
            self.outcome.clone_from(&stored.outcome);
        }
        self.turns = self.turns.max(stored.turns.saturating_add(1));
        self
    }
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
#[derive(Debug, Clone, Default)]
pub struct Turn {
    /// The patient's message; `None` when it was stored on arrival ([`crate::ChannelStore::ingest_inbound`])
    /// and this turn answers it from a job.
    pub inbound: Option<NewMessage>,
    /// The job this turn completes, in the same transaction: a lost lease refuses the whole
    /// turn (`Conflict`), so a job run twice never replies twice.
    pub job: Option<crate::channel::JobLease>,
    pub replies: Vec<NewMessage>,
    pub audit: Vec<AuditEvent>,
    pub escalation: Option<Escalation>,
    /// The conversation's summary after this turn; `None` leaves the stored one as it is. A
    /// summary computed from a stale read never lowers the stored triage level (see
    /// [`ConversationSummary`]'s `over`).
    pub summary: Option<ConversationSummary>,
    /// The receptionist's dialogue state after this turn (JSON, opaque to the store, sealed with
    /// the patient's key: it can hold the name and phone a patient typed). `None` keeps it.
    pub dialogue_state: Option<String>,
    /// The accounting of a turn a language model took part in (written with the turn).
    pub llm_usage: Option<crate::llm::LlmUsage>,
}

str_enum!(
    /// How urgent a conversation is. It only ever rises within a conversation.
    Urgency { Normal = "normal", Urgent = "urgent", Emergency = "emergency" }
);

impl Urgency {
    fn rank(self) -> u8 {
        match self {
            Urgency::Normal => 0,
            Urgency::Urgent => 1,
            Urgency::Emergency => 2,
        }
    }
}

/// `Normal < Urgent < Emergency`, so the highest level seen is `a.max(b)`.
impl PartialOrd for Urgency {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Urgency {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.rank().cmp(&other.rank())
    }
}
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
    /// An integration calling the public REST API with this key.
    ApiKey(ApiKeyId),
}

impl Actor {
    pub fn kind(&self) -> &'static str {
        match self {
            Actor::System => "system",
            Actor::Operator => "operator",
            Actor::Agent => "agent",
            Actor::Patient(_) => "patient",
            Actor::Staff(_) => "staff",
            Actor::ApiKey(_) => "api_key",
        }
    }
    pub fn id(&self) -> Option<String> {
        match self {
            Actor::Patient(p) => Some(p.to_string()),
            Actor::Staff(u) => Some(u.to_string()),
            Actor::ApiKey(k) => Some(k.to_string()),
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

/// What [`AuditStore::verify_audit_chain`](crate::AuditStore::verify_audit_chain) found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainReport {
    /// Entries read and checked (all of them when intact; up to the broken one otherwise).
    pub entries: u64,
    /// The seq the chain head (`audit_heads`) records (0 if the clinic has no head row).
    pub head_seq: i64,
    /// The seq of the last entry removed by retention (0: none); the chain is checked from
    /// the entry after it.
    pub floor_seq: i64,
    /// The first broken link; `None`: the chain is intact.
    pub first_break: Option<ChainBreak>,
}

impl ChainReport {
    pub fn is_intact(&self) -> bool {
        self.first_break.is_none()
    }
}

/// Where and how a clinic's audit chain is broken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChainBreak {
    /// The seq of the entry where the check failed; for [`BreakReason::Head`], the seq the
    /// head records (the last entry's seq if the head row itself is missing).
    pub seq: i64,
    pub reason: BreakReason,
}

/// Why a link of the audit chain does not hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakReason {
    /// This entry's seq is not one more than the previous entry's (or the first entry's is
    /// not 1): entries before it were deleted, or moved to another seq.
    Gap,
    /// This entry's prev_hash is not the previous entry's hash (nor GENESIS for the first):
    /// an entry before it was replaced, or entries were swapped.
    PrevHash,
    /// This entry's hash is not the hash of its own contents: the row was edited.
    Hash,
    /// The chain head does not match the last entry: the tail was truncated, or the head
    /// edited (or deleted).
    Head,
    /// The chain's start (the floor left by retention purges) was moved without the
    /// `audit.purged` entry that records every purge: entries were hidden or removed.
    Floor,
}

impl std::fmt::Display for BreakReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            BreakReason::Gap => {
                "sequence gap: entries before this one are missing or were moved (deleted or reordered)"
            }
            BreakReason::PrevHash => {
                "previous-hash mismatch: this entry does not follow the entry before it (replaced or reordered)"
            }
            BreakReason::Hash => "hash mismatch: this entry was edited after it was written",
            BreakReason::Head => {
                "chain head mismatch: the head does not match the last entry (tail truncated or head edited)"
            }
            BreakReason::Floor => {
                "chain start mismatch: entries were removed from the start without an audit.purged entry recording it"
            }
        })
    }
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

/// A clinic's raw activity in a time window, for analytics (no text, names or phones). Each
/// list is in time order and capped at 50,000 events.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Activity {
    /// Conversations started, by channel.
    pub conversations: Vec<(Timestamp, Channel)>,
    /// Phone calls answered.
    pub calls: Vec<Timestamp>,
    /// Appointments made (by anyone), with their service and current status.
    pub bookings: Vec<(Timestamp, ServiceId, AppointmentStatus)>,
    /// Staff alerts raised (red flags, handoffs, tasks, delivery failures).
    pub alerts: Vec<(Timestamp, NotificationKind)>,
    /// Each patient message, its channel, and how long until the conversation first answered
    /// (`None`: not answered).
    pub replies: Vec<(Timestamp, Channel, Option<jiff::SignedDuration>)>,
}

/// One conversation in a patient's record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversationBrief {
    pub id: ConversationId,
    pub channel: Channel,
    pub urgency: String,
    pub started_at: Timestamp,
    pub last_message_at: Timestamp,
    pub assignee: Option<UserId>,
}

/// What staff see of one patient: the minimal record, their conversations and appointments
/// (newest first, at most 100 each) and their messaging consent per channel.
#[derive(Clone, PartialEq, Eq)]
pub struct PatientRecord {
    pub patient: Patient,
    pub conversations: Vec<ConversationBrief>,
    pub appointments: Vec<Appointment>,
    pub consents: Vec<(Channel, crate::channel::Consent)>,
}

impl std::fmt::Debug for PatientRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PatientRecord({}, <redacted>)", self.patient.id)
    }
}

/// One appointment in the diary, with its patient's name.
#[derive(Clone, PartialEq, Eq)]
pub struct DiaryEntry {
    pub appointment: Appointment,
    pub patient_name: Option<String>,
}

impl std::fmt::Debug for DiaryEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DiaryEntry({:?}, <redacted>)", self.appointment)
    }
}

/// Appointments of any status, filtered (the FHIR `Appointment` search): every bound is
/// optional; `statuses` empty means any. Ordered by (start, id); `after` continues a page.
#[derive(Debug, Clone, Default)]
pub struct AppointmentSearch {
    /// One appointment only (a read by id, with its change time).
    pub id: Option<AppointmentId>,
    pub starts_from: Option<Timestamp>,
    pub starts_before: Option<Timestamp>,
    pub practitioner: Option<PractitionerId>,
    pub patient: Option<PatientId>,
    pub statuses: Vec<AppointmentStatus>,
    pub updated_from: Option<Timestamp>,
    pub updated_before: Option<Timestamp>,
    /// The (start, id) of the last appointment of the previous page.
    pub after: Option<(Timestamp, AppointmentId)>,
    /// At most this many (1 to 1,000).
    pub limit: u32,
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

str_enum!(
    /// A waitlist entry's state: waiting to be offered a time, booked through an offer, or
    /// withdrawn.
    WaitlistStatus { Waiting = "waiting", Booked = "booked", Withdrawn = "withdrawn" }
);

/// A patient waiting for a time of one service, with one practitioner or anyone, whose start
/// falls within `[window_start, window_end]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaitlistEntry {
    pub id: WaitlistEntryId,
    pub patient: PatientId,
    pub service: ServiceId,
    /// `None`: any practitioner who provides the service.
    pub practitioner: Option<PractitionerId>,
    pub window_start: Timestamp,
    pub window_end: Timestamp,
    pub status: WaitlistStatus,
    pub created_at: Timestamp,
}

/// A request to join the waitlist.
#[derive(Debug, Clone)]
pub struct NewWaitlistEntry {
    pub patient: PatientId,
    pub service: ServiceId,
    pub practitioner: Option<PractitionerId>,
    pub window_start: Timestamp,
    pub window_end: Timestamp,
    pub actor: Actor,
}

str_enum!(
    /// A freed time's state: `pending` until offered, `offered` until taken or `expires_at`
    /// passes (then read back as `expired`), `unmatched` when nobody could be offered it.
    HoldStatus { Pending = "pending", Offered = "offered", Taken = "taken", Expired = "expired", Unmatched = "unmatched" }
);

/// A freed time (its appointment cancelled or moved) held for the waitlist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotHold {
    pub id: SlotHoldId,
    /// The cancelled (or moved) appointment that freed the time.
    pub source_appointment: AppointmentId,
    pub practitioner: PractitionerId,
    pub service: ServiceId,
    pub starts_at: Timestamp,
    pub status: HoldStatus,
    /// Until when the offer may be taken (set when offered).
    pub expires_at: Option<Timestamp>,
    /// The appointment booked by whoever took it.
    pub appointment: Option<AppointmentId>,
}

/// What [`crate::WaitlistStore::offer_hold`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HoldOffer {
    /// The hold was claimed and offered to this many patients (matching patients who could
    /// not be reached — no phone, no channel, opted out — are skipped and counted in the
    /// audit entry only). `0`: the hold is `unmatched`.
    Offered { patients: usize },
    /// The hold was not pending (offered already, or its time has passed): nothing was done.
    NotPending,
}

/// What [`crate::WaitlistStore::take_hold`] answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TakeOutcome {
    /// This patient got the time.
    Booked(Appointment),
    /// Someone else took it first, the offer expired, or the time is no longer free.
    Gone,
    /// This patient was never offered this hold (or their entry is no longer waiting).
    NotOffered,
}

/// The `recording.fetch` job: download this recording from the provider, seal it, put it in
/// blob storage, then delete the provider's copy.
pub const FETCH_RECORDING_JOB: &str = "recording.fetch";

/// The payload of the [`FETCH_RECORDING_JOB`] job.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct FetchRecordingJob {
    pub recording: RecordingId,
}

str_enum!(
    /// A call recording's state: `pending` until its sealed audio is in blob storage.
    RecordingStatus { Pending = "pending", Stored = "stored" }
);

/// A call recording as filed (metadata only: the audio is sealed in blob storage).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallRecording {
    pub id: RecordingId,
    pub call_sid: String,
    /// The provider's id of the recording (unique per clinic).
    pub recording_sid: String,
    pub conversation: ConversationId,
    pub patient: PatientId,
    pub duration_secs: Option<i32>,
    pub status: RecordingStatus,
    /// Where the sealed audio is in blob storage (set once stored).
    pub blob_key: Option<String>,
    /// Size of the sealed blob in bytes.
    pub sealed_bytes: Option<i64>,
    /// SHA-256 of the sealed blob, lowercase hex.
    pub sealed_sha256: Option<String>,
    pub created_at: Timestamp,
    pub stored_at: Option<Timestamp>,
    /// When the provider's copy was deleted.
    pub provider_deleted_at: Option<Timestamp>,
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
    /// An SMS provider is connected, so web chat visitors can be sent a one-time code.
    pub sends_codes: bool,
    /// The clinic's `catalog_version` stamp, read before this copy (migration 0030). Changes
    /// to the clinic's language model settings bump it too (0033), so what a process built
    /// from those settings can be kept with the stamp it was read at and checked against this
    /// one on every turn.
    pub version: i64,
    /// The clinic's language model spend, read with the stamp on every call (never from a
    /// kept copy; migration 0034).
    pub llm_spend: crate::llm::MonthSpend,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urgency_orders_normal_urgent_emergency() {
        assert!(Urgency::Normal < Urgency::Urgent && Urgency::Urgent < Urgency::Emergency);
        assert_eq!(Urgency::Emergency.max(Urgency::Normal), Urgency::Emergency);
    }

    #[test]
    fn summary_json_is_stable_and_round_trips() -> Result<(), serde_json::Error> {
        let s = ConversationSummary {
            reason: "red_flag:chest_pain".into(),
            triage_level: Urgency::Emergency,
            outcome: "escalated_emergency".into(),
            appointment: None,
            turns: 2,
        };
        let json = serde_json::to_string(&s)?;
        assert_eq!(
            json,
            r#"{"reason":"red_flag:chest_pain","triage_level":"emergency","outcome":"escalated_emergency","appointment":null,"turns":2}"#
        );
        assert_eq!(serde_json::from_str::<ConversationSummary>(&json)?, s);
        Ok(())
    }

    #[test]
    fn a_stale_summary_never_lowers_the_stored_level_or_count() {
        let stored = ConversationSummary {
            reason: "red_flag:stroke".into(),
            triage_level: Urgency::Emergency,
            outcome: "escalated_emergency".into(),
            appointment: None,
            turns: 2,
        };
        let stale = ConversationSummary {
            reason: "opening_hours".into(),
            outcome: "answered".into(),
            turns: 2,
            ..Default::default()
        };
        let merged = stale.over(&stored);
        assert_eq!(
            merged,
            ConversationSummary {
                turns: 3,
                ..stored.clone()
            }
        );
        // A summary at least as high as the stored one is written as it is.
        let fresh = ConversationSummary {
            outcome: "answered".into(),
            turns: 3,
            ..stored.clone()
        };
        assert_eq!(fresh.clone().over(&stored), fresh);
    }

    #[test]
    fn summary_labels_only() {
        let ok = ConversationSummary {
            outcome: "answered".into(),
            ..Default::default()
        };
        assert!(ok.validate().is_ok(), "an empty reason is allowed");
        for (reason, outcome) in [
            ("chest pain", "answered"),
            ("Book", "answered"),
            ("book", ""),
            ("book", "called <b>111</b>"),
            ("book", "é"),
        ] {
            let s = ConversationSummary {
                reason: reason.into(),
                outcome: outcome.into(),
                ..Default::default()
            };
            assert!(s.validate().is_err(), "{reason:?} / {outcome:?}");
        }
    }
}

// ----- Staff sign-in and sessions (#7) -----

/// Limits and lifetimes for sign-in links, chosen by the server.
#[derive(Debug, Clone, Copy)]
pub struct LoginLinkPolicy {
    /// How long a link stays valid (10 minutes: OWASP ASVS 6.5.5 asks for at most that).
    pub ttl: jiff::SignedDuration,
    /// Requests counted over this window for the limits below.
    pub window: jiff::SignedDuration,
    pub max_per_email: u32,
    pub max_per_ip: u32,
}

impl Default for LoginLinkPolicy {
    fn default() -> Self {
        Self {
            ttl: jiff::SignedDuration::from_mins(10),
            window: jiff::SignedDuration::from_mins(15),
            max_per_email: 5,
            max_per_ip: 20,
        }
    }
}

/// What a sign-in request led to. The caller answers the requester identically in every case
/// (never revealing whether the address has an account); only `Created` sends an email.
pub enum LoginLinkOutcome {
    Created {
        /// The secret to put in the emailed link (shown once, stored only as a hash).
        token: Zeroizing<String>,
        user: UserId,
        email: Email,
        expires_at: Timestamp,
    },
    /// No active user has this address.
    NoSuchUser,
    /// Too many requests for this address or from this IP address within the window.
    RateLimited,
}

impl std::fmt::Debug for LoginLinkOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            LoginLinkOutcome::Created { .. } => "LoginLinkOutcome::Created(<redacted>)",
            LoginLinkOutcome::NoSuchUser => "LoginLinkOutcome::NoSuchUser",
            LoginLinkOutcome::RateLimited => "LoginLinkOutcome::RateLimited",
        })
    }
}

/// Session lifetimes. The idle timeout is the clinic's own (`ClinicProfile::
/// session_idle_minutes`: 30 minutes unless it sets up to 12 hours), read when the session
/// opens; the absolute lifetime is the server's (12 hours).
#[derive(Debug, Clone, Copy)]
pub struct SessionPolicy {
    pub absolute: jiff::SignedDuration,
}

impl SessionPolicy {
    pub const MAX_IDLE: jiff::SignedDuration = jiff::SignedDuration::from_hours(12);
}

impl Default for SessionPolicy {
    fn default() -> Self {
        Self {
            absolute: jiff::SignedDuration::from_hours(12),
        }
    }
}

/// A session just opened: its secret goes into the cookie once and is stored only hashed.
pub struct NewSession {
    pub token: Zeroizing<String>,
    pub user: UserId,
    pub expires_at: Timestamp,
}

impl std::fmt::Debug for NewSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "NewSession({}, <token redacted>)", self.user)
    }
}

/// The staff member behind a valid session, with their clinic's scope.
#[derive(Clone, PartialEq, Eq)]
pub struct StaffSession {
    pub scope: crate::TenantScope,
    pub user: UserId,
    pub role: Role,
    pub name: String,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    /// The user has TOTP set up.
    pub mfa_enrolled: bool,
    /// This session has passed the second factor.
    pub mfa_passed: bool,
    /// The practitioner whose diary is this staff member's (what "assigned to them" means
    /// for appointments).
    pub practitioner: Option<PractitionerId>,
}

impl StaffSession {
    /// Whether this session may see clinic data: roles that require a second factor, and
    /// users who set one up, must have passed it in this session.
    pub fn mfa_satisfied(&self) -> bool {
        self.mfa_passed || !(self.mfa_enrolled || self.role.requires_mfa())
    }
}

impl std::fmt::Debug for StaffSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "StaffSession({}, {:?}, <redacted>)",
            self.user, self.role
        )
    }
}

/// A staff member as the users page lists them.
#[derive(Clone, PartialEq, Eq)]
pub struct StaffMember {
    pub id: UserId,
    pub email: Email,
    pub name: String,
    pub role: Role,
    pub active: bool,
    pub mfa_enrolled: bool,
    /// The practitioner whose diary is theirs, if linked.
    pub practitioner: Option<PractitionerId>,
    pub created_at: Timestamp,
}

impl std::fmt::Debug for StaffMember {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "StaffMember({}, {:?}, <redacted>)", self.id, self.role)
    }
}

/// What can be assigned to a staff member whose role reaches only what is assigned to them.
/// A conversation is assigned explicitly; its patient and its call recordings come with it.
/// A staff member linked to a practitioner also has that practitioner's appointments and
/// the patients booked with them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Assignable {
    Conversation(ConversationId),
    Patient(PatientId),
    Appointment(AppointmentId),
    Recording(RecordingId),
}

/// A reply a staff member suggested for someone else to send (a Read-Only Doctor's draft).
#[derive(Clone, PartialEq, Eq)]
pub struct Draft {
    pub id: DraftId,
    pub conversation: ConversationId,
    pub author: UserId,
    pub author_name: String,
    pub text: String,
    pub created_at: Timestamp,
}

impl std::fmt::Debug for Draft {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Draft({}, <redacted>)", self.id)
    }
}

/// Sending a draft that was already sent or discarded.
pub const DRAFT_DECIDED: &str = "this draft was already sent or discarded";
/// Sending one's own draft: drafts are for someone else to send.
pub const OWN_DRAFT: &str = "a draft is sent by someone other than its author";

/// How many of a patient's rows an erasure deleted (what the ledger and the audit keep).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErasureCounts {
    pub conversations: u64,
    pub messages: u64,
    pub appointments: u64,
    pub calls: u64,
    pub recordings: u64,
    pub consents: u64,
}

/// What erasing one patient did. `recording_blobs` are the blob-storage keys of their call
/// recordings: sealed with the destroyed key, so unreadable already, and for the caller to
/// delete from blob storage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Erasure {
    pub patient: PatientId,
    pub erased_at: Timestamp,
    pub counts: ErasureCounts,
    pub recording_blobs: Vec<String>,
}

/// One row of the erasure ledger: ids, time, actor and counts only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErasureEntry {
    pub patient: PatientId,
    pub erased_at: Timestamp,
    pub actor_kind: String,
    pub actor_id: Option<String>,
    pub counts: ErasureCounts,
}

/// What one audit retention batch removed: entries from the start of the chain up to
/// `through_seq`; `more`: another batch may be due.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AuditPurge {
    pub entries: u64,
    pub through_seq: i64,
    pub more: bool,
}

/// What one retention purge batch of conversations removed; `more`: another batch may be due.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PurgeBatch {
    pub conversations: u64,
    pub messages: u64,
    /// Language model usage rows (kept `conversation_days`, and at least to their month's end).
    pub llm_usage: u64,
    pub more: bool,
}

/// Where a clinic's data key rotation stands (see [`crate::KeyRotationStore`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantKeyStatus {
    /// The live data key versions, newest first (one when no rotation is under way).
    pub versions: Vec<i32>,
    /// The version that seals new data now.
    pub sealing: i32,
    /// Patient keys still wrapped by an older version.
    pub patient_keys_left: u64,
    /// Patient keys wrapped by the newest version.
    pub patient_keys_done: u64,
    /// When re-encryption may start (every process seals with the newest version by then).
    pub reencrypt_from: Option<jiff::Timestamp>,
}

/// What one re-encryption batch did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReencryptBatch {
    /// Ciphertexts moved to the newest version in this batch.
    pub reencrypted: u64,
    /// Patient keys still under an older version afterwards.
    pub left: u64,
    /// Old versions destroyed by this batch (the rotation is then complete).
    pub destroyed: Vec<i32>,
    /// Too early to start (see [`crate::REENCRYPT_AFTER`]): try again from then.
    pub wait_until: Option<jiff::Timestamp>,
}

/// What one staff member (or other actor) touched of one patient in a time window, from the
/// audit log (an access report). `patient` is `None` when the target no longer exists (erased
/// or purged): the record then stands for that one target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessRecord {
    pub patient: Option<PatientId>,
    /// The first target seen for this patient (`conversation`, `patient`, ...) and its id.
    pub target_kind: String,
    pub target_id: String,
    /// The distinct actions, in the order first seen (`patient.viewed`, ...).
    pub actions: Vec<String>,
    pub entries: u64,
    pub first: Timestamp,
    pub last: Timestamp,
}

/// A clinic's API key as staff and operators see it: never its secret, which exists only in
/// the [`IssuedApiKey`] handed out once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyInfo {
    pub id: ApiKeyId,
    /// The public part, `fdk_` and 12 characters: names the key in lists, logs and the audit
    /// log (the secret after it never does).
    pub prefix: String,
    pub name: String,
    pub scopes: ApiScopes,
    pub rate_per_minute: u32,
    pub created_at: Timestamp,
    /// Who made it (`staff:<id>`, `operator`).
    pub created_by: String,
    /// The end of its overlap after a rotation.
    pub expires_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
    /// The key that replaced it in a rotation.
    pub replaced_by: Option<ApiKeyId>,
    /// The last call made with it (written with its rate window, on every call).
    pub last_used_at: Option<Timestamp>,
}

/// Where a key stands at a moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiKeyState {
    Active,
    /// Rotated: still accepted until the time given, so integrations can be updated.
    Overlap(Timestamp),
    Expired,
    Revoked,
}

impl ApiKeyInfo {
    pub fn state(&self, now: Timestamp) -> ApiKeyState {
        match (self.revoked_at, self.expires_at) {
            (Some(_), _) => ApiKeyState::Revoked,
            (None, Some(t)) if now >= t => ApiKeyState::Expired,
            (None, Some(t)) => ApiKeyState::Overlap(t),
            (None, None) => ApiKeyState::Active,
        }
    }
}

/// A key to make.
#[derive(Debug, Clone)]
pub struct NewApiKey {
    /// What it is for ("Practice management sync"); shown in lists. Not a secret, not PII.
    pub name: String,
    pub scopes: ApiScopes,
    /// Requests a minute before 429 (shared by every instance); 1..=6000.
    pub rate_per_minute: u32,
}

/// A key just made or rotated: the only moment its secret exists outside the caller.
pub struct IssuedApiKey {
    pub info: ApiKeyInfo,
    /// `fdk_<prefix>_<secret>`: show once, then drop.
    pub key: Zeroizing<String>,
}

impl std::fmt::Debug for IssuedApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedApiKey")
            .field("prefix", &self.info.prefix)
            .finish_non_exhaustive()
    }
}

/// A message sent through the REST API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiSent {
    pub message: MessageId,
    /// The same idempotency key was used before: this is the message sent then.
    pub replayed: bool,
}

/// An idempotency key used again for another request.
pub const IDEMPOTENCY_KEY_REUSED: &str =
    "this Idempotency-Key was already used for a different request";

/// An API call's verified key: the clinic it acts for and what it may do.
#[derive(Debug, Clone)]
pub struct ApiPrincipal {
    /// The key's clinic: every call it makes is scoped to it.
    pub scope: crate::TenantScope,
    pub key: ApiKeyId,
    pub prefix: String,
    pub scopes: ApiScopes,
}

/// The answer to an API call's key.
#[derive(Debug, Clone)]
pub enum ApiKeyCheck {
    Allowed(ApiPrincipal),
    /// Valid, but over its rate: try again after this many seconds.
    RateLimited {
        retry_after_secs: u64,
    },
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The bytes of lower- or upper-case hex; `None` if it is not hex.
pub fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// A signed audit checkpoint: the clinic's chain head (`seq`, and that entry's `hash`) at
/// `at`, with a MAC only this installation's keys can make (see `crate::sql::checkpoints`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditCheckpoint {
    pub tenant: TenantId,
    pub seq: i64,
    pub hash: Vec<u8>,
    pub at: Timestamp,
    pub mac: Vec<u8>,
}

/// The checkpoint document's format name.
pub const CHECKPOINT_FORMAT: &str = "frontdesk.audit-checkpoint.v1";

impl AuditCheckpoint {
    /// The checkpoint as a JSON document to keep outside the installation.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "format": CHECKPOINT_FORMAT,
            "tenant": self.tenant.to_string(),
            "seq": self.seq,
            "hash": hex(&self.hash),
            "at": self.at.to_string(),
            "mac": hex(&self.mac),
        })
    }

    /// Reads a document written by [`to_json`](Self::to_json); `None` if it is not one.
    pub fn from_json(v: &serde_json::Value) -> Option<Self> {
        if v["format"].as_str()? != CHECKPOINT_FORMAT {
            return None;
        }
        Some(Self {
            tenant: TenantId::parse(v["tenant"].as_str()?).ok()?,
            seq: v["seq"].as_i64()?,
            hash: unhex(v["hash"].as_str()?)?,
            at: v["at"].as_str()?.parse().ok()?,
            mac: unhex(v["mac"].as_str()?)?,
        })
    }
}

/// What checking a checkpoint against the clinic's chain found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckpointCheck {
    /// The chain still holds that entry with that hash.
    Holds,
    /// The MAC is wrong: not made by this installation, or altered.
    BadSignature,
    /// Another clinic's checkpoint.
    OtherClinic,
    /// The chain no longer has that entry: truncated (or the entry deleted).
    Missing,
    /// The entry is there with another hash: the chain was rewritten from there on.
    Rewritten,
    /// The entry was removed by audit retention (it is at or below the chain's floor, which
    /// an `audit.purged` entry records): it can no longer be checked, which is expected.
    Retired,
}

/// Queue depths and the connection pool, for the operator's gauges (see
/// [`Health::queue_stats`](crate::Health::queue_stats)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct QueueStats {
    /// Jobs (agent turns, reminders, recordings …) due now and not yet taken.
    pub jobs_due: u64,
    /// When the oldest of them became due.
    pub jobs_oldest_due: Option<Timestamp>,
    /// Outbound messages due now and not yet sent.
    pub outbox_due: u64,
    pub outbox_oldest_due: Option<Timestamp>,
    /// Outbound messages given up on (dead letters), in all.
    pub outbox_dead: u64,
    /// Connections open in this instance's pool, and how many of them are idle.
    pub pool_size: u32,
    pub pool_idle: u32,
    /// The pool's maximum.
    pub pool_max: u32,
}
