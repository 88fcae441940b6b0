//! Stripe, both halves: a Checkout Session per payment (`POST /v1/checkout/sessions`,
//! form-encoded, Bearer secret key, `Idempotency-Key`), and the `Stripe-Signature` check and
//! reading of the Checkout events Stripe posts back.
//!
//! The patient pays on Stripe's hosted Checkout page: card numbers go to Stripe, never through
//! frontdesk. The signature scheme is the one in PROVIDERS.md (`t=…,v1=…`, HMAC-SHA256 over
//! `"{t}.{raw body}"`, any `v1` under any of the clinic's signing secrets, 300 s either way),
//! which our own outbound webhooks share: [`crate::outbound::sign::verify_with_keys`].

use crate::channels::SendError;
use crate::channels::http::{bearer, build_http_client, exchange, status_error};
use crate::outbound::sign::{DEFAULT_TOLERANCE, VerifyError, verify_with_keys};
use frontdesk_domain::PaymentId;
use jiff::Timestamp;
use serde::Deserialize;
use std::time::Duration;

/// The header Stripe signs its webhooks in.
pub const SIGNATURE_HEADER: &str = "stripe-signature";

/// Client for Stripe's API. Holds no credentials: the clinic's secret key is passed to each
/// call, so `Debug` cannot print one.
#[derive(Debug, Clone)]
pub struct StripeClient {
    /// [`Self::DEFAULT_BASE_URL`], or a wiremock address in tests.
    pub base_url: String,
    pub http: reqwest::Client,
}

/// What one Checkout Session asks for.
#[derive(Debug, Clone)]
pub struct CheckoutRequest<'a> {
    pub payment: PaymentId,
    pub amount_minor: i64,
    /// ISO 4217 (sent lower case, as Stripe writes it).
    pub currency: &'a str,
    /// The line item's name the patient sees on the page (`Deposit — Harbour Physio`).
    pub product_name: &'a str,
    /// Where Stripe sends the patient after paying.
    pub success_url: &'a str,
    /// When the link stops working (Stripe allows 30 minutes to 24 hours).
    pub expires_at: Timestamp,
}

/// The part of Stripe's Checkout Session object frontdesk uses.
#[derive(Debug, Clone, Deserialize)]
pub struct CheckoutSession {
    /// `cs_…`: the payment's reference.
    pub id: String,
    /// The hosted page to send the patient to.
    pub url: Option<String>,
}

impl StripeClient {
    pub const DEFAULT_BASE_URL: &'static str = "https://api.stripe.com";

    pub fn with_base_url(base_url: &str, timeout: Duration) -> Result<Self, reqwest::Error> {
        Ok(Self {
            base_url: base_url.trim_end_matches('/').to_owned(),
            http: build_http_client(timeout)?,
        })
    }

    /// Creates the Checkout Session for one payment. The payment id is the idempotency key,
    /// so a retried job (a timeout after Stripe made it) gets the same session back.
    pub async fn create_checkout_session(
        &self,
        secret_key: &str,
        req: &CheckoutRequest<'_>,
    ) -> Result<CheckoutSession, SendError> {
        let payment = req.payment.to_string();
        let amount = req.amount_minor.to_string();
        let currency = req.currency.to_ascii_lowercase();
        let expires = req.expires_at.as_second().to_string();
        let form = [
            ("mode", "payment"),
            ("line_items[0][quantity]", "1"),
            ("line_items[0][price_data][currency]", currency.as_str()),
            ("line_items[0][price_data][unit_amount]", amount.as_str()),
            (
                "line_items[0][price_data][product_data][name]",
                req.product_name,
            ),
            ("metadata[payment_id]", payment.as_str()),
            ("client_reference_id", payment.as_str()),
            ("success_url", req.success_url),
            ("expires_at", expires.as_str()),
        ];
        let (status, bytes, wait) = exchange(
            self.http
                .post(format!("{}/v1/checkout/sessions", self.base_url))
                .header(
                    reqwest::header::AUTHORIZATION,
                    bearer(secret_key, "stripe_bad_key")?,
                )
                .header("Idempotency-Key", format!("frontdesk-payment-{payment}"))
                .form(&form),
        )
        .await?;
        if !status.is_success() {
            // Stripe's error body names a type and code (`invalid_request_error`,
            // `api_key_expired`…); the status classifies it well enough, and the body may echo
            // request values, so none of it is kept.
            return Err(status_error(status, wait));
        }
        serde_json::from_slice::<CheckoutSession>(&bytes)
            .ok()
            .filter(|s| s.id.starts_with("cs_") && s.url.as_deref().is_some_and(is_https_or_local))
            .ok_or(SendError::Permanent {
                code: "stripe_bad_response".into(),
            })
    }
}

/// Stripe's hosted pages are https; a loopback fake in tests is http.
fn is_https_or_local(url: &str) -> bool {
    url.starts_with("https://") || url.starts_with("http://127.0.0.1")
}

/// Checks a `Stripe-Signature` header against the clinic's signing secrets (the current one
/// and, during a rotation, the next), over the raw body, 300 s either way.
pub fn verify_signature(
    header: &str,
    body: &[u8],
    secrets: &[&str],
    now: Timestamp,
) -> Result<(), VerifyError> {
    let keys: Vec<&[u8]> = secrets.iter().map(|s| s.as_bytes()).collect();
    verify_with_keys(header, body, &keys, now, DEFAULT_TOLERANCE)
}

/// What a verified Stripe event means for a payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StripeNews {
    /// The money is in: `receipt` is the payment_intent (or the session id when Stripe has none).
    Paid {
        session: String,
        receipt: String,
        amount_total: Option<i64>,
        currency: Option<String>,
    },
    /// A delayed payment method (a bank debit) failed after the page closed.
    Failed { session: String },
    /// The link ran out before the patient paid.
    Expired { session: String },
    /// Anything else (a completed session still awaiting a delayed payment, other event types):
    /// acknowledged, nothing done.
    Ignored,
}

#[derive(Deserialize)]
struct Event {
    #[serde(rename = "type")]
    kind: String,
    data: EventData,
}

#[derive(Deserialize)]
struct EventData {
    object: serde_json::Value,
}

/// Reads a Stripe event (already verified). `None`: not an event at all.
pub fn parse_event(body: &[u8]) -> Option<StripeNews> {
    let event: Event = serde_json::from_slice(body).ok()?;
    let o = &event.data.object;
    let text = |k: &str| o.get(k).and_then(|v| v.as_str()).map(str::to_owned);
    let checkout = o.get("object").and_then(|v| v.as_str()) == Some("checkout.session");
    let Some(session) = text("id").filter(|_| checkout) else {
        return Some(StripeNews::Ignored);
    };
    let paid = || StripeNews::Paid {
        receipt: text("payment_intent").unwrap_or_else(|| session.clone()),
        amount_total: o.get("amount_total").and_then(|v| v.as_i64()),
        currency: text("currency"),
        session: session.clone(),
    };
    Some(match event.kind.as_str() {
        // `unpaid`: a delayed method; `async_payment_succeeded` or `_failed` follows.
        "checkout.session.completed" => match text("payment_status").as_deref() {
            Some("paid") => paid(),
            _ => StripeNews::Ignored,
        },
        "checkout.session.async_payment_succeeded" => paid(),
        "checkout.session.async_payment_failed" => StripeNews::Failed { session },
        "checkout.session.expired" => StripeNews::Expired { session },
        _ => StripeNews::Ignored,
    })
}
