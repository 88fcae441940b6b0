//! Unit tests of the shared channel types and helpers.

use super::*;

#[test]
fn stop_keywords_match_whole_message_case_insensitively() {
    for w in [
        "STOP",
        "stop",
        " Stop \n",
        "stopall",
        "Unsubscribe",
        "cancel",
        "END",
    ] {
        assert_eq!(sms_keyword(w), Some(Keyword::Stop), "{w}");
    }
    for w in ["quit", "REVOKE", "optout"] {
        assert_eq!(sms_keyword(w), Some(Keyword::Stop), "{w}");
    }
    for w in ["start", "YES", "Unstop"] {
        assert_eq!(sms_keyword(w), Some(Keyword::Start), "{w}");
    }
    for w in ["help", "INFO "] {
        assert_eq!(sms_keyword(w), Some(Keyword::Help), "{w}");
    }
}

#[test]
fn keywords_inside_a_sentence_are_not_keywords() {
    for w in [
        "please stop",
        "stop it",
        "STOP.",
        "yes please",
        "",
        "   ",
        "helpme",
    ] {
        assert_eq!(sms_keyword(w), None, "{w:?}");
    }
}

#[test]
fn buttons_degrade_to_numbered_lines_for_sms() {
    let body = OutboundBody::Buttons {
        text: "Which time?".into(),
        buttons: vec![
            ("a".into(), "Tue 10:00".into()),
            ("b".into(), "Wed 14:30".into()),
        ],
    };
    assert_eq!(plain_text(&body), "Which time?\n1. Tue 10:00\n2. Wed 14:30");
    let t = OutboundBody::Template {
        name: "reminder".into(),
        language: "en".into(),
        params: vec!["Amina".into(), "Tue 10:00".into()],
    };
    assert_eq!(plain_text(&t), "Amina\nTue 10:00");
}

#[test]
fn delivery_statuses_have_stored_names() {
    use DeliveryStatus::*;
    let all = [Queued, Sent, Delivered, Read, Failed { permanent: true }];
    let names: Vec<_> = all.into_iter().map(status_str).collect();
    assert_eq!(names, ["queued", "sent", "delivered", "read", "failed"]);
    assert_eq!(Failed { permanent: false }.as_str(), "failed");
}

#[test]
fn hex_round_trips_and_tolerates_uppercase() {
    assert_eq!(hex_lower(&[0x00, 0xab, 0xff, 0x10]), "00abff10");
    assert_eq!(hex_decode("00ABff10"), Some(vec![0x00, 0xab, 0xff, 0x10]));
    assert_eq!(hex_decode("abc"), None);
    assert_eq!(hex_decode("zz"), None);
    assert_eq!(hex_decode("+1"), None);
}

#[test]
fn secret_eq_rejects_empty_expected_and_mismatches() {
    assert!(secret_eq(b"s3cret", b"s3cret"));
    assert!(!secret_eq(b"s3cret", b"s3creT"));
    assert!(!secret_eq(b"s3cret", b"s3cret-longer"));
    assert!(!secret_eq(b"", b""));
}

#[test]
fn debug_output_hides_phone_numbers_and_text() {
    let m = InboundMessage {
        provider_message_id: "wamid.1".into(),
        from: "254700000001".into(),
        to: "123".into(),
        text: "my chest hurts".into(),
        reply_id: None,
        sent_at: None,
    };
    let out = Outbound {
        to: "+254700000001".into(),
        body: OutboundBody::Text("see you at 10".into()),
        idempotency_key: "k".into(),
    };
    let dbg = format!("{m:?} {out:?}");
    assert!(!dbg.contains("254700000001"), "{dbg}");
    assert!(!dbg.contains("chest"), "{dbg}");
    assert!(!dbg.contains("see you"), "{dbg}");
}

#[test]
fn parse_errors_never_quote_the_body() {
    let e = serde_json::from_slice::<serde_json::Value>(b"{\"secret phone +254700\": ")
        .map(|_| ())
        .map_err(ParseError::from)
        .unwrap_err();
    assert!(!e.to_string().contains("254700"));
    assert!(matches!(e, ParseError::Json { .. }));
}
