//! A clinic's language model end to end (issue #9): settings stored with a sealed key, a
//! patient's web chat message answered by a fake OpenAI-compatible server (wiremock on
//! loopback, Chat Completions' real JSON), the turn's usage row and audit entry with its
//! tokens and cost; a spent budget or disabled settings answered by the built-in receptionist
//! without a request reaching the fake.

use crate::harness::{TestApp, ask_webchat};
use frontdesk_store::{
    Actor, LlmKeyChange, LlmPrices, LlmProvider, LlmRoute, LlmSettingsInput, month_start,
};
use serde_json::{Value, json};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

crate::both_engines!(
    a_clinics_model_answers_web_chat_and_the_turn_is_accounted_and_audited,
    a_spent_budget_gets_the_built_in_reply_and_no_request_reaches_the_model,
    disabled_settings_keep_the_built_in_receptionist_and_call_no_model,
    a_model_set_between_messages_answers_the_next_one_with_the_chat_so_far,
);

const CLINIC: &str = "nairobi-family";
const KEY: &str = "sk-clinic-SECRET-0042";
const MODEL_TEXT: &str =
    "We are open from eight in the morning to five in the afternoon, Monday to Friday.";

/// A Chat Completions answer as an OpenAI-compatible server sends it.
fn completion(text: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "id": "chatcmpl-7f3a",
        "object": "chat.completion",
        "created": 1741569952,
        "model": "llama3.1:8b-instruct-q4",
        "system_fingerprint": "fp_ollama",
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": text},
            "finish_reason": "stop"
        }],
        "usage": {"prompt_tokens": 1900, "completion_tokens": 100, "total_tokens": 2000}
    }))
}

fn settings(base: &str, budget_cents: Option<i64>, enabled: bool) -> LlmSettingsInput {
    LlmSettingsInput {
        provider: LlmProvider::OpenAiCompatible,
        base_url: Some(base.to_owned()),
        fast_model: "llama3.1:8b".into(),
        strong_model: "llama3.1:70b".into(),
        routine: LlmRoute::Fast,
        sensitive: LlmRoute::Strong,
        monthly_budget_cents: budget_cents,
        // 1 and 2 units per million tokens: 1,900 in and 100 out cost 1,900 + 200 micro-units.
        fast_prices: LlmPrices {
            input_per_mtok: 1_000_000,
            output_per_mtok: 2_000_000,
        },
        strong_prices: LlmPrices {
            input_per_mtok: 5_000_000,
            output_per_mtok: 15_000_000,
        },
        enabled,
        limits: Default::default(),
    }
}

async fn configure(app: &TestApp, settings: &LlmSettingsInput) {
    app.store
        .set_llm_settings(
            app.scope(CLINIC).await,
            settings,
            LlmKeyChange::Set(KEY.to_owned().into()),
            Actor::Operator,
        )
        .await
        .unwrap();
}

async fn agent_replied(app: &TestApp) -> Vec<Value> {
    let scope = app.scope(CLINIC).await;
    app.store
        .audit_entries(scope, 0, 10_000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action == "agent.replied")
        .map(|e| serde_json::from_str(&e.details).unwrap())
        .collect()
}

async fn a_clinics_model_answers_web_chat_and_the_turn_is_accounted_and_audited(app: TestApp) {
    let fake = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .and(header("authorization", format!("Bearer {KEY}").as_str()))
        .respond_with(completion(MODEL_TEXT))
        .expect(1)
        .mount(&fake)
        .await;
    configure(&app, &settings(&fake.uri(), Some(5_000), true)).await;

    let (token, _) = app.start_chat(CLINIC).await;
    let replies = ask_webchat(
        &app.client,
        &app.base,
        CLINIC,
        &token,
        "What are your opening hours?",
    )
    .await;
    assert_eq!(
        replies.last().map(String::as_str),
        Some(MODEL_TEXT),
        "{replies:?}"
    );

    // The request was Chat Completions for the fast model, with the clinic's key.
    let sent = fake.received_requests().await.unwrap();
    assert_eq!(sent.len(), 1);
    let body: Value = serde_json::from_slice(&sent[0].body).unwrap();
    assert_eq!(body["model"], "llama3.1:8b");
    assert!(body["messages"].to_string().contains("opening hours"));

    let scope = app.scope(CLINIC).await;
    let now = jiff::Timestamp::now();
    let usage = app
        .store
        .llm_usage_summary(
            scope,
            month_start(now),
            now + jiff::SignedDuration::from_secs(60),
        )
        .await
        .unwrap();
    assert_eq!(
        (
            usage.turns,
            usage.answered,
            usage.input_tokens,
            usage.output_tokens,
            usage.cost_micros
        ),
        (1, 1, 1900, 100, 2_100)
    );
    assert!(usage.fallbacks.is_empty());

    let replied = agent_replied(&app).await;
    assert_eq!(replied.len(), 1);
    let d = &replied[0];
    assert_eq!(d["rule_set"], "model");
    assert_eq!(
        d["model"], "llama3.1:8b-instruct-q4",
        "the model the server reported"
    );
    assert_eq!(d["tier"], "fast");
    assert_eq!(d["provider"], "openai_compatible");
    assert_eq!(
        (
            d["input_tokens"].as_u64(),
            d["output_tokens"].as_u64(),
            d["cost_micros"].as_i64()
        ),
        (Some(1900), Some(100), Some(2_100))
    );
    let audit = app.store.audit_entries(scope, 0, 10_000).await.unwrap();
    assert!(audit.iter().any(|e| e.action == "llm.credentials_set"));
    assert!(
        audit.iter().all(|e| !e.details.contains(KEY)),
        "no key in the audit log"
    );
    app.finish().await;
}

async fn a_spent_budget_gets_the_built_in_reply_and_no_request_reaches_the_model(app: TestApp) {
    let fake = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(completion(MODEL_TEXT))
        .expect(0)
        .mount(&fake)
        .await;
    // A budget of nothing is spent before the first turn.
    configure(&app, &settings(&fake.uri(), Some(0), true)).await;

    let (token, _) = app.start_chat(CLINIC).await;
    let replies = ask_webchat(
        &app.client,
        &app.base,
        CLINIC,
        &token,
        "What are your opening hours?",
    )
    .await;
    assert!(!replies.is_empty());
    assert!(replies.iter().all(|r| r != MODEL_TEXT), "{replies:?}");
    assert!(fake.received_requests().await.unwrap().is_empty());

    let scope = app.scope(CLINIC).await;
    let now = jiff::Timestamp::now();
    let usage = app
        .store
        .llm_usage_summary(
            scope,
            month_start(now),
            now + jiff::SignedDuration::from_secs(60),
        )
        .await
        .unwrap();
    assert_eq!((usage.turns, usage.answered, usage.cost_micros), (1, 0, 0));
    assert_eq!(usage.fallbacks, vec![("budget".to_owned(), 1)]);
    let replied = agent_replied(&app).await;
    assert_eq!(replied.len(), 1);
    assert_eq!(replied[0]["rule_set"], frontdesk_agent::RULE_SET);
    assert_eq!(replied[0]["llm_fallback"], "budget");
    assert_eq!(replied[0]["cost_micros"], 0);
    app.finish().await;
}

async fn disabled_settings_keep_the_built_in_receptionist_and_call_no_model(app: TestApp) {
    let fake = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(completion(MODEL_TEXT))
        .expect(0)
        .mount(&fake)
        .await;
    configure(&app, &settings(&fake.uri(), None, false)).await;
    let (token, _) = app.start_chat(CLINIC).await;
    let replies = ask_webchat(
        &app.client,
        &app.base,
        CLINIC,
        &token,
        "What are your opening hours?",
    )
    .await;
    assert!(!replies.is_empty());
    assert!(replies.iter().all(|r| r != MODEL_TEXT), "{replies:?}");
    assert!(fake.received_requests().await.unwrap().is_empty());
    let replied = agent_replied(&app).await;
    assert_eq!(replied.len(), 1);
    assert!(replied[0].get("llm_fallback").is_none(), "{:?}", replied[0]);
    assert!(replied[0].get("cost_micros").is_none(), "not a model turn");
    let scope = app.scope(CLINIC).await;
    let usage = app
        .store
        .llm_usage_summary(
            scope,
            jiff::Timestamp::UNIX_EPOCH,
            jiff::Timestamp::now() + jiff::SignedDuration::from_secs(60),
        )
        .await
        .unwrap();
    assert_eq!(usage.turns, 0, "no usage row");
    app.finish().await;
}

/// A model set up between two messages of a chat, outside this instance's dashboard (the
/// CLI, another instance: straight in the store here), answers the very next message with
/// the chat so far in its context; turned off, the next message gets the built-in reply.
async fn a_model_set_between_messages_answers_the_next_one_with_the_chat_so_far(app: TestApp) {
    let fake = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .and(wiremock::matchers::body_string_contains("left ankle"))
        .respond_with(completion(MODEL_TEXT))
        .expect(1)
        .mount(&fake)
        .await;
    let (token, _) = app.start_chat(CLINIC).await;
    let ask = async |text: &str| ask_webchat(&app.client, &app.base, CLINIC, &token, text).await;
    let first = ask("I twisted my left ankle yesterday").await;
    assert!(first.iter().all(|r| r != MODEL_TEXT), "{first:?}");

    configure(&app, &settings(&fake.uri(), None, true)).await;
    let second = ask("What are your opening hours?").await;
    assert_eq!(
        second.last().map(String::as_str),
        Some(MODEL_TEXT),
        "{second:?}"
    );

    app.store
        .disable_llm(app.scope(CLINIC).await, Actor::Operator)
        .await
        .unwrap();
    let third = ask("What are your opening hours?").await;
    assert!(third.iter().all(|r| r != MODEL_TEXT), "{third:?}");
    assert_eq!(agent_replied(&app).await.len(), 3);
    app.finish().await;
}

/// `frontdesk llm set | show | disable` on the demo's SQLite data: the key only from stdin and
/// never printed, settings from which no model can be reached refused, usage shown.
#[test]
fn the_operator_sets_shows_and_disables_a_clinics_model_from_the_command_line() {
    use crate::cli::{frontdesk, outcome, run, seed_demo, with_stdin};
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    seed_demo(&data);
    let d = data.to_str().unwrap();
    // The operator permits loopback (where a test's model server would be) for model servers.
    let llm = |args: &[&str], stdin: Option<&[u8]>| {
        let mut all = vec!["llm"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--tenant", "harbour-physio", "--data-dir", d]);
        let mut cmd = frontdesk(&all);
        cmd.env("FRONTDESK_WEBHOOK_ALLOWLIST", "[\"127.0.0.0/8\"]");
        match stdin {
            Some(input) => outcome(with_stdin(cmd, input)),
            None => outcome(cmd.output().unwrap()),
        }
    };
    let (ok, out, _) = llm(&["show"], None);
    assert!(ok && out.contains("has no language model"), "{out}");

    // A public API without a key, a bad base URL, a key on the command line: refused.
    let (ok, _, err) = llm(
        &["set", "--provider", "openai", "--fast-model", "gpt-4o-mini"],
        None,
    );
    assert!(!ok && err.contains("--api-key-stdin"), "{err}");
    let base = [
        "set",
        "--provider",
        "openai_compatible",
        "--base-url",
        "ftp://gpu.local",
    ];
    let (ok, _, err) = llm(&[&base[..], &["--fast-model", "m"]].concat(), None);
    assert!(!ok && err.contains("--base-url"), "{err}");
    let (ok, _, err) = llm(
        &[
            "set",
            "--provider",
            "openai",
            "--fast-model",
            "m",
            "--api-key",
            KEY,
        ],
        None,
    );
    assert!(!ok && err.contains("--api-key"), "{err}");
    // A private address outside the allowlist is refused, saying how to permit it; without
    // the allowlist loopback is refused too.
    let own = [
        "set",
        "--provider",
        "openai_compatible",
        "--fast-model",
        "m",
        "--base-url",
    ];
    let (ok, _, err) = llm(&[&own[..], &["http://10.20.0.5:11434"]].concat(), None);
    assert!(
        !ok && err.contains("address_refused") && err.contains("webhook_allowlist"),
        "{err}"
    );
    let mut bare: Vec<&str> = vec!["llm"];
    bare.extend_from_slice(&own);
    bare.extend_from_slice(&[
        "http://127.0.0.1:9",
        "--tenant",
        "harbour-physio",
        "--data-dir",
        d,
    ]);
    let (ok, _, err) = run(&bare);
    assert!(!ok && err.contains("address_refused"), "{err}");
    // A turn limit out of its range is refused, named.
    let (ok, _, err) = llm(
        &[
            &base[..4],
            &[
                "http://127.0.0.1:9",
                "--fast-model",
                "m",
                "--voice-deadline-ms",
                "12000",
            ],
        ]
        .concat(),
        None,
    );
    assert!(
        !ok && err.contains("voice_deadline_ms: 500 to 10000 milliseconds"),
        "{err}"
    );

    let set = [
        "set",
        "--provider",
        "openai",
        "--fast-model",
        "gpt-4o-mini",
        "--strong-model",
        "gpt-4o",
        "--fast-input-price",
        "0.15",
        "--monthly-budget",
        "50",
        "--voice-deadline-ms",
        "3500",
        "--voice-tool-rounds",
        "1",
        "--api-key-stdin",
    ];
    let (ok, out, err) = llm(&set, Some(format!("{KEY}\n").as_bytes()));
    assert!(ok, "{err}");
    assert!(
        out.contains("openai with gpt-4o-mini / gpt-4o (on); API key set on"),
        "{out}"
    );
    assert!(!out.contains(KEY) && !err.contains(KEY));

    let (ok, out, err) = llm(&["show"], None);
    assert!(ok, "{err}");
    for line in [
        "enabled\ttrue",
        "fast_model\tgpt-4o-mini",
        "monthly_budget\t50.00",
        "fast_prices\t0.15 in, 0.00 out per million tokens",
        "api_key\tset on ",
        "text_limits\t15000 ms, 4 tool rounds, 400 output tokens",
        "voice_limits\t3500 ms, 1 tool rounds, 160 output tokens",
        "month_turns\t0 (0 answered)",
    ] {
        assert!(out.contains(line), "{line}: {out}");
    }
    assert!(!out.contains(KEY), "show never prints the key");

    let (ok, out, _) = llm(&["disable"], None);
    assert!(ok && out.contains("is off"), "{out}");
    let (ok, out, _) = llm(&["show"], None);
    assert!(
        ok && out.contains("enabled\tfalse") && out.contains("api_key\tset on "),
        "{out}"
    );
}
