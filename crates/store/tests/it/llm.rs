//! A clinic's language model settings and accounting on both engines: settings written and
//! read back without the API key (only when it was set), the key sealed at rest and opened
//! only for the turn runner, every change audited without the key, usage rows written with
//! the turn and summed per month against the budget, and everything confined to its clinic.

use crate::encryption::{contains, storage_dump};
use crate::harness::*;
use frontdesk_domain::{Clock, ConversationId};
use frontdesk_store::testing::{TestDb, test_keyring};
use frontdesk_store::*;
use jiff::SignedDuration;

engine_tests!(
    settings_are_read_back_without_the_key_which_only_the_turn_runner_opens,
    every_change_is_audited_without_the_key_and_the_key_is_sealed_at_rest,
    the_key_is_kept_replaced_or_cleared_as_asked,
    disabled_settings_give_the_turn_runner_nothing,
    bad_settings_are_refused_with_the_field_named,
    usage_is_written_with_the_turn_and_summed_for_the_month_against_the_budget,
    another_clinics_settings_and_usage_are_invisible,
    every_settings_change_bumps_the_clinics_stamp_and_spending_does_not,
    the_months_spend_written_before_the_count_began_is_counted,
    only_a_clinic_with_a_budget_is_counted_and_a_new_budget_counts_the_month_so_far,
);

// The application's own tenant filters alone, without row-level security.
postgres_as_owner_tests!(another_clinics_settings_and_usage_are_invisible);

const KEY: &str = "sk-live-Zq9SECRETkey";

fn key(k: &str) -> LlmKeyChange {
    LlmKeyChange::Set(k.to_owned().into())
}

/// Writes the test settings with a monthly budget of `cents` (`None`: no budget).
async fn set_budget(store: &dyn Store, scope: TenantScope, cents: Option<i64>) {
    let s = LlmSettingsInput {
        monthly_budget_cents: cents,
        ..llm_settings()
    };
    store
        .set_llm_settings(scope, &s, key(KEY), Actor::Operator)
        .await
        .unwrap();
}

/// A model turn in `conv` costing `cost` micro-units, `days_back` days before the clock's time.
async fn model_turn(
    store: &dyn Store,
    clock: &frontdesk_domain::ManualClock,
    scope: TenantScope,
    conv: ConversationId,
    cost: i64,
    days_back: i64,
) {
    let back = SignedDuration::from_hours(24 * days_back);
    clock.advance(-back);
    let mut t = turn(NewMessage::inbound("hi"), &["hello"]);
    t.llm_usage = Some(llm_usage(conv, cost));
    store.record_turn(scope, conv, &t).await.unwrap();
    clock.advance(back);
}

/// A new patient's web chat with the clinic.
async fn web_chat(store: &dyn Store, scope: TenantScope) -> ConversationId {
    let patient = store
        .create_patient(scope, &NewPatient::default())
        .await
        .unwrap();
    store
        .start_conversation(scope, patient, Channel::Webchat)
        .await
        .unwrap()
}

async fn settings_are_read_back_without_the_key_which_only_the_turn_runner_opens(db: &TestDb) {
    let (store, clock) = store_with_clock(db).await;
    let scope = new_tenant(&*store, "clinic-a").await;
    assert_eq!(store.llm_settings(scope).await.unwrap(), None);
    assert!(store.llm_runtime(scope, start()).await.unwrap().is_none());

    let written = store
        .set_llm_settings(scope, &llm_settings(), key(KEY), Actor::Operator)
        .await
        .unwrap();
    assert_eq!(written.settings, llm_settings());
    assert_eq!(written.api_key_set_at, Some(start()));
    assert_eq!(written.updated_at, start());
    assert_eq!(written.updated_by, "operator");
    assert_eq!(
        store.llm_settings(scope).await.unwrap(),
        Some(written.clone())
    );

    clock.advance(SignedDuration::from_secs(5));
    let runtime = store
        .llm_runtime(scope, month_start(clock.now()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(runtime.api_key.as_deref().map(String::as_str), Some(KEY));
    assert_eq!(runtime.settings, written);
    assert_eq!(runtime.month_cost_micros, 0);
    assert!(!runtime.budget_exhausted());

    let debug = format!("{written:?} {runtime:?} {:?}", key(KEY));
    assert!(!debug.contains(KEY), "{debug}");
    assert!(debug.contains("llama3.1:8b"), "{debug}");
}

async fn every_change_is_audited_without_the_key_and_the_key_is_sealed_at_rest(db: &TestDb) {
    let store = store(db).await;
    let scope = new_tenant(&*store, "clinic-a").await;
    store
        .set_llm_settings(scope, &llm_settings(), key(KEY), Actor::Operator)
        .await
        .unwrap();
    let cheaper = LlmSettingsInput {
        monthly_budget_cents: Some(100),
        ..llm_settings()
    };
    store
        .set_llm_settings(scope, &cheaper, LlmKeyChange::Keep, Actor::Operator)
        .await
        .unwrap();
    assert!(store.disable_llm(scope, Actor::Operator).await.unwrap());
    assert!(
        !store.disable_llm(scope, Actor::Operator).await.unwrap(),
        "already off"
    );

    let audit = all_audit(&*store, scope).await;
    let actions: Vec<&str> = audit
        .iter()
        .map(|e| e.action.as_str())
        .filter(|a| a.starts_with("llm."))
        .collect();
    assert_eq!(
        actions,
        [
            "llm.settings_changed",
            "llm.credentials_set",
            "llm.settings_changed",
            "llm.settings_changed"
        ]
    );
    let changed: Vec<_> = audit
        .iter()
        .filter(|e| e.action == "llm.settings_changed")
        .collect();
    assert!(
        changed[0]
            .details
            .contains("\"fast_model\":\"llama3.1:8b\"")
    );
    assert!(changed[1].details.contains("\"monthly_budget_cents\":100"));
    assert!(changed[2].details.contains("\"enabled\":false"));
    for e in &audit {
        assert!(!e.details.contains("sk-live"), "{e:?}");
    }
    assert!(store.verify_audit_chain(scope).await.unwrap().is_intact());

    let dump = storage_dump(db).await;
    assert!(
        !contains(&dump, KEY.as_bytes()),
        "the key is stored in clear"
    );
    assert!(
        contains(&dump, b"llama3.1:70b"),
        "model names are kept in clear"
    );
}

async fn the_key_is_kept_replaced_or_cleared_as_asked(db: &TestDb) {
    let (store, clock) = store_with_clock(db).await;
    let scope = new_tenant(&*store, "clinic-a").await;
    let opened = |rt: Option<LlmRuntime>| rt.unwrap().api_key.map(|k| k.to_string());
    store
        .set_llm_settings(scope, &llm_settings(), key(KEY), Actor::Operator)
        .await
        .unwrap();
    clock.advance(SignedDuration::from_mins(1));
    let kept = store
        .set_llm_settings(scope, &llm_settings(), LlmKeyChange::Keep, Actor::Operator)
        .await
        .unwrap();
    assert_eq!(kept.api_key_set_at, Some(start()), "still the first key");
    assert_eq!(
        opened(store.llm_runtime(scope, start()).await.unwrap()),
        Some(KEY.into())
    );

    let later = start() + SignedDuration::from_mins(1);
    let replaced = store
        .set_llm_settings(
            scope,
            &llm_settings(),
            key("  sk-second  "),
            Actor::Operator,
        )
        .await
        .unwrap();
    assert_eq!(replaced.api_key_set_at, Some(later));
    assert_eq!(
        opened(store.llm_runtime(scope, start()).await.unwrap()),
        Some("sk-second".into()),
        "trimmed"
    );

    let cleared = store
        .set_llm_settings(scope, &llm_settings(), LlmKeyChange::Clear, Actor::Operator)
        .await
        .unwrap();
    assert_eq!(cleared.api_key_set_at, None);
    assert_eq!(
        opened(store.llm_runtime(scope, start()).await.unwrap()),
        None
    );
    let credentials: Vec<_> = all_audit(&*store, scope)
        .await
        .into_iter()
        .filter(|e| e.action == "llm.credentials_set")
        .map(|e| e.details)
        .collect();
    assert_eq!(
        credentials.len(),
        3,
        "set, replaced, cleared; kept is no change"
    );
    assert!(credentials[1].contains("\"cleared\":false"));
    assert!(credentials[2].contains("\"cleared\":true"));
}

async fn disabled_settings_give_the_turn_runner_nothing(db: &TestDb) {
    let store = store(db).await;
    let scope = new_tenant(&*store, "clinic-a").await;
    assert_err!(
        store.disable_llm(scope, Actor::Operator).await,
        StoreError::NotFound
    );
    let off = LlmSettingsInput {
        enabled: false,
        ..llm_settings()
    };
    store
        .set_llm_settings(scope, &off, key(KEY), Actor::Operator)
        .await
        .unwrap();
    assert!(store.llm_runtime(scope, start()).await.unwrap().is_none());
    let read = store.llm_settings(scope).await.unwrap().unwrap();
    assert!(!read.settings.enabled);
    assert!(read.api_key_set_at.is_some(), "the key is kept while off");
    store
        .set_llm_settings(scope, &llm_settings(), LlmKeyChange::Keep, Actor::Operator)
        .await
        .unwrap();
    assert!(store.llm_runtime(scope, start()).await.unwrap().is_some());
    store.disable_llm(scope, Actor::Operator).await.unwrap();
    assert!(store.llm_runtime(scope, start()).await.unwrap().is_none());
}

async fn bad_settings_are_refused_with_the_field_named(db: &TestDb) {
    let store = store(db).await;
    let scope = new_tenant(&*store, "clinic-a").await;
    let good = llm_settings;
    let cases: Vec<(&str, LlmSettingsInput, LlmKeyChange)> = vec![
        (
            "fast_model",
            LlmSettingsInput {
                fast_model: " ".into(),
                ..good()
            },
            LlmKeyChange::Keep,
        ),
        (
            "strong_model",
            LlmSettingsInput {
                strong_model: "x".repeat(201),
                ..good()
            },
            LlmKeyChange::Keep,
        ),
        (
            "strong_model",
            LlmSettingsInput {
                strong_model: "a\nb".into(),
                ..good()
            },
            LlmKeyChange::Keep,
        ),
        (
            "base_url",
            LlmSettingsInput {
                base_url: None,
                ..good()
            },
            LlmKeyChange::Keep,
        ),
        (
            "base_url",
            LlmSettingsInput {
                base_url: Some(" ".into()),
                ..good()
            },
            LlmKeyChange::Keep,
        ),
        (
            "prices",
            LlmSettingsInput {
                fast_prices: LlmPrices {
                    input_per_mtok: -1,
                    output_per_mtok: 0,
                },
                ..good()
            },
            LlmKeyChange::Keep,
        ),
        (
            "prices",
            LlmSettingsInput {
                strong_prices: LlmPrices {
                    input_per_mtok: 0,
                    output_per_mtok: MAX_PRICE_PER_MTOK + 1,
                },
                ..good()
            },
            LlmKeyChange::Keep,
        ),
        (
            "monthly_budget_cents",
            LlmSettingsInput {
                monthly_budget_cents: Some(-5),
                ..good()
            },
            LlmKeyChange::Keep,
        ),
        ("api_key", good(), key("   ")),
        ("api_key", good(), key(&"k".repeat(513))),
    ];
    // Each turn limit just outside its range, named as the CLI and the dashboard name it.
    let limit = |change: fn(&mut LlmLimits)| {
        let mut s = good();
        change(&mut s.limits);
        s
    };
    let mut cases = cases;
    for (field, settings) in [
        ("text_deadline_ms", limit(|l| l.text.deadline_ms = 999)),
        ("text_deadline_ms", limit(|l| l.text.deadline_ms = 60_001)),
        ("text_tool_rounds", limit(|l| l.text.tool_rounds = 9)),
        ("text_output_tokens", limit(|l| l.text.output_tokens = 15)),
        ("voice_deadline_ms", limit(|l| l.voice.deadline_ms = 10_001)),
        ("voice_deadline_ms", limit(|l| l.voice.deadline_ms = 499)),
        ("voice_tool_rounds", limit(|l| l.voice.tool_rounds = 5)),
        (
            "voice_output_tokens",
            limit(|l| l.voice.output_tokens = 1_001),
        ),
    ] {
        cases.push((field, settings, LlmKeyChange::Keep));
    }
    for (field, settings, key) in cases {
        match store
            .set_llm_settings(scope, &settings, key, Actor::Operator)
            .await
        {
            Err(StoreError::Invalid(frontdesk_domain::DomainError::Invalid {
                field: f, ..
            })) => {
                assert_eq!(f, field)
            }
            other => panic!("{field}: expected Invalid, got {other:?}"),
        }
    }
    assert_eq!(
        store.llm_settings(scope).await.unwrap(),
        None,
        "nothing stored"
    );
    assert!(
        all_audit(&*store, scope)
            .await
            .iter()
            .all(|e| !e.action.starts_with("llm."))
    );
    // The public APIs need no base URL.
    let openai = LlmSettingsInput {
        provider: LlmProvider::OpenAi,
        base_url: None,
        ..good()
    };
    store
        .set_llm_settings(scope, &openai, key(KEY), Actor::Operator)
        .await
        .unwrap();
}

async fn usage_is_written_with_the_turn_and_summed_for_the_month_against_the_budget(db: &TestDb) {
    let (store, clock) = store_with_clock(db).await;
    let scope = new_tenant(&*store, "clinic-a").await;
    set_budget(&*store, scope, Some(1)).await;
    let conv = web_chat(&*store, scope).await;
    let first_month = month_start(start());
    // Last month: not counted in this month's spend.
    let back = (first_month - SignedDuration::from_secs(1)).duration_since(start());
    clock.advance(back);
    let mut old = turn(NewMessage::inbound("hi"), &["hello"]);
    old.llm_usage = Some(llm_usage(conv, 9_000));
    store.record_turn(scope, conv, &old).await.unwrap();
    clock.advance(-back);

    // The database's own count (migrations 0034-0035), read with the catalogue stamp, agrees with
    // the month's sum at every step.
    let counted = async || {
        let spend = store.clinic_catalog(scope).await.unwrap().llm_spend;
        (spend.in_month_of(start()), spend.exhausts(Some(1), start()))
    };
    assert_eq!(
        store.clinic_catalog(scope).await.unwrap().llm_spend,
        MonthSpend {
            month: year_month(start()),
            cost_micros: 0
        },
        "counted from the month the budget was set in: last month's row is not in it"
    );
    assert_eq!(counted().await, (0, false), "nothing yet this month");

    let mut answered = turn(NewMessage::inbound("When are you open?"), &["9 to 5."]);
    answered.llm_usage = Some(llm_usage(conv, 6_000));
    store.record_turn(scope, conv, &answered).await.unwrap();
    let rt = store
        .llm_runtime(scope, first_month)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rt.month_cost_micros, 6_000);
    assert!(!rt.budget_exhausted(), "6,000 of 10,000 micro-units");
    assert_eq!(counted().await, (6_000, false));

    let mut fell_back = turn(NewMessage::inbound("Hello?"), &["Hello."]);
    fell_back.llm_usage = Some(LlmUsage {
        outcome: "fallback".into(),
        reason: "timeout".into(),
        ..llm_usage(conv, 4_000)
    });
    store.record_turn(scope, conv, &fell_back).await.unwrap();
    let rt = store
        .llm_runtime(scope, first_month)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rt.month_cost_micros, 10_000);
    assert!(rt.budget_exhausted(), "the budget is reached at equality");
    assert_eq!(counted().await, (10_000, true));
    let next_month = start() + SignedDuration::from_hours(24 * 32);
    let spend = store.clinic_catalog(scope).await.unwrap().llm_spend;
    assert_eq!(spend.in_month_of(next_month), 0, "a new month starts at 0");
    // A row stamped in an earlier month than the count's (another instance's clock behind at
    // a month's turn) leaves the later month's count alone.
    clock.advance(back);
    let mut late = turn(NewMessage::inbound("late"), &["late"]);
    late.llm_usage = Some(llm_usage(conv, 500));
    store.record_turn(scope, conv, &late).await.unwrap();
    clock.advance(-back);
    assert_eq!(counted().await, (10_000, true));

    let mut budget_turn = turn(NewMessage::inbound("Again"), &["Again."]);
    budget_turn.llm_usage = Some(LlmUsage {
        outcome: "fallback".into(),
        reason: "budget".into(),
        input_tokens: 0,
        output_tokens: 0,
        latency_ms: 0,
        ..llm_usage(conv, 0)
    });
    store.record_turn(scope, conv, &budget_turn).await.unwrap();

    let now = start() + SignedDuration::from_secs(1);
    let month = store
        .llm_usage_summary(scope, first_month, now)
        .await
        .unwrap();
    assert_eq!(
        month,
        LlmUsageSummary {
            turns: 3,
            answered: 1,
            input_tokens: 2_000,
            output_tokens: 100,
            cost_micros: 10_000,
            fallbacks: vec![("budget".into(), 1), ("timeout".into(), 1)],
        }
    );
    let all = store
        .llm_usage_summary(scope, first_month - SignedDuration::from_hours(24), now)
        .await
        .unwrap();
    assert_eq!((all.turns, all.cost_micros), (5, 19_500));

    // A turn refused as a duplicate writes no usage either (one transaction).
    let mut dup = turn(delivered("x", "wamid.1"), &["y"]);
    store.record_turn(scope, conv, &dup).await.unwrap();
    dup.llm_usage = Some(llm_usage(conv, 1));
    assert_err!(
        store.record_turn(scope, conv, &dup).await,
        StoreError::Duplicate
    );
    let after = store
        .llm_usage_summary(scope, first_month, now)
        .await
        .unwrap();
    assert_eq!(after.turns, 3);
    assert_eq!(counted().await, (10_000, true), "nor is it counted");
}

/// Each instance keeps a clinic's models with the catalogue stamp they were read at and checks
/// it on every turn (migration 0033): every change to the settings, made through any instance,
/// must move the stamp; a turn's accounting must not (it would empty every cache every turn).
async fn every_settings_change_bumps_the_clinics_stamp_and_spending_does_not(db: &TestDb) {
    let clock = std::sync::Arc::new(frontdesk_domain::ManualClock::new(start()));
    let keyring = test_keyring();
    let here = db.open(keyring.clone(), clock.clone()).await.unwrap();
    let there = db.open(keyring, clock).await.unwrap();
    let scope = new_tenant(&*here, "clinic-a").await;
    let other = new_tenant(&*here, "clinic-b").await;
    let stamp = |s: TenantScope| {
        let here = &here;
        async move { here.clinic_catalog(s).await.unwrap().version }
    };
    let mut last = stamp(scope).await;
    let others = stamp(other).await;
    let mut changed = async |what: &str| {
        let now = stamp(scope).await;
        assert!(now > last, "{what} must move the stamp ({last} -> {now})");
        last = now;
    };

    there
        .set_llm_settings(scope, &llm_settings(), key(KEY), Actor::Operator)
        .await
        .unwrap();
    changed("settings created").await;
    let stronger = LlmSettingsInput {
        strong_model: "bigger-model".into(),
        ..llm_settings()
    };
    there
        .set_llm_settings(scope, &stronger, LlmKeyChange::Keep, Actor::Operator)
        .await
        .unwrap();
    changed("a model changed").await;
    there
        .set_llm_settings(scope, &stronger, key("sk-live-rotated"), Actor::Operator)
        .await
        .unwrap();
    changed("a new key").await;
    assert!(there.disable_llm(scope, Actor::Operator).await.unwrap());
    changed("models turned off").await;
    assert_eq!(stamp(other).await, others, "only this clinic's stamp moves");

    // Spending is not a settings change.
    let budget = LlmSettingsInput {
        monthly_budget_cents: Some(1),
        ..llm_settings()
    };
    there
        .set_llm_settings(scope, &budget, LlmKeyChange::Keep, Actor::Operator)
        .await
        .unwrap();
    changed("a budget set").await;
    let conv = web_chat(&*there, scope).await;
    let mut answered = turn(NewMessage::inbound("When are you open?"), &["9 to 5."]);
    answered.llm_usage = Some(llm_usage(conv, 6_000));
    there.record_turn(scope, conv, &answered).await.unwrap();
    assert_eq!(
        stamp(scope).await,
        last,
        "a turn's accounting keeps the stamp"
    );
}

/// Migration 0034 starts each clinic's count with what its usage rows of the current month
/// (the real one: the migration reads the database's clock) already cost; other months' rows
/// and other clinics are left out. Run here on a migrated database whose counts were reset,
/// as the owner.
async fn the_months_spend_written_before_the_count_began_is_counted(db: &TestDb) {
    let now = jiff::Timestamp::now();
    let clock = std::sync::Arc::new(frontdesk_domain::ManualClock::new(now));
    let store = db.open(test_keyring(), clock.clone()).await.unwrap();
    let scope = new_tenant(&*store, "clinic-a").await;
    let quiet = new_tenant(&*store, "clinic-b").await;
    set_budget(&*store, scope, Some(100)).await;
    let conv = web_chat(&*store, scope).await;
    for (cost, days_back) in [(7_000, 0), (3_000, 40), (500, 0)] {
        model_turn(&*store, &clock, scope, conv, cost, days_back).await;
    }
    let this_month = MonthSpend {
        month: year_month(now),
        cost_micros: 7_500,
    };
    assert_eq!(
        store.clinic_catalog(scope).await.unwrap().llm_spend,
        this_month
    );

    let (reset, file) = (
        "UPDATE tenants SET llm_spend_month = 0, llm_spend_micros = 0",
        match db.engine {
            testing::Engine::Sqlite => {
                include_str!("../../migrations/sqlite/0034_llm_month_spend.sql")
            }
            testing::Engine::Postgres => {
                include_str!("../../migrations/postgres/0034_llm_month_spend.sql")
            }
        },
    );
    let backfill = &file[file.find("-- This month's spend so far").unwrap()..];
    match crate::raw::Raw::open(db).await {
        crate::raw::Raw::Sqlite(mut c) => {
            for sql in [reset, backfill] {
                sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                    .execute(&mut c)
                    .await
                    .unwrap();
            }
        }
        crate::raw::Raw::Pg(mut c) => {
            for sql in [reset, backfill] {
                sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                    .execute(&mut c)
                    .await
                    .unwrap();
            }
        }
    }
    assert_eq!(
        store.clinic_catalog(scope).await.unwrap().llm_spend,
        this_month
    );
    assert_eq!(
        store.clinic_catalog(quiet).await.unwrap().llm_spend,
        MonthSpend::default(),
        "a clinic without usage keeps no count"
    );
}

/// Only a clinic whose settings carry a budget needs its spend counted (migration 0035): the
/// others' model turns write nothing more. Settings written with a budget start the count
/// again from the month's rows (the month the settings are written in), so a budget set mid-
/// month, removed and set again is checked against the whole month.
async fn only_a_clinic_with_a_budget_is_counted_and_a_new_budget_counts_the_month_so_far(
    db: &TestDb,
) {
    let (store, clock) = store_with_clock(db).await;
    let scope = new_tenant(&*store, "clinic-a").await;
    let spend = async || store.clinic_catalog(scope).await.unwrap().llm_spend;
    let write = async |budget: Option<i64>| set_budget(&*store, scope, budget).await;
    let conv = web_chat(&*store, scope).await;
    let spent = async |cost: i64, days_back: i64| {
        model_turn(&*store, &clock, scope, conv, cost, days_back).await
    };
    write(None).await;
    // Last month (start() is 17 March), then this month.
    spent(3_000, 20).await;
    spent(7_000, 0).await;
    assert_eq!(spend().await, MonthSpend::default(), "no budget, no count");

    write(Some(5)).await;
    let month = year_month(start());
    let counted = |cost_micros| MonthSpend { month, cost_micros };
    assert_eq!(spend().await, counted(7_000), "this month's rows so far");
    spent(1_000, 0).await;
    assert_eq!(spend().await, counted(8_000));

    write(None).await;
    spent(500, 0).await;
    assert_eq!(
        spend().await,
        counted(8_000),
        "not counted without a budget"
    );
    write(Some(5)).await;
    assert_eq!(spend().await, counted(8_500), "the whole month again");
    let rt = store
        .llm_runtime(scope, month_start(start()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rt.month_cost_micros, 8_500, "the count agrees with the sum");
}

async fn another_clinics_settings_and_usage_are_invisible(db: &TestDb) {
    let store = store(db).await;
    let (a, b) = seed_two(&*store).await;
    let far = start() + SignedDuration::from_hours(24 * 3650);
    let early = jiff::Timestamp::UNIX_EPOCH;
    for (me, tag) in [(&a, "alpha"), (&b, "beta")] {
        let rt = store.llm_runtime(me.scope, early).await.unwrap().unwrap();
        let expected = format!("sk-seed-{tag}");
        assert_eq!(rt.api_key.as_deref(), Some(&expected), "its own key");
        assert_eq!(rt.month_cost_micros, 100, "only its own usage");
        let s = store.llm_usage_summary(me.scope, early, far).await.unwrap();
        assert_eq!(s.turns, 1, "only its own turns");
    }
    // B's change leaves A's settings as they were.
    store.disable_llm(b.scope, Actor::Operator).await.unwrap();
    assert!(store.llm_runtime(a.scope, early).await.unwrap().is_some());
    assert!(store.llm_runtime(b.scope, early).await.unwrap().is_none());
}
