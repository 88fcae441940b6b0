//! Payments (#11): a deposit or consultation fee for an appointment, asked for by Stripe
//! Checkout or by M-Pesa (Daraja) STK push.
//!
//! A clinic has at most one payment provider ([`PaymentAccount`]): what it asks (amount in
//! minor units and currency) and the provider's secrets, sealed with the tenant data key and
//! write-only like channel secrets. A [`Payment`] moves once, from `pending` to one of `paid`,
//! `failed`, `cancelled` or `expired`; a redelivered webhook or callback finds it settled and
//! changes nothing (and tells the patient nothing a second time). Each change is audited in
//! the transaction that makes it, and the patient's message is queued in the same one.
//! frontdesk never sees card numbers: Stripe's hosted Checkout page takes them.

use crate::channel::ChannelSecrets;
use crate::model::{Channel, str_enum};
use frontdesk_domain::{AppointmentId, ConversationId, DomainError, PatientId, PaymentId};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

str_enum!(
    /// Who takes the money.
    PaymentProvider { Stripe = "stripe", Mpesa = "mpesa" }
);

str_enum!(
    /// Where a payment stands. Only `pending` ever changes.
    PaymentStatus {
        Pending = "pending",
        Paid = "paid",
        Failed = "failed",
        Cancelled = "cancelled",
        Expired = "expired",
    }
);

/// The job that asks the provider for a payment (Checkout Session, STK push).
pub const PAYMENT_REQUEST_JOB: &str = "payment.request";

/// The payload of a [`PAYMENT_REQUEST_JOB`].
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct PaymentRequestJob {
    pub payment: PaymentId,
    /// Jobs of one conversation run in order (the worker groups them by this key).
    pub conversation: Option<ConversationId>,
}

/// What a clinic asks for, and of whom. `config` is non-secret JSON (Daraja shortcode, API
/// base); secrets go in [`ChannelSecrets`].
#[derive(Debug, Clone, PartialEq)]
pub struct PaymentSettings {
    pub provider: PaymentProvider,
    /// In the currency's minor unit (cents); M-Pesa takes whole shillings, so a multiple of 100.
    pub amount_minor: i64,
    /// ISO 4217, upper case (`KES`, `USD`).
    pub currency: String,
    pub config: serde_json::Value,
}

impl PaymentSettings {
    /// Checks amount and currency (M-Pesa: KES in whole shillings only).
    pub fn validate(&self) -> Result<(), DomainError> {
        let c = &self.currency;
        if c.len() != 3 || !c.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(DomainError::invalid(
                "currency",
                "three upper-case letters (ISO 4217)",
            ));
        }
        if self.amount_minor <= 0 || self.amount_minor > 100_000_000 {
            return Err(DomainError::invalid(
                "amount",
                "more than 0 and at most 1,000,000.00",
            ));
        }
        if self.provider == PaymentProvider::Mpesa && (c != "KES" || self.amount_minor % 100 != 0) {
            return Err(DomainError::invalid(
                "amount",
                "M-Pesa takes whole Kenyan shillings (KES, a multiple of 100 cents)",
            ));
        }
        Ok(())
    }

    /// The secrets this provider needs: which must be set for the account to work.
    pub fn required_secrets(&self) -> &'static [&'static str] {
        match self.provider {
            PaymentProvider::Stripe => &["secret_key", "webhook_secret"],
            PaymentProvider::Mpesa => &["consumer_key", "consumer_secret", "passkey"],
        }
    }
}

/// A clinic's payment provider with its secrets (server side only: never shown).
#[derive(Clone)]
pub struct PaymentAccount {
    pub settings: PaymentSettings,
    /// `false`: configured, but not asking for payments.
    pub enabled: bool,
    pub secrets: ChannelSecrets,
    pub updated_at: Timestamp,
}

impl std::fmt::Debug for PaymentAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PaymentAccount")
            .field("settings", &self.settings)
            .field("enabled", &self.enabled)
            .field("secrets", &self.secrets.names())
            .finish_non_exhaustive()
    }
}

/// One request for money for one appointment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payment {
    pub id: PaymentId,
    pub appointment: AppointmentId,
    /// Where the patient asked (news of the payment goes there).
    pub conversation: Option<ConversationId>,
    pub patient: PatientId,
    pub channel: Channel,
    pub provider: PaymentProvider,
    pub amount_minor: i64,
    pub currency: String,
    pub status: PaymentStatus,
    /// Stripe Checkout Session id or Daraja CheckoutRequestID, once the provider answered.
    pub reference: Option<String>,
    /// Stripe payment_intent or M-Pesa receipt number, once paid.
    pub receipt: Option<String>,
    /// Why it failed (a provider code, never patient text).
    pub reason: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub settled_at: Option<Timestamp>,
}

/// How a pending payment ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentOutcome {
    Paid {
        receipt: String,
    },
    /// `reason`: a short code (`stk_1037`, `async_payment_failed`, `request_refused`).
    Failed {
        reason: String,
    },
    Cancelled,
    Expired,
}

impl PaymentOutcome {
    pub fn status(&self) -> PaymentStatus {
        match self {
            PaymentOutcome::Paid { .. } => PaymentStatus::Paid,
            PaymentOutcome::Failed { .. } => PaymentStatus::Failed,
            PaymentOutcome::Cancelled => PaymentStatus::Cancelled,
            PaymentOutcome::Expired => PaymentStatus::Expired,
        }
    }
}

/// Which payment a provider's news is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentRef<'a> {
    Id(PaymentId),
    /// The provider's reference (Checkout Session id, CheckoutRequestID).
    Reference(PaymentProvider, &'a str),
}

/// What [`crate::PaymentStore::settle_payment`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settled {
    pub payment: Payment,
    /// `false`: it was settled already (a redelivery): nothing changed, nothing was sent.
    pub changed: bool,
}

/// The amount for people: `KES 500`, `USD 25.00`.
pub fn format_amount(amount_minor: i64, currency: &str) -> String {
    let (major, minor) = (amount_minor / 100, amount_minor % 100);
    if minor == 0 && currency == "KES" {
        format!("{currency} {major}")
    } else {
        format!("{currency} {major}.{minor:02}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(provider: PaymentProvider, amount_minor: i64, currency: &str) -> PaymentSettings {
        PaymentSettings {
            provider,
            amount_minor,
            currency: currency.into(),
            config: serde_json::json!({}),
        }
    }

    #[test]
    fn mpesa_takes_whole_shillings_only_and_currencies_are_iso_codes() {
        assert!(
            settings(PaymentProvider::Mpesa, 50_000, "KES")
                .validate()
                .is_ok()
        );
        assert!(
            settings(PaymentProvider::Mpesa, 50_050, "KES")
                .validate()
                .is_err()
        );
        assert!(
            settings(PaymentProvider::Mpesa, 50_000, "USD")
                .validate()
                .is_err()
        );
        assert!(
            settings(PaymentProvider::Stripe, 2_550, "USD")
                .validate()
                .is_ok()
        );
        assert!(
            settings(PaymentProvider::Stripe, 2_550, "usd")
                .validate()
                .is_err()
        );
        assert!(
            settings(PaymentProvider::Stripe, 0, "USD")
                .validate()
                .is_err()
        );
    }

    #[test]
    fn amounts_read_as_people_write_them() {
        assert_eq!(format_amount(50_000, "KES"), "KES 500");
        assert_eq!(format_amount(2_550, "USD"), "USD 25.50");
        assert_eq!(format_amount(2_500, "NZD"), "NZD 25.00");
    }
}
