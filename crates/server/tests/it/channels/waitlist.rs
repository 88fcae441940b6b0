//! The waitlist end to end on both engines, over SMS (Twilio fake): two patients join it in
//! conversation, a third cancels by text, the freed time is offered to both in the order they
//! joined, the first "yes" books it and the second is told it has gone.

use super::reminders::{booked_tomorrow, sms_from};
use super::*;

channel_tests!(a_freed_time_goes_to_the_first_waitlisted_patient_who_says_yes,);

async fn last_text(app: &ChannelApp, number: &str) -> String {
    app.texts_to(number)
        .await
        .last()
        .cloned()
        .unwrap_or_default()
}

async fn a_freed_time_goes_to_the_first_waitlisted_patient_who_says_yes(app: ChannelApp) {
    mount_twilio_ok(&app.fake).await;
    let (first, second, holder) = ("+64215550101", "+64215550102", "+64215550103");
    sms_from(
        &app,
        "SMw1",
        first,
        "Hi, can you put me on the waitlist for a sports massage?",
    )
    .await;
    let joined = last_text(&app, first).await;
    assert!(
        joined.contains("You're on the waitlist for Sports massage with any of our team between"),
        "{joined}"
    );
    sms_from(
        &app,
        "SMw2",
        second,
        "please add me to the waiting list for a sports massage",
    )
    .await;
    assert!(
        last_text(&app, second)
            .await
            .contains("You're on the waitlist")
    );

    // Nothing is offered while nothing is free.
    assert_eq!(app.worker.offer_waitlist().await.unwrap().offered, 0);

    // The holder cancels by text: the freed time is held for the waitlist.
    let (appt, _) = booked_tomorrow(&app, holder).await;
    sms_from(&app, "SMh1", holder, "I need to cancel my appointment").await;
    sms_from(&app, "SMh2", holder, "yes").await;
    assert!(last_text(&app, holder).await.contains("is cancelled"));
    let scope = app.scope(HARBOUR).await;
    let freed = app.store.appointment(scope, appt).await.unwrap();

    let pass = app.worker.offer_waitlist().await.unwrap();
    assert_eq!((pass.offered, pass.patients), (1, 2), "{pass:?}");
    // A second pass (or instance) offers it again to nobody.
    assert_eq!(app.worker.offer_waitlist().await.unwrap().offered, 0);
    app.drain().await;
    for number in [first, second] {
        let offer = last_text(&app, number).await;
        assert!(
            offer.starts_with("Good news from Harbour Physio: a Sports massage with "),
            "{offer}"
        );
        assert!(
            !offer.contains("STOP") && !offer.contains("CANCEL"),
            "{offer}"
        );
    }
    assert!(
        !last_text(&app, holder).await.starts_with("Good news"),
        "the patient who cancelled is not offered their own time"
    );

    sms_from(&app, "SMw3", second, "Yes").await;
    let won = last_text(&app, second).await;
    assert!(
        won.starts_with("You're booked: Sports massage with "),
        "{won}"
    );
    sms_from(&app, "SMw4", first, "yes please").await;
    let lost = last_text(&app, first).await;
    assert!(
        lost.starts_with("Sorry, that time has already gone"),
        "{lost}"
    );

    // Exactly one live appointment at the freed time: the second patient's.
    let phone = frontdesk_domain::E164Phone::parse(second).unwrap();
    let winner = app
        .store
        .find_patient_by_phone(scope, &phone)
        .await
        .unwrap()
        .unwrap()
        .id;
    let theirs = app
        .store
        .patient_appointments(scope, winner, app.clock.now())
        .await
        .unwrap();
    assert_eq!(theirs.len(), 1);
    assert_eq!(
        (theirs[0].starts_at, theirs[0].practitioner_id),
        (freed.starts_at, freed.practitioner_id)
    );
    let phone = frontdesk_domain::E164Phone::parse(first).unwrap();
    let loser = app
        .store
        .find_patient_by_phone(scope, &phone)
        .await
        .unwrap()
        .unwrap()
        .id;
    assert!(
        app.store
            .patient_appointments(scope, loser, app.clock.now())
            .await
            .unwrap()
            .is_empty()
    );
    app.finish().await;
}
