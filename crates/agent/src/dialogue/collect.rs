//! Reading a patient's message into the booking draft: a pick among the offers, the service,
//! practitioner (or "anyone"), time preference, name and phone. Whatever is new is kept;
//! nothing already known is asked again.

use super::{Awaiting, BookingDraft, DialogueContext, Offer};
use crate::understand::{Intent, TimeOfDay, Understanding};

/// The part before any digits ("Ana Lee 021 555 0456" → "Ana Lee"), for a name given with a phone.
fn strip_phone(part: &str) -> String {
    let cut = part
        .find(|c: char| c.is_ascii_digit() || c == '+')
        .unwrap_or(part.len());
    part[..cut].to_owned()
}

/// A short reply that is only a name ("Sam Patel", "it's Aroha"), when a name was asked for.
fn bare_name(text: &str) -> Option<String> {
    let t = text.trim().trim_end_matches(['.', '!']);
    let t = ["it's ", "its ", "i'm ", "im ", "name is ", "ni "]
        .iter()
        .find_map(|p| t.to_lowercase().starts_with(p).then(|| t[p.len()..].trim()))
        .unwrap_or(t);
    let words: Vec<&str> = t.split_whitespace().collect();
    const NOT_NAMES: &[&str] = &[
        "yes", "no", "ok", "okay", "sure", "thanks", "anyone", "any", "hello", "hi", "please",
    ];
    let plausible = (1..=4).contains(&words.len())
        && t.len() <= 60
        && words
            .iter()
            .all(|w| w.chars().all(|c| c.is_alphabetic() || "-'.".contains(c)))
        && !words
            .iter()
            .any(|w| NOT_NAMES.contains(&w.to_lowercase().as_str()));
    plausible.then(|| words.join(" "))
}

pub(super) fn merge(
    d: &mut BookingDraft,
    u: &Understanding,
    text: &str,
    ctx: &DialogueContext<'_>,
) -> bool {
    let e = &u.entities;
    let mut learned = false;
    // A pick among the offers first: "the 10:00 one" chooses, it is not a new preference.
    if d.awaiting == Awaiting::Choice && d.chosen.is_none() {
        let pick = match u.intent {
            Intent::ChooseOption(n) => d.offers.get(usize::from(n).saturating_sub(1)).copied(),
            Intent::Affirm if d.offers.len() == 1 => d.offers.first().copied(),
            _ => None,
        };
        // "the 2pm one": an exact time that matches exactly one offer.
        let by_time = e.when.and_then(|w| match w.time {
            Some(TimeOfDay::Exact(t)) => {
                let hits: Vec<Offer> = d
                    .offers
                    .iter()
                    .copied()
                    .filter(|o| {
                        let z = o.start.to_zoned(ctx.tz.clone());
                        z.hour() == t.hour()
                            && z.minute() == t.minute()
                            && w.date.is_none_or(|day| day == z.date())
                    })
                    .collect();
                (hits.len() == 1).then(|| hits[0])
            }
            _ => None,
        });
        if let Some(o) = pick.or(by_time) {
            d.chosen = Some(o);
            learned = true;
        }
    }
    if let Some(s) = e.service() {
        learned |= d.service != Some(s);
        d.service = Some(s);
    }
    if let Some(p) = e.practitioner() {
        learned |= d.practitioner != Some(p);
        d.practitioner = Some(p);
        d.any_practitioner = false;
    } else if e.any_practitioner && !d.any_practitioner {
        d.any_practitioner = true;
        // "Anyone" replaces a practitioner named before (or the one of an appointment being moved).
        d.practitioner = None;
        learned = true;
    }
    if let Some(w) = e.when.as_ref().filter(|_| d.chosen.is_none() || !learned) {
        let (earliest, latest) = match w.time {
            Some(TimeOfDay::Exact(t)) => (Some(t), Some(t)),
            Some(TimeOfDay::Window { earliest, latest }) => (Some(earliest), Some(latest)),
            None => (None, None),
        };
        d.from = w.date.or(d.from);
        d.to = w.until.or(w.date).or(d.to);
        d.earliest = earliest.or(if w.date.is_some() { None } else { d.earliest });
        d.latest = latest.or(if w.date.is_some() { None } else { d.latest });
        d.offers.clear();
        d.chosen = None;
        learned = true;
    }
    if let Some(name) = &e.patient_name {
        d.name = Some(name.as_str().to_owned());
        learned = true;
    } else if d.awaiting == Awaiting::Name
        && let Some(name) = text
            .split([',', ';', '\n'])
            .find_map(|part| bare_name(&strip_phone(part)))
    {
        d.name = Some(name);
        learned = true;
    }
    if let Some(phone) = &e.phone {
        d.phone = Some(phone.as_str().to_owned());
        learned = true;
    }
    learned
}
