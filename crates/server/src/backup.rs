//! Encrypted backups and restore (#8 item 4).
//!
//! `backup` takes a consistent copy of the whole database while the server runs (SQLite:
//! `VACUUM INTO`; PostgreSQL: `pg_dump --format=custom`, one snapshot), encrypts it with a
//! fresh 256-bit key in 1 MiB chunks (AES-256-GCM; each chunk bound to the backup, its index
//! and whether it is the last, so chunks cannot be dropped, reordered or swapped between
//! backups), and wraps that key with the keyring's active master key. Next to the encrypted
//! file it writes a manifest: format, engine, sizes, SHA-256 of the plaintext and of the
//! ciphertext, the wrapped key and its master key id, and the erasure ledger (clinic and
//! patient ids only) as it was.
//!
//! `restore` checks the ciphertext's checksum, decrypts chunk by chunk, checks the plaintext's
//! checksum, puts the database in place (SQLite: the file, the one before kept aside;
//! PostgreSQL: `pg_restore --clean`), and then erases again every patient in any erasure
//! ledger it can find — the database it replaces, the backup's own, and every other backup's
//! manifest in the same directory — so that a restore never brings an erased patient back.

use anyhow::{Context, bail};
use frontdesk_store::crypto::{Aad, DataKey, Keyring};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// The manifest's format name.
pub const FORMAT: &str = "frontdesk.backup.v1";
/// Plaintext bytes per encrypted chunk.
const CHUNK: usize = 1 << 20;

/// One erased patient, as a backup's manifest carries it (ids only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Erased {
    pub tenant: String,
    pub patient: String,
}

/// What a backup is, next to its encrypted file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub id: String,
    pub created_at: String,
    /// `sqlite` or `postgres`.
    pub engine: String,
    /// The encrypted file's name, in the manifest's directory.
    pub file: String,
    pub plaintext_bytes: u64,
    pub plaintext_sha256: String,
    pub ciphertext_bytes: u64,
    pub ciphertext_sha256: String,
    pub chunk_bytes: u64,
    pub chunks: u64,
    /// The master key that wraps the backup key, and the wrapped key (base64).
    pub key_id: String,
    pub wrapped_key: String,
    /// Every clinic's erasure ledger at the time of the backup.
    pub erased: Vec<Erased>,
}

fn aad_row(id: &str, index: u64, last: bool) -> String {
    format!("{id}|{index}|{}", if last { "last" } else { "more" })
}

fn aad(row: &str) -> Aad<'_> {
    Aad {
        tenant: uuid::Uuid::nil(),
        table: "backups",
        column: "chunk",
        row,
    }
}

fn hex(bytes: &[u8]) -> String {
    frontdesk_store::hex(bytes)
}

/// Encrypts `plain` into `out` chunk by chunk; answers (chunks, ciphertext bytes, sha256).
fn seal_file(
    key: &DataKey,
    id: &str,
    plain: &Path,
    out: &Path,
    progress: &mut dyn FnMut(u64, u64),
) -> anyhow::Result<(u64, u64, String, String)> {
    let total = std::fs::metadata(plain)?.len();
    let mut input = std::fs::File::open(plain)?;
    let mut output = create_private(out)?;
    let (mut plain_sha, mut cipher_sha) = (Sha256::new(), Sha256::new());
    let (mut index, mut written, mut read) = (0u64, 0u64, 0u64);
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = read_full(&mut input, &mut buf)?;
        read += n as u64;
        let last = read >= total;
        plain_sha.update(&buf[..n]);
        let sealed = key
            .seal(&aad(&aad_row(id, index, last)), &buf[..n])
            .map_err(|e| anyhow::anyhow!("encryption failed: {e}"))?;
        let len = u32::try_from(sealed.len())?.to_be_bytes();
        for part in [&len[..], &sealed[..]] {
            output.write_all(part)?;
            cipher_sha.update(part);
            written += part.len() as u64;
        }
        index += 1;
        progress(read, total);
        if last {
            break;
        }
    }
    output.sync_all()?;
    Ok((
        index,
        written,
        hex(&plain_sha.finalize()),
        hex(&cipher_sha.finalize()),
    ))
}

fn read_full(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

fn create_private(path: &Path) -> anyhow::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
        .open(path)
        .with_context(|| format!("could not create {}", path.display()))
}

fn sha256_file(path: &Path) -> anyhow::Result<String> {
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex(&h.finalize()))
}

/// Decrypts a backup's file into `out` (checking every chunk, the count and both checksums).
fn open_file(
    m: &Manifest,
    key: &DataKey,
    sealed: &Path,
    out: &Path,
    progress: &mut dyn FnMut(u64, u64),
) -> anyhow::Result<()> {
    let mut input = std::fs::File::open(sealed)?;
    let mut output = create_private(out)?;
    let mut plain_sha = Sha256::new();
    let mut done = 0u64;
    for index in 0..m.chunks {
        let mut len = [0u8; 4];
        input
            .read_exact(&mut len)
            .context("the backup file ends early")?;
        let len = u32::from_be_bytes(len) as usize;
        if len > CHUNK + 64 {
            bail!("the backup file is damaged (chunk {index} is too long)");
        }
        let mut sealed = vec![0u8; len];
        input
            .read_exact(&mut sealed)
            .context("the backup file ends early")?;
        let last = index + 1 == m.chunks;
        let plain = key
            .open(&aad(&aad_row(&m.id, index, last)), &sealed)
            .map_err(|_| {
                anyhow::anyhow!(
                    "chunk {index} does not decrypt: the backup was altered or is not this one"
                )
            })?;
        plain_sha.update(&plain[..]);
        output.write_all(&plain)?;
        done += plain.len() as u64;
        progress(done, m.plaintext_bytes);
    }
    if input.read(&mut [0u8; 1])? != 0 {
        bail!("the backup file has data after its last chunk");
    }
    output.sync_all()?;
    if hex(&plain_sha.finalize()) != m.plaintext_sha256 || done != m.plaintext_bytes {
        bail!("the restored database does not match the backup's checksum");
    }
    Ok(())
}

/// Where a backup's database comes from and goes to.
#[derive(Clone)]
pub enum Target {
    Sqlite(PathBuf),
    /// `dump`: the URL pg_dump reads with (a role that bypasses row-level security);
    /// `restore`: the schema owner's URL, pg_restore writes with.
    Postgres {
        dump: String,
        restore: String,
    },
}

impl Target {
    fn engine(&self) -> &'static str {
        match self {
            Target::Sqlite(_) => "sqlite",
            Target::Postgres { .. } => "postgres",
        }
    }
}

async fn snapshot(target: &Target, out: &Path) -> anyhow::Result<()> {
    match target {
        Target::Sqlite(db) => frontdesk_store::sqlite_snapshot(db, out)
            .await
            .with_context(|| format!("cannot take a consistent copy of {}", db.display()))?,
        Target::Postgres { dump, .. } => {
            let (out, url) = (out.to_path_buf(), dump.clone());
            let status = tokio::task::spawn_blocking(move || {
                std::process::Command::new("pg_dump")
                    .args(["--format=custom", "--no-owner", "--no-privileges", "--file"])
                    .arg(&out)
                    .arg(format!("--dbname={url}"))
                    .status()
            })
            .await?
            .context("pg_dump could not be started (install the PostgreSQL client tools)")?;
            if !status.success() {
                bail!("pg_dump failed ({status})");
            }
        }
    }
    Ok(())
}

/// Takes an encrypted backup of `target` into `dir`; answers the manifest (also written there,
/// as `backup-ID.json`, next to `backup-ID.enc`).
pub async fn backup(
    target: &Target,
    keyring: &Keyring,
    erased: Vec<Erased>,
    dir: &Path,
    progress: &mut dyn FnMut(u64, u64),
) -> anyhow::Result<Manifest> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let now = jiff::Timestamp::now();
    let id = format!(
        "{}-{}",
        now.strftime("%Y%m%dT%H%M%SZ"),
        &uuid::Uuid::now_v7().simple().to_string()[24..]
    );
    let work = tempfile::Builder::new()
        .prefix(".frontdesk-backup-")
        .tempdir_in(dir)?;
    let plain = work.path().join("snapshot");
    snapshot(target, &plain).await?;
    let key = DataKey::generate();
    let (key_id, wrapped) = keyring
        .wrap(&aad(&id), &key)
        .map_err(|e| anyhow::anyhow!("cannot wrap the backup key: {e}"))?;
    let file = format!("backup-{id}.enc");
    let sealed_tmp = work.path().join(&file);
    let (chunks, cipher_bytes, plain_sha, cipher_sha) =
        seal_file(&key, &id, &plain, &sealed_tmp, progress)?;
    let manifest = Manifest {
        format: FORMAT.into(),
        id: id.clone(),
        created_at: now.to_string(),
        engine: target.engine().into(),
        file: file.clone(),
        plaintext_bytes: std::fs::metadata(&plain)?.len(),
        plaintext_sha256: plain_sha,
        ciphertext_bytes: cipher_bytes,
        ciphertext_sha256: cipher_sha,
        chunk_bytes: CHUNK as u64,
        chunks,
        key_id,
        wrapped_key: base64_encode(&wrapped),
        erased,
    };
    // The encrypted file first, then the manifest: a manifest always has its file.
    std::fs::rename(&sealed_tmp, dir.join(&file))?;
    let manifest_tmp = work.path().join("manifest.json");
    create_private(&manifest_tmp)?
        .write_all(serde_json::to_string_pretty(&manifest)?.as_bytes())?;
    std::fs::rename(&manifest_tmp, dir.join(format!("backup-{id}.json")))?;
    Ok(manifest)
}

fn base64_encode(b: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(b)
}

fn base64_decode(s: &str) -> anyhow::Result<Vec<u8>> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .context("the manifest's wrapped key is not base64")
}

/// Reads a manifest and checks that it is one.
pub fn read_manifest(path: &Path) -> anyhow::Result<Manifest> {
    let raw =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let m: Manifest = serde_json::from_str(&raw)
        .with_context(|| format!("{} is not a backup manifest", path.display()))?;
    if m.format != FORMAT {
        bail!(
            "{} is a `{}` document, not a `{FORMAT}` backup",
            path.display(),
            m.format
        );
    }
    if m.file.contains('/') || m.file.contains('\\') || m.file.starts_with('.') {
        bail!("the manifest names a file outside its directory");
    }
    Ok(m)
}

/// Every erased patient named by the other backups' manifests in `dir`.
pub fn erased_in_dir(dir: &Path) -> Vec<Erased> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let p = e.path();
        let is_manifest = p
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("backup-") && n.ends_with(".json"));
        if is_manifest && let Ok(m) = read_manifest(&p) {
            out.extend(m.erased);
        }
    }
    out
}

/// Checks and decrypts the backup `manifest_path` names, then puts it in place of `target`.
/// The caller erases the ledgers' patients again afterwards (see [`crate::backup`]).
pub async fn restore(
    manifest_path: &Path,
    target: &Target,
    keyring: &Keyring,
    progress: &mut dyn FnMut(u64, u64),
) -> anyhow::Result<Manifest> {
    let m = read_manifest(manifest_path)?;
    if m.engine != target.engine() {
        bail!(
            "this is a {} backup; the configured database is {}",
            m.engine,
            target.engine()
        );
    }
    let dir = manifest_path.parent().unwrap_or(Path::new("."));
    let sealed = dir.join(&m.file);
    let sha = sha256_file(&sealed).with_context(|| format!("cannot read {}", sealed.display()))?;
    if sha != m.ciphertext_sha256 {
        bail!(
            "{} does not match its manifest's checksum: it is damaged or not this backup",
            sealed.display()
        );
    }
    let key = keyring
        .unwrap_key(&m.key_id, &aad(&m.id), &base64_decode(&m.wrapped_key)?)
        .map_err(|_| {
            anyhow::anyhow!(
                "the backup key does not unwrap with master key `{}` (is it in the keyring?)",
                m.key_id
            )
        })?;
    let work_dir = match target {
        Target::Sqlite(db) => db
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from(".")),
        Target::Postgres { .. } => std::env::temp_dir(),
    };
    let work = tempfile::Builder::new()
        .prefix(".frontdesk-restore-")
        .tempdir_in(&work_dir)?;
    let plain = work.path().join("restored");
    open_file(&m, &key, &sealed, &plain, progress)?;
    match target {
        Target::Sqlite(db) => {
            if db.exists() {
                let aside = db.with_file_name(format!(
                    "{}.before-restore-{}",
                    db.file_name()
                        .and_then(|n| n.to_str())
                        .unwrap_or("frontdesk.db"),
                    jiff::Timestamp::now().strftime("%Y%m%dT%H%M%SZ")
                ));
                std::fs::rename(db, &aside)
                    .with_context(|| format!("cannot move {} aside", db.display()))?;
            }
            for suffix in ["-wal", "-shm"] {
                let side = PathBuf::from(format!("{}{suffix}", db.display()));
                if side.exists() {
                    std::fs::remove_file(&side)?;
                }
            }
            std::fs::rename(&plain, db)?;
        }
        Target::Postgres { restore, .. } => {
            let (plain, url) = (plain.clone(), restore.clone());
            let status = tokio::task::spawn_blocking(move || {
                std::process::Command::new("pg_restore")
                    .args([
                        "--clean",
                        "--if-exists",
                        "--no-owner",
                        "--no-privileges",
                        "--single-transaction",
                    ])
                    .arg(format!("--dbname={url}"))
                    .arg(&plain)
                    .status()
            })
            .await?
            .context("pg_restore could not be started (install the PostgreSQL client tools)")?;
            if !status.success() {
                bail!("pg_restore failed ({status}); the database is as it was");
            }
        }
    }
    Ok(m)
}

/// The configured database as a backup target.
pub fn target(cfg: &crate::config::Config) -> anyhow::Result<Target> {
    let db = cfg.database()?;
    if let Some(path) = cfg.sqlite_path() {
        return Ok(Target::Sqlite(path));
    }
    if db.url.starts_with("postgres") {
        let owner = db.owner_url.clone().unwrap_or_else(|| db.url.clone());
        let dump = cfg
            .database_backup_url()
            .map_or_else(|| owner.clone(), str::to_owned);
        return Ok(Target::Postgres {
            dump,
            restore: owner,
        });
    }
    bail!("backups need a SQLite file or a PostgreSQL database")
}

/// Every clinic's erasure ledger, as ids (what a backup's manifest carries).
pub async fn erasures(store: &dyn frontdesk_store::Store) -> anyhow::Result<Vec<Erased>> {
    let mut out = Vec::new();
    for t in store.list_tenants().await? {
        if matches!(t.status.as_str(), "purging" | "purged") {
            continue; // its ledger went with it
        }
        let scope = store.operator_scope(&t.slug).await?;
        for e in store.erasure_ledger(scope).await? {
            out.push(Erased {
                tenant: t.id.to_string(),
                patient: e.patient.to_string(),
            });
        }
    }
    Ok(out)
}

/// Keeps the `keep` newest backups in `dir` (manifest names start with their time) and
/// deletes the older ones, manifest and encrypted file. Answers how many went.
pub fn prune(dir: &Path, keep: usize) -> anyhow::Result<usize> {
    let mut manifests: Vec<PathBuf> = std::fs::read_dir(dir)?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("backup-") && n.ends_with(".json"))
        })
        .collect();
    manifests.sort();
    let old = manifests.len().saturating_sub(keep.max(1));
    for manifest in &manifests[..old] {
        if let Ok(m) = read_manifest(manifest) {
            let _ = std::fs::remove_file(dir.join(&m.file));
        }
        std::fs::remove_file(manifest)?;
    }
    Ok(old)
}

/// One scheduled backup: taken on a blocking thread (its file work must not hold up the
/// server), then the directory pruned to `keep`.
pub async fn scheduled_backup(
    target: Target,
    keyring: Keyring,
    store: std::sync::Arc<dyn frontdesk_store::Store>,
    dir: PathBuf,
    keep: usize,
) -> anyhow::Result<Manifest> {
    let erased = erasures(store.as_ref()).await?;
    let handle = tokio::runtime::Handle::current();
    let dir2 = dir.clone();
    let manifest = tokio::task::spawn_blocking(move || {
        handle.block_on(backup(&target, &keyring, erased, &dir2, &mut |_, _| {}))
    })
    .await??;
    prune(&dir, keep)?;
    Ok(manifest)
}

/// The name scheduled backups are claimed under in the store's maintenance leases.
pub const BACKUP_PASS: &str = "backup";
/// How long an instance holds the scheduled backup before another may take it over (its
/// holder is then taken to have died). Longer than any backup takes.
const BACKUP_LEASE: jiff::SignedDuration = jiff::SignedDuration::from_hours(6);
/// How often each instance with `backup_dir` looks whether a backup is due.
const BACKUP_CHECK_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

/// Takes a scheduled backup if one is due: none taken in the last `every` by any instance
/// sharing the database, and no other instance taking one now (see
/// [`frontdesk_store::CoordinationStore::claim_maintenance`]). `Ok(None)`: not due, or
/// another instance has it. A failed backup is released, for the next check to try again.
pub async fn backup_if_due(
    holder: &str,
    every: jiff::SignedDuration,
    target: Target,
    keyring: Keyring,
    store: std::sync::Arc<dyn frontdesk_store::Store>,
    dir: PathBuf,
    keep: usize,
) -> anyhow::Result<Option<Manifest>> {
    let Some(lease) = store
        .claim_maintenance(BACKUP_PASS, holder, every, BACKUP_LEASE)
        .await?
    else {
        return Ok(None);
    };
    let taken = scheduled_backup(target, keyring, store.clone(), dir, keep).await;
    store.finish_maintenance(&lease, taken.is_ok()).await?;
    taken.map(Some)
}

/// Takes a backup every `every` over all the instances that have `backup_dir` set and share
/// the database (one of them takes each; the first at start if none was taken in the last
/// `every`), looking once a minute, until the process stops. A failed backup is logged and
/// tried again at the next look.
pub async fn schedule(
    target: Target,
    keyring: Keyring,
    store: std::sync::Arc<dyn frontdesk_store::Store>,
    dir: PathBuf,
    keep: usize,
    every: std::time::Duration,
) {
    let holder = format!("backup-{}-{}", std::process::id(), uuid::Uuid::now_v7());
    let every = jiff::SignedDuration::try_from(every)
        .unwrap_or_else(|_| jiff::SignedDuration::from_hours(24));
    let mut tick = tokio::time::interval(BACKUP_CHECK_EVERY);
    loop {
        tick.tick().await;
        let started = std::time::Instant::now();
        match backup_if_due(
            &holder,
            every,
            target.clone(),
            keyring.clone(),
            store.clone(),
            dir.clone(),
            keep,
        )
        .await
        {
            Ok(Some(m)) => tracing::info!(
                backup = %m.id,
                bytes = m.plaintext_bytes,
                seconds = started.elapsed().as_secs_f64(),
                "scheduled backup written"
            ),
            Ok(None) => {}
            Err(e) => {
                tracing::error!(error = %e, "scheduled backup failed; tried again at the next look")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use frontdesk_store::testing::{TestDb, test_keyring};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_scheduled_backup_restores_and_only_the_newest_are_kept() {
        let db = TestDb::sqlite().await.unwrap();
        let ring = test_keyring();
        let store = db
            .open(
                ring.clone(),
                std::sync::Arc::new(frontdesk_domain::SystemClock),
            )
            .await
            .unwrap();
        let slug = frontdesk_domain::TenantSlug::parse("kauri-dental").unwrap();
        let profile = crate::demo::DEMO_CLINICS[0].profile;
        store
            .create_tenant(&slug, &profile().unwrap())
            .await
            .unwrap();
        let path = db.sqlite_path.clone().unwrap();
        let target = Target::Sqlite(path.clone());
        let dir = tempfile::tempdir().unwrap();
        let mut ids = Vec::new();
        for _ in 0..3 {
            let m = scheduled_backup(
                target.clone(),
                ring.clone(),
                store.clone(),
                dir.path().to_path_buf(),
                2,
            )
            .await
            .unwrap();
            ids.push(m.id);
            // Names carry the second they were taken: keep them apart.
            tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        }
        let mut names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        let want: Vec<String> = ids[1..]
            .iter()
            .flat_map(|id| [format!("backup-{id}.enc"), format!("backup-{id}.json")])
            .collect();
        assert_eq!(names, want, "the two newest, each with its file");

        // The newest restores to a database that opens with the same keys.
        let restored = tempfile::tempdir().unwrap();
        let into = Target::Sqlite(restored.path().join("frontdesk.db"));
        let manifest = dir.path().join(format!("backup-{}.json", ids[2]));
        restore(&manifest, &into, &ring, &mut |_, _| {})
            .await
            .unwrap();
        let reopened = frontdesk_store::open(
            &frontdesk_store::DatabaseConfig {
                url: format!(
                    "sqlite://{}",
                    restored.path().join("frontdesk.db").display()
                ),
                owner_url: None,
                app_role: None,
                max_connections: 2,
            },
            ring.clone(),
            std::sync::Arc::new(frontdesk_domain::SystemClock),
        )
        .await
        .unwrap()
        .store;
        let tenants = reopened.list_tenants().await.unwrap();
        assert_eq!(tenants.len(), 1);
        assert_eq!(tenants[0].slug, slug);
        assert_eq!(prune(dir.path(), 5).unwrap(), 0, "nothing to prune");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn one_instance_takes_each_scheduled_backup_and_the_next_is_due_a_period_later() {
        let db = TestDb::sqlite().await.unwrap();
        let ring = test_keyring();
        let clock = std::sync::Arc::new(frontdesk_domain::ManualClock::new(
            jiff::Timestamp::from_second(1_900_000_000).unwrap(),
        ));
        let store = db.open(ring.clone(), clock.clone()).await.unwrap();
        let target = Target::Sqlite(db.sqlite_path.clone().unwrap());
        let day = jiff::SignedDuration::from_hours(24);
        let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let take = |who: &'static str, dir: PathBuf| {
            backup_if_due(
                who,
                day,
                target.clone(),
                ring.clone(),
                store.clone(),
                dir,
                3,
            )
        };
        let first = take("a", dir_a.path().to_path_buf()).await.unwrap();
        assert!(first.is_some(), "none taken yet: due");
        assert!(
            take("b", dir_b.path().to_path_buf())
                .await
                .unwrap()
                .is_none()
        );
        assert!(
            take("a", dir_a.path().to_path_buf())
                .await
                .unwrap()
                .is_none()
        );
        clock.advance(jiff::SignedDuration::from_hours(23));
        assert!(
            take("b", dir_b.path().to_path_buf())
                .await
                .unwrap()
                .is_none()
        );
        clock.advance(jiff::SignedDuration::from_hours(1));
        let second = take("b", dir_b.path().to_path_buf()).await.unwrap();
        assert!(
            second.is_some(),
            "a day later, due again: taken by whoever looks first"
        );
        assert!(
            take("a", dir_a.path().to_path_buf())
                .await
                .unwrap()
                .is_none()
        );
        let count = |d: &Path| std::fs::read_dir(d).unwrap().count();
        assert_eq!(
            (count(dir_a.path()), count(dir_b.path())),
            (2, 2),
            "one backup (file and manifest) each"
        );
        let runs = store.maintenance_runs().await.unwrap();
        assert_eq!(runs.len(), 1);
        assert_eq!((runs[0].name.as_str(), runs[0].runs), (BACKUP_PASS, 2));
    }
}
