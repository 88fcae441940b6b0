//! Meta WhatsApp Cloud API, outbound side: `POST /{version}/{phone_number_id}/messages` on
//! the Graph API with a tenant's access token, and the classification of Graph errors into
//! retryable and permanent [`SendError`]s.

use super::http::{build_http_client, classify_status, retry_after, status_error, transport_error};
use super::whatsapp::graph_code_retryable;
use super::{Outbound, OutboundBody, SendError, Sent, plain_text};
use serde::Deserialize;
use serde_json::{Value, json};
use std::time::Duration;

/// WhatsApp shows at most three reply buttons; more options are sent as numbered text.
pub const MAX_BUTTONS: usize = 3;
/// Button titles are limited to 20 characters.
pub const MAX_BUTTON_TITLE_CHARS: usize = 20;
/// Button ids are limited to 256 characters.
const MAX_BUTTON_ID_CHARS: usize = 256;

/// Client for the Graph API. Holds no credentials: the tenant's access token is passed to
/// each [`send`](Self::send), so `Debug` cannot print one.
#[derive(Debug, Clone)]
pub struct GraphClient {
    /// `https://graph.facebook.com` in production; a wiremock address in tests.
    pub base_url: String,
    /// e.g. "v21.0".
    pub api_version: String,
    pub http: reqwest::Client,
}

impl GraphClient {
    pub const DEFAULT_BASE_URL: &'static str = "https://graph.facebook.com";
    pub const DEFAULT_API_VERSION: &'static str = "v21.0";

    /// Production client with the given per-request timeout.
    pub fn new(timeout: Duration) -> Result<Self, reqwest::Error> {
        Self::with_base_url(Self::DEFAULT_BASE_URL, timeout)
    }

    pub fn with_base_url(base_url: &str, timeout: Duration) -> Result<Self, reqwest::Error> {
        Ok(Self {
            base_url: base_url.trim_end_matches('/').to_owned(),
            api_version: Self::DEFAULT_API_VERSION.to_owned(),
            http: build_http_client(timeout)?,
        })
    }

    /// Sends one message from the business number `phone_number_id`. Free-form text and
    /// buttons are only delivered inside the 24-hour service window (see
    /// [`within_service_window`](super::whatsapp::within_service_window)); outside it Graph
    /// answers 131047, a permanent error, and a template must be used instead.
    pub async fn send(
        &self,
        phone_number_id: &str,
        access_token: &str,
        msg: &Outbound,
    ) -> Result<Sent, SendError> {
        if phone_number_id.is_empty() || !phone_number_id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(SendError::Permanent {
                code: "bad_phone_number_id".into(),
            });
        }
        let url = format!(
            "{}/{}/{phone_number_id}/messages",
            self.base_url, self.api_version
        );
        let resp = self
            .http
            .post(url)
            .bearer_auth(access_token)
            .json(&message_json(msg))
            .send()
            .await
            .map_err(|e| transport_error(&e))?;
        let status = resp.status();
        let wait = retry_after(resp.headers());
        let bytes = resp.bytes().await.map_err(|e| transport_error(&e))?;
        if status.is_success() {
            return serde_json::from_slice::<SendResponse>(&bytes)
                .ok()
                .and_then(|r| r.messages.into_iter().next())
                .and_then(|m| m.id)
                .filter(|id| !id.is_empty())
                .map(|provider_message_id| Sent {
                    provider_message_id,
                })
                // Accepted but unreadable: it may well be sent, so retrying could duplicate.
                .ok_or(SendError::Permanent {
                    code: "graph_bad_response".into(),
                });
        }
        let code = serde_json::from_slice::<ErrorResponse>(&bytes)
            .ok()
            .and_then(|r| r.error)
            .and_then(|e| e.code);
        Err(match code {
            Some(c) => match graph_code_retryable(c) {
                Some(true) => SendError::Retryable {
                    code: format!("graph_{c}"),
                    retry_after: wait,
                },
                Some(false) => SendError::Permanent {
                    code: format!("graph_{c}"),
                },
                None => classify_status(status, format!("graph_{c}"), wait),
            },
            None => status_error(status, wait),
        })
    }
}

/// The Graph request body for `msg`. `to` is sent as digits without the `+`.
pub fn message_json(msg: &Outbound) -> Value {
    let to = msg.to.trim_start_matches('+');
    let mut v = json!({
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": to,
    });
    let (kind, payload) = match &msg.body {
        OutboundBody::Buttons { text, buttons }
            if !buttons.is_empty() && buttons.len() <= MAX_BUTTONS =>
        {
            let buttons: Vec<Value> = buttons
                .iter()
                .map(|(id, title)| {
                    json!({"type": "reply", "reply": {
                        "id": truncate_chars(id, MAX_BUTTON_ID_CHARS),
                        "title": truncate_chars(title, MAX_BUTTON_TITLE_CHARS),
                    }})
                })
                .collect();
            let interactive = json!({
                "type": "button",
                "body": {"text": text},
                "action": {"buttons": buttons},
            });
            ("interactive", interactive)
        }
        OutboundBody::Template {
            name,
            language,
            params,
        } => {
            let mut t = json!({"name": name, "language": {"code": language}});
            if !params.is_empty() {
                let parameters: Vec<Value> = params
                    .iter()
                    .map(|p| json!({"type": "text", "text": p}))
                    .collect();
                t["components"] = json!([{"type": "body", "parameters": parameters}]);
            }
            ("template", t)
        }
        body => (
            "text",
            json!({"preview_url": false, "body": plain_text(body)}),
        ),
    };
    v["type"] = json!(kind);
    v[kind] = payload;
    v
}

/// The first `max` characters of `s`, never splitting a UTF-8 sequence.
fn truncate_chars(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

#[derive(Deserialize)]
struct SendResponse {
    #[serde(default)]
    messages: Vec<SentMessage>,
}

#[derive(Deserialize)]
struct SentMessage {
    id: Option<String>,
}

#[derive(Deserialize)]
struct ErrorResponse {
    error: Option<GraphError>,
}

#[derive(Deserialize)]
struct GraphError {
    code: Option<i64>,
}

#[cfg(test)]
#[path = "whatsapp_client_tests.rs"]
mod tests;
