//! The domain's one error type: a rejected value, with a stable machine-readable code.

/// A value that breaks a domain rule. `code()` is stable and safe to show to callers;
/// the message never contains the rejected value itself (it may be a phone number).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    #[error("invalid {field}: {reason}")]
    Invalid {
        field: &'static str,
        reason: &'static str,
    },
}

impl DomainError {
    pub fn invalid(field: &'static str, reason: &'static str) -> Self {
        Self::Invalid { field, reason }
    }

    /// A stable code for API clients, e.g. `invalid_phone`.
    pub fn code(&self) -> String {
        match self {
            Self::Invalid { field, .. } => format!("invalid_{field}"),
        }
    }
}
