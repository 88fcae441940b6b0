//! The clinic's public profile and opening hours, and the clinic-local time maths on them.
//!
//! Times are stored in UTC everywhere; "is the clinic open now?" is answered by converting to
//! the clinic's IANA time zone with jiff, which is DST-correct.

use crate::DomainError;
use jiff::{Timestamp, civil::Weekday, tz::TimeZone};
use serde::{Deserialize, Serialize};

/// Opening hours for one day, in minutes after local midnight (`open < close <= 1440`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayHours {
    pub open_min: u16,
    pub close_min: u16,
}

impl DayHours {
    pub fn new(open_min: u16, close_min: u16) -> Result<Self, DomainError> {
        if open_min < close_min && close_min <= 24 * 60 {
            Ok(Self {
                open_min,
                close_min,
            })
        } else {
            Err(DomainError::invalid(
                "hours",
                "opening must be before closing, within one day",
            ))
        }
    }

    /// Parses `"08:00-18:00"` (also accepts an en dash).
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        let bad = || DomainError::invalid("hours", "use HH:MM-HH:MM");
        let (a, b) = s.split_once(['-', '–']).ok_or_else(bad)?;
        Self::new(
            parse_hhmm(a.trim()).ok_or_else(bad)?,
            parse_hhmm(b.trim()).ok_or_else(bad)?,
        )
    }
}

fn parse_hhmm(s: &str) -> Option<u16> {
    let (h, m) = s.split_once(':')?;
    let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
    // Checked: `1808:00` would overflow u16 (and panic in a debug build).
    let minutes = h.checked_mul(60)?.checked_add(m)?;
    (h <= 24 && m < 60 && minutes <= 24 * 60).then_some(minutes)
}

fn fmt_hhmm(min: u16) -> String {
    format!("{:02}:{:02}", min / 60, min % 60)
}

/// The weekly opening hours, Monday first. `None` is a closed day.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WeeklyHours(pub [Option<DayHours>; 7]);

/// Short English weekday names, Monday first (as `WeeklyHours` and replies show them).
pub const DAY_NAMES: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

impl WeeklyHours {
    /// Index 0 = Monday.
    pub fn day(&self, weekday: Weekday) -> Option<DayHours> {
        self.0[usize::from(weekday.to_monday_zero_offset().unsigned_abs())]
    }

    /// Whether the clinic is open at `at`, judged in the clinic's own time zone.
    pub fn is_open_at(&self, at: Timestamp, tz: &TimeZone) -> bool {
        let local = at.to_zoned(tz.clone());
        let minute = u16::try_from(local.hour()).unwrap_or(0) * 60
            + u16::try_from(local.minute()).unwrap_or(0);
        self.day(local.weekday())
            .is_some_and(|h| h.open_min <= minute && minute < h.close_min)
    }

    /// Parses a spec like `Mon-Fri 08:00-18:00; Sat 09:00-13:00` (days not named are closed).
    pub fn parse_spec(spec: &str) -> Result<Self, DomainError> {
        let bad =
            || DomainError::invalid("hours", "use e.g. \"Mon-Fri 08:00-18:00; Sat 09:00-13:00\"");
        let day_index = |d: &str| {
            DAY_NAMES
                .iter()
                .position(|n| n.eq_ignore_ascii_case(d.trim()))
        };
        let mut week = WeeklyHours::default();
        for part in spec.split(';').map(str::trim).filter(|p| !p.is_empty()) {
            let (days, range) = part.split_once(' ').ok_or_else(bad)?;
            let hours = DayHours::parse(range.trim())?;
            let (first, last) = match days.split_once(['-', '–']) {
                Some((a, b)) => (day_index(a).ok_or_else(bad)?, day_index(b).ok_or_else(bad)?),
                None => {
                    let d = day_index(days).ok_or_else(bad)?;
                    (d, d)
                }
            };
            if first > last {
                return Err(bad());
            }
            for slot in &mut week.0[first..=last] {
                *slot = Some(hours);
            }
        }
        Ok(week)
    }

    /// Runs of consecutive open days with equal hours: (first day, last day, hours).
    fn runs(&self) -> Vec<(usize, usize, DayHours)> {
        let mut runs = Vec::new();
        let mut i = 0;
        while i < 7 {
            let mut j = i;
            while j + 1 < 7 && self.0[j + 1] == self.0[i] {
                j += 1;
            }
            if let Some(h) = self.0[i] {
                runs.push((i, j, h));
            }
            i = j + 1;
        }
        runs
    }

    /// Human summary grouping equal consecutive days: `Mon–Fri 08:00–18:00, Sat 09:00–13:00`.
    pub fn describe(&self) -> String {
        let parts: Vec<String> = self
            .runs()
            .into_iter()
            .map(|(i, j, h)| {
                let days = if i == j {
                    DAY_NAMES[i].to_owned()
                } else {
                    format!("{}–{}", DAY_NAMES[i], DAY_NAMES[j])
                };
                format!("{days} {}–{}", fmt_hhmm(h.open_min), fmt_hhmm(h.close_min))
            })
            .collect();
        if parts.is_empty() {
            "closed all week".to_owned()
        } else {
            parts.join(", ")
        }
    }

    /// The hours as a spec [`parse_spec`](Self::parse_spec) reads back unchanged:
    /// `Mon-Fri 08:00-18:00; Sat 09:00-13:00` (empty when closed all week).
    pub fn spec(&self) -> String {
        self.runs()
            .into_iter()
            .map(|(i, j, h)| {
                let days = if i == j {
                    DAY_NAMES[i].to_owned()
                } else {
                    format!("{}-{}", DAY_NAMES[i], DAY_NAMES[j])
                };
                format!("{days} {}-{}", fmt_hhmm(h.open_min), fmt_hhmm(h.close_min))
            })
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// Stated when a patient books or cancels, for a clinic that has not written its own policy.
pub const DEFAULT_CANCELLATION_POLICY: &str =
    "Please give at least 24 hours' notice if you can't make it.";

/// What a clinic tells the world about itself. None of it is patient data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClinicProfile {
    pub name: String,
    /// IANA time zone name, e.g. `Pacific/Auckland`.
    pub timezone: String,
    /// ISO 3166-1 alpha-2 country code, e.g. `NZ`.
    pub country: String,
    /// BCP 47 language tags the receptionist speaks, first is the default.
    pub languages: Vec<String>,
    /// Emergency numbers, the first is the one given first.
    pub emergency_numbers: Vec<String>,
    pub address: String,
    pub phone: Option<String>,
    /// ISO 4217 currency, e.g. `NZD`.
    pub currency: String,
    pub hours: WeeklyHours,
    /// Stated to a patient on first contact.
    pub privacy_notice: String,
    /// Stated when a patient books, moves or cancels. Empty: the clinic's FAQ answer about
    /// cancelling, else [`DEFAULT_CANCELLATION_POLICY`].
    #[serde(default)]
    pub cancellation_policy: String,
    /// Hours before an appointment its reminder is sent (0: no reminders).
    #[serde(default = "default_reminder_hours")]
    pub reminder_hours: u32,
    /// Web origins (`https://clinic.example`) whose pages may embed the website widget. Empty:
    /// the widget may not be framed anywhere. See [`parse_widget_origin`].
    #[serde(default)]
    pub widget_origins: Vec<String>,
    /// Minutes without activity after which a staff session ends: 30 by default, at most 720
    /// (12 hours, also every session's absolute lifetime).
    #[serde(default = "default_session_idle_minutes")]
    pub session_idle_minutes: u32,
    /// How long the clinic keeps conversations, recordings and its audit log.
    #[serde(default)]
    pub retention: RetentionPolicy,
    /// The kill switch: while set, the receptionist answers every message with a holding
    /// reply (red-flag advice still goes) and alerts the staff, and books nothing.
    #[serde(default)]
    pub ai_paused: bool,
}

/// How long a clinic keeps what it holds (#8). The defaults: conversations (with their
/// messages and calls) 90 days after their last message, call recordings 30 days, the audit
/// log 7 years.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetentionPolicy {
    pub conversation_days: u32,
    pub recording_days: u32,
    pub audit_years: u32,
}

impl Default for RetentionPolicy {
    fn default() -> Self {
        Self {
            conversation_days: 90,
            recording_days: 30,
            audit_years: 7,
        }
    }
}

impl RetentionPolicy {
    /// Conversations and recordings: 1 day to 10 years; the audit log: 1 to 30 years.
    pub fn validate(&self) -> Result<(), DomainError> {
        if !(1..=3650).contains(&self.conversation_days) {
            return Err(DomainError::invalid(
                "conversation_days",
                "must be 1 to 3650 days",
            ));
        }
        if !(1..=3650).contains(&self.recording_days) {
            return Err(DomainError::invalid(
                "recording_days",
                "must be 1 to 3650 days",
            ));
        }
        if !(1..=30).contains(&self.audit_years) {
            return Err(DomainError::invalid("audit_years", "must be 1 to 30 years"));
        }
        Ok(())
    }
}

/// A staff session's idle timeout unless the clinic sets another.
pub const DEFAULT_SESSION_IDLE_MINUTES: u32 = 30;
/// The longest idle timeout a clinic may set (12 hours).
pub const MAX_SESSION_IDLE_MINUTES: u32 = 720;

fn default_session_idle_minutes() -> u32 {
    DEFAULT_SESSION_IDLE_MINUTES
}

/// Checks and normalises one origin allowed to embed the widget: `https://host[:port]`, with
/// `*.` allowed as the first label and `:*` as the port; plain `http` only for `localhost` and
/// `127.0.0.1` (development). It goes into a `Content-Security-Policy: frame-ancestors` list,
/// so nothing but these characters can pass: no path, query, quote, space or semicolon.
pub fn parse_widget_origin(raw: &str) -> Result<String, DomainError> {
    let bad = |why: &'static str| DomainError::invalid("widget_origins", why);
    let lower = raw.trim().to_ascii_lowercase();
    let lower = lower.strip_suffix('/').unwrap_or(&lower);
    let (scheme, rest) = lower
        .split_once("://")
        .ok_or_else(|| bad("an origin looks like https://clinic.example"))?;
    let (host, port) = match rest.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (rest, None),
    };
    let port_ok = |p: &str| p == "*" || (!p.starts_with('0') && p.parse::<u16>().is_ok());
    if port.is_some_and(|p| !port_ok(p)) {
        return Err(bad("a port is a number from 1 to 65535, or *"));
    }
    let bare = host.strip_prefix("*.").unwrap_or(host);
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    if bare.len() > 253 || !bare.split('.').all(label_ok) {
        return Err(bad(
            "an origin is a scheme and a host name only, like https://clinic.example",
        ));
    }
    let local = host == "localhost" || host == "127.0.0.1";
    match scheme {
        "https" => {}
        "http" if local => {}
        _ => return Err(bad("use https:// (http:// only for localhost)")),
    }
    if !local && !host.contains('.') {
        return Err(bad(
            "use the site's full host name, like https://clinic.example",
        ));
    }
    Ok(lower.to_owned())
}

/// Reminders go out a day ahead unless the clinic says otherwise.
pub const DEFAULT_REMINDER_HOURS: u32 = 24;

fn default_reminder_hours() -> u32 {
    DEFAULT_REMINDER_HOURS
}

impl ClinicProfile {
    /// Checks the fields a clinic could get wrong when creating a tenant.
    pub fn validate(&self) -> Result<(), DomainError> {
        if self.name.trim().is_empty() || self.name.len() > 200 {
            return Err(DomainError::invalid("name", "must be 1 to 200 characters"));
        }
        self.time_zone()?;
        if self.country.len() != 2 || !self.country.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(DomainError::invalid(
                "country",
                "use a two-letter ISO code like NZ",
            ));
        }
        if self.currency.len() != 3 || !self.currency.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(DomainError::invalid(
                "currency",
                "use a three-letter ISO code like NZD",
            ));
        }
        if self.emergency_numbers.is_empty() {
            return Err(DomainError::invalid(
                "emergency_numbers",
                "at least one is required",
            ));
        }
        if self.languages.is_empty() {
            return Err(DomainError::invalid(
                "languages",
                "at least one is required",
            ));
        }
        self.retention.validate()?;
        if !(5..=MAX_SESSION_IDLE_MINUTES).contains(&self.session_idle_minutes) {
            return Err(DomainError::invalid(
                "session_idle_minutes",
                "must be 5 to 720 (12 hours)",
            ));
        }
        if self.reminder_hours > 168 {
            return Err(DomainError::invalid(
                "reminder_hours",
                "must be 0 (off) to 168 (a week)",
            ));
        }
        for origin in &self.widget_origins {
            if parse_widget_origin(origin)?.as_str() != origin {
                return Err(DomainError::invalid(
                    "widget_origins",
                    "write each origin in lower case, without a trailing slash",
                ));
            }
        }
        Ok(())
    }

    /// The clinic's time zone from the bundled IANA database.
    pub fn time_zone(&self) -> Result<TimeZone, DomainError> {
        TimeZone::get(&self.timezone)
            .map_err(|_| DomainError::invalid("timezone", "not a known IANA time zone"))
    }

    /// The emergency numbers as one phrase: `999 or 112`.
    pub fn emergency_phrase(&self) -> String {
        self.emergency_numbers.join(" or ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn harbour_hours() -> WeeklyHours {
        let wd = DayHours::parse("08:00-18:00").ok();
        let sat = DayHours::parse("09:00–13:00").ok();
        WeeklyHours([wd, wd, wd, wd, wd, sat, None])
    }

    #[test]
    fn describe_groups_equal_days() {
        assert_eq!(
            harbour_hours().describe(),
            "Mon–Fri 08:00–18:00, Sat 09:00–13:00"
        );
        assert_eq!(WeeklyHours::default().describe(), "closed all week");
    }

    #[test]
    fn spec_is_read_back_unchanged() {
        let split = WeeklyHours([
            Some(DayHours::new(480, 720).unwrap()),
            None,
            Some(DayHours::new(480, 720).unwrap()),
            Some(DayHours::new(480, 720).unwrap()),
            None,
            None,
            Some(DayHours::new(600, 660).unwrap()),
        ]);
        for w in [harbour_hours(), split, WeeklyHours::default()] {
            assert_eq!(WeeklyHours::parse_spec(&w.spec()).ok(), Some(w.clone()));
        }
        assert_eq!(
            harbour_hours().spec(),
            "Mon-Fri 08:00-18:00; Sat 09:00-13:00"
        );
        assert_eq!(WeeklyHours::default().spec(), "");
    }

    #[test]
    fn spec_round_trips_through_describe() {
        let w = WeeklyHours::parse_spec("Mon-Fri 08:00-18:00; Sat 09:00-13:00").ok();
        assert_eq!(w, Some(harbour_hours()));
        for bad in [
            "Fri-Mon 08:00-18:00",
            "Someday 08:00-09:00",
            "Mon",
            "Mon 9-5",
        ] {
            assert!(WeeklyHours::parse_spec(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn widget_origins_are_plain_origins_that_cannot_break_a_csp() {
        for (raw, want) in [
            ("https://clinic.example", "https://clinic.example"),
            ("HTTPS://Clinic.Example/", "https://clinic.example"),
            ("https://*.clinic.example", "https://*.clinic.example"),
            ("https://clinic.example:8443", "https://clinic.example:8443"),
            ("http://localhost:*", "http://localhost:*"),
            ("http://127.0.0.1:5173", "http://127.0.0.1:5173"),
        ] {
            assert_eq!(
                parse_widget_origin(raw).ok().as_deref(),
                Some(want),
                "{raw}"
            );
        }
        for bad in [
            "clinic.example",
            "http://clinic.example",
            "ftp://clinic.example",
            "https://clinic.example/path",
            "https://clinic.example; script-src *",
            "https://clinic.example 'unsafe-inline'",
            "https://clinic",
            "https://*",
            "https://clinic.example:0",
            "https://clinic.example:99999",
            "https://-bad.example",
            "https://cl\u{ef}nic.example",
            "'self'",
            "*",
        ] {
            assert!(parse_widget_origin(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn hours_parse_rejects_nonsense() {
        for bad in ["18:00-08:00", "8-18", "25:00-26:00", "08:00", "08:60-09:00"] {
            assert!(DayHours::parse(bad).is_err(), "{bad}");
        }
    }

    /// Found by the `domain_text` fuzz target: an hour over 1092 overflowed `h * 60` (a panic
    /// in debug builds) before it was rejected.
    #[test]
    fn hours_with_huge_numbers_are_rejected_without_overflow() {
        for bad in [
            "1808:0–",
            "1808:00-24:00",
            "08:00-65535:59",
            "1093:00-1094:00",
        ] {
            assert!(DayHours::parse(bad).is_err(), "{bad}");
        }
        assert!(WeeklyHours::parse_spec("Mon 1808:00-09:00").is_err());
    }

    #[test]
    fn open_is_judged_in_clinic_time_across_dst() -> Result<(), Box<dyn std::error::Error>> {
        let tz = TimeZone::get("Pacific/Auckland")?;
        let hours = harbour_hours();
        // Mon 2026-09-28 is the first weekday after NZ daylight time starts (Sun 27 Sep):
        // 08:30 NZDT is 19:30 UTC the day before.
        let t: Timestamp = "2026-09-27T19:30:00Z".parse()?;
        assert!(hours.is_open_at(t, &tz));
        // A week earlier NZST (UTC+12): the same UTC time is 07:30 local, still closed.
        let t: Timestamp = "2026-09-20T19:30:00Z".parse()?;
        assert!(!hours.is_open_at(t, &tz));
        // Sunday is closed all day.
        let t: Timestamp = "2026-09-26T23:00:00Z".parse()?;
        assert!(!hours.is_open_at(t, &tz));
        Ok(())
    }

    #[test]
    fn unknown_time_zone_is_rejected() {
        let p = ClinicProfile {
            name: "X".into(),
            timezone: "Mars/Olympus".into(),
            country: "NZ".into(),
            languages: vec!["en".into()],
            emergency_numbers: vec!["111".into()],
            address: String::new(),
            phone: None,
            currency: "NZD".into(),
            hours: WeeklyHours::default(),
            privacy_notice: String::new(),
            cancellation_policy: String::new(),
            reminder_hours: DEFAULT_REMINDER_HOURS,
            widget_origins: vec![],
            session_idle_minutes: DEFAULT_SESSION_IDLE_MINUTES,
            retention: Default::default(),
            ai_paused: false,
        };
        assert_eq!(
            p.validate().map_err(|e| e.code()),
            Err("invalid_timezone".to_owned())
        );
    }
}
