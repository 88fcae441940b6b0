//! Waitlist offers: when a time comes free (any cancellation or move, on any channel, by the
//! patient or the clinic), the store records a pending hold in the same transaction. Each
//! worker, once a minute, offers every pending hold to the clinic's waitlisted patients in
//! the order they joined (at most [`MAX_OFFERS`] at once), in one store transaction per hold,
//! so several instances offer each freed time once. The offer stays open for [`OFFER_FOR`]
//! (never past the appointment's start); the first "yes" books it through the hold and the
//! others are told it has gone (see `frontdesk_agent::dialogue::waitlist`).

use crate::pacing::{Pacer, Spread};
use crate::turn::clinic_knowledge;
use frontdesk_agent::dialogue;
use frontdesk_domain::Clock;
use frontdesk_store::{HoldOffer, Store, StoreError, TenantScope};
use jiff::SignedDuration;

/// Patients offered one freed time at once.
pub const MAX_OFFERS: u32 = 3;
/// How long an offer stays open.
pub const OFFER_FOR: SignedDuration = SignedDuration::from_mins(30);
/// Holds handled per clinic per pass (the rest wait for the next pass).
const PER_PASS: u32 = 50;

/// What one pass did, over every clinic.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct WaitlistPass {
    /// Freed times offered to at least one patient.
    pub offered: usize,
    /// Patients the offers went to.
    pub patients: usize,
    /// Freed times nobody on the waitlist matched (or could be reached).
    pub unmatched: usize,
}

/// Offers every pending freed time of every active clinic, spaced by `pacer` (see
/// [`crate::pacing`]).
pub async fn offer_freed(
    store: &dyn Store,
    clock: &dyn Clock,
    pacer: &Pacer,
) -> Result<WaitlistPass, StoreError> {
    let mut pass = WaitlistPass::default();
    let mut clinics = pacer.clinics(store, Spread::FREQUENT).await?;
    while let Some(scope) = clinics.next().await {
        if let Err(e) = offer_freed_for(store, clock, scope, &mut pass).await {
            tracing::warn!(tenant = %scope.tenant_id(), error = %e, "waitlist pass failed for a clinic");
        }
    }
    Ok(pass)
}

async fn offer_freed_for(
    store: &dyn Store,
    clock: &dyn Clock,
    scope: TenantScope,
    pass: &mut WaitlistPass,
) -> Result<(), StoreError> {
    let holds = store.pending_holds(scope, PER_PASS).await?;
    if holds.is_empty() {
        return Ok(());
    }
    let knowledge = clinic_knowledge(store, scope).await?;
    let tz = knowledge.profile.time_zone()?;
    for hold in holds {
        let now = clock.now();
        let expires = (now + OFFER_FOR).min(hold.starts_at);
        let minutes = expires.duration_since(now).as_mins().max(1);
        let text = dialogue::waitlist_offer_text(
            &knowledge,
            hold.service,
            hold.practitioner,
            hold.starts_at,
            &tz,
            minutes,
        );
        match store
            .offer_hold(scope, hold.id, MAX_OFFERS, expires, &text)
            .await?
        {
            HoldOffer::Offered { patients } if patients > 0 => {
                pass.offered += 1;
                pass.patients += patients;
            }
            HoldOffer::Offered { .. } => pass.unmatched += 1,
            HoldOffer::NotPending => {}
        }
    }
    Ok(())
}
