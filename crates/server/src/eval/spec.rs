//! The YAML shape of an eval file (see the parent module's docs for an example).

use super::EvalError;
use frontdesk_store::Channel;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(super) enum Case {
    Labelled {
        text: String,
        level: Level,
        tenant: Option<String>,
    },
    Dialogue(Dialogue),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Dialogue {
    pub name: String,
    pub tenant: Option<String>,
    /// The channel the patient writes on; SMS, WhatsApp and voice are verified by `phone`.
    #[serde(default = "webchat")]
    pub channel: Channel,
    /// The caller's phone (the patient record the channel found by it).
    pub phone: Option<String>,
    /// The caller's appointments before the first turn.
    #[serde(default)]
    pub appointments: Vec<Seed>,
    pub turns: Vec<DialogueTurn>,
    pub booked: Option<bool>,
    /// Exactly the caller's live appointments after the last turn, soonest first.
    pub appointments_after: Option<Vec<Seed>>,
}

fn webchat() -> Channel {
    Channel::Webchat
}

/// An appointment in the demo diary: names as in the clinic's catalog, `at` clinic-local
/// (`2026-11-25 12:00`). After the turns, `service` and `practitioner` may be left out.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Seed {
    pub service: Option<String>,
    pub practitioner: Option<String>,
    pub at: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct DialogueTurn {
    pub say: String,
    /// Appointments another patient books just before this turn (a time taken meanwhile).
    #[serde(default)]
    pub meanwhile: Vec<Seed>,
    #[serde(default)]
    pub expect: Expect,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Expect {
    pub intent: Option<String>,
    pub triage: Option<Level>,
    pub alert: Option<String>,
    #[serde(default)]
    pub reply_contains: Vec<String>,
    #[serde(default)]
    pub reply_not_contains: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    None,
    Urgent,
    Emergency,
}

impl Level {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Level::None => "none",
            Level::Urgent => "urgent",
            Level::Emergency => "emergency",
        }
    }
}

/// Parses a YAML file of cases (see the module docs).
pub(super) fn parse(name: &str, yaml: &str) -> Result<Vec<Case>, EvalError> {
    serde_norway::from_str(yaml).map_err(|e| EvalError::Parse(name.to_owned(), e.to_string()))
}
