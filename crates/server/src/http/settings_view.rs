//! Settings (issue #7 item 5, begun): the clinic profile the receptionist speaks from (name,
//! phone, address, privacy notice, cancellation policy, reminders, the staff idle timeout) and
//! the FAQ. Owner only (`ManageClinicProfile`). Every change goes through the same validation
//! as the CLI and is audited with the staff member as the actor. The clinic's red-flag
//! additions are added here too (the built-in rules always apply). Practitioners, services and
//! hours are on the schedule page (Owner and Reception Head), channels on their own page.

use super::AppState;
use super::dashboard::{
    Require, Staff, csrf_ok_for, perm, plain as text, store_failed as unavailable,
};
use askama::Template;
use axum::{
    Form,
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
};
use frontdesk_domain::Access;
use frontdesk_store::{Actor, StoreError};

#[derive(Template)]
#[template(path = "dashboard/settings.html")]
struct SettingsPage {
    name: String,
    phone: String,
    address: String,
    privacy_notice: String,
    cancellation_policy: String,
    reminder_hours: u32,
    session_idle_minutes: u32,
    faqs: Vec<(String, String)>,
    retention: frontdesk_domain::RetentionPolicy,
    ai_paused: bool,
    /// The clinic's own red-flag rules: (level, phrases).
    red_flags: Vec<(&'static str, String)>,
    csrf: String,
    error: Option<String>,
}

async fn render(
    st: &AppState,
    staff: &Staff,
    status: StatusCode,
    error: Option<String>,
) -> Response {
    let scope = staff.session().scope;
    let catalog = match st.store.clinic_catalog(scope).await {
        Ok(c) => c,
        Err(e) => return unavailable(&e),
    };
    let p = &catalog.clinic.profile;
    let page = SettingsPage {
        name: p.name.clone(),
        phone: p.phone.clone().unwrap_or_default(),
        address: p.address.clone(),
        privacy_notice: p.privacy_notice.clone(),
        cancellation_policy: p.cancellation_policy.clone(),
        reminder_hours: p.reminder_hours,
        session_idle_minutes: p.session_idle_minutes,
        faqs: catalog
            .faqs
            .iter()
            .map(|f| (f.question.clone(), f.answer.clone()))
            .collect(),
        retention: p.retention,
        ai_paused: p.ai_paused,
        red_flags: catalog
            .red_flag_rules
            .iter()
            .map(|r| (r.level.as_str(), r.phrases.join("; ")))
            .collect(),
        csrf: staff.csrf(),
        error,
    };
    super::dashboard::page(status, &page)
}

/// Only the Owner changes the clinic's settings.
fn owner_only(access: Access) -> Option<Response> {
    (access != Access::All).then(|| text(StatusCode::FORBIDDEN, "Your role does not allow this."))
}

/// Refuses a change before it is tried: the role, then the form's CSRF token.
fn may_change(access: Access, staff: &Staff, csrf: &str) -> Option<Response> {
    owner_only(access).or_else(|| (!csrf_ok_for(staff, csrf)).then(super::dashboard::form_expired))
}

/// After a change: back to the page, or the page again with what the validation said.
async fn saved<T>(st: &AppState, staff: &Staff, done: Result<T, StoreError>) -> Response {
    match done {
        Ok(_) => Redirect::to("/dashboard/settings").into_response(),
        Err(e) => match refused(&e) {
            Some(msg) => render(st, staff, StatusCode::UNPROCESSABLE_ENTITY, Some(msg)).await,
            None => unavailable(&e),
        },
    }
}

/// `GET /dashboard/settings`.
pub async fn settings_page(
    State(st): State<AppState>,
    Require { staff, access, .. }: Require<perm::ManageClinicProfile>,
) -> Response {
    if let Some(r) = owner_only(access) {
        return r;
    }
    render(&st, &staff, StatusCode::OK, None).await
}

#[derive(serde::Deserialize)]
pub struct ProfileForm {
    csrf: String,
    name: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    address: String,
    #[serde(default)]
    privacy_notice: String,
    #[serde(default)]
    cancellation_policy: String,
    reminder_hours: String,
    session_idle_minutes: String,
}

/// What the store's validation said, in words for the page.
fn refused(e: &StoreError) -> Option<String> {
    match e {
        StoreError::Invalid(d) => Some(format!("Not saved: {d}.")),
        _ => None,
    }
}

/// `POST /dashboard/settings/profile`.
pub async fn save_profile(
    State(st): State<AppState>,
    Require { staff, access, .. }: Require<perm::ManageClinicProfile>,
    Form(f): Form<ProfileForm>,
) -> Response {
    if let Some(r) = may_change(access, &staff, &f.csrf) {
        return r;
    }
    let bad = |msg: &str| Some(msg.to_owned());
    let (Ok(reminder_hours), Ok(session_idle_minutes)) = (
        f.reminder_hours.trim().parse::<u32>(),
        f.session_idle_minutes.trim().parse::<u32>(),
    ) else {
        let msg = bad("Reminder hours and the idle timeout are whole numbers.");
        return render(&st, &staff, StatusCode::UNPROCESSABLE_ENTITY, msg).await;
    };
    change_profile(&st, &staff, |profile| {
        profile.name = f.name.trim().to_owned();
        let phone = f.phone.trim();
        profile.phone = (!phone.is_empty()).then(|| phone.to_owned());
        profile.address = f.address.trim().to_owned();
        profile.privacy_notice = f.privacy_notice.trim().to_owned();
        profile.cancellation_policy = f.cancellation_policy.trim().to_owned();
        profile.reminder_hours = reminder_hours;
        profile.session_idle_minutes = session_idle_minutes;
    })
    .await
}

/// Reads the clinic's profile, applies `edit`, and saves it through the store's validation,
/// audited with this staff member as the actor.
async fn change_profile(
    st: &AppState,
    staff: &Staff,
    edit: impl FnOnce(&mut frontdesk_domain::ClinicProfile),
) -> Response {
    let s = staff.session();
    let mut profile = match st.store.clinic(s.scope).await {
        Ok(c) => c.profile,
        Err(e) => return unavailable(&e),
    };
    edit(&mut profile);
    let done = st
        .store
        .update_profile_by(s.scope, &profile, Actor::Staff(s.user))
        .await;
    saved(st, staff, done).await
}

#[derive(serde::Deserialize)]
pub struct FaqForm {
    csrf: String,
    question: String,
    answer: String,
}

/// `POST /dashboard/settings/faq`: a new question the receptionist can answer.
pub async fn add_faq(
    State(st): State<AppState>,
    Require { staff, access, .. }: Require<perm::ManageClinicProfile>,
    Form(f): Form<FaqForm>,
) -> Response {
    if let Some(r) = may_change(access, &staff, &f.csrf) {
        return r;
    }
    let s = staff.session();
    let done = st
        .store
        .add_faq_by(
            s.scope,
            f.question.trim(),
            f.answer.trim(),
            Actor::Staff(s.user),
        )
        .await;
    saved(&st, &staff, done).await
}

#[derive(serde::Deserialize)]
pub struct RedFlagForm {
    csrf: String,
    /// One phrase per line.
    phrases: String,
    level: String,
    #[serde(default)]
    language: String,
}

/// `POST /dashboard/settings/red-flags`: phrases that make the receptionist treat a message
/// as urgent or an emergency, on top of the built-in rules (which always apply).
pub async fn add_red_flag(
    State(st): State<AppState>,
    Require { staff, access, .. }: Require<perm::ManageClinicProfile>,
    Form(f): Form<RedFlagForm>,
) -> Response {
    if let Some(r) = may_change(access, &staff, &f.csrf) {
        return r;
    }
    let level = match f.level.as_str() {
        "urgent" => frontdesk_store::Urgency::Urgent,
        "emergency" => frontdesk_store::Urgency::Emergency,
        _ => {
            let msg = Some("Choose urgent or emergency.".to_owned());
            return render(&st, &staff, StatusCode::UNPROCESSABLE_ENTITY, msg).await;
        }
    };
    let phrases: Vec<String> = f
        .phrases
        .lines()
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
        .collect();
    let language = match f.language.trim() {
        "" => "en",
        l => l,
    };
    let s = staff.session();
    let done = st
        .store
        .add_red_flag_rule_by(s.scope, &phrases, level, language, Actor::Staff(s.user))
        .await;
    saved(&st, &staff, done).await
}

#[derive(serde::Deserialize)]
pub struct RetentionForm {
    csrf: String,
    conversation_days: String,
    recording_days: String,
    audit_years: String,
}

/// `POST /dashboard/settings/retention`: how long the clinic keeps conversations, recordings
/// and its audit log (`ManageRetention`: the Owner). Audited as a profile change.
pub async fn save_retention(
    State(st): State<AppState>,
    Require { staff, access, .. }: Require<perm::ManageRetention>,
    Form(f): Form<RetentionForm>,
) -> Response {
    if let Some(r) = may_change(access, &staff, &f.csrf) {
        return r;
    }
    let parsed = (
        f.conversation_days.trim().parse::<u32>(),
        f.recording_days.trim().parse::<u32>(),
        f.audit_years.trim().parse::<u32>(),
    );
    let (Ok(conversation_days), Ok(recording_days), Ok(audit_years)) = parsed else {
        let msg = Some("Retention periods are whole numbers.".to_owned());
        return render(&st, &staff, StatusCode::UNPROCESSABLE_ENTITY, msg).await;
    };
    change_profile(&st, &staff, |profile| {
        profile.retention = frontdesk_domain::RetentionPolicy {
            conversation_days,
            recording_days,
            audit_years,
        };
    })
    .await
}

#[derive(serde::Deserialize)]
pub struct PauseForm {
    csrf: String,
    paused: bool,
}

/// `POST /dashboard/settings/ai`: the kill switch. Paused, the receptionist answers every
/// message with a holding reply (red-flag advice still goes), alerts the staff and books
/// nothing. Audited `clinic.ai_paused` / `clinic.ai_resumed`.
pub async fn set_ai_paused(
    State(st): State<AppState>,
    Require { staff, access, .. }: Require<perm::ManageClinicProfile>,
    Form(f): Form<PauseForm>,
) -> Response {
    if let Some(r) = may_change(access, &staff, &f.csrf) {
        return r;
    }
    let s = staff.session();
    let done = st
        .store
        .set_ai_paused(s.scope, f.paused, Actor::Staff(s.user))
        .await;
    saved(&st, &staff, done).await
}
