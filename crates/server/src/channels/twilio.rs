//! Twilio Programmable Messaging, inbound side: `X-Twilio-Signature` checks (form and JSON
//! requests), parsing of incoming-SMS webhooks and status callbacks, and the TwiML answer.
//! The REST send client lives in `twilio_client.rs`.

use super::{
    DeliveryStatus, InboundEvent, InboundMessage, ParseError, StatusUpdate, hex_decode, hex_lower,
};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Checks `X-Twilio-Signature` for a form-encoded request: base64 HMAC-SHA1 (auth token) of
/// the full URL followed by every POST parameter as name + value, sorted by name then value
/// (duplicates counted once, as Twilio's own validator does). As in Twilio's SDKs, the URL is
/// tried as given, without its port and with the scheme's default port, because Twilio signs
/// inconsistently with respect to ports. Constant-time comparison.
pub fn verify_signature(
    auth_token: &[u8],
    url: &str,
    params: &[(String, String)],
    header: Option<&str>,
) -> bool {
    let Some(given) = decode_signature(header) else {
        return false;
    };
    let mut sorted: Vec<(&str, &str)> = params
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    sorted.sort_unstable();
    sorted.dedup();
    let mut suffix = String::new();
    for (k, v) in sorted {
        suffix.push_str(k);
        suffix.push_str(v);
    }
    any_url_form_matches(auth_token, url, &suffix, &given)
}

/// Checks a JSON request: the URL carries `bodySHA256` (hex SHA-256 of the raw body); the
/// signature covers the URL alone (no parameters) and the body hash must match.
pub fn verify_json_signature(
    auth_token: &[u8],
    url_with_body_sha256: &str,
    raw_body: &[u8],
    header: Option<&str>,
) -> bool {
    let Some(given) = decode_signature(header) else {
        return false;
    };
    let Some(claimed) = query_param(url_with_body_sha256, "bodySHA256").and_then(hex_decode) else {
        return false;
    };
    let body_ok: bool = Sha256::digest(raw_body).as_slice().ct_eq(&claimed).into();
    let sig_ok = any_url_form_matches(auth_token, url_with_body_sha256, "", &given);
    body_ok & sig_ok
}

fn decode_signature(header: Option<&str>) -> Option<Vec<u8>> {
    let sig = STANDARD.decode(header?.trim()).ok()?;
    (sig.len() == 20).then_some(sig)
}

fn any_url_form_matches(auth_token: &[u8], url: &str, suffix: &str, given: &[u8]) -> bool {
    if auth_token.is_empty() {
        return false;
    }
    let mut ok = false;
    for candidate in url_forms(url) {
        let Ok(mut mac) = <Hmac<Sha1> as KeyInit>::new_from_slice(auth_token) else {
            return false;
        };
        mac.update(candidate.as_bytes());
        mac.update(suffix.as_bytes());
        let expected = mac.finalize().into_bytes();
        ok |= bool::from(expected.as_slice().ct_eq(given));
    }
    ok
}

/// The URL as given, without any port, and with the default port when it had none. String
/// surgery rather than a URL parser, which would normalise the bytes Twilio signed.
fn url_forms(url: &str) -> Vec<String> {
    let mut forms = vec![url.to_owned()];
    let Some(scheme_end) = url.find("://") else {
        return forms;
    };
    let auth_start = scheme_end + 3;
    let auth_end = url[auth_start..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| auth_start + i);
    let authority = &url[auth_start..auth_end];
    let host_start = authority.rfind('@').map_or(0, |i| i + 1);
    let host_port = &authority[host_start..];
    // A port is ":digits" after the host (and after the "]" of an IPv6 literal).
    let port_sep = host_port.rfind(':').filter(|&i| {
        !host_port[i..].contains(']') && host_port[i + 1..].bytes().all(|b| b.is_ascii_digit())
    });
    let (before, after) = (&url[..auth_start + host_start], &url[auth_end..]);
    match port_sep {
        Some(i) => forms.push(format!("{before}{}{after}", &host_port[..i])),
        None => {
            let port = match url[..scheme_end].to_ascii_lowercase().as_str() {
                "https" => "443",
                "http" => "80",
                _ => return forms,
            };
            forms.push(format!("{before}{host_port}:{port}{after}"));
        }
    }
    forms
}

/// The raw (undecoded) value of a query parameter.
fn query_param<'a>(url: &'a str, name: &str) -> Option<&'a str> {
    let query = url.split_once('?')?.1;
    let query = query.split('#').next().unwrap_or(query);
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Parses an incoming-message webhook (`MessageSid`, `From`, `To`, `Body`; media-only
/// messages become [`InboundEvent::Unsupported`]) or a status callback (`MessageStatus`,
/// `ErrorCode`). Twilio sends no timestamp, so `sent_at` is `None`.
pub fn parse_inbound(params: &[(String, String)]) -> Result<InboundEvent, ParseError> {
    let non_empty = |name| param(params, name).filter(|v| !v.is_empty());
    let sid = non_empty("MessageSid")
        .or_else(|| non_empty("SmsSid"))
        .ok_or(ParseError::MissingField("MessageSid"))?
        .to_owned();
    if let Some(st) = non_empty("MessageStatus").filter(|s| !matches!(*s, "received" | "receiving"))
    {
        // Only numeric codes are kept, as our own string: the raw value is never echoed.
        let raw_code = non_empty("ErrorCode").filter(|c| *c != "0");
        let code = raw_code.and_then(|c| c.parse::<u32>().ok());
        let error_code = raw_code.map(|_| match code {
            Some(n) => format!("twilio_{n}"),
            None => "twilio_unknown".to_owned(),
        });
        // On a status callback `From` is our number (the message went out from it).
        let ours = non_empty("From").or_else(|| non_empty("MessagingServiceSid"));
        return Ok(InboundEvent::Status(StatusUpdate {
            provider_message_id: sid,
            to: ours.unwrap_or_default().to_owned(),
            status: delivery_status(st, code)?,
            error_code,
        }));
    }
    let from = non_empty("From")
        .ok_or(ParseError::MissingField("From"))?
        .to_owned();
    let to = non_empty("To")
        .ok_or(ParseError::MissingField("To"))?
        .to_owned();
    let body = param(params, "Body").ok_or(ParseError::MissingField("Body"))?;
    let has_media = non_empty("NumMedia").is_some_and(|n| n != "0");
    if has_media && body.trim().is_empty() {
        return Ok(InboundEvent::Unsupported {
            provider_message_id: sid,
            from,
            to,
        });
    }
    Ok(InboundEvent::Message(InboundMessage {
        provider_message_id: sid,
        from,
        to,
        text: body.to_owned(),
        reply_id: None,
        sent_at: None,
    }))
}

fn delivery_status(status: &str, error_code: Option<u32>) -> Result<DeliveryStatus, ParseError> {
    Ok(match status {
        "accepted" | "scheduled" | "queued" => DeliveryStatus::Queued,
        "sending" | "sent" => DeliveryStatus::Sent,
        "delivered" | "partially_delivered" => DeliveryStatus::Delivered,
        "read" => DeliveryStatus::Read,
        "canceled" => DeliveryStatus::Failed { permanent: true },
        // Without a code, "undelivered" (the carrier gave up) may work later; "failed" (Twilio
        // could not send it at all) will not.
        "undelivered" | "failed" => DeliveryStatus::Failed {
            permanent: match error_code {
                Some(c) => !delivery_error_retryable(c),
                None => status == "failed",
            },
        },
        _ => return Err(ParseError::UnknownStatus),
    })
}

/// Delivery error codes worth another attempt later: 30001 queue overflow, 30003 handset
/// unreachable (off / no coverage), 30008 unknown error, 30009 missing segment, 30017 carrier
/// congestion, 30022 throughput limit. Everything else (30004 blocked, 30005 unknown number,
/// 30006 landline, 30007 filtered, 21610 opted out…) is permanent.
fn delivery_error_retryable(code: u32) -> bool {
    matches!(code, 30001 | 30003 | 30008 | 30009 | 30017 | 30022)
}

/// The TwiML answer to an incoming-message webhook: an empty `<Response/>` (we reply later
/// through the API), or one `<Message>` with the text XML-escaped. Characters XML 1.0 cannot
/// carry (control characters other than tab and newlines) are dropped.
pub fn twiml_message(text: Option<&str>) -> String {
    let Some(text) = text else {
        return format!("{TWIML_HEAD}<Response/>");
    };
    let mut out = format!("{TWIML_HEAD}<Response><Message>");
    push_xml_text(&mut out, text);
    out.push_str("</Message></Response>");
    out
}

/// The XML declaration every TwiML document starts with.
pub(crate) const TWIML_HEAD: &str = r#"<?xml version="1.0" encoding="UTF-8"?>"#;

/// Appends `text` escaped for XML text and attribute values (quotes included); characters XML
/// 1.0 cannot carry are dropped.
pub(crate) fn push_xml_text(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if c.is_control() || matches!(c, '\u{FFFE}' | '\u{FFFF}') => {}
            c => out.push(c),
        }
    }
}

/// Hex SHA-256 of a body, as Twilio puts it in `bodySHA256` (useful to build test URLs).
pub fn body_sha256_hex(raw_body: &[u8]) -> String {
    hex_lower(&Sha256::digest(raw_body))
}

#[cfg(test)]
#[path = "twilio_tests.rs"]
mod tests;
