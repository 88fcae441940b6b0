//! Africa's Talking SMS callbacks: the form body as the handler reads it (`serde_urlencoded`
//! into pairs), `africastalking::parse_inbound`, and the callback-token check.
//!
//! Input: the raw form body (the seeds are real incoming-SMS and delivery-report forms).
//!
//! Properties: nothing panics; events name non-empty ids and addresses; a status's error code
//! is only ever one of our own `at_…` codes (the provider's string is never echoed); a
//! message's `sent_at` is only set from a date with an explicit offset; the callback token
//! matches only itself and never when empty.
#![no_main]

use frontdesk_server::channels::{InboundEvent, africastalking};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    assert!(africastalking::verify_callback_token(b"9f8e7d", "9f8e7d"));
    assert_eq!(
        africastalking::verify_callback_token(b"9f8e7d", &text),
        text == "9f8e7d"
    );
    assert!(!africastalking::verify_callback_token(b"", &text));

    let Ok(params) = serde_urlencoded::from_bytes::<Vec<(String, String)>>(data) else {
        return;
    };
    match africastalking::parse_inbound(&params) {
        Ok(InboundEvent::Message(m)) => {
            assert!(!m.provider_message_id.is_empty() && !m.from.is_empty() && !m.to.is_empty());
            if m.sent_at.is_some() {
                let date = params.iter().find(|(k, v)| k == "date" && !v.is_empty());
                let date = date.expect("sent_at comes from date").1.as_str();
                assert!(date.parse::<jiff::Timestamp>().is_ok());
            }
        }
        Ok(InboundEvent::Unsupported { .. }) => panic!("Africa's Talking has no unsupported kind"),
        Ok(InboundEvent::Status(s)) => {
            assert!(!s.provider_message_id.is_empty());
            if let Some(code) = &s.error_code {
                assert!(code.starts_with("at_"), "{code}");
                assert!(
                    code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                    "{code}"
                );
            }
        }
        Err(_) => {}
    }
});
