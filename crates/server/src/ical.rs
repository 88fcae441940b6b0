//! iCalendar (RFC 5545) feeds of appointments (#11): what `GET /calendar/{token}.ics` answers,
//! for staff to subscribe to from any calendar app.
//!
//! Times are written in UTC (`DTSTART:20261207T203000Z`), which RFC 5545 allows for any
//! event and which every calendar app shows in its own time zone; so an appointment keeps its
//! clinic-local time across daylight-saving changes without shipping time zone rules (which
//! would go stale). `X-WR-TIMEZONE` names the clinic's zone for apps that use it.
//!
//! An event says when, which service and which practitioner: **never a patient's name,
//! phone or message**. A subscribed calendar is copied to the calendar provider's cloud and
//! to every device of whoever subscribed, so it gets nothing a leak would expose; staff open
//! the appointment in the dashboard for the rest.
//!
//! Lines end in CRLF and are folded at 75 octets (on character boundaries); text values are
//! escaped (`\\`, `\;`, `\,`, `\n`).

use frontdesk_store::{Appointment, AppointmentStatus, ClinicCatalog};
use jiff::Timestamp;

/// How far back and ahead a feed reaches.
pub const FEED_PAST_DAYS: i64 = 30;
pub const FEED_AHEAD_DAYS: i64 = 180;

/// A time in iCalendar's UTC form, `YYYYMMDDTHHMMSSZ`.
pub fn utc(t: Timestamp) -> String {
    t.strftime("%Y%m%dT%H%M%SZ").to_string()
}

/// A TEXT value escaped (RFC 5545 §3.3.11); control characters other than newline dropped.
pub fn escape_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// Appends one content line, folded at 75 octets (RFC 5545 §3.1), ending in CRLF.
pub fn push_line(out: &mut String, line: &str) {
    let mut used = 0;
    for c in line.chars() {
        let n = c.len_utf8();
        if used + n > 75 {
            out.push_str("\r\n ");
            used = 1;
        }
        out.push(c);
        used += n;
    }
    out.push_str("\r\n");
}

/// Whose appointments a feed shows, for its name.
pub enum FeedOf<'a> {
    Clinic,
    Practitioner(&'a str),
}

/// The whole feed: a `VCALENDAR` with one `VEVENT` per appointment.
pub fn render(
    catalog: &ClinicCatalog,
    of: FeedOf<'_>,
    appointments: &[Appointment],
    now: Timestamp,
) -> String {
    let clinic = &catalog.clinic.profile;
    let mut out = String::with_capacity(512 + appointments.len() * 400);
    let calname = match of {
        FeedOf::Clinic => format!("{} — appointments", clinic.name),
        FeedOf::Practitioner(name) => format!("{} — {name}", clinic.name),
    };
    for line in [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//frontdesk//Calendar feed//EN",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
    ] {
        push_line(&mut out, line);
    }
    push_line(&mut out, &format!("X-WR-CALNAME:{}", escape_text(&calname)));
    push_line(
        &mut out,
        &format!("X-WR-TIMEZONE:{}", escape_text(&clinic.timezone)),
    );
    push_line(&mut out, "REFRESH-INTERVAL;VALUE=DURATION:PT15M");
    push_line(&mut out, "X-PUBLISHED-TTL:PT15M");
    let stamp = utc(now);
    let many = matches!(of, FeedOf::Clinic);
    for a in appointments {
        let service = catalog
            .services
            .iter()
            .find(|s| s.id == a.service_id)
            .map_or("Appointment", |s| s.name.as_str());
        let practitioner = catalog
            .practitioners
            .iter()
            .find(|p| p.id == a.practitioner_id)
            .map_or("", |p| p.name.as_str());
        let summary = if many && !practitioner.is_empty() {
            format!("{service} — {practitioner}")
        } else {
            service.to_owned()
        };
        push_line(&mut out, "BEGIN:VEVENT");
        push_line(&mut out, &format!("UID:{}@frontdesk", a.id));
        push_line(&mut out, &format!("DTSTAMP:{stamp}"));
        push_line(&mut out, &format!("DTSTART:{}", utc(a.starts_at)));
        push_line(&mut out, &format!("DTEND:{}", utc(a.ends_at)));
        push_line(&mut out, &format!("SUMMARY:{}", escape_text(&summary)));
        if !clinic.address.trim().is_empty() {
            push_line(
                &mut out,
                &format!("LOCATION:{}", escape_text(clinic.address.trim())),
            );
        }
        let note = match a.status {
            AppointmentStatus::Confirmed => "Confirmed by the patient.",
            _ => "Booked.",
        };
        push_line(
            &mut out,
            &format!(
                "DESCRIPTION:{}",
                escape_text(&format!(
                    "{note} With {practitioner}. The patient's details are in the frontdesk dashboard."
                ))
            ),
        );
        push_line(&mut out, "STATUS:CONFIRMED");
        push_line(&mut out, "TRANSP:OPAQUE");
        push_line(&mut out, "END:VEVENT");
    }
    push_line(&mut out, "END:VCALENDAR");
    out
}

#[cfg(test)]
#[path = "ical_tests.rs"]
mod tests;
