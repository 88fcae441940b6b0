//! M-Pesa through Safaricom's Daraja API: OAuth access tokens (cached per clinic), the STK
//! push ("M-Pesa Express") that puts a PIN prompt on the patient's phone, the STK query that
//! confirms a result, and the reading of the callback Daraja posts when the patient answers.
//!
//! Shapes, as Daraja documents them:
//! - `GET {base}/oauth/v1/generate?grant_type=client_credentials`, Basic auth (consumer key and
//!   secret) → `{"access_token": "…", "expires_in": "3599"}` (a string).
//! - `POST {base}/mpesa/stkpush/v1/processrequest`, Bearer token, JSON `BusinessShortCode`,
//!   `Password` = base64(shortcode + passkey + timestamp), `Timestamp` (`yyyyMMddHHmmss`,
//!   Nairobi time), `TransactionType` `CustomerPayBillOnline`, `Amount` (whole KES), `PartyA`
//!   and `PhoneNumber` (`2547…`), `PartyB`, `CallBackURL`, `AccountReference` (≤ 12
//!   characters), `TransactionDesc` → `MerchantRequestID`, `CheckoutRequestID`,
//!   `ResponseCode` `"0"`; a refusal → `{"requestId", "errorCode", "errorMessage"}`.
//! - `POST {base}/mpesa/stkpushquery/v1/query` with `BusinessShortCode`, `Password`,
//!   `Timestamp`, `CheckoutRequestID` → `ResultCode` (a string here), `ResultDesc`.
//! - Callback: `{"Body": {"stkCallback": {"MerchantRequestID", "CheckoutRequestID",
//!   "ResultCode", "ResultDesc", "CallbackMetadata": {"Item": [{"Name", "Value"}…]}}}}`;
//!   `ResultCode` 0 paid (`Amount`, `MpesaReceiptNumber`, `TransactionDate`, `PhoneNumber`;
//!   `Balance` may come without a value), 1032 cancelled by the patient, anything else failed
//!   (1037 no answer from the phone, 1 insufficient balance, 2001 wrong PIN…).
//!
//! Daraja does not sign callbacks: the CallBackURL carries a random per-payment secret (only
//! its hash is stored) and the callback must name the CheckoutRequestID that payment got.

use crate::channels::SendError;
use crate::channels::http::{bearer, build_http_client, exchange, status_error};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use frontdesk_domain::TenantId;
use jiff::Timestamp;
use serde::Deserialize;
use std::collections::HashMap;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;
use zeroize::Zeroizing;

/// Daraja's sandbox (the default for a clinic that names no base).
pub const SANDBOX_BASE_URL: &str = "https://sandbox.safaricom.co.ke";
/// Daraja's production API.
pub const PRODUCTION_BASE_URL: &str = "https://api.safaricom.co.ke";

/// A clinic's Daraja credentials, read from its sealed payment settings.
pub struct DarajaAccount<'a> {
    pub tenant: TenantId,
    pub base_url: &'a str,
    pub consumer_key: &'a str,
    pub consumer_secret: &'a str,
    /// The PayBill shortcode (BusinessShortCode and PartyB).
    pub shortcode: &'a str,
    pub passkey: &'a str,
}

/// One STK push.
#[derive(Debug, Clone)]
pub struct StkPush<'a> {
    /// Whole shillings.
    pub amount_kes: i64,
    /// The patient's Kenyan mobile number as Daraja takes it: 12 digits starting `254`, no plus.
    pub phone: &'a str,
    pub callback_url: &'a str,
    /// Shown to the patient in the prompt (≤ 12 characters).
    pub account_reference: &'a str,
    pub description: &'a str,
}

/// Daraja's acceptance of an STK push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StkAccepted {
    pub merchant_request_id: String,
    pub checkout_request_id: String,
}

struct CachedToken {
    token: Zeroizing<String>,
    /// A hash of the credentials it was made with: changed credentials fetch a new one.
    made_with: [u8; 32],
    until: Instant,
}

/// Client for Daraja. Tokens are cached per clinic until a minute before they expire.
pub struct DarajaClient {
    pub http: reqwest::Client,
    tokens: Mutex<HashMap<TenantId, CachedToken>>,
}

impl std::fmt::Debug for DarajaClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DarajaClient").finish_non_exhaustive()
    }
}

/// The `Timestamp` Daraja wants: `yyyyMMddHHmmss` in Nairobi (UTC+3, no daylight saving).
pub fn daraja_timestamp(now: Timestamp) -> String {
    let zone = jiff::tz::TimeZone::get("Africa/Nairobi")
        .unwrap_or_else(|_| jiff::tz::TimeZone::fixed(jiff::tz::Offset::constant(3)));
    now.to_zoned(zone).strftime("%Y%m%d%H%M%S").to_string()
}

/// `Password` = base64(shortcode + passkey + timestamp).
pub fn stk_password(shortcode: &str, passkey: &str, timestamp: &str) -> Zeroizing<String> {
    let plain = Zeroizing::new(format!("{shortcode}{passkey}{timestamp}"));
    Zeroizing::new(STANDARD.encode(plain.as_bytes()))
}

/// An E.164 Kenyan number (`+2547…`, `+2541…`) as Daraja writes it (`2547…`).
pub fn daraja_phone(e164: &str) -> Option<String> {
    let digits = e164.strip_prefix("+254")?;
    (digits.len() == 9 && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| format!("254{digits}"))
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    /// Daraja sends a string (`"3599"`); a number is accepted too.
    expires_in: serde_json::Value,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PushResponse {
    #[serde(rename = "MerchantRequestID")]
    merchant_request_id: Option<String>,
    #[serde(rename = "CheckoutRequestID")]
    checkout_request_id: Option<String>,
    response_code: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct QueryResponse {
    result_code: Option<serde_json::Value>,
}

/// A number Daraja wrote as a number or as a string.
fn loose_i64(v: &serde_json::Value) -> Option<i64> {
    v.as_i64().or_else(|| v.as_str()?.trim().parse().ok())
}

impl DarajaClient {
    pub fn new(timeout: Duration) -> Result<Self, reqwest::Error> {
        Ok(Self {
            http: build_http_client(timeout)?,
            tokens: Mutex::new(HashMap::new()),
        })
    }

    async fn token(&self, a: &DarajaAccount<'_>) -> Result<Zeroizing<String>, SendError> {
        use sha2::Digest;
        let made_with: [u8; 32] = sha2::Sha256::digest(
            format!("{}\n{}\n{}", a.base_url, a.consumer_key, a.consumer_secret).as_bytes(),
        )
        .into();
        let mut tokens = self.tokens.lock().await;
        if let Some(t) = tokens.get(&a.tenant)
            && t.made_with == made_with
            && t.until > Instant::now()
        {
            return Ok(t.token.clone());
        }
        let (status, bytes, wait) = exchange(
            self.http
                .get(format!("{}/oauth/v1/generate", a.base_url))
                .query(&[("grant_type", "client_credentials")])
                .basic_auth(a.consumer_key, Some(a.consumer_secret)),
        )
        .await?;
        if !status.is_success() {
            return Err(status_error(status, wait));
        }
        let bad = || SendError::Permanent {
            code: "daraja_bad_token".into(),
        };
        let t: TokenResponse = serde_json::from_slice(&bytes).map_err(|_| bad())?;
        let secs = loose_i64(&t.expires_in)
            .filter(|s| *s > 0)
            .ok_or_else(bad)?;
        let token = Zeroizing::new(t.access_token);
        // A minute's margin, so a token never expires between the check and the call.
        let keep = Duration::from_secs(u64::try_from(secs.saturating_sub(60)).unwrap_or(0));
        tokens.insert(
            a.tenant,
            CachedToken {
                token: token.clone(),
                made_with,
                until: Instant::now() + keep,
            },
        );
        Ok(token)
    }

    async fn post(
        &self,
        a: &DarajaAccount<'_>,
        path: &str,
        body: &serde_json::Value,
    ) -> Result<(reqwest::StatusCode, axum::body::Bytes, Option<Duration>), SendError> {
        let token = self.token(a).await?;
        let auth = bearer(&token, "daraja_bad_token")?;
        let (status, bytes, wait) = exchange(
            self.http
                .post(format!("{}{path}", a.base_url))
                .header(reqwest::header::AUTHORIZATION, auth)
                .json(body),
        )
        .await?;
        if status == reqwest::StatusCode::UNAUTHORIZED {
            // A token revoked early: forget it so the retry fetches a new one.
            self.tokens.lock().await.remove(&a.tenant);
        }
        Ok((status, bytes, wait))
    }

    /// Sends the PIN prompt. Accepted (`ResponseCode` "0") → its ids; anything else an error
    /// with a stable code (`daraja_<errorCode>` or `http_<status>`).
    pub async fn stk_push(
        &self,
        a: &DarajaAccount<'_>,
        push: &StkPush<'_>,
        now: Timestamp,
    ) -> Result<StkAccepted, SendError> {
        let body = signed(
            a,
            now,
            serde_json::json!({
                "TransactionType": "CustomerPayBillOnline",
                "Amount": push.amount_kes,
                "PartyA": push.phone,
                "PartyB": a.shortcode,
                "PhoneNumber": push.phone,
                "CallBackURL": push.callback_url,
                "AccountReference": push.account_reference,
                "TransactionDesc": push.description,
            }),
        );
        let (status, bytes, wait) = self
            .post(a, "/mpesa/stkpush/v1/processrequest", &body)
            .await?;
        if !status.is_success() {
            return Err(match refusal_code(&bytes) {
                Some(code) if status.is_client_error() => SendError::Permanent { code },
                _ => status_error(status, wait),
            });
        }
        let r: PushResponse = serde_json::from_slice(&bytes).map_err(|_| SendError::Permanent {
            code: "daraja_bad_response".into(),
        })?;
        match (
            r.response_code.as_deref(),
            r.merchant_request_id,
            r.checkout_request_id,
        ) {
            (Some("0"), Some(m), Some(c)) if !c.is_empty() => Ok(StkAccepted {
                merchant_request_id: m,
                checkout_request_id: c,
            }),
            (Some(code), _, _) if code != "0" => Err(SendError::Permanent {
                code: format!("daraja_response_{code}"),
            }),
            _ => Err(SendError::Permanent {
                code: "daraja_bad_response".into(),
            }),
        }
    }

    /// Asks Daraja how an STK push ended: its `ResultCode` (0 paid).
    pub async fn stk_query(
        &self,
        a: &DarajaAccount<'_>,
        checkout_request_id: &str,
        now: Timestamp,
    ) -> Result<i64, SendError> {
        let body = signed(
            a,
            now,
            serde_json::json!({ "CheckoutRequestID": checkout_request_id }),
        );
        let (status, bytes, wait) = self.post(a, "/mpesa/stkpushquery/v1/query", &body).await?;
        if !status.is_success() {
            return Err(status_error(status, wait));
        }
        serde_json::from_slice::<QueryResponse>(&bytes)
            .ok()
            .and_then(|r| r.result_code.as_ref().and_then(loose_i64))
            .ok_or(SendError::Permanent {
                code: "daraja_bad_response".into(),
            })
    }
}

/// `fields` with what every M-Pesa Express call carries: `BusinessShortCode`, `Password`
/// and its `Timestamp`.
fn signed(
    a: &DarajaAccount<'_>,
    now: Timestamp,
    mut fields: serde_json::Value,
) -> serde_json::Value {
    let timestamp = daraja_timestamp(now);
    let password = stk_password(a.shortcode, a.passkey, &timestamp);
    if let Some(map) = fields.as_object_mut() {
        map.insert("BusinessShortCode".into(), a.shortcode.into());
        map.insert("Password".into(), password.as_str().into());
        map.insert("Timestamp".into(), timestamp.into());
    }
    fields
}

/// Daraja's refusal body `{"requestId", "errorCode": "400.002.02", "errorMessage"}` as a
/// stable code (`daraja_400.002.02`); the message is not kept.
fn refusal_code(bytes: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    let code = v.get("errorCode")?.as_str()?;
    (!code.is_empty()
        && code.len() <= 32
        && code.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.'))
    .then(|| format!("daraja_{code}"))
}

/// What Daraja's callback says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StkResult {
    pub checkout_request_id: String,
    pub result_code: i64,
    /// When paid: the amount (whole KES) and the M-Pesa receipt number.
    pub amount_kes: Option<i64>,
    pub receipt: Option<String>,
}

/// Reads a callback body. `None`: not an STK callback.
pub fn parse_callback(body: &[u8]) -> Option<StkResult> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let cb = v.get("Body")?.get("stkCallback")?;
    let checkout_request_id = cb.get("CheckoutRequestID")?.as_str()?.to_owned();
    let result_code = loose_i64(cb.get("ResultCode")?)?;
    let items = cb
        .get("CallbackMetadata")
        .and_then(|m| m.get("Item"))
        .and_then(|i| i.as_array())
        .cloned()
        .unwrap_or_default();
    let item = |name: &str| {
        items
            .iter()
            .find(|i| i.get("Name").and_then(|n| n.as_str()) == Some(name))
            .and_then(|i| i.get("Value"))
            .cloned()
    };
    Some(StkResult {
        checkout_request_id,
        result_code,
        amount_kes: item("Amount").and_then(|a| {
            a.as_i64()
                .or_else(|| a.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64))
                .or_else(|| loose_i64(&a))
        }),
        receipt: item("MpesaReceiptNumber").and_then(|r| r.as_str().map(str::to_owned)),
    })
}

/// The answer Daraja expects to a callback.
pub const CALLBACK_ACCEPTED: &str = r#"{"ResultCode":0,"ResultDesc":"Accepted"}"#;
