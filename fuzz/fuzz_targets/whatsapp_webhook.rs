//! WhatsApp Cloud API webhooks: `whatsapp::parse_webhook` on the raw body, the
//! `X-Hub-Signature-256` check and the GET verification handshake.
//!
//! Input: the raw POST body (the seeds are real webhook bodies). The signature check is also
//! run with the first line as the header and the rest as the body.
//!
//! Properties: nothing panics; every event names non-empty ids and addresses (the parser
//! promises that); a signature computed here independently always verifies (lower and upper
//! case hex) and never verifies for a changed body or an empty secret; the handshake echoes
//! only a plausible challenge, unchanged.
#![no_main]

use frontdesk_server::channels::{InboundEvent, whatsapp};
use hmac::{Hmac, KeyInit, Mac};
use libfuzzer_sys::fuzz_target;
use sha2::Sha256;

const SECRET: &[u8] = b"test_app_secret";

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn signature(body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(SECRET).expect("any key length");
    mac.update(body);
    format!("sha256={}", hex(&mac.finalize().into_bytes()))
}

fuzz_target!(|data: &[u8]| {
    if let Ok(events) = whatsapp::parse_webhook(data) {
        for e in &events {
            match e {
                InboundEvent::Message(m) => {
                    assert!(!m.provider_message_id.is_empty() && !m.from.is_empty());
                    assert!(!m.to.is_empty());
                    if let Some(r) = &m.reply_id {
                        assert!(!r.is_empty());
                    }
                }
                InboundEvent::Unsupported {
                    provider_message_id,
                    from,
                    to,
                } => assert!(!provider_message_id.is_empty() && !from.is_empty() && !to.is_empty()),
                InboundEvent::Status(s) => {
                    assert!(!s.provider_message_id.is_empty() && !s.to.is_empty());
                }
            }
        }
    }

    // The header as an attacker sends it: the first line, against the rest as the body.
    let (header, body) = match data.iter().position(|&b| b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &b""[..]),
    };
    let header = String::from_utf8_lossy(header);
    let forged = whatsapp::verify_signature(SECRET, body, Some(&header));
    if forged {
        // Only possible when the line is the real signature of the body.
        assert_eq!(header.trim().to_ascii_lowercase(), signature(body));
    }
    assert!(!whatsapp::verify_signature(b"", body, Some(&header)));

    // A correct signature of the whole input verifies, in either case of hex, and only for it.
    let good = signature(data);
    assert!(whatsapp::verify_signature(SECRET, data, Some(&good)));
    let upper = format!("sha256={}", good["sha256=".len()..].to_ascii_uppercase());
    assert!(whatsapp::verify_signature(SECRET, data, Some(&upper)));
    let mut changed = data.to_vec();
    changed.push(b' ');
    assert!(!whatsapp::verify_signature(SECRET, &changed, Some(&good)));
    assert!(!whatsapp::verify_signature(SECRET, data, None));

    // The handshake: the challenge is echoed only when it looks like one.
    let text = String::from_utf8_lossy(data);
    let echoed = whatsapp::verify_handshake(
        Some("subscribe"),
        Some("verify_me"),
        Some(&text),
        "verify_me",
    );
    if let Some(c) = echoed {
        assert_eq!(c, text);
        assert!((1..=256).contains(&c.len()) && c.bytes().all(|b| b.is_ascii_graphic()));
    }
    assert!(whatsapp::verify_handshake(Some("subscribe"), Some(&text), Some("1"), "").is_none());
});
