//! The two demo clinics (crates/server/src/demo.rs) as the agent sees them, with fixed ids,
//! and a deterministic "now" and time zone picked from the input, so a crash file always
//! replays the same way.

// Each target uses part of this module.
#![allow(dead_code)]

use frontdesk_agent::faq::FaqIndex;
use frontdesk_agent::understand::{CatalogView, NamedItem};
use frontdesk_agent::{ClinicKnowledge, PractitionerInfo, ServiceInfo};
use frontdesk_domain::{ClinicProfile, FaqId, PractitionerId, ServiceId};
use frontdesk_server::demo::DEMO_CLINICS;
use jiff::Timestamp;
use jiff::tz::TimeZone;

fn uuid(kind: u32, n: usize) -> String {
    format!("00000000-0000-7000-8000-{kind:04}{n:08}")
}

/// One demo clinic, prepared once per process.
pub struct Clinic {
    pub profile: ClinicProfile,
    pub catalog: CatalogView,
    pub faq: FaqIndex,
    pub knowledge: ClinicKnowledge,
}

pub fn demo_clinics() -> Vec<Clinic> {
    DEMO_CLINICS
        .iter()
        .enumerate()
        .map(|(c, demo)| {
            let profile = (demo.profile)().expect("demo profile");
            let team: Vec<PractitionerInfo> = demo
                .practitioners
                .iter()
                .enumerate()
                .map(|(i, (name, title))| PractitionerInfo {
                    id: PractitionerId::parse(&uuid(c as u32 * 10 + 1, i)).expect("id"),
                    name: (*name).to_owned(),
                    title: (*title).to_owned(),
                })
                .collect();
            let services: Vec<ServiceInfo> = demo
                .services
                .iter()
                .enumerate()
                .map(|(i, (name, minutes, price, who))| ServiceInfo {
                    id: ServiceId::parse(&uuid(c as u32 * 10 + 2, i)).expect("id"),
                    name: (*name).to_owned(),
                    duration_min: *minutes,
                    price_minor: *price,
                    practitioners: who.iter().map(|&w| team[w].id).collect(),
                })
                .collect();
            let faqs: Vec<(FaqId, String, String)> = demo
                .faqs
                .iter()
                .enumerate()
                .map(|(i, (q, a))| {
                    let id = FaqId::parse(&uuid(c as u32 * 10 + 3, i)).expect("id");
                    (id, (*q).to_owned(), (*a).to_owned())
                })
                .collect();
            let catalog = CatalogView {
                services: services
                    .iter()
                    .map(|s| NamedItem::new(s.id, s.name.clone()))
                    .collect(),
                practitioners: team
                    .iter()
                    .map(|p| NamedItem::new(p.id, p.name.clone()))
                    .collect(),
            };
            let faq = FaqIndex::new(&faqs);
            let knowledge = ClinicKnowledge::new(profile.clone(), services, team, faqs, Vec::new());
            Clinic {
                profile,
                catalog,
                faq,
                knowledge,
            }
        })
        .collect()
}

/// FNV-1a: a cheap, stable hash of the input.
pub fn hash(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// A moment between 2020-09-13 and 2033-05-18 (many DST changes in every zone below).
pub fn now_for(data: &[u8]) -> Timestamp {
    let s = 1_600_000_000 + (hash(data) % 400_000_000) as i64;
    Timestamp::from_second(s).expect("in range")
}

/// Zones with odd offsets and DST rules: 45-minute offsets, 30-minute DST (Lord Howe), DST
/// changes at midnight (Havana, Santiago), so "today at midnight" may not exist.
pub const ZONES: &[&str] = &[
    "Pacific/Auckland",
    "Africa/Nairobi",
    "Pacific/Chatham",
    "Australia/Lord_Howe",
    "America/Havana",
    "America/Santiago",
    "Asia/Kathmandu",
    "America/St_Johns",
    "UTC",
];

pub fn zone_for(data: &[u8]) -> TimeZone {
    let name = ZONES[(hash(data) >> 40) as usize % ZONES.len()];
    TimeZone::get(name).expect("bundled tz database")
}
