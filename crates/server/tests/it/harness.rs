//! `spawn_app`: a server on port 0 over a private database with the demo clinics seeded.
//! The listener is bound before the server task starts, so no test waits for readiness.

use frontdesk_domain::{SystemClock, TenantSlug};
use frontdesk_server::http::dashboard::Dashboard;
use frontdesk_server::{AppState, Application, demo, telemetry};
use frontdesk_store::testing::{Engine, TestDb};
use frontdesk_store::{Message, Store, TenantScope};
use std::sync::Arc;
use tokio::sync::oneshot;

pub struct TestApp {
    pub base: String,
    pub store: Arc<dyn Store>,
    pub client: reqwest::Client,
    pub db: TestDb,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

pub async fn test_db(engine: Engine) -> Option<TestDb> {
    match engine {
        Engine::Sqlite => Some(TestDb::sqlite().await.unwrap()),
        Engine::Postgres => TestDb::postgres().await.unwrap(),
    }
}

/// `None` when the engine is PostgreSQL and it is unavailable outside CI (skip).
pub async fn spawn_app(engine: Engine) -> Option<TestApp> {
    spawn_app_with(engine, Dashboard::default()).await
}

/// [`spawn_app`] with the dashboard's mailer and policies given.
pub async fn spawn_app_with(engine: Engine, dashboard: Dashboard) -> Option<TestApp> {
    let db = test_db(engine).await?;
    let store = db.open_default().await.unwrap();
    demo::seed(store.as_ref()).await.unwrap();
    let state = AppState {
        store: store.clone(),
        clock: Arc::new(SystemClock),
        webchat_ttl: jiff::SignedDuration::from_hours(1),
        metrics: telemetry::metrics_handle(),
        channels: Default::default(),
        dashboard: Arc::new(dashboard),
    };
    let app = Application::build(state, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let base = format!("http://{}", app.local_addr());
    let (tx, rx) = oneshot::channel::<()>();
    let server = tokio::spawn(app.run(async move {
        let _ = rx.await;
    }));
    Some(TestApp {
        base,
        store,
        client: reqwest::Client::new(),
        db,
        shutdown: Some(tx),
        server: Some(server),
    })
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn scope(&self, slug: &str) -> TenantScope {
        self.store
            .operator_scope(&TenantSlug::parse(slug).unwrap())
            .await
            .unwrap()
    }

    /// Starts a web chat and returns (token, conversation id).
    pub async fn start_chat(&self, slug: &str) -> (String, String) {
        start_webchat(&self.client, &self.url(""), slug).await
    }

    pub async fn say(&self, slug: &str, token: &str, text: &str) -> reqwest::Response {
        say_webchat(&self.client, &self.url(""), slug, token, text).await
    }

    /// Sends a message that must succeed and returns the reply texts.
    pub async fn ask(&self, slug: &str, token: &str, text: &str) -> Vec<String> {
        ask_webchat(&self.client, &self.url(""), slug, token, text).await
    }

    pub async fn messages(&self, slug: &str, conversation: &str) -> Vec<Message> {
        let scope = self.scope(slug).await;
        let id = frontdesk_domain::ConversationId::parse(conversation).unwrap();
        self.store.messages(scope, id).await.unwrap()
    }

    /// Stops the server and drops a PostgreSQL test database.
    pub async fn finish(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(s) = self.server.take() {
            let _ = s.await;
        }
        self.db.cleanup().await;
    }
}

/// Asserts the one JSON error shape, with this status and code.
pub async fn assert_error(resp: reqwest::Response, status: u16, code: &str) {
    assert_eq!(resp.status().as_u16(), status, "status for {code}");
    let id = resp.headers()["x-request-id"].to_str().unwrap().to_owned();
    let v: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["code"], code, "{v}");
    assert_eq!(
        v["error"]["request_id"],
        id.as_str(),
        "the body quotes the request id: {v}"
    );
    assert!(
        v["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{v}"
    );
}

/// Expands one `async fn name(app: TestApp)` test body into a SQLite and a PostgreSQL test.
#[macro_export]
macro_rules! both_engines {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    let app = $crate::harness::spawn_app(frontdesk_store::testing::Engine::Sqlite).await.unwrap();
                    super::$name(app).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    let Some(app) = $crate::harness::spawn_app(frontdesk_store::testing::Engine::Postgres).await else { return };
                    super::$name(app).await;
                }
            )*
        }
    };
}

/// Starts a web chat on the server at `base` and returns (token, conversation id).
pub async fn start_webchat(client: &reqwest::Client, base: &str, slug: &str) -> (String, String) {
    let r = client
        .post(format!("{base}/v1/webchat/{slug}/sessions"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let v: serde_json::Value = r.json().await.unwrap();
    (
        v["token"].as_str().unwrap().to_owned(),
        v["conversation_id"].as_str().unwrap().to_owned(),
    )
}

pub async fn say_webchat(
    client: &reqwest::Client,
    base: &str,
    slug: &str,
    token: &str,
    text: &str,
) -> reqwest::Response {
    client
        .post(format!("{base}/v1/webchat/{slug}/messages"))
        .bearer_auth(token)
        .json(&serde_json::json!({ "text": text }))
        .send()
        .await
        .unwrap()
}

/// Sends a web chat message that must succeed and returns the reply texts.
pub async fn ask_webchat(
    client: &reqwest::Client,
    base: &str,
    slug: &str,
    token: &str,
    text: &str,
) -> Vec<String> {
    let r = say_webchat(client, base, slug, token, text).await;
    assert_eq!(r.status(), 200, "{text}");
    let v: serde_json::Value = r.json().await.unwrap();
    v["replies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["text"].as_str().unwrap().to_owned())
        .collect()
}
