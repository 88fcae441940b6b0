//! Calendar feeds (#11): a practitioner's, or the whole clinic's, appointments as an
//! iCalendar subscription URL that staff add to any calendar app.
//!
//! The URL holds a token `fdcal_<prefix>_<secret>` of the same form as an API key (see
//! [`crate::api_key`]): the prefix routes it to its clinic and names it in lists and the audit
//! log; only the SHA-256 of the whole token is stored and it is compared in constant time.
//! A feed is revocable at once. What a feed shows is decided by the server (times, service,
//! practitioner; never a patient's name or phone: calendar apps copy feeds to their own
//! clouds).

use frontdesk_domain::{CalendarFeedId, PractitionerId};
use jiff::Timestamp;
use zeroize::Zeroizing;

use crate::TenantScope;

/// What a feed token starts with.
pub const FEED_TAG: &str = "fdcal_";

/// A feed as the dashboard lists it: never its token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarFeedInfo {
    pub id: CalendarFeedId,
    /// The public part, `fdcal_` and 12 characters.
    pub prefix: String,
    /// `None`: every practitioner of the clinic.
    pub practitioner: Option<PractitionerId>,
    pub created_at: Timestamp,
    /// Who made it (`staff:<id>`, `operator`).
    pub created_by: String,
    pub revoked_at: Option<Timestamp>,
    /// When a calendar app last read it (to the hour).
    pub last_used_at: Option<Timestamp>,
}

/// A feed just made, with its token: show the URL once, then drop it.
pub struct IssuedCalendarFeed {
    pub info: CalendarFeedInfo,
    pub token: Zeroizing<String>,
}

impl std::fmt::Debug for IssuedCalendarFeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedCalendarFeed")
            .field("prefix", &self.info.prefix)
            .finish_non_exhaustive()
    }
}

/// A feed token that checked out: whose appointments to show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenedCalendarFeed {
    pub scope: TenantScope,
    pub feed: CalendarFeedId,
    pub practitioner: Option<PractitionerId>,
}

/// The public prefix of something that has the form of a feed token; `None` otherwise (so a
/// malformed URL costs no database read).
pub fn feed_prefix_of(token: &str) -> Option<&str> {
    crate::api_key::prefix_of_tagged(FEED_TAG, token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feed_tokens_have_their_own_tag_and_parse_back_to_their_prefix() {
        let (prefix, token) = crate::api_key::generate_tagged(FEED_TAG);
        assert!(token.starts_with("fdcal_"));
        assert_eq!(feed_prefix_of(&token), Some(prefix.as_str()));
        // An API key is not a feed token, and the other way round.
        let (_, key) = crate::api_key::generate();
        assert_eq!(feed_prefix_of(&key), None);
        assert_eq!(crate::api_key::prefix_of(&token), None);
        assert_eq!(feed_prefix_of("fdcal_short_x"), None);
    }
}
