//! Signed outbound webhooks (issue #10, parts 3 and 4): clinics subscribe an HTTPS endpoint
//! of theirs to events (appointments created / changed / cancelled, conversations escalated
//! or handed off, messages received, data requests completed, and a test `ping`), and
//! frontdesk posts each event to it, signed.
//!
//! - [`event`]: the event types and the JSON envelope (ids, times and statuses only: never
//!   message text or phone numbers).
//! - [`sign`](mod@sign): the `Frontdesk-Signature: t=…,v1=…` header (HMAC-SHA256 over
//!   `"{t}.{body}"`, two secrets during a rotation), its verification, and the `whsec_…`
//!   secrets.
//! - [`ranges`], [`ssrf`], [`resolver`]: a clinic chooses the URL, so the server refuses to
//!   call loopback, private, link-local, metadata and other special addresses (unless the
//!   deployment allowlists them), checks again after DNS resolution, at connect time (so DNS
//!   rebinding fails) and on every redirect.
//! - [`deliver`](mod@deliver): one attempt (sign, post, follow up to three redirects by
//!   hand, classify as delivered / retryable / permanent); [`backoff`]: when to try again.
//!
//! - [`worker`]: claims due deliveries from the store (`WebhookStore`), sends each with the
//!   stored body and the endpoint's secrets, and records delivered / retry / dead.
//!
//! Not yet: the store's operations queueing events, the worker running in `serve`, and the
//! dashboard's endpoints page with its delivery log and "send test event" button. The signing secret must be stored encrypted (it is needed to sign),
//! not hashed like API keys.

pub mod backoff;
pub mod deliver;
pub mod event;
pub mod ranges;
pub mod resolver;
pub mod sign;
pub mod ssrf;
pub mod worker;

pub use backoff::{next_attempt_in, retry_delay};
pub use deliver::{Destination, Failure, Outcome, WebhookClient, deliver};
pub use event::{Envelope, EventData, EventId, EventType};
pub use ranges::{Allowlist, Cidr, Refusal};
pub use sign::{SIGNATURE_HEADER, VerifyError, WebhookSecret, sign, verify};
pub use ssrf::{SsrfError, SsrfPolicy};
