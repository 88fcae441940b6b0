//! The agent's understanding of a patient message: `understand::understand` (intent,
//! entities, FAQ match) and `understand::time_preference` (the natural-language date and time
//! parser), at both demo clinics and in a zone with odd offsets or DST rules, at a moment
//! derived from the input.
//!
//! Input: the message text (arbitrary UTF-8; the seeds are the messages of eval/*.yaml).
//!
//! Properties: nothing panics; confidences are in 0..=1; a time preference is never in the
//! past (a date is today or later; today's time is not over yet; a range ends after it starts;
//! a window's start is before its end) and is the same one `understand` reports.
#![no_main]

#[path = "../common/clinics.rs"]
mod clinics;

use frontdesk_agent::understand::{TimeOfDay, UnderstandContext, time_preference, understand};
use libfuzzer_sys::fuzz_target;
use std::sync::LazyLock;

static CLINICS: LazyLock<Vec<clinics::Clinic>> = LazyLock::new(clinics::demo_clinics);

fn check(text: &str, ctx: &UnderstandContext<'_>) {
    let u = understand(text, ctx);
    assert!((0.0..=1.0).contains(&u.confidence), "{}", u.confidence);
    for m in u.entities.practitioners.iter() {
        assert!((0.0..=1.0).contains(&m.score));
    }
    for m in u.entities.services.iter() {
        assert!((0.0..=1.0).contains(&m.score));
    }
    if let Some(f) = u.entities.faq {
        assert!((0.0..=1.0).contains(&f.confidence));
    }
    let when = time_preference(text, ctx);
    assert_eq!(when, u.entities.when);
    let Some(p) = when else { return };
    let local = ctx.now.to_zoned(ctx.time_zone.clone());
    let today = local.date();
    let minutes = |t: jiff::civil::Time| i32::from(t.hour()) * 60 + i32::from(t.minute());
    let now_min = minutes(local.time());
    assert!(p.date.is_some() || p.time.is_some());
    if let Some(TimeOfDay::Window { earliest, latest }) = p.time {
        assert!(earliest < latest, "window {earliest}..{latest}");
    }
    if let Some(d) = p.date {
        assert!(d >= today, "{d} is before {today}");
        if let Some(u) = p.until {
            assert!(u > d, "range {d}..{u}");
        }
        if d == today {
            match p.time {
                Some(TimeOfDay::Exact(t)) => assert!(minutes(t) >= now_min, "{t} passed"),
                Some(TimeOfDay::Window { latest, .. }) => {
                    assert!(minutes(latest) > now_min, "window ended {latest}")
                }
                None => {}
            }
        }
    } else {
        assert!(p.until.is_none());
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let now = clinics::now_for(data);
    for c in CLINICS.iter() {
        let ctx = UnderstandContext::for_clinic(&c.profile, now, &c.catalog, Some(&c.faq))
            .expect("demo zones exist");
        check(text, &ctx);
    }
    // The Swahili-speaking clinic somewhere with stranger clocks.
    let c = &CLINICS[1];
    let mut ctx = UnderstandContext::for_clinic(&c.profile, now, &c.catalog, Some(&c.faq))
        .expect("demo zones exist");
    ctx.time_zone = clinics::zone_for(data);
    check(text, &ctx);
});
