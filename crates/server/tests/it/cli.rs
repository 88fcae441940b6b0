//! The `frontdesk` binary itself: keys, tenants, the scripted terminal chat, the demo's
//! start-up and clean stop, `serve` refusing insecure settings, and `audit verify`.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_frontdesk");

pub(crate) fn frontdesk(args: &[&str]) -> Command {
    let mut c = Command::new(BIN);
    c.args(args);
    // A clean environment: nothing from the developer's shell leaks into the test.
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("FRONTDESK_")) {
        c.env_remove(k);
    }
    c.env_remove("RUST_LOG");
    c
}

pub(crate) fn run(args: &[&str]) -> (bool, String, String) {
    outcome(frontdesk(args).output().unwrap())
}

/// (success, stdout, stderr) of a finished command.
pub(crate) fn outcome(out: std::process::Output) -> (bool, String, String) {
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs `cmd` with `stdin` as its input, to the end; its output, whatever the outcome.
pub(crate) fn with_stdin(mut cmd: Command, stdin: &[u8]) -> std::process::Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn keys_generate_tenant_create_and_a_scripted_terminal_chat() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let key = dir.path().join("master.key");
    let (ok, out, err) = run(&[
        "keys",
        "generate",
        "--id",
        "k1",
        "--out",
        key.to_str().unwrap(),
    ]);
    assert!(ok, "{out}{err}");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );

    let (ok, out, err) = run(&[
        "tenant",
        "create",
        "--slug",
        "kauri-dental",
        "--name",
        "Kauri Dental",
        "--timezone",
        "Pacific/Auckland",
        "--country",
        "nz",
        "--emergency",
        "111",
        "--currency",
        "nzd",
        "--address",
        "1 Kauri Road, Whangārei",
        "--hours",
        "Mon-Fri 08:00-17:00",
        "--owner-email",
        "owner@kauri.example",
        "--data-dir",
        d,
    ]);
    assert!(ok, "{out}{err}");
    assert!(out.contains("created clinic `kauri-dental`"), "{out}");
    let (ok, out, _) = run(&[
        "tenant",
        "create",
        "--slug",
        "kauri-dental",
        "--name",
        "X",
        "--timezone",
        "Pacific/Auckland",
        "--country",
        "NZ",
        "--emergency",
        "111",
        "--currency",
        "NZD",
        "--data-dir",
        d,
    ]);
    assert!(
        !ok && !out.contains("created"),
        "a duplicate slug is refused"
    );
    let (ok, _, err) = run(&[
        "tenant",
        "create",
        "--slug",
        "bad-tz",
        "--name",
        "X",
        "--timezone",
        "Mars/Base",
        "--country",
        "NZ",
        "--emergency",
        "111",
        "--currency",
        "NZD",
        "--data-dir",
        d,
    ]);
    assert!(!ok && err.contains("timezone"), "{err}");
    let (ok, out, _) = run(&["tenant", "list", "--data-dir", d]);
    assert!(ok && out.contains("kauri-dental"), "{out}");

    let out = with_stdin(
        frontdesk(&["chat", "--tenant", "kauri-dental", "--data-dir", d]),
        b"hello\n\nwhere are you?\nwhen are you open\n",
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("Chatting with Kauri Dental"), "{stdout}");
    assert!(
        stdout.contains("receptionist> You'll find Kauri Dental at 1 Kauri Road, Whangārei."),
        "{stdout}"
    );
    assert!(stdout.contains("Mon–Fri 08:00–17:00"), "{stdout}");
    assert_eq!(
        stdout.matches("stored encrypted").count(),
        1,
        "privacy notice once: {stdout}"
    );

    let (ok, _, err) = run(&["chat", "--tenant", "no-such-clinic", "--data-dir", d]);
    assert!(!ok && err.contains("no clinic `no-such-clinic`"), "{err}");

    // Channel secrets come from stdin and are never printed back.
    let channel_set = |stdin: &[u8]| {
        run_with_stdin(
            &[
                "channel",
                "set",
                "--tenant",
                "kauri-dental",
                "--provider",
                "twilio",
                "--address",
                "+6495550123",
                "--setting",
                "account_sid=AC77",
                "--data-dir",
                d,
            ],
            stdin,
        )
    };
    let (ok, text) = channel_set(b"auth_token=tw-Secret-123\n");
    assert!(ok, "{text}");
    assert!(
        text.contains("secrets stored encrypted: auth_token"),
        "{text}"
    );
    assert!(!text.contains("tw-Secret-123"), "{text}");
    let (ok, text) = channel_set(b"nothing_useful=1\n");
    assert!(
        !ok && text.contains("auth_token"),
        "a missing secret is refused: {text}"
    );
    let (ok, text) = channel_set(b"no equals sign secret-value\n");
    assert!(!ok && !text.contains("secret-value"), "{text}");

    // Rotation: the new value from stdin (never echoed), the old one kept for the overlap.
    let rotate = |args: &[&str], stdin: &[u8]| {
        let mut all = vec![
            "channel",
            "rotate-secret",
            "--tenant",
            "kauri-dental",
            "--provider",
            "twilio",
            "--data-dir",
            d,
        ];
        all.extend_from_slice(args);
        run_with_stdin(&all, stdin)
    };
    let (ok, text) = rotate(&["--secret", "auth_token"], b"tw-Secret-456\n");
    assert!(ok, "{text}");
    assert!(
        text.contains("rotated twilio auth_token of `kauri-dental` in ")
            && text.contains("the previous value is accepted on webhooks until"),
        "{text}"
    );
    assert!(!text.contains("tw-Secret"), "{text}");
    let (ok, text) = rotate(
        &["--secret", "auth_token", "--overlap-hours", "0"],
        b"tw-Secret-789\n",
    );
    assert!(ok && text.contains("no longer accepted"), "{text}");
    let (ok, text) = rotate(&["--secret", "auth_token", "--generate"], b"");
    assert!(!ok && text.contains("issued by the provider"), "{text}");
    let (ok, text) = rotate(&["--secret", "app_secret"], b"x\n");
    assert!(
        !ok && text.contains("twilio has no secret `app_secret`"),
        "{text}"
    );
    let (ok, text) = rotate(&["--secret", "auth_token"], b"\n");
    assert!(!ok && text.contains("no new value"), "{text}");
}

#[test]
fn serve_refuses_to_start_without_a_master_key() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, _, err) = run(&["serve", "--data-dir", dir.path().to_str().unwrap()]);
    assert!(!ok);
    assert!(
        err.contains("refusing to start") && err.contains("master key"),
        "{err}"
    );
}

#[test]
fn serve_refuses_insecure_cookies_and_a_world_readable_key() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("master.key");
    std::fs::write(&key, "k1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = frontdesk(&["serve", "--data-dir", dir.path().to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("chmod 600"));
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let out = frontdesk(&["serve", "--data-dir", dir.path().to_str().unwrap()])
        .env("FRONTDESK_COOKIE_SECURE", "false")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cookie_secure"));
}

#[tokio::test]
async fn serve_refuses_a_postgres_role_that_bypasses_row_level_security() {
    let Some(db) = frontdesk_store::testing::TestDb::postgres().await.unwrap() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("master.key");
    let (ok, _, _) = run(&["keys", "generate", "--out", key.to_str().unwrap()]);
    assert!(ok);
    // The owner of the test database is the superuser `postgres`: RLS would not apply.
    let out = frontdesk(&["serve", "--data-dir", dir.path().to_str().unwrap()])
        .env("FRONTDESK_DATABASE_URL", db.owner_url.as_deref().unwrap())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("refusing to start") && err.contains("superuser"),
        "{err}"
    );
    db.cleanup().await;
}

#[test]
fn demo_seeds_serves_and_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut child = frontdesk(&["demo", "--data-dir", data.to_str().unwrap(), "--port", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut seen = Vec::new();
    let base = loop {
        let line = lines.next().expect("demo exited early").unwrap();
        seen.push(line.clone());
        if let Some(rest) = line.strip_prefix("frontdesk demo is running at ") {
            break rest.split_whitespace().next().unwrap().to_owned();
        }
    };
    let seen = seen.join("\n");
    assert!(seen.contains("Generated a new master key"), "{seen}");
    assert!(
        seen.contains("Seeded demo clinic `harbour-physio`")
            && seen.contains("Seeded demo clinic `nairobi-family`"),
        "{seen}"
    );
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(data.join("master.key"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o600
    );
    let page = std::process::Command::new("curl")
        .args(["-sf", &format!("{base}/chat/nairobi-family")])
        .output();
    if let Ok(page) = page {
        assert!(String::from_utf8_lossy(&page.stdout).contains("Nairobi Family Clinic"));
    }
    // One process serves a SQLite file: a second demo on the same data is refused, and says why.
    let second = frontdesk(&["demo", "--data-dir", data.to_str().unwrap(), "--port", "0"])
        .output()
        .unwrap();
    assert!(!second.status.success());
    let why = String::from_utf8_lossy(&second.stderr);
    assert!(
        why.contains("already serving this SQLite database"),
        "{why}"
    );
    assert!(
        Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap()
            .success()
    );
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert!(child.wait().unwrap().success());
    assert!(
        rest.iter().any(|l| l.contains("frontdesk demo stopped")),
        "{rest:?}"
    );

    // A second start reuses the key and does not seed again.
    let mut child = frontdesk(&["demo", "--data-dir", data.to_str().unwrap(), "--port", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut seen = Vec::new();
    loop {
        let line = lines.next().expect("demo exited early").unwrap();
        if line.starts_with("frontdesk demo is running at ") {
            break;
        }
        seen.push(line);
    }
    assert!(
        !seen
            .iter()
            .any(|l| l.contains("Generated") || l.contains("Seeded")),
        "{seen:?}"
    );
    assert!(
        Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap()
            .success()
    );
    assert!(child.wait().unwrap().success());
}

#[test]
fn every_shipped_eval_set_passes_and_a_failing_case_fails_the_run() {
    let eval_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../eval");
    let mut files: Vec<String> = std::fs::read_dir(&eval_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .map(|p| p.to_str().unwrap().to_owned())
        .collect();
    files.sort();
    assert!(files.len() >= 4, "{files:?}");
    let mut args = vec!["eval"];
    args.extend(files.iter().map(String::as_str));
    let (ok, out, err) = run(&args);
    assert!(ok, "{out}{err}");
    assert!(
        out.contains("emergency recall 100.0%") && !out.contains("FAIL"),
        "{out}"
    );

    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yaml");
    std::fs::write(
        &bad,
        "- name: wrong on purpose\n  turns:\n    - say: hello\n      expect: { intent: book }\n",
    )
    .unwrap();
    let (ok, out, err) = run(&["eval", bad.to_str().unwrap()]);
    assert!(!ok, "{out}");
    assert!(
        out.contains("FAIL wrong on purpose") && out.contains("intent `greeting`, expected `book`"),
        "{out}"
    );
    assert!(err.contains("1 case(s) failed"), "{err}");
}

/// Runs the binary with `stdin` fed in; answers whether it succeeded and all it printed.
fn run_with_stdin(args: &[&str], stdin: &[u8]) -> (bool, String) {
    let out = with_stdin(frontdesk(args), stdin);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// Says `lines` to Harbour Physio's receptionist in the terminal chat of data dir `d` (a new
/// anonymous patient and conversation); answers what it said.
pub(crate) fn harbour_chat(d: &str, lines: &[u8]) -> String {
    let out = harbour_chat_with(&["--data-dir", d], lines);
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The same with the data named by `place` (`--data-dir D` or `--config FILE`), whatever
/// the outcome.
fn harbour_chat_with(place: &[&str], lines: &[u8]) -> std::process::Output {
    let mut args = vec!["chat", "--tenant", "harbour-physio"];
    args.extend_from_slice(place);
    with_stdin(frontdesk(&args), lines)
}

/// A PostgreSQL test database, and a data directory holding only a new master key for the
/// commands run on it (see [`on_postgres`]). `None`: PostgreSQL is unavailable (skip).
pub(crate) async fn postgres_cli() -> Option<(frontdesk_store::testing::TestDb, tempfile::TempDir)>
{
    let db = frontdesk_store::testing::TestDb::postgres()
        .await
        .unwrap()?;
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("master.key");
    assert!(run(&["keys", "generate", "--out", key.to_str().unwrap()]).0);
    Some((db, dir))
}

/// `frontdesk ARGS` on the PostgreSQL test database `db`, as the app role.
pub(crate) fn on_postgres(db: &frontdesk_store::testing::TestDb, args: &[&str]) -> Command {
    let mut c = frontdesk(args);
    c.env("FRONTDESK_DATABASE_URL", &db.cfg.url).env(
        "FRONTDESK_DATABASE_OWNER_URL",
        db.owner_url.as_deref().unwrap(),
    );
    c
}

/// `tenant create` of a small clinic `slug` in New Zealand, with the data named by `d`.
pub(crate) fn tenant_create_args<'a>(slug: &'a str, d: &'a str) -> Vec<&'a str> {
    let clinic = ["tenant", "create", "--slug", slug, "--name", "Clinic"];
    let place = [
        "--timezone",
        "Pacific/Auckland",
        "--country",
        "nz",
        "--address",
        "1 Road",
    ];
    let more = [
        "--emergency",
        "111",
        "--currency",
        "nzd",
        "--hours",
        "Mon-Fri 08:00-17:00",
    ];
    [&clinic[..], &place, &more, &["--data-dir", d]].concat()
}

/// `audit verify` of harbour-physio succeeds and says its chain is intact.
fn verify_harbour_intact(d: &str) {
    let (ok, out, err) = run(&[
        "audit",
        "verify",
        "--tenant",
        "harbour-physio",
        "--data-dir",
        d,
    ]);
    assert!(ok && out.contains("intact"), "{out}{err}");
}

/// Starts the demo on `data` until it has seeded and serves, then stops it.
pub(crate) fn seed_demo(data: &std::path::Path) {
    let mut child = frontdesk(&["demo", "--data-dir", data.to_str().unwrap(), "--port", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    loop {
        let line = lines.next().expect("demo exited early").unwrap();
        if line.starts_with("frontdesk demo is running at ") {
            break;
        }
    }
    assert!(
        Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap()
            .success()
    );
    lines.for_each(drop);
    assert!(child.wait().unwrap().success());
}

#[tokio::test]
async fn audit_verify_reports_intact_chains_and_a_tampered_one() {
    use sqlx::Connection;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    seed_demo(&data);
    let d = data.to_str().unwrap();

    let (ok, out, err) = run(&[
        "audit",
        "verify",
        "--tenant",
        "harbour-physio",
        "--data-dir",
        d,
    ]);
    assert!(ok, "{out}{err}");
    let line = out.trim();
    assert!(
        line.starts_with("audit chain of harbour-physio: ")
            && line.contains(" entries, intact (head seq "),
        "{out}"
    );
    let (ok, out, err) = run(&["audit", "verify", "--all", "--data-dir", d]);
    assert!(ok, "{out}{err}");
    assert_eq!(out.matches(", intact (head seq ").count(), 2, "{out}");
    assert!(out.contains("audit chain of nairobi-family: "), "{out}");
    let (ok, _, err) = run(&["audit", "verify", "--data-dir", d]);
    assert!(
        !ok && err.contains("--tenant"),
        "a clinic or --all is required: {err}"
    );

    // An entry of harbour-physio edited in the database file.
    let url = format!("sqlite://{}", data.join("frontdesk.db").display());
    let mut db = sqlx::SqliteConnection::connect(&url).await.unwrap();
    let changed = sqlx::query(
        "UPDATE audit_log SET details = details || ' ' WHERE seq = 2 AND tenant_id = \
         (SELECT id FROM tenants WHERE slug = 'harbour-physio')",
    )
    .execute(&mut db)
    .await
    .unwrap()
    .rows_affected();
    assert_eq!(changed, 1);
    db.close().await.unwrap();

    let (ok, out, err) = run(&[
        "audit",
        "verify",
        "--tenant",
        "harbour-physio",
        "--data-dir",
        d,
    ]);
    assert!(!ok, "a broken chain exits non-zero: {out}{err}");
    assert_eq!(
        out.trim(),
        "audit chain of harbour-physio BROKEN at seq 2: hash mismatch: this entry was edited after it was written"
    );
    assert!(
        err.contains("1 of 1 audit chain(s) broken: harbour-physio"),
        "{err}"
    );
    let (ok, out, err) = run(&["audit", "verify", "--all", "--data-dir", d]);
    assert!(!ok, "{out}{err}");
    assert!(
        out.contains("audit chain of harbour-physio BROKEN at seq 2"),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.starts_with("audit chain of nairobi-family: ") && l.contains(", intact")),
        "the other clinic is intact: {out}"
    );
    assert!(err.contains("1 of 2 audit chain(s) broken"), "{err}");
}

#[tokio::test]
async fn patient_export_and_erase_from_the_command_line() {
    use sqlx::Connection;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    seed_demo(&data);
    let d = data.to_str().unwrap();
    // A patient: the terminal chat creates one, with a conversation.
    harbour_chat(d, b"when are you open <b>zanzibar</b>\n");
    let url = format!("sqlite://{}", data.join("frontdesk.db").display());
    let mut db = sqlx::SqliteConnection::connect(&url).await.unwrap();
    let id: uuid::Uuid = sqlx::query_scalar(
        "SELECT id FROM patients WHERE tenant_id = (SELECT id FROM tenants WHERE slug = 'harbour-physio')",
    )
    .fetch_one(&mut db)
    .await
    .unwrap();
    let id = id.to_string();
    let target = [
        "--tenant",
        "harbour-physio",
        "--id",
        id.as_str(),
        "--data-dir",
        d,
    ];
    let with = |first: &[&str], more: &[&str]| -> Vec<String> {
        first
            .iter()
            .chain(target.iter())
            .chain(more.iter())
            .map(|s| s.to_string())
            .collect()
    };
    let run_owned = |args: Vec<String>| {
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        run(&refs)
    };

    // A copy as JSON and as a page, each new file readable by its owner only.
    let json_path = dir.path().join("copy.json");
    let (ok, out, err) = run_owned(with(
        &["patient", "export"],
        &["--out", json_path.to_str().unwrap()],
    ));
    assert!(
        ok && out.contains("wrote the copy of patient"),
        "{out}{err}"
    );
    let copy: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json_path).unwrap()).unwrap();
    assert_eq!(copy["patient"]["id"], id.as_str());
    let texts: Vec<&str> = copy["conversations"][0]["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["text"].as_str())
        .collect();
    assert!(
        texts.contains(&"when are you open <b>zanzibar</b>"),
        "{copy}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&json_path).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "only its owner may read the copy");
    }
    let html_path = dir.path().join("copy.html");
    let (ok, _, err) = run_owned(with(
        &["patient", "export"],
        &["--out", html_path.to_str().unwrap()],
    ));
    assert!(ok, "{err}");
    let html = std::fs::read_to_string(&html_path).unwrap();
    assert!(
        html.contains("&#60;b&#62;zanzibar") && !html.contains("<b>zanzibar"),
        "{html}"
    );
    let (ok, _, err) = run_owned(with(
        &["patient", "export"],
        &["--out", json_path.to_str().unwrap()],
    ));
    assert!(
        !ok && err.contains("exists already"),
        "never overwrites: {err}"
    );
    let (ok, _, err) = run_owned(with(&["patient", "export"], &["--out", "copy.txt"]));
    assert!(!ok && err.contains(".json or .html"), "{err}");

    // Erasure asks for --yes, then erases once.
    let (ok, out, _) = run_owned(with(&["patient", "erase"], &[]));
    assert!(ok && out.contains("run again with --yes"), "{out}");
    let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM patients")
        .fetch_one(&mut db)
        .await
        .unwrap();
    assert_eq!(left, 1, "nothing erased without --yes");
    let (ok, out, err) = run_owned(with(&["patient", "erase"], &["--yes"]));
    assert!(ok, "{out}{err}");
    assert!(
        out.contains(&format!("erased patient {id} in "))
            && out.contains("deleted 1 conversations"),
        "{out}"
    );
    let (patients, keys, ledger): (i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM patients), (SELECT COUNT(*) FROM patient_keys), \
         (SELECT COUNT(*) FROM erasure_ledger)",
    )
    .fetch_one(&mut db)
    .await
    .unwrap();
    assert_eq!((patients, keys, ledger), (0, 0, 1));
    let (ok, _, err) = run_owned(with(&["patient", "erase"], &["--yes"]));
    assert!(!ok && err.contains("no such patient"), "{err}");
    db.close().await.unwrap();
    verify_harbour_intact(d);
}

#[test]
fn incident_commands_pause_the_receptionist_end_sessions_and_report_access() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    seed_demo(&data);
    let d = data.to_str().unwrap();
    let chat = |line: &[u8]| harbour_chat(d, line);

    let (ok, out, err) = run(&["tenant", "pause-ai", "harbour-physio", "--data-dir", d]);
    assert!(ok && out.contains("is now paused"), "{out}{err}");
    let (ok, out, _) = run(&["tenant", "pause-ai", "harbour-physio", "--data-dir", d]);
    assert!(ok && out.contains("was already paused"), "{out}");
    let said = chat(b"when are you open\n");
    assert!(said.contains("will reply as soon as they can"), "{said}");
    let (ok, out, err) = run(&["tenant", "resume-ai", "harbour-physio", "--data-dir", d]);
    assert!(ok && out.contains("is now answering"), "{out}{err}");
    let said = chat(b"when are you open\n");
    assert!(
        !said.contains("will reply as soon as they can") && said.contains("Mon"),
        "{said}"
    );

    let (ok, out, err) = run(&["tenant", "end-sessions", "harbour-physio", "--data-dir", d]);
    assert!(ok && out.contains("ended 0 live session(s)"), "{out}{err}");
    let (ok, _, err) = run(&[
        "tenant",
        "end-sessions",
        "harbour-physio",
        "--user",
        "nobody@harbour.example",
        "--data-dir",
        d,
    ]);
    assert!(!ok && err.contains("no staff member"), "{err}");

    let (ok, out, err) = run(&[
        "audit",
        "access-report",
        "--tenant",
        "harbour-physio",
        "--user",
        "reception@harbour-physio.example",
        "--since",
        "2020-01-01T00:00:00Z",
        "--data-dir",
        d,
    ]);
    assert!(ok, "{out}{err}");
    assert!(out.starts_with("patient_id\tname\tphone\tentries"), "{out}");
    assert!(
        err.contains("0 patient(s) touched by reception@harbour-physio.example"),
        "{err}"
    );
    let (ok, _, err) = run(&[
        "audit",
        "access-report",
        "--tenant",
        "harbour-physio",
        "--user",
        "reception@harbour-physio.example",
        "--since",
        "yesterday",
        "--data-dir",
        d,
    ]);
    assert!(!ok && err.contains("--since takes a time"), "{err}");
}

#[tokio::test]
async fn a_signed_checkpoint_kept_outside_catches_a_truncated_audit_chain() {
    use sqlx::Connection;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    seed_demo(&data);
    let d = data.to_str().unwrap();
    let (ok, out, err) = run(&[
        "audit",
        "checkpoint",
        "--tenant",
        "harbour-physio",
        "--data-dir",
        d,
    ]);
    assert!(ok, "{out}{err}");
    let cp: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(cp["format"], "frontdesk.audit-checkpoint.v1");
    let seq = cp["seq"].as_i64().unwrap();
    let file = dir.path().join("checkpoint.json");
    std::fs::write(&file, out.trim()).unwrap();
    let (ok, out, _) = run(&[
        "audit",
        "checkpoints",
        "--tenant",
        "harbour-physio",
        "--data-dir",
        d,
    ]);
    assert!(
        ok && out.lines().count() >= 1 && out.contains(&format!("\"seq\":{seq}")),
        "{out}"
    );
    let f = file.to_str().unwrap();
    let (ok, out, err) = run(&[
        "audit",
        "verify",
        "--tenant",
        "harbour-physio",
        "--checkpoint",
        f,
        "--data-dir",
        d,
    ]);
    assert!(ok, "{out}{err}");
    assert!(
        out.contains(&format!("checkpoint of harbour-physio at seq {seq} ("))
            && out.contains("): holds"),
        "{out}"
    );

    // The chain cut back to before the checkpoint, with its head moved to match: the chain
    // alone looks intact, the checkpoint shows what happened.
    let url = format!("sqlite://{}", data.join("frontdesk.db").display());
    let mut db = sqlx::SqliteConnection::connect(&url).await.unwrap();
    let tenant = "(SELECT id FROM tenants WHERE slug = 'harbour-physio')";
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DELETE FROM audit_log WHERE tenant_id = {tenant} AND seq >= {seq}"
    )))
    .execute(&mut db)
    .await
    .unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "UPDATE audit_heads SET seq = (SELECT MAX(seq) FROM audit_log WHERE tenant_id = {tenant}), \
         hash = (SELECT hash FROM audit_log WHERE tenant_id = {tenant} ORDER BY seq DESC LIMIT 1) \
         WHERE tenant_id = {tenant}"
    )))
    .execute(&mut db)
    .await
    .unwrap();
    db.close().await.unwrap();
    let (ok, out, _) = run(&[
        "audit",
        "verify",
        "--tenant",
        "harbour-physio",
        "--data-dir",
        d,
    ]);
    assert!(
        ok && out.contains("intact"),
        "without the checkpoint it looks intact: {out}"
    );
    let (ok, out, err) = run(&[
        "audit",
        "verify",
        "--tenant",
        "harbour-physio",
        "--checkpoint",
        f,
        "--data-dir",
        d,
    ]);
    assert!(!ok, "{out}{err}");
    assert!(
        out.contains("BROKEN: the chain no longer has that entry: it was truncated"),
        "{out}"
    );
    // A checkpoint edited by hand does not verify.
    let mut v = cp.clone();
    v["seq"] = serde_json::json!(1);
    std::fs::write(&file, v.to_string()).unwrap();
    let (ok, out, _) = run(&[
        "audit",
        "verify",
        "--tenant",
        "harbour-physio",
        "--checkpoint",
        f,
        "--data-dir",
        d,
    ]);
    assert!(
        !ok && out.contains("its signature does not verify"),
        "{out}"
    );
}

#[tokio::test]
async fn a_backup_restores_whole_and_never_brings_back_an_erased_patient() {
    use sqlx::Connection;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    seed_demo(&data);
    let d = data.to_str().unwrap();
    let chat = |line: &[u8]| drop(harbour_chat(d, line));
    // Two patients; one is erased after the backup.
    chat(b"hello, first patient here\n");
    chat(b"hello, second patient here\n");
    let url = format!("sqlite://{}", data.join("frontdesk.db").display());
    let patients = || async {
        let mut db = sqlx::SqliteConnection::connect(&url).await.unwrap();
        let ids: Vec<uuid::Uuid> = sqlx::query_scalar("SELECT id FROM patients ORDER BY id")
            .fetch_all(&mut db)
            .await
            .unwrap();
        db.close().await.unwrap();
        ids
    };
    let before = patients().await;
    assert_eq!(before.len(), 2);

    let backups = dir.path().join("backups");
    let (ok, out, err) = run(&[
        "backup",
        "--out",
        backups.to_str().unwrap(),
        "--data-dir",
        d,
    ]);
    assert!(ok, "{out}{err}");
    assert!(
        out.starts_with("backup ") && out.contains("of sqlite data"),
        "{out}"
    );
    assert!(err.contains("encrypting 100%"), "progress is shown: {err}");
    let manifest = std::fs::read_dir(&backups)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "json"))
        .unwrap();
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&manifest).unwrap()).unwrap();
    assert_eq!(m["format"], "frontdesk.backup.v1");
    let enc = backups.join(m["file"].as_str().unwrap());
    let sealed = std::fs::read(&enc).unwrap();
    assert!(
        !sealed.windows(15).any(|w| w == b"SQLite format 3"),
        "the backup file is encrypted"
    );

    // The first patient is erased after the backup was taken.
    let erased = before[0].to_string();
    let (ok, _, err) = run(&[
        "patient",
        "erase",
        "--tenant",
        "harbour-physio",
        "--id",
        &erased,
        "--yes",
        "--data-dir",
        d,
    ]);
    assert!(ok, "{err}");
    // And the other clinic is purged after the backup was taken.
    let nairobi = ["--tenant", "nairobi-family", "--yes", "--data-dir", d];
    assert!(run(&[&["tenant", "terminate"][..], &nairobi].concat()).0);
    assert!(run(&[&["tenant", "purge", "--now"][..], &nairobi].concat()).0);

    // Only checked without --yes; then restored: the second patient is back as it was, the
    // erased one stays erased, and so does the purged clinic.
    let f = manifest.to_str().unwrap();
    let (ok, out, _) = run(&["restore", "--from", f, "--data-dir", d]);
    assert!(ok && out.contains("run again with --yes"), "{out}");
    let (ok, out, err) = run(&["restore", "--from", f, "--yes", "--data-dir", d]);
    assert!(ok, "{out}{err}");
    assert!(out.contains("erased again 1 patient(s)"), "{out}");
    assert!(out.contains("purged again 1 clinic(s)"), "{out}");
    assert_eq!(patients().await, vec![before[1]]);
    let (ok, out, err) = run(&["tenant", "list", "--data-dir", d]);
    assert!(
        ok && out
            .lines()
            .any(|l| l.starts_with("nairobi-family\t") && l.contains("\tpurged\t")),
        "{out}{err}"
    );
    let (ok, out, err) = run(&["audit", "verify", "--all", "--data-dir", d]);
    assert!(ok && out.matches("intact").count() == 1, "{out}{err}");

    // A damaged backup is refused before anything is replaced.
    let mut bad = sealed.clone();
    let mid = bad.len() / 2;
    bad[mid] ^= 1;
    std::fs::write(&enc, &bad).unwrap();
    let (ok, _, err) = run(&["restore", "--from", f, "--yes", "--data-dir", d]);
    assert!(
        !ok && err.contains("does not match its manifest's checksum"),
        "{err}"
    );
    assert_eq!(patients().await, vec![before[1]], "untouched");
    // With the right checksum but another installation's master key: refused too.
    std::fs::write(&enc, &sealed).unwrap();
    let other = dir.path().join("other");
    seed_demo(&other);
    let (ok, _, err) = run(&[
        "restore",
        "--from",
        f,
        "--yes",
        "--data-dir",
        other.to_str().unwrap(),
    ]);
    assert!(!ok && err.contains("does not unwrap"), "{err}");
}

#[tokio::test]
async fn a_postgres_backup_restores_with_pg_dump_and_pg_restore() {
    let Some((db, dir)) = postgres_cli().await else {
        return;
    };
    let d = dir.path().to_str().unwrap();
    let pg = |args: &[&str]| {
        let out = on_postgres(&db, args).output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let create = |slug: &str| pg(&tenant_create_args(slug, d));
    let (ok, out, err) = create("kauri-dental");
    assert!(ok, "{out}{err}");
    let backups = dir.path().join("backups");
    let (ok, out, err) = pg(&[
        "backup",
        "--out",
        backups.to_str().unwrap(),
        "--data-dir",
        d,
    ]);
    assert!(ok && out.contains("of postgres data"), "{out}{err}");
    let manifest = std::fs::read_dir(&backups)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "json"))
        .unwrap();
    let (ok, out, err) = create("rata-health");
    assert!(ok, "{out}{err}");
    let (ok, out, err) = pg(&[
        "restore",
        "--from",
        manifest.to_str().unwrap(),
        "--yes",
        "--data-dir",
        d,
    ]);
    assert!(ok, "{out}{err}");
    let (ok, out, err) = pg(&["tenant", "list", "--data-dir", d]);
    assert!(ok, "the app role works after the restore: {err}");
    assert!(
        out.contains("kauri-dental") && !out.contains("rata-health"),
        "{out}"
    );
    let (ok, out, err) = pg(&["audit", "verify", "--all", "--data-dir", d]);
    assert!(ok && out.contains("intact"), "{out}{err}");
    db.cleanup().await;
}

#[test]
fn a_new_master_key_takes_over_after_rewrap_and_the_old_one_can_go() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    seed_demo(&data);
    let old = std::fs::read_to_string(data.join("master.key")).unwrap();
    let new_key = dir.path().join("new.key");
    assert!(
        run(&[
            "keys",
            "generate",
            "--id",
            "k2",
            "--out",
            new_key.to_str().unwrap()
        ])
        .0
    );
    let db = format!("sqlite://{}", data.join("frontdesk.db").display());
    let config = |name: &str, retired: bool| {
        let path = dir.path().join(name);
        let mut toml = format!(
            "database_url = \"{db}\"\nmaster_key_file = \"{}\"\n",
            new_key.display()
        );
        if retired {
            toml.push_str(&format!("retired_master_keys = [\"{}\"]\n", old.trim()));
        }
        std::fs::write(&path, toml).unwrap();
        path.to_str().unwrap().to_owned()
    };
    let both = config("both.toml", true);
    let only_new = config("new.toml", false);
    let chat = |cfg: &str| harbour_chat_with(&["--config", cfg], b"when are you open\n");
    // Before the re-wrap, the clinics' keys need the old master key.
    let out = chat(&only_new);
    assert!(
        !out.status.success() || !String::from_utf8_lossy(&out.stdout).contains("Mon"),
        "the new key alone cannot open the clinics yet"
    );
    let (ok, out, err) = run(&["keys", "rewrap", "--config", &both]);
    assert!(ok, "{out}{err}");
    assert!(
        out.starts_with("re-wrapped 4 key(s) of 2 of 2 clinic(s) with master key `k2` in "),
        "{out}"
    );
    let (ok, out, _) = run(&["keys", "rewrap", "--config", &both]);
    assert!(ok && out.starts_with("re-wrapped 0 key(s)"), "once: {out}");
    // Now the new key alone opens everything; the audit chains hold.
    let out = chat(&only_new);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("Mon"));
    let (ok, out, err) = run(&["audit", "verify", "--all", "--config", &only_new]);
    assert!(ok && out.matches("intact").count() == 2, "{out}{err}");

    // A clinic's data key: a new version now, the old one until re-encryption has run.
    let tenant = ["--tenant", "harbour-physio", "--config", &only_new];
    let keys = |cmd: &str| {
        let mut args = vec!["keys", cmd];
        args.extend_from_slice(&tenant);
        run(&args)
    };
    let (ok, out, err) = keys("rotate-tenant");
    assert!(
        ok && out.starts_with("added data key version 2 of `harbour-physio` in "),
        "{out}{err}"
    );
    let (ok, out, err) = keys("status");
    assert!(
        ok && out.contains("data key version(s) 2, 1 live, version 1 seals")
            && out.contains("rotation under way: 0 of "),
        "{out}{err}"
    );
    let (ok, out, err) = keys("rotate-tenant");
    assert!(!ok && err.contains("still re-encrypting"), "{out}{err}");
    // Still readable while the rotation is under way.
    let out = chat(&only_new);
    assert!(String::from_utf8_lossy(&out.stdout).contains("Mon"));
}

#[test]
fn a_clinic_is_terminated_reinstated_purged_and_certified_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    seed_demo(&data);
    let d = data.to_str().unwrap();
    let tenant = |cmd: &str, extra: &[&str]| {
        let mut args = vec!["tenant", cmd, "--tenant", "harbour-physio", "--data-dir", d];
        args.extend_from_slice(extra);
        run(&args)
    };
    let harbour_line = || {
        let (ok, out, err) = run(&["tenant", "list", "--data-dir", d]);
        assert!(ok, "{err}");
        out.lines()
            .find(|l| l.starts_with("harbour-physio\t"))
            .unwrap()
            .to_owned()
    };

    let (ok, out, err) = tenant("terminate", &[]);
    assert!(ok && out.contains("would terminate"), "{out}{err}");
    assert!(harbour_line().contains("\tactive\t"));
    let (ok, out, err) = tenant("terminate", &["--yes"]);
    assert!(
        ok && out.contains("terminated `harbour-physio`"),
        "{out}{err}"
    );
    let line = harbour_line();
    assert!(
        line.contains("\tterminated\t") && line.contains("purge due "),
        "{line}"
    );
    // No traffic: the terminal chat refuses it; the operator still reads it.
    let refused = harbour_chat_with(&["--data-dir", d], b"hello\n");
    assert!(!refused.status.success());
    verify_harbour_intact(d);

    // Not before the hold ends, unless --now.
    let (ok, _, err) = tenant("purge", &["--yes"]);
    assert!(
        !ok && err.contains("30-day hold ends at") && err.contains("--now"),
        "{err}"
    );
    let (ok, out, err) = tenant("reinstate", &[]);
    assert!(ok && out.contains("reinstated"), "{out}{err}");
    assert!(harbour_chat(d, b"when are you open\n").contains("Mon"));
    let (ok, _, err) = tenant("purge", &["--yes", "--now"]);
    assert!(!ok && err.contains("only a terminated clinic"), "{err}");
    assert!(tenant("terminate", &["--yes"]).0);
    let (ok, out, _) = tenant("purge", &["--now"]);
    assert!(ok && out.contains("would purge"), "{out}");

    let (ok, out, err) = tenant("purge", &["--yes", "--now"]);
    assert!(ok, "{out}{err}");
    let doc: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    let body = &doc["certificate"];
    assert_eq!(body["slug"], "harbour-physio");
    assert_eq!(body["purged_before_hold_ended"], true);
    assert_eq!(body["hold_days"], 30);
    assert!(body["rows_deleted"]["audit_log"].as_u64().unwrap() > 0);
    assert_eq!(body["tenant_keys_destroyed"].as_array().unwrap().len(), 2);
    // The digest covers the body exactly as printed (compact, keys sorted).
    let canonical = serde_json::to_string(body).unwrap();
    assert_eq!(
        doc["sha256"].as_str().unwrap(),
        frontdesk_store::certificate::sha256_hex(&canonical)
    );
    assert!(harbour_line().contains("\tpurged\t"));

    // Kept: printed again, written to a file; a second purge changes nothing.
    let file = dir.path().join("certificate.json");
    let (ok, _, err) = tenant("certificate", &["--out", file.to_str().unwrap()]);
    assert!(ok, "{err}");
    assert_eq!(std::fs::read_to_string(&file).unwrap().trim(), out.trim());
    let (ok, again, _) = tenant("purge", &["--yes"]);
    assert!(ok && again.trim() == out.trim(), "{again}");
    let (ok, _, err) = tenant("reinstate", &[]);
    assert!(!ok && err.contains("no clinic"), "{err}");
    let (ok, _, err) = run(&[
        "tenant",
        "certificate",
        "--tenant",
        "nairobi-family",
        "--data-dir",
        d,
    ]);
    assert!(!ok && err.contains("has not been purged"), "{err}");
    // The other clinic carries on; every remaining chain verifies.
    let (ok, out, err) = run(&["audit", "verify", "--all", "--data-dir", d]);
    assert!(
        ok && out.contains("nairobi-family") && !out.contains("harbour"),
        "{out}{err}"
    );
}
