//! Outbound HTTP plumbing shared by the provider clients: a reqwest client on rustls with the
//! ring crypto provider (no aws-lc), and the mapping of transport failures, HTTP statuses and
//! `Retry-After` to [`SendError`].
//!
//! reqwest is built with `rustls-no-provider`: it panics when a client is built before a
//! rustls crypto provider is installed. [`build_http_client`] installs ring first; any other
//! code building a `reqwest::Client` (tests, other integrations) must call
//! [`install_crypto_provider`] once beforehand.

use super::SendError;
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, RETRY_AFTER};
use std::time::Duration;

/// Per-request timeout for provider APIs. Twilio itself waits 15 s for our webhook answers,
/// so a send inside a webhook must stay well below that.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// A `Retry-After` longer than this is clamped: a day-long pause is an operator's decision.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// Installs ring as the process-wide rustls crypto provider, unless one is installed already
/// (then that one is kept). Idempotent and cheap; call before building any `reqwest::Client`.
pub fn install_crypto_provider() {
    // `Err` only means a provider is already installed, which is what we want.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A client for provider APIs: rustls + ring, the given whole-request timeout, and no
/// redirects (provider APIs do not redirect; following one would resend credentials).
pub fn build_http_client(timeout: Duration) -> Result<reqwest::Client, reqwest::Error> {
    install_crypto_provider();
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(5)))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("frontdesk/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// Sends `req` and reads the whole answer: its status, body and `Retry-After`. A failure to
/// send or to read is a [`transport_error`]; the status is the caller's to judge.
pub(crate) async fn exchange(
    req: reqwest::RequestBuilder,
) -> Result<(StatusCode, axum::body::Bytes, Option<Duration>), SendError> {
    let resp = req.send().await.map_err(|e| transport_error(&e))?;
    let status = resp.status();
    let wait = retry_after(resp.headers());
    let bytes = resp.bytes().await.map_err(|e| transport_error(&e))?;
    Ok((status, bytes, wait))
}

/// An `Authorization: Bearer …` value marked sensitive (kept out of debug output); a token
/// that cannot be a header value is a permanent `code`.
pub(crate) fn bearer(token: &str, code: &str) -> Result<reqwest::header::HeaderValue, SendError> {
    let mut v = reqwest::header::HeaderValue::from_str(&format!("Bearer {token}"))
        .map_err(|_| SendError::Permanent { code: code.into() })?;
    v.set_sensitive(true);
    Ok(v)
}

/// Maps a transport-level failure (no HTTP status) to a send error. Timeouts and connection
/// failures are retryable; the outbox decides how often. A timeout after the request left
/// may mean the provider did send it: retrying can duplicate, which we accept over losing it.
pub(crate) fn transport_error(e: &reqwest::Error) -> SendError {
    let code = if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connect"
    } else if e.is_builder() {
        return SendError::Permanent {
            code: "request_build".into(),
        };
    } else {
        "transport"
    };
    SendError::Retryable {
        code: code.into(),
        retry_after: None,
    }
}

/// The fallback classification by HTTP status alone: 408, 429 and 5xx are retryable, any
/// other failure status is permanent. Code: `http_<status>`.
pub(crate) fn status_error(status: StatusCode, retry_after: Option<Duration>) -> SendError {
    classify_status(status, format!("http_{}", status.as_u16()), retry_after)
}

/// Like [`status_error`] but with a provider-specific code.
pub(crate) fn classify_status(
    status: StatusCode,
    code: String,
    retry_after: Option<Duration>,
) -> SendError {
    if status == StatusCode::TOO_MANY_REQUESTS
        || status == StatusCode::REQUEST_TIMEOUT
        || status.is_server_error()
    {
        SendError::Retryable { code, retry_after }
    } else {
        SendError::Permanent { code }
    }
}

/// `Retry-After` as delay-seconds or an HTTP-date (RFC 9110 §10.2.3), clamped to an hour;
/// a date in the past means "now".
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let v = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    let d = if let Ok(secs) = v.parse::<u64>() {
        Duration::from_secs(secs)
    } else {
        let at = jiff::fmt::rfc2822::parse(v).ok()?.timestamp();
        let secs = at
            .as_second()
            .saturating_sub(jiff::Timestamp::now().as_second());
        Duration::from_secs(u64::try_from(secs).unwrap_or(0))
    };
    Some(d.min(MAX_RETRY_AFTER))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_str(v).unwrap());
        h
    }

    #[test]
    fn retry_after_accepts_seconds_and_http_dates() {
        assert_eq!(retry_after(&headers("7")), Some(Duration::from_secs(7)));
        assert_eq!(retry_after(&headers(" 0 ")), Some(Duration::ZERO));
        assert_eq!(
            retry_after(&headers("Wed, 21 Oct 2015 07:28:00 GMT")),
            Some(Duration::ZERO),
            "a past date means retry now"
        );
        let future = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(120);
        let date = jiff::fmt::rfc2822::DateTimePrinter::new()
            .timestamp_to_rfc9110_string(&future)
            .unwrap();
        let got = retry_after(&headers(&date)).unwrap();
        assert!(got > Duration::from_secs(100) && got <= Duration::from_secs(120));
        assert_eq!(retry_after(&headers("soon")), None);
        assert_eq!(retry_after(&HeaderMap::new()), None);
        assert_eq!(
            retry_after(&headers("999999")),
            Some(MAX_RETRY_AFTER),
            "clamped"
        );
    }

    #[test]
    fn statuses_classify_as_retryable_or_permanent() {
        let r = status_error(StatusCode::SERVICE_UNAVAILABLE, None);
        assert_eq!(r.code(), "http_503");
        assert!(r.is_retryable());
        assert!(status_error(StatusCode::TOO_MANY_REQUESTS, None).is_retryable());
        assert!(status_error(StatusCode::REQUEST_TIMEOUT, None).is_retryable());
        let p = status_error(StatusCode::BAD_REQUEST, Some(Duration::from_secs(1)));
        assert_eq!(
            p,
            SendError::Permanent {
                code: "http_400".into()
            }
        );
        assert!(!status_error(StatusCode::UNAUTHORIZED, None).is_retryable());
        assert!(!status_error(StatusCode::MOVED_PERMANENTLY, None).is_retryable());
    }

    #[test]
    fn a_client_builds_with_the_ring_provider() {
        build_http_client(DEFAULT_TIMEOUT).unwrap();
        assert!(rustls::crypto::CryptoProvider::get_default().is_some());
    }
}
