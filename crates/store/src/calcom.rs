//! Cal.com as a clinic's calendar (#11 item 3).
//!
//! A clinic may make Cal.com (API v2) the source of truth for its free times and bookings.
//! The settings hold the API base URL, the API key and the webhook signing secret; both
//! secrets are sealed with the clinic's data key and **write-only**: [`CalcomSettings`] (what
//! the CLI reads) only says whether each is set; only [`CalcomRuntime`] carries them opened
//! and neither shows them in `Debug`. Each (practitioner, service) pair the clinic books
//! through Cal.com is mapped to a Cal.com event type.
//!
//! Every booking made on Cal.com is mirrored into `appointments` with its Cal.com uid (unique
//! per clinic), so reminders, the diary, FHIR and calendar feeds keep working. A booking made
//! directly on Cal.com for someone frontdesk does not know (no `frontdesk_*` metadata) is kept
//! as a busy time of the practitioner (a `schedule_exceptions` row holding the uid, reason
//! `Cal.com booking`): the time shows as taken and no patient is invented.

use frontdesk_domain::{AppointmentId, PatientId, PractitionerId, ServiceId, TenantId};
use jiff::Timestamp;
use zeroize::Zeroizing;

/// Cal.com's public API.
pub const CALCOM_DEFAULT_BASE_URL: &str = "https://api.cal.com";
/// The longest base URL, API key or webhook secret accepted.
pub const CALCOM_MAX_URL_LEN: usize = 2048;
pub const CALCOM_MAX_SECRET_LEN: usize = 512;
/// The longest Cal.com booking uid accepted from Cal.com.
pub const CALCOM_MAX_UID_LEN: usize = 200;
/// The reason of the busy time that stands for an outside Cal.com booking.
pub const CALCOM_BUSY_REASON: &str = "Cal.com booking";

/// What happens to a stored secret when settings are written (the same choice as for a
/// language model's key).
pub use crate::llm::LlmKeyChange as CalcomSecretChange;

/// A clinic's Cal.com settings as the CLI reads them: never a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalcomSettings {
    pub enabled: bool,
    pub base_url: String,
    /// When the API key was set; `None`: no key.
    pub api_key_set_at: Option<Timestamp>,
    /// When the webhook secret was set; `None`: no secret (every webhook is refused).
    pub webhook_secret_set_at: Option<Timestamp>,
    pub event_types: Vec<CalcomEventType>,
    pub updated_at: Timestamp,
    pub updated_by: String,
}

/// Which Cal.com event type books `practitioner` for `service`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CalcomEventType {
    pub practitioner: PractitionerId,
    pub service: ServiceId,
    pub event_type_id: i64,
}

/// What the diary and the webhook read: the settings with the secrets opened.
pub struct CalcomRuntime {
    pub enabled: bool,
    pub base_url: String,
    pub api_key: Option<Zeroizing<String>>,
    pub webhook_secret: Option<Zeroizing<String>>,
    pub event_types: Vec<CalcomEventType>,
}

impl std::fmt::Debug for CalcomRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CalcomRuntime")
            .field("enabled", &self.enabled)
            .field("base_url", &self.base_url)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field(
                "webhook_secret",
                &self.webhook_secret.as_ref().map(|_| "<redacted>"),
            )
            .field("event_types", &self.event_types)
            .finish()
    }
}

impl CalcomRuntime {
    /// The event type that books `practitioner` for `service`, if mapped.
    pub fn event_type(&self, practitioner: PractitionerId, service: ServiceId) -> Option<i64> {
        self.event_types
            .iter()
            .find(|e| e.practitioner == practitioner && e.service == service)
            .map(|e| e.event_type_id)
    }
}

/// A booking Cal.com accepted, to mirror as an appointment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalcomBooking {
    pub uid: String,
    pub start: Timestamp,
    pub end: Timestamp,
}

/// Our own ids, sent to Cal.com in a booking's metadata and read back from its webhooks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalcomRequest {
    /// The booking's idempotency key (one per request: a retry books once).
    pub key: String,
    pub patient: PatientId,
    pub practitioner: PractitionerId,
    pub service: ServiceId,
}

/// What a verified Cal.com webhook says happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CalcomChange {
    Created,
    /// `from_uid`: the booking it replaces (Cal.com gives the new booking a new uid).
    Rescheduled {
        from_uid: String,
    },
    Cancelled,
}

/// One Cal.com booking event to reflect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalcomEvent {
    pub change: CalcomChange,
    pub uid: String,
    pub event_type_id: Option<i64>,
    pub start: Timestamp,
    pub end: Timestamp,
    /// Our ids, when frontdesk made the booking.
    pub request: Option<CalcomRequest>,
}

/// What reflecting an event did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CalcomReflected {
    /// An appointment was booked, moved or cancelled.
    Appointment(AppointmentId),
    /// A busy time for an outside booking was added, moved or removed.
    Busy,
    /// Already reflected (a redelivery): nothing changed.
    Unchanged,
    /// Nothing frontdesk knows (an unmapped event type, an unknown booking): nothing changed.
    Ignored,
}

/// A clinic's Cal.com webhook secret, found by the clinic's public slug for an incoming
/// webhook. The request is the clinic's only once its signature checks with this secret.
pub struct CalcomWebhookKey {
    tenant: TenantId,
    pub secret: Zeroizing<String>,
}

impl std::fmt::Debug for CalcomWebhookKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CalcomWebhookKey").finish_non_exhaustive()
    }
}

impl CalcomWebhookKey {
    pub(crate) fn new(tenant: TenantId, secret: Zeroizing<String>) -> Self {
        Self { tenant, secret }
    }
    /// The clinic's scope. Call this only after the webhook's signature checked with
    /// [`Self::secret`]: that check is what makes the request the clinic's.
    pub fn verified_scope(&self) -> crate::TenantScope {
        crate::TenantScope::new(self.tenant)
    }
}
