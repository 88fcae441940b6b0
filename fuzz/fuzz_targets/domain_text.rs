//! The domain's parsers of outside text: `E164Phone::parse` (every sender and typed number),
//! `TenantSlug::parse` (URLs), `clinic::parse_widget_origin` (the widget's `Origin` header and
//! the clinic's settings), `Email::parse`, `DayHours::parse` / `WeeklyHours::parse_spec`
//! (opening hours typed by staff) and typed ids (`TenantId::parse`, from URLs).
//!
//! Input: one value (arbitrary UTF-8; seeds from the domain's tests and the demo clinics).
//!
//! Properties: nothing panics; every parsed value re-parses to itself (a normalised phone,
//! origin or email is a fixed point), and what the parsers promise holds (a phone is `+` and
//! 8 to 15 digits, no leading zero; a slug is 3 to 63 of `a-z0-9-`).
#![no_main]

use frontdesk_domain::clinic::parse_widget_origin;
use frontdesk_domain::{DayHours, E164Phone, Email, TenantId, TenantSlug, WeeklyHours};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(p) = E164Phone::parse(s) {
        let digits = &p.as_str()[1..];
        assert!(p.as_str().starts_with('+'));
        assert!((8..=15).contains(&digits.len()) && !digits.starts_with('0'));
        assert!(digits.bytes().all(|b| b.is_ascii_digit()));
        assert_eq!(E164Phone::parse(p.as_str()).ok(), Some(p));
    }
    if let Ok(slug) = TenantSlug::parse(s) {
        assert_eq!(slug.as_str(), s);
        assert!((3..=63).contains(&s.len()));
        let json = serde_json::to_string(&slug).expect("serialises");
        assert_eq!(serde_json::from_str::<TenantSlug>(&json).ok(), Some(slug));
    }
    if let Ok(origin) = parse_widget_origin(s) {
        assert_eq!(parse_widget_origin(&origin).ok(), Some(origin.clone()));
        assert!(origin.starts_with("https://") || origin.starts_with("http://"));
        assert!(!origin.ends_with('/'));
    }
    if let Ok(e) = Email::parse(s) {
        assert_eq!(Email::parse(e.as_str()).ok(), Some(e));
    }
    if let Ok(h) = DayHours::parse(s) {
        assert!(h.open_min < h.close_min && h.close_min <= 24 * 60);
    }
    if let Ok(week) = WeeklyHours::parse_spec(s) {
        let _ = week.describe();
    }
    if let Ok(id) = TenantId::parse(s) {
        assert_eq!(TenantId::parse(&id.to_string()).ok(), Some(id));
    }
});
