//! Unit tests of the WhatsApp inbound side, with the known-answer vectors of PROVIDERS.md.

use super::*;

const SECRET: &[u8] = b"test_app_secret";
const VECTOR_UTF8: &str = r#"{"object":"whatsapp_business_account","entry":[{"id":"0","changes":[{"field":"messages","value":{"messages":[{"from":"254700000000","id":"wamid.TEST","timestamp":"1700000000","text":{"body":"Habari, ninahitaji miadi kesho — asante"},"type":"text"}]}}]}]}"#;
const SIG_UTF8: &str = "sha256=45040d2165f8e4a710940516df68b071c503b87b32259b6ffec63c270e2d108f";
const VECTOR_ESCAPED: &str = r#"{"object":"whatsapp_business_account","entry":[{"id":"0","changes":[{"field":"messages","value":{"messages":[{"from":"254700000000","id":"wamid.TEST","timestamp":"1700000000","text":{"body":"Habari, ninahitaji miadi kesho \u2014 asante"},"type":"text"}]}}]}]}"#;
const SIG_ESCAPED: &str = "sha256=326f6b16b45545cf8551af76d52ba691a3addef7f0a340c78e4f90958fed7ee2";

#[test]
fn signature_vectors_from_providers_md_verify() {
    assert_eq!(VECTOR_UTF8.len(), 256);
    assert!(verify_signature(
        SECRET,
        VECTOR_UTF8.as_bytes(),
        Some(SIG_UTF8)
    ));
    assert!(verify_signature(
        SECRET,
        VECTOR_ESCAPED.as_bytes(),
        Some(SIG_ESCAPED)
    ));
}

#[test]
fn the_two_encodings_are_different_bytes_and_signatures_do_not_cross() {
    assert!(!verify_signature(
        SECRET,
        VECTOR_UTF8.as_bytes(),
        Some(SIG_ESCAPED)
    ));
    assert!(!verify_signature(
        SECRET,
        VECTOR_ESCAPED.as_bytes(),
        Some(SIG_UTF8)
    ));
}

#[test]
fn uppercase_hex_is_accepted() {
    let upper = format!("sha256={}", SIG_UTF8["sha256=".len()..].to_uppercase());
    assert!(verify_signature(
        SECRET,
        VECTOR_UTF8.as_bytes(),
        Some(&upper)
    ));
}

#[test]
fn wrong_secret_missing_or_malformed_header_is_rejected() {
    let body = VECTOR_UTF8.as_bytes();
    assert!(!verify_signature(b"other_secret", body, Some(SIG_UTF8)));
    assert!(!verify_signature(b"", body, Some(SIG_UTF8)));
    assert!(!verify_signature(SECRET, body, None));
    assert!(!verify_signature(SECRET, body, Some("")));
    let hex = &SIG_UTF8["sha256=".len()..];
    assert!(!verify_signature(SECRET, body, Some(hex)), "no prefix");
    assert!(!verify_signature(
        SECRET,
        body,
        Some(&format!("sha1={hex}"))
    ));
    assert!(
        !verify_signature(SECRET, body, Some(&SIG_UTF8[..SIG_UTF8.len() - 2])),
        "short"
    );
    assert!(
        !verify_signature(SECRET, body, Some(&format!("{SIG_UTF8}00"))),
        "long"
    );
    assert!(
        !verify_signature(SECRET, body, Some(&SIG_UTF8.replace('f', "g"))),
        "non-hex"
    );
    let mut tampered = body.to_vec();
    tampered[100] ^= 1;
    assert!(!verify_signature(SECRET, &tampered, Some(SIG_UTF8)));
}

#[test]
fn handshake_echoes_challenge_only_for_subscribe_with_the_right_token() {
    let ok = verify_handshake(Some("subscribe"), Some("tok"), Some("1158201444"), "tok");
    assert_eq!(ok.as_deref(), Some("1158201444"));
    assert_eq!(
        verify_handshake(Some("subscribe"), Some("bad"), Some("1"), "tok"),
        None
    );
    assert_eq!(
        verify_handshake(Some("unsubscribe"), Some("tok"), Some("1"), "tok"),
        None
    );
    assert_eq!(verify_handshake(None, Some("tok"), Some("1"), "tok"), None);
    assert_eq!(
        verify_handshake(Some("subscribe"), None, Some("1"), "tok"),
        None
    );
    assert_eq!(
        verify_handshake(Some("subscribe"), Some("tok"), None, "tok"),
        None
    );
    assert_eq!(
        verify_handshake(Some("subscribe"), Some(""), Some("1"), ""),
        None,
        "unset token"
    );
    let html = verify_handshake(Some("subscribe"), Some("tok"), Some("<script> x"), "tok");
    assert_eq!(html, None, "not reflected");
}

#[test]
fn service_window_is_24_hours() {
    let now = 1_700_000_000;
    assert!(within_service_window(Some(now - 60), now));
    assert!(within_service_window(
        Some(now - SERVICE_WINDOW_SECS + 1),
        now
    ));
    assert!(!within_service_window(Some(now - SERVICE_WINDOW_SECS), now));
    assert!(!within_service_window(None, now));
    assert!(within_service_window(Some(now + 30), now), "clock skew");
    assert!(!within_service_window(Some(i64::MIN), i64::MAX));
}

fn hook(value: &str) -> String {
    format!(
        r#"{{"object":"whatsapp_business_account","entry":[{{"id":"WABA","changes":[{{"field":"messages","value":{{"messaging_product":"whatsapp","metadata":{{"display_phone_number":"15550001111","phone_number_id":"106540352242922"}},{value}}}}}]}}]}}"#
    )
}

fn message(ev: &InboundEvent) -> &InboundMessage {
    match ev {
        InboundEvent::Message(m) => m,
        other => panic!("not a message: {other:?}"),
    }
}

#[test]
fn text_message_is_parsed_with_channel_address_and_timestamp() {
    let raw = hook(
        r#""contacts":[{"profile":{"name":"A"},"wa_id":"254700000000"}],"messages":[{"from":"254700000000","id":"wamid.A1","timestamp":"1700000000","text":{"body":"Habari \u2014 miadi"},"type":"text"}]"#,
    );
    let evs = parse_webhook(raw.as_bytes()).unwrap();
    assert_eq!(
        evs,
        vec![InboundEvent::Message(InboundMessage {
            provider_message_id: "wamid.A1".into(),
            from: "254700000000".into(),
            to: "106540352242922".into(),
            text: "Habari — miadi".into(),
            reply_id: None,
            sent_at: Some(1_700_000_000),
        })]
    );
}

#[test]
fn button_list_and_template_replies_carry_the_reply_id() {
    let raw = hook(
        r#""messages":[
        {"from":"1","id":"w1","timestamp":"1","type":"interactive","interactive":{"type":"button_reply","button_reply":{"id":"slot_42","title":"Tue 10:00"}}},
        {"from":"1","id":"w2","timestamp":"2","type":"interactive","interactive":{"type":"list_reply","list_reply":{"id":"svc_7","title":"Physio","description":"45 min"}}},
        {"from":"1","id":"w3","timestamp":"3","type":"button","button":{"payload":"CONFIRM","text":"Yes, confirm"},"context":{"from":"15550001111","id":"wamid.prev"}}]"#,
    );
    let evs = parse_webhook(raw.as_bytes()).unwrap();
    let got: Vec<_> = evs
        .iter()
        .map(message)
        .map(|m| (m.text.as_str(), m.reply_id.as_deref()))
        .collect();
    assert_eq!(
        got,
        vec![
            ("Tue 10:00", Some("slot_42")),
            ("Physio", Some("svc_7")),
            ("Yes, confirm", Some("CONFIRM"))
        ]
    );
}

#[test]
fn media_and_unknown_types_are_unsupported_and_reactions_dropped() {
    let raw = hook(
        r#""messages":[
        {"from":"1","id":"img","timestamp":"1","type":"image","image":{"id":"media1","mime_type":"image/jpeg"}},
        {"from":"1","id":"aud","timestamp":"1","type":"audio","audio":{"id":"media2"}},
        {"from":"1","id":"flow","timestamp":"1","type":"interactive","interactive":{"type":"nfm_reply","nfm_reply":{}}},
        {"from":"1","id":"rx","timestamp":"1","type":"reaction","reaction":{"message_id":"w","emoji":"x"}}]"#,
    );
    let ids: Vec<_> = parse_webhook(raw.as_bytes())
        .unwrap()
        .into_iter()
        .map(|e| match e {
            InboundEvent::Unsupported {
                provider_message_id,
                to,
                ..
            } => {
                assert_eq!(to, "106540352242922");
                provider_message_id
            }
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(ids, ["img", "aud", "flow"]);
}

#[test]
fn statuses_map_to_delivery_status_with_classified_failures() {
    let raw = hook(
        r#""statuses":[
        {"id":"s1","status":"sent","timestamp":"1","recipient_id":"2547"},
        {"id":"s2","status":"delivered","timestamp":"1","recipient_id":"2547"},
        {"id":"s3","status":"read","timestamp":"1","recipient_id":"2547"},
        {"id":"s4","status":"failed","timestamp":"1","recipient_id":"2547","errors":[{"code":131047,"title":"Re-engagement message","message":"x"}]},
        {"id":"s5","status":"failed","timestamp":"1","recipient_id":"2547","errors":[{"code":131000,"title":"Something went wrong"}]},
        {"id":"s6","status":"deleted","timestamp":"1"}]"#,
    );
    let got: Vec<_> = parse_webhook(raw.as_bytes())
        .unwrap()
        .into_iter()
        .map(|e| match e {
            InboundEvent::Status(s) => {
                assert_eq!(s.to, "106540352242922");
                (s.provider_message_id, s.status, s.error_code)
            }
            other => panic!("{other:?}"),
        })
        .collect();
    use DeliveryStatus::*;
    assert_eq!(
        got,
        vec![
            ("s1".into(), Sent, None),
            ("s2".into(), Delivered, None),
            ("s3".into(), Read, None),
            (
                "s4".into(),
                Failed { permanent: true },
                Some("graph_131047".into())
            ),
            (
                "s5".into(),
                Failed { permanent: false },
                Some("graph_131000".into())
            ),
        ]
    );
}

#[test]
fn statuses_without_metadata_are_malformed() {
    let raw = r#"{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{"statuses":[{"id":"s1","status":"sent"}]}}]}]}"#;
    assert_eq!(
        parse_webhook(raw.as_bytes()),
        Err(ParseError::MissingField("metadata.phone_number_id"))
    );
}

#[test]
fn other_change_fields_and_empty_entries_yield_nothing() {
    let raw = r#"{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"message_template_status_update","value":{"event":"APPROVED"}}]},{"id":"2"}]}"#;
    assert_eq!(parse_webhook(raw.as_bytes()).unwrap(), vec![]);
}

#[test]
fn malformed_payloads_are_parse_errors() {
    assert!(matches!(
        parse_webhook(b"{not json"),
        Err(ParseError::Json { .. })
    ));
    assert!(matches!(parse_webhook(b""), Err(ParseError::Json { .. })));
    let page = br#"{"object":"page","entry":[]}"#;
    assert_eq!(parse_webhook(page), Err(ParseError::WrongObject));
    assert_eq!(parse_webhook(b"{}"), Err(ParseError::WrongObject));
    assert_eq!(
        parse_webhook(VECTOR_UTF8.as_bytes()),
        Err(ParseError::MissingField("metadata.phone_number_id")),
        "the signature vector has no metadata"
    );
    let no_id =
        hook(r#""messages":[{"from":"1","timestamp":"1","type":"text","text":{"body":"hi"}}]"#);
    assert_eq!(
        parse_webhook(no_id.as_bytes()),
        Err(ParseError::MissingField("messages[].id"))
    );
    let no_body = hook(r#""messages":[{"from":"1","id":"w","timestamp":"1","type":"text"}]"#);
    assert_eq!(
        parse_webhook(no_body.as_bytes()),
        Err(ParseError::MissingField("messages[].text.body"))
    );
}

#[test]
fn graph_codes_are_classified() {
    for c in [1, 2, 4, 80007, 130429, 131048, 131056, 131000] {
        assert_eq!(graph_code_retryable(c), Some(true), "{c}");
    }
    for c in [131047, 131026, 131051, 131052, 100, 190, 368, 131031] {
        assert_eq!(graph_code_retryable(c), Some(false), "{c}");
    }
    assert_eq!(graph_code_retryable(999_999), None);
}
