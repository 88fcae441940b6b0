//! Understanding: what a patient's message asks for, and the details in it.
//!
//! [`understand`] turns one message into an [`Understanding`]: an [`Intent`] with a confidence,
//! plus [`Entities`] — a [`TimePreference`] in the clinic's own time zone, practitioners and
//! services matched fuzzily against the clinic's [`CatalogView`], the patient's name and a
//! phone number typed in the text. It is deterministic, offline and pure (no IO, no store): the
//! server fills the small input types from the store, so this module never sees another
//! clinic's data.
//!
//! Extraction order matters and is fixed: phone numbers first (so their digits are not read as
//! dates), then the patient's name (so "This is Leo" is a name, not the Swahili "today"), then
//! dates and times, then catalog names, then the intent, which may use what was found.

mod catalog;
mod choice;
mod clock;
mod cues;
mod cues_sw;
mod intent;
mod lexicon;
mod person;
mod resolve;
pub(crate) mod text;
mod when;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_props;
#[cfg(test)]
mod tests_when;

use crate::faq::FaqIndex;
use frontdesk_domain::{ClinicProfile, DomainError, E164Phone, FaqId, PractitionerId, ServiceId};
use jiff::{Timestamp, tz::TimeZone};

pub use intent::Intent;
pub use resolve::{TimeOfDay, TimePreference};

/// A practitioner or service as the agent sees it: an id, the display name and other names
/// patients use for it (e.g. "Dr Wanjiku", "physio follow-up").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedItem<I> {
    pub id: I,
    pub name: String,
    pub aliases: Vec<String>,
}

impl<I> NamedItem<I> {
    pub fn new(id: I, name: impl Into<String>) -> Self {
        Self {
            id,
            name: name.into(),
            aliases: Vec::new(),
        }
    }
}

/// The clinic's bookable catalog, filled by the server from the store (active items only).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CatalogView {
    pub services: Vec<NamedItem<ServiceId>>,
    pub practitioners: Vec<NamedItem<PractitionerId>>,
}

/// Everything [`understand`] needs to know about the clinic and the moment.
#[derive(Debug, Clone)]
pub struct UnderstandContext<'a> {
    /// The clinic's IANA zone: "today", "tomorrow" and "at 3" are clinic-local.
    pub time_zone: TimeZone,
    /// The moment the message is understood (from the injectable clock).
    pub now: Timestamp,
    /// BCP 47 tags the clinic speaks; Swahili words (`leo`, `kesho`, `saa nne`, `ndiyo`) are
    /// read only when one starts with `sw`, so "Leo" stays a name at an English-only clinic.
    pub languages: &'a [String],
    /// ISO 3166-1 alpha-2 country, for phone numbers typed in national form ("021 555 0101").
    pub country: &'a str,
    pub catalog: &'a CatalogView,
    /// The clinic's FAQ index; a confident FAQ match makes a question an [`Intent::Faq`].
    pub faq: Option<&'a FaqIndex>,
}

impl<'a> UnderstandContext<'a> {
    /// The context for one clinic, from its public profile.
    pub fn for_clinic(
        clinic: &'a ClinicProfile,
        now: Timestamp,
        catalog: &'a CatalogView,
        faq: Option<&'a FaqIndex>,
    ) -> Result<Self, DomainError> {
        Ok(Self {
            time_zone: clinic.time_zone()?,
            now,
            languages: &clinic.languages,
            country: &clinic.country,
            catalog,
            faq,
        })
    }

    pub(crate) fn swahili(&self) -> bool {
        self.languages
            .iter()
            .any(|l| l.get(..2).is_some_and(|p| p.eq_ignore_ascii_case("sw")))
    }
}

/// A catalog item that the text named, with a match score in `0.0..=1.0` (1.0 = exact).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Match<I> {
    pub id: I,
    pub score: f32,
}

/// A confident FAQ match (see [`FaqIndex::best`] for the threshold).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FaqMatch {
    pub id: FaqId,
    pub confidence: f32,
}

/// The name a patient gave for themselves. `Debug` never prints it.
#[derive(Clone, PartialEq, Eq)]
pub struct PatientName(String);

impl PatientName {
    pub fn as_str(&self) -> &str {
        &self.0
    }
    pub(crate) fn new(name: String) -> Self {
        Self(name)
    }
}

impl std::fmt::Debug for PatientName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PatientName(<redacted>)")
    }
}

/// The details found in one message. Absent details are `None` / empty: the dialogue keeps
/// what earlier turns said and asks only for what is still missing.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Entities {
    pub when: Option<TimePreference>,
    /// Practitioners named, best first. Empty when none was named.
    pub practitioners: Vec<Match<PractitionerId>>,
    /// "anyone", "any physio", "whoever's free", "yeyote": no practitioner preference.
    pub any_practitioner: bool,
    /// Services named, best first; several when the words fit more than one ("physio").
    pub services: Vec<Match<ServiceId>>,
    pub patient_name: Option<PatientName>,
    pub phone: Option<E164Phone>,
    pub faq: Option<FaqMatch>,
}

impl Entities {
    /// The practitioner the text clearly named: the best match, if it is well ahead of the next.
    pub fn practitioner(&self) -> Option<PractitionerId> {
        clear_winner(&self.practitioners)
    }
    /// The service the text clearly named, if one stands out.
    pub fn service(&self) -> Option<ServiceId> {
        clear_winner(&self.services)
    }
}

/// The best match when it is good (≥ 0.5) and at least 0.2 ahead of the runner-up.
fn clear_winner<I: Copy>(matches: &[Match<I>]) -> Option<I> {
    let best = matches.first()?;
    let margin = matches.get(1).map_or(best.score, |m| best.score - m.score);
    (best.score >= 0.5 && margin >= 0.2).then_some(best.id)
}

/// What one message means.
#[derive(Debug, Clone, PartialEq)]
pub struct Understanding {
    pub intent: Intent,
    /// How sure the rules are, in `0.0..=1.0`: a ranking signal, not a probability. Below
    /// about 0.5 the dialogue should confirm rather than act.
    pub confidence: f32,
    /// Other intents the message also signalled, strongest first (e.g. `thanks` after `affirm`).
    pub also: Vec<Intent>,
    pub entities: Entities,
}

/// Understands one patient message in the clinic's context. Never fails: text it cannot read
/// is [`Intent::Other`] with no entities.
pub fn understand(text: &str, ctx: &UnderstandContext<'_>) -> Understanding {
    let swahili = ctx.swahili();
    let mut tokens = text::tokenize(text);
    let phone = person::find_phone(text, ctx.country, &mut tokens);
    let patient_name = person::find_name(text, &mut tokens, swahili);
    let now = ctx.now.to_zoned(ctx.time_zone.clone());
    let when = when::find(&mut tokens, &now, swahili);
    let practitioners = catalog::match_practitioners(&tokens, &ctx.catalog.practitioners);
    let services = catalog::match_services(&tokens, &ctx.catalog.services);
    let any_practitioner = catalog::no_preference(&tokens, swahili);
    let faq = ctx.faq.and_then(|index| {
        index
            .best(text)
            .map(|(id, confidence)| FaqMatch { id, confidence })
    });
    let entities = Entities {
        when,
        practitioners,
        any_practitioner,
        services,
        patient_name,
        phone,
        faq,
    };
    let (intent, confidence, also) =
        intent::classify(&tokens, text.contains('?'), swahili, &entities);
    Understanding {
        intent,
        confidence,
        also,
        entities,
    }
}

/// Only the date and time part of [`understand`]: the [`TimePreference`] in `text`, resolved
/// against `ctx.now` in `ctx.time_zone`. Never in the past.
pub fn time_preference(text: &str, ctx: &UnderstandContext<'_>) -> Option<TimePreference> {
    let mut tokens = text::tokenize(text);
    person::find_phone(text, ctx.country, &mut tokens);
    person::find_name(text, &mut tokens, ctx.swahili());
    let now = ctx.now.to_zoned(ctx.time_zone.clone());
    when::find(&mut tokens, &now, ctx.swahili())
}
