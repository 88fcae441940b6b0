//! The FHIR R4 read API on both engines: the CapabilityStatement, every resource type read
//! and searched with a clinic's API key, refusals as OperationOutcomes (no key 401, a missing
//! scope 403, another clinic's ids 404, bad parameters 400), the Appointment search's date,
//! practitioner, status and `_lastUpdated` filters and its `next` pages, audited Patient
//! reads, and every resource answered checked against the official FHIR 4.0.1 JSON schema.

use crate::both_engines;
use crate::harness::TestApp;
use frontdesk_domain::{ApiScopes, E164Phone, PatientId};
use frontdesk_store::{
    Actor, Appointment, NewApiKey, NewAppointment, NewPatient, SlotSearch, TenantScope,
};
use serde_json::Value;
use std::path::PathBuf;

both_engines!(
    resources_are_read_and_searched_with_a_key_and_fit_the_fhir_schema,
    refusals_are_operation_outcomes,
    appointment_searches_filter_and_page,
);

const CLINIC: &str = "harbour-physio";
const ALL: &str = "schedule:read appointments:read patients:read";

async fn key(app: &TestApp, scope: TenantScope, scopes: &str) -> String {
    app.store
        .create_api_key(
            scope,
            &NewApiKey {
                name: "fhir client".into(),
                scopes: ApiScopes::parse(scopes).unwrap(),
                rate_per_minute: 6000,
            },
            Actor::Operator,
        )
        .await
        .unwrap()
        .key
        .to_string()
}

async fn get(app: &TestApp, key: Option<&str>, path: &str) -> reqwest::Response {
    let mut req = app.client.get(app.url(path));
    if let Some(k) = key {
        req = req.bearer_auth(k);
    }
    req.send().await.unwrap()
}

/// A 200 `application/fhir+json` answer's body; each is also kept for the schema check.
async fn fhir(resp: reqwest::Response, seen: &mut Vec<Value>) -> Value {
    let status = resp.status();
    let ctype = resp.headers()["content-type"].to_str().unwrap().to_owned();
    let body = resp.text().await.unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(ctype, "application/fhir+json; charset=utf-8");
    let v: Value = serde_json::from_str(&body).unwrap();
    seen.push(v.clone());
    v
}

/// Books `n` appointments at the first free times of the clinic's first practitioner and
/// service, for new patients.
async fn booked(app: &TestApp, scope: TenantScope, n: usize) -> Vec<Appointment> {
    let catalog = app.store.clinic_catalog(scope).await.unwrap();
    let service = &catalog.services[0];
    let practitioner = service
        .practitioners
        .first()
        .copied()
        .unwrap_or(catalog.practitioners[0].id);
    let today = jiff::Timestamp::now()
        .to_zoned(jiff::tz::TimeZone::get(&catalog.clinic.profile.timezone).unwrap())
        .date();
    let slots = app
        .store
        .free_slots(
            scope,
            &SlotSearch {
                practitioner,
                service: service.id,
                from: today,
                to: today.checked_add(jiff::Span::new().days(14)).unwrap(),
                min_notice: jiff::SignedDuration::from_hours(2),
                day_start: None,
                day_end: None,
                limit: 50,
            },
        )
        .await
        .unwrap();
    let mut out = Vec::new();
    // Every other slot, so bookings never overlap their neighbours' buffers.
    for (i, slot) in slots.iter().step_by(3).take(n).enumerate() {
        let patient: PatientId = app
            .store
            .create_patient(
                scope,
                &NewPatient {
                    name: Some(format!("Fhir Patient {i}")),
                    phone: Some(E164Phone::parse(&format!("+6421555070{i}")).unwrap()),
                    language: Some("mi".into()),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        out.push(
            app.store
                .book_appointment(
                    scope,
                    &NewAppointment {
                        patient,
                        practitioner,
                        service: service.id,
                        starts_at: slot.start,
                        idempotency_key: format!("fhir-{i}"),
                        actor: Actor::Agent,
                    },
                )
                .await
                .unwrap(),
        );
    }
    assert_eq!(out.len(), n, "enough free times");
    out
}

fn ids(bundle: &Value, kind: &str) -> Vec<String> {
    assert_eq!(bundle["resourceType"], "Bundle");
    assert_eq!(bundle["type"], "searchset");
    bundle["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            assert_eq!(e["resource"]["resourceType"], kind);
            let id = e["resource"]["id"].as_str().unwrap().to_owned();
            assert!(
                e["fullUrl"]
                    .as_str()
                    .unwrap()
                    .ends_with(&format!("/fhir/r4/{kind}/{id}"))
            );
            id
        })
        .collect()
}

/// The FHIR validator package, or `None` (skipped loudly) where it is not installed; under
/// FRONTDESK_REQUIRE_FHIR_SCHEMA (CI) its absence fails.
fn validator() -> Option<PathBuf> {
    let dir = std::env::var_os("FRONTDESK_FHIR_VALIDATOR")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| {
                PathBuf::from(h).join(".cache/frontdesk/fhir/node_modules/@d4l/js-fhir-validator")
            })
        })
        .filter(|d| d.join("r4/js/Appointment.js").is_file());
    if dir.is_none() {
        assert!(
            std::env::var_os("FRONTDESK_REQUIRE_FHIR_SCHEMA").is_none(),
            "FRONTDESK_REQUIRE_FHIR_SCHEMA is set but @d4l/js-fhir-validator is not installed"
        );
        eprintln!(
            "\n#### SKIPPED: the FHIR JSON schema check (install: cd ~/.cache/frontdesk/fhir && npm install @d4l/js-fhir-validator@1.0.5)\n"
        );
    }
    dir
}

/// Checks every resource in `seen` (Bundles entry by entry) against the FHIR 4.0.1 schema.
fn schema_check(seen: &[Value]) {
    let Some(dir) = validator() else {
        return;
    };
    let file = tempfile::NamedTempFile::new().unwrap();
    let lines: Vec<String> = seen.iter().map(Value::to_string).collect();
    std::fs::write(file.path(), lines.join("\n")).unwrap();
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/support/fhir_validate.js"
    );
    let out = std::process::Command::new("node")
        .arg(script)
        .arg(&dir)
        .arg(file.path())
        .output()
        .expect("node runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "FHIR schema: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.trim().ends_with("valid"), "{text}");
}

async fn resources_are_read_and_searched_with_a_key_and_fit_the_fhir_schema(app: TestApp) {
    let scope = app.scope(CLINIC).await;
    let k = key(&app, scope, ALL).await;
    let appts = booked(&app, scope, 2).await;
    let mut seen = Vec::new();

    let meta = fhir(get(&app, None, "/fhir/r4/metadata").await, &mut seen).await;
    assert_eq!(meta["resourceType"], "CapabilityStatement");
    assert_eq!(meta["fhirVersion"], "4.0.1");

    let practitioners = fhir(
        get(&app, Some(&k), "/fhir/r4/Practitioner").await,
        &mut seen,
    )
    .await;
    let pids = ids(&practitioners, "Practitioner");
    assert!(pids.contains(&appts[0].practitioner_id.to_string()));
    let one = fhir(
        get(
            &app,
            Some(&k),
            &format!("/fhir/r4/Practitioner/{}", pids[0]),
        )
        .await,
        &mut seen,
    )
    .await;
    assert_eq!(one["id"], pids[0].as_str());

    let services = fhir(
        get(&app, Some(&k), "/fhir/r4/HealthcareService").await,
        &mut seen,
    )
    .await;
    let sids = ids(&services, "HealthcareService");
    fhir(
        get(
            &app,
            Some(&k),
            &format!("/fhir/r4/HealthcareService/{}", sids[0]),
        )
        .await,
        &mut seen,
    )
    .await;

    let schedules = fhir(get(&app, Some(&k), "/fhir/r4/Schedule").await, &mut seen).await;
    assert_eq!(
        ids(&schedules, "Schedule").len(),
        pids.len(),
        "one schedule per practitioner"
    );
    let pid = appts[0].practitioner_id;
    let schedule = fhir(
        get(&app, Some(&k), &format!("/fhir/r4/Schedule/{pid}")).await,
        &mut seen,
    )
    .await;
    assert_eq!(
        schedule["actor"][0]["reference"],
        format!("Practitioner/{pid}")
    );

    let slots = fhir(
        get(
            &app,
            Some(&k),
            &format!("/fhir/r4/Slot?schedule=Schedule/{pid}&_count=5"),
        )
        .await,
        &mut seen,
    )
    .await;
    let entries = slots["entry"].as_array().unwrap();
    assert!(!entries.is_empty() && entries.len() <= 5, "{slots}");
    for e in entries {
        assert_eq!(e["resource"]["status"], "free");
        assert_eq!(
            e["resource"]["schedule"]["reference"],
            format!("Schedule/{pid}")
        );
        // A free time is not one already booked.
        let start = e["resource"]["start"].as_str().unwrap();
        assert!(
            appts
                .iter()
                .all(|a| a.starts_at.strftime("%Y-%m-%dT%H:%M:%SZ").to_string() != start)
        );
    }

    let a = &appts[0];
    let read = fhir(
        get(&app, Some(&k), &format!("/fhir/r4/Appointment/{}", a.id)).await,
        &mut seen,
    )
    .await;
    assert_eq!(read["status"], "booked");
    assert_eq!(
        read["participant"][0]["actor"]["reference"],
        format!("Patient/{}", a.patient_id)
    );
    assert_eq!(
        read["participant"][1]["actor"]["reference"],
        format!("Practitioner/{pid}")
    );
    assert!(read["meta"]["lastUpdated"].as_str().unwrap().ends_with('Z'));
    let list = fhir(get(&app, Some(&k), "/fhir/r4/Appointment").await, &mut seen).await;
    assert!(ids(&list, "Appointment").contains(&a.id.to_string()));

    let patient = fhir(
        get(
            &app,
            Some(&k),
            &format!("/fhir/r4/Patient/{}", a.patient_id),
        )
        .await,
        &mut seen,
    )
    .await;
    assert_eq!(patient["name"][0]["text"], "Fhir Patient 0");
    assert!(
        !patient.to_string().contains("21555070"),
        "no phone: {patient}"
    );
    let audit = app.store.audit_entries(scope, 0, u32::MAX).await.unwrap();
    let viewed = audit
        .iter()
        .filter(|e| {
            e.action == "patient.viewed"
                && e.target_id.as_deref() == Some(&a.patient_id.to_string())
        })
        .count();
    assert_eq!(viewed, 1, "the read is audited");

    // And refusals are OperationOutcomes the schema accepts.
    let missing = get(
        &app,
        Some(&k),
        "/fhir/r4/Patient/00000000-0000-7000-8000-000000000000",
    )
    .await;
    assert_eq!(missing.status(), 404);
    seen.push(missing.json().await.unwrap());
    schema_check(&seen);
}

async fn outcome(resp: reqwest::Response, status: u16, code: &str) -> reqwest::header::HeaderMap {
    assert_eq!(resp.status().as_u16(), status, "{code}");
    let headers = resp.headers().clone();
    assert_eq!(
        headers["content-type"],
        "application/fhir+json; charset=utf-8"
    );
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["resourceType"], "OperationOutcome", "{v}");
    assert_eq!(v["issue"][0]["details"]["coding"][0]["code"], code, "{v}");
    assert!(
        v["issue"][0]["details"]["text"]
            .as_str()
            .is_some_and(|t| !t.is_empty())
    );
    headers
}

async fn refusals_are_operation_outcomes(app: TestApp) {
    let scope = app.scope(CLINIC).await;
    let other = app.scope("nairobi-family").await;
    let k = key(&app, scope, ALL).await;
    let schedule_only = key(&app, scope, "schedule:read").await;
    let theirs = booked(&app, other, 1).await;

    let h = outcome(
        get(&app, None, "/fhir/r4/Practitioner").await,
        401,
        "invalid_api_key",
    )
    .await;
    assert_eq!(h["www-authenticate"], "Bearer");
    outcome(
        get(&app, Some("fdk_nonsense"), "/fhir/r4/Appointment").await,
        401,
        "invalid_api_key",
    )
    .await;
    outcome(
        get(&app, Some(&schedule_only), "/fhir/r4/Appointment").await,
        403,
        "insufficient_scope",
    )
    .await;
    outcome(
        get(
            &app,
            Some(&schedule_only),
            &format!("/fhir/r4/Patient/{}", theirs[0].patient_id),
        )
        .await,
        403,
        "insufficient_scope",
    )
    .await;
    // Another clinic's ids are simply not found.
    for path in [
        format!("/fhir/r4/Appointment/{}", theirs[0].id),
        format!("/fhir/r4/Patient/{}", theirs[0].patient_id),
        format!("/fhir/r4/Practitioner/{}", theirs[0].practitioner_id),
        format!("/fhir/r4/Schedule/{}", theirs[0].practitioner_id),
        format!("/fhir/r4/HealthcareService/{}", theirs[0].service_id),
        format!(
            "/fhir/r4/Slot?schedule=Schedule/{}",
            theirs[0].practitioner_id
        ),
        "/fhir/r4/Appointment/not-an-id".to_owned(),
    ] {
        outcome(get(&app, Some(&k), &path).await, 404, "not_found").await;
    }
    // Their appointment is not in our search by their practitioner either.
    let mut seen = Vec::new();
    let none = fhir(
        get(
            &app,
            Some(&k),
            &format!(
                "/fhir/r4/Appointment?practitioner=Practitioner/{}",
                theirs[0].practitioner_id
            ),
        )
        .await,
        &mut seen,
    )
    .await;
    assert!(none["entry"].as_array().unwrap().is_empty());
    for (path, code) in [
        ("/fhir/r4/Appointment?date=tomorrow", "invalid_date"),
        ("/fhir/r4/Appointment?date=ne2026-12-07", "invalid_date"),
        (
            "/fhir/r4/Appointment?_lastUpdated=ge2026-12-07T09:00:00",
            "invalid_last_updated",
        ),
        ("/fhir/r4/Appointment?status=maybe", "invalid_status"),
        (
            "/fhir/r4/Appointment?practitioner=Practitioner/x",
            "invalid_practitioner",
        ),
        ("/fhir/r4/Appointment?_count=0", "invalid_count"),
        ("/fhir/r4/Appointment?_cursor=bm9wZQ", "invalid_cursor"),
        ("/fhir/r4/Slot", "missing_schedule"),
        ("/fhir/r4/Slot?schedule=Schedule/x", "invalid_schedule"),
    ] {
        outcome(get(&app, Some(&k), path).await, 400, code).await;
    }
}

async fn appointment_searches_filter_and_page(app: TestApp) {
    let scope = app.scope(CLINIC).await;
    let k = key(&app, scope, ALL).await;
    let appts = booked(&app, scope, 3).await;
    app.store
        .cancel_appointment(scope, appts[1].id, Actor::Agent)
        .await
        .unwrap();
    let mut seen = Vec::new();
    let day = |a: &Appointment| {
        let tz = jiff::tz::TimeZone::get("Pacific/Auckland").unwrap();
        a.starts_at.to_zoned(tz).date().to_string()
    };
    let first_day = day(&appts[0]);
    let last_day = day(&appts[2]);
    let ours = |b: &Value| -> Vec<String> {
        ids(b, "Appointment")
            .into_iter()
            .filter(|id| appts.iter().any(|a| a.id.to_string() == *id))
            .collect()
    };
    let window = format!("date=ge{first_day}&date=le{last_day}");
    let all = fhir(
        get(&app, Some(&k), &format!("/fhir/r4/Appointment?{window}")).await,
        &mut seen,
    )
    .await;
    assert_eq!(ours(&all).len(), 3, "{all}");
    let booked_only = fhir(
        get(
            &app,
            Some(&k),
            &format!("/fhir/r4/Appointment?{window}&status=booked"),
        )
        .await,
        &mut seen,
    )
    .await;
    assert_eq!(
        ours(&booked_only),
        [appts[0].id.to_string(), appts[2].id.to_string()]
    );
    let cancelled = fhir(
        get(
            &app,
            Some(&k),
            &format!("/fhir/r4/Appointment?{window}&status=cancelled,noshow"),
        )
        .await,
        &mut seen,
    )
    .await;
    assert_eq!(ours(&cancelled), [appts[1].id.to_string()]);
    let waitlist = fhir(
        get(
            &app,
            Some(&k),
            &format!("/fhir/r4/Appointment?{window}&status=waitlist"),
        )
        .await,
        &mut seen,
    )
    .await;
    assert!(ids(&waitlist, "Appointment").is_empty());
    let by_patient = fhir(
        get(
            &app,
            Some(&k),
            &format!(
                "/fhir/r4/Appointment?patient=Patient/{}",
                appts[2].patient_id
            ),
        )
        .await,
        &mut seen,
    )
    .await;
    assert_eq!(ids(&by_patient, "Appointment"), [appts[2].id.to_string()]);
    // _lastUpdated: nothing has changed since an hour from now; everything since an hour ago.
    let later = (jiff::Timestamp::now() + jiff::SignedDuration::from_hours(1))
        .strftime("%Y-%m-%dT%H:%M:%SZ");
    let earlier = (jiff::Timestamp::now() - jiff::SignedDuration::from_hours(1))
        .strftime("%Y-%m-%dT%H:%M:%SZ");
    let none = fhir(
        get(
            &app,
            Some(&k),
            &format!("/fhir/r4/Appointment?_lastUpdated=ge{later}"),
        )
        .await,
        &mut seen,
    )
    .await;
    assert!(ids(&none, "Appointment").is_empty());
    let recent = fhir(
        get(
            &app,
            Some(&k),
            &format!("/fhir/r4/Appointment?_lastUpdated=ge{earlier}"),
        )
        .await,
        &mut seen,
    )
    .await;
    assert_eq!(ours(&recent).len(), 3);

    // Pages of one, through the next links, give each once and in start order.
    let mut url = format!("/fhir/r4/Appointment?{window}&_count=1");
    let mut got = Vec::new();
    for _ in 0..20 {
        let page = fhir(get(&app, Some(&k), &url).await, &mut seen).await;
        got.extend(ours(&page));
        let next = page["link"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["relation"] == "next")
            .map(|l| l["url"].as_str().unwrap().to_owned());
        match next {
            Some(n) => url = n[n.find("/fhir/r4/").unwrap()..].to_owned(),
            None => break,
        }
    }
    let expected: Vec<String> = appts.iter().map(|a| a.id.to_string()).collect();
    assert_eq!(got, expected);
    schema_check(&seen);
}
