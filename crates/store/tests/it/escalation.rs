//! Escalation written with the turn: urgency only rises, staff are alerted once per turn, a
//! redelivered message alerts nobody twice, and another tenant sees none of it.

use crate::harness::{delivered, new_tenant, store, turn};
use frontdesk_domain::*;
use frontdesk_store::testing::TestDb;
use frontdesk_store::*;
use serde_json::json;

engine_tests!(
    clinic_red_flag_rules_are_validated_kept_and_tenant_scoped,
    an_emergency_turn_marks_the_conversation_and_alerts_staff,
    urgency_never_drops_and_redeliveries_alert_once,
    notifications_are_not_visible_to_another_tenant,
);

fn escalate(urgency: Urgency, kind: NotificationKind, rule: &str) -> Option<Escalation> {
    Some(Escalation {
        urgency,
        notify: kind,
        details: json!({ "rule": rule }),
    })
}

async fn conversation(store: &dyn Store, scope: TenantScope) -> ConversationId {
    let patient = store
        .create_patient(scope, &NewPatient::default())
        .await
        .unwrap();
    store
        .start_conversation(scope, patient, Channel::Sms)
        .await
        .unwrap()
}

async fn an_emergency_turn_marks_the_conversation_and_alerts_staff(db: &TestDb) {
    let store = store(db).await;
    let scope = new_tenant(store.as_ref(), "esc-clinic").await;
    let conv = conversation(store.as_ref(), scope).await;
    let mut t = turn(delivered("crushing chest pain", "SM-1"), &["Call 111 now."]);
    t.escalation = escalate(
        Urgency::Emergency,
        NotificationKind::Emergency,
        "en.chest_pain",
    );
    store.record_turn(scope, conv, &t).await.unwrap();
    assert_eq!(
        store.conversation(scope, conv).await.unwrap().urgency,
        "emergency"
    );
    let alerts = store.pending_notifications(scope, 10).await.unwrap();
    assert_eq!(alerts.len(), 1);
    assert_eq!(
        (alerts[0].kind, alerts[0].conversation_id),
        (NotificationKind::Emergency, Some(conv))
    );
    assert_eq!(alerts[0].details, r#"{"rule":"en.chest_pain"}"#);
    assert!(
        !alerts[0].details.contains("chest pain"),
        "ids and rule names only"
    );
}

async fn urgency_never_drops_and_redeliveries_alert_once(db: &TestDb) {
    let store = store(db).await;
    let scope = new_tenant(store.as_ref(), "esc-clinic").await;
    let conv = conversation(store.as_ref(), scope).await;
    let mut t = turn(
        delivered("fever for five days", "SM-1"),
        &["We can see you today."],
    );
    t.escalation = escalate(
        Urgency::Urgent,
        NotificationKind::Urgent,
        "en.prolonged_fever",
    );
    store.record_turn(scope, conv, &t).await.unwrap();
    assert_eq!(
        store.conversation(scope, conv).await.unwrap().urgency,
        "urgent"
    );
    assert!(matches!(
        store.record_turn(scope, conv, &t).await,
        Err(StoreError::Duplicate)
    ));
    assert_eq!(
        store.pending_notifications(scope, 10).await.unwrap().len(),
        1,
        "a redelivery alerts nobody again"
    );

    let mut t = turn(
        delivered("now he is not breathing", "SM-2"),
        &["Call 111 now."],
    );
    t.escalation = escalate(
        Urgency::Emergency,
        NotificationKind::Emergency,
        "en.not_breathing",
    );
    store.record_turn(scope, conv, &t).await.unwrap();
    let mut t = turn(delivered("ok thanks", "SM-3"), &["Take care."]);
    t.escalation = escalate(Urgency::Urgent, NotificationKind::Urgent, "en.other");
    store.record_turn(scope, conv, &t).await.unwrap();
    store
        .record_turn(scope, conv, &turn(delivered("bye", "SM-4"), &["Bye."]))
        .await
        .unwrap();
    assert_eq!(
        store.conversation(scope, conv).await.unwrap().urgency,
        "emergency",
        "never lowered"
    );
    let kinds: Vec<_> = store
        .pending_notifications(scope, 10)
        .await
        .unwrap()
        .iter()
        .map(|n| n.kind)
        .collect();
    assert_eq!(
        kinds,
        vec![
            NotificationKind::Urgent,
            NotificationKind::Emergency,
            NotificationKind::Urgent
        ],
        "newest first"
    );
}

async fn notifications_are_not_visible_to_another_tenant(db: &TestDb) {
    let store = store(db).await;
    let a = new_tenant(store.as_ref(), "esc-a").await;
    let b = new_tenant(store.as_ref(), "esc-b").await;
    let conv = conversation(store.as_ref(), a).await;
    let mut t = turn(delivered("she collapsed", "SM-1"), &["Call 111 now."]);
    t.escalation = escalate(
        Urgency::Emergency,
        NotificationKind::Emergency,
        "en.collapse",
    );
    assert!(matches!(
        store.record_turn(b, conv, &t).await,
        Err(StoreError::NotFound)
    ));
    store.record_turn(a, conv, &t).await.unwrap();
    assert!(store.pending_notifications(b, 10).await.unwrap().is_empty());
    assert_eq!(store.pending_notifications(a, 10).await.unwrap().len(), 1);
}

async fn clinic_red_flag_rules_are_validated_kept_and_tenant_scoped(db: &TestDb) {
    let store = store(db).await;
    let a = new_tenant(store.as_ref(), "rules-a").await;
    let b = new_tenant(store.as_ref(), "rules-b").await;
    let phrases = vec!["  post-op fever ".to_owned(), "wound is leaking".to_owned()];
    let id = store
        .add_red_flag_rule(a, &phrases, Urgency::Urgent, "en")
        .await
        .unwrap();
    let rules = store.red_flag_rules(a).await.unwrap();
    assert_eq!(rules.len(), 1);
    assert_eq!(
        (rules[0].id, rules[0].level, rules[0].language.as_str()),
        (id, Urgency::Urgent, "en")
    );
    assert_eq!(
        rules[0].phrases,
        vec!["post-op fever".to_owned(), "wound is leaking".to_owned()]
    );
    assert!(store.red_flag_rules(b).await.unwrap().is_empty());
    for (phrases, level, lang) in [
        (vec![], Urgency::Urgent, "en"),
        (vec!["  ".to_owned()], Urgency::Urgent, "en"),
        (vec!["x".to_owned()], Urgency::Normal, "en"),
        (vec!["x".to_owned()], Urgency::Emergency, "en gb"),
        (vec!["y".repeat(201)], Urgency::Emergency, "en"),
    ] {
        assert!(matches!(
            store.add_red_flag_rule(a, &phrases, level, lang).await,
            Err(StoreError::Invalid(_))
        ));
    }
    let audit = crate::harness::all_audit(store.as_ref(), a).await;
    let added = audit
        .iter()
        .find(|e| e.action == "settings.red_flag_rule_added")
        .unwrap();
    assert!(
        !added.details.contains("post-op"),
        "phrases are counted, not copied, into the audit log"
    );
}
