//! The receptionist brain: deterministic red-flag triage first, then understanding (intents,
//! dates and times in the clinic's zone, fuzzy names) and FAQ retrieval, and a reply built
//! only from the clinic's own profile, catalogue and FAQ. Fully offline; optional language
//! models (issue #9) will sit on top of the same agent.
//!
//! The agent is pure: it sees the clinic's public knowledge and the patient's text, never the
//! store, so it cannot pull another patient's or another clinic's data into a reply.

pub mod dialogue;
pub mod faq;
pub mod reply;
pub mod triage;
pub mod understand;

pub use dialogue::{DialogueState, Held, Offer, Step};
pub use reply::{
    Alert, ClinicKnowledge, PractitionerInfo, RULE_SET, Reply, ServiceInfo, TurnContext, reply,
};
pub use triage::{Category, ClinicRule, Triage, TriageLevel, triage};
