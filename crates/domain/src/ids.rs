//! Typed ids. Every id is a UUIDv7 (time-ordered, so inserts stay index friendly) wrapped in
//! its own type, so a `PatientId` can never be passed where a `TenantId` is expected.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! typed_id {
    ($($(#[$doc:meta])* $name:ident),* $(,)?) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A fresh, time-ordered id.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }
            /// Wraps an id read back from storage or parsed from a URL.
            pub const fn from_uuid(id: Uuid) -> Self {
                Self(id)
            }
            pub const fn as_uuid(&self) -> Uuid {
                self.0
            }
            /// Parses the canonical hyphenated form; anything else is rejected.
            pub fn parse(s: &str) -> Result<Self, crate::DomainError> {
                Uuid::try_parse(s)
                    .map(Self)
                    .map_err(|_| crate::DomainError::invalid("id", "not a valid id"))
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }
    )*};
}

typed_id!(
    /// A clinic (tenant). Every tenant table keys on it first.
    TenantId,
    /// A staff member of one clinic.
    UserId,
    /// A patient of one clinic (possibly anonymous, e.g. a web chat visitor).
    PatientId,
    PractitionerId,
    ServiceId,
    AppointmentId,
    ConversationId,
    MessageId,
    JobId,
    FaqId,
    WebchatSessionId,
    /// A patient waiting for a time to come free (#5 waitlist).
    WaitlistEntryId,
    /// A freed time held for the waitlist while it is offered.
    SlotHoldId,
    /// A call recording (its audio sealed with the patient's key, in blob storage).
    RecordingId,
    /// A reply a staff member suggested for someone else to send (#7).
    DraftId,
    /// A clinic's key to the public REST API (#10); the key itself is shown once.
    ApiKeyId,
    /// A clinic's destination for signed outbound webhooks (#10).
    WebhookEndpointId,
    /// One event queued for one webhook endpoint.
    WebhookDeliveryId,
    /// A calendar subscription URL for a practitioner or a whole clinic (#11).
    CalendarFeedId,
    /// A request for a deposit or fee for one appointment (#11: Stripe, M-Pesa).
    PaymentId,
    /// One episode of an anomaly alert (#12 item 4).
    SecurityAlertId,
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_v7_and_time_ordered() {
        let a = PatientId::new();
        let b = PatientId::new();
        assert_eq!(a.as_uuid().get_version_num(), 7);
        assert!(a < b);
    }

    #[test]
    fn parse_accepts_canonical_and_rejects_garbage() {
        let id = TenantId::new();
        assert_eq!(TenantId::parse(&id.to_string()), Ok(id));
        assert!(TenantId::parse("not-a-uuid").is_err());
        assert!(TenantId::parse("").is_err());
    }
}
