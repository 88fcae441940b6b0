//! Signed outbound webhooks (#10): a clinic's endpoints and the deliveries queued for them.
//!
//! The server signs and sends (`crates/server/src/outbound`); the store keeps what must
//! survive a restart: endpoints (URL and signing secrets sealed with the clinic's data key,
//! the host in clear for display and logs) and one delivery row per event and endpoint, whose
//! body is the exact envelope sent on every attempt. Workers lease due deliveries across
//! clinics and settle each under its lease, like the outbox.
//!
//! Nothing here prints a URL's path or query, a secret or a body in `Debug`.

use frontdesk_domain::{WebhookDeliveryId, WebhookEndpointId};
use jiff::Timestamp;
use zeroize::Zeroizing;

use crate::TenantScope;
use crate::model::str_enum;
use serde::{Deserialize, Serialize};

/// The event types an endpoint may subscribe to (wire names). `ping` is the test event.
pub const WEBHOOK_EVENT_TYPES: &[&str] = &[
    "appointment.created",
    "appointment.changed",
    "appointment.cancelled",
    "conversation.escalated",
    "conversation.handed_off",
    "message.received",
    "data_request.completed",
    "ping",
];

/// Active endpoints a clinic may have at once.
pub const MAX_ACTIVE_WEBHOOK_ENDPOINTS: i64 = 10;
/// The longest URL accepted, in bytes.
pub const MAX_WEBHOOK_URL_LEN: usize = 2048;
/// The longest error code a settle may record.
pub const MAX_WEBHOOK_ERROR_LEN: usize = 64;

/// An endpoint to create. The caller has already checked the URL (scheme, SSRF) and made the
/// secret (`whsec_…`); the store seals both.
pub struct NewWebhookEndpoint {
    pub url: String,
    /// The URL's host, shown in the dashboard and logs instead of the URL.
    pub host: String,
    /// Wire names from [`WEBHOOK_EVENT_TYPES`].
    pub events: Vec<String>,
    pub secret: Zeroizing<String>,
}

impl std::fmt::Debug for NewWebhookEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewWebhookEndpoint")
            .field("host", &self.host)
            .field("events", &self.events)
            .finish_non_exhaustive()
    }
}

/// An endpoint as the dashboard lists it: never a secret.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookEndpoint {
    pub id: WebhookEndpointId,
    /// The whole URL (opened): may carry a token, so it is left out of `Debug`.
    pub url: String,
    pub host: String,
    pub events: Vec<String>,
    pub active: bool,
    pub created_at: Timestamp,
    /// `staff:<id>`, `operator`, … as for API keys.
    pub created_by: String,
    /// While the previous secret (before the last rotation) still signs, the end of that.
    pub previous_until: Option<Timestamp>,
}

impl std::fmt::Debug for WebhookEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookEndpoint")
            .field("id", &self.id)
            .field("host", &self.host)
            .field("events", &self.events)
            .field("active", &self.active)
            .field("created_at", &self.created_at)
            .field("created_by", &self.created_by)
            .field("previous_until", &self.previous_until)
            .finish_non_exhaustive()
    }
}

/// Proof of a claimed delivery, presented to settle it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookLease {
    pub scope: TenantScope,
    pub id: WebhookDeliveryId,
    pub worker: String,
    /// When the lease ends (microseconds, as stored); with `worker`, what makes it this claim.
    pub(crate) until_us: i64,
}

/// A claimed delivery: everything a worker needs to sign and send it.
#[derive(Clone)]
pub struct WebhookJob {
    pub lease: WebhookLease,
    pub endpoint: WebhookEndpointId,
    pub url: String,
    /// The current signing secret.
    pub secret: Zeroizing<String>,
    /// The secret before the last rotation, while its overlap lasts: sign with both.
    pub previous_secret: Option<Zeroizing<String>>,
    /// The exact bytes to send (the same on every attempt).
    pub body: Vec<u8>,
    /// This attempt's number: 1 on the first.
    pub attempt: u32,
    pub event_id: String,
    pub event_type: String,
}

impl std::fmt::Debug for WebhookJob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookJob")
            .field("lease", &self.lease)
            .field("endpoint", &self.endpoint)
            .field("attempt", &self.attempt)
            .field("event_id", &self.event_id)
            .field("event_type", &self.event_type)
            .finish_non_exhaustive()
    }
}

/// How an attempt ended. `error` is a short code (`[a-z0-9_.:-]`, at most
/// [`MAX_WEBHOOK_ERROR_LEN`]), never a URL or a response body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebhookSettle {
    Delivered {
        status: u16,
    },
    Retry {
        at: Timestamp,
        status: Option<u16>,
        error: String,
    },
    Dead {
        status: Option<u16>,
        error: String,
    },
}

str_enum!(
    /// Where a delivery stands.
    WebhookDeliveryStatus { Pending = "pending", Delivered = "delivered", Dead = "dead" }
);

/// A delivery as the dashboard's log shows it (no body).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookDelivery {
    pub id: WebhookDeliveryId,
    pub endpoint_id: WebhookEndpointId,
    pub host: String,
    pub event_id: String,
    pub event_type: String,
    pub status: WebhookDeliveryStatus,
    pub attempts: u32,
    pub last_status: Option<u16>,
    pub last_error: Option<String>,
    pub created_at: Timestamp,
    pub next_attempt_at: Timestamp,
    pub delivered_at: Option<Timestamp>,
}

/// Whether `code` is a short error code safe to store and show.
pub(crate) fn is_error_code(code: &str) -> bool {
    !code.is_empty()
        && code.len() <= MAX_WEBHOOK_ERROR_LEN
        && code
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_.:-".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_are_short_and_plain() {
        assert!(is_error_code("http_500"));
        assert!(is_error_code("timeout"));
        assert!(!is_error_code(""));
        assert!(!is_error_code("https://hook.example/t?token=1"));
        assert!(!is_error_code("Bad Gateway"));
        assert!(!is_error_code(&"x".repeat(MAX_WEBHOOK_ERROR_LEN + 1)));
    }
}
