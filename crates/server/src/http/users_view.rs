//! The users page (issue #7 item 5): the Owner invites staff, changes roles and disables or
//! enables users. Changing a role or disabling ends the user's sessions at once (the store
//! does it in the same transaction). Nobody changes their own role or disables themselves
//! here, so a clinic cannot lock out its last Owner by a slip. The Owner also links a staff
//! member to the practitioner whose diary is theirs: what a Doctor's "assigned to them"
//! reach covers in the diary (and the patients booked there).

use super::AppState;
use super::dashboard::{Require, Staff, csrf_ok_for, perm};
use askama::Template;
use axum::{
    Form,
    extract::{Path, State},
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Redirect, Response},
};
use frontdesk_domain::{Access, Email, Permission, PractitionerId, Role, UserId};
use frontdesk_store::{Actor, NewUser, StoreError};

struct UserRow {
    id: String,
    name: String,
    email: String,
    role: &'static str,
    role_label: &'static str,
    mfa: bool,
    active: bool,
    is_me: bool,
    practitioner: String,
}

#[derive(Template)]
#[template(path = "dashboard/users.html")]
struct UsersPage<'a> {
    users: Vec<UserRow>,
    roles: Vec<(&'static str, &'static str)>,
    /// The clinic's practitioners: (id, name).
    practitioners: Vec<(String, String)>,
    csrf: String,
    error: Option<&'a str>,
}

fn text(status: StatusCode, msg: &'static str) -> Response {
    let mut r = (status, msg).into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

fn owner_only(staff: &Staff) -> Option<Response> {
    (staff.session().role.access(Permission::ManageUsers) != Access::All).then(|| {
        text(
            StatusCode::FORBIDDEN,
            "Only the clinic's Owner manages users.",
        )
    })
}

async fn render(st: &AppState, staff: &Staff, status: StatusCode, error: Option<&str>) -> Response {
    let s = staff.session();
    let lists = match st.store.list_users(s.scope).await {
        Ok(u) => st.store.clinic_catalog(s.scope).await.map(|c| (u, c)),
        Err(e) => Err(e),
    };
    let (users, catalog) = match lists {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(error = ?e, "user list failed");
            return text(StatusCode::SERVICE_UNAVAILABLE, "Please try again shortly.");
        }
    };
    let page = UsersPage {
        users: users
            .into_iter()
            .map(|u| UserRow {
                id: u.id.to_string(),
                is_me: u.id == s.user,
                name: u.name,
                email: u.email.as_str().to_owned(),
                role: u.role.as_str(),
                role_label: u.role.label(),
                mfa: u.mfa_enrolled,
                active: u.active,
                practitioner: u.practitioner.map(|p| p.to_string()).unwrap_or_default(),
            })
            .collect(),
        practitioners: catalog
            .practitioners
            .iter()
            .map(|p| (p.id.to_string(), p.name.clone()))
            .collect(),
        roles: Role::ALL.iter().map(|r| (r.as_str(), r.label())).collect(),
        csrf: staff.csrf(),
        error,
    };
    super::dashboard::page(status, &page)
}

/// `GET /dashboard/users`.
pub async fn users_page(
    State(st): State<AppState>,
    Require { staff, .. }: Require<perm::ManageUsers>,
) -> Response {
    if let Some(r) = owner_only(&staff) {
        return r;
    }
    render(&st, &staff, StatusCode::OK, None).await
}

#[derive(serde::Deserialize)]
pub struct InviteForm {
    csrf: String,
    name: String,
    email: String,
    role: String,
}

/// `POST /dashboard/users`: adds a staff member (who then signs in by email).
pub async fn invite(
    State(st): State<AppState>,
    Require { staff, .. }: Require<perm::ManageUsers>,
    Form(f): Form<InviteForm>,
) -> Response {
    if let Some(r) = owner_only(&staff) {
        return r;
    }
    if !csrf_ok_for(&staff, &f.csrf) {
        return super::dashboard::form_expired();
    }
    let (Ok(email), Ok(role)) = (Email::parse(f.email.trim()), Role::parse(&f.role)) else {
        return render(
            &st,
            &staff,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("Enter a valid email address and role."),
        )
        .await;
    };
    let name = f.name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return render(
            &st,
            &staff,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("Enter a name."),
        )
        .await;
    }
    let s = staff.session();
    let user = NewUser {
        email,
        name: name.to_owned(),
        role,
    };
    match st
        .store
        .invite_user(s.scope, &user, Actor::Staff(s.user))
        .await
    {
        Ok(_) => {
            send_invitation(&st, s, user);
            Redirect::to("/dashboard/users").into_response()
        }
        Err(StoreError::Conflict(_)) => {
            render(
                &st,
                &staff,
                StatusCode::CONFLICT,
                Some("Someone at this clinic already has that email address."),
            )
            .await
        }
        Err(e) => {
            tracing::error!(error = ?e, "invite failed");
            text(StatusCode::SERVICE_UNAVAILABLE, "Please try again shortly.")
        }
    }
}

/// Emails the new staff member how to sign in (in the background, like sign-in links: if it
/// is lost, the Owner tells them the clinic address, or they ask for a link themselves). The
/// email holds no secret: signing in still needs a link emailed to them on request.
fn send_invitation(st: &AppState, s: &frontdesk_store::StaffSession, user: NewUser) {
    let Some(base) = st.dashboard.link_base.clone() else {
        return;
    };
    let (st, scope, inviter) = (st.clone(), s.scope, s.name.clone());
    tokio::spawn(async move {
        let clinic = match st.store.clinic(scope).await {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = ?e, "invitation email not sent: clinic unreadable");
                return;
            }
        };
        let second_factor = if user.role.requires_mfa() {
            "\n\nYour role needs two-step sign-in: at your first sign-in you will set up an \
             authenticator app and be given recovery codes to keep safe."
        } else {
            ""
        };
        let body = format!(
            "{inviter} has added you to frontdesk for {clinic} as {role}.\n\n\
             To sign in, open {base}/dashboard/login?clinic={slug} and enter this email \
             address: we email you a sign-in link that works once, for 10 minutes, in the \
             browser where you asked for it.{second_factor}\n\n\
             If you did not expect this, tell {clinic}; nobody can sign in as you without access \
             to this mailbox.\n",
            clinic = clinic.profile.name,
            role = user.role.label(),
            base = base.trim_end_matches('/'),
            slug = clinic.slug.as_str(),
        );
        let subject = format!(
            "You have been added to frontdesk for {}",
            clinic.profile.name
        );
        if let Err(e) = st
            .dashboard
            .mailer
            .send(std::slice::from_ref(&user.email), &subject, &body)
            .await
        {
            tracing::warn!(code = e.code, "invitation email not sent");
        }
    });
}

#[derive(serde::Deserialize)]
pub struct RoleForm {
    csrf: String,
    role: String,
}

#[derive(serde::Deserialize)]
pub struct ActiveForm {
    csrf: String,
    active: bool,
}

/// Parses the target user and refuses changes to oneself.
fn target(staff: &Staff, raw: &str) -> Result<UserId, &'static str> {
    let id = UserId::parse(raw).map_err(|_| "No such user.")?;
    if id == staff.session().user {
        return Err("You cannot change your own role or disable yourself.");
    }
    Ok(id)
}

fn finish(done: Result<(), StoreError>) -> Response {
    match done {
        Ok(()) => Redirect::to("/dashboard/users").into_response(),
        Err(StoreError::NotFound) => text(StatusCode::NOT_FOUND, "No such user."),
        Err(e) => {
            tracing::error!(error = ?e, "user change failed");
            text(StatusCode::SERVICE_UNAVAILABLE, "Please try again shortly.")
        }
    }
}

/// Why a change on another user is refused before it is tried.
enum Refuse {
    NotOwner,
    Csrf,
    Target(&'static str),
}

/// The checks every change on another user passes first: Owner, this session's form, not
/// oneself, a well-formed id.
fn precheck(staff: &Staff, csrf: &str, raw_id: &str) -> Result<UserId, Refuse> {
    if staff.session().role.access(Permission::ManageUsers) != Access::All {
        return Err(Refuse::NotOwner);
    }
    if !csrf_ok_for(staff, csrf) {
        return Err(Refuse::Csrf);
    }
    target(staff, raw_id).map_err(Refuse::Target)
}

async fn refused(st: &AppState, staff: &Staff, r: Refuse) -> Response {
    match r {
        Refuse::NotOwner => text(
            StatusCode::FORBIDDEN,
            "Only the clinic's Owner manages users.",
        ),
        Refuse::Csrf => super::dashboard::form_expired(),
        Refuse::Target(msg) => render(st, staff, StatusCode::CONFLICT, Some(msg)).await,
    }
}

/// `POST /dashboard/users/{id}/role`: ends that user's sessions.
pub async fn set_role(
    State(st): State<AppState>,
    Require { staff, .. }: Require<perm::ManageUsers>,
    Path(id): Path<String>,
    Form(f): Form<RoleForm>,
) -> Response {
    let id = match precheck(&staff, &f.csrf, &id) {
        Ok(id) => id,
        Err(r) => return refused(&st, &staff, r).await,
    };
    let Ok(role) = Role::parse(&f.role) else {
        return render(
            &st,
            &staff,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("Choose a role."),
        )
        .await;
    };
    let s = staff.session();
    finish(
        st.store
            .set_user_role(s.scope, id, role, Actor::Staff(s.user))
            .await,
    )
}

/// `POST /dashboard/users/{id}/active`: disabling ends that user's sessions.
pub async fn set_active(
    State(st): State<AppState>,
    Require { staff, .. }: Require<perm::ManageUsers>,
    Path(id): Path<String>,
    Form(f): Form<ActiveForm>,
) -> Response {
    let id = match precheck(&staff, &f.csrf, &id) {
        Ok(id) => id,
        Err(r) => return refused(&st, &staff, r).await,
    };
    let s = staff.session();
    finish(
        st.store
            .set_user_active(s.scope, id, f.active, Actor::Staff(s.user))
            .await,
    )
}

#[derive(serde::Deserialize)]
pub struct PractitionerForm {
    csrf: String,
    /// A practitioner's id, or empty to unlink.
    #[serde(default)]
    practitioner: String,
}

/// `POST /dashboard/users/{id}/practitioner`: links the user to the practitioner whose diary
/// is theirs (or unlinks). The Owner may link anyone, themselves included.
pub async fn set_practitioner(
    State(st): State<AppState>,
    Require { staff, .. }: Require<perm::ManageUsers>,
    Path(raw): Path<String>,
    Form(f): Form<PractitionerForm>,
) -> Response {
    if let Some(r) = owner_only(&staff) {
        return r;
    }
    if !csrf_ok_for(&staff, &f.csrf) {
        return refused(&st, &staff, Refuse::Csrf).await;
    }
    let Ok(id) = UserId::parse(&raw) else {
        return text(StatusCode::NOT_FOUND, "No such user.");
    };
    let practitioner = match f.practitioner.trim() {
        "" => None,
        raw => match PractitionerId::parse(raw) {
            Ok(p) => Some(p),
            Err(_) => {
                let msg = Some("Choose one of the clinic's practitioners.");
                return render(&st, &staff, StatusCode::UNPROCESSABLE_ENTITY, msg).await;
            }
        },
    };
    let s = staff.session();
    match st
        .store
        .link_practitioner(s.scope, id, practitioner, Actor::Staff(s.user))
        .await
    {
        Err(StoreError::Invalid(_)) => {
            let msg = Some("Choose one of the clinic's practitioners.");
            render(&st, &staff, StatusCode::UNPROCESSABLE_ENTITY, msg).await
        }
        other => finish(other),
    }
}
