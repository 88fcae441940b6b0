//! `frontdesk export`: a whole clinic as one JSON document, on SQLite (the demo's data dir)
//! and on PostgreSQL. Every patient with their messages opened, staff without credentials,
//! channel accounts without secret values, the audit log, one `clinic.exported` entry with
//! counts; a private file that never replaces another, and a terminated clinic exported too.

use crate::cli::{
    frontdesk, harbour_chat, on_postgres, outcome, postgres_cli, run, seed_demo,
    tenant_create_args, with_stdin,
};
use serde_json::Value;
use std::path::Path;
use std::process::Command;

/// The keys a staff member's entry may have: nothing that signs anyone in.
const STAFF_KEYS: [&str; 8] = [
    "id",
    "name",
    "email",
    "role",
    "status",
    "two_factor",
    "practitioner_id",
    "created_at",
];

fn read_json(path: &Path) -> (String, Value) {
    let raw = std::fs::read_to_string(path).unwrap();
    let doc = serde_json::from_str(&raw).unwrap();
    (raw, doc)
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// Every message text of every patient in the export.
fn texts(doc: &Value) -> Vec<String> {
    doc["patients"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["conversations"].as_array().unwrap().iter())
        .flat_map(|c| c["messages"].as_array().unwrap().iter())
        .filter_map(|m| m["text"].as_str().map(str::to_owned))
        .collect()
}

/// Connects clinic `tenant`'s Twilio number `address` through `command` (`frontdesk` with the
/// data named by `d`), its auth token `secret` given on stdin.
fn twilio_set(
    command: impl Fn(&[&str]) -> Command,
    tenant: &str,
    address: &str,
    d: &str,
    secret: &str,
) {
    let fixed = [
        "channel",
        "set",
        "--provider",
        "twilio",
        "--setting",
        "account_sid=AC77",
    ];
    let args = [
        &fixed[..],
        &["--tenant", tenant, "--address", address, "--data-dir", d],
    ]
    .concat();
    let stdin = format!("auth_token={secret}\n");
    let (ok, out, err) = outcome(with_stdin(command(&args), stdin.as_bytes()));
    assert!(ok, "{out}{err}");
}

/// What every export must be, whatever the engine: the counts agree with the content, staff
/// carry no credentials, channel accounts no secret values.
fn check_shape(doc: &Value) {
    assert_eq!(doc["format"], "frontdesk.clinic-export.v1");
    let patients = doc["patients"].as_array().unwrap();
    let counts = &doc["counts"];
    assert_eq!(counts["patients"], patients.len());
    let conversations: usize = patients
        .iter()
        .map(|p| p["conversations"].as_array().unwrap().len())
        .sum();
    assert_eq!(counts["conversations"], conversations);
    assert_eq!(counts["messages"], texts(doc).len());
    assert_eq!(
        counts["audit_entries"],
        doc["audit_log"].as_array().unwrap().len()
    );
    for p in patients {
        assert_eq!(p["format"], "frontdesk.patient-copy.v1", "{p}");
    }
    for s in doc["staff"].as_array().unwrap() {
        for key in s.as_object().unwrap().keys() {
            assert!(STAFF_KEYS.contains(&key.as_str()), "staff carry {key}: {s}");
        }
        assert!(s["email"].is_string() && s["created_at"].is_string(), "{s}");
    }
    for a in doc["channel_accounts"].as_array().unwrap() {
        let mut keys: Vec<&str> = a.as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(keys, ["address", "provider", "secrets_set"], "{a}");
    }
}

#[tokio::test]
async fn a_whole_clinic_export_holds_every_patient_and_no_secret() {
    use sqlx::Connection;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    seed_demo(&data);
    let d = data.to_str().unwrap();
    for line in [
        "when are you open <b>zanzibar</b>\n",
        "where are you, quokka?\n",
        "hi\n",
    ] {
        harbour_chat(d, line.as_bytes());
    }
    // A secret only the store holds (sealed); it must appear nowhere in the export.
    twilio_set(
        frontdesk,
        "harbour-physio",
        frontdesk_server::demo::channels::TWILIO_NUMBER,
        d,
        "tw-Export-Secret-987",
    );
    // A language model with a key only the store holds.
    let llm = [
        "llm",
        "set",
        "--tenant",
        "harbour-physio",
        "--provider",
        "openai",
        "--fast-model",
        "gpt-4o-mini",
        "--api-key-stdin",
        "--data-dir",
        d,
    ];
    let (ok, out, err) = outcome(crate::cli::with_stdin(
        frontdesk(&llm),
        b"sk-Export-LLM-Key-123\n",
    ));
    assert!(ok, "{out}{err}");
    let out_dir = dir.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    let file = out_dir.join("harbour.json");
    let export_to = |out: &Path| {
        let args = ["export", "--tenant", "harbour-physio", "--out"];
        run(&[&args[..], &[out.to_str().unwrap(), "--data-dir", d]].concat())
    };
    let (ok, out, err) = export_to(&file);
    assert!(ok, "{out}{err}");
    let bytes = std::fs::metadata(&file).unwrap().len();
    assert!(
        out.contains(&format!(
            "wrote the export of `harbour-physio` to {} ({bytes} bytes) in ",
            file.display()
        )) && out.contains(": 3 patients, 3 conversations, "),
        "{out}"
    );
    // Not a terminal: plain progress lines on stderr, the last at 100%.
    assert!(
        err.contains("exporting harbour-physio  100% 3/3 patients  ") && !err.contains('\r'),
        "{err}"
    );
    assert_eq!(mode(&file), 0o600, "only its owner may read the export");
    let names: Vec<_> = std::fs::read_dir(&out_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["harbour.json"], "no temporary file left behind");

    let (raw, doc) = read_json(&file);
    check_shape(&doc);
    assert_eq!(doc["clinic"]["slug"], "harbour-physio");
    assert_eq!(doc["clinic"]["profile"]["name"], "Harbour Physio");
    assert!(!doc["practitioners"].as_array().unwrap().is_empty());
    assert!(
        doc["practitioners"][0]["hours"]
            .as_str()
            .unwrap()
            .contains(':')
    );
    assert!(!doc["services"].as_array().unwrap().is_empty());
    assert!(!doc["faqs"].as_array().unwrap().is_empty());
    let texts = texts(&doc);
    for said in [
        "when are you open <b>zanzibar</b>",
        "where are you, quokka?",
        "hi",
    ] {
        assert!(texts.iter().any(|t| t == said), "{said} in {texts:?}");
    }
    let emails: Vec<&str> = doc["staff"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["email"].as_str())
        .collect();
    assert!(
        emails.contains(&frontdesk_server::demo::staff::EMAIL),
        "{emails:?}"
    );
    let twilio = doc["channel_accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["provider"] == "twilio")
        .unwrap();
    assert_eq!(twilio["secrets_set"], serde_json::json!(["auth_token"]));
    let model = &doc["language_model"];
    assert_eq!(
        (&model["provider"], &model["fast_model"]),
        (
            &serde_json::json!("openai"),
            &serde_json::json!("gpt-4o-mini")
        ),
        "{model}"
    );
    assert!(model["api_key_set_at"].is_string(), "{model}");
    assert_eq!(model["limits"]["voice"]["deadline_ms"], 4000, "{model}");
    assert_eq!(model["usage"]["turns"], 0, "{model}");
    for secret in [
        "tw-Export-Secret-987",
        "demo_auth_token",
        "sk-Export-LLM-Key-123",
    ] {
        assert!(!raw.contains(secret), "{secret} is in the export");
    }
    assert!(
        doc["audit_log"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "channel.configured"),
        "the audit log as stored"
    );

    // One clinic-level audit entry with the counts; no per-patient ones.
    let url = format!("sqlite://{}", data.join("frontdesk.db").display());
    let mut db = sqlx::SqliteConnection::connect(&url).await.unwrap();
    let audited: Vec<(String, String)> = sqlx::query_as(
        "SELECT action, details FROM audit_log WHERE action IN ('clinic.exported', 'patient.exported')",
    )
    .fetch_all(&mut db)
    .await
    .unwrap();
    assert_eq!(audited.len(), 1, "{audited:?}");
    assert_eq!(audited[0].0, "clinic.exported");
    let details: Value = serde_json::from_str(&audited[0].1).unwrap();
    assert_eq!(details, doc["counts"]);

    // Never over an existing file: refused, the file unchanged, nothing audited.
    let (ok, _, err) = export_to(&file);
    assert!(!ok && err.contains("exists already"), "{err}");
    assert_eq!(read_json(&file).0, raw);
    let missing = out_dir.join("no-such-dir").join("x.json");
    let (ok, _, _) = export_to(&missing);
    assert!(!ok && !missing.exists());
    let exports: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'clinic.exported'")
            .fetch_one(&mut db)
            .await
            .unwrap();
    assert_eq!(exports, 1, "a refused export is not recorded");

    // A terminated clinic can still take its data away; the file is named by default.
    sqlx::query("UPDATE tenants SET status = 'terminated' WHERE slug = 'nairobi-family'")
        .execute(&mut db)
        .await
        .unwrap();
    db.close().await.unwrap();
    let out = frontdesk(&["export", "--tenant", "nairobi-family", "--data-dir", d])
        .current_dir(&out_dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let named: Vec<_> = std::fs::read_dir(&out_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with("nairobi-family-export-"))
        .collect();
    assert_eq!(named.len(), 1, "{named:?}");
    let n = &named[0];
    assert!(
        n.len() == "nairobi-family-export-20261202T170509Z.json".len() && n.ends_with("Z.json"),
        "{n}"
    );
    let (raw, doc) = read_json(&out_dir.join(n));
    check_shape(&doc);
    assert_eq!(doc["clinic"]["status"], "terminated");
    assert_eq!(doc["counts"]["patients"], 0);
    let whatsapp = &doc["channel_accounts"][0];
    assert_eq!(whatsapp["provider"], "whatsapp");
    assert_eq!(
        whatsapp["secrets_set"],
        serde_json::json!(["access_token", "app_secret", "verify_token"])
    );
    use frontdesk_server::demo::channels::{WHATSAPP_APP_SECRET, WHATSAPP_VERIFY_TOKEN};
    for secret in [
        WHATSAPP_APP_SECRET,
        WHATSAPP_VERIFY_TOKEN,
        "demo-access-token",
    ] {
        assert!(!raw.contains(secret), "{secret} is in the export");
    }
    let (ok, out, err) = run(&["audit", "verify", "--all", "--data-dir", d]);
    assert!(ok && out.matches("intact").count() == 2, "{out}{err}");
}

#[tokio::test]
async fn a_whole_clinic_export_works_on_postgres() {
    use sqlx::Connection;
    let Some((db, dir)) = postgres_cli().await else {
        return;
    };
    let d = dir.path().to_str().unwrap();
    let pg = |args: &[&str], stdin: &[u8]| {
        let (ok, out, err) = outcome(with_stdin(on_postgres(&db, args), stdin));
        assert!(ok, "{args:?}: {out}{err}");
        (out, err)
    };
    let mut create = tenant_create_args("kauri-dental", d);
    create.extend(["--owner-email", "owner@kauri.example"]);
    pg(&create, b"");
    for line in ["hello from pohutukawa\n", "when are you open\n"] {
        pg(
            &["chat", "--tenant", "kauri-dental", "--data-dir", d],
            line.as_bytes(),
        );
    }
    twilio_set(
        |args| on_postgres(&db, args),
        "kauri-dental",
        "+6495550123",
        d,
        "pg-Export-Secret-654",
    );
    let mut owner = sqlx::PgConnection::connect(db.owner_url.as_deref().unwrap())
        .await
        .unwrap();
    sqlx::query("UPDATE tenants SET status = 'terminated' WHERE slug = 'kauri-dental'")
        .execute(&mut owner)
        .await
        .unwrap();
    let file = dir.path().join("kauri.json");
    let (out, _) = pg(
        &[
            "export",
            "--tenant",
            "kauri-dental",
            "--out",
            file.to_str().unwrap(),
            "--data-dir",
            d,
        ],
        b"",
    );
    assert!(out.contains(": 2 patients, 2 conversations, "), "{out}");
    assert_eq!(mode(&file), 0o600);
    let (raw, doc) = read_json(&file);
    check_shape(&doc);
    assert_eq!(doc["clinic"]["status"], "terminated");
    assert!(texts(&doc).iter().any(|t| t == "hello from pohutukawa"));
    assert_eq!(doc["staff"][0]["email"], "owner@kauri.example");
    assert!(!raw.contains("pg-Export-Secret-654"));
    let details: String =
        sqlx::query_scalar("SELECT details FROM audit_log WHERE action = 'clinic.exported'")
            .fetch_one(&mut owner)
            .await
            .unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(&details).unwrap(),
        doc["counts"]
    );
    owner.close().await.unwrap();
    let (out, _) = pg(&["audit", "verify", "--all", "--data-dir", d], b"");
    assert!(out.contains("intact"), "{out}");
    db.cleanup().await;
}
