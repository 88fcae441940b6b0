//! The receptionist's dialogues: small state machines, persisted per conversation (encrypted
//! by the store).
//!
//! - **Booking** ([`booking`]): collects a service, a practitioner (or "anyone"), a time
//!   preference, the patient's name and, on web chat, a phone number; offers up to three real
//!   free slots; and asks the server to book the one chosen.
//! - **Existing appointments** ([`change`]): "when is my appointment?", cancel, and move
//!   (reschedule), only for a caller whose identity the channel verified (the phone number of
//!   an SMS or WhatsApp conversation). A move reuses the booking draft to find and offer the
//!   new time, then asks the server to move the appointment in one step.
//! - **Reminder replies** ([`reminder`]): "yes" confirms the appointment the conversation was
//!   reminded of; "cancel" and "move it" go straight to that appointment.
//! - **Waitlist** ([`waitlist`]): "put me on the waitlist" joins it for a service (and perhaps
//!   a practitioner and days); "yes" to a freed time offered from the waitlist takes it.
//! - **Verification** ([`verify`]): on web chat, where the visitor is anonymous, a code
//!   texted to the phone on their appointment proves who they are (when the server can send
//!   one).
//!
//! The agent stays pure: it never reads the diary, books, cancels or moves. It returns a
//! [`Step`] asking the server to do so, and the server calls back with what the store
//! answered ([`offer`], [`booked`], [`taken`], [`found`], [`cancelled`], [`rescheduled`],
//! [`not_changed`], [`confirmed`], [`code_sent`], [`verified`], …). A reply that says "you're booked",
//! "cancelled", "moved" or "verified" is built only from what the server returned. Anything
//! the patient already said is kept in the state and never asked again. Two turns in a row
//! that add nothing hand the conversation to the staff.

mod booking;
mod change;
mod collect;
mod hints;
mod moving;
mod reminder;
mod verify;
mod waitlist;

pub use booking::{booked, offer, start_urgent, taken};
pub use change::{
    ChangeAwaiting, ChangeDraft, ChangeKind, cancelled, found, not_changed, rescheduled,
    verification_needed,
};
pub use hints::Hints;
pub use reminder::{confirmed, reminder_text};
pub use verify::{
    OneTimeCode, VerifyAwaiting, VerifyDraft, code_not_sent, code_refused, code_sent, verified,
};
pub use waitlist::{hold_gone, waitlist_offer_text, waitlisted};

use crate::reply::ClinicKnowledge;
use crate::understand::Understanding;
use frontdesk_domain::{AppointmentId, PractitionerId, ServiceId, SlotHoldId};
use jiff::{
    Timestamp,
    civil::{Date, Time},
    tz::TimeZone,
};
use serde::{Deserialize, Serialize};

/// How many free slots are offered at once.
pub const OFFERS: usize = 3;
/// Days searched when the patient gave no date (or nothing was free on the day they gave).
pub const SEARCH_DAYS: i64 = 14;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DialogueState {
    #[serde(default)]
    pub booking: Option<BookingDraft>,
    /// Consecutive turns inside a dialogue that added nothing.
    #[serde(default)]
    pub misunderstood: u8,
    /// The service and practitioner last named in this conversation, so "can I book one?"
    /// after asking about a sports massage is not asked which service again.
    #[serde(default)]
    pub mentioned_service: Option<ServiceId>,
    #[serde(default)]
    pub mentioned_practitioner: Option<PractitionerId>,
    /// Checking, cancelling or choosing an existing appointment to move.
    #[serde(default)]
    pub change: Option<ChangeDraft>,
    /// A web chat visitor proving who they are with a code texted to their phone.
    #[serde(default)]
    pub verify: Option<VerifyDraft>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Awaiting {
    #[default]
    Details,
    Choice,
    Name,
    Phone,
    /// A move: the new time is chosen and the patient is asked to confirm it.
    Confirm,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Offer {
    pub practitioner: PractitionerId,
    pub start: Timestamp,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BookingDraft {
    pub service: Option<ServiceId>,
    pub practitioner: Option<PractitionerId>,
    pub any_practitioner: bool,
    pub from: Option<Date>,
    pub to: Option<Date>,
    pub earliest: Option<Time>,
    pub latest: Option<Time>,
    pub name: Option<String>,
    pub phone: Option<String>,
    pub offers: Vec<Offer>,
    pub chosen: Option<Offer>,
    pub awaiting: Awaiting,
    /// Started by an urgent triage: the soonest times are offered.
    #[serde(default)]
    pub urgent: bool,
    /// This draft finds a new time for an existing appointment (a reschedule), not a booking.
    #[serde(default)]
    pub moving: Option<Held>,
    /// This draft joins the waitlist: only the service is required.
    #[serde(default)]
    pub waitlist: bool,
}

/// One of the verified caller's own upcoming appointments, as the server found it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Held {
    pub id: AppointmentId,
    pub service: ServiceId,
    pub practitioner: PractitionerId,
    pub start: Timestamp,
}

/// A slot search the server runs for the dialogue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotAsk {
    pub service: ServiceId,
    pub practitioners: Vec<PractitionerId>,
    pub from: Date,
    pub to: Date,
    pub earliest: Option<Time>,
    pub latest: Option<Time>,
}

/// A booking the server makes for the dialogue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BookAsk {
    pub service: ServiceId,
    pub offer: Offer,
    pub name: String,
    pub phone: Option<String>,
}

/// A move the server makes for the dialogue: `appointment` to `offer`'s time and practitioner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MoveAsk {
    pub appointment: Held,
    pub offer: Offer,
}

/// Join the waitlist for `service` (with `practitioner`, or anyone) for a time from `from` to
/// `to` (clinic dates, inclusive), within `earliest`..`latest` of the day when given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaitAsk {
    pub service: ServiceId,
    pub practitioner: Option<PractitionerId>,
    pub from: Date,
    pub to: Date,
    pub earliest: Option<Time>,
    pub latest: Option<Time>,
}

/// A freed time this conversation was offered from the waitlist, while the offer is open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Offered {
    pub hold: SlotHoldId,
    pub service: ServiceId,
    pub practitioner: PractitionerId,
    pub start: Timestamp,
}

/// What the dialogue needs next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Say these messages and wait for the patient.
    Say(Vec<String>),
    /// Find free slots, then call [`offer`].
    FindSlots(SlotAsk),
    /// Book, then call [`booked`] or [`taken`].
    Book(BookAsk),
    /// Give up and hand the conversation to the staff (with this message).
    Handoff(String),
    /// Look up the verified caller's own upcoming appointments, then call [`found`].
    FindAppointments,
    /// Cancel this appointment of the caller, then call [`cancelled`] (or [`not_changed`]
    /// when it is no longer theirs to cancel).
    Cancel(Held),
    /// The caller confirms this appointment (a reply to its reminder): confirm it, then call
    /// [`confirmed`] (or [`not_changed`] when it is no longer theirs or no longer live).
    Confirm(Held),
    /// Put the caller on the waitlist, then call [`waitlisted`].
    JoinWaitlist(WaitAsk),
    /// The caller takes the freed time offered: book it through the hold, then call
    /// [`booked`], or [`hold_gone`] when someone else was first or the offer ended.
    TakeHold(Offered),
    /// Move an appointment, then call [`rescheduled`], or [`taken`] when the new time went
    /// meanwhile (or [`not_changed`] when the appointment itself is gone).
    Reschedule(MoveAsk),
    /// Text a one-time code to this number for the conversation, then call [`code_sent`] (or
    /// [`code_not_sent`]).
    SendCode(frontdesk_domain::E164Phone),
    /// Check the code typed, then call [`verified`] (the number's patient is now the
    /// conversation's verified caller) or [`code_refused`].
    CheckCode(OneTimeCode),
}

/// Facts about the turn the dialogue needs besides the understanding.
#[derive(Debug, Clone, Copy)]
pub struct DialogueContext<'a> {
    pub clinic: &'a ClinicKnowledge,
    pub tz: &'a TimeZone,
    pub now: Timestamp,
    /// Web chat has no verified phone number, so one is asked for.
    pub needs_phone: bool,
    /// The channel proved who the caller is (the sender's phone on SMS or WhatsApp): only
    /// then are their own appointments looked up, shown or changed.
    pub identity_verified: bool,
    /// The server can text a one-time code to verify an anonymous caller (web chat).
    pub can_verify: bool,
    /// The appointment this conversation was last reminded of, while it is still the verified
    /// caller's live, upcoming appointment (the server checks): "yes" confirms it.
    pub reminded: Option<Held>,
    /// A freed time offered to this conversation from the waitlist (open, or closed only
    /// recently: a late "yes" is told it has gone).
    pub offered: Option<Offered>,
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// `Wed 25 Nov at 14:00` in the clinic's zone.
pub fn when_text(t: Timestamp, tz: &TimeZone) -> String {
    let z = t.to_zoned(tz.clone());
    let day = frontdesk_domain::clinic::DAY_NAMES
        [usize::try_from(z.weekday().to_monday_zero_offset()).unwrap_or(0)];
    let month = MONTHS[usize::try_from(z.month() - 1).unwrap_or(0)];
    format!(
        "{day} {} {month} at {:02}:{:02}",
        z.day(),
        z.hour(),
        z.minute()
    )
}

pub(crate) fn practitioner_name(k: &ClinicKnowledge, id: PractitionerId) -> String {
    k.practitioners
        .iter()
        .find(|p| p.id == id)
        .map_or_else(|| "our team".to_owned(), |p| p.name.clone())
}

pub(crate) fn service_name(k: &ClinicKnowledge, id: ServiceId) -> String {
    k.services
        .iter()
        .find(|s| s.id == id)
        .map_or_else(|| "your appointment".to_owned(), |s| s.name.clone())
}

/// `Sports massage with Mei Chen on Wed 25 Nov at 12:00`.
fn appointment_text(k: &ClinicKnowledge, h: &Held, tz: &TimeZone) -> String {
    format!(
        "{} with {} on {}",
        service_name(k, h.service),
        practitioner_name(k, h.practitioner),
        when_text(h.start, tz)
    )
}

/// Advances the conversation's dialogues with one understood message. `None`: no dialogue
/// is concerned (the caller answers normally). Information questions in the middle of a
/// dialogue are left to the caller too (`None`), and the dialogue is kept for the next message.
pub fn advance(
    state: &mut DialogueState,
    u: &Understanding,
    text: &str,
    ctx: &DialogueContext<'_>,
) -> Option<Step> {
    verify::advance(state, u, text, ctx)
        .or_else(|| waitlist::reply_to_offer(state, u, ctx))
        .or_else(|| reminder::advance(state, u, ctx))
        .or_else(|| waitlist::advance(state, u, text, ctx))
        .or_else(|| change::advance(state, u, text, ctx))
        .or_else(|| booking::advance(state, u, text, ctx))
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_change;
#[cfg(test)]
mod tests_reminder;
#[cfg(test)]
mod tests_verify;
#[cfg(test)]
mod tests_waitlist;
