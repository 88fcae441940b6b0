//! Payment providers' webhooks (#11):
//!
//! - `POST /webhooks/stripe/{tenant_slug}` — Checkout events, `Stripe-Signature` (the
//!   clinic's signing secrets, 300 s either way). Events other than the Checkout ones a
//!   payment needs answer 200 and change nothing, as Stripe asks.
//! - `POST /webhooks/mpesa/{tenant_slug}/{id}/{token}` — Daraja's STK callback for payment
//!   `id`, `token` its callback secret.
//!   Daraja does not sign: the per-payment secret in the path (hash stored, constant-time
//!   compare) and the CheckoutRequestID that payment got stand in. A success is confirmed
//!   with Daraja's STK query before it is trusted, and its amount must be the one asked.
//!
//! Order of checks, as for messaging webhooks: body size (413) → clinic (404) → signature or
//! secret (401) → parse (400) → one transaction that settles the payment, audits it and
//! queues the patient's message → 200. A redelivery is a 200 no-op. A database outage
//! answers 503 so the provider retries.

use super::webhooks::{malformed, read_body};
use super::{AppState, error::AppError};
use crate::payments::mpesa::{self, CALLBACK_ACCEPTED};
use crate::payments::stripe::{self, StripeNews};
use crate::payments::{PaymentClients, settled_text};
use axum::{
    body::Body,
    extract::{Path, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
};
use frontdesk_domain::{PaymentId, TenantSlug};
use frontdesk_store::{
    PaymentOutcome, PaymentProvider, PaymentRef, PaymentStatus, StoreError, TenantScope,
};

fn bad_signature() -> AppError {
    AppError::client(
        StatusCode::UNAUTHORIZED,
        "invalid_signature",
        "The request signature is missing or wrong.",
    )
}

fn unknown_payment() -> AppError {
    AppError::client(StatusCode::NOT_FOUND, "unknown_payment", "No such payment.")
}

/// The clinic named in the URL, if it is active and takes payments by `provider`.
async fn clinic(
    st: &AppState,
    slug: &str,
    provider: PaymentProvider,
) -> Result<(TenantScope, frontdesk_store::PaymentAccount), AppError> {
    let slug = TenantSlug::parse(slug).map_err(|_| AppError::unknown_tenant())?;
    let scope = match st.store.payment_webhook_scope(&slug).await {
        Ok(s) => s,
        Err(StoreError::NotFound) => return Err(AppError::unknown_tenant()),
        Err(e) => return Err(e.into()),
    };
    match st.store.payment_account(scope).await? {
        Some(a) if a.settings.provider == provider => Ok((scope, a)),
        _ => Err(AppError::unknown_tenant()),
    }
}

fn ok_json(body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

pub async fn stripe_events(
    State(st): State<AppState>,
    Path(slug): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, AppError> {
    let raw = read_body(body).await?;
    let (scope, account) = clinic(&st, &slug, PaymentProvider::Stripe).await?;
    let header = headers
        .get(stripe::SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(bad_signature)?;
    // The clinic's signing secret and, while it rotates it at Stripe, the second one.
    let now = st.clock.now();
    let mut secrets = account.secrets.accepted("webhook_secret", now);
    secrets.extend(account.secrets.accepted("webhook_secret_2", now));
    if let Err(e) = stripe::verify_signature(header, &raw, &secrets, now) {
        tracing::warn!(code = e.code(), "stripe webhook refused");
        return Err(bad_signature());
    }
    let news = stripe::parse_event(&raw).ok_or_else(malformed)?;
    let (session, outcome, paid_amount) = match news {
        StripeNews::Ignored => return Ok(ok_json("{}")),
        StripeNews::Paid {
            session,
            receipt,
            amount_total,
            currency,
        } => (
            session,
            PaymentOutcome::Paid { receipt },
            Some((amount_total, currency)),
        ),
        StripeNews::Failed { session } => (
            session,
            PaymentOutcome::Failed {
                reason: "async_payment_failed".into(),
            },
            None,
        ),
        StripeNews::Expired { session } => (session, PaymentOutcome::Expired, None),
    };
    let payment = match st
        .store
        .payment_by_reference(scope, PaymentProvider::Stripe, &session)
        .await
    {
        Ok(p) => p,
        // A session frontdesk did not make (the clinic's account is used for other things
        // too): acknowledged, nothing done.
        Err(StoreError::NotFound) => return Ok(ok_json("{}")),
        Err(e) => return Err(e.into()),
    };
    let outcome = match paid_amount {
        Some((amount, currency))
            if amount != Some(payment.amount_minor)
                || !currency
                    .as_deref()
                    .is_some_and(|c| c.eq_ignore_ascii_case(&payment.currency)) =>
        {
            PaymentOutcome::Failed {
                reason: "amount_mismatch".into(),
            }
        }
        _ => outcome,
    };
    settle(
        &st,
        scope,
        &payment,
        PaymentRef::Reference(PaymentProvider::Stripe, &session),
        &outcome,
    )
    .await?;
    Ok(ok_json("{}"))
}

async fn settle(
    st: &AppState,
    scope: TenantScope,
    payment: &frontdesk_store::Payment,
    which: PaymentRef<'_>,
    outcome: &PaymentOutcome,
) -> Result<(), AppError> {
    if payment.status != PaymentStatus::Pending {
        return Ok(());
    }
    let text = settled_text(payment, outcome);
    let settled = st
        .store
        .settle_payment(scope, which, outcome, Some(&text), None)
        .await?;
    if settled.changed {
        metrics::counter!(
            "frontdesk_payments_total",
            "provider" => payment.provider.as_str(),
            "status" => outcome.status().as_str()
        )
        .increment(1);
        st.channels.wake.notify_one();
    }
    Ok(())
}

pub async fn mpesa_callback(
    State(st): State<AppState>,
    Path((slug, payment, secret)): Path<(String, String, String)>,
    body: Body,
) -> Result<Response, AppError> {
    let raw = read_body(body).await?;
    let (scope, account) = clinic(&st, &slug, PaymentProvider::Mpesa).await?;
    let id = PaymentId::parse(&payment).map_err(|_| unknown_payment())?;
    let payment = match st.store.check_payment_callback(scope, id, &secret).await {
        Ok(p) => p,
        Err(StoreError::NotFound) => return Err(unknown_payment()),
        Err(StoreError::Unauthorized) => return Err(bad_signature()),
        Err(e) => return Err(e.into()),
    };
    let result = mpesa::parse_callback(&raw).ok_or_else(malformed)?;
    use subtle::ConstantTimeEq;
    let same_request = payment
        .reference
        .as_deref()
        .is_some_and(|r| bool::from(r.as_bytes().ct_eq(result.checkout_request_id.as_bytes())));
    if !same_request {
        return Err(unknown_payment());
    }
    if payment.status != PaymentStatus::Pending {
        // A redelivery: acknowledged, nothing asked of Daraja, nothing changed.
        return Ok(ok_json(CALLBACK_ACCEPTED));
    }
    let outcome = match result.result_code {
        0 => paid_outcome(&st, &account, scope, &payment, &result).await,
        1032 => PaymentOutcome::Cancelled,
        code => PaymentOutcome::Failed {
            reason: format!("stk_{code}"),
        },
    };
    let reference = result.checkout_request_id.as_str();
    settle(
        &st,
        scope,
        &payment,
        PaymentRef::Reference(PaymentProvider::Mpesa, reference),
        &outcome,
    )
    .await?;
    Ok(ok_json(CALLBACK_ACCEPTED))
}

/// A callback that says "paid": the amount must be the one asked, and Daraja's STK query
/// must agree (a callback is authenticated only by its URL's secret). When the query cannot
/// be made (Daraja unreachable), the authenticated callback is trusted.
async fn paid_outcome(
    st: &AppState,
    account: &frontdesk_store::PaymentAccount,
    scope: TenantScope,
    payment: &frontdesk_store::Payment,
    result: &mpesa::StkResult,
) -> PaymentOutcome {
    if result.amount_kes.map(|a| a * 100) != Some(payment.amount_minor) {
        return PaymentOutcome::Failed {
            reason: "amount_mismatch".into(),
        };
    }
    let Some(receipt) = result.receipt.clone().filter(|r| !r.is_empty()) else {
        return PaymentOutcome::Failed {
            reason: "no_receipt".into(),
        };
    };
    let paid = PaymentOutcome::Paid { receipt };
    let Some(clients) = st.channels.payments.as_deref() else {
        return paid;
    };
    match confirm(
        clients,
        account,
        scope,
        &result.checkout_request_id,
        st.clock.now(),
    )
    .await
    {
        Some(0) | None => paid,
        Some(code) => {
            tracing::warn!(payment = %payment.id, code, "M-Pesa callback said paid; the STK query did not");
            PaymentOutcome::Failed {
                reason: format!("query_{code}"),
            }
        }
    }
}

async fn confirm(
    clients: &PaymentClients,
    account: &frontdesk_store::PaymentAccount,
    scope: TenantScope,
    checkout_request_id: &str,
    now: jiff::Timestamp,
) -> Option<i64> {
    let daraja = crate::payments::daraja_account(scope, account).ok()?;
    match clients
        .daraja
        .stk_query(&daraja, checkout_request_id, now)
        .await
    {
        Ok(code) => Some(code),
        Err(e) => {
            tracing::warn!(
                code = e.code(),
                "M-Pesa STK query failed; trusting the callback"
            );
            None
        }
    }
}
