//! `AppError`: every failure a handler can answer, mapped once to a status, a stable code and
//! a message safe to show. The cause goes to the log (without personal data), never the client.

use axum::{
    Json,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use frontdesk_store::StoreError;
use serde_json::json;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{message}")]
    Client {
        status: StatusCode,
        code: &'static str,
        message: &'static str,
    },
    /// Too many calls with one API key: 429 with `Retry-After`.
    #[error("rate limited")]
    RateLimited { retry_after_secs: u64 },
    #[error("store: {0}")]
    Store(#[from] StoreError),
}

impl AppError {
    pub fn client(status: StatusCode, code: &'static str, message: &'static str) -> Self {
        Self::Client {
            status,
            code,
            message,
        }
    }
    pub fn unknown_tenant() -> Self {
        Self::client(
            StatusCode::NOT_FOUND,
            "unknown_tenant",
            "No clinic with this address.",
        )
    }
    pub fn invalid_token() -> Self {
        Self::client(
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            "A valid session token is required.",
        )
    }
}

fn body(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        Json(json!({ "error": { "code": code, "message": message } })),
    )
        .into_response()
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        match self {
            AppError::Client {
                status,
                code,
                message,
            } => {
                let mut resp = body(status, code, message);
                if status == StatusCode::UNAUTHORIZED {
                    resp.headers_mut()
                        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
                }
                resp
            }
            AppError::RateLimited { retry_after_secs } => {
                let mut r = body(
                    StatusCode::TOO_MANY_REQUESTS,
                    "rate_limited",
                    "Too many requests with this API key; retry after the time in Retry-After.",
                );
                r.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
                r
            }
            AppError::Store(StoreError::NotFound) => {
                body(StatusCode::NOT_FOUND, "not_found", "Not found.")
            }
            AppError::Store(StoreError::Unauthorized) => AppError::invalid_token().into_response(),
            AppError::Store(StoreError::Conflict(what)) => {
                body(StatusCode::CONFLICT, "conflict", what)
            }
            AppError::Store(StoreError::Duplicate) => {
                body(StatusCode::CONFLICT, "duplicate", "Already received.")
            }
            AppError::Store(StoreError::Invalid(e)) => {
                body(StatusCode::UNPROCESSABLE_ENTITY, &e.code(), &e.to_string())
            }
            AppError::Store(e @ StoreError::Unavailable(_)) => {
                tracing::error!(error = ?e, "database unavailable");
                let mut r = body(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "Temporarily unavailable, please retry.",
                );
                r.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
                r
            }
            AppError::Store(e) => {
                tracing::error!(error = ?e, "store operation failed");
                body(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "Something went wrong on our side.",
                )
            }
        }
    }
}
