//! `Application::build` binds the listener (port 0 in tests) and returns the bound port; `run`
//! serves until the shutdown future completes, finishing requests in flight.

use crate::http::{AppState, router};
use crate::worker::Worker;
use std::future::Future;
use std::net::SocketAddr;
use tokio::net::TcpListener;

pub struct Application {
    listener: TcpListener,
    app: axum::Router,
    addr: SocketAddr,
    worker: Option<Worker>,
    tls: Option<crate::tls::Tls>,
}

impl Application {
    pub async fn build(state: AppState, listen: SocketAddr) -> std::io::Result<Self> {
        // Compile the red-flag rule index now, not on the first patient's message.
        frontdesk_agent::triage::prepare();
        // HTTP clients (providers, and tests' own) use rustls with ring, installed once.
        crate::channels::install_crypto_provider();
        let listener = TcpListener::bind(listen).await?;
        let addr = listener.local_addr()?;
        Ok(Self {
            listener,
            app: router(state),
            addr,
            worker: None,
            tls: None,
        })
    }

    /// Runs the job and outbox workers beside the server (stopped by the same shutdown).
    pub fn with_worker(mut self, worker: Worker) -> Self {
        self.worker = Some(worker);
        self
    }

    /// Serves HTTPS with this certificate instead of plain HTTP (see [`crate::tls`]).
    pub fn with_tls(mut self, tls: crate::tls::Tls) -> Self {
        self.tls = Some(tls);
        self
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let (stop, stopped) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            shutdown.await;
            let _ = stop.send(true);
        });
        let until_stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
            let _ = rx.wait_for(|s| *s).await;
        };
        let worker = self
            .worker
            .map(|w| tokio::spawn(w.run(until_stopped(stopped.clone()))));
        // With the peer address, for the sign-in rate limit per IP.
        let app = self
            .app
            .into_make_service_with_connect_info::<std::net::SocketAddr>();
        let served = match self.tls {
            None => {
                axum::serve(self.listener, app)
                    .with_graceful_shutdown(until_stopped(stopped))
                    .await
            }
            Some(tls) => {
                use axum::serve::ListenerExt;
                // `tap_io` only so that axum's `ConnectInfo<SocketAddr>` applies to it.
                let listener = tls.listener(self.listener)?.tap_io(|_| {});
                axum::serve(listener, app)
                    .with_graceful_shutdown(until_stopped(stopped))
                    .await
            }
        };
        if let Some(w) = worker {
            // The worker finishes the row in hand; an unfinished lease is reclaimed later.
            let _ = w.await;
        }
        served
    }
}

/// Resolves on Ctrl-C (SIGINT) or SIGTERM. The handlers are installed when this is called,
/// not when the future is first polled, so a signal that arrives right after start-up (e.g.
/// from a supervisor) still stops the server cleanly instead of killing it mid-write.
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let term = signal(SignalKind::terminate()).ok();
        let int = signal(SignalKind::interrupt()).ok();
        async move {
            let wait = |s: Option<tokio::signal::unix::Signal>| async move {
                match s {
                    Some(mut s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                _ = wait(term) => {},
                _ = wait(int) => {},
            }
        }
    }
    #[cfg(not(unix))]
    async {
        let _ = tokio::signal::ctrl_c().await;
    }
}
