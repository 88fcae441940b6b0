//! Incident tools on both engines: the kill switch, ending every staff session of a clinic,
//! and the access report (which patients one staff member touched, from the audit log).

use crate::harness::*;
use frontdesk_store::testing::TestDb;
use frontdesk_store::*;
use jiff::SignedDuration;

engine_tests!(
    the_kill_switch_is_kept_in_the_profile_and_audited,
    every_staff_session_of_a_clinic_ends_at_once,
    the_access_report_lists_each_patient_a_staff_member_touched_in_the_window,
);

async fn the_kill_switch_is_kept_in_the_profile_and_audited(db: &TestDb) {
    let store = store(db).await;
    let (a, b) = seed_two(&*store).await;
    assert!(!store.clinic(a.scope).await.unwrap().profile.ai_paused);
    assert!(
        store
            .set_ai_paused(a.scope, true, Actor::Staff(a.user))
            .await
            .unwrap()
    );
    assert!(
        !store
            .set_ai_paused(a.scope, true, Actor::Staff(a.user))
            .await
            .unwrap()
    );
    assert!(store.clinic(a.scope).await.unwrap().profile.ai_paused);
    assert!(
        !store.clinic(b.scope).await.unwrap().profile.ai_paused,
        "only that clinic"
    );
    assert!(
        store
            .set_ai_paused(a.scope, false, Actor::Operator)
            .await
            .unwrap()
    );
    let audit = store.audit_entries(a.scope, 0, 1000).await.unwrap();
    let actions: Vec<_> = audit
        .iter()
        .filter(|e| e.action.starts_with("clinic.ai_"))
        .map(|e| (e.action.as_str(), e.actor_kind.as_str()))
        .collect();
    assert_eq!(
        actions,
        [
            ("clinic.ai_paused", "staff"),
            ("clinic.ai_resumed", "operator")
        ]
    );
}

async fn every_staff_session_of_a_clinic_ends_at_once(db: &TestDb) {
    let store = store(db).await;
    let (a, b) = seed_two(&*store).await;
    let mut tokens = Vec::new();
    for s in [&a, &b] {
        let session = sign_in(&*store, s).await;
        tokens.push((s.scope.tenant_id(), session.token));
    }
    assert_eq!(
        store
            .end_clinic_sessions(a.scope, Actor::Operator)
            .await
            .unwrap(),
        1
    );
    assert!(matches!(
        store.check_session(tokens[0].0, &tokens[0].1).await,
        Err(StoreError::Unauthorized)
    ));
    assert!(
        store.check_session(tokens[1].0, &tokens[1].1).await.is_ok(),
        "clinic B is untouched"
    );
    let audit = store.audit_entries(a.scope, 0, 1000).await.unwrap();
    let e = audit
        .iter()
        .find(|e| e.action == "staff.all_sessions_ended")
        .unwrap();
    assert!(e.details.contains("\"sessions\":1"));
}

async fn the_access_report_lists_each_patient_a_staff_member_touched_in_the_window(db: &TestDb) {
    let (store, clock) = store_with_clock(db).await;
    let (a, b) = seed_two(&*store).await;
    let viewer = Actor::Staff(a.user);
    let start = frontdesk_domain::Clock::now(&*clock);
    let other = store
        .create_patient(a.scope, &NewPatient::default())
        .await
        .unwrap();
    let other_conv = store
        .start_conversation(a.scope, other, Channel::Webchat)
        .await
        .unwrap();
    let gone = store
        .create_patient(a.scope, &NewPatient::default())
        .await
        .unwrap();
    for (kind, id) in [
        ("patient", a.patient.to_string()),
        ("conversation", a.conversation.to_string()),
        ("conversation", other_conv.to_string()),
        ("patient", gone.to_string()),
        ("faq", a.faq.to_string()),
    ] {
        let ev = AuditEvent::new(viewer, "x.viewed").target(kind, id);
        store.append_audit(a.scope, &ev).await.unwrap();
    }
    store
        .erase_patient(a.scope, gone, Actor::Operator)
        .await
        .unwrap();
    // Outside the window, and by someone else: not in the report.
    clock.advance(SignedDuration::from_hours(2));
    let late = AuditEvent::new(viewer, "late.viewed").target("patient", other);
    store.append_audit(a.scope, &late).await.unwrap();
    let by_other = AuditEvent::new(Actor::Operator, "op.viewed").target("patient", other);
    store.append_audit(a.scope, &by_other).await.unwrap();

    let window = (start, start + SignedDuration::from_hours(1));
    let report = store
        .access_report(a.scope, &a.user.to_string(), window.0, window.1)
        .await
        .unwrap();
    assert_eq!(report.len(), 3, "{report:?}");
    assert_eq!(report[0].patient, Some(a.patient));
    assert_eq!(
        report[0].entries, 2,
        "the record and the conversation, one patient"
    );
    assert_eq!(report[1].patient, Some(other));
    assert_eq!(report[1].actions, ["x.viewed"]);
    assert_eq!(report[2].patient, None, "erased: kept by target");
    assert_eq!(
        (report[2].target_kind.as_str(), report[2].target_id.clone()),
        ("patient", gone.to_string())
    );
    // The whole day: the late view is in; another clinic sees nothing of it.
    let day = store
        .access_report(
            a.scope,
            &a.user.to_string(),
            start,
            start + SignedDuration::from_hours(24),
        )
        .await
        .unwrap();
    assert!(
        day.iter()
            .any(|r| r.patient == Some(other) && r.actions.contains(&"late.viewed".to_owned()))
    );
    assert!(
        store
            .access_report(
                b.scope,
                &a.user.to_string(),
                start,
                start + SignedDuration::from_hours(24)
            )
            .await
            .unwrap()
            .is_empty()
    );
}
