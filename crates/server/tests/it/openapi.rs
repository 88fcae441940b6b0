//! The OpenAPI document at `/v1/openapi.json`: every public route of the router is described
//! and every described route answers, its references resolve, and schemathesis (PyPI) finds
//! no 5xx and no answer that breaks the schema on a live server with a key of every scope.

use crate::harness::{TestApp, spawn_app};
use frontdesk_domain::ApiScopes;
use frontdesk_store::testing::Engine;
use frontdesk_store::{Actor, NewApiKey};
use serde_json::Value;
use std::path::PathBuf;

/// The public paths the router declares (string literals and the two path constants).
fn routed_paths() -> Vec<String> {
    let src = include_str!("../../src/http/mod.rs");
    let mut out: Vec<String> = src
        .split('"')
        .filter(|s| s.starts_with("/v1/") || s.starts_with("/webhooks/"))
        .map(str::to_owned)
        .collect();
    assert!(src.contains("crate::channels::voice::VOICE_PATH"));
    assert!(src.contains("crate::recordings::RECORDING_PATH"));
    out.push(frontdesk_server::channels::voice::VOICE_PATH.to_owned());
    out.push(frontdesk_server::recordings::RECORDING_PATH.to_owned());
    out.sort();
    out.dedup();
    out
}

async fn document(app: &TestApp) -> Value {
    let resp = app
        .client
        .get(app.url("/v1/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/json");
    resp.json().await.unwrap()
}

/// Every `$ref` in `v` names something that exists in `doc`.
fn check_refs(doc: &Value, v: &Value, at: &str) {
    match v {
        Value::Object(m) => {
            if let Some(Value::String(r)) = m.get("$ref") {
                let pointer = r.strip_prefix('#').unwrap_or_else(|| panic!("{at}: {r}"));
                assert!(doc.pointer(pointer).is_some(), "{at}: {r} does not resolve");
            }
            for (k, x) in m {
                check_refs(doc, x, &format!("{at}/{k}"));
            }
        }
        Value::Array(a) => a.iter().for_each(|x| check_refs(doc, x, at)),
        _ => {}
    }
}

#[tokio::test]
async fn every_route_is_described_and_answers_and_every_reference_resolves() {
    let app = spawn_app(Engine::Sqlite).await.unwrap();
    let doc = document(&app).await;
    assert_eq!(doc["openapi"], "3.1.0");
    check_refs(&doc, &doc, "");
    let paths = doc["paths"].as_object().unwrap();
    let routed = routed_paths();
    for p in &routed {
        assert!(paths.contains_key(p), "{p} is routed but not described");
    }
    for (path, ops) in paths {
        assert!(routed.contains(path), "{path} is described but not routed");
        for (method, op) in ops.as_object().unwrap() {
            assert!(
                op["responses"]["default"]["$ref"] == "#/components/responses/Error",
                "{method} {path}: errors have the one shape"
            );
            // The route exists for that method: whatever it answers, it is not the router's
            // own "no such page" or "method not allowed".
            let url = app.url(
                &path
                    .replace("{id}", &uuid::Uuid::new_v4().to_string())
                    .replace("{tenant_slug}", "harbour-physio")
                    .replace("{address}", "12345")
                    .replace("{token}", "x"),
            );
            let req = match method.as_str() {
                "get" => app.client.get(url),
                "post" => app.client.post(url),
                other => panic!("{other} {path}"),
            };
            let resp = req.send().await.unwrap();
            let status = resp.status().as_u16();
            let body = resp.text().await.unwrap();
            assert_ne!(status, 405, "{method} {path}");
            assert!(!body.contains("No such page."), "{method} {path}: {body}");
        }
    }
    app.finish().await;
}

/// `schemathesis` from FRONTDESK_SCHEMATHESIS, PATH, or the virtualenv `.ci/run` makes.
fn schemathesis_or_skip() -> Option<PathBuf> {
    let candidates = [
        std::env::var_os("FRONTDESK_SCHEMATHESIS").map(PathBuf::from),
        std::env::var_os("HOME")
            .map(|h| PathBuf::from(h).join(".cache/frontdesk/schemathesis/bin/schemathesis")),
    ];
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("schemathesis"))
            .find(|p| p.is_file())
    });
    if let Some(found) = candidates
        .into_iter()
        .flatten()
        .chain(on_path)
        .find(|p| p.is_file())
    {
        return Some(found);
    }
    if std::env::var_os("FRONTDESK_REQUIRE_SCHEMATHESIS").is_some_and(|v| !v.is_empty()) {
        panic!(
            "FRONTDESK_REQUIRE_SCHEMATHESIS is set but schemathesis was not found: \
             python3 -m venv ~/.cache/frontdesk/schemathesis && ~/.cache/frontdesk/schemathesis/bin/pip install schemathesis"
        );
    }
    eprintln!(
        "\n################################################################\n\
         #  schemathesis is not installed: the OpenAPI conformance run is SKIPPED.\n\
         #  python3 -m venv ~/.cache/frontdesk/schemathesis && ~/.cache/frontdesk/schemathesis/bin/pip install schemathesis\n\
         ################################################################\n"
    );
    None
}

#[tokio::test]
async fn schemathesis_finds_no_server_error_and_no_answer_outside_the_schema() {
    let Some(bin) = schemathesis_or_skip() else {
        return;
    };
    let app = spawn_app(Engine::Sqlite).await.unwrap();
    let scope = app.scope("harbour-physio").await;
    let key = app
        .store
        .create_api_key(
            scope,
            &NewApiKey {
                name: "schemathesis".into(),
                scopes: ApiScopes::from_scopes(frontdesk_domain::ApiScope::ALL).unwrap(),
                rate_per_minute: frontdesk_store::api_key::MAX_RATE_PER_MINUTE,
            },
            Actor::Operator,
        )
        .await
        .unwrap();
    let schema = app.url("/v1/openapi.json");
    let base = app.url("");
    let auth = format!("Authorization: Bearer {}", key.key.as_str());
    // Real ids, so that generated calls reach the handlers' logic instead of answering 404:
    // a web chat with its patient, a practitioner, a service and an appointment.
    let (token, conversation) = app.start_chat("harbour-physio").await;
    app.ask("harbour-physio", &token, "Hello").await;
    let conv = app
        .store
        .conversation(
            scope,
            frontdesk_domain::ConversationId::parse(&conversation).unwrap(),
        )
        .await
        .unwrap();
    let service = app.store.list_services(scope).await.unwrap().remove(0);
    let practitioner = service.practitioners[0];
    let slot = app
        .store
        .free_slots(
            scope,
            &frontdesk_store::SlotSearch {
                practitioner,
                service: service.id,
                from: jiff::Zoned::now().date(),
                to: jiff::Zoned::now().date() + jiff::Span::new().days(14),
                min_notice: jiff::SignedDuration::from_hours(2),
                day_start: None,
                day_end: None,
                limit: 1,
            },
        )
        .await
        .unwrap()
        .remove(0);
    let appointment = app
        .store
        .book_appointment(
            scope,
            &frontdesk_store::NewAppointment {
                patient: conv.patient_id,
                practitioner,
                service: service.id,
                starts_at: slot.start,
                idempotency_key: "schemathesis".into(),
                actor: Actor::Operator,
            },
        )
        .await
        .unwrap();
    // Its example database goes to a scratch directory, not into the source tree, with the
    // config naming those ids.
    let scratch = tempfile::tempdir().unwrap();
    let cwd = scratch.path().to_owned();
    let config = format!(
        r#"[parameters]
"query.practitioner" = "{practitioner}"
"query.service" = "{service}"
"path.tenant_slug" = "harbour-physio"

[[operations]]
include-path-regex = "^/v1/appointments/"
parameters = {{ "path.id" = "{appointment}" }}

[[operations]]
include-path = "/v1/patients/{{id}}"
parameters = {{ "path.id" = "{patient}" }}

[[operations]]
include-path-regex = "^/v1/conversations/"
parameters = {{ "path.id" = "{conversation}" }}

[[operations]]
include-path-regex = "^/v1/webchat/"
headers = {{ Authorization = "Bearer {token}" }}
"#,
        service = service.id,
        appointment = appointment.id,
        patient = conv.patient_id,
    );
    std::fs::write(cwd.join("schemathesis.toml"), config).unwrap();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(bin)
            .current_dir(cwd)
            .args(["--config-file", "schemathesis.toml"])
            .args(["run", &schema, "--url", &base, "-H", &auth])
            .args(["--checks", "not_a_server_error,response_schema_conformance"])
            .args(["--max-examples", "30", "--seed", "42", "--no-color"])
            .env("SCHEMATHESIS_HOOKS", "")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "schemathesis failed:\n{stdout}\n{stderr}"
    );
    // It really ran: every operation it selected was tested, and cases passed.
    eprintln!("{stdout}");
    let field = |name: &str| {
        stdout
            .lines()
            .find_map(|l| l.trim().strip_prefix(name))
            .map(|v| v.trim().to_owned())
            .unwrap_or_else(|| panic!("no `{name}` in:\n{stdout}"))
    };
    let selected = field("Selected:");
    let (of, total) = selected.split_once('/').unwrap();
    assert_eq!(of, total, "every operation selected");
    assert_eq!(field("Tested:"), of, "every selected operation tested");
    assert!(of.parse::<u32>().unwrap() >= 20, "{selected}");
    app.finish().await;
}

/// Whether `value` fits the described `schema` as far as this document uses JSON Schema:
/// required keys present, no undescribed keys, `const` and `enum` kept.
fn fits(schema: &Value, value: &Value, at: &str) {
    if let Some(c) = schema.get("const") {
        assert_eq!(value, c, "{at}");
    }
    if let Some(options) = schema.get("enum").and_then(Value::as_array) {
        assert!(options.contains(value), "{at}: {value} not in {options:?}");
    }
    if let Some(props) = schema.get("properties").and_then(Value::as_object) {
        let obj = value
            .as_object()
            .unwrap_or_else(|| panic!("{at}: not an object"));
        for req in schema["required"].as_array().into_iter().flatten() {
            assert!(
                obj.contains_key(req.as_str().unwrap()),
                "{at}: {req} missing"
            );
        }
        for (k, v) in obj {
            let inner = props
                .get(k)
                .unwrap_or_else(|| panic!("{at}.{k} is not described"));
            fits(inner, v, &format!("{at}.{k}"));
        }
    }
}

#[tokio::test]
async fn every_outbound_event_is_described_and_real_envelopes_fit_their_description() {
    use frontdesk_store::{InboundDelivery, NewWebhookEndpoint, WEBHOOK_EVENT_TYPES};
    let app = spawn_app(Engine::Sqlite).await.unwrap();
    let doc = document(&app).await;
    let hooks = doc["webhooks"].as_object().unwrap();
    for kind in WEBHOOK_EVENT_TYPES {
        let op = &hooks[*kind]["post"];
        assert!(op.is_object(), "{kind} is not described");
        assert_eq!(
            op["requestBody"]["content"]["application/json"]["schema"]["properties"]["type"]["const"],
            *kind
        );
    }
    assert_eq!(hooks.len(), WEBHOOK_EVENT_TYPES.len());

    // Real envelopes queued by the store for the demo clinic fit what is described.
    let scope = app.scope("harbour-physio").await;
    app.store
        .create_webhook_endpoint(
            scope,
            &NewWebhookEndpoint {
                url: "https://hooks.example/in".into(),
                host: "hooks.example".into(),
                events: WEBHOOK_EVENT_TYPES
                    .iter()
                    .map(|e| (*e).to_owned())
                    .collect(),
                secret: "whsec_openapi_test".to_owned().into(),
            },
            Actor::Operator,
        )
        .await
        .unwrap();
    let got = app
        .store
        .ingest_inbound(
            scope,
            &InboundDelivery {
                channel: frontdesk_store::Channel::Whatsapp,
                from: frontdesk_domain::E164Phone::parse("+64 21 555 0707").unwrap(),
                provider_message_id: "wamid.openapi".into(),
                body: "hello".into(),
                consent: None,
                auto_reply: None,
                run_agent: false,
            },
        )
        .await
        .unwrap();
    app.store
        .record_patient_export(scope, got.patient, Actor::Operator, "json")
        .await
        .unwrap();
    app.store
        .erase_patient(scope, got.patient, Actor::Operator)
        .await
        .unwrap();
    let jobs = app
        .store
        .claim_webhook_deliveries("openapi-test", jiff::SignedDuration::from_mins(1), 100)
        .await
        .unwrap();
    let mut seen: Vec<String> = Vec::new();
    for job in &jobs {
        let envelope: Value = serde_json::from_slice(&job.body).unwrap();
        let schema = &hooks[job.event_type.as_str()]["post"]["requestBody"]["content"]["application/json"]
            ["schema"];
        fits(schema, &envelope, &job.event_type);
        seen.push(job.event_type.clone());
    }
    seen.sort();
    seen.dedup();
    assert_eq!(
        seen,
        ["data_request.completed", "message.received"],
        "the events this test caused"
    );
    app.finish().await;
}
