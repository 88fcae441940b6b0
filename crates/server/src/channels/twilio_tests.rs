//! Unit tests of the Twilio inbound side, with the known-answer vectors of PROVIDERS.md.

use super::*;

const TOKEN: &[u8] = b"12345";
const URL: &str = "https://mycompany.com/myapp.php?foo=1&bar=2";
const URL_443: &str = "https://mycompany.com:443/myapp.php?foo=1&bar=2";
const SIG: &str = "0/KCTR6DLpKmkAf8muzZqo1nDgQ=";
const JSON_BODY: &str = r#"{"property": "value", "boolean": true}"#;
const JSON_HASH: &str = "0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620";
const JSON_SIG: &str = "y77kIzt2vzLz71DgmJGsen2scGs=";

fn p(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn vector_params() -> Vec<(String, String)> {
    // Deliberately not in sorted order: the verifier sorts.
    p(&[
        ("To", "+18005551212"),
        ("CallSid", "CA1234567890ABCDE"),
        ("From", "+12349013030"),
        ("Digits", "1234"),
        ("Caller", "+12349013030"),
    ])
}

#[test]
fn form_vector_verifies_with_and_without_the_default_port() {
    assert!(verify_signature(TOKEN, URL, &vector_params(), Some(SIG)));
    assert!(verify_signature(
        TOKEN,
        URL_443,
        &vector_params(),
        Some(SIG)
    ));
}

#[test]
fn wrong_token_tampered_param_or_missing_header_is_rejected() {
    assert!(!verify_signature(
        b"54321",
        URL,
        &vector_params(),
        Some(SIG)
    ));
    assert!(!verify_signature(b"", URL, &vector_params(), Some(SIG)));
    let mut tampered = vector_params();
    tampered[3].1 = "1235".into();
    assert!(!verify_signature(TOKEN, URL, &tampered, Some(SIG)));
    let mut extra = vector_params();
    extra.push(("Body".into(), "hi".into()));
    assert!(!verify_signature(TOKEN, URL, &extra, Some(SIG)));
    assert!(!verify_signature(TOKEN, URL, &vector_params(), None));
    assert!(!verify_signature(TOKEN, URL, &vector_params(), Some("")));
    assert!(!verify_signature(
        TOKEN,
        URL,
        &vector_params(),
        Some("not base64!")
    ));
    let other_path = "https://mycompany.com/other.php?foo=1&bar=2";
    assert!(!verify_signature(
        TOKEN,
        other_path,
        &vector_params(),
        Some(SIG)
    ));
    let http = "http://mycompany.com/myapp.php?foo=1&bar=2";
    assert!(!verify_signature(TOKEN, http, &vector_params(), Some(SIG)));
}

#[test]
fn json_vector_verifies_and_checks_the_body_hash() {
    assert_eq!(body_sha256_hex(JSON_BODY.as_bytes()), JSON_HASH);
    let url = format!("https://mycompany.com/myapp.php?bodySHA256={JSON_HASH}");
    assert!(verify_json_signature(
        TOKEN,
        &url,
        JSON_BODY.as_bytes(),
        Some(JSON_SIG)
    ));
    let url_443 = format!("https://mycompany.com:443/myapp.php?bodySHA256={JSON_HASH}");
    assert!(verify_json_signature(
        TOKEN,
        &url_443,
        JSON_BODY.as_bytes(),
        Some(JSON_SIG)
    ));
    let tampered = r#"{"property": "value", "boolean": false}"#;
    assert!(!verify_json_signature(
        TOKEN,
        &url,
        tampered.as_bytes(),
        Some(JSON_SIG)
    ));
    assert!(!verify_json_signature(
        b"54321",
        &url,
        JSON_BODY.as_bytes(),
        Some(JSON_SIG)
    ));
    assert!(!verify_json_signature(
        TOKEN,
        &url,
        JSON_BODY.as_bytes(),
        None
    ));
    let no_hash = "https://mycompany.com/myapp.php";
    assert!(!verify_json_signature(
        TOKEN,
        no_hash,
        JSON_BODY.as_bytes(),
        Some(JSON_SIG)
    ));
}

#[test]
fn url_forms_add_or_strip_the_port_without_normalising() {
    assert_eq!(url_forms(URL), vec![URL.to_owned(), URL_443.to_owned()]);
    assert_eq!(url_forms(URL_443), vec![URL_443.to_owned(), URL.to_owned()]);
    assert_eq!(
        url_forms("http://u:p@h.example/x"),
        vec![
            "http://u:p@h.example/x".to_owned(),
            "http://u:p@h.example:80/x".to_owned()
        ]
    );
    assert_eq!(
        url_forms("https://[::1]:8443?a=b"),
        vec![
            "https://[::1]:8443?a=b".to_owned(),
            "https://[::1]?a=b".to_owned()
        ]
    );
    assert_eq!(
        url_forms("mycompany.com/x"),
        vec!["mycompany.com/x".to_owned()]
    );
}

#[test]
fn inbound_sms_is_a_message() {
    let ev = parse_inbound(&p(&[
        ("ToCountry", "US"),
        ("SmsMessageSid", "SM0001"),
        ("NumMedia", "0"),
        ("SmsSid", "SM0001"),
        ("SmsStatus", "received"),
        ("Body", "Can I move my appointment?"),
        ("To", "+15005550006"),
        ("MessageSid", "SM0001"),
        ("AccountSid", "AC0001"),
        ("From", "+254700000001"),
        ("ApiVersion", "2010-04-01"),
    ]))
    .unwrap();
    assert_eq!(
        ev,
        InboundEvent::Message(InboundMessage {
            provider_message_id: "SM0001".into(),
            from: "+254700000001".into(),
            to: "+15005550006".into(),
            text: "Can I move my appointment?".into(),
            reply_id: None,
            sent_at: None,
        })
    );
}

#[test]
fn media_only_mms_is_unsupported() {
    let ev = parse_inbound(&p(&[
        ("MessageSid", "MM1"),
        ("From", "+1"),
        ("To", "+2"),
        ("Body", ""),
        ("NumMedia", "1"),
    ]))
    .unwrap();
    assert!(
        matches!(ev, InboundEvent::Unsupported { provider_message_id, .. } if provider_message_id == "MM1")
    );
}

fn status_of(pairs: &[(&str, &str)]) -> StatusUpdate {
    let mut all = p(&[
        ("MessageSid", "SM9"),
        ("AccountSid", "AC1"),
        ("From", "+1"),
        ("To", "+2"),
    ]);
    all.extend(p(pairs));
    match parse_inbound(&all).unwrap() {
        InboundEvent::Status(s) => s,
        other => panic!("{other:?}"),
    }
}

#[test]
fn status_callbacks_map_statuses_and_classify_error_codes() {
    use DeliveryStatus::*;
    let cases = [
        ("queued", None, Queued),
        ("accepted", None, Queued),
        ("sent", None, Sent),
        ("delivered", None, Delivered),
        ("read", None, Read),
        ("undelivered", Some("30003"), Failed { permanent: false }),
        ("undelivered", Some("30005"), Failed { permanent: true }),
        ("failed", Some("21610"), Failed { permanent: true }),
        ("undelivered", None, Failed { permanent: false }),
        ("failed", None, Failed { permanent: true }),
        ("canceled", None, Failed { permanent: true }),
    ];
    for (status, code, want) in cases {
        let mut pairs = vec![("MessageStatus", status), ("SmsStatus", status)];
        if let Some(c) = code {
            pairs.push(("ErrorCode", c));
        }
        let s = status_of(&pairs);
        assert_eq!(
            (s.provider_message_id.as_str(), s.to.as_str()),
            ("SM9", "+1")
        );
        assert_eq!(s.status, want, "{status} {code:?}");
        assert_eq!(s.error_code, code.map(|c| format!("twilio_{c}")));
    }
    let odd = status_of(&[("MessageStatus", "failed"), ("ErrorCode", "x<y>")]);
    assert_eq!(
        odd.error_code.as_deref(),
        Some("twilio_unknown"),
        "never echoed"
    );
}

#[test]
fn malformed_callbacks_are_parse_errors() {
    assert_eq!(
        parse_inbound(&[]),
        Err(ParseError::MissingField("MessageSid"))
    );
    let unknown = p(&[("MessageSid", "SM1"), ("MessageStatus", "exploded")]);
    assert_eq!(parse_inbound(&unknown), Err(ParseError::UnknownStatus));
    let no_from = p(&[("MessageSid", "SM1"), ("To", "+2"), ("Body", "hi")]);
    assert_eq!(
        parse_inbound(&no_from),
        Err(ParseError::MissingField("From"))
    );
    let no_body = p(&[("MessageSid", "SM1"), ("From", "+1"), ("To", "+2")]);
    assert_eq!(
        parse_inbound(&no_body),
        Err(ParseError::MissingField("Body"))
    );
}

#[test]
fn twiml_is_empty_or_one_escaped_message() {
    assert_eq!(
        twiml_message(None),
        r#"<?xml version="1.0" encoding="UTF-8"?><Response/>"#
    );
    assert_eq!(
        twiml_message(Some(r#"Tom & "Jerry" <b>'s</b>"#)),
        r#"<?xml version="1.0" encoding="UTF-8"?><Response><Message>Tom &amp; &quot;Jerry&quot; &lt;b&gt;&apos;s&lt;/b&gt;</Message></Response>"#
    );
    let ctl = twiml_message(Some("a\u{0}b\u{1b}c\nd — é"));
    assert!(ctl.contains("<Message>abc\nd — é</Message>"), "{ctl}");
}
