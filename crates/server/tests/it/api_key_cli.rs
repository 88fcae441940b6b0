//! `frontdesk api-key create | list | rotate | revoke` and `audit access-report --api-key`
//! on the demo's SQLite data directory: the secret printed once on stdout, lists without
//! secrets, the overlap shown, and clear errors for unknown keys and bad scopes.

use crate::cli::{run, seed_demo};

fn api_key(d: &str, args: &[&str]) -> (bool, String, String) {
    let mut all = vec!["api-key"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--data-dir", d]);
    run(&all)
}

#[test]
fn api_keys_are_made_listed_rotated_revoked_and_reported_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    seed_demo(&data);
    let d = data.to_str().unwrap();
    let t = ["--tenant", "harbour-physio"];

    let (ok, _, err) = api_key(
        d,
        &[
            "create",
            t[0],
            t[1],
            "--name",
            "PMS",
            "--scopes",
            "everything",
        ],
    );
    assert!(!ok && err.contains("--scopes"), "{err}");

    let (ok, out, err) = api_key(
        d,
        &[
            "create",
            t[0],
            t[1],
            "--name",
            "PMS sync",
            "--scopes",
            "schedule:read,patients:read",
            "--rate",
            "120",
        ],
    );
    assert!(ok, "{err}");
    let key = out.trim().to_owned();
    assert!(
        key.starts_with("fdk_") && !key.contains(char::is_whitespace),
        "stdout is the key alone: {out}"
    );
    let prefix = &key[..16];
    assert!(
        err.contains(prefix) && err.contains("shown only now"),
        "{err}"
    );

    let (ok, out, err) = api_key(d, &["list", t[0], t[1]]);
    assert!(ok, "{err}");
    assert!(
        out.contains(&format!(
            "{prefix}\tPMS sync\tschedule:read patients:read\t120\tactive"
        )),
        "{out}"
    );
    assert!(!out.contains(&key[17..]), "no secret in the list");

    let (ok, out, err) = api_key(
        d,
        &[
            "rotate",
            t[0],
            t[1],
            "--key",
            prefix,
            "--overlap-hours",
            "2",
        ],
    );
    assert!(ok, "{err}");
    let next = out.trim().to_owned();
    assert!(next.starts_with("fdk_") && next != key);
    assert!(
        err.contains(&format!("rotated {prefix} in")) && err.contains("(in 2 h)"),
        "{err}"
    );
    let (_, out, _) = api_key(d, &["list", t[0], t[1]]);
    assert!(out.contains("rotated, works until"), "{out}");
    let (ok, _, err) = api_key(d, &["rotate", t[0], t[1], "--key", prefix]);
    assert!(!ok && err.contains("already rotated"), "{err}");
    let (ok, _, err) = api_key(d, &["rotate", t[0], t[1], "--key", "fdk_nosuchkeyaaa"]);
    assert!(!ok && err.contains("no key fdk_nosuchkeyaaa"), "{err}");

    // The whole key is accepted where a prefix is asked.
    let (ok, out, err) = api_key(d, &["revoke", t[0], t[1], "--key", &next]);
    assert!(
        ok && out.contains(&format!("revoked {}", &next[..16])),
        "{out}{err}"
    );
    let (ok, out, _) = api_key(d, &["revoke", t[0], t[1], "--key", &next]);
    assert!(ok && out.contains("no longer usable"), "{out}");
    let (ok, out, err) = api_key(d, &["revoke", t[0], t[1], "--all"]);
    assert!(ok && out.contains("revoked 1 usable key(s)"), "{out}{err}");
    let (ok, _, err) = api_key(d, &["revoke", t[0], t[1]]);
    assert!(!ok && err.contains("--key"), "{err}");

    let (ok, out, err) = run(&[
        "audit",
        "access-report",
        t[0],
        t[1],
        "--api-key",
        prefix,
        "--since",
        "2020-01-01T00:00:00Z",
        "--data-dir",
        d,
    ]);
    assert!(ok, "{out}{err}");
    assert!(out.starts_with("patient_id\tname\tphone"), "{out}");
    assert!(
        err.contains(&format!("0 patient(s) touched by API key {prefix}")),
        "{err}"
    );
    let (ok, _, err) = run(&[
        "audit",
        "access-report",
        t[0],
        t[1],
        "--since",
        "2020-01-01T00:00:00Z",
        "--data-dir",
        d,
    ]);
    assert!(!ok && err.contains("--user"), "{err}");
}
