//! What a webhook says: the [`EventType`]s a clinic can subscribe to and the JSON
//! [`Envelope`] every delivery carries.
//!
//! ```json
//! {"id":"evt_0193a6d4-…","type":"appointment.created","created_at":"2026-12-06T20:00:00Z",
//!  "tenant":"harbour-physio","data":{"appointment_id":"…","patient_id":"…", …}}
//! ```
//!
//! The data is deliberately minimal: ids, times, statuses and channel names, never message
//! text, names, phone numbers or email addresses. A receiver that needs more fetches it
//! through the authenticated API, where access is checked and audited; a webhook endpoint
//! is one more place a clinic's data could leak from (its logs, a misconfigured URL), so it
//! gets nothing a leak would expose. [`EventData`] is the only way to build the data, so no
//! caller can slip a free-text field in.
//!
//! An event is created once; every retry sends the same body (same `id`, same
//! `created_at`), which is what receivers deduplicate on. Store [`Envelope::to_body`] (or
//! the envelope) with the delivery job, never rebuild it per attempt.

use frontdesk_domain::{
    AppointmentId, ConversationId, MessageId, PatientId, PractitionerId, ServiceId, TenantSlug,
};
use frontdesk_store::{Appointment, AppointmentStatus, Channel};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::fmt;
use uuid::Uuid;

/// The kinds of event, with their wire names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EventType {
    #[serde(rename = "appointment.created")]
    AppointmentCreated,
    /// Moved (new time, practitioner or service) or its status changed other than cancelled.
    #[serde(rename = "appointment.changed")]
    AppointmentChanged,
    #[serde(rename = "appointment.cancelled")]
    AppointmentCancelled,
    /// Triage raised the conversation's urgency (a red flag) and staff were alerted.
    #[serde(rename = "conversation.escalated")]
    ConversationEscalated,
    /// The receptionist handed the conversation to staff (or staff took it over).
    #[serde(rename = "conversation.handed_off")]
    ConversationHandedOff,
    /// A patient's message arrived (the text is not in the event).
    #[serde(rename = "message.received")]
    MessageReceived,
    /// A patient's copy was produced or their data erased.
    #[serde(rename = "data_request.completed")]
    DataRequestCompleted,
    /// The dashboard's "send test event".
    #[serde(rename = "ping")]
    Ping,
}

impl EventType {
    /// Every type, for subscription forms and validation.
    pub const ALL: [Self; 8] = [
        Self::AppointmentCreated,
        Self::AppointmentChanged,
        Self::AppointmentCancelled,
        Self::ConversationEscalated,
        Self::ConversationHandedOff,
        Self::MessageReceived,
        Self::DataRequestCompleted,
        Self::Ping,
    ];

    /// The wire name, e.g. `appointment.created`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AppointmentCreated => "appointment.created",
            Self::AppointmentChanged => "appointment.changed",
            Self::AppointmentCancelled => "appointment.cancelled",
            Self::ConversationEscalated => "conversation.escalated",
            Self::ConversationHandedOff => "conversation.handed_off",
            Self::MessageReceived => "message.received",
            Self::DataRequestCompleted => "data_request.completed",
            Self::Ping => "ping",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An event's id, `evt_<uuid v7>`: the same on every retry, for receivers to deduplicate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EventId(Uuid);

impl EventId {
    pub fn new() -> Self {
        Self(Uuid::now_v7())
    }

    /// Parses `evt_` + a hyphenated UUID.
    pub fn parse(s: &str) -> Option<Self> {
        let id = s.strip_prefix("evt_")?;
        // `try_parse` also takes braced and URN forms; only the hyphenated one is ours.
        (id.len() == 36).then_some(())?;
        Uuid::try_parse(id).ok().map(Self)
    }

    pub fn as_uuid(&self) -> Uuid {
        self.0
    }
}

impl Default for EventId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "evt_{}", self.0.hyphenated())
    }
}

impl TryFrom<String> for EventId {
    type Error = &'static str;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s).ok_or("not an event id")
    }
}

impl From<EventId> for String {
    fn from(id: EventId) -> Self {
        id.to_string()
    }
}

/// An appointment as events show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AppointmentData {
    pub appointment_id: AppointmentId,
    pub patient_id: PatientId,
    pub practitioner_id: PractitionerId,
    pub service_id: ServiceId,
    pub starts_at: Timestamp,
    pub ends_at: Timestamp,
    pub status: AppointmentStatus,
}

impl From<&Appointment> for AppointmentData {
    fn from(a: &Appointment) -> Self {
        Self {
            appointment_id: a.id,
            patient_id: a.patient_id,
            practitioner_id: a.practitioner_id,
            service_id: a.service_id,
            starts_at: a.starts_at,
            ends_at: a.ends_at,
            status: a.status,
        }
    }
}

/// A conversation that was escalated or handed to staff, and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConversationData {
    pub conversation_id: ConversationId,
    pub patient_id: PatientId,
    pub channel: Channel,
    pub at: Timestamp,
}

/// A patient's message (its id, never its text).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MessageData {
    pub message_id: MessageId,
    pub conversation_id: ConversationId,
    pub patient_id: PatientId,
    pub channel: Channel,
    pub received_at: Timestamp,
}

/// Which data subject request was completed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DataRequestKind {
    /// A copy of the patient's data was produced.
    Export,
    /// The patient's data was erased (the id no longer opens anything).
    Erasure,
}

/// A completed data subject request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DataRequestData {
    pub patient_id: PatientId,
    pub kind: DataRequestKind,
    pub completed_at: Timestamp,
}

/// An event's type and data together, so they cannot disagree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventData {
    AppointmentCreated(AppointmentData),
    AppointmentChanged(AppointmentData),
    AppointmentCancelled(AppointmentData),
    ConversationEscalated(ConversationData),
    ConversationHandedOff(ConversationData),
    MessageReceived(MessageData),
    DataRequestCompleted(DataRequestData),
    /// The test event: `data` is `{"test": true}`.
    Ping,
}

impl EventData {
    pub fn event_type(&self) -> EventType {
        match self {
            Self::AppointmentCreated(_) => EventType::AppointmentCreated,
            Self::AppointmentChanged(_) => EventType::AppointmentChanged,
            Self::AppointmentCancelled(_) => EventType::AppointmentCancelled,
            Self::ConversationEscalated(_) => EventType::ConversationEscalated,
            Self::ConversationHandedOff(_) => EventType::ConversationHandedOff,
            Self::MessageReceived(_) => EventType::MessageReceived,
            Self::DataRequestCompleted(_) => EventType::DataRequestCompleted,
            Self::Ping => EventType::Ping,
        }
    }

    fn to_value(&self) -> Result<Value, serde_json::Error> {
        match self {
            Self::AppointmentCreated(d)
            | Self::AppointmentChanged(d)
            | Self::AppointmentCancelled(d) => serde_json::to_value(d),
            Self::ConversationEscalated(d) | Self::ConversationHandedOff(d) => {
                serde_json::to_value(d)
            }
            Self::MessageReceived(d) => serde_json::to_value(d),
            Self::DataRequestCompleted(d) => serde_json::to_value(d),
            Self::Ping => Ok(json!({ "test": true })),
        }
    }
}

/// What every delivery of one event carries, as JSON. Built once by [`Envelope::new`];
/// read back from storage by [`Envelope::from_body`] for retries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    id: EventId,
    #[serde(rename = "type")]
    event_type: EventType,
    /// When the event happened (RFC 3339, UTC), not when it was sent.
    created_at: Timestamp,
    /// The clinic's slug (receivers serving several clinics route on it).
    tenant: TenantSlug,
    data: Value,
}

impl Envelope {
    /// A new event with a fresh id, happening at `now`.
    pub fn new(
        tenant: TenantSlug,
        data: EventData,
        now: Timestamp,
    ) -> Result<Self, serde_json::Error> {
        Ok(Self {
            id: EventId::new(),
            event_type: data.event_type(),
            created_at: now,
            tenant,
            data: data.to_value()?,
        })
    }

    pub fn id(&self) -> EventId {
        self.id
    }

    pub fn event_type(&self) -> EventType {
        self.event_type
    }

    pub fn created_at(&self) -> Timestamp {
        self.created_at
    }

    pub fn tenant(&self) -> &TenantSlug {
        &self.tenant
    }

    pub fn data(&self) -> &Value {
        &self.data
    }

    /// The exact bytes sent and signed. Deterministic: the same envelope gives the same
    /// bytes (field order fixed, `data` keys sorted).
    pub fn to_body(&self) -> Result<Vec<u8>, serde_json::Error> {
        serde_json::to_vec(self)
    }

    /// An envelope stored earlier with [`to_body`](Self::to_body).
    pub fn from_body(body: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(body)
    }
}

#[cfg(test)]
#[path = "event_tests.rs"]
mod tests;
