//! Configuration: `config::from_toml_str`, which is `config::load` without the machine
//! (defaults, then the text of a configuration file, then `FRONTDESK_*` variables; no file is
//! read and the real environment is never looked at), then every check and derived value the
//! server computes from a `Config` before it starts.
//!
//! Input: TOML text (the seeds are the examples of docs/CONFIG.md and the tests). After a line
//! `#--env--`, each `NAME=value` line is one environment variable.
//!
//! Properties: nothing panics; the derived values stay in their documented ranges.
#![no_main]

use frontdesk_server::config;
use libfuzzer_sys::fuzz_target;

const ENV_MARK: &str = "\n#--env--\n";

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (toml, env_text) = text.split_once(ENV_MARK).unwrap_or((text, ""));
    let env: Vec<(String, String)> = env_text
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let Ok(loaded) = config::from_toml_str(toml, &env) else {
        return;
    };
    let c = loaded.config;
    let _ = c.database();
    let _ = c.keyring();
    let _ = c.production_problems();
    let _ = c.recordings_dir();
    let _ = c.blob_store();
    let _ = format!("{c:?}");
    if let Some(base) = c.public_base() {
        assert!(!base.is_empty() && !base.ends_with('/'));
    }
    let ttl = c.webchat_ttl();
    assert!(
        ttl >= jiff::SignedDuration::from_hours(1) && ttl <= jiff::SignedDuration::from_hours(720)
    );
});
