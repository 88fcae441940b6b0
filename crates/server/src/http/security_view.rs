//! Anomaly alerts in the dashboard (#12 item 4): the clinic's alerts, unacknowledged first,
//! for roles with `ViewAuditLog` at clinic reach (the Owner), each acknowledged with one
//! button (audited `security_alert.acknowledged`). The rules are in
//! [`frontdesk_store::anomaly`]; subjects are ids and blind-index fragments, never an email,
//! a patient's phone number or a raw IP address, and everything shown is escaped.

use super::AppState;
use super::dashboard::{Require, Staff, csrf_ok_for, perm, plain as text, store_failed};
use askama::Template;
use axum::{
    Form,
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
};
use frontdesk_domain::{Access, Permission, SecurityAlertId};
use frontdesk_store::{Actor, StoreError};

struct Row {
    id: String,
    title: &'static str,
    kind: &'static str,
    subject: String,
    details: String,
    first_seen: String,
    last_seen: String,
    occurrences: i64,
    acknowledged: Option<String>,
}

#[derive(Template)]
#[template(path = "dashboard/security.html")]
struct SecurityPage {
    rows: Vec<Row>,
    open: usize,
    tz: String,
    csrf: String,
}

#[derive(serde::Deserialize)]
pub struct AckForm {
    csrf: String,
}

/// Only clinic-wide audit readers (the Owner): alerts are about the clinic's staff.
fn allowed(staff: &Staff) -> bool {
    staff.session().role.access(Permission::ViewAuditLog) == Access::All
}

fn forbidden() -> Response {
    text(
        StatusCode::FORBIDDEN,
        "Your role may not see security alerts.",
    )
}

/// `GET /dashboard/security`.
pub async fn security_page(
    State(st): State<AppState>,
    Require { staff, .. }: Require<perm::ViewAuditLog>,
) -> Response {
    if !allowed(&staff) {
        return forbidden();
    }
    let scope = staff.session().scope;
    let alerts = match st.store.security_alerts(scope).await {
        Ok(a) => a,
        Err(e) => return store_failed(&e),
    };
    let tz = match st.store.clinic(scope).await {
        Ok(c) => c.profile.timezone,
        Err(_) => "UTC".to_owned(),
    };
    let when = |t: jiff::Timestamp| {
        t.in_tz(&tz)
            .map(|z| z.strftime("%Y-%m-%d %H:%M").to_string())
            .unwrap_or_else(|_| t.to_string())
    };
    let rows: Vec<Row> = alerts
        .into_iter()
        .map(|a| Row {
            id: a.id.to_string(),
            title: a.kind.title(),
            kind: a.kind.as_str(),
            subject: a.subject,
            details: a.details.to_string(),
            first_seen: when(a.first_seen_at),
            last_seen: when(a.last_seen_at),
            occurrences: a.occurrences,
            acknowledged: a
                .acknowledged_at
                .map(|t| format!("{} by {}", when(t), a.acknowledged_by.unwrap_or_default())),
        })
        .collect();
    let page = SecurityPage {
        open: rows.iter().filter(|r| r.acknowledged.is_none()).count(),
        rows,
        tz,
        csrf: staff.csrf(),
    };
    super::dashboard::page(StatusCode::OK, &page)
}

/// `POST /dashboard/security/{id}/acknowledge`.
pub async fn acknowledge(
    State(st): State<AppState>,
    Require { staff, .. }: Require<perm::ViewAuditLog>,
    Path(raw): Path<String>,
    Form(f): Form<AckForm>,
) -> Response {
    if !allowed(&staff) {
        return forbidden();
    }
    if !csrf_ok_for(&staff, &f.csrf) {
        return super::dashboard::form_expired();
    }
    let Ok(id) = SecurityAlertId::parse(&raw) else {
        return text(StatusCode::NOT_FOUND, "No such alert.");
    };
    let s = staff.session();
    match st
        .store
        .acknowledge_security_alert(s.scope, id, Actor::Staff(s.user))
        .await
    {
        Ok(_) => Redirect::to("/dashboard/security").into_response(),
        Err(StoreError::NotFound) => text(StatusCode::NOT_FOUND, "No such alert."),
        Err(e) => store_failed(&e),
    }
}
