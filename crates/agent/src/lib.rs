//! The receptionist brain. Issue #2 ships the minimal reply path — greeting, opening hours,
//! address, and an honest "I can't help with that yet" that still names the emergency number —
//! so the demo is real today. Issue #3 replaces it with triage, understanding and dialogue;
//! callers depend only on [`reply`] and [`Reply`].
//!
//! The agent is pure: it sees the clinic's public profile and the patient's text, never the
//! store, so it cannot pull another patient's or another clinic's data into a reply.

use frontdesk_domain::ClinicProfile;
use jiff::Timestamp;

/// The identifier written to the audit log for replies from this rule set.
pub const RULE_SET: &str = "builtin-minimal-v1";

/// What the receptionist understood the patient to want.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Intent {
    Greeting,
    OpeningHours,
    Address,
    Thanks,
    Other,
}

impl Intent {
    pub fn as_str(self) -> &'static str {
        match self {
            Intent::Greeting => "greeting",
            Intent::OpeningHours => "opening_hours",
            Intent::Address => "address",
            Intent::Thanks => "thanks",
            Intent::Other => "other",
        }
    }
}

/// The receptionist's answer to one patient message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub intent: Intent,
    /// One or more messages, in order.
    pub messages: Vec<String>,
}

/// The context of one turn.
#[derive(Debug, Clone, Copy)]
pub struct TurnContext<'a> {
    pub clinic: &'a ClinicProfile,
    pub now: Timestamp,
    /// The first message of a conversation: the privacy notice is stated before anything else.
    pub first_contact: bool,
}

const HOURS_WORDS: &[&str] = &[
    "hours",
    "open",
    "opening",
    "close",
    "closed",
    "closing",
    "when are you",
    "what time",
    "saa ngapi",
    "mnafungua",
    "mnafunga",
    "masaa",
];
const ADDRESS_WORDS: &[&str] = &[
    "address",
    "where are you",
    "where is",
    "located",
    "location",
    "directions",
    "find you",
    "how do i get",
    "mko wapi",
    "wapi",
    "anwani",
    "mahali",
];
const GREETING_WORDS: &[&str] = &[
    "hi",
    "hello",
    "hey",
    "kia ora",
    "good morning",
    "good afternoon",
    "good evening",
    "habari",
    "jambo",
    "hujambo",
    "mambo",
    "salaam",
    "sasa",
];
const THANKS_WORDS: &[&str] = &["thanks", "thank you", "cheers", "ta", "asante", "shukran"];

/// Lower-cases and keeps letters, digits and single spaces, so matching ignores punctuation.
fn normalise(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push(' ');
    let mut last_space = true;
    for c in text.chars().flat_map(char::to_lowercase) {
        if c.is_alphanumeric() {
            out.push(c);
            last_space = false;
        } else if !last_space {
            out.push(' ');
            last_space = true;
        }
    }
    if !last_space {
        out.push(' ');
    }
    out
}

/// Whole-word (or whole-phrase) match on normalised text.
fn mentions(norm: &str, words: &[&str]) -> bool {
    words.iter().any(|w| norm.contains(&format!(" {w} ")))
}

fn understand(text: &str) -> Intent {
    let norm = normalise(text);
    if mentions(&norm, HOURS_WORDS) {
        Intent::OpeningHours
    } else if mentions(&norm, ADDRESS_WORDS) {
        Intent::Address
    } else if mentions(&norm, THANKS_WORDS) {
        Intent::Thanks
    } else if mentions(&norm, GREETING_WORDS) {
        Intent::Greeting
    } else {
        Intent::Other
    }
}

fn hours_answer(clinic: &ClinicProfile, now: Timestamp) -> String {
    let hours = clinic.hours.describe();
    let open_now = clinic
        .time_zone()
        .map(|tz| clinic.hours.is_open_at(now, &tz))
        .unwrap_or(false);
    let state = if open_now {
        "We're open right now."
    } else {
        "We're closed right now."
    };
    format!(
        "{} is open {hours} ({} time). {state}",
        clinic.name, clinic.timezone
    )
}

/// Answers one patient message. Deterministic: the same input gives the same reply.
pub fn reply(ctx: TurnContext<'_>, text: &str) -> Reply {
    let clinic = ctx.clinic;
    let intent = understand(text);
    let mut messages = Vec::with_capacity(2);
    if ctx.first_contact && !clinic.privacy_notice.trim().is_empty() {
        messages.push(clinic.privacy_notice.clone());
    }
    let answer = match intent {
        Intent::OpeningHours => hours_answer(clinic, ctx.now),
        Intent::Address => format!("You'll find {} at {}.", clinic.name, clinic.address),
        Intent::Greeting => format!(
            "Hello! You're chatting with {}'s receptionist. I can tell you our opening hours and where to find us.",
            clinic.name
        ),
        Intent::Thanks => "You're welcome! Is there anything else I can help with?".to_owned(),
        Intent::Other => format!(
            "Sorry, I can't help with that yet. I can tell you our opening hours and address. \
             If this is an emergency, call {} now.",
            clinic.emergency_phrase()
        ),
    };
    messages.push(answer);
    Reply { intent, messages }
}

#[cfg(test)]
mod tests {
    use super::*;
    use frontdesk_domain::{DayHours, WeeklyHours};

    fn clinic() -> ClinicProfile {
        let wd = DayHours::parse("08:00-18:00").ok();
        ClinicProfile {
            name: "Harbour Physio".into(),
            timezone: "Pacific/Auckland".into(),
            country: "NZ".into(),
            languages: vec!["en".into()],
            emergency_numbers: vec!["111".into()],
            address: "12 Quay Street, Auckland".into(),
            phone: None,
            currency: "NZD".into(),
            hours: WeeklyHours([
                wd,
                wd,
                wd,
                wd,
                wd,
                DayHours::parse("09:00-13:00").ok(),
                None,
            ]),
            privacy_notice: "We keep this chat private.".into(),
        }
    }

    fn ask(text: &str, first: bool, now: &str) -> Reply {
        let c = clinic();
        let now: Timestamp = now.parse().unwrap_or(Timestamp::UNIX_EPOCH);
        reply(
            TurnContext {
                clinic: &c,
                now,
                first_contact: first,
            },
            text,
        )
    }

    const MON_10AM_NZDT: &str = "2026-11-22T21:00:00Z";
    const SUN_NOON_NZDT: &str = "2026-11-21T23:00:00Z";

    #[test]
    fn opening_hours_say_whether_open_now_in_clinic_time() {
        let r = ask("What are your opening hours?", false, MON_10AM_NZDT);
        assert_eq!(r.intent, Intent::OpeningHours);
        assert!(r.messages[0].contains("Mon–Fri 08:00–18:00, Sat 09:00–13:00"));
        assert!(r.messages[0].contains("open right now"));
        let r = ask("are you open", false, SUN_NOON_NZDT);
        assert!(r.messages[0].contains("closed right now"));
    }

    #[test]
    fn address_and_swahili_location_questions() {
        assert!(
            ask("where are you located?", false, MON_10AM_NZDT).messages[0]
                .contains("12 Quay Street")
        );
        assert_eq!(
            ask("Mko wapi?", false, MON_10AM_NZDT).intent,
            Intent::Address
        );
    }

    #[test]
    fn greetings_thanks_and_word_boundaries() {
        assert_eq!(
            ask("Kia ora!", false, MON_10AM_NZDT).intent,
            Intent::Greeting
        );
        assert_eq!(
            ask("thanks heaps", false, MON_10AM_NZDT).intent,
            Intent::Thanks
        );
        // "this" contains "hi" and "ta" but is not a greeting or thanks.
        assert_eq!(ask("this", false, MON_10AM_NZDT).intent, Intent::Other);
    }

    #[test]
    fn unknown_requests_are_declined_with_the_emergency_number() {
        let r = ask("Can you prescribe antibiotics?", false, MON_10AM_NZDT);
        assert_eq!(r.intent, Intent::Other);
        assert!(r.messages[0].contains("can't help with that yet"));
        assert!(r.messages[0].contains("111"));
    }

    #[test]
    fn privacy_notice_comes_first_on_first_contact_only() {
        let r = ask("hello", true, MON_10AM_NZDT);
        assert_eq!(r.messages.len(), 2);
        assert_eq!(r.messages[0], "We keep this chat private.");
        assert_eq!(ask("hello", false, MON_10AM_NZDT).messages.len(), 1);
    }
}
