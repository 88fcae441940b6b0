//! The audit log viewer (issue #7 item 5): the latest entries of the clinic's audit chain and
//! the chain's verification status, for roles with `ViewAuditLog` (the Owner). The chain is
//! verified from its first entry on every view (paged inside the store, one snapshot).

use super::AppState;
use super::dashboard::{Require, perm};
use askama::Template;
use axum::{
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use frontdesk_domain::{Access, Permission};

/// How many of the latest entries the page lists.
const SHOWN: i64 = 100;

struct Row {
    seq: i64,
    when: String,
    who: String,
    action: String,
    target: String,
    details: String,
}

#[derive(Template)]
#[template(path = "dashboard/audit.html")]
struct AuditPage {
    broken: Option<i64>,
    checked: u64,
    rows: Vec<Row>,
    tz: String,
}

fn unavailable() -> Response {
    (StatusCode::SERVICE_UNAVAILABLE, "Please try again shortly.").into_response()
}

/// `GET /dashboard/audit`.
pub async fn audit_page(
    State(st): State<AppState>,
    Require { staff, .. }: Require<perm::ViewAuditLog>,
) -> Response {
    let s = staff.session();
    if s.role.access(Permission::ViewAuditLog) != Access::All {
        return (
            StatusCode::FORBIDDEN,
            "Your role may not read the audit log.",
        )
            .into_response();
    }
    let report = match st.store.verify_audit_chain(s.scope).await {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = ?e, "audit chain check failed");
            return unavailable();
        }
    };
    let after = (report.head_seq - SHOWN).max(0);
    let entries = match st.store.audit_entries(s.scope, after, SHOWN as u32).await {
        Ok(e) => e,
        Err(e) => {
            tracing::error!(error = ?e, "audit read failed");
            return unavailable();
        }
    };
    let tz = match st.store.clinic(s.scope).await {
        Ok(c) => c.profile.timezone,
        Err(_) => "UTC".to_owned(),
    };
    let rows = entries
        .into_iter()
        .rev()
        .map(|e| Row {
            seq: e.seq,
            when: e
                .at
                .in_tz(&tz)
                .map(|z| z.strftime("%Y-%m-%d %H:%M:%S").to_string())
                .unwrap_or_else(|_| e.at.to_string()),
            who: match e.actor_id {
                Some(id) => format!("{} {id}", e.actor_kind),
                None => e.actor_kind,
            },
            action: e.action,
            target: match (e.target_kind, e.target_id) {
                (Some(k), Some(id)) => format!("{k} {id}"),
                (Some(k), None) => k,
                _ => String::new(),
            },
            details: e.details,
        })
        .collect();
    let page = AuditPage {
        broken: report.first_break.map(|b| b.seq),
        checked: report.entries,
        rows,
        tz,
    };
    super::dashboard::page(StatusCode::OK, &page)
}
