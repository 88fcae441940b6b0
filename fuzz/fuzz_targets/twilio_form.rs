//! Twilio webhooks (SMS and voice): the form body as the handlers read it
//! (`serde_urlencoded` into pairs), `twilio::parse_inbound`, both `X-Twilio-Signature` checks,
//! and the TwiML built from patient text.
//!
//! Input: the raw form body (the seeds are real webhook forms). A `FuzzUrl` parameter, when
//! present, is taken out and used as the URL Twilio called (it is attacker-chosen in real
//! life: any path and query can be posted to); a `FuzzSignature` parameter is the header.
//!
//! Properties: nothing panics; events name non-empty ids and addresses; a status's error code
//! is only ever our own `twilio_<number>` or `twilio_unknown` (the raw value is never echoed);
//! a signature computed here independently (HMAC-SHA1 over URL + sorted, deduplicated
//! parameters; base64) verifies, and fails for other parameters or an empty token; the JSON
//! scheme (`bodySHA256`) verifies the raw body the same way; every TwiML document is
//! well-formed XML and `<Message>` carries the text exactly (less what XML cannot carry).
#![no_main]

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use frontdesk_server::channels::{InboundEvent, twilio, voice};
use hmac::{Hmac, KeyInit, Mac};
use libfuzzer_sys::fuzz_target;
use sha1::Sha1;
use sha2::{Digest, Sha256};

const TOKEN: &[u8] = b"12345";
const DEFAULT_URL: &str = "https://frontdesk.example/webhooks/twilio/sms";

fn sign(url: &str, params: &[(String, String)]) -> String {
    let mut sorted: Vec<(&str, &str)> = params
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    sorted.sort_unstable();
    sorted.dedup();
    let mut mac = <Hmac<Sha1> as KeyInit>::new_from_slice(TOKEN).expect("any key length");
    mac.update(url.as_bytes());
    for (k, v) in sorted {
        mac.update(k.as_bytes());
        mac.update(v.as_bytes());
    }
    STANDARD.encode(mac.finalize().into_bytes())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Line ends as one form: XML parsers normalise them, each in its own way.
fn lines(text: &str) -> String {
    text.replace("\r\n", "\n").replace('\r', "\n")
}

/// What an XML 1.0 parser gives back for text we escaped: the characters XML cannot carry
/// dropped.
fn xml_round_trip(text: &str) -> String {
    let kept = text.chars().filter(|&c| {
        matches!(c, '\t' | '\n' | '\r') || !(c.is_control() || matches!(c, '\u{FFFE}' | '\u{FFFF}'))
    });
    lines(&kept.collect::<String>())
}

fn check_twiml(body: &str) {
    let doc = twilio::twiml_message(Some(body));
    let parsed = roxmltree::Document::parse(&doc).expect("TwiML is well-formed XML");
    let message = parsed
        .root_element()
        .first_element_child()
        .expect("<Message>");
    assert_eq!(message.tag_name().name(), "Message");
    assert_eq!(lines(message.text().unwrap_or("")), xml_round_trip(body));

    let words = [body.to_owned()];
    let listening = voice::Listening {
        language: body.to_owned(),
        hints: body.to_owned(),
    };
    for doc in [
        voice::gather(&words, &listening, 1),
        voice::dial(&words, body),
        voice::hangup(&words),
    ] {
        roxmltree::Document::parse(&doc).expect("voice TwiML is well-formed XML");
    }
}

fuzz_target!(|data: &[u8]| {
    // The JSON scheme covers the raw body whatever it is.
    let json_url = format!("{DEFAULT_URL}?bodySHA256={}", hex(&Sha256::digest(data)));
    let json_sig = sign(&json_url, &[]);
    assert!(twilio::verify_json_signature(
        TOKEN,
        &json_url,
        data,
        Some(&json_sig)
    ));
    assert!(!twilio::verify_json_signature(
        b"",
        &json_url,
        data,
        Some(&json_sig)
    ));
    let mut changed = data.to_vec();
    changed.push(b'x');
    assert!(!twilio::verify_json_signature(
        TOKEN,
        &json_url,
        &changed,
        Some(&json_sig)
    ));

    let Ok(mut params) = serde_urlencoded::from_bytes::<Vec<(String, String)>>(data) else {
        return;
    };
    let take = |params: &mut Vec<(String, String)>, name: &str| {
        let i = params.iter().position(|(k, _)| k == name)?;
        Some(params.remove(i).1)
    };
    let url = take(&mut params, "FuzzUrl").unwrap_or_else(|| DEFAULT_URL.to_owned());
    let header = take(&mut params, "FuzzSignature");

    match twilio::parse_inbound(&params) {
        Ok(InboundEvent::Message(m)) => {
            assert!(!m.provider_message_id.is_empty() && !m.from.is_empty() && !m.to.is_empty());
            assert!(m.reply_id.is_none() && m.sent_at.is_none());
            check_twiml(&m.text);
        }
        Ok(InboundEvent::Unsupported {
            provider_message_id,
            from,
            to,
        }) => assert!(!provider_message_id.is_empty() && !from.is_empty() && !to.is_empty()),
        Ok(InboundEvent::Status(s)) => {
            assert!(!s.provider_message_id.is_empty());
            if let Some(code) = &s.error_code {
                let rest = code.strip_prefix("twilio_").expect("our own prefix");
                assert!(rest == "unknown" || rest.parse::<u32>().is_ok(), "{code}");
            }
        }
        Err(_) => {}
    }

    // Arbitrary header and URL: no panic, and no success without the token.
    let _ = twilio::verify_signature(TOKEN, &url, &params, header.as_deref());
    let _ = twilio::verify_json_signature(TOKEN, &url, data, header.as_deref());
    assert!(!twilio::verify_signature(
        b"",
        &url,
        &params,
        header.as_deref()
    ));

    // The right signature verifies (for the URL as given); with our URL (whose other forms
    // cannot collide), one more parameter makes it fail.
    let good = sign(&url, &params);
    assert!(twilio::verify_signature(TOKEN, &url, &params, Some(&good)));
    let extra = ("FuzzExtra".to_owned(), "1".to_owned());
    if url == DEFAULT_URL && !params.contains(&extra) {
        let mut more = params.clone();
        more.push(extra);
        assert!(!twilio::verify_signature(TOKEN, &url, &more, Some(&good)));
    }
});
