//! The model turn's plumbing on the real turn path (SQLite): which model a turn goes to, what
//! the patient is told around the model's words, and what is recorded. The adversarial cases
//! are in `injection_tests.rs`.

use super::*;
use crate::llm::injection_harness::{Fixture, Scripted, call, say};
use frontdesk_store::testing::Engine;
use serde_json::json;

async fn fixture() -> Fixture {
    Fixture::new(Engine::Sqlite).await.unwrap()
}

fn models(fast: &Arc<Scripted>, strong: &Arc<Scripted>) -> TenantModels {
    TenantModels::new(fast.clone(), strong.clone())
}

#[tokio::test]
async fn routine_turns_go_to_the_fast_model_and_sensitive_ones_to_the_strong_one() {
    let fx = fixture().await;
    let fast = Scripted::new(vec![say("We're open weekdays from 8.")]);
    let strong = Scripted::new(vec![say(
        "I'm sorry to hear that. Would you like to talk to our team?",
    )]);
    let m = models(&fast, &strong);
    let got = fx.say_with(false, "When do you open?", &m).await;
    // After the privacy notice of a first contact.
    assert_eq!(got.messages.len(), 2);
    assert_eq!(got.messages[1], "We're open weekdays from 8.");
    assert_eq!((fast.calls(), strong.calls()), (1, 0));
    let got = fx
        .say_with(false, "I'm really unhappy with how my last visit went.", &m)
        .await;
    assert_eq!(got.messages.len(), 1);
    assert!(got.messages[0].starts_with("I'm sorry to hear that."));
    assert_eq!((fast.calls(), strong.calls()), (1, 1));
    let entries = fx.store.audit_entries(fx.scope, 0, u32::MAX).await.unwrap();
    let last = entries
        .iter()
        .rev()
        .find(|e| e.action == "agent.replied")
        .unwrap();
    let d: serde_json::Value = serde_json::from_str(&last.details).unwrap();
    assert_eq!(d["rule_set"], "model");
    assert_eq!(d["tier"], "strong");
    assert_eq!(d["model"], "scripted");
    fx.db.cleanup().await;
}

#[tokio::test]
async fn a_clinic_policy_can_keep_sensitive_turns_with_the_built_in_receptionist() {
    let fx = fixture().await;
    let model = Scripted::new(vec![say("Sure.")]);
    let mut m = models(&model, &model);
    m.routing.sensitive = None;
    let got = fx
        .say_with(false, "I want to make a complaint about my bill.", &m)
        .await;
    assert!(!got.messages.is_empty());
    assert_eq!(model.calls(), 0);
    assert_eq!(fx.answered_by().await, frontdesk_agent::RULE_SET);
    fx.db.cleanup().await;
}

#[tokio::test]
async fn the_first_reply_states_the_privacy_notice_before_the_models_words() {
    let fx = fixture().await;
    let model = Scripted::new(vec![say("Hello! How can I help?")]);
    let got = fx.say_with(true, "hello", &models(&model, &model)).await;
    assert!(
        got.messages[0].contains("virtual receptionist"),
        "{:?}",
        got.messages
    );
    assert_eq!(got.messages[1], "Hello! How can I help?");
    assert_eq!(got.messages.len(), 2);
    fx.db.cleanup().await;
}

#[tokio::test]
async fn a_hand_off_alerts_the_staff_and_the_dialogue_state_does_not_move() {
    let fx = fixture().await;
    let model = Scripted::new(vec![
        call("hand_off", json!({})),
        say("I've asked our team to get back to you."),
    ]);
    let got = fx
        .say_with(
            false,
            "Can a person call me about my invoice?",
            &models(&model, &model),
        )
        .await;
    assert_eq!(got.alert, Some(Alert::Handoff));
    let conv = fx.store.conversation(fx.scope, fx.sms).await.unwrap();
    let state: frontdesk_agent::DialogueState = conv
        .dialogue_state
        .as_deref()
        .map(|s| serde_json::from_str(s).unwrap())
        .unwrap_or_default();
    assert_eq!(state, frontdesk_agent::DialogueState::default());
    let alerts = fx.store.pending_notifications(fx.scope, 10).await.unwrap();
    assert_eq!(alerts.len(), 1);
    fx.db.cleanup().await;
}

#[tokio::test]
async fn a_booking_dialogue_in_progress_stays_with_the_built_in_receptionist() {
    let fx = fixture().await;
    let model = Scripted::new(vec![say("Hello.")]);
    let m = models(&model, &model);
    // The built-in receptionist would answer this too if the model failed; the point is that
    // once its dialogue holds state, the next turn is not routed to the model at all.
    let first = Scripted::new(vec![]);
    fx.say_with(
        false,
        "I'd like to book a sports massage",
        &models(&first, &first),
    )
    .await;
    assert_eq!(
        fx.answered_by().await,
        frontdesk_agent::RULE_SET,
        "no script: fallback"
    );
    let conv = fx.store.conversation(fx.scope, fx.sms).await.unwrap();
    assert!(
        conv.dialogue_state
            .is_some_and(|s| s.contains("\"booking\":{"))
    );
    fx.say_with(false, "Thursday afternoon", &m).await;
    assert_eq!(model.calls(), 0);
    fx.db.cleanup().await;
}

#[tokio::test]
async fn a_paused_receptionist_asks_no_model() {
    let fx = fixture().await;
    fx.store
        .set_ai_paused(fx.scope, true, frontdesk_store::Actor::System)
        .await
        .unwrap();
    let model = Scripted::new(vec![say("We're open weekdays.")]);
    let got = fx
        .say_with(false, "When do you open?", &models(&model, &model))
        .await;
    assert_eq!(model.calls(), 0);
    assert!(
        got.messages
            .iter()
            .any(|m| m.contains("will reply as soon as they can"))
    );
    fx.db.cleanup().await;
}

#[tokio::test]
async fn a_model_turn_logs_no_patient_or_model_text() {
    let fx = fixture().await;
    let (logs, _guard) = crate::llm::test_support::capture_logs();
    // Parallel tests reach the same callsites without a subscriber; one that registered a
    // callsite while this subscriber was being set may have cached "never" for it.
    tracing::callsite::rebuild_interest_cache();
    let model = Scripted::new(vec![
        call("faq", json!({"question": "Kiri's knee parking"})),
        say("Sorry to hear about your knee, Kiri. There is parking behind the building."),
    ]);
    fx.say_with(
        false,
        "I'm Kiri, my knee is sore. Is there parking?",
        &models(&model, &model),
    )
    .await;
    let logs = logs.text();
    assert!(logs.contains("model turn"), "{logs}");
    assert!(
        logs.contains("outcome=\"answered\"") || logs.contains("outcome=answered"),
        "{logs}"
    );
    assert!(!logs.contains("Kiri"), "{logs}");
    assert!(!logs.contains("parking"), "{logs}");
    fx.db.cleanup().await;
}

#[tokio::test]
async fn a_service_remembered_from_an_earlier_turn_does_not_keep_the_model_away() {
    let fx = fixture().await;
    let none = Scripted::new(vec![]);
    // Answered by the built-in receptionist (the model has no script), which remembers the
    // service named.
    fx.say_with(false, "Do you do sports massage?", &models(&none, &none))
        .await;
    let conv = fx.store.conversation(fx.scope, fx.sms).await.unwrap();
    assert!(
        conv.dialogue_state
            .is_some_and(|s| s.contains("\"mentioned_service\":\"")),
        "the built-in dialogue remembered the service"
    );
    let model = Scripted::new(vec![say("Yes, Mei Chen does them on weekdays.")]);
    fx.say_with(false, "Who does them?", &models(&model, &model))
        .await;
    assert_eq!(model.calls(), 1);
    assert_eq!(fx.answered_by().await, MODEL_RULE_SET);
    fx.db.cleanup().await;
}

#[tokio::test]
async fn every_model_turn_is_accounted_with_its_tokens_and_cost_even_when_it_falls_back() {
    let fx = fixture().await;
    // Two rounds (a tool call, then a reply the guard refuses): both rounds' tokens count.
    let model = Scripted::new(vec![
        call("faq", json!({"question": "parking"})),
        say("See https://evil.example/x for parking."),
    ]);
    let mut m = models(&model, &model);
    m.fast_prices = LlmPrices {
        input_per_mtok: 3_000_000,
        output_per_mtok: 15_000_000,
    };
    let got = fx.say_with(false, "Where do I park?", &m).await;
    assert!(!got.messages.is_empty());
    assert_eq!(model.calls(), 2);
    assert_eq!(fx.answered_by().await, frontdesk_agent::RULE_SET);
    let far = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(24 * 3650);
    let usage = fx
        .store
        .llm_usage_summary(fx.scope, jiff::Timestamp::UNIX_EPOCH, far)
        .await
        .unwrap();
    // 200 tokens in at 3 units a million, 20 out at 15: 600 + 300 micro-units.
    assert_eq!(
        (
            usage.turns,
            usage.answered,
            usage.input_tokens,
            usage.output_tokens,
            usage.cost_micros
        ),
        (1, 0, 200, 20, 900)
    );
    assert_eq!(usage.fallbacks.len(), 1);
    assert_ne!(usage.fallbacks[0].0, "answered");
    let entries = fx.store.audit_entries(fx.scope, 0, u32::MAX).await.unwrap();
    let last = entries
        .iter()
        .rev()
        .find(|e| e.action == "agent.replied")
        .unwrap();
    let d: serde_json::Value = serde_json::from_str(&last.details).unwrap();
    assert_eq!(d["llm_fallback"], usage.fallbacks[0].0.as_str());
    assert_eq!(
        (d["input_tokens"].as_u64(), d["cost_micros"].as_i64()),
        (Some(200), Some(900))
    );
    fx.db.cleanup().await;
}

#[tokio::test]
async fn a_spent_budget_calls_no_model_and_is_recorded_as_a_budget_fallback() {
    let fx = fixture().await;
    let model = Scripted::new(vec![say("Hello from the model.")]);
    let mut m = models(&model, &model);
    m.budget_exhausted = true;
    let got = fx.say_with(false, "When do you open?", &m).await;
    assert!(!got.messages.is_empty());
    assert!(got.messages.iter().all(|t| t != "Hello from the model."));
    assert_eq!(model.calls(), 0);
    let far = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(24 * 3650);
    let usage = fx
        .store
        .llm_usage_summary(fx.scope, jiff::Timestamp::UNIX_EPOCH, far)
        .await
        .unwrap();
    assert_eq!((usage.turns, usage.cost_micros), (1, 0));
    assert_eq!(usage.fallbacks, vec![("budget".to_owned(), 1)]);
    // A red flag is never routed to a model, so it is no budget fallback either.
    fx.say_with(false, "I have crushing chest pain and can't breathe", &m)
        .await;
    let usage = fx
        .store
        .llm_usage_summary(fx.scope, jiff::Timestamp::UNIX_EPOCH, far)
        .await
        .unwrap();
    assert_eq!(usage.turns, 1);
    fx.db.cleanup().await;
}

#[tokio::test]
async fn a_phone_turn_has_the_voice_limits_and_is_told_it_is_spoken() {
    let fx = fixture().await;
    let model = Scripted::new(vec![say("We're open weekdays from 8.")]);
    let mut m = models(&model, &model);
    m.voice = VoiceLimits {
        turn_deadline: Duration::from_millis(1500),
        max_tool_rounds: 1,
        max_output_tokens: 77,
    };
    let v = m.for_voice();
    assert_eq!(
        (v.turn_deadline, v.max_tool_rounds, v.max_output_tokens),
        (Duration::from_millis(1500), 1, 77)
    );
    let got = fx.say_with(false, "When do you open?", &v).await;
    assert_eq!(
        got.messages.last().map(String::as_str),
        Some("We're open weekdays from 8.")
    );
    let sent = model.requests();
    assert_eq!(sent[0].max_output_tokens, 77);
    assert!(
        sent[0]
            .system
            .starts_with(&format!("{INSTRUCTIONS} {SPOKEN_NOTE}")),
        "{}",
        sent[0].system
    );
    // A text turn with the same models is not told it is spoken, and keeps its own limits.
    fx.say_with(false, "Where are you?", &m).await;
    let sent = model.requests();
    assert!(!sent[1].system.contains(SPOKEN_NOTE));
    assert_eq!(sent[1].max_output_tokens, 400);
    fx.db.cleanup().await;
}

#[tokio::test]
async fn a_phone_turn_falls_back_after_its_fewer_tool_rounds_or_its_short_deadline() {
    let fx = fixture().await;
    let faq = || call("faq", json!({"question": "parking"}));
    // Two rounds of tool calls: allowed on text (4 rounds), too many on the phone (1 round).
    let model = Scripted::new(vec![faq(), faq(), say("There is parking behind.")]);
    let mut m = models(&model, &model);
    m.voice.max_tool_rounds = 1;
    let got = fx
        .say_with(false, "Is there parking?", &m.for_voice())
        .await;
    assert!(!got.messages.is_empty());
    assert_eq!(model.calls(), 2);
    assert_eq!(fx.answered_by().await, frontdesk_agent::RULE_SET);

    // A model that never answers: the built-in reply comes at the voice deadline, not the
    // text one (15 s).
    let hangs = Scripted::new(vec![crate::llm::injection_harness::Step::Hang]);
    let mut m = models(&hangs, &hangs);
    m.voice.turn_deadline = Duration::from_millis(200);
    let started = std::time::Instant::now();
    let got = fx
        .say_with(false, "what are your opening hours", &m.for_voice())
        .await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert!(
        got.messages.iter().any(|t| t.contains("08:00")),
        "{:?}",
        got.messages
    );
    assert_eq!(fx.answered_by().await, frontdesk_agent::RULE_SET);
    fx.db.cleanup().await;
}
