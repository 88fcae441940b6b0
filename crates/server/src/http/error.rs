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

impl AppError {
    /// The status, stable code and message this error answers with (the cause of a server
    /// error is logged here, once).
    pub fn parts(&self) -> (StatusCode, String, String) {
        let own = |status: StatusCode, code: &str, message: &str| {
            (status, code.to_owned(), message.to_owned())
        };
        match self {
            AppError::Client {
                status,
                code,
                message,
            } => own(*status, code, message),
            AppError::RateLimited { .. } => own(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                "Too many requests with this API key; retry after the time in Retry-After.",
            ),
            AppError::Store(StoreError::NotFound) => {
                own(StatusCode::NOT_FOUND, "not_found", "Not found.")
            }
            AppError::Store(StoreError::Unauthorized) => AppError::invalid_token().parts(),
            AppError::Store(StoreError::Conflict(what)) => {
                own(StatusCode::CONFLICT, "conflict", what)
            }
            AppError::Store(StoreError::Duplicate) => {
                own(StatusCode::CONFLICT, "duplicate", "Already received.")
            }
            AppError::Store(StoreError::Invalid(e)) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                e.code().to_string(),
                e.to_string(),
            ),
            AppError::Store(e @ StoreError::Unavailable(_)) => {
                tracing::error!(error = ?e, "database unavailable");
                own(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "Temporarily unavailable, please retry.",
                )
            }
            AppError::Store(e) => {
                tracing::error!(error = ?e, "store operation failed");
                own(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "Something went wrong on our side.",
                )
            }
        }
    }

    /// The headers that go with the answer: `WWW-Authenticate` on 401, `Retry-After` on 429
    /// and 503.
    pub fn add_headers(&self, headers: &mut axum::http::HeaderMap) {
        match self {
            AppError::RateLimited { retry_after_secs } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
            }
            AppError::Store(StoreError::Unavailable(_)) => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
            }
            AppError::Client { status, .. } if *status == StatusCode::UNAUTHORIZED => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            AppError::Store(StoreError::Unauthorized) => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            _ => {}
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let (status, code, message) = self.parts();
        let mut resp = body(status, &code, &message);
        self.add_headers(resp.headers_mut());
        resp
    }
}
