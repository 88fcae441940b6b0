//! The booking dialogue: a small state machine, persisted per conversation (encrypted by the
//! store), that collects a service, a practitioner (or "anyone"), a time preference, the
//! patient's name and, on web chat, a phone number; offers up to three real free slots; and
//! asks the server to book the one chosen.
//!
//! The agent stays pure: it never reads the diary or books. It returns a [`Step`] asking the
//! server to find slots or to book, and the server calls back with what the store answered
//! ([`offer`], [`booked`], [`taken`]). A reply that says "you're booked" is built only from the
//! appointment the store returned. Anything the patient already said is kept in the state and
//! never asked again. Two turns in a row that add nothing hand the conversation to the staff.

use crate::reply::ClinicKnowledge;
use crate::understand::{Intent, TimeOfDay, Understanding};
use frontdesk_domain::{PractitionerId, ServiceId};
use jiff::{
    Timestamp,
    civil::{Date, Time},
    tz::TimeZone,
};
use serde::{Deserialize, Serialize};

/// How many free slots are offered at once.
pub const OFFERS: usize = 3;
/// Days searched when the patient gave no date (or nothing was free on the day they gave).
pub const SEARCH_DAYS: i64 = 14;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DialogueState {
    #[serde(default)]
    pub booking: Option<BookingDraft>,
    /// Consecutive turns inside a dialogue that added nothing.
    #[serde(default)]
    pub misunderstood: u8,
    /// The service and practitioner last named in this conversation, so "can I book one?"
    /// after asking about a sports massage is not asked which service again.
    #[serde(default)]
    pub mentioned_service: Option<ServiceId>,
    #[serde(default)]
    pub mentioned_practitioner: Option<PractitionerId>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Awaiting {
    #[default]
    Details,
    Choice,
    Name,
    Phone,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Offer {
    pub practitioner: PractitionerId,
    pub start: Timestamp,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BookingDraft {
    pub service: Option<ServiceId>,
    pub practitioner: Option<PractitionerId>,
    pub any_practitioner: bool,
    pub from: Option<Date>,
    pub to: Option<Date>,
    pub earliest: Option<Time>,
    pub latest: Option<Time>,
    pub name: Option<String>,
    pub phone: Option<String>,
    pub offers: Vec<Offer>,
    pub chosen: Option<Offer>,
    pub awaiting: Awaiting,
    /// Started by an urgent triage: the soonest times are offered.
    #[serde(default)]
    pub urgent: bool,
}

/// A slot search the server runs for the dialogue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotAsk {
    pub service: ServiceId,
    pub practitioners: Vec<PractitionerId>,
    pub from: Date,
    pub to: Date,
    pub earliest: Option<Time>,
    pub latest: Option<Time>,
}

/// A booking the server makes for the dialogue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BookAsk {
    pub service: ServiceId,
    pub offer: Offer,
    pub name: String,
    pub phone: Option<String>,
}

/// What the dialogue needs next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Say these messages and wait for the patient.
    Say(Vec<String>),
    /// Find free slots, then call [`offer`].
    FindSlots(SlotAsk),
    /// Book, then call [`booked`] or [`taken`].
    Book(BookAsk),
    /// Give up and hand the conversation to the staff (with this message).
    Handoff(String),
}

/// Facts about the turn the dialogue needs besides the understanding.
#[derive(Debug, Clone, Copy)]
pub struct DialogueContext<'a> {
    pub clinic: &'a ClinicKnowledge,
    pub tz: &'a TimeZone,
    pub now: Timestamp,
    /// Web chat has no verified phone number, so one is asked for.
    pub needs_phone: bool,
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// `Wed 25 Nov at 14:00` in the clinic's zone.
pub fn when_text(t: Timestamp, tz: &TimeZone) -> String {
    let z = t.to_zoned(tz.clone());
    let day = frontdesk_domain::clinic::DAY_NAMES
        [usize::try_from(z.weekday().to_monday_zero_offset()).unwrap_or(0)];
    let month = MONTHS[usize::try_from(z.month() - 1).unwrap_or(0)];
    format!(
        "{day} {} {month} at {:02}:{:02}",
        z.day(),
        z.hour(),
        z.minute()
    )
}

fn practitioner_name(k: &ClinicKnowledge, id: PractitionerId) -> String {
    k.practitioners
        .iter()
        .find(|p| p.id == id)
        .map_or_else(|| "our team".to_owned(), |p| p.name.clone())
}

fn service_name(k: &ClinicKnowledge, id: ServiceId) -> String {
    k.services
        .iter()
        .find(|s| s.id == id)
        .map_or_else(|| "your appointment".to_owned(), |s| s.name.clone())
}

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

fn merge(d: &mut BookingDraft, u: &Understanding, text: &str, ctx: &DialogueContext<'_>) -> bool {
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

fn ask_details(d: &BookingDraft, k: &ClinicKnowledge) -> Option<String> {
    let mut parts = Vec::new();
    if d.service.is_none() {
        let names: Vec<&str> = k.services.iter().map(|s| s.name.as_str()).collect();
        parts.push(format!("which service you'd like ({})", names.join(", ")));
    }
    if d.practitioner.is_none() && !d.any_practitioner && k.practitioners.len() > 1 {
        let names: Vec<&str> = k.practitioners.iter().map(|p| p.name.as_str()).collect();
        parts.push(format!(
            "who you'd like to see ({}, or anyone)",
            names.join(", ")
        ));
    }
    if d.from.is_none() && d.earliest.is_none() {
        parts.push("when suits you".to_owned());
    }
    match parts.len() {
        0 => None,
        1 => Some(format!(
            "Happy to help you book. Please tell me {}.",
            parts[0]
        )),
        _ => {
            let last = parts.pop().unwrap_or_default();
            Some(format!(
                "Happy to help you book. Please tell me {}, and {last}.",
                parts.join(", ")
            ))
        }
    }
}

fn slot_ask(d: &BookingDraft, k: &ClinicKnowledge, ctx: &DialogueContext<'_>) -> Option<SlotAsk> {
    let service = d.service?;
    // "Anyone" means anyone who provides this service.
    let providers = k
        .services
        .iter()
        .find(|s| s.id == service)
        .map(|s| s.practitioners.clone())
        .unwrap_or_default();
    let practitioners = match d.practitioner {
        Some(p) => vec![p],
        None if !providers.is_empty() => providers,
        None => k.practitioners.iter().map(|p| p.id).collect(),
    };
    let today = ctx.now.to_zoned(ctx.tz.clone()).date();
    let from = d.from.unwrap_or(today).max(today);
    let to =
        d.to.unwrap_or_else(|| {
            from.checked_add(jiff::Span::new().days(SEARCH_DAYS - 1))
                .unwrap_or(from)
        })
        .max(from);
    Some(SlotAsk {
        service,
        practitioners,
        from,
        to,
        earliest: d.earliest,
        latest: d.latest,
    })
}

/// Advances the dialogue with one understood message. `None`: not a booking conversation
/// (the caller answers normally). Information questions in the middle of a booking are left
/// to the caller too (`None`), and the draft is kept for the next message.
pub fn advance(
    state: &mut DialogueState,
    u: &Understanding,
    text: &str,
    ctx: &DialogueContext<'_>,
) -> Option<Step> {
    let k = ctx.clinic;
    let (service, practitioner) = (u.entities.service(), u.entities.practitioner());
    if state.booking.is_none() && u.intent != Intent::Book {
        state.mentioned_service = service.or(state.mentioned_service);
        state.mentioned_practitioner = practitioner.or(state.mentioned_practitioner);
        return None;
    }
    let (earlier_service, earlier_practitioner) =
        (state.mentioned_service, state.mentioned_practitioner);
    let d = state.booking.get_or_insert_with(|| BookingDraft {
        service: earlier_service,
        practitioner: earlier_practitioner,
        ..BookingDraft::default()
    });
    if k.services.len() == 1 && d.service.is_none() {
        d.service = k.services.first().map(|s| s.id);
    }
    if k.practitioners.len() == 1 && d.practitioner.is_none() {
        d.practitioner = k.practitioners.first().map(|p| p.id);
    }
    let learned = merge(d, u, text, ctx);
    let info = matches!(
        u.intent,
        Intent::OpeningHours
            | Intent::Address
            | Intent::Prices
            | Intent::Services
            | Intent::PractitionerInfo
            | Intent::Faq
            | Intent::Human
    );
    if !learned && info {
        return None;
    }
    if !learned && u.intent == Intent::Deny && d.awaiting == Awaiting::Choice {
        d.offers.clear();
        d.from = None;
        d.to = None;
        d.earliest = None;
        d.latest = None;
        d.awaiting = Awaiting::Details;
        state.misunderstood = 0;
        return Some(Step::Say(vec![
            "No problem. When else would suit you?".to_owned(),
        ]));
    }
    if learned || u.intent == Intent::Book {
        state.misunderstood = 0;
    } else {
        state.misunderstood += 1;
        if state.misunderstood >= 2 {
            state.booking = None;
            state.misunderstood = 0;
            return Some(Step::Handoff(format!(
                "I'm sorry, I'm not getting this right. I've asked the {} team to help you with your booking here.",
                k.profile.name
            )));
        }
    }
    let d = state.booking.get_or_insert_with(BookingDraft::default);
    if let Some(chosen) = d.chosen {
        let service = d.service?;
        let Some(name) = d.name.clone() else {
            d.awaiting = Awaiting::Name;
            let extra = if ctx.needs_phone && d.phone.is_none() {
                " and a mobile number we can reach you on"
            } else {
                ""
            };
            return Some(Step::Say(vec![format!(
                "{} with {} it is. To book it, please tell me your full name{extra}.",
                when_text(chosen.start, ctx.tz),
                practitioner_name(k, chosen.practitioner)
            )]));
        };
        if ctx.needs_phone && d.phone.is_none() {
            d.awaiting = Awaiting::Phone;
            return Some(Step::Say(vec![
                "Thanks. And a mobile number we can reach you on?".to_owned(),
            ]));
        }
        return Some(Step::Book(BookAsk {
            service,
            offer: chosen,
            name,
            phone: d.phone.clone(),
        }));
    }
    if let Some(question) = ask_details(d, k) {
        d.awaiting = Awaiting::Details;
        let sorry = if learned || u.intent == Intent::Book {
            ""
        } else {
            "Sorry, I didn't catch that. "
        };
        return Some(Step::Say(vec![format!("{sorry}{question}")]));
    }
    if !d.offers.is_empty() && !learned {
        return Some(Step::Say(vec![format!(
            "Sorry, I didn't catch which one. {}",
            offers_text(&d.offers, k, ctx.tz)
        )]));
    }
    slot_ask(d, k, ctx).map(Step::FindSlots)
}

fn offers_text(offers: &[Offer], k: &ClinicKnowledge, tz: &TimeZone) -> String {
    let items: Vec<String> = offers
        .iter()
        .enumerate()
        .map(|(i, o)| {
            format!(
                "{}) {} with {}",
                i + 1,
                when_text(o.start, tz),
                practitioner_name(k, o.practitioner)
            )
        })
        .collect();
    format!("{}. Which one would you like?", items.join(", "))
}

/// An urgent (not emergency) message: offer the soonest times for the service the patient
/// named or asked about, else the clinic's first service, with anyone. `None` when a booking
/// is already under way (it continues as it was) or the clinic has no services.
pub fn start_urgent(
    state: &mut DialogueState,
    u: &Understanding,
    ctx: &DialogueContext<'_>,
) -> Option<Step> {
    let k = ctx.clinic;
    if state.booking.is_some() {
        return None;
    }
    let service = u
        .entities
        .service()
        .or(state.mentioned_service)
        .or_else(|| k.services.first().map(|s| s.id))?;
    let practitioner = u.entities.practitioner().or(state.mentioned_practitioner);
    let d = state.booking.insert(BookingDraft {
        service: Some(service),
        practitioner,
        any_practitioner: practitioner.is_none(),
        urgent: true,
        ..BookingDraft::default()
    });
    slot_ask(d, k, ctx).map(Step::FindSlots)
}

/// The server found these free slots (soonest first) for the last [`SlotAsk`]; `widened`
/// when nothing was free in the asked window and the search was widened.
pub fn offer(
    state: &mut DialogueState,
    slots: &[Offer],
    widened: bool,
    ctx: &DialogueContext<'_>,
) -> Step {
    let k = ctx.clinic;
    let d = state.booking.get_or_insert_with(BookingDraft::default);
    d.offers = slots.iter().take(OFFERS).copied().collect();
    if d.offers.is_empty() {
        d.awaiting = Awaiting::Details;
        d.from = None;
        d.to = None;
        d.earliest = None;
        d.latest = None;
        return Step::Say(vec![format!(
            "Sorry, I can't find a free time for {} in the next two weeks. Another day or practitioner, perhaps? Or call the clinic and the team will help.",
            d.service
                .map_or_else(|| "that".to_owned(), |s| service_name(k, s))
        )]);
    }
    d.awaiting = Awaiting::Choice;
    let lead = if d.urgent {
        "The earliest times I can offer are: "
    } else if widened {
        "Nothing is free at that time. The nearest times I have are: "
    } else {
        "I have: "
    };
    Step::Say(vec![format!("{lead}{}", offers_text(&d.offers, k, ctx.tz))])
}

/// The store booked it: the confirmation, built from what the store returned.
pub fn booked(
    state: &mut DialogueState,
    service: ServiceId,
    practitioner: PractitionerId,
    start: Timestamp,
    ctx: &DialogueContext<'_>,
) -> Vec<String> {
    let k = ctx.clinic;
    state.booking = None;
    state.misunderstood = 0;
    state.mentioned_service = None;
    state.mentioned_practitioner = None;
    let mut msg = format!(
        "You're booked: {} with {} on {}.",
        service_name(k, service),
        practitioner_name(k, practitioner),
        when_text(start, ctx.tz)
    );
    if let Some((_, _, policy)) = k
        .faqs
        .iter()
        .find(|(_, q, _)| q.to_lowercase().contains("cancel"))
    {
        msg.push(' ');
        msg.push_str(policy);
    }
    vec![msg]
}

/// The chosen time was taken meanwhile: search again (the server then calls [`offer`]).
pub fn taken(state: &mut DialogueState, ctx: &DialogueContext<'_>) -> (String, Option<SlotAsk>) {
    let k = ctx.clinic;
    let d = state.booking.get_or_insert_with(BookingDraft::default);
    d.chosen = None;
    d.offers.clear();
    (
        "Sorry, that time has just been taken.".to_owned(),
        slot_ask(d, k, ctx),
    )
}

#[cfg(test)]
mod tests;
