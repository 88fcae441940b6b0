//! Known answers for the payment providers' schemes: Stripe's signature vector from
//! PROVIDERS.md (computed with stripe-python's `WebhookSignature`), Daraja's password and
//! timestamp, and the readings of both providers' documented payloads.

use super::mpesa::{daraja_phone, daraja_timestamp, parse_callback, stk_password};
use super::stripe::{StripeNews, parse_event, verify_signature};
use crate::outbound::sign::VerifyError;
use jiff::Timestamp;

const KAT_SECRET: &str = "whsec_test_secret";
const KAT_BODY: &str = r#"{"id":"evt_test_webhook","object":"event"}"#;
const KAT_HEADER: &str =
    "t=1700000000,v1=d95c6b7477fbd7e9f90b1b0ef5f9c7ac25abca5382460e0d988c2b2a5b71b990";

fn at(secs: i64) -> Timestamp {
    Timestamp::from_second(secs).unwrap()
}

#[test]
fn stripe_known_answer_verifies_with_its_secret_only() {
    let body = KAT_BODY.as_bytes();
    assert_eq!(
        verify_signature(KAT_HEADER, body, &[KAT_SECRET], at(1_700_000_000)),
        Ok(())
    );
    // Either of two secrets (a rotation), in either order.
    assert_eq!(
        verify_signature(
            KAT_HEADER,
            body,
            &["whsec_other", KAT_SECRET],
            at(1_700_000_000)
        ),
        Ok(())
    );
    assert_eq!(
        verify_signature(KAT_HEADER, body, &["whsec_other"], at(1_700_000_000)),
        Err(VerifyError::Mismatch)
    );
    // One byte of the body changed.
    let tampered = KAT_BODY.replace("webhook", "webhooK");
    assert_eq!(
        verify_signature(
            KAT_HEADER,
            tampered.as_bytes(),
            &[KAT_SECRET],
            at(1_700_000_000)
        ),
        Err(VerifyError::Mismatch)
    );
    assert_eq!(
        verify_signature(KAT_HEADER, body, &[], at(1_700_000_000)),
        Err(VerifyError::NoSecret)
    );
    assert_eq!(
        verify_signature(KAT_HEADER, body, &[""], at(1_700_000_000)),
        Err(VerifyError::NoSecret),
        "an empty secret is never tried"
    );
}

#[test]
fn stripe_accepts_any_of_several_v1_values_and_ignores_other_schemes() {
    let v1 = KAT_HEADER.rsplit("v1=").next().unwrap();
    let header = format!("t=1700000000,v0=abc,v1={},v1={v1}", "0".repeat(64));
    assert_eq!(
        verify_signature(
            &header,
            KAT_BODY.as_bytes(),
            &[KAT_SECRET],
            at(1_700_000_000)
        ),
        Ok(())
    );
}

#[test]
fn stripe_timestamps_are_accepted_300_seconds_either_way_and_no_further() {
    let body = KAT_BODY.as_bytes();
    for now in [1_700_000_000 - 300, 1_700_000_000 + 300] {
        assert_eq!(
            verify_signature(KAT_HEADER, body, &[KAT_SECRET], at(now)),
            Ok(())
        );
    }
    assert_eq!(
        verify_signature(KAT_HEADER, body, &[KAT_SECRET], at(1_700_000_301)),
        Err(VerifyError::TooOld)
    );
    assert_eq!(
        verify_signature(KAT_HEADER, body, &[KAT_SECRET], at(1_699_999_699)),
        Err(VerifyError::InFuture)
    );
    for bad in ["", "v1=00", "t=1700000000", "t=abc,v1=00"] {
        assert!(
            verify_signature(bad, body, &[KAT_SECRET], at(1_700_000_000)).is_err(),
            "{bad}"
        );
    }
}

fn event(kind: &str, payment_status: &str) -> String {
    serde_json::json!({
        "id": "evt_1", "object": "event", "type": kind,
        "data": { "object": {
            "id": "cs_test_1", "object": "checkout.session", "amount_total": 2500,
            "currency": "nzd", "payment_intent": "pi_1", "payment_status": payment_status
        }}
    })
    .to_string()
}

#[test]
fn stripe_checkout_events_read_as_their_outcome() {
    let paid = StripeNews::Paid {
        session: "cs_test_1".into(),
        receipt: "pi_1".into(),
        amount_total: Some(2500),
        currency: Some("nzd".into()),
    };
    let read = |k: &str, s: &str| parse_event(event(k, s).as_bytes()).unwrap();
    assert_eq!(read("checkout.session.completed", "paid"), paid);
    assert_eq!(
        read("checkout.session.completed", "unpaid"),
        StripeNews::Ignored
    );
    assert_eq!(
        read("checkout.session.async_payment_succeeded", "paid"),
        paid
    );
    assert_eq!(
        read("checkout.session.async_payment_failed", "unpaid"),
        StripeNews::Failed {
            session: "cs_test_1".into()
        }
    );
    assert_eq!(
        read("checkout.session.expired", "unpaid"),
        StripeNews::Expired {
            session: "cs_test_1".into()
        }
    );
    assert_eq!(
        read("payment_intent.succeeded", "paid"),
        StripeNews::Ignored
    );
    assert_eq!(parse_event(b"not json"), None);
}

#[test]
fn daraja_password_and_timestamp_are_as_documented() {
    // Safaricom's sandbox shortcode and passkey, published in the Daraja docs.
    let passkey = "bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919";
    let password = stk_password("174379", passkey, "20160216165627");
    assert_eq!(
        password.as_str(),
        "MTc0Mzc5YmZiMjc5ZjlhYTliZGJjZjE1OGU5N2RkNzFhNDY3Y2QyZTBjODkzMDU5YjEwZjc4ZTZiNzJhZGExZWQyYzkxOTIwMTYwMjE2MTY1NjI3"
    );
    // Nairobi is UTC+3 all year.
    let t: Timestamp = "2026-12-06T21:30:05Z".parse().unwrap();
    assert_eq!(daraja_timestamp(t), "20261207003005");
}

#[test]
fn only_kenyan_mobile_numbers_become_daraja_phones() {
    assert_eq!(
        daraja_phone("+254712345678").as_deref(),
        Some("254712345678")
    );
    assert_eq!(
        daraja_phone("+254112345678").as_deref(),
        Some("254112345678")
    );
    assert_eq!(daraja_phone("+64215550199"), None);
    assert_eq!(daraja_phone("+25471234567"), None);
}

#[test]
fn daraja_callbacks_read_their_result_amount_and_receipt() {
    let paid = br#"{"Body":{"stkCallback":{"MerchantRequestID":"29115-34620561-1","CheckoutRequestID":"ws_CO_191220191020363925","ResultCode":0,"ResultDesc":"The service request is processed successfully.","CallbackMetadata":{"Item":[{"Name":"Amount","Value":1.00},{"Name":"MpesaReceiptNumber","Value":"NLJ7RT61SV"},{"Name":"Balance"},{"Name":"TransactionDate","Value":20191219102115},{"Name":"PhoneNumber","Value":254708374149}]}}}}"#;
    let r = parse_callback(paid).unwrap();
    assert_eq!(r.checkout_request_id, "ws_CO_191220191020363925");
    assert_eq!(r.result_code, 0);
    assert_eq!(r.amount_kes, Some(1));
    assert_eq!(r.receipt.as_deref(), Some("NLJ7RT61SV"));
    let cancelled = br#"{"Body":{"stkCallback":{"MerchantRequestID":"29115-34620561-1","CheckoutRequestID":"ws_CO_191220191020363925","ResultCode":1032,"ResultDesc":"Request cancelled by user"}}}"#;
    let r = parse_callback(cancelled).unwrap();
    assert_eq!((r.result_code, r.amount_kes, r.receipt), (1032, None, None));
    assert_eq!(parse_callback(b"{}"), None);
    assert_eq!(parse_callback(b"[1,2]"), None);
}
