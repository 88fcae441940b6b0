//! The operator's gauges on both engines: due outbound messages and jobs across clinics (an
//! inactive clinic's left out), how long the oldest has waited, dead letters, the pool.

use crate::harness::*;
use frontdesk_domain::Clock;
use frontdesk_store::testing::TestDb;
use frontdesk_store::*;
use jiff::SignedDuration;

engine_tests!(queue_stats_count_due_work_across_active_clinics_and_dead_letters);
postgres_tests!(a_pooled_connection_the_database_dropped_is_replaced_once_idle);

/// The pool skips the ping before handing out a connection that was returned moments ago
/// (sqlx pings it on return), but still checks one idle for [`PING_IDLE_AFTER`]: connections
/// the database dropped while idle (a restart, a terminated backend) are replaced, not used.
async fn a_pooled_connection_the_database_dropped_is_replaced_once_idle(db: &TestDb) {
    let (store, _clock) = store_with_clock(db).await;
    let before = store.queue_stats().await.unwrap();
    assert!(before.pool_size >= 1, "{before:?}");
    let crate::raw::Raw::Pg(mut owner) = crate::raw::Raw::open(db).await else {
        unreachable!("a PostgreSQL test")
    };
    let dropped: Vec<(bool,)> = sqlx::query_as(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'",
    )
    .fetch_all(&mut owner)
    .await
    .unwrap();
    assert!(
        !dropped.is_empty() && dropped.iter().all(|d| d.0),
        "{dropped:?}"
    );
    tokio::time::sleep(PING_IDLE_AFTER + std::time::Duration::from_millis(300)).await;
    // Every pooled connection is dead; each is found so by its ping and replaced.
    for _ in 0..before.pool_max {
        store.queue_stats().await.unwrap();
    }
}

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
