//! The typed tools a language model may ask for, their JSON Schemas, and the strict parsing of
//! its calls (issue #9, "tools, not trust").
//!
//! A model never acts by itself: it asks for a [`ToolRequest`] and our code runs it
//! ([`super::tools_exec`]). A call is parsed strictly: an unknown tool name, a missing or
//! unknown argument, a wrong type or a value out of range is a [`Refusal`], answered to the
//! model as an error result and never executed. Nothing a model passes is an id: slots and
//! appointments are small numbers into the lists our code returned earlier in the same turn,
//! services and practitioners are named as the clinic's catalogue names them.

use super::{ToolCall, ToolSpec};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

/// The longest free text accepted in a tool argument (a FAQ question, a service name).
const MAX_TEXT: usize = 200;
/// The most days one slot search may cover (the built-in dialogue's widest search too).
pub const MAX_SEARCH_DAYS: u8 = 14;

/// A tool call that passed parsing. Numbers are 1-based positions in the lists this turn's
/// `find_slots` and `my_appointments` returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToolRequest {
    /// Free times for a service of this clinic from `date` (clinic-local `YYYY-MM-DD`).
    FindSlots {
        service: String,
        date: jiff::civil::Date,
        days: u8,
        practitioner: Option<String>,
    },
    /// Book slot `slot` of the last search for the verified patient.
    Book { slot: u8 },
    /// The verified patient's own upcoming appointments.
    MyAppointments,
    /// Cancel appointment `appointment` of the last `my_appointments` list.
    Cancel { appointment: u8 },
    /// Move appointment `appointment` to slot `slot` of the last search.
    Reschedule { appointment: u8, slot: u8 },
    /// The clinic's own FAQ answer to `question`, if one matches.
    Faq { question: String },
    /// Pass the conversation to the clinic's staff.
    HandOff,
    /// Raise this turn's triage level (never lower it: only `urgent` and `emergency` parse).
    Escalate { emergency: bool },
}

impl ToolRequest {
    /// The tool's name, for logs and counters (no argument values).
    pub fn name(&self) -> &'static str {
        match self {
            Self::FindSlots { .. } => "find_slots",
            Self::Book { .. } => "book",
            Self::MyAppointments => "my_appointments",
            Self::Cancel { .. } => "cancel",
            Self::Reschedule { .. } => "reschedule",
            Self::Faq { .. } => "faq",
            Self::HandOff => "hand_off",
            Self::Escalate { .. } => "escalate",
        }
    }
}

/// Why a call was not executed. The message goes back to the model as the tool's error
/// result; it names the rule broken, never data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("unknown tool")]
    UnknownTool,
    #[error("invalid arguments: {0}")]
    BadArguments(&'static str),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FindSlotsArgs {
    service: String,
    date: String,
    #[serde(default)]
    days: Option<u8>,
    #[serde(default)]
    practitioner: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SlotArgs {
    slot: u8,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AppointmentArgs {
    appointment: u8,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RescheduleArgs {
    appointment: u8,
    slot: u8,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FaqArgs {
    question: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NoArgs {}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "lowercase")]
enum RaiseTo {
    Urgent,
    Emergency,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EscalateArgs {
    level: RaiseTo,
}

fn args<T: DeserializeOwned>(v: &Value) -> Result<T, Refusal> {
    T::deserialize(v).map_err(|_| Refusal::BadArguments("does not match the tool's schema"))
}

fn text(s: String) -> Result<String, Refusal> {
    let t = s.trim();
    if t.is_empty() || t.len() > MAX_TEXT || t.chars().any(char::is_control) {
        return Err(Refusal::BadArguments(
            "text is empty, too long or has control characters",
        ));
    }
    Ok(t.to_owned())
}

fn position(n: u8) -> Result<u8, Refusal> {
    if n == 0 {
        return Err(Refusal::BadArguments("positions start at 1"));
    }
    Ok(n)
}

/// Parses one call strictly.
pub fn parse(call: &ToolCall) -> Result<ToolRequest, Refusal> {
    let a = &call.arguments;
    Ok(match call.name.as_str() {
        "find_slots" => {
            let f: FindSlotsArgs = args(a)?;
            let date = f
                .date
                .parse::<jiff::civil::Date>()
                .map_err(|_| Refusal::BadArguments("date must be YYYY-MM-DD"))?;
            let days = f.days.unwrap_or(1);
            if days == 0 || days > MAX_SEARCH_DAYS {
                return Err(Refusal::BadArguments("days must be 1 to 14"));
            }
            ToolRequest::FindSlots {
                service: text(f.service)?,
                date,
                days,
                practitioner: f.practitioner.map(text).transpose()?,
            }
        }
        "book" => ToolRequest::Book {
            slot: position(args::<SlotArgs>(a)?.slot)?,
        },
        "my_appointments" => {
            args::<NoArgs>(a)?;
            ToolRequest::MyAppointments
        }
        "cancel" => ToolRequest::Cancel {
            appointment: position(args::<AppointmentArgs>(a)?.appointment)?,
        },
        "reschedule" => {
            let r: RescheduleArgs = args(a)?;
            ToolRequest::Reschedule {
                appointment: position(r.appointment)?,
                slot: position(r.slot)?,
            }
        }
        "faq" => ToolRequest::Faq {
            question: text(args::<FaqArgs>(a)?.question)?,
        },
        "hand_off" => {
            args::<NoArgs>(a)?;
            ToolRequest::HandOff
        }
        "escalate" => ToolRequest::Escalate {
            emergency: matches!(args::<EscalateArgs>(a)?.level, RaiseTo::Emergency),
        },
        _ => return Err(Refusal::UnknownTool),
    })
}

fn spec(name: &str, description: &str, properties: Value, required: &[&str]) -> ToolSpec {
    ToolSpec {
        name: name.into(),
        description: description.into(),
        input_schema: json!({
            "type": "object",
            "properties": properties,
            "required": required,
            "additionalProperties": false,
        }),
    }
}

/// The tools offered to the model, in a fixed order.
pub fn specs() -> Vec<ToolSpec> {
    let position = json!({"type": "integer", "minimum": 1, "maximum": 255});
    vec![
        spec(
            "find_slots",
            "Free appointment times for one of this clinic's services, from a clinic-local date. \
             Returns a numbered list; book or reschedule by that number.",
            json!({
                "service": {"type": "string", "description": "The service's name as listed"},
                "date": {"type": "string", "format": "date", "description": "YYYY-MM-DD"},
                "days": {"type": "integer", "minimum": 1, "maximum": MAX_SEARCH_DAYS},
                "practitioner": {"type": "string", "description": "A practitioner's name, if asked for"}
            }),
            &["service", "date"],
        ),
        spec(
            "book",
            "Book a slot from this turn's last find_slots list for the patient in this conversation.",
            json!({"slot": position}),
            &["slot"],
        ),
        spec(
            "my_appointments",
            "The patient's own upcoming appointments, numbered.",
            json!({}),
            &[],
        ),
        spec(
            "cancel",
            "Cancel one of the patient's appointments by its number in this turn's my_appointments list.",
            json!({"appointment": position}),
            &["appointment"],
        ),
        spec(
            "reschedule",
            "Move one of the patient's appointments (my_appointments number) to a find_slots slot number.",
            json!({"appointment": position, "slot": position}),
            &["appointment", "slot"],
        ),
        spec(
            "faq",
            "Look up the clinic's own answer to a common question.",
            json!({"question": {"type": "string"}}),
            &["question"],
        ),
        spec(
            "hand_off",
            "Pass the conversation to the clinic's staff (the patient asked for a person, or you cannot help).",
            json!({}),
            &[],
        ),
        spec(
            "escalate",
            "The patient may need prompt care: alert the staff (urgent) or tell them to call the emergency number (emergency).",
            json!({"level": {"type": "string", "enum": ["urgent", "emergency"]}}),
            &["level"],
        ),
    ]
}

#[cfg(test)]
#[path = "tools_tests.rs"]
mod tests;
