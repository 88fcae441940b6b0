//! The website widget over HTTP: the loader, the framed page (who may frame it), the
//! conversation history that lets a reload resume, and replies as server-sent events.
//! `widget_browser.rs` drives the same pieces in a real browser.

use crate::harness::{TestApp, assert_error};
use frontdesk_store::{Sender, StoreError};

crate::both_engines!(
    the_loader_is_our_own_script_for_any_site,
    only_the_clinics_own_sites_may_frame_the_widget,
    a_widget_origin_that_could_break_the_csp_is_refused,
    history_resumes_the_conversation_and_only_for_its_token,
    replies_stream_as_server_sent_events_and_are_stored_once,
);

async fn get(app: &TestApp, path: &str) -> reqwest::Response {
    app.client.get(app.url(path)).send().await.unwrap()
}

fn assert_unframeable(r: &reqwest::Response) {
    let csp = r.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(r.headers()["x-frame-options"], "DENY");
}

async fn the_loader_is_our_own_script_for_any_site(app: TestApp) {
    let r = get(&app, "/widget.js").await;
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
    assert_eq!(r.headers()["cross-origin-resource-policy"], "cross-origin");
    let js = r.text().await.unwrap();
    // It builds its elements with the DOM and CSSOM: nothing a strict CSP refuses, nothing
    // parsed as HTML, nothing fetched from anyone but us.
    for forbidden in [
        "innerHTML",
        "outerHTML",
        "insertAdjacentHTML",
        "document.write",
        "eval(",
        "setAttribute(\"style\"",
        "http://",
        "https://",
    ] {
        assert!(
            !js.lines()
                .filter(|l| !l.trim_start().starts_with("//"))
                .any(|l| l.contains(forbidden)),
            "{forbidden}"
        );
    }
    assert!(js.contains("aria-expanded") && js.contains("\"/widget/\""));
    app.finish().await;
}

async fn only_the_clinics_own_sites_may_frame_the_widget(app: TestApp) {
    let scope = app.scope("harbour-physio").await;
    let mut profile = app.store.clinic(scope).await.unwrap().profile;
    profile.widget_origins = vec![
        "https://harbourphysio.example".into(),
        "https://*.harbourphysio.example".into(),
    ];
    app.store.update_profile(scope, &profile).await.unwrap();

    let r = get(&app, "/widget/harbour-physio").await;
    assert_eq!(r.status(), 200);
    let csp = r.headers()["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains(
            "frame-ancestors https://harbourphysio.example https://*.harbourphysio.example"
        ),
        "{csp}"
    );
    assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"));
    assert!(
        r.headers().get("x-frame-options").is_none(),
        "X-Frame-Options DENY would forbid the framing the CSP allows"
    );
    assert_eq!(r.headers()["cache-control"], "no-store");
    let html = r.text().await.unwrap();
    assert!(html.contains("id=\"close\"") && html.contains("data-embedded=\"1\""));
    assert!(html.contains("<label for=\"text\">") && html.contains("aria-live=\"polite\""));

    // A clinic that lists no site: the widget page may not be framed anywhere.
    let r = get(&app, "/widget/nairobi-family").await;
    assert_eq!(r.status(), 200);
    assert_unframeable(&r);

    // The stand-alone chat page keeps refusing to be framed, whatever the clinic allows.
    let r = get(&app, "/chat/harbour-physio").await;
    assert_unframeable(&r);
    let html = r.text().await.unwrap();
    assert!(!html.contains("id=\"close\""));

    let r = get(&app, "/widget/no-such-clinic").await;
    assert_error(r, 404, "unknown_tenant").await;
    app.finish().await;
}

async fn a_widget_origin_that_could_break_the_csp_is_refused(app: TestApp) {
    let scope = app.scope("harbour-physio").await;
    let before = app.store.clinic(scope).await.unwrap().profile;
    for bad in [
        "https://evil.example; script-src *",
        "https://evil.example 'unsafe-inline'",
        "*",
        "http://evil.example",
        "HTTPS://Harbour.Example",
    ] {
        let mut profile = before.clone();
        profile.widget_origins = vec![bad.into()];
        let err = app.store.update_profile(scope, &profile).await.unwrap_err();
        assert!(matches!(err, StoreError::Invalid(_)), "{bad}: {err:?}");
    }
    assert_eq!(app.store.clinic(scope).await.unwrap().profile, before);
    app.finish().await;
}

async fn history_resumes_the_conversation_and_only_for_its_token(app: TestApp) {
    let (token, _) = app.start_chat("harbour-physio").await;
    let empty = app
        .client
        .get(app.url("/v1/webchat/harbour-physio/messages"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(empty.status(), 200);
    let v: serde_json::Value = empty.json().await.unwrap();
    assert_eq!(v["messages"].as_array().unwrap().len(), 0);

    let replies = app
        .ask("harbour-physio", &token, "What are your opening hours?")
        .await;
    let r = app
        .client
        .get(app.url("/v1/webchat/harbour-physio/messages"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let v: serde_json::Value = r.json().await.unwrap();
    let shown: Vec<(String, String)> = v["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            assert!(m["at"].as_str().unwrap().ends_with('Z'));
            (
                m["from"].as_str().unwrap().to_owned(),
                m["text"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let mut want = vec![(
        "patient".to_owned(),
        "What are your opening hours?".to_owned(),
    )];
    want.extend(replies.into_iter().map(|t| ("agent".to_owned(), t)));
    assert_eq!(shown, want);

    let url = app.url("/v1/webchat/harbour-physio/messages");
    let none = app.client.get(&url).send().await.unwrap();
    assert_error(none, 401, "invalid_token").await;
    let forged = app
        .client
        .get(&url)
        .bearer_auth("not-a-token")
        .send()
        .await
        .unwrap();
    assert_error(forged, 401, "invalid_token").await;
    // A token of this clinic, presented to another clinic, shows nothing.
    let elsewhere = app
        .client
        .get(app.url("/v1/webchat/nairobi-family/messages"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_error(elsewhere, 401, "invalid_token").await;
    app.finish().await;
}

/// (event, data) pairs of a complete `text/event-stream` body.
fn events(body: &str) -> Vec<(String, serde_json::Value)> {
    body.replace("\r\n", "\n")
        .split("\n\n")
        .filter_map(|block| {
            let mut name = "message".to_owned();
            let mut data = Vec::new();
            for line in block.lines() {
                if let Some(n) = line.strip_prefix("event:") {
                    name = n.trim().to_owned();
                } else if let Some(d) = line.strip_prefix("data:") {
                    data.push(d.strip_prefix(' ').unwrap_or(d));
                }
            }
            (!data.is_empty()).then(|| (name, serde_json::from_str(&data.join("\n")).unwrap()))
        })
        .collect()
}

async fn stream(app: &TestApp, token: &str, text: &str) -> reqwest::Response {
    app.client
        .post(app.url("/v1/webchat/harbour-physio/messages"))
        .bearer_auth(token)
        .header("accept", "text/event-stream")
        .json(&serde_json::json!({ "text": text }))
        .send()
        .await
        .unwrap()
}

async fn replies_stream_as_server_sent_events_and_are_stored_once(app: TestApp) {
    let (token, conv) = app.start_chat("harbour-physio").await;
    let r = stream(&app, &token, "What are your opening hours?").await;
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    assert_eq!(r.headers()["cache-control"], "no-store");
    let got = events(&r.text().await.unwrap());
    let names: Vec<&str> = got.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["received", "reply", "reply", "done"], "{got:?}");
    assert!(
        got[1].1["text"]
            .as_str()
            .unwrap()
            .contains("stored encrypted")
    );
    assert!(
        got[2].1["text"]
            .as_str()
            .unwrap()
            .contains("Mon–Fri 08:00–18:00")
    );

    let stored = app.messages("harbour-physio", &conv).await;
    assert_eq!(stored.len(), 3, "one patient message and two replies");
    assert_eq!(stored[0].sender, Sender::Patient);
    assert_eq!(stored[2].body, got[2].1["text"].as_str().unwrap());

    // Bad input is refused before any stream starts, with the usual JSON error.
    let r = stream(&app, &token, "   ").await;
    assert_error(r, 422, "empty_text").await;
    assert_eq!(app.messages("harbour-physio", &conv).await.len(), 3);
    app.finish().await;
}
