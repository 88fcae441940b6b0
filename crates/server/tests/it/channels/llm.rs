//! A clinic's language model on the WhatsApp reply job (issue #9), on both engines: the
//! reply the patient receives is the model's (a fake OpenAI-compatible server on loopback),
//! and the turn's usage row is written with the reply.

use super::*;

channel_tests!(a_whatsapp_message_is_answered_by_the_clinics_model_and_accounted);

const MODEL_TEXT: &str = "We are open from eight to five on weekdays.";

async fn a_whatsapp_message_is_answered_by_the_clinics_model_and_accounted(app: ChannelApp) {
    mount_graph_ok(&app.fake).await;
    let model = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(chat_completion("qwen2.5:7b", MODEL_TEXT)),
        )
        .expect(1)
        .mount(&model)
        .await;
    let scope = use_model(&app, NAIROBI, &model).await;
    let body = wa_text("wamid.LLM1", "254711000001", "What are your opening hours?");
    let r = app
        .post_whatsapp(&body, Some(wa_signature(APP_SECRET, &body)))
        .await;
    assert_eq!(r.status(), 200);
    app.drain().await;

    let sent = graph_requests(&app.fake).await;
    let texts: Vec<String> = sent
        .iter()
        .map(|r| {
            let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
            v["text"]["body"].as_str().unwrap_or_default().to_owned()
        })
        .collect();
    assert_eq!(
        texts.last().map(String::as_str),
        Some(MODEL_TEXT),
        "{texts:?}"
    );
    let usage = month_usage(&app, scope).await;
    // 700 tokens at 10 units a million: 7,000 micro-units.
    assert_eq!(
        (
            usage.turns,
            usage.answered,
            usage.input_tokens,
            usage.cost_micros
        ),
        (1, 1, 700, 7_000)
    );
    app.finish().await;
}
