//! Payments (#11 items 4 and 5): a deposit or consultation fee asked for after a booking made
//! in conversation, by Stripe Checkout (a link) or M-Pesa STK push (a PIN prompt on the
//! patient's phone), and the provider's answer told to the patient in the same conversation.
//!
//! The flow, one transaction per step (see `frontdesk_store::payments`):
//! 1. A booking turn at a clinic that asks for payment says how to pay; the store records a
//!    pending payment (`payment.requested`) with a `payment.request` job.
//! 2. The worker runs the job ([`run_request`]): a Checkout Session or an STK push; its
//!    reference is stored (`payment.started`) with the patient's message (the link), or the
//!    payment fails and the patient is told how to try again. Provider outages retry.
//! 3. Stripe's signed webhook or Daraja's callback (`http/payments.rs`) settles the payment
//!    once (`payment.paid` / `.failed` / `.cancelled` / `.expired`) and tells the patient;
//!    a redelivery changes nothing.
//! 4. After a failure, cancellation or expiry the patient may reply `PAY` ([`pay_again`]).

pub mod mpesa;
pub mod stripe;

use crate::channels::SendError;
use frontdesk_domain::{AppointmentId, Clock, ConversationId, PatientId};
use frontdesk_store::{
    Actor, Channel, Job, Payment, PaymentAccount, PaymentOutcome, PaymentProvider, PaymentRef,
    PaymentRequestJob, PaymentStatus, Store, StoreError, TenantScope, format_amount,
};
use std::time::Duration;

pub use mpesa::DarajaClient;
pub use stripe::StripeClient;

/// How long a Stripe Checkout link works (Stripe allows 30 minutes to 24 hours).
pub const CHECKOUT_LIFETIME: jiff::SignedDuration = jiff::SignedDuration::from_hours(24);

/// What a patient replies to be asked again after a failed, cancelled or expired payment.
pub const PAY_KEYWORD: &str = "PAY";

/// The provider clients the worker asks for payments with.
#[derive(Debug)]
pub struct PaymentClients {
    pub stripe: StripeClient,
    pub daraja: DarajaClient,
    /// The public base URL: Stripe's return page and Daraja's CallBackURL are built on it.
    pub public_base: Option<String>,
}

impl PaymentClients {
    pub fn new(
        stripe_base: &str,
        public_base: Option<String>,
        timeout: Duration,
    ) -> Result<Self, reqwest::Error> {
        Ok(Self {
            stripe: StripeClient::with_base_url(stripe_base, timeout)?,
            daraja: DarajaClient::new(timeout)?,
            public_base,
        })
    }
}

/// How running a payment job went wrong.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The provider could not be reached or was busy: try again later.
    #[error("provider unavailable: {0}")]
    Retry(String),
}

/// Which payment and conversation a booking reply is about, and what to say of payment.
pub struct AfterBooking {
    pub sentence: String,
}

/// The sentence a booking reply gains at a clinic that asks for payment on this channel;
/// `None` when it asks for none. One read, made only on turns that booked.
pub async fn after_booking(
    store: &dyn Store,
    scope: TenantScope,
    channel: Channel,
) -> Result<Option<AfterBooking>, StoreError> {
    if !matches!(channel, Channel::Whatsapp | Channel::Sms | Channel::Webchat) {
        return Ok(None);
    }
    let Some(account) = store.payment_account(scope).await? else {
        return Ok(None);
    };
    if !account.enabled {
        return Ok(None);
    }
    Ok(Some(AfterBooking {
        sentence: asking(&account),
    }))
}

fn asking(account: &PaymentAccount) -> String {
    let s = &account.settings;
    let amount = format_amount(s.amount_minor, &s.currency);
    match s.provider {
        PaymentProvider::Stripe => format!(
            "The clinic asks for a deposit of {amount} to hold it: a secure payment link follows in a moment."
        ),
        PaymentProvider::Mpesa => format!(
            "The clinic asks for a deposit of {amount} to hold it: an M-Pesa prompt is on its way to your phone. Enter your M-Pesa PIN to pay."
        ),
    }
}

/// Records the payment for a booking just made in `conversation` (after the turn's own
/// transaction). A clinic that stopped asking meanwhile: nothing.
pub async fn request_after_booking(
    store: &dyn Store,
    scope: TenantScope,
    appointment: AppointmentId,
    conversation: ConversationId,
) -> Result<Option<Payment>, StoreError> {
    match store
        .request_payment(scope, appointment, Some(conversation), Actor::Agent)
        .await
    {
        Ok(p) => Ok(Some(p)),
        Err(StoreError::Conflict("payments_disabled" | "payment_exists")) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The patient replied `PAY`: a new request for the appointment whose last payment in this
/// conversation failed, was cancelled or expired. Answers what to tell them, or `None` when
/// the message is not `PAY` or there is nothing to pay again (the receptionist answers then).
pub async fn pay_again(
    store: &dyn Store,
    scope: TenantScope,
    conversation: ConversationId,
    patient: PatientId,
    text: &str,
) -> Result<Option<String>, StoreError> {
    if !text
        .trim()
        .trim_end_matches(['.', '!'])
        .eq_ignore_ascii_case(PAY_KEYWORD)
    {
        return Ok(None);
    }
    let Some(last) = store
        .latest_conversation_payment(scope, conversation)
        .await?
    else {
        return Ok(None);
    };
    if last.status == PaymentStatus::Pending {
        return Ok(Some(
            "Your payment request is still open: please complete it, or wait a minute and reply PAY again."
                .to_owned(),
        ));
    }
    if last.status == PaymentStatus::Paid {
        return Ok(Some(
            "Your payment has already been received. Thank you!".to_owned(),
        ));
    }
    let Some(account) = store.payment_account(scope).await?.filter(|a| a.enabled) else {
        return Ok(None);
    };
    match store
        .request_payment(
            scope,
            last.appointment,
            Some(conversation),
            Actor::Patient(patient),
        )
        .await
    {
        Ok(_) => Ok(Some(match account.settings.provider {
            PaymentProvider::Stripe => "A new payment link follows in a moment.".to_owned(),
            PaymentProvider::Mpesa => {
                "A new M-Pesa prompt is on its way to your phone. Enter your M-Pesa PIN to pay."
                    .to_owned()
            }
        })),
        Err(StoreError::Conflict("appointment_not_live")) | Err(StoreError::NotFound) => Ok(Some(
            "That appointment is no longer booked, so there is nothing to pay.".to_owned(),
        )),
        Err(StoreError::Conflict("payment_exists")) => Ok(Some(
            "Your payment request is still open: please complete it.".to_owned(),
        )),
        Err(StoreError::Conflict("payments_disabled")) => Ok(None),
        Err(e) => Err(e),
    }
}

/// What the patient is told when a payment ends.
pub fn settled_text(p: &Payment, outcome: &PaymentOutcome) -> String {
    let amount = format_amount(p.amount_minor, &p.currency);
    match (outcome, p.provider) {
        (PaymentOutcome::Paid { receipt }, PaymentProvider::Mpesa) => format!(
            "Thank you: we have received your M-Pesa payment of {amount} (receipt {receipt}). Your appointment is held."
        ),
        (PaymentOutcome::Paid { .. }, PaymentProvider::Stripe) => format!(
            "Thank you: we have received your payment of {amount}. Your appointment is held."
        ),
        (PaymentOutcome::Cancelled, _) => format!(
            "The payment of {amount} was cancelled. Reply {PAY_KEYWORD} to try again whenever you are ready."
        ),
        (PaymentOutcome::Expired, _) => {
            format!("The payment link for {amount} has expired. Reply {PAY_KEYWORD} for a new one.")
        }
        (PaymentOutcome::Failed { .. }, _) => format!(
            "The payment of {amount} did not go through. Reply {PAY_KEYWORD} to try again, or call the clinic."
        ),
    }
}

/// Runs a `payment.request` job: asks the provider, then records the answer (or the failure)
/// with the job's completion.
pub async fn run_request(
    store: &dyn Store,
    clients: &PaymentClients,
    clock: &dyn Clock,
    job: &Job,
) -> Result<(), RequestError> {
    let scope = job.lease.scope;
    let payload: PaymentRequestJob = serde_json::from_value(job.payload.clone())
        .map_err(|_| StoreError::Corrupt("payment job payload"))?;
    let p = store.payment(scope, payload.payment).await?;
    if p.status != PaymentStatus::Pending || p.reference.is_some() {
        // Done already (a job claimed again after its lease ran out).
        store.finish_job(&job.lease).await?;
        return Ok(());
    }
    let Some(account) = store.payment_account(scope).await? else {
        return fail(store, job, &p, "not_configured").await;
    };
    let result = match p.provider {
        PaymentProvider::Stripe => start_stripe(store, clients, clock, scope, &p, &account).await,
        PaymentProvider::Mpesa => start_mpesa(store, clients, clock, scope, &p, &account).await,
    };
    match result {
        Ok(Started { reference, text }) => {
            store
                .payment_started(scope, p.id, &reference, text.as_deref(), Some(&job.lease))
                .await?;
            Ok(())
        }
        Err(Refused::Store(e)) => Err(e.into()),
        Err(Refused::Provider(SendError::Retryable { code, .. }))
            if job.lease.attempt < job.max_attempts =>
        {
            Err(RequestError::Retry(code))
        }
        Err(Refused::Provider(e)) => fail(store, job, &p, e.code()).await,
        Err(Refused::Unusable(code)) => fail(store, job, &p, code).await,
    }
}

/// The provider refused for good (or kept failing): the payment fails, the patient is told
/// and may reply PAY.
async fn fail(store: &dyn Store, job: &Job, p: &Payment, code: &str) -> Result<(), RequestError> {
    tracing::warn!(payment = %p.id, provider = p.provider.as_str(), code, "payment request refused");
    let outcome = PaymentOutcome::Failed {
        reason: format!("request_{code}"),
    };
    let text = settled_text(p, &outcome);
    store
        .settle_payment(
            job.lease.scope,
            PaymentRef::Id(p.id),
            &outcome,
            Some(&text),
            Some(&job.lease),
        )
        .await?;
    Ok(())
}

struct Started {
    reference: String,
    /// What to tell the patient now (the Stripe link); `None` when the booking reply said it.
    text: Option<String>,
}

enum Refused {
    Store(StoreError),
    Provider(SendError),
    /// Settings or data that cannot work (no secret, no public URL, no Kenyan phone).
    Unusable(&'static str),
}

impl From<StoreError> for Refused {
    fn from(e: StoreError) -> Self {
        Refused::Store(e)
    }
}

async fn start_stripe(
    store: &dyn Store,
    clients: &PaymentClients,
    clock: &dyn Clock,
    scope: TenantScope,
    p: &Payment,
    account: &PaymentAccount,
) -> Result<Started, Refused> {
    let key = account.secrets.get("secret_key").filter(|k| !k.is_empty());
    let Some(key) = key else {
        return Err(Refused::Unusable("no_secret_key"));
    };
    let Some(base) = &clients.public_base else {
        return Err(Refused::Unusable("no_public_url"));
    };
    let clinic = store.clinic(scope).await?;
    let success_url = format!("{base}/chat/{}?paid=1", clinic.slug.as_str());
    let name = format!("Deposit — {}", clinic.profile.name);
    let session = clients
        .stripe
        .create_checkout_session(
            key,
            &stripe::CheckoutRequest {
                payment: p.id,
                amount_minor: p.amount_minor,
                currency: &p.currency,
                product_name: &name,
                success_url: &success_url,
                expires_at: clock.now() + CHECKOUT_LIFETIME,
            },
        )
        .await
        .map_err(Refused::Provider)?;
    let url = session.url.unwrap_or_default();
    let amount = format_amount(p.amount_minor, &p.currency);
    Ok(Started {
        reference: session.id,
        text: Some(format!(
            "To pay the deposit of {amount}, open this secure Stripe page: {url} (the link works for 24 hours; your card details go to Stripe, never to us)."
        )),
    })
}

/// A clinic's Daraja credentials and shortcode from its payment settings; the code of what is
/// missing otherwise.
pub fn daraja_account(
    scope: TenantScope,
    account: &PaymentAccount,
) -> Result<mpesa::DarajaAccount<'_>, &'static str> {
    let s = &account.secrets;
    let (Some(consumer_key), Some(consumer_secret), Some(passkey)) = (
        s.get("consumer_key"),
        s.get("consumer_secret"),
        s.get("passkey"),
    ) else {
        return Err("no_credentials");
    };
    let config = &account.settings.config;
    let shortcode = config.get("shortcode").and_then(|v| v.as_str());
    let Some(shortcode) = shortcode.filter(|c| !c.is_empty()) else {
        return Err("no_shortcode");
    };
    Ok(mpesa::DarajaAccount {
        tenant: scope.tenant_id(),
        base_url: config
            .get("api_base")
            .and_then(|v| v.as_str())
            .unwrap_or(mpesa::SANDBOX_BASE_URL)
            .trim_end_matches('/'),
        consumer_key,
        consumer_secret,
        shortcode,
        passkey,
    })
}

async fn start_mpesa(
    store: &dyn Store,
    clients: &PaymentClients,
    clock: &dyn Clock,
    scope: TenantScope,
    p: &Payment,
    account: &PaymentAccount,
) -> Result<Started, Refused> {
    let daraja = daraja_account(scope, account).map_err(Refused::Unusable)?;
    let Some(public) = &clients.public_base else {
        return Err(Refused::Unusable("no_public_url"));
    };
    let patient = store.patient(scope, p.patient).await?;
    let Some(phone) = patient
        .phone
        .as_ref()
        .and_then(|ph| mpesa::daraja_phone(ph.as_str()))
    else {
        return Err(Refused::Unusable("no_kenyan_phone"));
    };
    let clinic = store.clinic(scope).await?;
    // The callback's secret: random, only its hash kept, armed before Daraja hears of it.
    let token = frontdesk_store::crypto::new_token("");
    store
        .arm_payment_callback(scope, p.id, &frontdesk_store::crypto::token_hash(&token))
        .await?;
    let callback_url = format!(
        "{public}/webhooks/mpesa/{}/{}/{}",
        clinic.slug.as_str(),
        p.id,
        token.as_str()
    );
    // Shown in the prompt beside the business name: the clinic, at most 12 characters.
    let reference: String = clinic
        .slug
        .as_str()
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(12)
        .collect();
    let accepted = clients
        .daraja
        .stk_push(
            &daraja,
            &mpesa::StkPush {
                amount_kes: p.amount_minor / 100,
                phone: &phone,
                callback_url: &callback_url,
                account_reference: &reference,
                description: "Deposit",
            },
            clock.now(),
        )
        .await
        .map_err(Refused::Provider)?;
    Ok(Started {
        reference: accepted.checkout_request_id,
        text: None,
    })
}

#[cfg(test)]
mod tests;
