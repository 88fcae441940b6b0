//! The frontdesk server: configuration, startup, the HTTP surface (web chat API and page,
//! health, metrics), the demo clinics and the turn-handling service shared by every channel.
//! `src/main.rs` is the thin CLI on top.

pub mod backup;
pub mod blobs;
pub mod booking;
pub mod calcom;
pub mod channels;
pub mod clinic_export;
pub mod config;
pub mod data_requests;
pub mod demo;
pub mod eval;
pub mod http;
pub mod ical;
pub mod lifecycle;
pub mod llm;
pub mod mailer;
pub mod outbound;
pub mod pacing;
pub mod payments;
pub mod progress;
pub mod recordings;
pub mod reminders;
pub mod security_alerts;
pub mod startup;
pub mod summary;
pub mod telemetry;
pub mod tls;
pub mod turn;
pub mod waitlist;
pub mod worker;

pub use http::AppState;
pub use startup::Application;
