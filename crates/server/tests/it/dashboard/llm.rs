//! The Owner's language model page (issue #9): settings saved through the form with the
//! API key write-only (never in any page, not even a refused form's), this month's usage on
//! the page and in analytics, the model switched off, and other roles refused.

use super::{Browser, CLINIC, Mail, add_user, whatsapp_conversation};
use crate::harness::TestApp;
use frontdesk_domain::Role;
use frontdesk_store::testing::Engine;
use frontdesk_store::{LlmUsage, Turn, month_start};

dashboard_tests!(the_owner_sets_the_model_and_never_sees_the_key_again);

use super::spawn;

const KEY: &str = "sk-owner-TYPED-9f8e7d";

/// The settings form as the page posts it.
fn form<'a>(
    provider: &'a str,
    base: &'a str,
    key: &'a str,
    csrf: &'a str,
) -> Vec<(&'a str, &'a str)> {
    vec![
        ("csrf", csrf),
        ("provider", provider),
        ("base_url", base),
        ("fast_model", "llama3.1:8b"),
        ("strong_model", "llama3.1:70b"),
        ("routine", "fast"),
        ("sensitive", "builtin"),
        ("fast_in", "0.15"),
        ("fast_out", "0.6"),
        ("strong_in", ""),
        ("strong_out", "2"),
        ("budget", "50"),
        ("api_key", key),
        ("enabled", "on"),
        ("text_deadline_ms", "12000"),
        ("text_tool_rounds", "2"),
        ("text_output_tokens", ""),
        ("voice_deadline_ms", "3000"),
        ("voice_tool_rounds", "1"),
        ("voice_output_tokens", "120"),
    ]
}

/// `form` with one field replaced.
fn with<'a>(mut f: Vec<(&'a str, &'a str)>, name: &str, value: &'a str) -> Vec<(&'a str, &'a str)> {
    for (n, v) in &mut f {
        if *n == name {
            *v = value;
        }
    }
    f
}

async fn the_owner_sets_the_model_and_never_sees_the_key_again(app: TestApp, mail: Mail) {
    add_user(&app, "own@harbour.test", "Owen Owner", Role::Owner).await;
    add_user(&app, "desk@harbour.test", "Desk", Role::Reception).await;
    let scope = app.scope(CLINIC).await;
    let mut owner = Browser::new(&app);
    owner.sign_in(&mail, 1, "own@harbour.test").await;
    owner.set_up_totp().await;
    let (status, page, headers) = owner.get("/dashboard/llm").await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(headers["cache-control"], "no-store");
    assert!(page.contains("No language model is set up"), "{page}");
    let csrf = Browser::hidden(&page, "csrf");

    // Refused forms store nothing and do not echo the key.
    for (provider, base, needle) in [
        ("openai_compatible", "ftp://models.local", "cannot be used"),
        ("openai_compatible", "", "needs its address"),
        // A private network this deployment did not allowlist (the tests allow loopback).
        (
            "openai_compatible",
            "http://10.0.0.5:11434",
            "not permitted",
        ),
        ("nobody", "", "Choose a provider"),
    ] {
        let f = form(provider, base, KEY, &csrf);
        let (status, page, _) = owner.post("/dashboard/llm", &f).await;
        assert_eq!(status, 422, "{provider} {base}: {page}");
        assert!(page.contains(needle), "{needle}: {page}");
        assert!(!page.contains(KEY), "a refused form echoed the key");
    }
    // A limit out of its range is refused with the field named; one that is not a number too.
    let good = || form("openai_compatible", "http://127.0.0.1:9", KEY, &csrf);
    for (field, value, needle) in [
        (
            "voice_deadline_ms",
            "20000",
            "voice_deadline_ms: 500 to 10000 milliseconds",
        ),
        ("text_tool_rounds", "9", "text_tool_rounds: 0 to 8"),
        ("text_output_tokens", "many", "whole numbers"),
    ] {
        let (status, page, _) = owner
            .post("/dashboard/llm", &with(good(), field, value))
            .await;
        assert_eq!(status, 422, "{field}: {page}");
        assert!(page.contains(needle), "{needle}: {page}");
        assert!(!page.contains(KEY), "a refused form echoed the key");
    }
    assert!(app.store.llm_settings(scope).await.unwrap().is_none());
    // Without the CSRF token nothing happens.
    let (status, _, _) = owner
        .post(
            "/dashboard/llm",
            &form("openai_compatible", "http://127.0.0.1:9", KEY, ""),
        )
        .await;
    assert_eq!(status, 403);

    let f = form("openai_compatible", "http://127.0.0.1:9", KEY, &csrf);
    let (status, _, _) = owner.post("/dashboard/llm", &f).await;
    assert_eq!(status, 303);
    let rt = app
        .store
        .llm_runtime(scope, month_start(jiff::Timestamp::now()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rt.api_key.as_deref().map(String::as_str), Some(KEY));
    let s = &rt.settings.settings;
    assert_eq!(s.monthly_budget_cents, Some(5_000));
    assert_eq!(
        (s.fast_prices.input_per_mtok, s.fast_prices.output_per_mtok),
        (150_000, 600_000)
    );
    assert_eq!(
        (
            s.strong_prices.input_per_mtok,
            s.strong_prices.output_per_mtok
        ),
        (0, 2_000_000)
    );
    assert_eq!(s.sensitive, frontdesk_store::LlmRoute::Builtin);
    // The turn limits as typed; an empty one takes its default (400 tokens).
    let (text, voice) = (s.limits.text, s.limits.voice);
    assert_eq!(
        (text.deadline_ms, text.tool_rounds, text.output_tokens),
        (12_000, 2, 400)
    );
    assert_eq!(
        (voice.deadline_ms, voice.tool_rounds, voice.output_tokens),
        (3_000, 1, 120)
    );

    // A model turn's accounting, as the turn runner writes it.
    let conv = whatsapp_conversation(&app, CLINIC, "Pat", "+64215550166", "hours?").await;
    let turn = Turn {
        llm_usage: Some(LlmUsage {
            conversation: conv,
            provider: "openai_compatible".into(),
            model: "llama3.1:8b".into(),
            tier: "fast".into(),
            outcome: "fallback".into(),
            reason: "guard_link".into(),
            latency_ms: 800,
            input_tokens: 1234,
            output_tokens: 56,
            cost_micros: 219,
        }),
        ..Turn::default()
    };
    app.store.record_turn(scope, conv, &turn).await.unwrap();

    let (status, page, _) = owner.get("/dashboard/llm").await;
    assert_eq!(status, 200);
    assert!(!page.contains(KEY), "the key is never shown");
    assert!(page.contains("set on "), "{page}");
    assert!(
        page.contains("value=\"llama3.1:70b\"") && page.contains("value=\"0.15\""),
        "{page}"
    );
    assert!(
        page.contains("name=\"voice_deadline_ms\" inputmode=\"numeric\" value=\"3000\""),
        "{page}"
    );
    assert!(
        page.contains("1234 / 56") && page.contains("guard link"),
        "{page}"
    );
    assert!(page.contains("0.000219"), "the cost: {page}");
    let (_, analytics, _) = owner.get("/dashboard/analytics").await;
    assert!(
        analytics.contains("Language model") && analytics.contains("1234 / 56"),
        "{analytics}"
    );
    assert!(!analytics.contains(KEY));

    // Saved again with the key field empty: the key is kept.
    let f = form("openai_compatible", "http://127.0.0.1:9", "", &csrf);
    assert_eq!(owner.post("/dashboard/llm", &f).await.0, 303);
    let rt = app
        .store
        .llm_runtime(scope, jiff::Timestamp::UNIX_EPOCH)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rt.api_key.as_deref().map(String::as_str), Some(KEY));

    // Switched off: the turn runner gets nothing.
    let (status, _, _) = owner
        .post("/dashboard/llm/disable", &[("csrf", &csrf)])
        .await;
    assert_eq!(status, 303);
    assert!(
        app.store
            .llm_runtime(scope, jiff::Timestamp::UNIX_EPOCH)
            .await
            .unwrap()
            .is_none()
    );
    let (_, page, _) = owner.get("/dashboard/llm").await;
    assert!(page.contains("The model is <strong>off</strong>"), "{page}");

    let actions: Vec<String> = app
        .store
        .audit_entries(scope, 0, 100_000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action.starts_with("llm."))
        .map(|e| {
            assert!(!e.details.contains(KEY));
            format!("{} {}", e.action, e.actor_kind)
        })
        .collect();
    assert_eq!(
        actions,
        [
            "llm.settings_changed staff",
            "llm.credentials_set staff",
            "llm.settings_changed staff",
            "llm.settings_changed staff"
        ]
    );

    // Reception may not see or change it.
    let mut desk = Browser::new(&app);
    desk.sign_in(&mail, 2, "desk@harbour.test").await;
    assert_eq!(desk.get("/dashboard/llm").await.0, 403);
    app.finish().await;
}
