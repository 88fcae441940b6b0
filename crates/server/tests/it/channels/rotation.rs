//! Channel secret rotation with an overlap window (#8 item 5), on both engines: during the
//! window a provider still signing with the old secret is accepted, afterwards only the new
//! one is; an overlap of zero ends the old value at once; outbound calls use the new value.

use super::*;
use zeroize::Zeroizing;

channel_tests!(
    a_rotated_app_secret_is_accepted_alongside_the_old_one_until_the_window_ends,
    a_rotated_twilio_token_overlaps_and_a_zero_overlap_cuts_the_old_value_at_once,
);

const NEW_APP_SECRET: &str = "rotated_app_secret_2";

async fn a_rotated_app_secret_is_accepted_alongside_the_old_one_until_the_window_ends(
    app: ChannelApp,
) {
    mount_graph_ok(&app.fake).await;
    let scope = app.scope(NAIROBI).await;
    let until = app
        .store
        .rotate_channel_secret(
            scope,
            Provider::Whatsapp,
            "app_secret",
            Zeroizing::new(NEW_APP_SECRET.into()),
            SignedDuration::from_hours(1),
            Actor::Operator,
        )
        .await
        .unwrap();
    assert_eq!(
        until.map(|t| t.as_microsecond()),
        Some((app.clock.now() + SignedDuration::from_hours(1)).as_microsecond())
    );
    let shared = &app;
    let send = |id: &str, secret: &str| {
        let body = wa_text(id, "254711000031", "What are your opening hours?");
        let sig = wa_signature(secret, &body);
        async move { shared.post_whatsapp(&body, Some(sig)).await.status() }
    };
    assert_eq!(
        send("wamid.R1", APP_SECRET).await,
        200,
        "old, within the window"
    );
    assert_eq!(send("wamid.R2", NEW_APP_SECRET).await, 200, "new");
    assert_eq!(send("wamid.R3", "never_set").await, 401);
    app.clock.advance(SignedDuration::from_mins(61));
    assert_eq!(
        send("wamid.R4", APP_SECRET).await,
        401,
        "old, after the window"
    );
    assert_eq!(send("wamid.R5", NEW_APP_SECRET).await, 200);
    assert_eq!(row_count(&app, NAIROBI).await, 3);

    // Outbound calls use a rotated access token at once.
    app.store
        .rotate_channel_secret(
            scope,
            Provider::Whatsapp,
            "access_token",
            Zeroizing::new("EAArotated".into()),
            SignedDuration::from_hours(24),
            Actor::Operator,
        )
        .await
        .unwrap();
    app.drain().await;
    let sent = graph_requests(&app.fake).await;
    let last = sent.last().expect("replies were sent");
    assert_eq!(
        last.headers.get("authorization").unwrap().to_str().unwrap(),
        "Bearer EAArotated"
    );

    // The audit log names the secret and the window, never a value.
    let audit = app.store.audit_entries(scope, 0, 10_000).await.unwrap();
    let rotated: Vec<_> = audit
        .iter()
        .filter(|e| e.action == "channel.secret_rotated")
        .collect();
    assert_eq!(rotated.len(), 2);
    assert!(rotated[0].details.contains("app_secret"));
    assert!(rotated[0].details.contains("\"overlap_seconds\":3600"));
    assert!(
        audit
            .iter()
            .all(|e| !e.details.contains(NEW_APP_SECRET) && !e.details.contains("EAArotated"))
    );
    assert!(
        app.store
            .verify_audit_chain(scope)
            .await
            .unwrap()
            .is_intact()
    );

    // A name the provider does not use, and an account that does not exist, are refused.
    let bad = app
        .store
        .rotate_channel_secret(
            scope,
            Provider::Whatsapp,
            "auth_token",
            Zeroizing::new("x".into()),
            SignedDuration::ZERO,
            Actor::Operator,
        )
        .await;
    assert!(matches!(bad, Err(StoreError::Invalid(_))), "{bad:?}");
    let none = app
        .store
        .rotate_channel_secret(
            app.scope(HARBOUR).await,
            Provider::Whatsapp,
            "app_secret",
            Zeroizing::new("x".into()),
            SignedDuration::ZERO,
            Actor::Operator,
        )
        .await;
    assert!(matches!(none, Err(StoreError::NotFound)), "{none:?}");
    app.finish().await;
}

async fn a_rotated_twilio_token_overlaps_and_a_zero_overlap_cuts_the_old_value_at_once(
    app: ChannelApp,
) {
    mount_twilio_ok(&app.fake).await;
    let scope = app.scope(HARBOUR).await;
    let rotate = |value: &'static str, overlap: SignedDuration| {
        let store = app.store.clone();
        async move {
            store
                .rotate_channel_secret(
                    scope,
                    Provider::Twilio,
                    "auth_token",
                    Zeroizing::new(value.into()),
                    overlap,
                    Actor::Operator,
                )
                .await
                .unwrap()
        }
    };
    let post = |token: &'static str, sid: &'static str| {
        let url = format!("{}/webhooks/twilio/sms", app.base);
        let params = [
            ("MessageSid", sid),
            ("From", "+64211230031"),
            ("To", TWILIO_NUMBER),
            ("Body", "What are your opening hours?"),
        ];
        let owned: Vec<(String, String)> = params
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let sig = twilio_signature(token, &url, &owned);
        let client = app.client.clone();
        async move {
            client
                .post(&url)
                .header("x-twilio-signature", sig)
                .form(&params)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert!(
        rotate("token_two", SignedDuration::from_hours(2))
            .await
            .is_some()
    );
    assert_eq!(
        post(TWILIO_TOKEN, "SMR1").await,
        200,
        "old, within the window"
    );
    assert_eq!(post("token_two", "SMR2").await, 200);
    // A leak: rotate again with no overlap. Neither older value is accepted any more.
    assert_eq!(rotate("token_three", SignedDuration::ZERO).await, None);
    assert_eq!(post(TWILIO_TOKEN, "SMR3").await, 401);
    assert_eq!(post("token_two", "SMR4").await, 401);
    assert_eq!(post("token_three", "SMR5").await, 200);
    app.finish().await;
}
