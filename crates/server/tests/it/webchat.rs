//! The web chat API end to end: happy path, storage, and every error answer.

use crate::harness::{TestApp, assert_error};
use frontdesk_store::{Direction, Sender};

crate::both_engines!(
    a_chat_exchange_is_answered_and_stored,
    unknown_clinic_is_404_json,
    missing_or_invalid_token_is_401,
    token_of_one_clinic_is_useless_on_another,
    malformed_bodies_get_clear_errors_and_store_nothing,
    text_size_limits_are_enforced_at_the_boundary,
    an_emergency_is_answered_with_the_number_first_and_escalated,
    questions_are_answered_from_the_faq_or_passed_to_the_team,
    a_web_chat_booking_is_made_in_the_diary_and_confirmed_from_it,
    an_emergency_summary_stays_emergency_after_a_calm_follow_up,
    while_staff_hold_a_conversation_the_ai_says_nothing_but_red_flags_still_alert,
    a_paused_receptionist_gives_holding_replies_alerts_staff_and_keeps_red_flag_advice,
);

async fn while_staff_hold_a_conversation_the_ai_says_nothing_but_red_flags_still_alert(
    app: TestApp,
) {
    let (token, conv) = app.start_chat("nairobi-family").await;
    let scope = app.scope("nairobi-family").await;
    let id = frontdesk_domain::ConversationId::parse(&conv).unwrap();
    let staff = app
        .store
        .create_user(
            scope,
            &frontdesk_store::NewUser {
                email: frontdesk_domain::Email::parse("wanjiru@nairobi.test").unwrap(),
                name: "Wanjiru".into(),
                role: frontdesk_domain::Role::Reception,
            },
        )
        .await
        .unwrap();
    app.store
        .take_over(scope, id, staff, jiff::SignedDuration::from_mins(15))
        .await
        .unwrap();

    let r = app
        .say("nairobi-family", &token, "What are your opening hours?")
        .await;
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["replies"].as_array().unwrap().len(), 0, "{v}");
    // A red flag still reaches the team and raises the urgency; the AI still says nothing.
    let r = app
        .say(
            "nairobi-family",
            &token,
            "My baby is not breathing properly and her lips are blue",
        )
        .await;
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["replies"].as_array().unwrap().len(), 0, "{v}");
    assert_eq!(
        app.store.conversation(scope, id).await.unwrap().urgency,
        "emergency"
    );
    let alerts = app.store.pending_notifications(scope, 10).await.unwrap();
    assert_eq!(alerts.len(), 1);
    // Both patient messages are stored; no AI message is.
    let stored = app.messages("nairobi-family", &conv).await;
    assert_eq!(stored.len(), 2);
    assert!(stored.iter().all(|m| m.sender == Sender::Patient));
    let audit = app.store.audit_entries(scope, 0, 1000).await.unwrap();
    let count = |a: &str| audit.iter().filter(|e| e.action == a).count();
    assert_eq!(count("agent.withheld"), 2);
    assert_eq!(count("agent.replied"), 0);
    assert_eq!(count("triage.red_flag"), 1);

    // Given back: the AI answers again.
    app.store.release(scope, id, staff).await.unwrap();
    let r = app.say("nairobi-family", &token, "where are you?").await;
    let v: serde_json::Value = r.json().await.unwrap();
    assert!(!v["replies"].as_array().unwrap().is_empty(), "{v}");
}

async fn a_chat_exchange_is_answered_and_stored(app: TestApp) {
    let (token, conv) = app.start_chat("harbour-physio").await;
    let r = app
        .say("harbour-physio", &token, "What are your opening hours?")
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let v: serde_json::Value = r.json().await.unwrap();
    let replies = v["replies"].as_array().unwrap();
    assert_eq!(
        replies.len(),
        2,
        "privacy notice first, then the answer: {v}"
    );
    assert!(
        replies[0]["text"]
            .as_str()
            .unwrap()
            .contains("stored encrypted")
    );
    assert!(
        replies[1]["text"]
            .as_str()
            .unwrap()
            .contains("Mon–Fri 08:00–18:00, Sat 09:00–13:00")
    );

    let r = app.say("harbour-physio", &token, "where are you?").await;
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(
        v["replies"].as_array().unwrap().len(),
        1,
        "the notice is given once"
    );
    assert!(
        v["replies"][0]["text"]
            .as_str()
            .unwrap()
            .contains("12 Quay Street")
    );

    let stored = app.messages("harbour-physio", &conv).await;
    let shape: Vec<_> = stored.iter().map(|m| (m.direction, m.sender)).collect();
    assert_eq!(
        shape,
        vec![
            (Direction::Inbound, Sender::Patient),
            (Direction::Outbound, Sender::Agent),
            (Direction::Outbound, Sender::Agent),
            (Direction::Inbound, Sender::Patient),
            (Direction::Outbound, Sender::Agent),
        ]
    );
    assert_eq!(stored[0].body, "What are your opening hours?");
    assert_eq!(stored[3].body, "where are you?");
    // Each reply is audited with the rule set that produced it, never with the text.
    let scope = app.scope("harbour-physio").await;
    let audit = app.store.audit_entries(scope, 0, 1000).await.unwrap();
    let replied: Vec<_> = audit
        .iter()
        .filter(|e| e.action == "agent.replied")
        .collect();
    assert_eq!(replied.len(), 2);
    assert!(replied[0].details.contains(frontdesk_agent::RULE_SET));
    assert!(!replied[0].details.contains("opening hours"));
    app.finish().await;
}

async fn unknown_clinic_is_404_json(app: TestApp) {
    for slug in ["no-such-clinic", "Bad_Slug!", "a"] {
        let r = app
            .client
            .post(app.url(&format!("/v1/webchat/{slug}/sessions")))
            .send()
            .await
            .unwrap();
        assert_error(r, 404, "unknown_tenant").await;
        let r = app.say(slug, "fdw_whatever", "hi").await;
        assert_error(r, 404, "unknown_tenant").await;
    }
    let r = app
        .client
        .get(app.url("/nothing/here"))
        .send()
        .await
        .unwrap();
    assert_error(r, 404, "not_found").await;
    app.finish().await;
}

async fn missing_or_invalid_token_is_401(app: TestApp) {
    let url = app.url("/v1/webchat/harbour-physio/messages");
    let r = app
        .client
        .post(&url)
        .json(&serde_json::json!({"text": "hi"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["www-authenticate"], "Bearer");
    assert_error(r, 401, "invalid_token").await;
    for header in [
        "Bearer",
        "Bearer ",
        "Basic abc",
        "fdw_abc",
        "Bearer fdw_not_a_real_token",
    ] {
        let r = app
            .client
            .post(&url)
            .header("authorization", header)
            .json(&serde_json::json!({"text": "hi"}))
            .send()
            .await
            .unwrap();
        assert_error(r, 401, "invalid_token").await;
    }
    app.finish().await;
}

async fn token_of_one_clinic_is_useless_on_another(app: TestApp) {
    let (token, conv) = app.start_chat("harbour-physio").await;
    let nairobi = app.scope("nairobi-family").await;
    let before = app
        .store
        .audit_entries(nairobi, 0, 10_000)
        .await
        .unwrap()
        .len();
    let r = app.say("nairobi-family", &token, "Habari").await;
    assert_error(r, 401, "invalid_token").await;
    assert_eq!(
        app.store
            .audit_entries(nairobi, 0, 10_000)
            .await
            .unwrap()
            .len(),
        before,
        "nothing written"
    );
    assert!(app.messages("harbour-physio", &conv).await.is_empty());
    // And the token still works where it belongs.
    assert_eq!(app.say("harbour-physio", &token, "hi").await.status(), 200);
    app.finish().await;
}

async fn malformed_bodies_get_clear_errors_and_store_nothing(app: TestApp) {
    let (token, conv) = app.start_chat("harbour-physio").await;
    let url = app.url("/v1/webchat/harbour-physio/messages");
    let send = |body: &'static str| {
        app.client
            .post(&url)
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    assert_error(send("not json").await.unwrap(), 400, "invalid_json").await;
    assert_error(
        send("{\"text\": \"unterminated").await.unwrap(),
        400,
        "invalid_json",
    )
    .await;
    assert_error(send("").await.unwrap(), 400, "invalid_json").await;
    assert_error(send("{}").await.unwrap(), 422, "invalid_body").await;
    assert_error(send("{\"text\": 42}").await.unwrap(), 422, "invalid_body").await;
    assert_error(send("[\"text\"]").await.unwrap(), 422, "invalid_body").await;
    assert_error(send("{\"text\": \"\"}").await.unwrap(), 422, "empty_text").await;
    assert_error(
        send("{\"text\": \"  \\n\\t \"}").await.unwrap(),
        422,
        "empty_text",
    )
    .await;
    assert!(app.messages("harbour-physio", &conv).await.is_empty());
    app.finish().await;
}

async fn text_size_limits_are_enforced_at_the_boundary(app: TestApp) {
    let (token, conv) = app.start_chat("harbour-physio").await;
    let r = app.say("harbour-physio", &token, &"a".repeat(4097)).await;
    assert_error(r, 413, "text_too_long").await;
    // Multi-byte text is measured in bytes: 1,366 × "é…" is over 4 KiB.
    let r = app.say("harbour-physio", &token, &"é…".repeat(1366)).await;
    assert_error(r, 413, "text_too_long").await;
    let huge = format!("{{\"text\": \"{}\"}}", "b".repeat(20_000));
    let r = app
        .client
        .post(app.url("/v1/webchat/harbour-physio/messages"))
        .bearer_auth(&token)
        .body(huge)
        .send()
        .await
        .unwrap();
    assert_error(r, 413, "payload_too_large").await;
    assert!(
        app.messages("harbour-physio", &conv).await.is_empty(),
        "nothing stored for rejected input"
    );
    let r = app.say("harbour-physio", &token, &"a".repeat(4096)).await;
    assert_eq!(r.status(), 200, "exactly 4 KiB is accepted");
    assert_eq!(
        app.messages("harbour-physio", &conv).await[0].body.len(),
        4096
    );
    app.finish().await;
}

async fn an_emergency_is_answered_with_the_number_first_and_escalated(app: TestApp) {
    let (token, conv) = app.start_chat("nairobi-family").await;
    let r = app
        .say(
            "nairobi-family",
            &token,
            "My baby is not breathing properly and her lips are blue",
        )
        .await;
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = r.json().await.unwrap();
    let first = v["replies"][0]["text"].as_str().unwrap();
    assert!(first.starts_with("Call 999 or 112 now."), "{v}");
    assert!(first.contains("Piga simu 999 au 112"), "{v}");
    let scope = app.scope("nairobi-family").await;
    let id = frontdesk_domain::ConversationId::parse(&conv).unwrap();
    assert_eq!(
        app.store.conversation(scope, id).await.unwrap().urgency,
        "emergency"
    );
    let alerts = app.store.pending_notifications(scope, 10).await.unwrap();
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].kind, frontdesk_store::NotificationKind::Emergency);
    assert!(
        !alerts[0].details.contains("blue") && !alerts[0].details.contains("breathing properly")
    );
    let audit = app.store.audit_entries(scope, 0, 1000).await.unwrap();
    let fired = audit
        .iter()
        .find(|e| e.action == "triage.red_flag")
        .expect("the rule that fired is audited");
    assert!(
        fired.details.contains("\"level\":\"emergency\"") && fired.details.contains("\"rule\":\""),
        "{}",
        fired.details
    );
    assert!(
        !fired.details.contains("lips"),
        "no message text in the audit log"
    );

    // A calm follow-up keeps the conversation urgent; negated symptoms alarm nobody.
    let r = app
        .say("nairobi-family", &token, "ok we are going to the hospital")
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        app.store.conversation(scope, id).await.unwrap().urgency,
        "emergency"
    );
    let (token2, conv2) = app.start_chat("nairobi-family").await;
    let v: serde_json::Value = app
        .say(
            "nairobi-family",
            &token2,
            "no chest pain, just asking your opening hours",
        )
        .await
        .json()
        .await
        .unwrap();
    assert!(
        v["replies"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["text"].as_str().unwrap().contains("Mon–Sat 08:00–20:00")),
        "{v}"
    );
    let id2 = frontdesk_domain::ConversationId::parse(&conv2).unwrap();
    assert_eq!(
        app.store.conversation(scope, id2).await.unwrap().urgency,
        "normal"
    );
    app.finish().await;
}

async fn questions_are_answered_from_the_faq_or_passed_to_the_team(app: TestApp) {
    let (token, _) = app.start_chat("harbour-physio").await;
    assert_eq!(
        app.ask("harbour-physio", &token, "hi").await.len(),
        2,
        "privacy notice, then hello"
    );
    let parking = app.ask("harbour-physio", &token, "where can I park?").await;
    assert!(parking[0].contains("two patient parks"), "{parking:?}");
    let price = app
        .ask("harbour-physio", &token, "how much is a sports massage")
        .await;
    assert!(
        price[0].contains("Sports massage (60 min, NZD 110)"),
        "{price:?}"
    );
    let scope = app.scope("harbour-physio").await;
    assert!(
        app.store
            .pending_notifications(scope, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let unknown = app
        .ask("harbour-physio", &token, "do you sell dog food?")
        .await;
    assert!(unknown[0].contains("passed your question"), "{unknown:?}");
    let alerts = app.store.pending_notifications(scope, 10).await.unwrap();
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].kind, frontdesk_store::NotificationKind::Task);
    app.finish().await;
}

async fn an_emergency_summary_stays_emergency_after_a_calm_follow_up(app: TestApp) {
    use frontdesk_store::Urgency;
    let (token, conv) = app.start_chat("nairobi-family").await;
    let scope = app.scope("nairobi-family").await;
    let id = frontdesk_domain::ConversationId::parse(&conv).unwrap();
    let summary = || async { app.store.conversation(scope, id).await.unwrap().summary };
    assert_eq!(
        summary().await,
        None,
        "nothing to summarise before the first message"
    );

    let text = "My baby is not breathing properly and her lips are blue";
    app.ask("nairobi-family", &token, text).await;
    let s = summary().await.expect("a summary after the first turn");
    assert_eq!(
        (s.triage_level, s.outcome.as_str(), s.turns, s.appointment),
        (Urgency::Emergency, "escalated_emergency", 1, None)
    );
    assert!(s.reason.starts_with("red_flag:"), "{s:?}");
    assert!(
        !s.reason.contains("baby") && !s.reason.contains("lips"),
        "names only: {s:?}"
    );

    app.ask("nairobi-family", &token, "ok we are going to the hospital")
        .await;
    app.ask("nairobi-family", &token, "thank you").await;
    let after = summary().await.expect("summary kept");
    assert_eq!(
        (after.triage_level, after.outcome.as_str(), after.turns),
        (Urgency::Emergency, "escalated_emergency", 3)
    );
    assert_eq!(after.reason, s.reason, "the emergency stays the reason");

    // A calm conversation next to it is summarised on its own.
    let (token2, conv2) = app.start_chat("nairobi-family").await;
    app.ask("nairobi-family", &token2, "what are your opening hours?")
        .await;
    let id2 = frontdesk_domain::ConversationId::parse(&conv2).unwrap();
    let calm = app
        .store
        .conversation(scope, id2)
        .await
        .unwrap()
        .summary
        .unwrap();
    assert_eq!(
        (
            calm.reason.as_str(),
            calm.triage_level,
            calm.outcome.as_str(),
            calm.turns
        ),
        ("opening_hours", Urgency::Normal, "answered", 1)
    );
    app.finish().await;
}

async fn a_web_chat_booking_is_made_in_the_diary_and_confirmed_from_it(app: TestApp) {
    let (token, conv) = app.start_chat("harbour-physio").await;
    let offers = app
        .ask(
            "harbour-physio",
            &token,
            "I'd like to book a sports massage with Mei, anytime next week",
        )
        .await;
    let offer = offers.last().unwrap();
    assert!(
        offer.contains("I have: 1) ") && offer.contains("with Mei Chen"),
        "{offers:?}"
    );
    let ask = app.ask("harbour-physio", &token, "the first one").await;
    assert!(
        ask[0].contains("full name") && ask[0].contains("mobile number"),
        "{ask:?}"
    );
    let done = app
        .ask("harbour-physio", &token, "Zebulon Quixote, 021 555 0199")
        .await;
    assert!(
        done[0].starts_with("You're booked: Sports massage with Mei Chen on "),
        "{done:?}"
    );
    let scope = app.scope("harbour-physio").await;
    let id = frontdesk_domain::ConversationId::parse(&conv).unwrap();
    let c = app.store.conversation(scope, id).await.unwrap();
    let appts = app
        .store
        .patient_appointments(scope, c.patient_id, jiff::Timestamp::UNIX_EPOCH)
        .await
        .unwrap();
    assert_eq!(appts.len(), 1, "exactly one appointment in the diary");
    assert_eq!(
        c.summary.as_ref().and_then(|s| s.appointment),
        Some(appts[0].id),
        "the summary points at it"
    );
    let patient = app.store.patient(scope, c.patient_id).await.unwrap();
    assert_eq!(patient.name.as_deref(), Some("Zebulon Quixote"));
    assert_eq!(
        patient
            .phone
            .as_ref()
            .map(frontdesk_domain::E164Phone::as_str),
        Some("+64215550199")
    );
    // The same words again start nothing new: the booking is done and the draft is cleared.
    let after = app.ask("harbour-physio", &token, "thanks!").await;
    assert!(
        !after.iter().any(|m| m.contains("You're booked")),
        "{after:?}"
    );
    assert_eq!(
        app.store
            .patient_appointments(scope, c.patient_id, jiff::Timestamp::UNIX_EPOCH)
            .await
            .unwrap()
            .len(),
        1
    );
    app.finish().await;
}

async fn a_paused_receptionist_gives_holding_replies_alerts_staff_and_keeps_red_flag_advice(
    app: TestApp,
) {
    let scope = app.scope("harbour-physio").await;
    assert!(
        app.store
            .set_ai_paused(scope, true, frontdesk_store::Actor::Operator)
            .await
            .unwrap()
    );
    let (token, conv) = app.start_chat("harbour-physio").await;
    let r = app
        .say(
            "harbour-physio",
            &token,
            "Can I book a sports massage tomorrow at 10?",
        )
        .await;
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = r.json().await.unwrap();
    let replies: Vec<&str> = v["replies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["text"].as_str().unwrap())
        .collect();
    assert_eq!(
        replies.len(),
        2,
        "the privacy notice, then the holding reply: {v}"
    );
    assert!(replies[0].contains("stored encrypted"), "{v}");
    assert!(
        replies[1].contains("Harbour Physio will reply as soon as they can")
            && replies[1].contains("call 111"),
        "{v}"
    );
    assert_eq!(
        app.store
            .pending_notifications(scope, 10)
            .await
            .unwrap()
            .len(),
        1
    );
    let id = frontdesk_domain::ConversationId::parse(&conv).unwrap();
    let diary = app
        .store
        .diary(
            scope,
            jiff::Timestamp::now(),
            jiff::Timestamp::now() + jiff::SignedDuration::from_hours(24 * 14),
        )
        .await
        .unwrap();
    assert!(diary.is_empty(), "nothing is booked while paused");

    // A red flag still gets its advice (the deterministic triage is never paused).
    let r = app
        .say(
            "harbour-physio",
            &token,
            "I have crushing chest pain and can't breathe",
        )
        .await;
    let v: serde_json::Value = r.json().await.unwrap();
    let first = v["replies"][0]["text"].as_str().unwrap();
    assert!(
        first.contains("111") && !first.contains("will reply as soon as"),
        "{v}"
    );
    assert_eq!(
        app.store.conversation(scope, id).await.unwrap().urgency,
        "emergency"
    );

    // Resumed: the receptionist answers again; the audit says what happened.
    assert!(
        app.store
            .set_ai_paused(scope, false, frontdesk_store::Actor::Operator)
            .await
            .unwrap()
    );
    assert!(
        !app.store
            .set_ai_paused(scope, false, frontdesk_store::Actor::Operator)
            .await
            .unwrap(),
        "already answering"
    );
    let r = app
        .say("harbour-physio", &token, "What are your opening hours?")
        .await;
    let v: serde_json::Value = r.json().await.unwrap();
    assert!(
        v["replies"][0]["text"].as_str().unwrap().contains("Mon"),
        "{v}"
    );
    let audit = app.store.audit_entries(scope, 0, 1000).await.unwrap();
    let count = |a: &str| audit.iter().filter(|e| e.action == a).count();
    assert_eq!(count("clinic.ai_paused"), 1);
    assert_eq!(count("clinic.ai_resumed"), 1);
    assert_eq!(count("agent.paused"), 2);
}
