//! SMS providers and the WhatsApp → SMS fallback, on both engines: Twilio's and Africa's
//! Talking's webhooks refuse what they cannot trust and store nothing, accept real-shaped
//! payloads once, and a message WhatsApp refuses for good reaches the patient by SMS.

use super::*;
use wiremock::matchers::body_string_contains;

channel_tests!(
    twilio_rejections_get_the_right_status_and_store_nothing,
    africastalking_sms_and_delivery_reports_are_authenticated_by_the_path_token,
    whatsapp_refused_for_good_falls_back_to_africastalking_sms,
    whatsapp_button_reply_is_read_as_text_and_the_first_message_records_the_opt_in,
);

type Params = Vec<(String, String)>;

async fn received(app: &ChannelApp, slug: &str) -> usize {
    row_count(app, slug).await
}

async fn twilio_rejections_get_the_right_status_and_store_nothing(app: ChannelApp) {
    let url = format!("{}/webhooks/twilio/sms", app.base);
    let good: Vec<(String, String)> = [
        ("MessageSid", "SM10"),
        ("From", "+64211234567"),
        ("To", TWILIO_NUMBER),
        ("Body", "Hi"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    let signed = |params: &[(String, String)]| twilio_signature(TWILIO_TOKEN, &url, params);
    let post = |params: Vec<(String, String)>, sig: Option<String>| {
        let mut req = app.client.post(&url).form(&params);
        if let Some(sig) = sig {
            req = req.header("x-twilio-signature", sig);
        }
        req.send()
    };
    let without = |name: &str| {
        good.iter()
            .filter(|(k, _)| k != name)
            .cloned()
            .collect::<Vec<_>>()
    };
    let unknown_to: Vec<_> = good
        .iter()
        .map(|(k, v)| {
            (
                k.clone(),
                if k == "To" {
                    "+6495550000".into()
                } else {
                    v.clone()
                },
            )
        })
        .collect();
    let cases: Vec<(Params, Option<String>, u16)> = vec![
        (good.clone(), None, 401),
        (
            good.clone(),
            Some(twilio_signature("wrong-token", &url, &good)),
            401,
        ),
        (good.clone(), Some(signed(&without("Body"))), 401),
        (
            without("MessageSid"),
            Some(signed(&without("MessageSid"))),
            400,
        ),
        (without("To"), Some(signed(&without("To"))), 400),
        (unknown_to.clone(), Some(signed(&unknown_to)), 404),
    ];
    for (i, (params, sig, want)) in cases.into_iter().enumerate() {
        let r = post(params, sig).await.unwrap();
        assert_eq!(r.status().as_u16(), want, "case {i}");
    }
    let huge = app
        .client
        .post(&url)
        .header("x-twilio-signature", "x")
        .body(format!("Body={}", "a".repeat(300 * 1024)))
        .send()
        .await
        .unwrap();
    assert_eq!(huge.status(), 413);
    assert_eq!(received(&app, HARBOUR).await, 0);
    // A replayed delivery is stored once.
    for _ in 0..2 {
        assert_eq!(
            post(good.clone(), Some(signed(&good)))
                .await
                .unwrap()
                .status(),
            200
        );
    }
    assert_eq!(received(&app, HARBOUR).await, 1);
    app.finish().await;
}

fn at_success(id: &str) -> ResponseTemplate {
    ResponseTemplate::new(201).set_body_json(serde_json::json!({ "SMSMessageData": {
        "Message": "Sent to 1/1 Total Cost: KES 0.8000",
        "Recipients": [{ "statusCode": 101, "number": "+254722000001", "status": "Success", "cost": "KES 0.8000", "messageId": id }]
    }}))
}

async fn africastalking_sms_and_delivery_reports_are_authenticated_by_the_path_token(
    app: ChannelApp,
) {
    Mock::given(method("POST"))
        .and(path("/version1/messaging"))
        .and(header("apikey", AT_KEY))
        .respond_with(at_success("ATXid_out1"))
        .mount(&app.fake)
        .await;
    let url = |token: &str| format!("{}/webhooks/africastalking/{AT_SENDER}/{token}", app.base);
    let inbound = [
        ("from", "+254722000001"),
        ("to", AT_SENDER),
        ("text", "Saa ngapi mnafungua?"),
        ("id", "ATXid_in1"),
        ("date", "2026-12-01T08:00:00Z"),
    ];
    let wrong = app
        .client
        .post(url("not-the-token"))
        .form(&inbound)
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let unknown = app
        .client
        .post(format!(
            "{}/webhooks/africastalking/99999/{AT_CALLBACK}",
            app.base
        ))
        .form(&inbound)
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    let missing = app
        .client
        .post(url(AT_CALLBACK))
        .form(&[("from", "+254722000001")])
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 400);
    assert_eq!(received(&app, NAIROBI).await, 0);
    for _ in 0..2 {
        assert_eq!(
            app.client
                .post(url(AT_CALLBACK))
                .form(&inbound)
                .send()
                .await
                .unwrap()
                .status(),
            200
        );
    }
    assert_eq!(received(&app, NAIROBI).await, 1);
    app.drain().await;
    let sends: Vec<_> = app
        .fake
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.url.path() == "/version1/messaging")
        .collect();
    assert!(!sends.is_empty());
    let form = String::from_utf8_lossy(&sends[0].body).to_string();
    assert!(
        form.contains("username=sandbox") && form.contains("from=20880"),
        "{form}"
    );
    assert!(form.contains("to=%2B254722000001"), "{form}");
    let report = [
        ("id", "ATXid_out1"),
        ("status", "Success"),
        ("phoneNumber", "+254722000001"),
    ];
    assert_eq!(
        app.client
            .post(url(AT_CALLBACK))
            .form(&report)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    app.finish().await;
}

async fn whatsapp_refused_for_good_falls_back_to_africastalking_sms(app: ChannelApp) {
    // Meta refuses every message to this number for good (131026: not deliverable).
    Mock::given(method("POST"))
        .and(path(graph_path()))
        .respond_with(ResponseTemplate::new(400).set_body_json(serde_json::json!({ "error": {
            "message": "Message Undeliverable.", "type": "OAuthException", "code": 131026, "fbtrace_id": "A1"
        }})))
        .mount(&app.fake)
        .await;
    Mock::given(method("POST"))
        .and(path("/version1/messaging"))
        .and(body_string_contains("to=%2B254711000001"))
        .respond_with(at_success("ATXid_fallback"))
        .mount(&app.fake)
        .await;
    let body = wa_text("wamid.FALLBACK", "254711000001", "Where are you located?");
    assert_eq!(
        app.post_whatsapp(&body, Some(wa_signature(APP_SECRET, &body)))
            .await
            .status(),
        200
    );
    app.drain().await;
    let scope = app.scope(NAIROBI).await;
    let outbox = app.store.outbox_entries(scope, 100).await.unwrap();
    assert!(!outbox.is_empty());
    assert!(
        outbox
            .iter()
            .all(|o| o.status == "sent"
                && o.provider_message_id.as_deref() == Some("ATXid_fallback")),
        "{outbox:?}"
    );
    assert_eq!(
        graph_requests(&app.fake).await.len(),
        outbox.len(),
        "WhatsApp tried once each"
    );
    assert!(
        app.store
            .pending_notifications(scope, 10)
            .await
            .unwrap()
            .is_empty()
    );
    app.finish().await;
}

async fn whatsapp_button_reply_is_read_as_text_and_the_first_message_records_the_opt_in(
    app: ChannelApp,
) {
    mount_graph_ok(&app.fake).await;
    let body = serde_json::json!({
        "object": "whatsapp_business_account",
        "entry": [{ "id": "WABA1", "changes": [{ "field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": { "display_phone_number": "254700100200", "phone_number_id": PNID },
            "messages": [{ "from": "254711000001", "id": "wamid.BTN", "timestamp": "1700000000", "type": "interactive",
                "interactive": { "type": "button_reply", "button_reply": { "id": "hours", "title": "Opening hours" } } }]
        }}]}]
    })
    .to_string();
    assert_eq!(
        app.post_whatsapp(&body, Some(wa_signature(APP_SECRET, &body)))
            .await
            .status(),
        200
    );
    app.drain().await;
    let scope = app.scope(NAIROBI).await;
    let phone = frontdesk_domain::E164Phone::parse("+254711000001").unwrap();
    let consent = app
        .store
        .consent(scope, Channel::Whatsapp, &phone)
        .await
        .unwrap()
        .unwrap();
    assert!(consent.opted_in);
    assert_eq!(consent.source, "whatsapp:patient_message");
    let sent = graph_requests(&app.fake).await;
    let texts: Vec<String> = sent
        .iter()
        .map(|r| {
            serde_json::from_slice::<serde_json::Value>(&r.body).unwrap()["text"]["body"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    assert!(
        texts.iter().any(|t| t.contains("08:00")),
        "the button's title was understood: {texts:?}"
    );
    app.finish().await;
}
