//! The receptionist's answer to one message. Order matters and is fixed:
//!
//! 1. **Triage first**, deterministic: an emergency is answered with the clinic's emergency
//!    number before anything else (even the privacy notice) and the staff are alerted; an
//!    urgent case is flagged to the staff.
//! 2. **Privacy notice** on first contact.
//! 3. **Understanding**, then an answer built only from this clinic's own profile, catalogue
//!    and FAQ. Nothing is invented: a question the FAQ cannot answer confidently is passed to
//!    the team (a task alert) and the patient is told so.
//!
//! Booking runs as a dialogue ([`crate::dialogue`]), and so do looking up, cancelling and
//! moving the caller's own appointments, which need a verified identity (the phone of an SMS
//! or WhatsApp conversation); on web chat they are declined plainly, never claimed.

use crate::dialogue::{self, DialogueContext, DialogueState, Step};
use crate::faq::FaqIndex;
use crate::triage::{ClinicRule, Triage, TriageLevel, triage};
use crate::understand::{CatalogView, Intent, NamedItem, UnderstandContext, understand};
use frontdesk_domain::{ClinicProfile, FaqId, PractitionerId, ServiceId};
use jiff::Timestamp;

/// The identifier written to the audit log for replies from this agent.
pub const RULE_SET: &str = "builtin-v2";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceInfo {
    pub id: ServiceId,
    pub name: String,
    pub duration_min: u16,
    /// In the clinic currency's minor unit; `None` = price not stated.
    pub price_minor: Option<i64>,
    /// Who provides it; empty = any practitioner.
    pub practitioners: Vec<PractitionerId>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PractitionerInfo {
    pub id: PractitionerId,
    pub name: String,
    pub title: String,
}

/// Everything the receptionist may say about one clinic, prepared once (it can be cached per
/// clinic and rebuilt when the clinic's settings change).
#[derive(Debug)]
pub struct ClinicKnowledge {
    pub profile: ClinicProfile,
    pub services: Vec<ServiceInfo>,
    pub practitioners: Vec<PractitionerInfo>,
    pub faqs: Vec<(FaqId, String, String)>,
    pub rules: Vec<ClinicRule>,
    catalog: CatalogView,
    faq_index: FaqIndex,
}

impl ClinicKnowledge {
    /// The clinic's cancellation policy, stated when a patient books or cancels: the answer of
    /// its FAQ entry about cancelling, else the default wording.
    pub fn cancellation_policy(&self) -> String {
        let own = self.profile.cancellation_policy.trim();
        if !own.is_empty() {
            return own.to_owned();
        }
        self.faqs
            .iter()
            .find(|(_, q, _)| q.to_lowercase().contains("cancel"))
            .map_or_else(
                || frontdesk_domain::clinic::DEFAULT_CANCELLATION_POLICY.to_owned(),
                |(_, _, a)| a.clone(),
            )
    }

    pub fn new(
        profile: ClinicProfile,
        services: Vec<ServiceInfo>,
        practitioners: Vec<PractitionerInfo>,
        faqs: Vec<(FaqId, String, String)>,
        rules: Vec<ClinicRule>,
    ) -> Self {
        let catalog = CatalogView {
            services: services
                .iter()
                .map(|s| NamedItem::new(s.id, s.name.clone()))
                .collect(),
            practitioners: practitioners
                .iter()
                .map(|p| NamedItem::new(p.id, p.name.clone()))
                .collect(),
        };
        let faq_index = FaqIndex::new(&faqs);
        Self {
            profile,
            services,
            practitioners,
            faqs,
            rules,
            catalog,
            faq_index,
        }
    }
}

/// What the staff must be told about this turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alert {
    /// A red flag: the patient was told to call the emergency number.
    Emergency,
    /// Urgent but not an emergency: the team should contact the patient soon.
    Urgent,
    /// The patient asked for a person.
    Handoff,
    /// A question the receptionist could not answer: the team should reply.
    Task,
}

impl Alert {
    pub fn as_str(self) -> &'static str {
        match self {
            Alert::Emergency => "emergency",
            Alert::Urgent => "urgent",
            Alert::Handoff => "handoff",
            Alert::Task => "task",
        }
    }
}

/// The context of one turn.
#[derive(Debug, Clone, Copy)]
pub struct TurnContext<'a> {
    pub clinic: &'a ClinicKnowledge,
    pub now: Timestamp,
    /// The first message of a conversation: the privacy notice is stated.
    pub first_contact: bool,
    /// The channel has no verified phone number (web chat): a booking asks for one.
    pub needs_phone: bool,
    /// The channel proved who the caller is (SMS, WhatsApp, voice: the conversation's patient
    /// was found by the sender's phone). Only then are the caller's own appointments looked
    /// up, shown, cancelled or moved; web chat and the terminal chat are anonymous.
    pub identity_verified: bool,
    /// The server can text a one-time code to verify an anonymous web chat visitor (needs
    /// the clinic's SMS channel and the store's verification support).
    pub can_verify: bool,
    /// The appointment this conversation was last reminded of, while it is still the verified
    /// caller's live, upcoming appointment: "yes" confirms it, "cancel" cancels it.
    pub reminded: Option<crate::dialogue::Held>,
    /// A freed time offered to this conversation from the waitlist (open, or closed only
    /// recently): "yes" takes it, or is told it has gone.
    pub offered: Option<crate::dialogue::Offered>,
}

/// The receptionist's answer to one patient message.
#[derive(Debug, Clone)]
pub struct Reply {
    /// `red_flag` for an emergency, else the understood intent (`opening_hours`, `faq`, …).
    pub intent: &'static str,
    pub confidence: f32,
    /// One or more messages, in order.
    pub messages: Vec<String>,
    pub triage: Triage,
    pub alert: Option<Alert>,
    /// Work the server must do for the booking dialogue (find slots, book), after which it
    /// calls back into [`crate::dialogue`] for the words.
    pub next: Option<Step>,
}

fn speaks_swahili(p: &ClinicProfile) -> bool {
    p.languages
        .iter()
        .any(|l| l.get(..2).is_some_and(|x| x.eq_ignore_ascii_case("sw")))
}

/// `9500` NZD → `NZD 95`; `200000` KES → `KES 2,000`; `1250` → `NZD 12.50`.
pub fn money(minor: i64, currency: &str) -> String {
    let (major, cents) = (minor / 100, (minor % 100).abs());
    let digits = major.abs().to_string();
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    let sign = if minor < 0 { "-" } else { "" };
    if cents == 0 {
        format!("{currency} {sign}{grouped}")
    } else {
        format!("{currency} {sign}{grouped}.{cents:02}")
    }
}

/// The emergency advice (the clinic's emergency number first) and the staff-alerted line; also
/// used when a language model raises a turn to an emergency.
pub fn emergency_messages(k: &ClinicKnowledge) -> Vec<String> {
    let p = &k.profile;
    let number = p.emergency_phrase();
    let mut first = format!(
        "Call {number} now. What you describe may be an emergency: please call {number} or go to the nearest \
         emergency department straight away, and don't wait for a reply here."
    );
    if speaks_swahili(p) {
        first.push_str(&format!(
            " / Piga simu {} sasa hivi: hii inaweza kuwa dharura.",
            p.emergency_numbers.join(" au ")
        ));
    }
    vec![
        first,
        format!("I've alerted the {} team to your message.", p.name),
    ]
}

/// The words of an urgent (not emergency) flag; also used when a language model raises a turn.
pub fn urgent_message(k: &ClinicKnowledge) -> String {
    format!(
        "That needs prompt attention, so I've flagged your message to the {} team and they will contact you \
         as soon as they can. If it gets worse or you are worried, call {} now.",
        k.profile.name,
        k.profile.emergency_phrase()
    )
}

fn hours_answer(p: &ClinicProfile, now: Timestamp) -> String {
    let open_now = p
        .time_zone()
        .map(|tz| p.hours.is_open_at(now, &tz))
        .unwrap_or(false);
    let state = if open_now {
        "We're open right now."
    } else {
        "We're closed right now."
    };
    format!(
        "{} is open {} ({} time). {state}",
        p.name,
        p.hours.describe(),
        p.timezone
    )
}

pub(crate) fn contact_hint(p: &ClinicProfile) -> String {
    match &p.phone {
        Some(phone) => format!("please call us on {phone}"),
        None => "please contact the clinic directly".to_owned(),
    }
}

fn services_answer(k: &ClinicKnowledge) -> String {
    if k.services.is_empty() {
        return format!(
            "I don't have our list of services to hand; {}.",
            contact_hint(&k.profile)
        );
    }
    let items: Vec<String> = k
        .services
        .iter()
        .map(|s| service_line(s, &k.profile.currency))
        .collect();
    format!("At {} we offer: {}.", k.profile.name, items.join("; "))
}

/// `Sports massage (60 min, NZD 110)`.
fn service_line(s: &ServiceInfo, currency: &str) -> String {
    match s.price_minor {
        Some(p) => format!(
            "{} ({} min, {})",
            s.name,
            s.duration_min,
            money(p, currency)
        ),
        None => format!("{} ({} min)", s.name, s.duration_min),
    }
}

fn practitioners_answer(k: &ClinicKnowledge) -> String {
    if k.practitioners.is_empty() {
        return format!(
            "I don't have our team list to hand; {}.",
            contact_hint(&k.profile)
        );
    }
    let items: Vec<String> = k
        .practitioners
        .iter()
        .map(|p| format!("{} ({})", p.name, p.title.to_lowercase()))
        .collect();
    format!("Our team: {}.", items.join(", "))
}

/// "Do you do sports massage?": the services the patient named, with duration and price.
fn named_services_answer(
    k: &ClinicKnowledge,
    named: &[crate::understand::Match<ServiceId>],
) -> Option<String> {
    let items: Vec<String> = named
        .iter()
        .filter_map(|m| k.services.iter().find(|s| s.id == m.id))
        .map(|s| service_line(s, &k.profile.currency))
        .collect();
    (!items.is_empty()).then(|| format!("Yes, we offer {}.", items.join(" and ")))
}

fn faq_answer(k: &ClinicKnowledge, id: FaqId) -> Option<String> {
    k.faqs
        .iter()
        .find(|(fid, _, _)| *fid == id)
        .map(|(_, _, a)| a.clone())
}

/// Answers one patient message, advancing the conversation's dialogue `state`.
/// Deterministic: the same input and state give the same reply.
pub fn reply(ctx: TurnContext<'_>, text: &str, state: &mut DialogueState) -> Reply {
    let k = ctx.clinic;
    let p = &k.profile;
    let tri = triage(text, &k.rules);
    let notice = (ctx.first_contact && !p.privacy_notice.trim().is_empty())
        .then(|| p.privacy_notice.clone());
    if tri.level == TriageLevel::Emergency {
        let mut messages = emergency_messages(k);
        messages.extend(notice);
        return Reply {
            intent: "red_flag",
            confidence: 1.0,
            messages,
            triage: tri,
            alert: Some(Alert::Emergency),
            next: None,
        };
    }
    let mut messages: Vec<String> = notice.into_iter().collect();
    let mut alert = None;
    if tri.level == TriageLevel::Urgent {
        messages.push(urgent_message(k));
        alert = Some(Alert::Urgent);
    }
    let Ok(uctx) = UnderstandContext::for_clinic(p, ctx.now, &k.catalog, Some(&k.faq_index)) else {
        // Only an invalid stored time zone gets here; the clinic's team answers instead.
        messages.push(format!("I'll pass your message to the {} team.", p.name));
        return Reply {
            intent: "other",
            confidence: 0.0,
            messages,
            triage: tri,
            alert: alert.or(Some(Alert::Task)),
            next: None,
        };
    };
    let u = understand(text, &uctx);
    let dctx = DialogueContext {
        clinic: k,
        tz: &uctx.time_zone,
        now: ctx.now,
        needs_phone: ctx.needs_phone,
        identity_verified: ctx.identity_verified,
        can_verify: ctx.can_verify,
        reminded: ctx.reminded,
        offered: ctx.offered,
    };
    let intent = u.intent.as_str();
    // Urgent but not an emergency: the soonest times are offered along with the flag to staff.
    let urgent_offer = if tri.level == TriageLevel::Urgent {
        dialogue::start_urgent(state, &u, &dctx)
    } else {
        None
    };
    if let Some(step) = urgent_offer {
        return Reply {
            intent: "red_flag",
            confidence: 1.0,
            messages,
            triage: tri,
            alert,
            next: Some(step),
        };
    }
    if let Some(step) = dialogue::advance(state, &u, text, &dctx) {
        let (alert, next) = match step {
            Step::Say(said) => {
                messages.extend(said);
                (alert, None)
            }
            Step::Handoff(said) => {
                messages.push(said);
                (alert.or(Some(Alert::Handoff)), None)
            }
            step => (alert, Some(step)),
        };
        return Reply {
            intent,
            confidence: u.confidence,
            messages,
            triage: tri,
            alert,
            next,
        };
    }
    let faq = u.entities.faq.and_then(|m| faq_answer(k, m.id));
    let answer = match u.intent {
        Intent::OpeningHours => Some(hours_answer(p, ctx.now)),
        Intent::Address if p.address.trim().is_empty() => Some(format!(
            "I don't have our address to hand; {}.",
            contact_hint(p)
        )),
        Intent::Address => Some(format!("You'll find {} at {}.", p.name, p.address)),
        Intent::Prices | Intent::Services => Some(services_answer(k)),
        Intent::PractitionerInfo => Some(practitioners_answer(k)),
        Intent::Greeting if alert.is_none() => Some(format!(
            "Hello! You're chatting with {}'s receptionist. I can book appointments, tell you about our hours, \
             location, services, prices and team, and answer common questions.",
            p.name
        )),
        Intent::Thanks => {
            Some("You're welcome! Is there anything else I can help with?".to_owned())
        }
        // The dialogue answers these; this is only a plain fallback that claims nothing.
        Intent::Book
        | Intent::Reschedule
        | Intent::Cancel
        | Intent::CheckAppointment
        | Intent::Waitlist => Some(format!(
            "I can't do that in this chat; {} and the team will help.",
            contact_hint(p)
        )),
        Intent::Human => {
            alert = alert.or(Some(Alert::Handoff));
            Some(format!(
                "Of course. I've asked a member of the {} team to get back to you here.",
                p.name
            ))
        }
        // Outside a dialogue a bare yes / no / "ok" needs no answer from the team.
        // ("no chest pain, do you do sports massage?" still asks about the service.)
        Intent::Affirm | Intent::Deny | Intent::ChooseOption(_) if faq.is_none() => {
            named_services_answer(k, &u.entities.services)
                .or_else(|| Some("Okay. Is there anything else I can help with?".to_owned()))
        }
        _ => faq
            .clone()
            .or_else(|| named_services_answer(k, &u.entities.services)),
    };
    let answer = match answer {
        Some(a) => a,
        None if alert.is_some() => String::new(),
        None => {
            alert = Some(Alert::Task);
            format!(
                "I'm not sure about that, so I've passed your question to the {} team and they will get back to \
                 you. If it's an emergency, call {} now.",
                p.name,
                p.emergency_phrase()
            )
        }
    };
    if !answer.is_empty() {
        messages.push(answer);
    }
    let intent = if faq.is_some() && matches!(u.intent, Intent::Faq | Intent::Other) {
        "faq"
    } else {
        intent
    };
    Reply {
        intent,
        confidence: u.confidence,
        messages,
        triage: tri,
        alert,
        next: None,
    }
}

#[cfg(test)]
mod tests;
