//! Validated text newtypes: a value of these types has passed `parse`, so code that holds
//! one never re-checks it. `Debug` of personal data types never prints the value.

use crate::DomainError;
use serde::{Deserialize, Serialize};

/// A clinic's URL slug: 3–63 chars of `a-z`, `0-9` and inner `-`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TenantSlug(String);

impl TenantSlug {
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        let ok_len = (3..=63).contains(&s.len());
        let ok_chars = s
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        let ok_edges = !s.starts_with('-') && !s.ends_with('-') && !s.contains("--");
        if ok_len && ok_chars && ok_edges {
            Ok(Self(s.to_owned()))
        } else {
            Err(DomainError::invalid(
                "slug",
                "use 3 to 63 lowercase letters, digits and single inner hyphens",
            ))
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for TenantSlug {
    type Error = DomainError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}
impl From<TenantSlug> for String {
    fn from(s: TenantSlug) -> Self {
        s.0
    }
}
impl std::fmt::Display for TenantSlug {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A phone number in E.164 form (`+` and 8–15 digits, no leading zero in the country code).
/// Spaces, dashes, dots and brackets are accepted on input and dropped.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct E164Phone(String);

impl E164Phone {
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        let trimmed = s.trim();
        let Some(rest) = trimmed.strip_prefix('+') else {
            return Err(DomainError::invalid(
                "phone",
                "must start with + and the country code",
            ));
        };
        let mut digits = String::with_capacity(16);
        for c in rest.chars() {
            match c {
                '0'..='9' => digits.push(c),
                ' ' | '-' | '.' | '(' | ')' => {}
                _ => return Err(DomainError::invalid("phone", "contains invalid characters")),
            }
        }
        if !(8..=15).contains(&digits.len()) || digits.starts_with('0') {
            return Err(DomainError::invalid("phone", "must have 8 to 15 digits"));
        }
        Ok(Self(format!("+{digits}")))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for E164Phone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("E164Phone(<redacted>)")
    }
}

/// An email address, lower-cased. Deliberately simple: one `@`, a non-empty local part and a
/// dotted domain; the real check is that mail arrives.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        let s = s.trim().to_lowercase();
        let valid = match s.split_once('@') {
            Some((local, domain)) => {
                !local.is_empty()
                    && local.len() <= 64
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
                    && !domain.contains('@')
                    && !s.chars().any(|c| c.is_whitespace() || c.is_control())
            }
            None => false,
        };
        if valid && s.len() <= 254 {
            Ok(Self(s))
        } else {
            Err(DomainError::invalid("email", "not a valid email address"))
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Email {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Email(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slug_rules() {
        assert!(TenantSlug::parse("harbour-physio").is_ok());
        for bad in [
            "ab", "Harbour", "-a-b", "a-b-", "a--b", "a b c", "émile", "",
        ] {
            assert!(TenantSlug::parse(bad).is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn phone_normalises_separators() {
        let p = E164Phone::parse(" +64 (21) 555-0101 ").ok();
        assert_eq!(p.as_ref().map(E164Phone::as_str), Some("+64215550101"));
    }

    #[test]
    fn phone_rejects_bad_numbers() {
        for bad in [
            "0215550101",
            "+0123456789",
            "+12345",
            "+1234567890123456",
            "+64a55501010",
        ] {
            assert!(E164Phone::parse(bad).is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn debug_of_personal_data_is_redacted() {
        let p = E164Phone::parse("+64215550101").ok();
        assert!(!format!("{p:?}").contains("555"));
        let e = Email::parse("Aroha@Example.org").ok();
        assert!(!format!("{e:?}").contains("aroha"));
        assert_eq!(e.as_ref().map(Email::as_str), Some("aroha@example.org"));
    }

    #[test]
    fn email_rules() {
        for bad in ["", "a", "a@b", "@b.c", "a@.b", "a@b.", "a b@c.d", "a@b@c.d"] {
            assert!(Email::parse(bad).is_err(), "{bad} should be rejected");
        }
    }
}
