//! One delivery attempt of one event to one destination, and the retry schedule.
//!
//! [`deliver`] signs the stored body with the destination's secret(s), posts it, follows up
//! to [`MAX_REDIRECTS`] redirects by hand (each `Location` validated again by the SSRF rules;
//! the client never follows one itself) and classifies what happened as an [`Outcome`]:
//! delivered, worth retrying (5xx, 429, 408, timeouts, connection and DNS failures), or
//! permanent (any other answer, a refused destination, too many redirects). Storage, the
//! worker that schedules attempts (with `backoff::next_attempt_in`), and the dashboard's
//! delivery log are the callers' business.
//!
//! Every connection resolves through [`GuardedResolver`], so the addresses connected to are
//! the ones checked; the client ignores proxy settings from the environment (a proxy would
//! resolve names itself, past the checks). The response body is read up to
//! [`MAX_RESPONSE_BYTES`] and dropped, never logged; logs carry the host, event id and type,
//! status, outcome code and latency, never the URL's path or query (receivers put tokens
//! there), the body or a secret.

use super::event::Envelope;
use super::ranges::Refusal;
use super::resolver::{GuardedResolver, Lookup, ResolveError, SystemLookup};
use super::sign::{SIGNATURE_HEADER, WebhookSecret, sign};
use super::ssrf::{SsrfError, SsrfPolicy, parse_target, validate};
use crate::channels::http::retry_after;
use jiff::Timestamp;
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderValue, LOCATION};
use reqwest::{StatusCode, Url};
use std::error::Error as _;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Whole-request timeout of one HTTP exchange (connect, send, answer headers and body).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Redirects followed before giving up (permanently).
pub const MAX_REDIRECTS: usize = 3;

/// The most of a receiver's answer that is read (then dropped).
pub const MAX_RESPONSE_BYTES: usize = 4 * 1024;

/// Sent as `User-Agent`.
pub const USER_AGENT: &str = concat!("frontdesk-webhooks/", env!("CARGO_PKG_VERSION"));

/// The event's id, the same on every retry (receivers deduplicate on it).
pub const EVENT_ID_HEADER: &str = "Frontdesk-Event-Id";

/// The event's type, e.g. `appointment.created`.
pub const EVENT_TYPE_HEADER: &str = "Frontdesk-Event-Type";

/// A clinic's webhook URL, checked for form (scheme `http`/`https`, a host, no credentials;
/// the fragment dropped). Whether it may be called is decided at each delivery, under the
/// deployment's current [`SsrfPolicy`]. `Debug` shows the scheme, host and port only.
#[derive(Clone, PartialEq, Eq)]
pub struct Destination {
    url: Url,
}

impl Destination {
    /// Longer URLs are refused (browsers and proxies cap near here; a longer one is a
    /// mistake or an attempt to stuff data into our requests).
    pub const MAX_LEN: usize = 2048;

    pub fn parse(s: &str) -> Result<Self, SsrfError> {
        let s = s.trim();
        if s.len() > Self::MAX_LEN {
            return Err(SsrfError::InvalidUrl);
        }
        let mut url = Url::parse(s).map_err(|_| SsrfError::InvalidUrl)?;
        parse_target(&url)?;
        url.set_fragment(None);
        Ok(Self { url })
    }

    /// The whole URL, to store (it may hold a receiver's token: never log it).
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The host, which is all that logs and error messages show.
    pub fn host(&self) -> &str {
        self.url.host_str().unwrap_or("")
    }
}

impl fmt::Debug for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let port = self.url.port_or_known_default().unwrap_or(0);
        write!(
            f,
            "Destination({}://{}:{port}/…)",
            self.url.scheme(),
            self.host()
        )
    }
}

/// The HTTP client for webhooks and the rules it delivers under. Build one per process
/// (connections are pooled) and share it.
#[derive(Debug, Clone)]
pub struct WebhookClient {
    /// Connects to public and allowlisted addresses.
    http: reqwest::Client,
    /// Connects to allowlisted addresses only (see `ssrf::Checked::needs_allowlist`).
    internal: reqwest::Client,
    lookup: Arc<dyn Lookup>,
    policy: Arc<SsrfPolicy>,
}

impl WebhookClient {
    /// The system resolver and [`DEFAULT_TIMEOUT`].
    pub fn new(policy: SsrfPolicy) -> Result<Self, reqwest::Error> {
        Self::with_lookup(policy, Arc::new(SystemLookup), DEFAULT_TIMEOUT)
    }

    /// Any resolver (tests use `StaticLookup`) and timeout.
    pub fn with_lookup(
        policy: SsrfPolicy,
        lookup: Arc<dyn Lookup>,
        timeout: Duration,
    ) -> Result<Self, reqwest::Error> {
        crate::channels::install_crypto_provider();
        let allow = Arc::new(policy.allowlist.clone());
        let build = |resolver: GuardedResolver| {
            reqwest::Client::builder()
                .dns_resolver(resolver)
                .no_proxy()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(timeout)
                .connect_timeout(timeout.min(Duration::from_secs(5)))
                .user_agent(USER_AGENT)
                .build()
        };
        Ok(Self {
            http: build(GuardedResolver::new(lookup.clone(), allow.clone()))?,
            internal: build(GuardedResolver::allowlisted_only(lookup.clone(), allow))?,
            lookup,
            policy: Arc::new(policy),
        })
    }

    /// Whether `dest` may be called now: the checks of a delivery's first hop, without
    /// sending anything. For the dashboard to refuse a URL as it is saved (deliveries check
    /// again, since DNS answers and the allowlist change).
    pub async fn check(&self, dest: &Destination) -> Result<(), SsrfError> {
        validate(&dest.url, &self.policy, self.lookup.as_ref())
            .await
            .map(|_| ())
    }
}

/// Why an attempt did not deliver. [`code`](Self::code) is stable for the delivery log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Failure {
    /// The receiver answered with a failure status (or a redirect that cannot be followed).
    #[error("receiver answered HTTP {status}")]
    Http {
        status: u16,
        retry_after: Option<Duration>,
    },
    #[error("no answer within the timeout")]
    Timeout,
    #[error("could not connect")]
    Connect,
    /// The connection broke mid-exchange.
    #[error("connection failed")]
    Transport,
    /// The destination (or a redirect's) is not permitted, or its name did not resolve.
    #[error(transparent)]
    Destination(SsrfError),
    #[error("too many redirects")]
    TooManyRedirects,
    /// A redirect without a usable `Location`.
    #[error("redirect without a valid location")]
    BadRedirect,
    /// The destination has no signing secret: nothing is sent unsigned.
    #[error("no signing secret")]
    NoSecret,
    #[error("event could not be encoded")]
    Encode,
}

impl Failure {
    /// Stable code: `http_status`, `timeout`, `connect`, `transport`, the [`SsrfError`] code
    /// (`address_refused`, `scheme_not_allowed`, `dns_failed`, …), `too_many_redirects`,
    /// `bad_redirect`, `no_secret` or `encode`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Http { .. } => "http_status",
            Self::Timeout => "timeout",
            Self::Connect => "connect",
            Self::Transport => "transport",
            Self::Destination(e) => e.code(),
            Self::TooManyRedirects => "too_many_redirects",
            Self::BadRedirect => "bad_redirect",
            Self::NoSecret => "no_secret",
            Self::Encode => "encode",
        }
    }

    /// The receiver's status, when it answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Http { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Why an address was refused, when that is the failure.
    pub fn refusal(&self) -> Option<Refusal> {
        match self {
            Self::Destination(SsrfError::Refused { refusal, .. }) => Some(*refusal),
            _ => None,
        }
    }
}

/// What one attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A 2xx answer, with its status.
    Delivered(u16),
    /// May succeed later: schedule another attempt (`backoff::next_attempt_in`).
    Retryable(Failure),
    /// Will not succeed by retrying: the event is dead for this destination.
    Permanent(Failure),
}

impl Outcome {
    /// `delivered`, or the failure's code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Delivered(_) => "delivered",
            Self::Retryable(f) | Self::Permanent(f) => f.code(),
        }
    }

    /// The receiver's final HTTP status, when it answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Delivered(s) => Some(*s),
            Self::Retryable(f) | Self::Permanent(f) => f.status(),
        }
    }
}

/// Sends `envelope` to `dest`, signed at `now` with `secrets` (current first, then one
/// being retired), and classifies the result. Never panics, never logs more than the host.
/// Each request is bounded by the client's timeout and each lookup by 5 s, so an attempt
/// with three redirects can take up to a minute; a worker holding a lease should allow
/// for that (or wrap the call in its own timeout and count it as retryable).
pub async fn deliver(
    client: &WebhookClient,
    dest: &Destination,
    envelope: &Envelope,
    secrets: &[WebhookSecret],
    now: Timestamp,
) -> Outcome {
    let started = Instant::now();
    let outcome = attempt(client, dest, envelope, secrets, now).await;
    let latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let (host, event_id, event_type) = (
        dest.host(),
        envelope.id().to_string(),
        envelope.event_type().as_str(),
    );
    let (code, status) = (outcome.code(), outcome.status());
    match &outcome {
        Outcome::Delivered(_) => {
            tracing::info!(
                host,
                event_id,
                event_type,
                status,
                latency_ms,
                "webhook delivered"
            );
        }
        Outcome::Retryable(f) | Outcome::Permanent(f) => tracing::warn!(
            host,
            event_id,
            event_type,
            status,
            code,
            refusal = f.refusal().map(|r| r.code()),
            retryable = matches!(outcome, Outcome::Retryable(_)),
            latency_ms,
            "webhook not delivered"
        ),
    }
    outcome
}

async fn attempt(
    client: &WebhookClient,
    dest: &Destination,
    envelope: &Envelope,
    secrets: &[WebhookSecret],
    now: Timestamp,
) -> Outcome {
    let Ok(body) = envelope.to_body() else {
        return Outcome::Permanent(Failure::Encode);
    };
    let Some(headers) = headers(envelope, &body, secrets, now) else {
        return Outcome::Permanent(Failure::NoSecret);
    };
    let mut url = dest.url.clone();
    for hop in 0..=MAX_REDIRECTS {
        let http = match validate(&url, &client.policy, client.lookup.as_ref()).await {
            Ok(checked) if checked.needs_allowlist => &client.internal,
            Ok(_) => &client.http,
            Err(e) => return destination_outcome(e),
        };
        let sent = http
            .post(url.clone())
            .headers(headers.clone())
            .body(body.clone())
            .send()
            .await;
        let resp = match sent {
            Ok(resp) => resp,
            Err(e) => return transport_outcome(&e),
        };
        let status = resp.status();
        if is_followed_redirect(status) {
            if hop == MAX_REDIRECTS {
                return Outcome::Permanent(Failure::TooManyRedirects);
            }
            match next_location(&url, resp.headers()) {
                Some(next) => url = next,
                None => return Outcome::Permanent(Failure::BadRedirect),
            }
            continue;
        }
        let wait = retry_after(resp.headers());
        drain(resp).await;
        return classify_status(status, wait);
    }
    Outcome::Permanent(Failure::TooManyRedirects)
}

/// The request headers, or `None` without a secret.
fn headers(
    envelope: &Envelope,
    body: &[u8],
    secrets: &[WebhookSecret],
    now: Timestamp,
) -> Option<HeaderMap> {
    let mut signature = HeaderValue::from_str(&sign(body, secrets, now)?).ok()?;
    signature.set_sensitive(true);
    let mut h = HeaderMap::new();
    h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    h.insert(SIGNATURE_HEADER, signature);
    h.insert(
        EVENT_ID_HEADER,
        HeaderValue::from_str(&envelope.id().to_string()).ok()?,
    );
    h.insert(
        EVENT_TYPE_HEADER,
        HeaderValue::from_static(envelope.event_type().as_str()),
    );
    Some(h)
}

/// 301, 302, 303, 307 and 308 are followed, each with the same `POST` and signed body (the
/// signature covers the body, not the URL). 300, 304 and the rest are answers.
fn is_followed_redirect(status: StatusCode) -> bool {
    matches!(status.as_u16(), 301 | 302 | 303 | 307 | 308)
}

/// `Location` resolved against the current URL, without a fragment.
fn next_location(current: &Url, headers: &HeaderMap) -> Option<Url> {
    let location = headers.get(LOCATION)?.to_str().ok()?;
    let mut next = current.join(location).ok()?;
    next.set_fragment(None);
    Some(next)
}

/// Reads at most [`MAX_RESPONSE_BYTES`] of the answer and drops it (a receiver's answer is
/// not ours to keep; reading a little lets small answers finish cleanly).
async fn drain(mut resp: reqwest::Response) {
    let mut read = 0;
    while read < MAX_RESPONSE_BYTES {
        match resp.chunk().await {
            Ok(Some(chunk)) => read += chunk.len(),
            Ok(None) | Err(_) => break,
        }
    }
}

fn classify_status(status: StatusCode, retry_after: Option<Duration>) -> Outcome {
    if status.is_success() {
        return Outcome::Delivered(status.as_u16());
    }
    let failure = Failure::Http {
        status: status.as_u16(),
        retry_after,
    };
    if status.is_server_error()
        || status == StatusCode::TOO_MANY_REQUESTS
        || status == StatusCode::REQUEST_TIMEOUT
    {
        Outcome::Retryable(failure)
    } else {
        Outcome::Permanent(failure)
    }
}

fn destination_outcome(e: SsrfError) -> Outcome {
    if e.is_retryable() {
        Outcome::Retryable(Failure::Destination(e))
    } else {
        Outcome::Permanent(Failure::Destination(e))
    }
}

/// A failure without an answer. A refusal by the [`GuardedResolver`] (the name answered
/// differently at connect time than when checked) is found in the error's source chain and
/// is permanent like any refused destination.
fn transport_outcome(e: &reqwest::Error) -> Outcome {
    if let Some(resolve) = find_resolve_error(e) {
        return destination_outcome(SsrfError::from(resolve.clone()));
    }
    if e.is_timeout() {
        Outcome::Retryable(Failure::Timeout)
    } else if e.is_connect() {
        Outcome::Retryable(Failure::Connect)
    } else {
        Outcome::Retryable(Failure::Transport)
    }
}

fn find_resolve_error(e: &reqwest::Error) -> Option<&ResolveError> {
    let mut source = e.source();
    while let Some(err) = source {
        if let Some(found) = err.downcast_ref::<ResolveError>() {
            return Some(found);
        }
        source = err.source();
    }
    None
}

#[cfg(test)]
#[path = "deliver_tests.rs"]
mod tests;
