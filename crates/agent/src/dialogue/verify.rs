//! Web chat identity by a one-time code: the visitor gives the mobile number on their
//! appointment, the server texts a 6-digit code to it, the visitor types the code, and the
//! patient of that number becomes the verified caller of this conversation. Then the check,
//! cancellation or move they asked for resumes.
//!
//! Offered only when the server can send codes ([`DialogueContext::can_verify`]). The agent
//! never says a code was sent, or that the visitor is verified, unless the server said so
//! ([`code_sent`], [`verified`]); and it never says whether a number belongs to a patient.

use super::change::{ChangeDraft, ChangeKind, verification_needed};
use super::hints::Hints;
use super::{DialogueContext, DialogueState, Step};
use crate::understand::{Intent, Understanding};
use serde::{Deserialize, Serialize};

/// The code a visitor typed. `Debug` never prints it.
#[derive(Clone, PartialEq, Eq)]
pub struct OneTimeCode(String);

impl OneTimeCode {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for OneTimeCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OneTimeCode(<redacted>)")
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum VerifyAwaiting {
    #[default]
    Phone,
    Code,
}

/// A verification in progress, and what to do once it succeeds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifyDraft {
    pub then: ChangeKind,
    #[serde(default)]
    pub hints: Hints,
    #[serde(default)]
    pub awaiting: VerifyAwaiting,
}

/// A message that is only a 6-digit code ("123456", "123 456", "code is 123456").
fn code_in(text: &str) -> Option<OneTimeCode> {
    let digits: String = text.chars().filter(char::is_ascii_digit).collect();
    let others = text.chars().filter(|c| c.is_alphabetic()).count();
    (digits.len() == 6 && others <= 12).then_some(OneTimeCode(digits))
}

/// Asks for the number (or sends the code at once when the message gave one).
pub(super) fn start(state: &mut DialogueState, kind: ChangeKind, u: &Understanding) -> Step {
    state.verify = Some(VerifyDraft {
        then: kind,
        hints: Hints::of(u),
        awaiting: VerifyAwaiting::Phone,
    });
    match &u.entities.phone {
        Some(phone) => Step::SendCode(phone.clone()),
        None => Step::Say(vec![
            "To keep your appointments private, I can text a 6-digit code to the mobile number on your \
             appointment. What's that number?"
                .to_owned(),
        ]),
    }
}

/// Continues a verification. `None`: the message is about something else (a question is
/// answered and the verification waits; a new request drops it).
pub(super) fn advance(
    state: &mut DialogueState,
    u: &Understanding,
    text: &str,
    ctx: &DialogueContext<'_>,
) -> Option<Step> {
    let v = state.verify.as_ref()?;
    if ctx.identity_verified {
        state.verify = None;
        return None;
    }
    match (v.awaiting, &u.entities.phone, code_in(text)) {
        (VerifyAwaiting::Phone, Some(phone), _) => return Some(Step::SendCode(phone.clone())),
        (VerifyAwaiting::Code, _, Some(code)) => return Some(Step::CheckCode(code)),
        _ => {}
    }
    match u.intent {
        Intent::Deny => {
            state.verify = None;
            state.misunderstood = 0;
            Some(Step::Say(vec![
                "Okay. Is there anything else I can help with?".to_owned(),
            ]))
        }
        i if super::change::is_aside(i) => None,
        Intent::Book | Intent::Cancel | Intent::Reschedule | Intent::CheckAppointment => {
            state.verify = None;
            None
        }
        _ => {
            state.misunderstood += 1;
            if state.misunderstood >= 2 {
                state.verify = None;
                state.misunderstood = 0;
                return Some(Step::Handoff(format!(
                    "I'm sorry, I'm not getting this right. I've asked the {} team to help you with your \
                     appointment here.",
                    ctx.clinic.profile.name
                )));
            }
            let ask = match v.awaiting {
                VerifyAwaiting::Phone => "the mobile number on your appointment",
                VerifyAwaiting::Code => "the 6-digit code from the text",
            };
            Some(Step::Say(vec![format!(
                "Sorry, I didn't catch that. Please type {ask}."
            )]))
        }
    }
}

/// The server texted a code. Said the same way whether or not the number is a patient's.
pub fn code_sent(state: &mut DialogueState) -> Vec<String> {
    state.misunderstood = 0;
    if let Some(v) = state.verify.as_mut() {
        v.awaiting = VerifyAwaiting::Code;
    }
    vec![
        "I've texted a 6-digit code to that number. Please type it here (it expires in 10 minutes)."
            .to_owned(),
    ]
}

/// The server could not send a code (no SMS channel, too many codes): the plain way instead.
pub fn code_not_sent(state: &mut DialogueState, ctx: &DialogueContext<'_>) -> Vec<String> {
    state.verify = None;
    vec![verification_needed(ctx)]
}

/// The code matched: the conversation's caller is now verified; the request resumes with a
/// look-up of their appointments.
pub fn verified(state: &mut DialogueState) -> Step {
    state.misunderstood = 0;
    let Some(v) = state.verify.take() else {
        return Step::Say(vec![]);
    };
    state.change = Some(ChangeDraft {
        kind: v.then,
        hints: v.hints,
        ..ChangeDraft::default()
    });
    Step::FindAppointments
}

/// The code did not match (or expired). `again`: the visitor may try once more.
pub fn code_refused(
    state: &mut DialogueState,
    again: bool,
    ctx: &DialogueContext<'_>,
) -> Vec<String> {
    if again {
        return vec![
            "That code doesn't match. Please check the text and type the 6-digit code again."
                .to_owned(),
        ];
    }
    state.verify = None;
    vec![format!(
        "I couldn't verify that code, so I can't show or change appointments here. {}",
        verification_needed(ctx)
    )]
}
