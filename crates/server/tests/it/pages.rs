//! The web chat page: strict CSP, no inline script, escaped clinic text, our own JS only.

use crate::harness::{TestApp, assert_error};
use frontdesk_domain::TenantSlug;

crate::both_engines!(
    chat_page_is_served_under_a_strict_csp,
    clinic_text_is_escaped_in_the_page
);

async fn chat_page_is_served_under_a_strict_csp(app: TestApp) {
    let r = app
        .client
        .get(app.url("/chat/harbour-physio"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let csp = r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    assert!(
        !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
        "{csp}"
    );
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    assert_eq!(r.headers()["referrer-policy"], "no-referrer");
    let html = r.text().await.unwrap();
    assert!(html.contains("<h1>Harbour Physio</h1>"));
    assert!(html.contains("call <strong>111</strong>"));
    // Every script is an external file of ours; no inline handlers.
    for (i, _) in html.match_indices("<script") {
        assert!(
            html[i..]
                .split('>')
                .next()
                .unwrap()
                .contains("src=\"/static/"),
            "inline script at {i}"
        );
    }
    assert!(!html.contains(" onclick=") && !html.contains(" onload="));

    let js = app
        .client
        .get(app.url("/static/webchat.js"))
        .send()
        .await
        .unwrap();
    assert!(
        js.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
    let js = js.text().await.unwrap();
    assert!(
        js.contains("textContent") && !js.contains("innerHTML"),
        "message text is never parsed as HTML"
    );
    let css = app
        .client
        .get(app.url("/static/webchat.css"))
        .send()
        .await
        .unwrap();
    assert!(
        css.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/css")
    );

    let r = app
        .client
        .get(app.url("/chat/no-such-clinic"))
        .send()
        .await
        .unwrap();
    assert_error(r, 404, "unknown_tenant").await;
    app.finish().await;
}

async fn clinic_text_is_escaped_in_the_page(app: TestApp) {
    let mut profile = (frontdesk_server::demo::DEMO_CLINICS[0].profile)().unwrap();
    profile.name = "Evil <script>alert(1)</script> & \"Co\"".into();
    profile.emergency_numbers = vec!["<img src=x onerror=alert(1)>".into()];
    app.store
        .create_tenant(&TenantSlug::parse("evil-clinic").unwrap(), &profile)
        .await
        .unwrap();
    let html = app
        .client
        .get(app.url("/chat/evil-clinic"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!html.contains("<script>alert(1)"), "{html}");
    assert!(!html.contains("<img src=x"), "{html}");
    assert!(
        html.contains("Evil &#60;script&#62;alert(1)&#60;/script&#62; &#38; &#34;Co&#34;")
            || html.contains("Evil &lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;Co&quot;"),
        "{html}"
    );
    app.finish().await;
}
