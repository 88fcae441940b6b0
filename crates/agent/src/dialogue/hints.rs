//! Which appointment the patient means: the details in their words ("my Friday physio",
//! "the 10:00 one", "the second one") matched against their own upcoming appointments, and,
//! for a move, the new time when the words name no appointment ("move it to Thursday at 3").

use super::Held;
use crate::understand::{TimeOfDay, Understanding};
use frontdesk_domain::{PractitionerId, ServiceId};
use jiff::civil::{Date, Time};
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};

/// Details the patient's words gave that may pick one of their appointments ("my Friday
/// physio") or, for a move, name the new time ("move it to Thursday at 3").
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hints {
    pub date: Option<Date>,
    pub until: Option<Date>,
    pub earliest: Option<Time>,
    pub latest: Option<Time>,
    pub service: Option<ServiceId>,
    pub practitioner: Option<PractitionerId>,
    #[serde(default)]
    pub any_practitioner: bool,
}

impl Hints {
    pub(super) fn of(u: &Understanding) -> Self {
        let w = u.entities.when;
        let (earliest, latest) = match w.and_then(|w| w.time) {
            Some(TimeOfDay::Exact(t)) => (Some(t), Some(t)),
            Some(TimeOfDay::Window { earliest, latest }) => (Some(earliest), Some(latest)),
            None => (None, None),
        };
        Hints {
            date: w.and_then(|w| w.date),
            until: w.and_then(|w| w.until),
            earliest,
            latest,
            service: u.entities.service(),
            practitioner: u.entities.practitioner(),
            any_practitioner: u.entities.any_practitioner,
        }
    }

    pub(super) fn has_when(&self) -> bool {
        self.date.is_some() || self.earliest.is_some()
    }

    pub(super) fn without_when(self) -> Self {
        Hints {
            date: None,
            until: None,
            earliest: None,
            latest: None,
            ..self
        }
    }

    /// Whether `h` fits every detail given.
    fn fits(&self, h: &Held, tz: &TimeZone) -> bool {
        let z = h.start.to_zoned(tz.clone());
        let (day, t) = (z.date(), z.time());
        let day_ok = match (self.date, self.until) {
            (Some(from), Some(to)) => from <= day && day <= to,
            (Some(d), None) => d == day,
            _ => true,
        };
        let time_ok = match (self.earliest, self.latest) {
            (Some(e), Some(l)) if e == l => t.hour() == e.hour() && t.minute() == e.minute(),
            (Some(e), Some(l)) => e <= t && t <= l,
            _ => true,
        };
        day_ok
            && time_ok
            && self.service.is_none_or(|s| s == h.service)
            && self.practitioner.is_none_or(|p| p == h.practitioner)
    }

    /// The one appointment these details pick, if they say anything and fit exactly one.
    pub(super) fn select(&self, held: &[Held], tz: &TimeZone) -> Option<Held> {
        let says = self.has_when() || self.service.is_some() || self.practitioner.is_some();
        let mut fit = held.iter().filter(|h| self.fits(h, tz));
        match (says, fit.next(), fit.next()) {
            (true, Some(h), None) => Some(*h),
            _ => None,
        }
    }
}

/// "the second one", "2nd": an ordinal in a longer message ("cancel the second one").
pub(super) fn ordinal(text: &str) -> Option<usize> {
    const WORDS: [(&str, &str); 5] = [
        ("first", "1st"),
        ("second", "2nd"),
        ("third", "3rd"),
        ("fourth", "4th"),
        ("fifth", "5th"),
    ];
    let lower = text.to_lowercase();
    let mut found = lower
        .split(|c: char| !c.is_alphanumeric())
        .filter_map(|w| WORDS.iter().position(|(a, b)| w == *a || w == *b));
    match (found.next(), found.next()) {
        (Some(i), None) => Some(i + 1),
        _ => None,
    }
}
