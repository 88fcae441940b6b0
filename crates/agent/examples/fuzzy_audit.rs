//! Lists dictionary words that the red-flag typo matching would read as rule words, so a rule
//! author can add the false readings to `PROTECTED_WORDS` (crates/agent/src/triage/lexicon.rs).
//!
//! `cargo run -p frontdesk-agent --example fuzzy_audit -- /usr/share/dict/british-english`
//! (Debian's `wbritish` package provides that file).

use std::process::ExitCode;

fn main() -> ExitCode {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: fuzzy_audit DICTIONARY_FILE");
        return ExitCode::FAILURE;
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("cannot read {path}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let found = frontdesk_agent::triage::fuzzy_audit(text.lines());
    for (word, rule_words) in &found {
        println!("{word} -> {}", rule_words.join(", "));
    }
    eprintln!(
        "{} dictionary words read as typos of rule words",
        found.len()
    );
    ExitCode::SUCCESS
}
