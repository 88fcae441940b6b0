//! What a clinic's API key may do (#10). A key carries a set of scopes chosen when it is made;
//! every REST route names the one scope it needs, and a key without it is refused with 403
//! before the handler runs. Scopes are narrower than staff roles on purpose: an integration
//! gets exactly what it uses, so a leaked key exposes as little as possible.

use crate::DomainError;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum ApiScope {
    /// Practitioners, services and free times (no patient data).
    #[serde(rename = "schedule:read")]
    ScheduleRead,
    /// Appointments (with the patient's id, not their details).
    #[serde(rename = "appointments:read")]
    AppointmentsRead,
    /// Book, move and cancel appointments (the agent's rules apply).
    #[serde(rename = "appointments:write")]
    AppointmentsWrite,
    /// Conversations and their messages (patient text).
    #[serde(rename = "conversations:read")]
    ConversationsRead,
    /// Send a message to a patient as staff.
    #[serde(rename = "messages:write")]
    MessagesWrite,
    /// A patient's minimal record (name, phone, email, language).
    #[serde(rename = "patients:read")]
    PatientsRead,
    /// Data requests (exports and erasures) and their state.
    #[serde(rename = "data_requests:read")]
    DataRequestsRead,
}

impl ApiScope {
    pub const ALL: [ApiScope; 7] = [
        ApiScope::ScheduleRead,
        ApiScope::AppointmentsRead,
        ApiScope::AppointmentsWrite,
        ApiScope::ConversationsRead,
        ApiScope::MessagesWrite,
        ApiScope::PatientsRead,
        ApiScope::DataRequestsRead,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            ApiScope::ScheduleRead => "schedule:read",
            ApiScope::AppointmentsRead => "appointments:read",
            ApiScope::AppointmentsWrite => "appointments:write",
            ApiScope::ConversationsRead => "conversations:read",
            ApiScope::MessagesWrite => "messages:write",
            ApiScope::PatientsRead => "patients:read",
            ApiScope::DataRequestsRead => "data_requests:read",
        }
    }

    pub fn parse(s: &str) -> Result<Self, DomainError> {
        Self::ALL
            .into_iter()
            .find(|x| x.as_str() == s)
            .ok_or_else(|| DomainError::invalid("scope", "not a known API scope"))
    }

    /// Whether the scope reaches patient data (shown beside it when a key is made).
    pub const fn touches_patients(self) -> bool {
        !matches!(self, ApiScope::ScheduleRead)
    }

    pub fn label(self) -> &'static str {
        match self {
            ApiScope::ScheduleRead => "Read practitioners, services and free times",
            ApiScope::AppointmentsRead => "Read appointments",
            ApiScope::AppointmentsWrite => "Book, move and cancel appointments",
            ApiScope::ConversationsRead => "Read conversations and messages",
            ApiScope::MessagesWrite => "Send messages to patients as staff",
            ApiScope::PatientsRead => "Read patients' minimal records",
            ApiScope::DataRequestsRead => "Read data requests",
        }
    }
}

/// A set of scopes, kept sorted and without repeats; stored as a space-separated string.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApiScopes(Vec<ApiScope>);

impl ApiScopes {
    /// Parses `appointments:read schedule:read` (spaces or commas). An empty set is refused:
    /// a key that can do nothing is a mistake.
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        let scopes = s
            .split([' ', ','])
            .filter(|p| !p.is_empty())
            .map(ApiScope::parse)
            .collect::<Result<Vec<_>, _>>()?;
        Self::from_scopes(scopes)
    }

    pub fn from_scopes(scopes: impl IntoIterator<Item = ApiScope>) -> Result<Self, DomainError> {
        let mut v: Vec<ApiScope> = scopes.into_iter().collect();
        v.sort();
        v.dedup();
        if v.is_empty() {
            return Err(DomainError::invalid(
                "scopes",
                "at least one scope is needed",
            ));
        }
        Ok(Self(v))
    }

    pub fn contains(&self, scope: ApiScope) -> bool {
        self.0.contains(&scope)
    }

    pub fn iter(&self) -> impl Iterator<Item = ApiScope> + '_ {
        self.0.iter().copied()
    }

    /// The stored form: scope names separated by one space, in a fixed order.
    pub fn to_stored(&self) -> String {
        self.0
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_match_serde() {
        for s in ApiScope::ALL {
            assert_eq!(ApiScope::parse(s.as_str()).unwrap(), s);
            assert_eq!(
                serde_json::to_value(s).unwrap(),
                serde_json::Value::String(s.as_str().into())
            );
        }
        assert!(ApiScope::parse("appointments:delete").is_err());
        assert!(ApiScope::parse("").is_err());
    }

    #[test]
    fn sets_are_sorted_deduplicated_and_never_empty() {
        let s = ApiScopes::parse("patients:read, schedule:read patients:read").unwrap();
        assert_eq!(s.to_stored(), "schedule:read patients:read");
        assert!(s.contains(ApiScope::PatientsRead));
        assert!(!s.contains(ApiScope::AppointmentsWrite));
        assert_eq!(ApiScopes::parse(&s.to_stored()).unwrap(), s);
        assert!(ApiScopes::parse("  ").is_err());
        assert!(ApiScopes::parse("schedule:read bogus").is_err());
    }
}
