//! Twilio Programmable Messaging, outbound side: `POST /2010-04-01/Accounts/{sid}/Messages.json`
//! (form-encoded, HTTP Basic with the account SID and auth token) and the classification of
//! Twilio's error codes. SMS has no buttons or templates: they degrade to plain text.

use super::http::{build_http_client, classify_status, retry_after, status_error, transport_error};
use super::{Outbound, SendError, Sent, plain_text};
use serde::Deserialize;
use std::time::Duration;

/// Client for Twilio's REST API. Holds no credentials: they are passed to each
/// [`send`](Self::send), so `Debug` cannot print one.
#[derive(Debug, Clone)]
pub struct TwilioClient {
    /// `https://api.twilio.com` in production; a wiremock address in tests.
    pub base_url: String,
    pub http: reqwest::Client,
}

impl TwilioClient {
    pub const DEFAULT_BASE_URL: &'static str = "https://api.twilio.com";

    pub fn new(timeout: Duration) -> Result<Self, reqwest::Error> {
        Self::with_base_url(Self::DEFAULT_BASE_URL, timeout)
    }

    pub fn with_base_url(base_url: &str, timeout: Duration) -> Result<Self, reqwest::Error> {
        Ok(Self {
            base_url: base_url.trim_end_matches('/').to_owned(),
            http: build_http_client(timeout)?,
        })
    }

    /// Sends an SMS. `from` is a phone number / short code, or a Messaging Service SID
    /// (`MG…`), which is then sent as `MessagingServiceSid` so Twilio picks the sender.
    pub async fn send(
        &self,
        account_sid: &str,
        auth_token: &str,
        from: &str,
        status_callback: Option<&str>,
        msg: &Outbound,
    ) -> Result<Sent, SendError> {
        if account_sid.is_empty() || !account_sid.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(SendError::Permanent {
                code: "bad_account_sid".into(),
            });
        }
        let url = format!(
            "{}/2010-04-01/Accounts/{account_sid}/Messages.json",
            self.base_url
        );
        let from_field = if is_messaging_service_sid(from) {
            "MessagingServiceSid"
        } else {
            "From"
        };
        let body = plain_text(&msg.body);
        let mut form = vec![
            ("To", msg.to.as_str()),
            (from_field, from),
            ("Body", body.as_str()),
        ];
        if let Some(cb) = status_callback {
            form.push(("StatusCallback", cb));
        }
        let resp = self
            .http
            .post(url)
            .basic_auth(account_sid, Some(auth_token))
            .header(reqwest::header::ACCEPT, "application/json")
            .form(&form)
            .send()
            .await
            .map_err(|e| transport_error(&e))?;
        let status = resp.status();
        let wait = retry_after(resp.headers());
        let bytes = resp.bytes().await.map_err(|e| transport_error(&e))?;
        if status.is_success() {
            return serde_json::from_slice::<MessageResource>(&bytes)
                .ok()
                .and_then(|m| m.sid)
                .filter(|sid| !sid.is_empty())
                .map(|provider_message_id| Sent {
                    provider_message_id,
                })
                // Accepted but unreadable: it may well be sent, so retrying could duplicate.
                .ok_or(SendError::Permanent {
                    code: "twilio_bad_response".into(),
                });
        }
        let code = serde_json::from_slice::<TwilioError>(&bytes)
            .ok()
            .and_then(|e| e.code);
        Err(match code {
            Some(c) => match twilio_code_retryable(c) {
                Some(true) => SendError::Retryable {
                    code: format!("twilio_{c}"),
                    retry_after: wait,
                },
                Some(false) => SendError::Permanent {
                    code: format!("twilio_{c}"),
                },
                None => classify_status(status, format!("twilio_{c}"), wait),
            },
            None => status_error(status, wait),
        })
    }
}

/// A whole recording may take longer than a message send; still bounded.
const RECORDING_TIMEOUT: Duration = Duration::from_secs(120);
/// Larger than any call we answer (MP3 at 32 kbit/s: about 4 MB per 15 minutes).
const MAX_RECORDING_BYTES: usize = 200 * 1024 * 1024;

fn sid_ok(sid: &str) -> bool {
    (2..=64).contains(&sid.len()) && sid.bytes().all(|b| b.is_ascii_alphanumeric())
}

impl TwilioClient {
    fn recording_url(
        &self,
        account_sid: &str,
        recording_sid: &str,
        ext: &str,
    ) -> Result<String, SendError> {
        if !sid_ok(account_sid) || !sid_ok(recording_sid) {
            return Err(SendError::Permanent {
                code: "bad_sid".into(),
            });
        }
        Ok(format!(
            "{}/2010-04-01/Accounts/{account_sid}/Recordings/{recording_sid}.{ext}",
            self.base_url
        ))
    }

    /// Downloads a call recording as MP3 (`GET …/Recordings/{sid}.mp3`, HTTP Basic). The URL
    /// is built from the sids, never taken from a webhook, so a forged callback cannot make us
    /// fetch anything else.
    pub async fn download_recording(
        &self,
        account_sid: &str,
        auth_token: &str,
        recording_sid: &str,
    ) -> Result<Vec<u8>, SendError> {
        let url = self.recording_url(account_sid, recording_sid, "mp3")?;
        let mut resp = self
            .http
            .get(url)
            .basic_auth(account_sid, Some(auth_token))
            .timeout(RECORDING_TIMEOUT)
            .send()
            .await
            .map_err(|e| transport_error(&e))?;
        let status = resp.status();
        if !status.is_success() {
            // 404 right after the callback can mean the media is not ready yet: retry.
            return Err(if status == reqwest::StatusCode::NOT_FOUND {
                SendError::Retryable {
                    code: "twilio_recording_not_ready".into(),
                    retry_after: None,
                }
            } else {
                status_error(status, retry_after(resp.headers()))
            });
        }
        let mut audio = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| transport_error(&e))? {
            if audio.len() + chunk.len() > MAX_RECORDING_BYTES {
                return Err(SendError::Permanent {
                    code: "recording_too_large".into(),
                });
            }
            audio.extend_from_slice(&chunk);
        }
        if audio.is_empty() {
            return Err(SendError::Retryable {
                code: "twilio_recording_empty".into(),
                retry_after: None,
            });
        }
        Ok(audio)
    }

    /// Deletes a recording at Twilio (`DELETE …/Recordings/{sid}.json`). Already gone (404)
    /// counts as deleted.
    pub async fn delete_recording(
        &self,
        account_sid: &str,
        auth_token: &str,
        recording_sid: &str,
    ) -> Result<(), SendError> {
        let url = self.recording_url(account_sid, recording_sid, "json")?;
        let resp = self
            .http
            .delete(url)
            .basic_auth(account_sid, Some(auth_token))
            .send()
            .await
            .map_err(|e| transport_error(&e))?;
        let status = resp.status();
        if status.is_success() || status == reqwest::StatusCode::NOT_FOUND {
            Ok(())
        } else {
            Err(status_error(status, retry_after(resp.headers())))
        }
    }
}

fn is_messaging_service_sid(from: &str) -> bool {
    from.len() == 34 && from.starts_with("MG") && from.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// REST API error codes we know: 20429 (too many requests) is retryable; 21610 (recipient
/// replied STOP), 21211 (invalid To), 21614 (To is not a mobile number), 21408 (region not
/// enabled) and 20003 (authentication) are permanent. Others are decided by HTTP status.
fn twilio_code_retryable(code: u32) -> Option<bool> {
    match code {
        20429 => Some(true),
        21610 | 21211 | 21614 | 21408 | 20003 => Some(false),
        _ => None,
    }
}

#[derive(Deserialize)]
struct MessageResource {
    sid: Option<String>,
}

#[derive(Deserialize)]
struct TwilioError {
    code: Option<u32>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channels::{DEFAULT_TIMEOUT, OutboundBody};
    use base64::Engine as _;
    use wiremock::matchers::{header, method, path};
    use wiremock::{Mock, MockServer, Request, ResponseTemplate};

    const SID: &str = "AC00000000000000000000000000000001";

    fn msg(body: OutboundBody) -> Outbound {
        Outbound {
            to: "+254700000001".into(),
            body,
            idempotency_key: "k".into(),
        }
    }

    fn form(req: &Request) -> Vec<(String, String)> {
        let body = String::from_utf8(req.body.clone()).unwrap();
        reqwest::Url::parse(&format!("http://x/?{body}"))
            .unwrap()
            .query_pairs()
            .into_owned()
            .collect()
    }

    fn created(sid: &str) -> ResponseTemplate {
        ResponseTemplate::new(201).set_body_json(serde_json::json!({
            "account_sid": SID, "sid": sid, "status": "queued", "num_segments": "1",
            "to": "+254700000001", "from": "+15005550006", "body": "x", "error_code": null
        }))
    }

    fn error(status: u16, code: u32) -> ResponseTemplate {
        ResponseTemplate::new(status).set_body_json(serde_json::json!({
            "code": code, "message": "The 'To' number +254700000001 is not valid",
            "more_info": format!("https://www.twilio.com/docs/errors/{code}"), "status": status
        }))
    }

    async fn server_with(resp: ResponseTemplate) -> (MockServer, TwilioClient) {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(resp)
            .mount(&server)
            .await;
        let c = TwilioClient::with_base_url(&server.uri(), DEFAULT_TIMEOUT).unwrap();
        (server, c)
    }

    #[tokio::test]
    async fn sms_is_posted_as_a_form_with_basic_auth() {
        let server = MockServer::start().await;
        let basic = base64::engine::general_purpose::STANDARD.encode(format!("{SID}:tok"));
        Mock::given(method("POST"))
            .and(path(format!("/2010-04-01/Accounts/{SID}/Messages.json")))
            .and(header("authorization", format!("Basic {basic}").as_str()))
            .and(header("content-type", "application/x-www-form-urlencoded"))
            .respond_with(created("SM123"))
            .expect(1)
            .mount(&server)
            .await;
        let c = TwilioClient::with_base_url(&server.uri(), DEFAULT_TIMEOUT).unwrap();
        let body = OutboundBody::Buttons {
            text: "Which time? & more".into(),
            buttons: vec![("a".into(), "Tue 10:00".into()), ("b".into(), "Wed".into())],
        };
        let cb = "https://fd.example/hooks/twilio/status?t=1";
        let sent = c
            .send(SID, "tok", "+15005550006", Some(cb), &msg(body))
            .await
            .unwrap();
        assert_eq!(sent.provider_message_id, "SM123");
        let reqs = server.received_requests().await.unwrap();
        let f = form(&reqs[0]);
        let get = |k: &str| f.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("To"), Some("+254700000001"));
        assert_eq!(get("From"), Some("+15005550006"));
        assert_eq!(get("MessagingServiceSid"), None);
        assert_eq!(
            get("Body"),
            Some("Which time? & more\n1. Tue 10:00\n2. Wed")
        );
        assert_eq!(get("StatusCallback"), Some(cb));
    }

    #[tokio::test]
    async fn a_messaging_service_sid_is_sent_as_such() {
        let (server, c) = server_with(created("SM1")).await;
        let mg = "MG00000000000000000000000000000001";
        c.send(SID, "tok", mg, None, &msg(OutboundBody::Text("hi".into())))
            .await
            .unwrap();
        let f = form(&server.received_requests().await.unwrap()[0]);
        assert!(f.contains(&("MessagingServiceSid".into(), mg.into())));
        assert!(!f.iter().any(|(k, _)| k == "From" || k == "StatusCallback"));
    }

    async fn send_err(resp: ResponseTemplate) -> SendError {
        let (_server, c) = server_with(resp).await;
        let m = msg(OutboundBody::Text("hi".into()));
        c.send(SID, "tok", "+1", None, &m).await.unwrap_err()
    }

    #[tokio::test]
    async fn errors_are_classified() {
        let e = send_err(ResponseTemplate::new(500)).await;
        assert_eq!(
            e,
            SendError::Retryable {
                code: "http_500".into(),
                retry_after: None
            }
        );
        let e = send_err(error(429, 20429).insert_header("Retry-After", "3")).await;
        assert_eq!(
            e,
            SendError::Retryable {
                code: "twilio_20429".into(),
                retry_after: Some(Duration::from_secs(3))
            }
        );
        for code in [21610, 21211, 21614, 21408] {
            let e = send_err(error(400, code)).await;
            assert_eq!(
                e,
                SendError::Permanent {
                    code: format!("twilio_{code}")
                }
            );
            assert!(!e.to_string().contains("254700000001"), "no message text");
        }
        assert_eq!(send_err(error(401, 20003)).await.code(), "twilio_20003");
        let e = send_err(error(400, 21602)).await;
        assert_eq!(
            e,
            SendError::Permanent {
                code: "twilio_21602".into()
            }
        );
        let e = send_err(error(503, 20500)).await;
        assert!(e.is_retryable());
        let e = send_err(ResponseTemplate::new(201).set_body_string("{}")).await;
        assert_eq!(e.code(), "twilio_bad_response");
    }

    #[tokio::test]
    async fn a_slow_provider_times_out_as_retryable() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(created("late").set_delay(Duration::from_millis(500)))
            .mount(&server)
            .await;
        let c = TwilioClient::with_base_url(&server.uri(), Duration::from_millis(50)).unwrap();
        let m = msg(OutboundBody::Text("hi".into()));
        let e = c.send(SID, "tok", "+1", None, &m).await.unwrap_err();
        assert_eq!(
            e,
            SendError::Retryable {
                code: "timeout".into(),
                retry_after: None
            }
        );
    }

    #[tokio::test]
    async fn a_bad_account_sid_is_rejected_before_any_request() {
        let (server, c) = server_with(created("x")).await;
        let m = msg(OutboundBody::Text("hi".into()));
        let e = c.send("AC/../x", "tok", "+1", None, &m).await.unwrap_err();
        assert_eq!(e.code(), "bad_account_sid");
        assert!(server.received_requests().await.unwrap().is_empty());
    }
}
