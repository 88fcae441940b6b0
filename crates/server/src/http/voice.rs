//! Twilio Voice webhooks: the receptionist answers the clinic's phone.
//!
//! - `POST /webhooks/twilio/voice` — a new call (greeting with the privacy notice, then a
//!   speech `<Gather>`), and each speech turn (`?turn=1&misses=N`, posted by the Gather):
//!   the caller's words go through the same receptionist as text, stored with the replies as
//!   the call's transcript. An emergency is answered with the emergency number first and,
//!   when the clinic set an `escalation_number` on its Twilio account, `<Dial>`s it. Two
//!   silent or empty answers in a row end the call politely and ask the staff to call back.
//! - `POST /webhooks/twilio/voice/status` — the number's call-status callback: a call that
//!   ended (hang-up included) gets its end-of-call note and its conversation closed.
//!
//! Both are checked like SMS (`X-Twilio-Signature` with the clinic's auth token over the exact
//! URL Twilio requested, query included) before anything is read or stored. Twilio waits at
//! most 15 seconds for an answer; a turn here is one catalogue read and one transaction, plus,
//! when the clinic has a language model, at most the voice deadline of model calls
//! ([`crate::llm::agent::VoiceLimits`], 4 s by default).

use super::webhooks::{form_param, malformed, public_base, read_body, verified_twilio};
use super::{AppState, error::AppError};
use crate::channels::voice::{self, Listening};
use crate::recordings;
use crate::turn::{self, MAX_TEXT_BYTES};
use axum::{
    body::Body,
    extract::State,
    http::{HeaderMap, header},
    response::{IntoResponse, Response},
};
use frontdesk_agent::Alert;
use frontdesk_domain::{ClinicProfile, E164Phone};
use frontdesk_store::{Call, CallEnd, ChannelAccount, StoreError, TenantScope};

/// Silent or empty answers in a row before the receptionist says goodbye.
const MAX_MISSES: u8 = 2;

fn twiml(xml: String) -> Response {
    ([(header::CONTENT_TYPE, "text/xml")], xml).into_response()
}

fn query_value<'a>(uri: &'a axum::http::Uri, name: &str) -> Option<&'a str> {
    uri.query()?
        .split('&')
        .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
}

/// What the caller hears first: who answered, the clinic's privacy notice, a question.
pub fn greeting(profile: &ClinicProfile) -> String {
    format!(
        "Thank you for calling {}. {} How can I help you today?",
        profile.name,
        profile.privacy_notice.trim()
    )
}

/// The clinic's number for emergencies on the phone line (`escalation_number` in the Twilio
/// account's settings), if it set a valid one.
fn escalation_number(account: &ChannelAccount) -> Option<E164Phone> {
    account.config["escalation_number"]
        .as_str()
        .and_then(|n| E164Phone::parse(n).ok())
}

/// The longest prefix of `text` within the text limit, cut on a character boundary.
fn clip(text: &str) -> &str {
    if text.len() <= MAX_TEXT_BYTES {
        return text;
    }
    let mut end = MAX_TEXT_BYTES;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// A verified request about a call to one of our numbers (`To`): the clinic's account, the
/// form parameters and the call sid.
async fn verified_call(
    st: &AppState,
    headers: &HeaderMap,
    uri: &axum::http::Uri,
    body: Body,
) -> Result<(ChannelAccount, Vec<(String, String)>, String), AppError> {
    let raw = read_body(body).await?;
    let (account, params) = verified_twilio(st, headers, uri, &raw, |p| p("To")).await?;
    let sid = form_param(&params, "CallSid").ok_or_else(malformed)?;
    Ok((account, params, sid))
}

pub async fn twilio_voice(
    State(st): State<AppState>,
    headers: HeaderMap,
    uri: axum::http::Uri,
    body: Body,
) -> Result<Response, AppError> {
    // Steps of a turn as trace events for the benchmark's breakdown (`frontdesk::step`, off
    // unless asked for: see docs/PERFORMANCE.md).
    tracing::trace!(target: "frontdesk::step", "voice.request");
    let (account, params, sid) = verified_call(&st, &headers, &uri, body).await?;
    tracing::trace!(target: "frontdesk::step", "voice.verified");
    let scope = account.verified_scope();
    let is_turn = query_value(&uri, "turn") == Some("1");
    // The clinic (read once: for the words said here and for the turn) and the call with its
    // conversation and the model's context, read side by side: neither needs the other, and
    // the phone line's own time is what the caller waits through. How much context to read is
    // guessed from the models this instance last built for the clinic; they are checked
    // against the clinic's stamp below. When the clinic turns out paused, the context read
    // with the call goes unused.
    let guessed = if is_turn {
        turn::guessed_context(&st.channels.models, scope)
    } else {
        0
    };
    let (clinic, call_read) = tokio::join!(
        turn::clinic(st.store.as_ref(), scope),
        st.store.call_with_recent(scope, &sid, guessed)
    );
    tracing::trace!(target: "frontdesk::step", "voice.read");
    let clinic = clinic?;
    let knowledge = &clinic.knowledge;
    let listening = Listening::of(knowledge);
    let profile = &knowledge.profile;
    let emergency = profile
        .emergency_numbers
        .first()
        .map_or("your local emergency number", String::as_str);
    let Some(from) = form_param(&params, "From").and_then(|f| E164Phone::parse(&f).ok()) else {
        // A withheld number: nobody to find appointments for, no patient to file the call under.
        return Ok(twiml(voice::hangup(&[format!(
            "Thank you for calling {}. Your number is hidden, so I can't help you on this line. \
             Please call again from a number that shows, or message us. If this is an \
             emergency, hang up and call {emergency} now.",
            profile.name
        )])));
    };
    let (call, read) = match (is_turn, call_read) {
        (true, Ok((call, conv, history))) => (call, (conv, history)),
        // A new call (or a turn of a call we never saw start): greet and listen.
        (_, Ok(_) | Err(StoreError::NotFound)) => {
            let words = greeting(profile);
            let ours = form_param(&params, "To").unwrap_or_default();
            let Some(notice) = recordings::notice(&account) else {
                st.store.start_call(scope, &sid, &from, &words).await?;
                return Ok(twiml(voice::gather(&[words], &listening, 0)));
            };
            // The notice is part of the transcript, so the record shows the caller was told.
            let transcript = format!("{notice} {words}");
            st.store.start_call(scope, &sid, &from, &transcript).await?;
            let callback = recordings::callback_url(&public_base(&st, &headers), &ours);
            return Ok(twiml(voice::gather_recorded(
                &notice,
                &callback,
                &[words],
                &listening,
            )));
        }
        (_, Err(e)) => return Err(e.into()),
    };
    if call.ended_at.is_some() {
        return Ok(twiml(voice::hangup(&[])));
    }
    let speech = form_param(&params, "SpeechResult").unwrap_or_default();
    let speech = clip(speech.trim());
    if speech.is_empty() {
        return silence(&st, scope, &call, &uri, &listening, profile).await;
    }
    // The clinic's model with the phone line's limits (a short deadline, fewer tool rounds, a
    // spoken answer); on any failure or at the deadline the built-in receptionist answers the
    // same words in this same webhook answer, so the caller hears no gap beyond the deadline.
    // (Kept per instance with the clinic's stamp: read again only when the settings changed.)
    let mut read = read;
    let models = turn::models_for(
        st.store.as_ref(),
        st.clock.as_ref(),
        &st.channels.models,
        scope,
        &clinic,
        call.conversation,
        &mut read,
        guessed,
    )
    .await?
    .map(|m| m.for_voice());
    tracing::trace!(target: "frontdesk::step", "voice.models");
    let answered = turn::answer_for(
        st.store.as_ref(),
        st.clock.as_ref(),
        scope,
        &clinic,
        call.conversation,
        read,
        call.patient,
        speech,
        None,
        models.as_ref(),
    )
    .await?;
    if answered.alert == Some(Alert::Emergency)
        && let Some(number) = escalation_number(&account)
    {
        let mut words = answered.messages;
        words.push(format!(
            "I'm connecting you to {} now. Please stay on the line.",
            profile.name
        ));
        return Ok(twiml(voice::dial(&words, number.as_str())));
    }
    let answer = twiml(voice::gather(&answered.messages, &listening, 0));
    tracing::trace!(target: "frontdesk::step", "voice.answer");
    Ok(answer)
}

/// Nothing heard (or nothing recognised): ask again, and after [`MAX_MISSES`] in a row say
/// goodbye, ask the staff to call back and end the call.
async fn silence(
    st: &AppState,
    scope: TenantScope,
    call: &Call,
    uri: &axum::http::Uri,
    listening: &Listening,
    profile: &ClinicProfile,
) -> Result<Response, AppError> {
    let misses = query_value(uri, "misses")
        .and_then(|m| m.parse::<u8>().ok())
        .unwrap_or(0)
        .saturating_add(1);
    if misses < MAX_MISSES {
        let again = "Sorry, I didn't catch that. Please tell me how I can help, for example \
                     \"book an appointment\" or \"what are your opening hours\"."
            .to_owned();
        return Ok(twiml(voice::gather(&[again], listening, misses)));
    }
    let goodbye = format!(
        "I'm sorry, I can't hear you. I've asked the {} team to call you back. If this is an \
         emergency, hang up and call {} now. Goodbye.",
        profile.name,
        profile
            .emergency_numbers
            .first()
            .map_or("your local emergency number", String::as_str)
    );
    turn::silent_call(st.store.as_ref(), scope, call.conversation, &goodbye).await?;
    let end = CallEnd {
        status: "completed".into(),
        duration_secs: None,
        note: "Phone call ended by the receptionist: the caller could not be heard; the team was \
               asked to call back."
            .into(),
    };
    st.store.end_call(scope, &call.call_sid, &end).await?;
    Ok(twiml(voice::hangup(&[goodbye])))
}

/// `POST /webhooks/twilio/voice/recording?to=OUR_NUMBER`: Twilio's recording status callback.
/// It carries no `To`, so the clinic's number is in the query of the callback URL we gave
/// Twilio, which Twilio signs with the rest of the URL. A completed recording is filed under
/// its call and a job fetches, seals, stores and then deletes it at Twilio.
pub async fn twilio_voice_recording(
    State(st): State<AppState>,
    headers: HeaderMap,
    uri: axum::http::Uri,
    body: Body,
) -> Result<Response, AppError> {
    let raw = read_body(body).await?;
    let ours = recordings::number_in_query(&uri);
    let (account, params) = verified_twilio(&st, &headers, &uri, &raw, |_| ours).await?;
    let scope = account.verified_scope();
    let call_sid = form_param(&params, "CallSid").ok_or_else(malformed)?;
    let recording_sid = form_param(&params, "RecordingSid").ok_or_else(malformed)?;
    let status = form_param(&params, "RecordingStatus").unwrap_or_default();
    if status != "completed" {
        // `in-progress` or `absent` (nothing was recorded): nothing to fetch.
        return Ok(axum::http::StatusCode::NO_CONTENT.into_response());
    }
    let duration = form_param(&params, "RecordingDuration").and_then(|d| d.parse::<i32>().ok());
    match st
        .store
        .note_recording(scope, &call_sid, &recording_sid, duration)
        .await
    {
        Ok(Some(_)) => st.channels.wake.notify_one(),
        // The same callback again: already filed.
        Ok(None) => {}
        Err(StoreError::NotFound) => {
            tracing::warn!("recording callback for a call this clinic never answered; ignored");
        }
        Err(e) => return Err(e.into()),
    }
    Ok(axum::http::StatusCode::NO_CONTENT.into_response())
}

/// Twilio's final call statuses.
const FINAL: [&str; 5] = ["completed", "busy", "failed", "no-answer", "canceled"];

pub async fn twilio_voice_status(
    State(st): State<AppState>,
    headers: HeaderMap,
    uri: axum::http::Uri,
    body: Body,
) -> Result<Response, AppError> {
    let (account, params, sid) = verified_call(&st, &headers, &uri, body).await?;
    let scope = account.verified_scope();
    let status = form_param(&params, "CallStatus").ok_or_else(malformed)?;
    if !FINAL.contains(&status.as_str()) {
        // Ringing, in progress: nothing to record yet.
        return Ok(twiml(crate::channels::twilio::twiml_message(None)));
    }
    let duration = form_param(&params, "CallDuration").and_then(|d| d.parse::<u32>().ok());
    let call = match st.store.call(scope, &sid).await {
        Ok(call) => call,
        // A call that never reached the receptionist (e.g. it failed before answering).
        Err(StoreError::NotFound) => {
            return Ok(twiml(crate::channels::twilio::twiml_message(None)));
        }
        Err(e) => return Err(e.into()),
    };
    let summary = st
        .store
        .conversation(scope, call.conversation)
        .await?
        .summary;
    let end = CallEnd {
        status: status.clone(),
        duration_secs: duration,
        note: call_note(&status, duration, summary.as_ref()),
    };
    st.store.end_call(scope, &sid, &end).await?;
    Ok(twiml(crate::channels::twilio::twiml_message(None)))
}

/// The end-of-call note staff read in the conversation: how it ended, how long, and the
/// conversation summary's labels (never what was said).
pub fn call_note(
    status: &str,
    duration: Option<u32>,
    summary: Option<&frontdesk_store::ConversationSummary>,
) -> String {
    let length = duration.map_or(String::new(), |d| format!(", {} min {} s", d / 60, d % 60));
    let mut note = format!("Phone call ended ({status}{length}).");
    if let Some(s) = summary {
        note.push_str(&format!(
            " Reason: {}; triage: {}; outcome: {}; {} caller turn{}.",
            s.reason,
            s.triage_level.as_str(),
            s.outcome,
            s.turns,
            if s.turns == 1 { "" } else { "s" }
        ));
        if s.appointment.is_some() {
            note.push_str(" An appointment was booked or changed.");
        }
    }
    note
}
