//! Anomaly alerts (#12 item 4): what is watched, the rule for each kind, and an alert as the
//! dashboard shows it.
//!
//! Every rule counts from rows in the database (the audit log, the outbox, `login_requests`,
//! `security_events`, `api_key_networks`), never from one process's memory, so any number of
//! `serve` instances see the same counts. An alert is one *episode*: while it recurs it is
//! bumped (`occurrences`, `last_seen_at`), not raised again; acknowledging it, or a quiet day,
//! ends the episode. Raising is audited `security_alert.raised` and queues one email to the
//! clinic's Owners, in the same transaction.
//!
//! The rules (each constant below is the one the detector uses):
//! - **record_reads**: a staff member opened more patient records in the last hour than
//!   `max(20, 5 × the median of their hourly counts)`, the median taken over the hours of the
//!   last 14 days in which they opened at least one (a quiet night does not drag it to zero).
//!   Counted from `patient.viewed` audit entries by the worker's anomaly pass.
//! - **login_failures**: 5 failed second-factor codes for one account within 15 minutes.
//! - **login_requests**: sign-in link requests beyond the sign-in rate limit, for one account
//!   (its email's blind index) or one address (its blind index) within the limit's window.
//! - **signature_failures**: 10 webhook requests with a wrong signature for one clinic's
//!   provider address within 5 minutes (someone probing the webhooks). Requests that name no
//!   clinic are the operator's business: a metric and a log line, no tenant.
//! - **api_key_network**: an API key used from a network (IPv4 /24, IPv6 /48) it has not been
//!   used from in 30 days, once it has a history (its first network is not news).
//! - **provider_outage**: an outbound message on a channel has been failing for 15 minutes
//!   (first queued at least 15 minutes ago, a failed attempt within them) and nothing on that
//!   channel was delivered in those 15 minutes.

use std::net::IpAddr;

use frontdesk_domain::SecurityAlertId;
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use crate::model::str_enum;

str_enum!(
    /// What an anomaly alert is about.
    AlertKind {
        RecordReads = "record_reads",
        LoginFailures = "login_failures",
        LoginRequests = "login_requests",
        SignatureFailures = "signature_failures",
        ApiKeyNetwork = "api_key_network",
        ProviderOutage = "provider_outage",
    }
);

impl AlertKind {
    pub const ALL: [AlertKind; 6] = [
        AlertKind::RecordReads,
        AlertKind::LoginFailures,
        AlertKind::LoginRequests,
        AlertKind::SignatureFailures,
        AlertKind::ApiKeyNetwork,
        AlertKind::ProviderOutage,
    ];

    /// A headline for the dashboard and the email.
    pub fn title(self) -> &'static str {
        match self {
            AlertKind::RecordReads => "A staff member opened far more patient records than usual",
            AlertKind::LoginFailures => "Repeated failed sign-ins",
            AlertKind::LoginRequests => "Repeated sign-in link requests",
            AlertKind::SignatureFailures => "A burst of webhook requests with wrong signatures",
            AlertKind::ApiKeyNetwork => "An API key was used from a new network",
            AlertKind::ProviderOutage => "Messages to patients are failing to send",
        }
    }
}

/// The record-reads rule: the window, the floor, the factor over the usual and the history.
pub const RECORD_READS_WINDOW: SignedDuration = SignedDuration::from_hours(1);
pub const RECORD_READS_FLOOR: i64 = 20;
pub const RECORD_READS_FACTOR: i64 = 5;
pub const RECORD_READS_HISTORY: SignedDuration = SignedDuration::from_hours(14 * 24);

/// A count of events within a sliding window that raises an alert when it reaches
/// `threshold`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BurstRule {
    pub kind: AlertKind,
    pub window: SignedDuration,
    pub threshold: i64,
}

pub const LOGIN_FAILURES: BurstRule = BurstRule {
    kind: AlertKind::LoginFailures,
    window: SignedDuration::from_mins(15),
    threshold: 5,
};

pub const SIGNATURE_FAILURES: BurstRule = BurstRule {
    kind: AlertKind::SignatureFailures,
    window: SignedDuration::from_mins(5),
    threshold: 10,
};

/// How long a network stays known to an API key.
pub const API_KEY_NETWORK_MEMORY: SignedDuration = SignedDuration::from_hours(30 * 24);
/// How long sends must have been failing on a channel.
pub const PROVIDER_OUTAGE_AFTER: SignedDuration = SignedDuration::from_mins(15);
/// A recurrence after this long opens a new episode (and a new email).
pub const EPISODE_QUIET: SignedDuration = SignedDuration::from_hours(24);

/// The `notify_security_alert` job: email the clinic's Owners about one alert.
pub const NOTIFY_SECURITY_ALERT_JOB: &str = "notify_security_alert";

/// The payload of [`NOTIFY_SECURITY_ALERT_JOB`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NotifySecurityAlertJob {
    pub alert: uuid::Uuid,
}

/// One alert episode as the dashboard and the email show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecurityAlert {
    pub id: SecurityAlertId,
    pub kind: AlertKind,
    /// What it is about: `user:<id>`, `account:<blind index>`, `address:<blind index>`,
    /// `whatsapp:<phone number id>`, `api_key:<prefix>@<network>`, `channel:<name>`. Never an
    /// email, a phone number of a patient or a raw IP address.
    pub subject: String,
    /// Counts and rule parameters (JSON object).
    pub details: serde_json::Value,
    pub first_seen_at: Timestamp,
    pub last_seen_at: Timestamp,
    pub occurrences: i64,
    /// The episode ended (acknowledged, or superseded after a quiet day).
    pub closed_at: Option<Timestamp>,
    pub acknowledged_at: Option<Timestamp>,
    /// `staff:<id>` or `operator`.
    pub acknowledged_by: Option<String>,
    pub emailed_at: Option<Timestamp>,
}

/// The network an address belongs to for the API-key rule: an IPv4 /24 or an IPv6 /48, as
/// CIDR text. An IPv4-mapped IPv6 address counts as the IPv4 one.
pub fn network_of(ip: IpAddr) -> String {
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    };
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            format!("{a}.{b}.{c}.0/24")
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            let net = std::net::Ipv6Addr::new(s[0], s[1], s[2], 0, 0, 0, 0, 0);
            format!("{net}/48")
        }
    }
}

/// The first eight bytes of a blind index in hex: enough to tell subjects apart, nothing to
/// look up.
pub fn short_hex(bytes: &[u8]) -> String {
    bytes.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// The median of the hourly counts (the lower middle one for an even number).
pub fn hourly_median(mut counts: Vec<i64>) -> i64 {
    if counts.is_empty() {
        return 0;
    }
    counts.sort_unstable();
    counts[(counts.len() - 1) / 2]
}

/// How many record reads in the last hour raise an alert, given the usual hourly counts.
pub fn record_reads_limit(usual_hours: Vec<i64>) -> i64 {
    RECORD_READS_FLOOR.max(RECORD_READS_FACTOR.saturating_mul(hourly_median(usual_hours)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks_are_slash_24_and_slash_48_and_mapped_addresses_count_as_ipv4() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(network_of(ip("203.0.113.77")), "203.0.113.0/24");
        assert_eq!(network_of(ip("::ffff:203.0.113.9")), "203.0.113.0/24");
        assert_eq!(network_of(ip("2001:db8:abcd:12::1")), "2001:db8:abcd::/48");
    }

    #[test]
    fn the_record_reads_limit_is_five_times_the_usual_hour_with_a_floor_of_twenty() {
        assert_eq!(record_reads_limit(vec![]), 20);
        assert_eq!(record_reads_limit(vec![1, 2, 3]), 20);
        assert_eq!(record_reads_limit(vec![8, 2, 9, 10]), 40);
        assert_eq!(record_reads_limit(vec![12, 12, 12]), 60);
    }

    #[test]
    fn every_kind_parses_back() {
        for k in AlertKind::ALL {
            assert_eq!(AlertKind::parse(k.as_str()).unwrap(), k);
        }
    }
}
