//! Payments on both engines: settings sealed and write-only in the audit log; a payment
//! requested once per appointment with its job; started and settled once (a redelivered
//! webhook or callback changes nothing and tells the patient nothing twice), each change
//! audited and told to the patient in its own transaction; M-Pesa callback secrets checked
//! whole; another clinic's payments not found.

use crate::appointments::{WED_10, booking, diary};
use crate::harness::*;
use frontdesk_domain::{AppointmentId, ConversationId, PaymentId};
use frontdesk_store::testing::TestDb;
use frontdesk_store::*;

engine_tests!(
    payment_settings_are_sealed_and_their_secrets_never_reach_the_audit_log,
    a_payment_is_requested_started_and_settled_once_and_the_patient_told_once,
    a_failed_payment_can_be_asked_for_again_but_a_pending_or_paid_one_cannot,
    an_mpesa_callback_secret_opens_only_its_own_payment,
    another_clinics_payments_are_not_found,
);

fn stripe() -> (PaymentSettings, ChannelSecrets) {
    (
        PaymentSettings {
            provider: PaymentProvider::Stripe,
            amount_minor: 2_500,
            currency: "NZD".into(),
            config: serde_json::json!({}),
        },
        ChannelSecrets::new()
            .with("secret_key", "sk_test_abc123")
            .with("webhook_secret", "whsec_current"),
    )
}

/// A clinic asking for a Stripe deposit, one booked appointment and the SMS conversation it
/// was booked in.
async fn booked(db: &TestDb) -> (crate::appointments::Diary, AppointmentId, ConversationId) {
    let d = diary(db, 1).await;
    let (settings, secrets) = stripe();
    d.store
        .set_payment_settings(d.scope, &settings, &secrets, Actor::Operator)
        .await
        .unwrap();
    let appt = d
        .store
        .book_appointment(d.scope, &booking(&d, 0, WED_10, "pay-1"))
        .await
        .unwrap();
    let conv = d
        .store
        .start_conversation(d.scope, d.patients[0], Channel::Sms)
        .await
        .unwrap();
    (d, appt.id, conv)
}

/// [`booked`], with the payment the agent asked for in that conversation.
async fn requested(
    db: &TestDb,
) -> (
    crate::appointments::Diary,
    AppointmentId,
    ConversationId,
    Payment,
) {
    let (d, appt, conv) = booked(db).await;
    let p = d
        .store
        .request_payment(d.scope, appt, Some(conv), Actor::Agent)
        .await
        .unwrap();
    (d, appt, conv, p)
}

async fn payment_settings_are_sealed_and_their_secrets_never_reach_the_audit_log(db: &TestDb) {
    let d = diary(db, 0).await;
    let store = &*d.store;
    assert!(store.payment_account(d.scope).await.unwrap().is_none());
    let (settings, secrets) = stripe();
    store
        .set_payment_settings(d.scope, &settings, &secrets, Actor::Operator)
        .await
        .unwrap();
    let account = store.payment_account(d.scope).await.unwrap().unwrap();
    assert_eq!(account.settings, settings);
    assert!(account.enabled);
    assert_eq!(account.secrets.get("secret_key"), Some("sk_test_abc123"));
    assert!(!format!("{account:?}").contains("sk_test_abc123"));

    // Invalid settings change nothing.
    let bad = PaymentSettings {
        provider: PaymentProvider::Mpesa,
        currency: "NZD".into(),
        ..settings.clone()
    };
    assert_err!(
        store
            .set_payment_settings(d.scope, &bad, &secrets, Actor::Operator)
            .await,
        StoreError::Invalid(_)
    );
    assert!(
        store
            .disable_payments(d.scope, Actor::Operator)
            .await
            .unwrap()
    );
    assert!(
        !store
            .disable_payments(d.scope, Actor::Operator)
            .await
            .unwrap()
    );
    assert!(
        !store
            .payment_account(d.scope)
            .await
            .unwrap()
            .unwrap()
            .enabled
    );

    let audit = all_audit(store, d.scope).await;
    let actions: Vec<&str> = audit
        .iter()
        .map(|e| e.action.as_str())
        .filter(|a| a.starts_with("payments."))
        .collect();
    assert_eq!(actions, ["payments.configured", "payments.disabled"]);
    for e in &audit {
        assert!(!e.details.contains("sk_test_abc123"), "never a secret");
        assert!(!e.details.contains("whsec_current"), "never a secret");
    }
    // The ciphertext is not the plaintext.
    let mut raw = crate::raw::Raw::open(db).await;
    let sealed = raw
        .blob(
            "SELECT secrets_ct FROM payment_settings WHERE tenant_id = $1",
            &[d.scope.tenant_id().as_uuid()],
        )
        .await;
    assert!(!sealed.is_empty());
    assert!(
        !String::from_utf8_lossy(&sealed).contains("sk_test_abc123"),
        "sealed, not stored as it came"
    );

    // The clinic's key rotates: the settings are re-sealed under the new version and the old
    // one is destroyed, and they still open.
    store
        .rotate_tenant_key(d.scope, Actor::Operator)
        .await
        .unwrap();
    d.clock
        .advance(SEAL_WITH_NEW_AFTER + REENCRYPT_AFTER + jiff::SignedDuration::from_secs(1));
    let mut destroyed = Vec::new();
    for _ in 0..10 {
        let batch = store.reencrypt_tenant_batch(d.scope, 10).await.unwrap();
        if !batch.destroyed.is_empty() {
            destroyed = batch.destroyed;
            break;
        }
    }
    assert_eq!(destroyed, vec![1]);
    let account = store.payment_account(d.scope).await.unwrap().unwrap();
    assert_eq!(account.secrets.get("webhook_secret"), Some("whsec_current"));
}

async fn a_payment_is_requested_started_and_settled_once_and_the_patient_told_once(db: &TestDb) {
    let (d, appt, conv, p) = requested(db).await;
    let store = &*d.store;
    assert_eq!(p.status, PaymentStatus::Pending);
    assert_eq!((p.amount_minor, p.currency.as_str()), (2_500, "NZD"));
    assert_eq!(p.patient, d.patients[0]);
    assert_eq!(p.channel, Channel::Sms);
    let jobs = store
        .claim_jobs("w", jiff::SignedDuration::from_mins(1), 10)
        .await
        .unwrap();
    let job = jobs
        .iter()
        .find(|j| j.kind == PAYMENT_REQUEST_JOB)
        .expect("the request job");
    assert_eq!(job.payload["payment"], p.id.to_string());

    let link = "Pay the deposit here: https://checkout.stripe.com/c/pay/cs_test_1";
    assert!(
        store
            .payment_started(d.scope, p.id, "cs_test_1", Some(link), Some(&job.lease))
            .await
            .unwrap()
    );
    assert!(
        !store
            .payment_started(d.scope, p.id, "cs_test_1", Some(link), None)
            .await
            .unwrap(),
        "the same answer again changes nothing"
    );
    let found = store
        .payment_by_reference(d.scope, PaymentProvider::Stripe, "cs_test_1")
        .await
        .unwrap();
    assert_eq!(found.id, p.id);

    let paid = PaymentOutcome::Paid {
        receipt: "pi_test_1".into(),
    };
    let which = PaymentRef::Reference(PaymentProvider::Stripe, "cs_test_1");
    let first = store
        .settle_payment(d.scope, which, &paid, Some("Thank you: paid."), None)
        .await
        .unwrap();
    assert!(first.changed);
    assert_eq!(first.payment.status, PaymentStatus::Paid);
    assert_eq!(first.payment.receipt.as_deref(), Some("pi_test_1"));
    assert!(first.payment.settled_at.is_some());
    // Redelivered, or a late contrary event: nothing changes, nothing is sent.
    for outcome in [paid.clone(), PaymentOutcome::Expired] {
        let again = store
            .settle_payment(d.scope, which, &outcome, Some("Thank you: paid."), None)
            .await
            .unwrap();
        assert!(!again.changed);
        assert_eq!(again.payment.status, PaymentStatus::Paid);
    }

    let bodies: Vec<String> = store
        .messages(d.scope, conv)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.body)
        .collect();
    assert_eq!(bodies, [link, "Thank you: paid."]);
    let outbox = store.outbox_entries(d.scope, 10).await.unwrap();
    assert_eq!(outbox.len(), 2, "each message queued once for SMS delivery");

    let audit = all_audit(store, d.scope).await;
    let actions: Vec<&str> = audit
        .iter()
        .map(|e| e.action.as_str())
        .filter(|a| a.starts_with("payment."))
        .collect();
    assert_eq!(
        actions,
        ["payment.requested", "payment.started", "payment.paid"]
    );
    assert!(store.verify_audit_chain(d.scope).await.unwrap().is_intact());
    assert_eq!(
        store.appointment_payments(d.scope, &[appt]).await.unwrap(),
        vec![first.payment.clone()]
    );
    assert_eq!(
        store
            .latest_conversation_payment(d.scope, conv)
            .await
            .unwrap(),
        Some(first.payment)
    );
}

async fn a_failed_payment_can_be_asked_for_again_but_a_pending_or_paid_one_cannot(db: &TestDb) {
    let (d, appt, conv, p) = requested(db).await;
    let store = &*d.store;
    assert_err!(
        store
            .request_payment(d.scope, appt, Some(conv), Actor::Agent)
            .await,
        StoreError::Conflict("payment_exists")
    );
    let failed = PaymentOutcome::Failed {
        reason: "request_refused".into(),
    };
    let s = store
        .settle_payment(d.scope, PaymentRef::Id(p.id), &failed, None, None)
        .await
        .unwrap();
    assert_eq!(s.payment.status, PaymentStatus::Failed);
    assert_eq!(s.payment.reason.as_deref(), Some("request_refused"));
    let again = store
        .request_payment(d.scope, appt, Some(conv), Actor::Patient(d.patients[0]))
        .await
        .unwrap();
    assert_ne!(again.id, p.id);
    // Payments off: nothing is asked.
    store
        .settle_payment(
            d.scope,
            PaymentRef::Id(again.id),
            &PaymentOutcome::Cancelled,
            None,
            None,
        )
        .await
        .unwrap();
    store
        .disable_payments(d.scope, Actor::Operator)
        .await
        .unwrap();
    assert_err!(
        store
            .request_payment(d.scope, appt, None, Actor::Agent)
            .await,
        StoreError::Conflict("payments_disabled")
    );
}

async fn an_mpesa_callback_secret_opens_only_its_own_payment(db: &TestDb) {
    let (d, _, _, p) = requested(db).await;
    let store = &*d.store;
    // Not armed yet: no secret opens it.
    assert_err!(
        store
            .check_payment_callback(d.scope, p.id, "anything")
            .await,
        StoreError::Unauthorized
    );
    let secret = "cb_0123456789abcdefghijklmnopqrstuvwxyzABCDEF";
    store
        .arm_payment_callback(d.scope, p.id, &crypto::token_hash(secret))
        .await
        .unwrap();
    assert_eq!(
        store
            .check_payment_callback(d.scope, p.id, secret)
            .await
            .unwrap()
            .id,
        p.id
    );
    for bad in [
        "",
        &secret[..secret.len() - 1],
        "cb_0123456789abcdefghijklmnopqrstuvwxyzABCDEG",
    ] {
        assert_err!(
            store.check_payment_callback(d.scope, p.id, bad).await,
            StoreError::Unauthorized
        );
    }
    assert_err!(
        store
            .check_payment_callback(d.scope, PaymentId::new(), secret)
            .await,
        StoreError::NotFound
    );
    // Once the provider has answered, it cannot be armed again.
    store
        .payment_started(d.scope, p.id, "ws_CO_1", None, None)
        .await
        .unwrap();
    assert_err!(
        store
            .arm_payment_callback(d.scope, p.id, &crypto::token_hash("other"))
            .await,
        StoreError::Conflict(_)
    );
}

async fn another_clinics_payments_are_not_found(db: &TestDb) {
    let (d, appt, _, p) = requested(db).await;
    let store = &*d.store;
    store
        .payment_started(d.scope, p.id, "cs_test_mine", Some("link"), None)
        .await
        .unwrap();
    let other = new_tenant(store, "other-clinic").await;
    let (settings, secrets) = stripe();
    store
        .set_payment_settings(other, &settings, &secrets, Actor::Operator)
        .await
        .unwrap();
    assert_err!(store.payment(other, p.id).await, StoreError::NotFound);
    assert_err!(
        store
            .payment_by_reference(other, PaymentProvider::Stripe, "cs_test_mine")
            .await,
        StoreError::NotFound
    );
    assert_err!(
        store
            .settle_payment(
                other,
                PaymentRef::Reference(PaymentProvider::Stripe, "cs_test_mine"),
                &PaymentOutcome::Expired,
                None,
                None
            )
            .await,
        StoreError::NotFound
    );
    assert_err!(
        store.request_payment(other, appt, None, Actor::Agent).await,
        StoreError::NotFound
    );
    assert!(
        store
            .appointment_payments(other, &[appt])
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store.payment(d.scope, p.id).await.unwrap().status,
        PaymentStatus::Pending
    );
    // The webhook scope names an active clinic by slug, and only that.
    assert_eq!(
        store
            .payment_webhook_scope(&slug("diary-clinic"))
            .await
            .unwrap(),
        d.scope
    );
    assert_err!(
        store.payment_webhook_scope(&slug("no-such-clinic")).await,
        StoreError::NotFound
    );
}
