//! Intents and entities on the two demo clinics (crates/server/src/demo.rs).

use super::*;
use crate::faq::tests::{HARBOUR, NAIROBI, index};
use frontdesk_domain::{FaqId, PractitionerId, ServiceId};

pub(super) struct Fixture {
    pub tz: TimeZone,
    pub languages: Vec<String>,
    pub country: String,
    pub catalog: CatalogView,
    pub faq: FaqIndex,
    pub services: Vec<ServiceId>,
    pub practitioners: Vec<PractitionerId>,
    pub faqs: Vec<FaqId>,
}

impl Fixture {
    fn new(
        tz: &str,
        langs: &[&str],
        country: &str,
        people: &[&str],
        services: &[&str],
        faqs: &[(&str, &str)],
    ) -> Self {
        let catalog = CatalogView {
            services: services
                .iter()
                .map(|s| NamedItem::new(ServiceId::new(), *s))
                .collect(),
            practitioners: people
                .iter()
                .map(|p| NamedItem::new(PractitionerId::new(), *p))
                .collect(),
        };
        let (faq, faq_ids) = index(faqs);
        Self {
            tz: TimeZone::get(tz).unwrap_or(TimeZone::UTC),
            languages: langs.iter().map(|l| (*l).to_owned()).collect(),
            country: country.into(),
            services: catalog.services.iter().map(|s| s.id).collect(),
            practitioners: catalog.practitioners.iter().map(|p| p.id).collect(),
            catalog,
            faq,
            faqs: faq_ids,
        }
    }

    pub fn harbour() -> Self {
        Self::new(
            "Pacific/Auckland",
            &["en"],
            "NZ",
            &["Aroha Ngata", "Sam Patel", "Mei Chen"],
            &[
                "Initial physiotherapy consultation",
                "Follow-up physiotherapy",
                "Sports massage",
            ],
            &HARBOUR,
        )
    }

    pub fn nairobi() -> Self {
        Self::new(
            "Africa/Nairobi",
            &["en", "sw"],
            "KE",
            &["Dr. Wanjiku Kamau", "Dr. Otieno Odhiambo"],
            &["GP consultation", "Child immunisation"],
            &NAIROBI,
        )
    }

    pub fn ctx(&self, now: &str) -> UnderstandContext<'_> {
        UnderstandContext {
            time_zone: self.tz.clone(),
            now: now.parse().unwrap_or(Timestamp::UNIX_EPOCH),
            languages: &self.languages,
            country: &self.country,
            catalog: &self.catalog,
            faq: Some(&self.faq),
        }
    }

    pub fn read(&self, text: &str) -> Understanding {
        understand(text, &self.ctx(NOW))
    }
}

/// Monday 2026-11-23, 10:00 in Auckland.
const NOW: &str = "2026-11-22T21:00:00Z";

fn intent_of(f: &Fixture, text: &str) -> Intent {
    f.read(text).intent
}

#[test]
fn english_intents() {
    let f = Fixture::harbour();
    let cases: &[(&str, Intent)] = &[
        ("I'd like to make an appointment", Intent::Book),
        ("can I book in with Aroha tomorrow arvo", Intent::Book),
        ("Hi, do you have any slots on Friday?", Intent::Book),
        ("can you put me on the waitlist?", Intent::Waitlist),
        (
            "book me on the waiting list for a sports massage",
            Intent::Waitlist,
        ),
        (
            "please let me know if something opens up earlier",
            Intent::Waitlist,
        ),
        ("add me to the cancellation list", Intent::Waitlist),
        ("I need to reschedule", Intent::Reschedule),
        ("can I move my appointment to Friday", Intent::Reschedule),
        ("i want to resechedule my apointment", Intent::Reschedule),
        (
            "I can't make it Tuesday, can we move it?",
            Intent::Reschedule,
        ),
        (
            "I don't want to cancel, just change the time",
            Intent::Reschedule,
        ),
        ("please cancel my appointment", Intent::Cancel),
        ("I can't make it tomorrow", Intent::Cancel),
        ("when is my appointment?", Intent::CheckAppointment),
        (
            "do I have an appointment this week",
            Intent::CheckAppointment,
        ),
        ("what are your opening hours", Intent::OpeningHours),
        ("are you open on Saturday?", Intent::OpeningHours),
        ("where are you located", Intent::Address),
        ("how much is a sports massage", Intent::Prices),
        ("what services do you offer", Intent::Services),
        ("who is Sam Patel?", Intent::PractitionerInfo),
        ("what's your cancellation policy", Intent::Faq),
        ("how much notice to cancel", Intent::Faq),
        ("where can I park", Intent::Faq),
        ("do you do ACC", Intent::Faq),
        ("can I talk to a real person", Intent::Human),
        ("kia ora", Intent::Greeting),
        ("thanks heaps", Intent::Thanks),
        ("yes please", Intent::Affirm),
        ("yep", Intent::Affirm),
        ("sweet as", Intent::Affirm),
        ("no thanks", Intent::Deny),
        ("nah", Intent::Deny),
        ("the second one", Intent::ChooseOption(2)),
        ("2", Intent::ChooseOption(2)),
        ("option 3 please", Intent::ChooseOption(3)),
        ("I'll take the first", Intent::ChooseOption(1)),
        ("Can you prescribe antibiotics?", Intent::Other),
        ("tomorrow at 3", Intent::Book),
    ];
    for (text, want) in cases {
        let u = f.read(text);
        assert_eq!(u.intent, *want, "{text}: {u:?}");
        assert!((0.0..=1.0).contains(&u.confidence), "{text}");
    }
}

#[test]
fn swahili_intents() {
    let f = Fixture::nairobi();
    let cases: &[(&str, Intent)] = &[
        ("nataka kuweka miadi kesho saa nne", Intent::Book),
        ("nataka kughairi miadi yangu", Intent::Cancel),
        ("naomba kubadilisha miadi", Intent::Reschedule),
        ("miadi yangu ni lini?", Intent::CheckAppointment),
        ("mnafungua saa ngapi?", Intent::OpeningHours),
        ("mko wapi", Intent::Address),
        ("bei ya GP consultation ni ngapi", Intent::Prices),
        ("nataka kuongea na mtu", Intent::Human),
        ("Habari za asubuhi", Intent::Greeting),
        ("asante sana", Intent::Thanks),
        ("ndiyo", Intent::Affirm),
        ("hapana", Intent::Deny),
        ("ya pili", Intent::ChooseOption(2)),
        ("naweza kulipa kwa mpesa?", Intent::Faq),
        ("naomba uniweke kwenye orodha ya kusubiri", Intent::Waitlist),
    ];
    for (text, want) in cases {
        assert_eq!(intent_of(&f, text), *want, "{text}: {:?}", f.read(text));
    }
    assert_eq!(f.read("Habari za asubuhi").entities.when, None);
    let u = f.read("nataka kuweka miadi kesho saa nne");
    let when = u.entities.when.map(|w| (w.date, w.time));
    let tomorrow_10 = (
        Some(jiff::civil::date(2026, 11, 24)),
        Some(TimeOfDay::Exact(jiff::civil::time(10, 0, 0, 0))),
    );
    assert_eq!(when, Some(tomorrow_10));
}

#[test]
fn practitioners_are_matched_fuzzily() {
    let h = Fixture::harbour();
    let aroha = h.practitioners[0];
    for text in [
        "Aroha",
        "with arohaa please",
        "can I see Aroha Ngata",
        "aroah tomorrow",
    ] {
        assert_eq!(h.read(text).entities.practitioner(), Some(aroha), "{text}");
    }
    assert_eq!(
        h.read("Sam").entities.practitioner(),
        Some(h.practitioners[1])
    );
    assert_eq!(
        h.read("with Mei on Friday").entities.practitioner(),
        Some(h.practitioners[2])
    );
    for text in [
        "then I'll come",
        "same time works",
        "me please",
        "I'm hoping to get in",
    ] {
        assert!(h.read(text).entities.practitioners.is_empty(), "{text}");
    }
    let n = Fixture::nairobi();
    assert_eq!(
        n.read("Dr Kamau").entities.practitioner(),
        Some(n.practitioners[0])
    );
    assert_eq!(
        n.read("daktari Otieno kesho").entities.practitioner(),
        Some(n.practitioners[1])
    );
    assert!(
        n.read("kama nitaweza kuja kesho")
            .entities
            .practitioners
            .is_empty()
    );
}

#[test]
fn services_are_matched_fuzzily() {
    let h = Fixture::harbour();
    let [initial, follow, massage] = [h.services[0], h.services[1], h.services[2]];
    assert_eq!(h.read("sports massge").entities.service(), Some(massage));
    assert_eq!(h.read("a massage please").entities.service(), Some(massage));
    assert_eq!(h.read("follow up physio").entities.service(), Some(follow));
    assert_eq!(h.read("a follow-up").entities.service(), Some(follow));
    assert_eq!(
        h.read("initial physio consult").entities.service(),
        Some(initial)
    );
    // "physio" fits both physiotherapy services: the dialogue asks which.
    let both = h.read("I need physio").entities;
    assert_eq!(both.service(), None);
    assert_eq!(both.services.len(), 2);
    assert!(h.read("I'd like to book").entities.services.is_empty());
    let n = Fixture::nairobi();
    assert_eq!(
        n.read("vaccination for my kid").entities.service(),
        Some(n.services[1])
    );
    assert_eq!(
        n.read("a GP appointment").entities.service(),
        Some(n.services[0])
    );
}

#[test]
fn no_preference_for_practitioner() {
    let h = Fixture::harbour();
    for text in [
        "anyone",
        "any",
        "any physio is fine",
        "whoever's free",
        "no preference",
        "Anybody is fine",
    ] {
        assert!(h.read(text).entities.any_practitioner, "{text}");
    }
    for text in [
        "do you have any slots tomorrow",
        "Aroha please",
        "either Tuesday or Wednesday",
    ] {
        assert!(!h.read(text).entities.any_practitioner, "{text}");
    }
    let n = Fixture::nairobi();
    assert!(n.read("yeyote").entities.any_practitioner);
    assert!(n.read("daktari yeyote tu").entities.any_practitioner);
}

fn name(f: &Fixture, text: &str) -> Option<String> {
    f.read(text)
        .entities
        .patient_name
        .map(|n| n.as_str().to_owned())
}

#[test]
fn patient_names() {
    let h = Fixture::harbour();
    assert_eq!(
        name(&h, "my name is Aroha Ngata").as_deref(),
        Some("Aroha Ngata")
    );
    assert_eq!(name(&h, "My name's tane").as_deref(), Some("Tane"));
    assert_eq!(name(&h, "I'm Tane").as_deref(), Some("Tane"));
    assert_eq!(name(&h, "im aroha").as_deref(), Some("Aroha"));
    assert_eq!(
        name(&h, "Hi, this is Mere Smith calling about my appointment").as_deref(),
        Some("Mere Smith")
    );
    assert_eq!(name(&h, "I am Leo.").as_deref(), Some("Leo"));
    for text in [
        "I'm sick",
        "I'm in pain",
        "I'm feeling awful",
        "I am looking for a physio",
        "this is urgent",
        "I'm hoping to book",
        "it's my knee",
        "It's Tuesday I want",
    ] {
        assert_eq!(name(&h, text), None, "{text}");
    }
    // The patient's own name is not a practitioner.
    let u = h.read("Hi, I'm Aroha and I'd like to see Sam");
    assert_eq!(
        u.entities.patient_name.as_ref().map(PatientName::as_str),
        Some("Aroha")
    );
    assert_eq!(u.entities.practitioner(), Some(h.practitioners[1]));
    let n = Fixture::nairobi();
    assert_eq!(
        name(&n, "jina langu ni Wanjiru Mwangi").as_deref(),
        Some("Wanjiru Mwangi")
    );
    assert_eq!(name(&n, "naitwa otieno").as_deref(), Some("Otieno"));
    assert_eq!(name(&n, "mimi ni mgonjwa"), None);
    assert!(!format!("{:?}", h.read("my name is Aroha")).contains("Aroha"));
}

fn phone(f: &Fixture, text: &str) -> Option<String> {
    f.read(text).entities.phone.map(|p| p.as_str().to_owned())
}

#[test]
fn phone_numbers_in_text() {
    let h = Fixture::harbour();
    assert_eq!(
        phone(&h, "+64 21 555 0101").as_deref(),
        Some("+64215550101")
    );
    assert_eq!(
        phone(&h, "my number is 021 555 0101").as_deref(),
        Some("+64215550101")
    );
    assert_eq!(
        phone(&h, "021-555-0101 thanks").as_deref(),
        Some("+64215550101")
    );
    assert_eq!(
        phone(&h, "0064 21 555 0101").as_deref(),
        Some("+64215550101")
    );
    for text in ["28/11/2026", "my ACC number is 12345678", "at 9:30", "021"] {
        assert_eq!(phone(&h, text), None, "{text}");
    }
    let u = h.read("call me on 021 555 0101 tomorrow at 3");
    assert!(u.entities.phone.is_some());
    let when = u.entities.when.map(|w| (w.date, w.time));
    let want = (
        Some(jiff::civil::date(2026, 11, 24)),
        Some(TimeOfDay::Exact(jiff::civil::time(15, 0, 0, 0))),
    );
    assert_eq!(when, Some(want));
    let n = Fixture::nairobi();
    assert_eq!(phone(&n, "0712 345 678").as_deref(), Some("+254712345678"));
    assert_eq!(
        phone(&n, "namba yangu ni 254712345678").as_deref(),
        Some("+254712345678")
    );
    assert!(!format!("{:?}", h.read("+64 21 555 0101")).contains("555"));
}

#[test]
fn faq_matches_are_reported_with_their_entry() {
    let h = Fixture::harbour();
    let u = h.read("where can I park?");
    assert_eq!(u.entities.faq.map(|m| m.id), Some(h.faqs[0]));
    assert_eq!(h.read("do you sell dog food").entities.faq, None);
    // A booking request that mentions an FAQ word is still a booking.
    assert_eq!(
        intent_of(&h, "book me in and I'll bring my ACC number"),
        Intent::Book
    );
}
