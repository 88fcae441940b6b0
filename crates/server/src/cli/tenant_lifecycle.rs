//! `frontdesk tenant list | terminate | reinstate | purge | certificate`: the end of a clinic
//! (see `frontdesk_server::lifecycle` and docs/OPERATIONS.md, "The end of a clinic").

use super::{
    DataArgs, LogFormat, TenantLifecycle, clinic_scope, open_store, resolve, write_private,
};
use anyhow::{Context, bail};
use frontdesk_domain::TenantSlug;
use frontdesk_server::lifecycle::{PurgeError, purge_clinic, purge_due_at};
use frontdesk_store::{Actor, StoreError, TenantSummary};
use std::path::Path;

/// One line per clinic, tab-separated: slug, id, status, created, and when it is (or was)
/// purged: `purge due TIME` while terminated, `purged TIME` once purged, else `-`.
pub(super) async fn list(data: &DataArgs) -> anyhow::Result<()> {
    let cfg = resolve(data, LogFormat::Pretty, "warn")?;
    let hold = cfg.termination_hold();
    let store = open_store(&cfg).await?;
    for t in store.list_tenants().await? {
        let end = match (t.status.as_str(), t.terminated_at, t.purged_at) {
            (_, _, Some(at)) => format!("purged {at}"),
            ("terminated", Some(at), _) => format!("purge due {}", purge_due_at(at, hold)),
            ("purging", _, _) => "purge under way".to_owned(),
            _ => "-".to_owned(),
        };
        println!(
            "{}\t{}\t{}\t{}\t{end}",
            t.slug, t.id, t.status, t.created_at
        );
    }
    Ok(())
}

async fn summary_of(
    store: &dyn frontdesk_store::Store,
    slug: &str,
) -> anyhow::Result<TenantSummary> {
    let slug = TenantSlug::parse(slug)?;
    store
        .list_tenants()
        .await?
        .into_iter()
        .find(|t| t.slug == slug)
        .with_context(|| format!("no clinic `{slug}` (see `frontdesk tenant list`)"))
}

pub(super) async fn terminate(a: TenantLifecycle) -> anyhow::Result<()> {
    let cfg = resolve(&a.data, LogFormat::Pretty, "warn")?;
    let hold = cfg.termination_hold();
    let store = open_store(&cfg).await?;
    let scope = clinic_scope(store.as_ref(), &a.tenant).await?;
    if !a.yes {
        println!(
            "would terminate `{}`: it would take no traffic and its staff would be signed out; \
             its data would be purged {} days later; run again with --yes to do it",
            a.tenant, cfg.termination_hold_days
        );
        return Ok(());
    }
    let t = match store.terminate_tenant(scope, Actor::Operator).await {
        Err(StoreError::Conflict(why)) => bail!("`{}` was not terminated: {why}", a.tenant),
        other => other?,
    };
    let due = t.terminated_at.map(|at| purge_due_at(at, hold));
    println!(
        "terminated `{}`: it takes no traffic and its staff are signed out; the operator can \
         still export it; `frontdesk tenant reinstate` undoes this until it is purged (due {})",
        a.tenant,
        due.map_or_else(|| "-".to_owned(), |d| d.to_string())
    );
    Ok(())
}

pub(super) async fn reinstate(slug: &str, data: &DataArgs) -> anyhow::Result<()> {
    let store = open_store(&resolve(data, LogFormat::Pretty, "warn")?).await?;
    let scope = clinic_scope(store.as_ref(), slug).await?;
    match store.reinstate_tenant(scope, Actor::Operator).await {
        Err(StoreError::Conflict(why)) => bail!("`{slug}` was not reinstated: {why}"),
        other => other?,
    };
    println!("reinstated `{slug}`: it takes traffic again");
    Ok(())
}

pub(super) async fn purge(a: TenantLifecycle, before_hold_ends: bool) -> anyhow::Result<()> {
    let cfg = resolve(&a.data, LogFormat::Pretty, "warn")?;
    let hold = cfg.termination_hold();
    let store = open_store(&cfg).await?;
    let t = summary_of(store.as_ref(), &a.tenant).await?;
    match (t.status.as_str(), t.terminated_at) {
        ("terminated", Some(at))
            if !before_hold_ends && jiff::Timestamp::now() < purge_due_at(at, hold) =>
        {
            bail!(
                "`{}` was terminated at {at}; its {}-day hold ends at {}: not purged. To purge it \
             before then, run again with --now (its data cannot be exported afterwards)",
                a.tenant,
                cfg.termination_hold_days,
                purge_due_at(at, hold)
            )
        }
        ("terminated" | "purging" | "purged", _) => {}
        (status, _) => bail!(
            "`{}` is {status}: only a terminated clinic can be purged (`frontdesk tenant terminate`)",
            a.tenant
        ),
    }
    if !a.yes && t.status != "purged" {
        println!(
            "would purge `{}` for good: every row, its recordings' audio and its keys; run again \
             with --yes to do it",
            a.tenant
        );
        return Ok(());
    }
    let blobs = frontdesk_server::blobs::blob_store(&cfg).ok();
    let cert = purge_clinic(
        store.as_ref(),
        blobs.as_deref(),
        &t.slug,
        hold,
        before_hold_ends,
    )
    .await
    .map_err(|e| match e {
        PurgeError::Store(StoreError::Conflict(why)) => {
            anyhow::anyhow!("`{}` was not purged: {why}", a.tenant)
        }
        e => anyhow::Error::from(e).context(format!(
            "the purge of `{}` did not finish; run it again",
            a.tenant
        )),
    })?;
    println!("{}", cert.to_document());
    eprintln!(
        "purged `{}`: its rows and keys are gone; the certificate above is kept \
         (`frontdesk tenant certificate --tenant {}`)",
        a.tenant, a.tenant
    );
    Ok(())
}

pub(super) async fn certificate(
    slug: &str,
    out: Option<&Path>,
    data: &DataArgs,
) -> anyhow::Result<()> {
    let store = open_store(&resolve(data, LogFormat::Pretty, "warn")?).await?;
    let cert = store
        .deletion_certificate(&TenantSlug::parse(slug)?)
        .await
        .map_err(|e| match e {
            StoreError::NotFound => {
                anyhow::anyhow!("`{slug}` has no deletion certificate: it has not been purged")
            }
            e => e.into(),
        })?;
    if !cert.verify() {
        bail!("the stored certificate of `{slug}` does not match its digest: it was altered");
    }
    match out {
        Some(path) => {
            write_private(path, &cert.to_document())?;
            println!(
                "wrote the deletion certificate of `{slug}` to {}",
                path.display()
            );
        }
        None => println!("{}", cert.to_document()),
    }
    Ok(())
}

/// The clinics purged (or being purged) in this database: what a restore must purge again.
pub(super) async fn purged_clinics(store: &dyn frontdesk_store::Store) -> Vec<TenantSummary> {
    let mut out = store.list_tenants().await.unwrap_or_default();
    out.retain(|t| matches!(t.status.as_str(), "purging" | "purged"));
    out
}

/// After a restore: purges again every clinic of `purged` (by id) that the restored backup
/// still holds, so an old backup never brings a purged clinic back. Answers how many.
pub(super) async fn purge_again(
    cfg: &frontdesk_server::config::Config,
    store: &dyn frontdesk_store::Store,
    purged: &[TenantSummary],
) -> anyhow::Result<usize> {
    let blobs = frontdesk_server::blobs::blob_store(cfg).ok();
    let mut again = 0;
    for t in store.list_tenants().await? {
        if !purged.iter().any(|p| p.id == t.id) || t.status == "purged" {
            continue;
        }
        if matches!(t.status.as_str(), "active" | "suspended") {
            let scope = store.operator_scope(&t.slug).await?;
            store.terminate_tenant(scope, Actor::Operator).await?;
        }
        purge_clinic(
            store,
            blobs.as_deref(),
            &t.slug,
            cfg.termination_hold(),
            true,
        )
        .await
        .with_context(|| format!("could not purge `{}` again after the restore", t.slug))?;
        again += 1;
    }
    Ok(again)
}
