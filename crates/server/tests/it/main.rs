//! The server's one integration-test binary (each extra test file is another slow link).
//! Storage-backed tests run against both SQLite and PostgreSQL through `both_engines!`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod api;
mod api_key_cli;
mod calcom;
mod channels;
mod cli;
mod dashboard;
mod deploy;
mod export;
mod fhir;
mod harness;
mod https;
mod llm;
mod multi_instance;
mod observability;
mod openapi;
mod pages;
mod payments;
mod webchat;
mod widget;
mod widget_browser;
