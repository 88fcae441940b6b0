//! The operator's gauges on both engines: due outbound messages and jobs across clinics (an
//! inactive clinic's left out), how long the oldest has waited, dead letters, the pool.

use crate::harness::*;
use frontdesk_domain::Clock;
use frontdesk_store::testing::TestDb;
use frontdesk_store::*;
use jiff::SignedDuration;

engine_tests!(queue_stats_count_due_work_across_active_clinics_and_dead_letters);

async fn queue_stats_count_due_work_across_active_clinics_and_dead_letters(db: &TestDb) {
    let (store, clock) = store_with_clock(db).await;
    let empty = store.queue_stats().await.unwrap();
    assert_eq!(
        (empty.jobs_due, empty.outbox_due, empty.outbox_dead),
        (0, 0, 0)
    );
    assert!(empty.pool_max >= 1 && empty.pool_size <= empty.pool_max);
    let (a, b) = seed_two(&*store).await;
    let queued_at = clock.now();
    clock.advance(SignedDuration::from_secs(30));
    let stats = store.queue_stats().await.unwrap();
    // Each seeded clinic's WhatsApp reply waits in the outbox.
    assert_eq!(stats.outbox_due, 2, "{stats:?}");
    assert_eq!(stats.outbox_oldest_due, Some(queued_at));
    store
        .terminate_tenant(b.scope, Actor::Operator)
        .await
        .unwrap();
    assert_eq!(
        store.queue_stats().await.unwrap().outbox_due,
        1,
        "only active clinics"
    );
    // A permanent refusal makes a dead letter.
    let items = store
        .claim_outbox("test", SignedDuration::from_mins(1), 10)
        .await
        .unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].lease.scope.tenant_id(), a.scope.tenant_id());
    store
        .settle_outbox(
            &items[0].lease,
            &DeliveryOutcome::Permanent {
                error_code: "invalid_number".into(),
            },
        )
        .await
        .unwrap();
    let after = store.queue_stats().await.unwrap();
    assert_eq!((after.outbox_due, after.outbox_dead), (0, 1), "{after:?}");
}
