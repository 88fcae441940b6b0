//! Twilio Voice on both engines, with real-shaped signed requests: the greeting and speech
//! turns (TwiML parsed and checked for structure), emergencies (number first, `<Dial>` when the
//! clinic set an escalation line), silence, hang-up, and forged or unusable requests.

use super::*;

channel_tests!(
    a_call_is_greeted_answered_turn_by_turn_and_its_end_recorded,
    an_emergency_call_hears_the_number_first_and_is_put_through_when_configured,
    a_silent_caller_is_asked_again_then_the_call_ends_with_a_call_back_alert,
    forged_unsigned_or_unusable_voice_requests_store_nothing,
    a_caller_is_answered_by_the_clinics_model_with_the_phone_limits,
    a_slow_model_leaves_the_caller_with_the_built_in_reply_at_the_voice_deadline,
    a_model_set_or_turned_off_mid_call_applies_from_the_next_turn,
);

const CALLER: &str = "+64211234567";
const VOICE: &str = "/webhooks/twilio/voice";
const FIRST_TURN: &str = "/webhooks/twilio/voice?turn=1&misses=0";

/// A TwiML element: its name, attributes and text, and its children.
#[derive(Debug)]
struct El {
    name: String,
    attrs: HashMap<String, String>,
    text: String,
    children: Vec<El>,
}

use std::collections::HashMap;

impl El {
    fn of(node: roxmltree::Node<'_, '_>) -> El {
        El {
            name: node.tag_name().name().to_owned(),
            attrs: node
                .attributes()
                .map(|a| (a.name().to_owned(), a.value().to_owned()))
                .collect(),
            text: node.text().unwrap_or_default().to_owned(),
            children: node
                .children()
                .filter(|c| c.is_element())
                .map(El::of)
                .collect(),
        }
    }

    fn names(&self) -> Vec<&str> {
        self.children.iter().map(|c| c.name.as_str()).collect()
    }

    /// Every `<Say>` text, in order, at any depth.
    fn said(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.name == "Say" {
            out.push(self.text.clone());
        }
        for c in &self.children {
            out.extend(c.said());
        }
        out
    }
}

/// Posts a signed voice webhook and parses the TwiML answer (which must be well-formed XML
/// whose root is `<Response>`).
async fn call(app: &ChannelApp, path: &str, params: &[(&str, &str)]) -> El {
    let r = app.post_twilio_at(path, params).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/xml");
    let body = r.text().await.unwrap();
    let doc = roxmltree::Document::parse(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
    let root = El::of(doc.root_element());
    assert_eq!(root.name, "Response", "{body}");
    root
}

fn params<'a>(sid: &'a str, extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut p = vec![
        ("CallSid", sid),
        ("AccountSid", "AC123"),
        ("From", CALLER),
        ("To", TWILIO_NUMBER),
        ("Direction", "inbound"),
        ("CallStatus", "in-progress"),
    ];
    for (k, v) in extra {
        p.retain(|(name, _)| name != k);
        p.push((k, v));
    }
    p
}

async fn say(app: &ChannelApp, sid: &str, path: &str, words: &str) -> El {
    app.clock.advance(SignedDuration::from_secs(4));
    call(
        app,
        path,
        &params(sid, &[("SpeechResult", words), ("Confidence", "0.92")]),
    )
    .await
}

/// The gather a turn ends with: speech, posting back to the next turn.
fn assert_listens(twiml: &El, misses: u8) -> &El {
    assert_eq!(twiml.names(), ["Gather"], "{twiml:?}");
    let g = &twiml.children[0];
    assert_eq!(g.attrs["input"], "speech");
    assert_eq!(g.attrs["method"], "POST");
    assert_eq!(g.attrs["actionOnEmptyResult"], "true");
    assert_eq!(
        g.attrs["action"],
        format!("/webhooks/twilio/voice?turn=1&misses={misses}")
    );
    g
}

async fn a_call_is_greeted_answered_turn_by_turn_and_its_end_recorded(app: ChannelApp) {
    let hello = call(&app, VOICE, &params("CA100", &[("CallStatus", "ringing")])).await;
    let g = assert_listens(&hello, 0);
    assert_eq!(g.attrs["language"], "en-NZ");
    assert!(g.attrs["hints"].contains("Mei Chen"), "{g:?}");
    assert!(g.attrs["hints"].contains("Sports massage"), "{g:?}");
    let greeting = hello.said().join(" ");
    assert!(
        greeting.starts_with("Thank you for calling Harbour Physio.")
            && greeting.contains("stored encrypted"),
        "{greeting}"
    );
    // Twilio retrying the first webhook starts nothing new.
    call(&app, VOICE, &params("CA100", &[("CallStatus", "ringing")])).await;

    let hours = say(&app, "CA100", FIRST_TURN, "what are your opening hours").await;
    assert_listens(&hours, 0);
    let said = hours.said().join(" ");
    assert!(said.contains("Mon–Fri 08:00–18:00"), "{said}");
    assert!(
        !said.contains("stored encrypted"),
        "the notice is given once: {said}"
    );

    // The caller hangs up: the number's status callback.
    let r = app
        .post_twilio_at(
            "/webhooks/twilio/voice/status",
            &params(
                "CA100",
                &[("CallStatus", "completed"), ("CallDuration", "42")],
            ),
        )
        .await;
    assert_eq!(r.status(), 200);
    let scope = app.scope(HARBOUR).await;
    let c = app.store.call(scope, "CA100").await.unwrap();
    assert_eq!(
        (c.status.as_str(), c.duration_secs),
        ("completed", Some(42))
    );
    let conv = app.store.conversation(scope, c.conversation).await.unwrap();
    assert_eq!(conv.channel, Channel::Voice);
    assert_eq!(conv.status, "closed");
    // The transcript: greeting, what the caller said, the answer, the end-of-call note.
    let messages = app.store.messages(scope, c.conversation).await.unwrap();
    let bodies: Vec<&str> = messages.iter().map(|m| m.body.as_str()).collect();
    assert_eq!(bodies.len(), 4, "{bodies:?}");
    assert!(bodies[0].starts_with("Thank you for calling"));
    assert_eq!(bodies[1], "what are your opening hours");
    assert!(bodies[2].contains("Mon–Fri"));
    assert_eq!(
        bodies[3],
        "Phone call ended (completed, 0 min 42 s). Reason: opening_hours; triage: normal; \
         outcome: answered; 1 caller turn."
    );
    // A second report of the end, or a late turn, changes nothing.
    app.post_twilio_at(
        "/webhooks/twilio/voice/status",
        &params(
            "CA100",
            &[("CallStatus", "completed"), ("CallDuration", "42")],
        ),
    )
    .await;
    let late = say(&app, "CA100", FIRST_TURN, "hello?").await;
    assert_eq!(late.names(), ["Hangup"]);
    assert_eq!(
        app.store
            .messages(scope, c.conversation)
            .await
            .unwrap()
            .len(),
        4
    );
    app.finish().await;
}

async fn an_emergency_call_hears_the_number_first_and_is_put_through_when_configured(
    app: ChannelApp,
) {
    let emergency = "my husband has crushing chest pain and he can't breathe";
    call(&app, VOICE, &params("CA200", &[])).await;
    let first = say(&app, "CA200", FIRST_TURN, emergency).await;
    // No escalation line set: the number first, and the receptionist keeps listening.
    assert_listens(&first, 0);
    assert!(first.said()[0].starts_with("Call 111 now."), "{first:?}");
    let scope = app.scope(HARBOUR).await;
    let c = app.store.call(scope, "CA200").await.unwrap();
    let conv = app.store.conversation(scope, c.conversation).await.unwrap();
    assert_eq!(conv.urgency, "emergency");
    let alerts = app.store.pending_notifications(scope, 10).await.unwrap();
    assert!(
        alerts.iter().any(|n| n.kind == NotificationKind::Emergency),
        "{alerts:?}"
    );

    // The clinic sets an escalation line: the next emergency caller is put through to it.
    app.store
        .set_channel_account(
            scope,
            Provider::Twilio,
            TWILIO_NUMBER,
            &serde_json::json!({ "account_sid": "AC123", "escalation_number": "+64 9 555 0100" }),
            &ChannelSecrets::new().with("auth_token", TWILIO_TOKEN),
        )
        .await
        .unwrap();
    call(&app, VOICE, &params("CA201", &[])).await;
    let put_through = say(&app, "CA201", FIRST_TURN, emergency).await;
    let names = put_through.names();
    assert_eq!(names.last(), Some(&"Dial"), "{put_through:?}");
    assert!(names[..names.len() - 1].iter().all(|n| *n == "Say"));
    assert!(put_through.said()[0].starts_with("Call 111 now."));
    assert_eq!(put_through.children.last().unwrap().text, "+6495550100");
    app.finish().await;
}

async fn a_silent_caller_is_asked_again_then_the_call_ends_with_a_call_back_alert(app: ChannelApp) {
    call(&app, VOICE, &params("CA300", &[])).await;
    // Nothing heard: Twilio posts the action without a SpeechResult.
    let again = call(&app, FIRST_TURN, &params("CA300", &[])).await;
    assert_listens(&again, 1);
    assert!(again.said()[0].starts_with("Sorry, I didn't catch that."));
    let bye = call(
        &app,
        "/webhooks/twilio/voice?turn=1&misses=1",
        &params("CA300", &[("SpeechResult", "  ")]),
    )
    .await;
    assert_eq!(bye.names(), ["Say", "Hangup"], "{bye:?}");
    assert!(bye.said()[0].contains("call you back"), "{bye:?}");
    assert!(bye.said()[0].contains("111"), "{bye:?}");
    let scope = app.scope(HARBOUR).await;
    let c = app.store.call(scope, "CA300").await.unwrap();
    assert!(c.ended_at.is_some());
    let alerts = app.store.pending_notifications(scope, 10).await.unwrap();
    assert!(
        alerts.iter().any(|n| n.kind == NotificationKind::Handoff),
        "{alerts:?}"
    );
    app.finish().await;
}

async fn forged_unsigned_or_unusable_voice_requests_store_nothing(app: ChannelApp) {
    let url = format!("{}{VOICE}", app.base);
    let p = params("CA400", &[]);
    let owned: Vec<(String, String)> = p
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    // Signed for the SMS URL, replayed at the voice URL; unsigned; signed with another token.
    for sig in [
        Some(twilio_signature(
            TWILIO_TOKEN,
            &format!("{}/webhooks/twilio/sms", app.base),
            &owned,
        )),
        None,
        Some(twilio_signature("not-the-token", &url, &owned)),
    ] {
        let mut req = app.client.post(&url).form(&p);
        if let Some(sig) = sig {
            req = req.header("x-twilio-signature", sig);
        }
        assert_eq!(req.send().await.unwrap().status(), 401);
    }
    // A number no clinic uses.
    let stranger = [
        ("CallSid", "CA401"),
        ("From", CALLER),
        ("To", "+6495550000"),
    ];
    assert_eq!(app.post_twilio_at(VOICE, &stranger).await.status(), 404);
    // Signed but without a call sid.
    let no_sid = [("From", CALLER), ("To", TWILIO_NUMBER)];
    assert_eq!(app.post_twilio_at(VOICE, &no_sid).await.status(), 400);
    // A withheld number is told how to reach the clinic (and the emergency number), and hung up.
    let hidden = call(
        &app,
        VOICE,
        &[
            ("CallSid", "CA402"),
            ("From", "anonymous"),
            ("To", TWILIO_NUMBER),
        ],
    )
    .await;
    assert_eq!(hidden.names(), ["Say", "Hangup"]);
    assert!(hidden.said()[0].contains("call 111"), "{hidden:?}");
    let scope = app.scope(HARBOUR).await;
    for sid in ["CA400", "CA401", "CA402"] {
        assert!(matches!(
            app.store.call(scope, sid).await,
            Err(StoreError::NotFound)
        ));
    }
    app.finish().await;
}

const SPOKEN: &str = "We are open from eight in the morning to six in the evening on weekdays.";

async fn a_caller_is_answered_by_the_clinics_model_with_the_phone_limits(app: ChannelApp) {
    let model = MockServer::start().await;
    // Only a streamed request with the phone line's output limit (160 tokens, not the text
    // turn's 400) and the spoken-answer note is answered.
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .and(body_partial_json(
            serde_json::json!({"max_tokens": 160, "stream": true}),
        ))
        .and(wiremock::matchers::body_string_contains("phone call"))
        .respond_with(chat_completion_stream("qwen2.5:7b", SPOKEN))
        .expect(1)
        .mount(&model)
        .await;
    let scope = use_model(&app, HARBOUR, &model).await;
    call(&app, VOICE, &params("CA500", &[])).await;
    let hours = say(&app, "CA500", FIRST_TURN, "what are your opening hours").await;
    assert_listens(&hours, 0);
    assert_eq!(hours.said(), [SPOKEN]);
    // A red flag is decided by the deterministic triage: the model is not asked (the mock
    // expects exactly one request) and the number comes first.
    let red = say(
        &app,
        "CA500",
        FIRST_TURN,
        "my husband has crushing chest pain and he can't breathe",
    )
    .await;
    assert!(red.said()[0].starts_with("Call 111 now."), "{red:?}");
    let usage = month_usage(&app, scope).await;
    assert_eq!((usage.turns, usage.answered), (1, 1));
    app.finish().await;
}

async fn a_slow_model_leaves_the_caller_with_the_built_in_reply_at_the_voice_deadline(
    app: ChannelApp,
) {
    let model = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(chat_completion("qwen2.5:7b", SPOKEN))
                .set_delay(Duration::from_secs(12)),
        )
        .mount(&model)
        .await;
    let scope = use_model(&app, HARBOUR, &model).await;
    call(&app, VOICE, &params("CA501", &[])).await;
    let started = std::time::Instant::now();
    let hours = say(&app, "CA501", FIRST_TURN, "what are your opening hours").await;
    let took = started.elapsed();
    // The voice deadline (4 s), well inside Twilio's 15 s, not the text turn's 15 s.
    assert!(
        took >= Duration::from_secs(4) && took < Duration::from_secs(10),
        "{took:?}"
    );
    assert_listens(&hours, 0);
    let said = hours.said().join(" ");
    assert!(said.contains("Mon–Fri 08:00–18:00"), "{said}");
    let usage = month_usage(&app, scope).await;
    assert_eq!(
        (usage.turns, usage.answered, usage.fallbacks.len()),
        (1, 0, 1)
    );
    app.finish().await;
}

/// Each instance keeps the clinic's models with the clinic's stamp (no time limit): a model
/// set up mid-call, by another instance or the CLI (straight in the store here), answers the
/// very next turn, seconds later, with the call so far as its context (read again: the turn
/// before had no model, so none was read with the call); turned off, the next turn is the
/// built-in receptionist's again.
async fn a_model_set_or_turned_off_mid_call_applies_from_the_next_turn(app: ChannelApp) {
    let model = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .and(wiremock::matchers::body_string_contains("left ankle"))
        .and(wiremock::matchers::body_string_contains("opening hours"))
        .respond_with(chat_completion_stream("qwen2.5:7b", SPOKEN))
        .expect(1)
        .mount(&model)
        .await;
    call(&app, VOICE, &params("CA502", &[])).await;
    let first = say(
        &app,
        "CA502",
        FIRST_TURN,
        "I twisted my left ankle yesterday",
    )
    .await;
    assert_listens(&first, 0);
    assert_ne!(first.said(), [SPOKEN]);

    let scope = use_model(&app, HARBOUR, &model).await;
    let hours = say(&app, "CA502", FIRST_TURN, "what are your opening hours").await;
    assert_eq!(
        hours.said(),
        [SPOKEN],
        "the new model answers the next turn"
    );

    app.store.disable_llm(scope, Actor::Operator).await.unwrap();
    let again = say(&app, "CA502", FIRST_TURN, "what are your opening hours").await;
    let said = again.said().join(" ");
    assert!(said.contains("Mon–Fri 08:00–18:00"), "{said}");
    let usage = month_usage(&app, scope).await;
    assert_eq!((usage.turns, usage.answered), (1, 1), "one model turn");
    app.finish().await;
}
