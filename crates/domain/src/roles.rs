//! The six staff roles. The full permission matrix arrives with the dashboard (issue #7);
//! the roles are defined here now so users can be stored with one from the start.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Owner,
    SeniorDoctor,
    Doctor,
    ReadOnlyDoctor,
    ReceptionHead,
    Reception,
}

impl Role {
    pub const ALL: [Role; 6] = [
        Role::Owner,
        Role::SeniorDoctor,
        Role::Doctor,
        Role::ReadOnlyDoctor,
        Role::ReceptionHead,
        Role::Reception,
    ];

    /// The stable name used in storage and APIs.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::SeniorDoctor => "senior_doctor",
            Role::Doctor => "doctor",
            Role::ReadOnlyDoctor => "read_only_doctor",
            Role::ReceptionHead => "reception_head",
            Role::Reception => "reception",
        }
    }

    pub fn parse(s: &str) -> Result<Self, crate::DomainError> {
        Self::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or(crate::DomainError::invalid("role", "unknown role"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_names_round_trip() {
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Ok(r));
        }
        assert!(Role::parse("admin").is_err());
    }
}
