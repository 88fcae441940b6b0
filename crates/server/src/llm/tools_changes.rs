//! The tools that change the diary: book, cancel, reschedule. Each re-reads what it acts on
//! and acts only for the conversation's verified patient; the patient is told by the built-in
//! dialogue's words, built from the appointment the store returned.

use super::{ExecEnv, Slot, ToolBox, ToolOutput, live};
use crate::booking::diary::{self, Diary, DiaryError};
use frontdesk_agent::dialogue::{self, DialogueContext};
use frontdesk_agent::{DialogueState, Held};
use frontdesk_domain::{AppointmentId, PatientId};
use frontdesk_store::{Actor, AppointmentStatus, StoreError};

impl ToolBox {
    pub(super) async fn book(
        &mut self,
        env: &ExecEnv<'_>,
        ctx: &DialogueContext<'_>,
        patient: PatientId,
        s: Slot,
    ) -> Result<ToolOutput, StoreError> {
        let new = diary::Booking {
            patient,
            practitioner: s.offer.practitioner,
            service: s.service,
            start: s.offer.start,
            // The built-in dialogue's key: a retried turn books once, whoever answered it.
            key: format!(
                "{}:{}:{}",
                env.conversation,
                s.offer.practitioner,
                s.offer.start.as_microsecond()
            ),
            actor: Actor::Agent,
        };
        let diary = Diary::load(env.store, env.scope).await?;
        match diary::book(env.store, env.scope, &diary, env.clinic, &new).await {
            Ok(a) => {
                let said = dialogue::booked(
                    &mut DialogueState::default(),
                    a.service_id,
                    a.practitioner_id,
                    a.starts_at,
                    ctx,
                );
                self.changed(said, Some(a.id));
                Ok(ToolOutput::ok(
                    "Booked. The patient is told the details by the system.",
                ))
            }
            Err(e) => self.diary_failed(e),
        }
    }

    /// The appointment, if it is still the patient's, live and upcoming.
    async fn still_own(
        env: &ExecEnv<'_>,
        patient: PatientId,
        id: AppointmentId,
    ) -> Result<Option<frontdesk_store::Appointment>, StoreError> {
        match env.store.appointment(env.scope, id).await {
            Ok(a) if a.patient_id == patient && live(a.status) && a.starts_at > env.now => {
                Ok(Some(a))
            }
            Ok(_) | Err(StoreError::NotFound) => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub(super) async fn cancel(
        &mut self,
        env: &ExecEnv<'_>,
        ctx: &DialogueContext<'_>,
        patient: PatientId,
        h: Held,
    ) -> Result<ToolOutput, StoreError> {
        if Self::still_own(env, patient, h.id).await?.is_none() {
            return Ok(self.refuse("that appointment can no longer be changed"));
        }
        let diary = Diary::load(env.store, env.scope).await?;
        match diary::cancel(env.store, env.scope, &diary, h.id, Actor::Agent).await {
            Ok(a) if a.status == AppointmentStatus::Cancelled => {
                let said = dialogue::cancelled(&mut DialogueState::default(), &h, ctx);
                self.changed(said, None);
                Ok(ToolOutput::ok(
                    "Cancelled. The patient is told by the system.",
                ))
            }
            Ok(_) | Err(DiaryError::Store(StoreError::NotFound) | DiaryError::Taken) => {
                Ok(self.refuse("that appointment can no longer be changed"))
            }
            Err(e) => self.diary_failed(e),
        }
    }

    pub(super) async fn reschedule(
        &mut self,
        env: &ExecEnv<'_>,
        ctx: &DialogueContext<'_>,
        patient: PatientId,
        h: Held,
        s: Slot,
    ) -> Result<ToolOutput, StoreError> {
        let Some(old) = Self::still_own(env, patient, h.id).await? else {
            return Ok(self.refuse("that appointment can no longer be changed"));
        };
        let key = format!(
            "{}:move:{}:{}:{}",
            env.conversation,
            h.id,
            s.offer.practitioner,
            s.offer.start.as_microsecond()
        );
        let diary = Diary::load(env.store, env.scope).await?;
        let moved = diary::reschedule(
            env.store,
            env.scope,
            &diary,
            env.clinic,
            &old,
            s.offer.start,
            s.offer.practitioner,
            &key,
            Actor::Agent,
        )
        .await;
        match moved {
            Ok(a) => {
                let to = Held {
                    id: a.id,
                    service: a.service_id,
                    practitioner: a.practitioner_id,
                    start: a.starts_at,
                };
                let said = dialogue::rescheduled(&mut DialogueState::default(), &h, &to, ctx);
                self.changed(said, Some(a.id));
                Ok(ToolOutput::ok(
                    "Moved. The patient is told the details by the system.",
                ))
            }
            Err(DiaryError::Taken) => {
                self.slots.clear();
                Ok(self.refuse("that time is no longer free, or the appointment cannot move"))
            }
            Err(e) => self.diary_failed(e),
        }
    }

    fn changed(&mut self, said: Vec<String>, booked: Option<AppointmentId>) {
        self.effects.confirmations.extend(said);
        self.effects.changes = self.effects.changes.saturating_add(1);
        if booked.is_some() {
            self.effects.booked = booked;
        }
    }
}
