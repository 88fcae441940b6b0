//! Appointment reminders: once a minute each worker looks for appointments that start within
//! their clinic's reminder window (`reminder_hours`, 24 by default, 0 for none) and sends each
//! one's reminder through the store, which claims it in the same transaction that writes the
//! message and its outbox row: with several instances running, each reminder goes out once.
//! The patient's replies ("yes", "I need to cancel", "can I move it?") are handled by the
//! receptionist, which is told which appointment the conversation was reminded of.

use crate::pacing::{Pacer, Spread};
use crate::turn::clinic_knowledge;
use frontdesk_agent::{Held, dialogue};
use frontdesk_domain::Clock;
use frontdesk_store::{ReminderOutcome, Store, StoreError, TenantScope};
use jiff::SignedDuration;

/// Reminders handled per clinic per pass (the rest wait for the next pass).
const PER_PASS: u32 = 100;

/// What one pass did, over every clinic.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ReminderPass {
    pub sent: usize,
    pub skipped: usize,
}

/// Sends every due reminder of every active clinic, spaced by `pacer` (see [`crate::pacing`]).
pub async fn send_due(
    store: &dyn Store,
    clock: &dyn Clock,
    pacer: &Pacer,
) -> Result<ReminderPass, StoreError> {
    let mut pass = ReminderPass::default();
    let mut clinics = pacer.clinics(store, Spread::FREQUENT).await?;
    while let Some(scope) = clinics.next().await {
        if let Err(e) = send_due_for(store, clock, scope, &mut pass).await {
            // One clinic's trouble (e.g. a profile that no longer parses) does not stop others.
            tracing::warn!(tenant = %scope.tenant_id(), error = %e, "reminder pass failed for a clinic");
        }
    }
    Ok(pass)
}

async fn send_due_for(
    store: &dyn Store,
    clock: &dyn Clock,
    scope: TenantScope,
    pass: &mut ReminderPass,
) -> Result<(), StoreError> {
    // The catalogue is kept per instance and checked with one statement (see the store's
    // catalogue cache), so reading it is cheaper than reading the profile on its own.
    let knowledge = clinic_knowledge(store, scope).await?;
    let hours = knowledge.profile.reminder_hours;
    if hours == 0 {
        return Ok(());
    }
    let until = clock.now() + SignedDuration::from_hours(i64::from(hours));
    let due = store.due_reminders(scope, until, PER_PASS).await?;
    if due.is_empty() {
        return Ok(());
    }
    let tz = knowledge.profile.time_zone()?;
    for a in due {
        let held = Held {
            id: a.id,
            service: a.service_id,
            practitioner: a.practitioner_id,
            start: a.starts_at,
        };
        let text = dialogue::reminder_text(&knowledge, &held, &tz);
        match store.send_reminder(scope, a.id, &text).await? {
            ReminderOutcome::Sent { .. } => pass.sent += 1,
            ReminderOutcome::Skipped(_) => pass.skipped += 1,
            ReminderOutcome::NotDue => {}
        }
    }
    Ok(())
}
