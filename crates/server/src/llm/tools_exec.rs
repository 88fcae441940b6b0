//! Runs a model's [`ToolRequest`]s with the conversation's own [`TenantScope`] and its own
//! verified patient, whatever the model wrote.
//!
//! - The scope is the conversation's: no tool can name another clinic.
//! - Slots and appointments are numbers into lists this [`ToolBox`] returned earlier in the
//!   same turn; a number that is not in the list is refused. No id ever reaches the model, and
//!   none is accepted from it.
//! - Booking, listing, cancelling and moving need the identity the channel verified (SMS,
//!   WhatsApp, voice, or a web chat code). Without one these tools answer `needs_verification`
//!   and the turn is handed to the built-in dialogue, which knows how to verify a caller.
//! - Every change re-reads the appointment and checks it is still that patient's, live and
//!   upcoming, as the built-in dialogue does. One change (book, cancel or move) per turn.
//! - The words that tell the patient about a change are built here, by the built-in dialogue's
//!   functions, from what the store returned: the model's own text never claims an action.

use super::tools::{ToolRequest, parse};
use super::{ToolCall, ToolSpec};
use frontdesk_agent::dialogue::{self, DialogueContext, Offer, SlotAsk};
use frontdesk_agent::{ClinicKnowledge, Held, TriageLevel};
use frontdesk_domain::{AppointmentId, ConversationId, PatientId, ServiceId};
use frontdesk_store::{AppointmentStatus, Store, StoreError, TenantScope};

/// How far ahead a slot search may start.
const MAX_DAYS_AHEAD: i64 = 180;

/// What a tool may touch in this turn.
#[derive(Clone, Copy)]
pub struct ExecEnv<'a> {
    pub store: &'a dyn Store,
    pub scope: TenantScope,
    pub clinic: &'a ClinicKnowledge,
    pub conversation: ConversationId,
    /// The patient the channel verified, if any (see [`crate::booking::Caller::verified`]).
    pub verified: Option<PatientId>,
    pub now: jiff::Timestamp,
}

/// What the tools did in this turn, for the reply, the audit entry and the escalation.
#[derive(Debug, Default)]
pub struct Effects {
    /// Words about each change, built from the store's answer, in order.
    pub confirmations: Vec<String>,
    /// The appointment booked (or the new one of a move).
    pub booked: Option<AppointmentId>,
    /// Number of changes made (book, cancel, reschedule).
    pub changes: u8,
    pub handoff: bool,
    /// The highest level the model raised triage to; `None` if it did not.
    pub raised: Option<TriageLevel>,
    /// A tool needed a verified identity the conversation does not have.
    pub needs_verification: bool,
    /// Calls refused (unknown tool, bad arguments, numbers not in a list, not allowed).
    pub refused: u8,
}

/// One tool's answer, sent back to the model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolOutput {
    pub content: String,
    pub is_error: bool,
}

impl ToolOutput {
    fn ok(content: impl Into<String>) -> Self {
        Self {
            content: content.into(),
            is_error: false,
        }
    }

    fn err(content: impl Into<String>) -> Self {
        Self {
            content: content.into(),
            is_error: true,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Slot {
    service: ServiceId,
    offer: Offer,
}

/// The per-turn handles and effects of tool calls.
#[derive(Debug, Default)]
pub struct ToolBox {
    slots: Vec<Slot>,
    appointments: Vec<Held>,
    pub effects: Effects,
}

/// The tools offered to the model.
pub fn specs() -> Vec<ToolSpec> {
    super::tools::specs()
}

fn live(s: AppointmentStatus) -> bool {
    matches!(s, AppointmentStatus::Booked | AppointmentStatus::Confirmed)
}

fn pick<T: Copy>(list: &[T], n: u8) -> Option<T> {
    list.get(usize::from(n).checked_sub(1)?).copied()
}

/// `Physiotherapy with Mei Chen on Tue 8 Dec at 10:00`.
fn describe(
    k: &ClinicKnowledge,
    tz: &jiff::tz::TimeZone,
    service: ServiceId,
    offer: Offer,
) -> String {
    let service = k
        .services
        .iter()
        .find(|s| s.id == service)
        .map_or("Appointment", |s| s.name.as_str());
    let who = k
        .practitioners
        .iter()
        .find(|p| p.id == offer.practitioner)
        .map_or("our team", |p| p.name.as_str());
    format!(
        "{service} with {who} on {}",
        dialogue::when_text(offer.start, tz)
    )
}

fn numbered(lines: impl Iterator<Item = String>) -> String {
    lines
        .enumerate()
        .map(|(i, l)| format!("{}. {l}", i + 1))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A catalogue name the model wrote: exact (ignoring case), else the one name containing it.
fn named<'a, T>(items: &'a [T], name: &str, of: impl Fn(&T) -> &str) -> Option<&'a T> {
    let want = name.to_lowercase();
    if let Some(exact) = items.iter().find(|i| of(i).to_lowercase() == want) {
        return Some(exact);
    }
    let mut partial = items
        .iter()
        .filter(|i| of(i).to_lowercase().contains(&want));
    match (partial.next(), partial.next()) {
        (Some(one), None) => Some(one),
        _ => None,
    }
}

impl ToolBox {
    /// Parses and runs one call. Refusals and "not possible" answers are error results for
    /// the model; only a store failure is an `Err` (the turn then falls back).
    pub async fn run(
        &mut self,
        env: &ExecEnv<'_>,
        call: &ToolCall,
    ) -> Result<ToolOutput, StoreError> {
        let req = match parse(call) {
            Ok(r) => r,
            Err(r) => return Ok(self.refuse(r.to_string())),
        };
        let tz = env.clinic.profile.time_zone()?;
        let ctx = DialogueContext {
            clinic: env.clinic,
            tz: &tz,
            now: env.now,
            needs_phone: false,
            identity_verified: env.verified.is_some(),
            can_verify: false,
            reminded: None,
            offered: None,
        };
        match req {
            ToolRequest::FindSlots {
                service,
                date,
                days,
                practitioner,
            } => {
                self.find_slots(env, &ctx, &service, date, days, practitioner.as_deref())
                    .await
            }
            ToolRequest::Faq { question } => Ok(self.faq(env.clinic, &question)),
            ToolRequest::HandOff => {
                self.effects.handoff = true;
                Ok(ToolOutput::ok("The clinic's staff will be told to reply."))
            }
            ToolRequest::Escalate { emergency } => {
                let level = if emergency {
                    TriageLevel::Emergency
                } else {
                    TriageLevel::Urgent
                };
                // Only ever raised: the maximum of what was and what is asked.
                self.effects.raised = Some(self.effects.raised.map_or(level, |l| l.max(level)));
                Ok(ToolOutput::ok("The clinic's staff are alerted."))
            }
            req @ (ToolRequest::Book { .. }
            | ToolRequest::MyAppointments
            | ToolRequest::Cancel { .. }
            | ToolRequest::Reschedule { .. }) => {
                let Some(patient) = env.verified else {
                    self.effects.needs_verification = true;
                    return Ok(
                        self.refuse("needs_verification: the caller's identity is not verified")
                    );
                };
                self.own(env, &ctx, patient, req).await
            }
        }
    }

    /// A diary failure: a store failure fails the turn; a clinic calendar (Cal.com) that
    /// cannot be used hands the conversation to the team, claiming nothing.
    fn diary_failed(
        &mut self,
        e: crate::booking::diary::DiaryError,
    ) -> Result<ToolOutput, StoreError> {
        use crate::booking::diary::DiaryError;
        match e {
            DiaryError::Store(e) => Err(e),
            DiaryError::Taken => {
                self.slots.clear();
                Ok(self.refuse("that time is no longer free: search again"))
            }
            DiaryError::Unavailable => {
                self.effects.handoff = true;
                Ok(self.refuse(
                    "calendar_unavailable: the clinic's calendar cannot be reached; the staff are told",
                ))
            }
        }
    }

    fn refuse(&mut self, why: impl Into<String>) -> ToolOutput {
        self.effects.refused = self.effects.refused.saturating_add(1);
        ToolOutput::err(why)
    }

    fn faq(&self, k: &ClinicKnowledge, question: &str) -> ToolOutput {
        let index = frontdesk_agent::faq::FaqIndex::new(&k.faqs);
        match index
            .best(question)
            .and_then(|(id, _)| k.faqs.iter().find(|(f, _, _)| *f == id))
        {
            Some((_, q, a)) => ToolOutput::ok(format!("Q: {q}\nA: {a}")),
            None => ToolOutput::ok("No entry of the clinic's FAQ answers this."),
        }
    }

    async fn find_slots(
        &mut self,
        env: &ExecEnv<'_>,
        ctx: &DialogueContext<'_>,
        service: &str,
        from: jiff::civil::Date,
        days: u8,
        practitioner: Option<&str>,
    ) -> Result<ToolOutput, StoreError> {
        let k = env.clinic;
        let Some(svc) = named(&k.services, service, |s| s.name.as_str()) else {
            return Ok(self.refuse("unknown service: use a name from the clinic's list"));
        };
        let mut team: Vec<_> = if svc.practitioners.is_empty() {
            k.practitioners.iter().map(|p| p.id).collect()
        } else {
            svc.practitioners.clone()
        };
        if let Some(name) = practitioner {
            let Some(p) = named(&k.practitioners, name, |p| p.name.as_str()) else {
                return Ok(self.refuse("unknown practitioner"));
            };
            team.retain(|id| *id == p.id);
        }
        let today = env.now.to_zoned(ctx.tz.clone()).date();
        let too_far = today
            .checked_add(jiff::Span::new().days(MAX_DAYS_AHEAD))
            .is_ok_and(|last| from > last);
        if from < today || too_far {
            return Ok(self.refuse("date must be from today to 180 days ahead"));
        }
        let to = from
            .checked_add(jiff::Span::new().days(i64::from(days) - 1))
            .unwrap_or(from);
        let ask = SlotAsk {
            service: svc.id,
            practitioners: team,
            from,
            to,
            earliest: None,
            latest: None,
        };
        let diary = crate::booking::diary::Diary::load(env.store, env.scope).await?;
        let offers =
            match crate::booking::search(env.store, env.scope, &diary, k, env.now, &ask, false)
                .await
            {
                Ok(o) => o,
                Err(e) => return self.diary_failed(e),
            };
        self.slots = offers
            .into_iter()
            .map(|offer| Slot {
                service: svc.id,
                offer,
            })
            .collect();
        if self.slots.is_empty() {
            return Ok(ToolOutput::ok("No free times in that range."));
        }
        Ok(ToolOutput::ok(numbered(
            self.slots
                .iter()
                .map(|s| describe(k, ctx.tz, s.service, s.offer)),
        )))
    }

    /// The tools that touch the verified patient's own appointments.
    async fn own(
        &mut self,
        env: &ExecEnv<'_>,
        ctx: &DialogueContext<'_>,
        patient: PatientId,
        req: ToolRequest,
    ) -> Result<ToolOutput, StoreError> {
        let changing = !matches!(req, ToolRequest::MyAppointments);
        if changing && self.effects.changes > 0 {
            return Ok(self.refuse("one change per turn: ask the patient first"));
        }
        match req {
            ToolRequest::MyAppointments => {
                let list = env
                    .store
                    .patient_appointments(env.scope, patient, env.now)
                    .await?;
                self.appointments = list
                    .iter()
                    .filter(|a| live(a.status) && a.starts_at > env.now)
                    .map(|a| Held {
                        id: a.id,
                        service: a.service_id,
                        practitioner: a.practitioner_id,
                        start: a.starts_at,
                    })
                    .collect();
                if self.appointments.is_empty() {
                    return Ok(ToolOutput::ok("No upcoming appointments."));
                }
                Ok(ToolOutput::ok(numbered(self.appointments.iter().map(
                    |h| {
                        let offer = Offer {
                            practitioner: h.practitioner,
                            start: h.start,
                        };
                        describe(env.clinic, ctx.tz, h.service, offer)
                    },
                ))))
            }
            ToolRequest::Book { slot } => {
                let Some(s) = pick(&self.slots, slot) else {
                    return Ok(self.refuse("no such slot in this turn's find_slots list"));
                };
                self.book(env, ctx, patient, s).await
            }
            ToolRequest::Cancel { appointment } => {
                let Some(h) = pick(&self.appointments, appointment) else {
                    return Ok(
                        self.refuse("no such appointment in this turn's my_appointments list")
                    );
                };
                self.cancel(env, ctx, patient, h).await
            }
            ToolRequest::Reschedule { appointment, slot } => {
                let (Some(h), Some(s)) = (
                    pick(&self.appointments, appointment),
                    pick(&self.slots, slot),
                ) else {
                    return Ok(self.refuse("no such appointment or slot in this turn's lists"));
                };
                if s.service != h.service {
                    return Ok(self.refuse("the slot is for another service"));
                }
                self.reschedule(env, ctx, patient, h, s).await
            }
            _ => Ok(self.refuse("not an appointment tool")),
        }
    }
}

#[path = "tools_changes.rs"]
mod changes;
