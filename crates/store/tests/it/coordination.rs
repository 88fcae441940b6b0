//! What the instances sharing one database coordinate through it, on both engines: each
//! clinic's outbound send rate (one bucket, however many instances take from it) and the daily
//! maintenance passes (one holder at a time, taken over when its lease runs out). Two store
//! handles on one database stand for two instances. SQLite is served by one process
//! (`SqliteStore::lock_for_serving`), which keeps the send buckets in memory: there the two
//! "instances" of the send-rate tests are one store, and the rules are the same.

use crate::harness::*;
use frontdesk_domain::{Clock, ManualClock};
use frontdesk_store::testing::{Engine, TestDb, test_keyring};
use frontdesk_store::*;
use jiff::SignedDuration;
use std::sync::Arc;

engine_tests!(
    a_clinics_send_rate_is_one_bucket_shared_by_every_instance,
    concurrent_sends_from_two_instances_are_granted_no_more_than_the_burst,
    a_maintenance_pass_has_one_holder_and_is_taken_over_when_its_lease_runs_out,
    a_maintenance_pass_claimed_at_once_by_many_goes_to_exactly_one,
);

async fn two_instances(db: &TestDb) -> (Arc<dyn Store>, Arc<dyn Store>, Arc<ManualClock>) {
    let (a, clock) = store_with_clock(db).await;
    let b = db.open(test_keyring(), clock.clone()).await.unwrap();
    (a, b, clock)
}

/// Two handles that send for the same clinics: two instances on PostgreSQL, the one serving
/// store on SQLite.
async fn two_senders(db: &TestDb) -> (Arc<dyn Store>, Arc<dyn Store>, Arc<ManualClock>) {
    match db.engine {
        Engine::Postgres => two_instances(db).await,
        Engine::Sqlite => {
            let (a, clock) = store_with_clock(db).await;
            (a.clone(), a, clock)
        }
    }
}

fn waited(p: SendPermit) -> SignedDuration {
    match p {
        SendPermit::Wait(d) => d,
        SendPermit::Granted => panic!("expected Wait, got Granted"),
    }
}

async fn a_clinics_send_rate_is_one_bucket_shared_by_every_instance(db: &TestDb) {
    let (a, b, clock) = two_senders(db).await;
    let clinic = new_tenant(&*a, "clinic-a").await;
    let other = new_tenant(&*a, "clinic-b").await;
    // A burst of 4, taken alternately by the two instances.
    for i in 0..4 {
        let s = if i % 2 == 0 { &a } else { &b };
        assert_eq!(
            s.take_send_token(clinic, 4).await.unwrap(),
            SendPermit::Granted,
            "send {i}"
        );
    }
    // The fifth waits on both, for the one interval (250 ms) until a token comes back.
    assert_eq!(
        waited(a.take_send_token(clinic, 4).await.unwrap()),
        SignedDuration::from_millis(250)
    );
    assert_eq!(
        waited(b.take_send_token(clinic, 4).await.unwrap()),
        SignedDuration::from_millis(250),
        "a refused take takes nothing"
    );
    // Another clinic has its own bucket.
    assert_eq!(
        b.take_send_token(other, 4).await.unwrap(),
        SendPermit::Granted
    );
    clock.advance(SignedDuration::from_millis(100));
    assert_eq!(
        waited(b.take_send_token(clinic, 4).await.unwrap()),
        SignedDuration::from_millis(150)
    );
    clock.advance(SignedDuration::from_millis(150));
    assert_eq!(
        b.take_send_token(clinic, 4).await.unwrap(),
        SendPermit::Granted
    );
    assert!(matches!(
        a.take_send_token(clinic, 4).await.unwrap(),
        SendPermit::Wait(_)
    ));
    // After a quiet second the whole burst is back, and no more.
    clock.advance(SignedDuration::from_secs(10));
    for _ in 0..4 {
        assert_eq!(
            a.take_send_token(clinic, 4).await.unwrap(),
            SendPermit::Granted
        );
    }
    assert!(matches!(
        b.take_send_token(clinic, 4).await.unwrap(),
        SendPermit::Wait(_)
    ));
}

async fn concurrent_sends_from_two_instances_are_granted_no_more_than_the_burst(db: &TestDb) {
    let (a, b, _clock) = two_senders(db).await;
    let clinic = new_tenant(&*a, "clinic-a").await;
    let takes: Vec<_> = (0..40)
        .map(|i| {
            let s = if i % 2 == 0 { a.clone() } else { b.clone() };
            tokio::spawn(async move { s.take_send_token(clinic, 10).await })
        })
        .collect();
    let mut granted = 0;
    for t in takes {
        match t.await.unwrap().unwrap() {
            SendPermit::Granted => granted += 1,
            SendPermit::Wait(d) => {
                assert!(d > SignedDuration::ZERO && d <= SignedDuration::from_secs(3))
            }
        }
    }
    assert_eq!(
        granted, 10,
        "the clinic's burst, over both instances together"
    );
}

async fn a_maintenance_pass_has_one_holder_and_is_taken_over_when_its_lease_runs_out(db: &TestDb) {
    let (a, b, clock) = two_instances(db).await;
    let day = SignedDuration::from_hours(24);
    let lease = SignedDuration::from_mins(10);
    let held = a
        .claim_maintenance("retention", "worker-a", day, lease)
        .await
        .unwrap()
        .expect("due: never run");
    assert_eq!(held.until, clock.now() + lease);
    assert_eq!(
        b.claim_maintenance("retention", "worker-b", day, lease)
            .await
            .unwrap(),
        None,
        "held by worker-a"
    );
    // Another pass is claimed on its own.
    let checkpoints = b
        .claim_maintenance("audit_checkpoints", "worker-b", day, lease)
        .await
        .unwrap()
        .expect("another name");
    b.finish_maintenance(&checkpoints, true).await.unwrap();

    // worker-a dies holding it: once the lease has run out, worker-b takes over.
    clock.advance(SignedDuration::from_mins(9));
    assert_eq!(
        b.claim_maintenance("retention", "worker-b", day, lease)
            .await
            .unwrap(),
        None
    );
    clock.advance(SignedDuration::from_mins(1));
    let taken = b
        .claim_maintenance("retention", "worker-b", day, lease)
        .await
        .unwrap()
        .expect("the dead holder's lease ran out");
    // The old holder's late finish is refused and changes nothing.
    assert_err!(
        a.finish_maintenance(&held, true).await,
        StoreError::Conflict(_)
    );
    b.finish_maintenance(&taken, true).await.unwrap();
    assert_err!(
        b.finish_maintenance(&taken, true).await,
        StoreError::Conflict(_)
    );

    // Done: nobody runs it again until a day after it completed.
    clock.advance(SignedDuration::from_hours(23));
    for (s, who) in [(&a, "worker-a"), (&b, "worker-b")] {
        assert_eq!(
            s.claim_maintenance("retention", who, day, lease)
                .await
                .unwrap(),
            None
        );
    }
    clock.advance(SignedDuration::from_hours(1));
    let next = a
        .claim_maintenance("retention", "worker-a", day, lease)
        .await
        .unwrap()
        .expect("due again a day later");
    // Released undone (the pass failed): the next instance to look may run it at once.
    a.finish_maintenance(&next, false).await.unwrap();
    let retry = b
        .claim_maintenance("retention", "worker-b", day, lease)
        .await
        .unwrap()
        .expect("released undone");
    b.finish_maintenance(&retry, true).await.unwrap();

    let runs = a.maintenance_runs().await.unwrap();
    let summary: Vec<_> = runs
        .iter()
        .map(|r| (r.name.as_str(), r.holder.as_deref(), r.runs))
        .collect();
    assert_eq!(
        summary,
        [("audit_checkpoints", None, 1), ("retention", None, 2)]
    );
    assert_eq!(runs[1].last_done_at, Some(clock.now()));
    assert_eq!(runs[1].leased_until, None);
}

async fn a_maintenance_pass_claimed_at_once_by_many_goes_to_exactly_one(db: &TestDb) {
    let (a, b, _clock) = two_instances(db).await;
    let day = SignedDuration::from_hours(24);
    let lease = SignedDuration::from_mins(10);
    let claims: Vec<_> = (0..12)
        .map(|i| {
            let s = if i % 2 == 0 { a.clone() } else { b.clone() };
            tokio::spawn(async move {
                s.claim_maintenance("retention", &format!("worker-{i}"), day, lease)
                    .await
            })
        })
        .collect();
    let mut won: Vec<MaintenanceLease> = Vec::new();
    for c in claims {
        won.extend(c.await.unwrap().unwrap());
    }
    assert_eq!(won.len(), 1, "{won:?}");
    a.finish_maintenance(&won[0], true).await.unwrap();
    let runs = b.maintenance_runs().await.unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].runs, 1);
}
