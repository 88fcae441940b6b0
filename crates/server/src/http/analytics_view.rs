//! Analytics (issue #7 item 6): conversations and calls per day, bookings, red flags,
//! handoffs and reply times, per channel, over the last 7, 30 or 90 days in the clinic's own
//! days, drawn as server-rendered SVG (no script, nothing fetched) with the same numbers in a
//! table for screen readers. `ViewAnalytics` to see it; the booked value only with
//! `ViewRevenue` (Reception Head sees analytics without money).

use super::AppState;
use super::dashboard::{Require, perm, plain as text, store_failed as unavailable};
use askama::Template;
use axum::{
    extract::{Query, State},
    http::StatusCode,
    response::Response,
};
use frontdesk_domain::{Access, Permission};
use frontdesk_store::{AppointmentStatus, Channel, NotificationKind};
use jiff::{SignedDuration, civil::Date, tz::TimeZone};
use std::fmt::Write as _;

#[derive(serde::Deserialize, Default)]
pub struct AnalyticsQuery {
    days: Option<u32>,
}

struct Chart {
    title: &'static str,
    unit: &'static str,
    svg: String,
    total: String,
    rows: Vec<(String, String)>,
}

struct ChannelRow {
    channel: &'static str,
    conversations: usize,
    messages: usize,
    answered: usize,
    p50: String,
    p90: String,
}

#[derive(Template)]
#[template(path = "dashboard/analytics.html")]
struct AnalyticsPage {
    days: u32,
    from: String,
    to: String,
    tz: String,
    charts: Vec<Chart>,
    channels: Vec<ChannelRow>,
    revenue: Option<String>,
    capped: bool,
    llm: Option<LlmRow>,
}

/// The period's language model turns (shown when there were any); the cost only to roles
/// that see money.
struct LlmRow {
    turns: u64,
    answered: u64,
    input_tokens: u64,
    output_tokens: u64,
    cost: Option<String>,
    fallbacks: Vec<(String, u64)>,
}

/// Escapes text for SVG / HTML (the chart is inserted as markup).
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A bar chart of one value per day, with an accessible name and description.
fn bar_chart(id: &str, title: &str, unit: &str, days: &[Date], values: &[f64]) -> String {
    const W: f64 = 640.0;
    const H: f64 = 180.0;
    const LEFT: f64 = 40.0;
    const BOTTOM: f64 = 24.0;
    const TOP: f64 = 10.0;
    let max = values.iter().copied().fold(0.0_f64, f64::max);
    let scale_max = if max <= 0.0 { 1.0 } else { max };
    let n = values.len().max(1) as f64;
    let slot = (W - LEFT) / n;
    let bar = (slot * 0.8).max(1.0);
    let (peak_i, _) =
        values.iter().enumerate().fold(
            (0, f64::MIN),
            |(bi, bv), (i, &v)| if v > bv { (i, v) } else { (bi, bv) },
        );
    let peak_day = days.get(peak_i).map(|d| d.to_string()).unwrap_or_default();
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" class="chart" role="img" aria-labelledby="{id}-t {id}-d"><title id="{id}-t">{t}</title><desc id="{id}-d">{d}</desc>"#,
        t = esc(title),
        d = esc(&format!(
            "{} days; highest {} {unit} on {peak_day}",
            values.len(),
            fmt_num(max)
        )),
    );
    let _ = write!(
        svg,
        r##"<line x1="{LEFT}" y1="{y}" x2="{W}" y2="{y}" stroke="#6e7781"/><text x="{lx}" y="{ty}" font-size="11" text-anchor="end">{top}</text><text x="{lx}" y="{y}" font-size="11" text-anchor="end">0</text>"##,
        y = H - BOTTOM,
        lx = LEFT - 4.0,
        ty = TOP + 8.0,
        top = fmt_num(scale_max),
    );
    for (i, &v) in values.iter().enumerate() {
        let h = (v / scale_max) * (H - BOTTOM - TOP);
        let x = LEFT + i as f64 * slot + (slot - bar) / 2.0;
        let day = days.get(i).map(|d| d.to_string()).unwrap_or_default();
        let _ = write!(
            svg,
            r##"<rect x="{x:.1}" y="{y:.1}" width="{bar:.1}" height="{h:.1}" fill="#0b4f6c"><title>{day}: {v} {unit}</title></rect>"##,
            y = H - BOTTOM - h,
            v = fmt_num(v),
            unit = esc(unit),
        );
    }
    // At most eight date labels along the bottom.
    let every = values.len().div_ceil(8).max(1);
    for (i, d) in days.iter().enumerate().step_by(every) {
        let x = LEFT + i as f64 * slot + slot / 2.0;
        let _ = write!(
            svg,
            r#"<text x="{x:.1}" y="{y}" font-size="11" text-anchor="middle">{label}</text>"#,
            y = H - 6.0,
            label = d.strftime("%-d %b"),
        );
    }
    svg.push_str("</svg>");
    svg
}

fn fmt_num(v: f64) -> String {
    if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

fn fmt_wait(d: Option<SignedDuration>) -> String {
    match d {
        None => "—".into(),
        Some(d) if d < SignedDuration::from_secs(60) => format!("{:.1} s", d.as_secs_f64()),
        Some(d) if d < SignedDuration::from_hours(2) => {
            format!("{:.1} min", d.as_secs_f64() / 60.0)
        }
        Some(d) => format!("{:.1} h", d.as_secs_f64() / 3600.0),
    }
}

/// The `q`-quantile (0..=1) of sorted durations.
fn quantile(sorted: &[SignedDuration], q: f64) -> Option<SignedDuration> {
    if sorted.is_empty() {
        return None;
    }
    let i = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted.get(i).copied()
}

/// `GET /dashboard/analytics?days=7|30|90`.
pub async fn analytics_page(
    State(st): State<AppState>,
    Require { staff, .. }: Require<perm::ViewAnalytics>,
    Query(q): Query<AnalyticsQuery>,
) -> Response {
    let s = staff.session();
    if s.role.access(Permission::ViewAnalytics) != Access::All {
        return text(StatusCode::FORBIDDEN, "Your role does not allow this.");
    }
    let days = q.days.filter(|d| [7, 30, 90].contains(d)).unwrap_or(30);
    let catalog = match st.store.clinic_catalog(s.scope).await {
        Ok(c) => c,
        Err(e) => return unavailable(&e),
    };
    let tz_name = catalog.clinic.profile.timezone.as_str().to_owned();
    let Ok(tz) = TimeZone::get(&tz_name) else {
        tracing::error!("the clinic's time zone is unknown");
        return text(StatusCode::SERVICE_UNAVAILABLE, "Please try again shortly.");
    };
    let today = st.clock.now().to_zoned(tz.clone()).date();
    let span = |n: i64| jiff::Span::new().days(n);
    let bounds = (|| {
        let first = today.checked_sub(span(i64::from(days) - 1)).ok()?;
        let from = first.to_zoned(tz.clone()).ok()?.timestamp();
        let to = today
            .checked_add(span(1))
            .ok()?
            .to_zoned(tz.clone())
            .ok()?
            .timestamp();
        let dates: Vec<Date> = (0..i64::from(days))
            .filter_map(|i| first.checked_add(span(i)).ok())
            .collect();
        Some((first, from, to, dates))
    })();
    let Some((first, from, to, dates)) = bounds else {
        return text(StatusCode::SERVICE_UNAVAILABLE, "Please try again shortly.");
    };
    let activity = match st.store.activity(s.scope, from, to).await {
        Ok(a) => a,
        Err(e) => return unavailable(&e),
    };
    let llm_usage = match st.store.llm_usage_summary(s.scope, from, to).await {
        Ok(u) => u,
        Err(e) => return unavailable(&e),
    };
    let n = dates.len();
    let day_of = |t: jiff::Timestamp| -> Option<usize> {
        let d = t.to_zoned(tz.clone()).date();
        let i = first.until(d).ok()?.get_days();
        usize::try_from(i).ok().filter(|&i| i < n)
    };
    let mut conversations = vec![0.0; n];
    let mut calls = vec![0.0; n];
    let mut bookings = vec![0.0; n];
    let mut red_flags = vec![0.0; n];
    let mut handoffs = vec![0.0; n];
    let mut waits: Vec<Vec<SignedDuration>> = vec![Vec::new(); n];
    for (t, _) in &activity.conversations {
        if let Some(i) = day_of(*t) {
            conversations[i] += 1.0;
        }
    }
    for t in &activity.calls {
        if let Some(i) = day_of(*t) {
            calls[i] += 1.0;
        }
    }
    for (t, _, _) in &activity.bookings {
        if let Some(i) = day_of(*t) {
            bookings[i] += 1.0;
        }
    }
    for (t, kind) in &activity.alerts {
        if let Some(i) = day_of(*t) {
            match kind {
                NotificationKind::Emergency | NotificationKind::Urgent => red_flags[i] += 1.0,
                NotificationKind::Handoff => handoffs[i] += 1.0,
                _ => {}
            }
        }
    }
    for (t, _, waited) in &activity.replies {
        if let (Some(i), Some(w)) = (day_of(*t), waited) {
            waits[i].push(*w);
        }
    }
    let median_secs: Vec<f64> = waits
        .iter_mut()
        .map(|w| {
            w.sort();
            quantile(w, 0.5).map_or(0.0, |d| d.as_secs_f64())
        })
        .collect();
    let chart =
        |id: &str, title: &'static str, unit: &'static str, values: Vec<f64>, total: String| {
            Chart {
                title,
                unit,
                svg: bar_chart(id, title, unit, &dates, &values),
                total,
                rows: dates
                    .iter()
                    .zip(&values)
                    .map(|(d, v)| (d.to_string(), fmt_num(*v)))
                    .collect(),
            }
        };
    let sum = |v: &[f64]| fmt_num(v.iter().sum());
    let all_waits = {
        let mut w: Vec<SignedDuration> = activity.replies.iter().filter_map(|r| r.2).collect();
        w.sort();
        w
    };
    let charts = vec![
        chart(
            "conv",
            "Conversations started",
            "conversations",
            conversations.clone(),
            sum(&conversations),
        ),
        chart("calls", "Phone calls", "calls", calls.clone(), sum(&calls)),
        chart(
            "book",
            "Appointments booked",
            "bookings",
            bookings.clone(),
            sum(&bookings),
        ),
        chart(
            "red",
            "Red flags (emergency or urgent)",
            "red flags",
            red_flags.clone(),
            sum(&red_flags),
        ),
        chart(
            "hand",
            "Handed to staff",
            "handoffs",
            handoffs.clone(),
            sum(&handoffs),
        ),
        chart(
            "wait",
            "Median time to first reply",
            "seconds",
            median_secs,
            format!("median {}", fmt_wait(quantile(&all_waits, 0.5))),
        ),
    ];
    let channels = [
        Channel::Whatsapp,
        Channel::Sms,
        Channel::Webchat,
        Channel::Voice,
    ]
    .into_iter()
    .map(|ch| {
        let mut w: Vec<SignedDuration> = activity
            .replies
            .iter()
            .filter(|r| r.1 == ch)
            .filter_map(|r| r.2)
            .collect();
        w.sort();
        ChannelRow {
            channel: ch.as_str(),
            conversations: activity.conversations.iter().filter(|c| c.1 == ch).count(),
            messages: activity.replies.iter().filter(|r| r.1 == ch).count(),
            answered: w.len(),
            p50: fmt_wait(quantile(&w, 0.5)),
            p90: fmt_wait(quantile(&w, 0.9)),
        }
    })
    .collect();
    let revenue = (s.role.access(Permission::ViewRevenue) == Access::All).then(|| {
        let minor: i64 = activity
            .bookings
            .iter()
            .filter(|b| b.2 != AppointmentStatus::Cancelled)
            .filter_map(|b| catalog.services.iter().find(|sv| sv.id == b.1))
            .filter_map(|sv| sv.price_minor)
            .sum();
        frontdesk_agent::reply::money(minor, &catalog.clinic.profile.currency)
    });
    let sees_money = s.role.access(Permission::ViewRevenue) == Access::All;
    let llm = (llm_usage.turns > 0).then(|| LlmRow {
        turns: llm_usage.turns,
        answered: llm_usage.answered,
        input_tokens: llm_usage.input_tokens,
        output_tokens: llm_usage.output_tokens,
        cost: sees_money.then(|| {
            super::llm_view::money_micros(llm_usage.cost_micros, &catalog.clinic.profile.currency)
        }),
        fallbacks: super::llm_view::usage_lines(&llm_usage),
    });
    let cap = 50_000;
    let capped = activity.conversations.len() >= cap
        || activity.replies.len() >= cap
        || activity.bookings.len() >= cap;
    super::dashboard::page(
        StatusCode::OK,
        &AnalyticsPage {
            days,
            from: first.to_string(),
            to: today.to_string(),
            tz: tz_name,
            charts,
            channels,
            revenue,
            capped,
            llm,
        },
    )
}
