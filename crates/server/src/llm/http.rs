//! The HTTP exchange shared by the provider clients: one JSON `POST` per attempt under the
//! client's [`RetryPolicy`], a capped answer size, the mapping of transport failures and
//! statuses to [`ModelError`], and one log line per attempt (provider, model, status, code,
//! latency, attempt: never bodies, URLs or keys).

use super::stream::{Progress, SseDecoder, StreamParser};
use super::{ModelError, ModelReply, RetryPolicy};
use crate::channels::build_http_client;
use crate::channels::http::retry_after;
use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderValue};
use serde::de::DeserializeOwned;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Answers larger than this are refused (a chat reply is a few KiB; a compromised or
/// misconfigured self-hosted server must not fill memory).
pub(crate) const MAX_RESPONSE_BYTES: usize = 4 * 1024 * 1024;

/// A failure answer: its status, `Retry-After` and body, for the provider to classify.
pub(crate) struct Failure<'a> {
    pub status: StatusCode,
    pub retry_after: Option<Duration>,
    pub body: &'a [u8],
}

/// Where and how one client posts.
#[derive(Debug, Clone)]
pub(crate) struct Endpoint {
    pub provider: &'static str,
    /// The model asked for, as sent and logged.
    pub model: String,
    /// The full URL of the endpoint, e.g. `https://api.anthropic.com/v1/messages`.
    pub url: String,
    /// Shared by every endpoint built with the same timeout (see [`shared_client`]).
    pub http: Arc<reqwest::Client>,
    pub retry: RetryPolicy,
}

impl Endpoint {
    /// Checks `model` (not blank) and `base_url` (http or https, no credentials, query or
    /// fragment; a trailing `/` or `/v1` is dropped) and appends `path` (`/v1/…`) to it.
    pub fn new(
        provider: &'static str,
        base_url: &str,
        path: &str,
        model: &str,
        timeout: Duration,
    ) -> Result<Self, ModelError> {
        if model.trim().is_empty() {
            return Err(ModelError::Config("model is empty"));
        }
        let url = reqwest::Url::parse(base_url.trim())
            .map_err(|_| ModelError::Config("base_url is not a URL"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(ModelError::Config("base_url must start with https://"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(ModelError::Config("base_url must not carry credentials"));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(ModelError::Config("base_url must not have a query"));
        }
        let base = url.as_str().trim_end_matches('/');
        let base = base.strip_suffix("/v1").unwrap_or(base);
        let http = shared_client(timeout)?;
        Ok(Self {
            provider,
            model: model.trim().to_owned(),
            url: format!("{base}{path}"),
            http,
            retry: RetryPolicy::default(),
        })
    }

    /// Posts `body` with `headers` (retrying per the policy) and parses a success answer as
    /// `T`. `classify` turns a failure answer into the provider's error.
    pub async fn post<T: DeserializeOwned>(
        &self,
        headers: &HeaderMap,
        body: &serde_json::Value,
        classify: fn(&Failure<'_>) -> ModelError,
    ) -> Result<T, ModelError> {
        let body = serde_json::to_vec(body)
            .map_err(|_| ModelError::Config("request could not be encoded"))?;
        let bytes = self
            .retry
            .run(|attempt| self.attempt(headers, body.clone(), classify, attempt))
            .await?;
        serde_json::from_slice(&bytes)
            .map_err(|_| ModelError::MalformedResponse("not the expected JSON"))
    }

    async fn attempt(
        &self,
        headers: &HeaderMap,
        body: Vec<u8>,
        classify: fn(&Failure<'_>) -> ModelError,
        attempt: u32,
    ) -> Result<Vec<u8>, ModelError> {
        self.logged(attempt, self.exchange(headers, body, classify))
            .await
    }

    /// Posts `body` (which asks for a streamed answer) and feeds the server-sent events of
    /// a success answer to a fresh parser `parser` builds for each attempt; `progress`
    /// restarts with each attempt. Retried like [`Endpoint::post`], a failure in the middle of
    /// the stream included.
    pub async fn post_stream<P: StreamParser>(
        &self,
        headers: &HeaderMap,
        body: &serde_json::Value,
        classify: fn(&Failure<'_>) -> ModelError,
        progress: &Progress,
        parser: impl Fn(Progress) -> P,
    ) -> Result<ModelReply, ModelError> {
        let body = serde_json::to_vec(body)
            .map_err(|_| ModelError::Config("request could not be encoded"))?;
        self.retry
            .run(|attempt| {
                progress.restart();
                let exchange =
                    self.stream_exchange(headers, body.clone(), classify, parser(progress.clone()));
                self.logged(attempt, exchange)
            })
            .await
    }

    /// Runs one attempt and logs it: provider, model, status, error code, latency, attempt.
    async fn logged<T>(
        &self,
        attempt: u32,
        exchange: impl Future<Output = Result<(u16, T), ModelError>>,
    ) -> Result<T, ModelError> {
        let started = Instant::now();
        let result = exchange.await;
        let latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let (provider, model) = (self.provider, self.model.as_str());
        match result {
            Ok((status, out)) => {
                tracing::info!(
                    provider,
                    model,
                    status,
                    latency_ms,
                    attempt,
                    "language model answered"
                );
                Ok(out)
            }
            Err(e) => {
                tracing::warn!(
                    provider,
                    model,
                    status = e.status(),
                    code = e.code(),
                    retryable = e.is_retryable(),
                    latency_ms,
                    attempt,
                    "language model call failed"
                );
                Err(e)
            }
        }
    }

    /// Sends the request; a success answer is returned unread, a failure answer classified.
    async fn send(
        &self,
        headers: &HeaderMap,
        body: Vec<u8>,
        classify: fn(&Failure<'_>) -> ModelError,
    ) -> Result<reqwest::Response, ModelError> {
        let resp = self
            .http
            .post(&self.url)
            .headers(headers.clone())
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .body(body)
            .send()
            .await
            .map_err(|e| transport_error(&e))?;
        let status = resp.status();
        if status.is_success() {
            return Ok(resp);
        }
        let wait = retry_after(resp.headers());
        let bytes = read_capped(resp, |_| Ok(())).await?;
        Err(classify(&Failure {
            status,
            retry_after: wait,
            body: &bytes,
        }))
    }

    async fn stream_exchange<P: StreamParser>(
        &self,
        headers: &HeaderMap,
        body: Vec<u8>,
        classify: fn(&Failure<'_>) -> ModelError,
        mut parser: P,
    ) -> Result<(u16, ModelReply), ModelError> {
        tracing::trace!(target: "frontdesk::step", "model.send");
        let resp = self.send(headers, body, classify).await?;
        tracing::trace!(target: "frontdesk::step", "model.headers");
        let status = resp.status().as_u16();
        let mut decoder = SseDecoder::default();
        read_capped(resp, |chunk| {
            for event in decoder.feed(chunk)? {
                parser.event(&event)?;
            }
            Ok(())
        })
        .await?;
        let reply = parser.finish()?;
        tracing::trace!(target: "frontdesk::step", "model.parsed");
        Ok((status, reply))
    }

    async fn exchange(
        &self,
        headers: &HeaderMap,
        body: Vec<u8>,
        classify: fn(&Failure<'_>) -> ModelError,
    ) -> Result<(u16, Vec<u8>), ModelError> {
        let resp = self.send(headers, body, classify).await?;
        let status = resp.status().as_u16();
        Ok((status, read_capped(resp, |_| Ok(())).await?))
    }
}

/// The HTTP client of the model clients built with `timeout`, one per timeout for the
/// process. A clinic's models are rebuilt from its settings whenever they change (see
/// [`super::settings::ModelDirectory`]); with one client each rebuild would build a new TLS
/// configuration (milliseconds) and open a new connection (a TCP and TLS handshake on the
/// next turn, which a phone caller waits for). Shared, the pool keeps the open connection to
/// each model server across rebuilds and clinics: requests carry their own credentials, a
/// connection carries none. (Timeouts are few: the default, and what tests ask for.)
fn shared_client(timeout: Duration) -> Result<Arc<reqwest::Client>, ModelError> {
    static CLIENTS: Mutex<Vec<(Duration, Arc<reqwest::Client>)>> = Mutex::new(Vec::new());
    let mut clients = CLIENTS.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some((_, http)) = clients.iter().find(|(t, _)| *t == timeout) {
        return Ok(http.clone());
    }
    let http = Arc::new(
        build_http_client(timeout)
            .map_err(|_| ModelError::Config("HTTP client could not be built"))?,
    );
    clients.push((timeout, http.clone()));
    Ok(http)
}

/// The whole body, at most [`MAX_RESPONSE_BYTES`], with each chunk shown to `on_chunk` as it
/// arrives.
async fn read_capped(
    mut resp: reqwest::Response,
    mut on_chunk: impl FnMut(&[u8]) -> Result<(), ModelError>,
) -> Result<Vec<u8>, ModelError> {
    let mut bytes = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| transport_error(&e))? {
        if bytes.len() + chunk.len() > MAX_RESPONSE_BYTES {
            return Err(ModelError::MalformedResponse("answer too large"));
        }
        on_chunk(&chunk)?;
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

/// A transport failure (no complete HTTP answer): a timeout, or a connection that could not
/// be made or broke; both retryable.
fn transport_error(e: &reqwest::Error) -> ModelError {
    if e.is_timeout() {
        ModelError::Timeout
    } else if e.is_builder() {
        ModelError::Config("request could not be built")
    } else {
        ModelError::Connection
    }
}

/// The classification by status alone, for what the provider's error body does not settle:
/// 429 rate limited, 408 timeout, 5xx overloaded, 401/403 unauthorized, 402 quota, any other
/// status bad request.
pub(crate) fn classify_status(f: &Failure<'_>) -> ModelError {
    let status = f.status.as_u16();
    match f.status {
        StatusCode::TOO_MANY_REQUESTS => ModelError::RateLimited {
            retry_after: f.retry_after,
        },
        StatusCode::REQUEST_TIMEOUT => ModelError::Timeout,
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => ModelError::Unauthorized { status },
        StatusCode::PAYMENT_REQUIRED => ModelError::QuotaExhausted { status },
        s if s.is_server_error() => ModelError::Overloaded {
            status,
            retry_after: f.retry_after,
        },
        _ => ModelError::BadRequest { status },
    }
}

/// A header value that `Debug` and logs show as `Sensitive`.
pub(crate) fn secret_header(value: &str) -> Result<HeaderValue, ModelError> {
    let mut v = HeaderValue::from_str(value)
        .map_err(|_| ModelError::Config("api key is not a valid header value"))?;
    v.set_sensitive(true);
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_built_with_one_timeout_share_one_http_client_and_its_pool() {
        // As when a clinic's models are rebuilt from its settings: the same client again.
        let t = Duration::from_millis(4321);
        let path = "/v1/chat/completions";
        let a = Endpoint::new("openai_compatible", "http://127.0.0.1:9", path, "m", t).unwrap();
        let again = Endpoint::new("openai_compatible", "http://127.0.0.1:9", path, "m", t).unwrap();
        let other = Endpoint::new(
            "anthropic",
            "https://api.anthropic.com",
            "/v1/messages",
            "n",
            t,
        )
        .unwrap();
        assert!(Arc::ptr_eq(&a.http, &again.http));
        assert!(Arc::ptr_eq(&a.http, &other.http));
        // Another timeout is another client (the timeout is the client's own).
        let slower = Duration::from_millis(4322);
        let b =
            Endpoint::new("openai_compatible", "http://127.0.0.1:9", path, "m", slower).unwrap();
        assert!(!Arc::ptr_eq(&a.http, &b.http));
    }
}
