//! What `deploy/` ships: the Prometheus alert rules and the Grafana dashboard name only metrics
//! frontdesk exports and are well formed (and `promtool` accepts the rules where it is
//! installed, with the rules' own unit tests; CI installs it); the systemd unit verifies and its exposure stays low under
//! `systemd-analyze security` where systemd's tools exist.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// Every Rust source of the server, concatenated (to look for metric names as literals).
fn server_sources() -> String {
    fn walk(dir: &Path, out: &mut String) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let p = entry.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|e| e == "rs") {
                out.push_str(&std::fs::read_to_string(&p).unwrap());
            }
        }
    }
    let mut out = String::new();
    walk(&root().join("crates/server/src"), &mut out);
    out
}

/// Metric names in a PromQL expression: identifiers of ours (frontdesk_, http_, api_),
/// without the histogram suffixes.
fn metric_names(expr: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut word = String::new();
    for c in expr.chars().chain(std::iter::once(' ')) {
        if c.is_ascii_alphanumeric() || c == '_' {
            word.push(c);
            continue;
        }
        let w = std::mem::take(&mut word);
        if w.starts_with("frontdesk_")
            || w.starts_with("http_request")
            || w.starts_with("api_calls")
        {
            let base = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|s| w.strip_suffix(s))
                .unwrap_or(&w)
                .to_owned();
            names.push(base);
        }
    }
    names
}

fn rules() -> Value {
    serde_norway::from_str(&read("deploy/prometheus/frontdesk-alerts.yml")).unwrap()
}

fn dashboard() -> Value {
    serde_json::from_str(&read("deploy/grafana/frontdesk-overview.json")).unwrap()
}

#[test]
fn alert_rules_and_dashboard_are_well_formed_and_name_only_exported_metrics() {
    let sources = server_sources();
    let mut exprs: Vec<(String, String)> = Vec::new();
    let rules = rules();
    let list = rules["groups"][0]["rules"].as_array().unwrap();
    assert!(list.len() >= 10, "{} rules", list.len());
    let mut alerts = std::collections::BTreeSet::new();
    for r in list {
        let name = r["alert"].as_str().unwrap().to_owned();
        assert!(alerts.insert(name.clone()), "{name} twice");
        assert!(
            matches!(
                r["labels"]["severity"].as_str(),
                Some("page" | "ticket" | "info")
            ),
            "{name}: severity"
        );
        assert!(
            r["annotations"]["summary"]
                .as_str()
                .is_some_and(|s| !s.is_empty()),
            "{name}"
        );
        assert!(
            r["annotations"]["description"]
                .as_str()
                .is_some_and(|s| !s.is_empty()),
            "{name}"
        );
        exprs.push((name, r["expr"].as_str().unwrap().to_owned()));
    }
    let dash = dashboard();
    assert_eq!(dash["uid"], "frontdesk-overview");
    let panels = dash["panels"].as_array().unwrap();
    let mut ids = std::collections::BTreeSet::new();
    for p in panels {
        let title = p["title"].as_str().unwrap().to_owned();
        assert!(
            ids.insert(p["id"].as_u64().unwrap()),
            "{title}: id repeated"
        );
        for k in ["h", "w", "x", "y"] {
            assert!(p["gridPos"][k].is_u64(), "{title}: gridPos.{k}");
        }
        let targets = p["targets"].as_array().unwrap();
        assert!(!targets.is_empty(), "{title}");
        for t in targets {
            exprs.push((title.clone(), t["expr"].as_str().unwrap().to_owned()));
        }
    }
    let mut named = 0;
    for (what, expr) in &exprs {
        let names = metric_names(expr);
        assert!(
            !names.is_empty() || expr.contains("up{"),
            "{what}: no metric in {expr}"
        );
        for n in names {
            named += 1;
            assert!(
                sources.contains(&format!("\"{n}\"")),
                "{what}: `{n}` is not a metric frontdesk exports"
            );
        }
    }
    assert!(named > 25);
    // The check itself can fail: a misspelt metric is caught.
    assert!(!sources.contains("\"frontdesk_outbox_backlog\""));
}

/// A tool from PATH, or `None` (skipped loudly) unless `require` names a set variable.
fn tool(name: &str, require: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        assert!(
            std::env::var_os(require).is_none_or(|v| v.is_empty()),
            "{require} is set but `{name}` is not installed"
        );
        eprintln!("\n###  `{name}` is not installed: its check of deploy/ is SKIPPED  ###\n");
    }
    found
}

#[test]
fn promtool_accepts_the_alert_rules() {
    let Some(promtool) = tool("promtool", "FRONTDESK_REQUIRE_PROMTOOL") else {
        return;
    };
    let out = Command::new(promtool)
        .args(["check", "rules"])
        .arg(root().join("deploy/prometheus/frontdesk-alerts.yml"))
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    assert!(text.contains("SUCCESS"), "{text}");
    // The rules' own unit tests: alerts fire on the series that should page, and only there.
    let out = Command::new(tool("promtool", "FRONTDESK_REQUIRE_PROMTOOL").unwrap())
        .args(["test", "rules"])
        .arg(root().join("deploy/prometheus/frontdesk-alerts.test.yml"))
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success() && text.contains("SUCCESS"), "{text}");
}

#[test]
fn the_systemd_unit_verifies_and_keeps_its_exposure_low() {
    let Some(analyze) = tool("systemd-analyze", "FRONTDESK_REQUIRE_SYSTEMD_ANALYZE") else {
        return;
    };
    // `verify` wants the program to exist: point ExecStart at this test binary.
    let unit = read("deploy/systemd/frontdesk.service");
    let exe = std::env::current_exe().unwrap();
    let local = unit.replace("/usr/local/bin/frontdesk", exe.to_str().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("frontdesk.service");
    std::fs::write(&path, local).unwrap();
    let verify = Command::new(&analyze)
        .arg("verify")
        .arg(&path)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&verify.stderr).to_string();
    assert!(
        verify.status.success() && !text.contains("frontdesk.service:"),
        "{text}"
    );
    // Exposure 2.0 at most on systemd's 0–10 scale (it is 1.4 as shipped).
    let security = |p: &Path| {
        Command::new(&analyze)
            .args(["security", "--offline=true", "--threshold=20"])
            .arg(p)
            .output()
            .unwrap()
    };
    let out = security(&path);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // And the threshold bites: the unit without its sandbox fails it.
    let weak: String = unit
        .lines()
        .filter(|l| {
            !l.starts_with("Protect")
                && !l.starts_with("SystemCallFilter")
                && !l.starts_with("Private")
                && !l.starts_with("CapabilityBoundingSet")
                && !l.starts_with("NoNewPrivileges")
        })
        .map(|l| format!("{l}\n"))
        .collect();
    let weak_path = dir.path().join("weak.service");
    std::fs::write(&weak_path, weak).unwrap();
    assert!(!security(&weak_path).status.success(), "the check can fail");
}
