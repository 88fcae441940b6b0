//! Africa's Talking SMS, outbound side: `POST /version1/messaging` (form-encoded, `apiKey`
//! header) and the classification of AT's per-recipient status codes. SMS has no buttons or
//! templates: they degrade to plain text.

use super::http::{build_http_client, retry_after, status_error, transport_error};
use super::{Outbound, SendError, Sent, plain_text};
use serde::Deserialize;
use std::time::Duration;

/// Client for AT's messaging API. Holds no credentials: the username and API key are passed
/// to each [`send`](Self::send), so `Debug` cannot print one.
#[derive(Debug, Clone)]
pub struct AfricasTalkingClient {
    /// [`Self::DEFAULT_BASE_URL`], [`Self::SANDBOX_BASE_URL`], or a wiremock address in tests.
    pub base_url: String,
    pub http: reqwest::Client,
}

impl AfricasTalkingClient {
    pub const DEFAULT_BASE_URL: &'static str = "https://api.africastalking.com";
    pub const SANDBOX_BASE_URL: &'static str = "https://api.sandbox.africastalking.com";

    pub fn new(timeout: Duration) -> Result<Self, reqwest::Error> {
        Self::with_base_url(Self::DEFAULT_BASE_URL, timeout)
    }

    pub fn with_base_url(base_url: &str, timeout: Duration) -> Result<Self, reqwest::Error> {
        Ok(Self {
            base_url: base_url.trim_end_matches('/').to_owned(),
            http: build_http_client(timeout)?,
        })
    }

    /// Sends one SMS. `from` is the tenant's sender ID or short code; `None` uses the
    /// account's default sender.
    pub async fn send(
        &self,
        username: &str,
        api_key: &str,
        from: Option<&str>,
        msg: &Outbound,
    ) -> Result<Sent, SendError> {
        let url = format!("{}/version1/messaging", self.base_url);
        let text = plain_text(&msg.body);
        let mut form = vec![
            ("username", username),
            ("to", msg.to.as_str()),
            ("message", text.as_str()),
        ];
        if let Some(f) = from {
            form.push(("from", f));
        }
        let mut key =
            reqwest::header::HeaderValue::from_str(api_key).map_err(|_| SendError::Permanent {
                code: "bad_api_key".into(),
            })?;
        key.set_sensitive(true);
        let resp = self
            .http
            .post(url)
            .header("apiKey", key)
            .header(reqwest::header::ACCEPT, "application/json")
            .form(&form)
            .send()
            .await
            .map_err(|e| transport_error(&e))?;
        let status = resp.status();
        let wait = retry_after(resp.headers());
        let bytes = resp.bytes().await.map_err(|e| transport_error(&e))?;
        if !status.is_success() {
            // AT answers auth and validation failures with plain-text bodies: status only.
            return Err(status_error(status, wait));
        }
        let Some(data) = serde_json::from_slice::<Response>(&bytes)
            .ok()
            .and_then(|r| r.data)
        else {
            return Err(SendError::Permanent {
                code: "at_bad_response".into(),
            });
        };
        let Some(r) = data.recipients.into_iter().next() else {
            // No recipient at all: the whole request was refused (`Message` names why).
            return Err(request_refusal(data.message.as_deref().unwrap_or_default()));
        };
        match r.status_code {
            Some(100..=102) => r
                .message_id
                .filter(|id| !id.is_empty() && id != "None")
                .map(|provider_message_id| Sent {
                    provider_message_id,
                })
                .ok_or(SendError::Permanent {
                    code: "at_bad_response".into(),
                }),
            Some(c) => Err(recipient_error(c)),
            None => Err(SendError::Permanent {
                code: "at_bad_response".into(),
            }),
        }
    }
}

/// Per-recipient status codes: 100 Processed, 101 Sent and 102 Queued are accepted (and
/// handled before this). 405 InsufficientBalance and 500/501/502 (AT internal, gateway, SMS
/// channel errors) are retryable; 401 RiskHold, 402 InvalidSenderId, 403 InvalidPhoneNumber,
/// 404 UnsupportedNumberType, 406 UserInBlacklist (an opt-out), 407 CouldNotRoute and any
/// unknown code are permanent.
fn recipient_error(code: i64) -> SendError {
    let code_str = format!("at_{code}");
    match code {
        405 | 500 | 501 | 502 => SendError::Retryable {
            code: code_str,
            retry_after: None,
        },
        _ => SendError::Permanent { code: code_str },
    }
}

/// A request refused for every recipient, as named by `SMSMessageData.Message`. The name is
/// mapped to our own code, never echoed.
fn request_refusal(message: &str) -> SendError {
    match message {
        "InsufficientBalance" => recipient_error(405),
        "InvalidSenderId" => recipient_error(402),
        "InvalidPhoneNumber" => recipient_error(403),
        "UserInBlacklist" | "UserInBlackList" => recipient_error(406),
        _ => SendError::Permanent {
            code: "at_no_recipients".into(),
        },
    }
}

#[derive(Deserialize)]
struct Response {
    #[serde(rename = "SMSMessageData")]
    data: Option<MessageData>,
}

#[derive(Deserialize)]
struct MessageData {
    #[serde(rename = "Message")]
    message: Option<String>,
    #[serde(rename = "Recipients", default)]
    recipients: Vec<Recipient>,
}

#[derive(Deserialize)]
struct Recipient {
    #[serde(rename = "statusCode")]
    status_code: Option<i64>,
    #[serde(rename = "messageId")]
    message_id: Option<String>,
}

#[cfg(test)]
#[path = "africastalking_client_tests.rs"]
mod tests;
