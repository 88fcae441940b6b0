//! Known-answer vectors, rotation, tolerance edges and malformed headers.
//!
//! The expected hex values were computed independently of this code with Python's standard
//! library: `hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()`
//! (python3, 2026-12-06), with the secrets, `t` and body below.

use super::*;

/// `whsec_` + base64url of 32 bytes of 0x01.
const SECRET_A: &str = "whsec_AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE";
/// `whsec_` + base64url of bytes 0x00..=0x1f.
const SECRET_B: &str = "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";
const BODY: &[u8] = br#"{"id":"evt_0190f1a2-3b4c-7d5e-8f60-718293a4b5c6","type":"ping","created_at":"2026-12-06T20:00:00Z","tenant":"harbour-physio","data":{"test":true}}"#;
const T: i64 = 1_796_587_200;

fn at(secs: i64) -> Timestamp {
    Timestamp::from_second(secs).unwrap()
}
const HEX_A: &str = "076ac66e5695801e195259a5315cb5a97e51088e6a467d2df50b075807c38dfc";
const HEX_B: &str = "ef6418f7a35eabcb8a4ded6850ea25e2e6f10f9b0dc76420dfad37b6927e6c04";

fn secret(s: &str) -> WebhookSecret {
    WebhookSecret::parse(s).unwrap()
}

#[test]
fn signing_matches_python_hmac_known_answers() {
    assert_eq!(
        sign(BODY, &[secret(SECRET_A)], at(T)).unwrap(),
        format!("t={T},v1={HEX_A}")
    );
    assert_eq!(
        sign(BODY, &[secret(SECRET_B), secret(SECRET_A)], at(T)).unwrap(),
        format!("t={T},v1={HEX_B},v1={HEX_A}"),
        "rotation: both signatures, current first"
    );
    // An empty body at t=0: "0." alone is signed.
    assert_eq!(
        sign(b"", &[secret(SECRET_A)], at(0)).unwrap(),
        "t=0,v1=56705903fd8b160dd0c664778adf27229cca70e43222b5e8db07f7bc7d5c5e04"
    );
}

#[test]
fn nothing_is_signed_without_a_secret() {
    assert_eq!(sign(BODY, &[], at(T)), None);
}

#[test]
fn a_known_answer_header_verifies_and_tampering_does_not() {
    let header = format!("t={T},v1={HEX_A}");
    assert_eq!(verify(&header, BODY, &[secret(SECRET_A)], at(T)), Ok(()));
    let upper = format!("t={T}, v1={}", HEX_A.to_uppercase());
    assert_eq!(verify(&upper, BODY, &[secret(SECRET_A)], at(T)), Ok(()));
    let mut tampered = BODY.to_vec();
    tampered[10] ^= 1;
    assert_eq!(
        verify(&header, &tampered, &[secret(SECRET_A)], at(T)),
        Err(VerifyError::Mismatch)
    );
    assert_eq!(
        verify(&header, BODY, &[secret(SECRET_B)], at(T)),
        Err(VerifyError::Mismatch)
    );
    let other_time = format!("t={},v1={HEX_A}", T + 1);
    assert_eq!(
        verify(&other_time, BODY, &[secret(SECRET_A)], at(T)),
        Err(VerifyError::Mismatch),
        "the timestamp is signed"
    );
}

#[test]
fn during_rotation_either_secret_verifies() {
    let header = sign(BODY, &[secret(SECRET_B), secret(SECRET_A)], at(T)).unwrap();
    assert_eq!(verify(&header, BODY, &[secret(SECRET_A)], at(T)), Ok(()));
    assert_eq!(verify(&header, BODY, &[secret(SECRET_B)], at(T)), Ok(()));
    let unrelated = WebhookSecret::generate();
    assert_eq!(
        verify(&header, BODY, std::slice::from_ref(&unrelated), at(T)),
        Err(VerifyError::Mismatch)
    );
    // A receiver mid-rotation holds both; a sender that signs with the old one only passes.
    let old_only = sign(BODY, &[secret(SECRET_A)], at(T)).unwrap();
    assert_eq!(
        verify(&old_only, BODY, &[unrelated, secret(SECRET_A)], at(T)),
        Ok(())
    );
}

#[test]
fn the_tolerance_is_five_minutes_either_way() {
    let header = format!("t={T},v1={HEX_A}");
    let s = [secret(SECRET_A)];
    assert_eq!(verify(&header, BODY, &s, at(T + 300)), Ok(()));
    assert_eq!(
        verify(&header, BODY, &s, at(T + 301)),
        Err(VerifyError::TooOld)
    );
    assert_eq!(verify(&header, BODY, &s, at(T - 300)), Ok(()));
    assert_eq!(
        verify(&header, BODY, &s, at(T - 301)),
        Err(VerifyError::InFuture)
    );
    assert_eq!(
        verify_with_tolerance(&header, BODY, &s, at(T + 10), Duration::from_secs(5)),
        Err(VerifyError::TooOld)
    );
    assert_eq!(
        verify(&header, BODY, &s, Timestamp::MIN),
        Err(VerifyError::InFuture),
        "no overflow at the extremes"
    );
}

#[test]
fn malformed_headers_have_distinct_codes() {
    let s = [secret(SECRET_A)];
    let v1 = format!("v1={HEX_A}");
    let cases: Vec<(String, VerifyError)> = vec![
        (String::new(), VerifyError::Malformed),
        ("  ".into(), VerifyError::Malformed),
        ("garbage".into(), VerifyError::Malformed),
        (format!("t={T},,{v1}"), VerifyError::Malformed),
        (format!("t={T},=x,{v1}"), VerifyError::Malformed),
        (format!("t={T},v1=abc"), VerifyError::Malformed),
        (format!("t={T},v1={}", &HEX_A[..62]), VerifyError::Malformed),
        (
            format!("t={T},v1={}zz", &HEX_A[..62]),
            VerifyError::Malformed,
        ),
        (v1.clone(), VerifyError::MissingTimestamp),
        (format!("t=,{v1}"), VerifyError::BadTimestamp),
        (format!("t=abc,{v1}"), VerifyError::BadTimestamp),
        (format!("t=-{T},{v1}"), VerifyError::BadTimestamp),
        (format!("t=+{T},{v1}"), VerifyError::BadTimestamp),
        (
            format!("t=99999999999999999999,{v1}"),
            VerifyError::BadTimestamp,
        ),
        (format!("t={T},t={T},{v1}"), VerifyError::BadTimestamp),
        (format!("t={T}"), VerifyError::MissingSignature),
        (format!("t={T},v0={HEX_A}"), VerifyError::MissingSignature),
    ];
    for (header, want) in cases {
        assert_eq!(verify(&header, BODY, &s, at(T)), Err(want), "{header:?}");
    }
    assert_eq!(
        verify(&format!("t={T},{v1}"), BODY, &[], at(T)),
        Err(VerifyError::NoSecret)
    );
    // An unknown scheme beside a valid v1 is ignored (room for a future v2).
    assert_eq!(
        verify(&format!("t={T},v2=xyz,{v1}"), BODY, &s, at(T)),
        Ok(())
    );
    let codes: std::collections::HashSet<_> = [
        VerifyError::Malformed,
        VerifyError::MissingTimestamp,
        VerifyError::BadTimestamp,
        VerifyError::MissingSignature,
        VerifyError::NoSecret,
        VerifyError::Mismatch,
        VerifyError::TooOld,
        VerifyError::InFuture,
    ]
    .iter()
    .map(VerifyError::code)
    .collect();
    assert_eq!(codes.len(), 8);
}

#[test]
fn generated_secrets_are_fresh_well_formed_and_redacted() {
    let a = WebhookSecret::generate();
    let b = WebhookSecret::generate();
    assert!(a.expose().starts_with("whsec_"));
    assert_eq!(a.expose().len(), 6 + 43);
    assert_ne!(a.expose(), b.expose());
    assert_eq!(
        WebhookSecret::parse(a.expose()).unwrap().expose(),
        a.expose()
    );
    let debug = format!("{a:?}");
    assert!(!debug.contains(&a.expose()[6..]), "{debug}");
    assert!(debug.contains("redacted"));
}

#[test]
fn only_well_formed_secrets_parse() {
    for bad in [
        "",
        "whsec_",
        "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE",
        "whsk_AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE",
        "whsec_AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQ",
        "whsec_AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=",
        "whsec_AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQF",
        "whsec_AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQ",
        "whsec_AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEB+QE",
    ] {
        assert_eq!(WebhookSecret::parse(bad).unwrap_err(), SecretError, "{bad}");
    }
}

/// The example request in docs/API.md is signed with `SECRET_A`; it must keep verifying, and
/// its body must be exactly what `Envelope` emits.
#[test]
fn the_signed_example_in_api_md_verifies() {
    let doc = include_str!("../../../../docs/API.md");
    let header = doc
        .lines()
        .find_map(|l| l.strip_prefix("Frontdesk-Signature: t="))
        .map(|rest| format!("t={rest}"))
        .unwrap();
    let body = doc
        .lines()
        .find(|l| l.starts_with(r#"{"id":"evt_"#) && l.contains(r#""type":"appointment.created""#))
        .unwrap();
    assert_eq!(
        verify(&header, body.as_bytes(), &[secret(SECRET_A)], at(T)),
        Ok(())
    );
    let envelope = crate::outbound::event::Envelope::from_body(body.as_bytes()).unwrap();
    assert_eq!(envelope.to_body().unwrap(), body.as_bytes());
}
