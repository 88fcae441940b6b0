//! Rolling restarts (#12 item 1): while instances are replaced one by one, the previous
//! release keeps running on a database the new one has already migrated. So a migration must
//! keep the previous release working: new tables, and new columns that are nullable or have a
//! default; no `DROP`, no `RENAME`, no column type change, no `SET NOT NULL`, no `NOT NULL`
//! column without a default (docs/DEPLOY.md, "Rolling restarts").
//!
//! This test reads every migration file of both engines (new files are picked up without
//! being listed) and fails on such a statement, unless the comment lines just before it in
//! the same statement carry `-- compat:` and a reason (e.g. the column's last reader was
//! removed a release earlier). The statements of migrations released before the rule are
//! listed in [`BEFORE_THE_RULE`]; applied migrations can never be edited (their checksum is
//! checked), so these cannot be given a marker.

use std::collections::BTreeMap;
use std::path::Path;

/// Statements released before the rule, each with why it was safe then.
const BEFORE_THE_RULE: &[(&str, &str, &str)] = &[
    (
        "postgres/0015_tenant_end.sql",
        "ALTER TABLE TENANTS DROP CONSTRAINT TENANTS_STATUS_CHECK",
        "widens the status CHECK (a new status); the previous release writes only old statuses",
    ),
    (
        "sqlite/0015_tenant_end.sql",
        "DROP TABLE TENANTS",
        "SQLite's table rebuild to widen a CHECK constraint: same columns after",
    ),
    (
        "sqlite/0015_tenant_end.sql",
        "ALTER TABLE TENANTS_NEW RENAME TO TENANTS",
        "the same rebuild",
    ),
];

/// What makes a statement break the previous release, if anything.
fn incompatibility(statement: &str) -> Option<&'static str> {
    let words: Vec<&str> = statement.split_whitespace().collect();
    let has = |w: &str| words.contains(&w);
    let has_pair = |a: &str, b: &str| words.windows(2).any(|p| p[0] == a && p[1] == b);
    if has("DROP") && !has_pair("DROP", "DEFAULT") && !(has_pair("DROP", "NOT") && has("NULL")) {
        return Some("drops something the previous release may use");
    }
    if has("RENAME") {
        return Some("renames something the previous release uses by its old name");
    }
    if has("ALTER") && has("COLUMN") && has("TYPE") {
        return Some("changes a column's type");
    }
    if has_pair("SET", "NOT") {
        return Some("makes a column NOT NULL, which the previous release may leave empty");
    }
    if has_pair("ADD", "COLUMN") && has_pair("NOT", "NULL") && !has("DEFAULT") {
        return Some(
            "adds a NOT NULL column without a default, which the previous release cannot fill",
        );
    }
    None
}

/// The statements of one migration: (comment lines just before and within it, its text
/// without comments, normalised). Comments are taken off each line before the text is split
/// at `;`, so a `;` in a comment splits nothing.
fn statements(sql: &str) -> Vec<(Vec<String>, String)> {
    let mut out = Vec::new();
    let (mut comments, mut code) = (Vec::new(), String::new());
    let mut finish = |comments: &mut Vec<String>, code: &mut String| {
        let normal = code
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .to_uppercase();
        if !normal.is_empty() {
            out.push((std::mem::take(comments), normal));
        }
        code.clear();
    };
    for line in sql.lines() {
        let (text, comment) = match line.find("--") {
            Some(at) => (&line[..at], Some(line[at..].trim())),
            None => (line, None),
        };
        if let Some(c) = comment {
            comments.push(c.to_owned());
        }
        let mut pieces = text.split(';').peekable();
        while let Some(piece) = pieces.next() {
            code.push_str(piece);
            code.push(' ');
            if pieces.peek().is_some() {
                finish(&mut comments, &mut code);
            }
        }
    }
    finish(&mut comments, &mut code);
    out
}

/// Every migration file, as `engine/file name` → its text.
fn migrations() -> BTreeMap<String, String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    let mut out = BTreeMap::new();
    for engine in ["sqlite", "postgres"] {
        for entry in std::fs::read_dir(root.join(engine)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "sql") {
                let name = path.file_name().unwrap().to_string_lossy().into_owned();
                out.insert(
                    format!("{engine}/{name}"),
                    std::fs::read_to_string(&path).unwrap(),
                );
            }
        }
    }
    out
}

#[test]
fn every_migration_keeps_the_previous_release_working() {
    let all = migrations();
    assert!(all.len() >= 40, "found {} migration files", all.len());
    let mut grandfathered_seen = 0;
    let mut failures = Vec::new();
    for (file, sql) in &all {
        for (comments, statement) in statements(sql) {
            let Some(why) = incompatibility(&statement) else {
                continue;
            };
            if BEFORE_THE_RULE
                .iter()
                .any(|(f, s, _)| f == file && *s == statement)
            {
                grandfathered_seen += 1;
                continue;
            }
            let marked = comments.iter().any(|c| {
                c.strip_prefix("-- compat:")
                    .is_some_and(|reason| !reason.trim().is_empty())
            });
            if !marked {
                failures.push(format!("{file}: `{statement}` {why}"));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "migrations that would break the previous release during a rolling restart \
         (add a `-- compat: <reason>` comment just before the statement only if it is really safe):\n{}",
        failures.join("\n")
    );
    assert_eq!(
        grandfathered_seen,
        BEFORE_THE_RULE.len(),
        "each statement listed from before the rule is still where it was"
    );
}

#[test]
fn both_engines_have_the_same_migration_versions() {
    let all = migrations();
    let versions = |engine: &str| -> Vec<String> {
        all.keys()
            .filter_map(|k| k.strip_prefix(&format!("{engine}/")))
            .map(|name| name[..4].to_owned())
            .collect()
    };
    assert_eq!(versions("sqlite"), versions("postgres"));
}

#[test]
fn the_checker_finds_what_breaks_the_previous_release() {
    let bad = [
        "ALTER TABLE messages DROP COLUMN body_ct",
        "DROP TABLE faqs",
        "DROP INDEX messages_conversation",
        "ALTER TABLE faqs RENAME COLUMN question TO q",
        "ALTER TABLE faqs ALTER COLUMN question TYPE bytea",
        "ALTER TABLE faqs ALTER COLUMN answer SET NOT NULL",
        "ALTER TABLE faqs ADD COLUMN lang text NOT NULL",
    ];
    for s in bad {
        let (_, normal) = &statements(s)[0];
        assert!(incompatibility(normal).is_some(), "{s}");
    }
    let fine = [
        "ALTER TABLE faqs ADD COLUMN lang text",
        "ALTER TABLE faqs ADD COLUMN lang text NOT NULL DEFAULT 'en'",
        "ALTER TABLE faqs ALTER COLUMN answer DROP NOT NULL",
        "CREATE TABLE dropped_things (id uuid PRIMARY KEY)",
        "CREATE INDEX faqs_lang ON faqs (lang)",
    ];
    for s in fine {
        let (_, normal) = &statements(s)[0];
        assert_eq!(incompatibility(normal), None, "{s}");
    }
    let marked = statements("-- compat: nothing has read it since 0020\nDROP TABLE old_things;");
    assert_eq!(
        marked[0].0,
        ["-- compat: nothing has read it since 0020"],
        "the marker is found with its statement"
    );
}
