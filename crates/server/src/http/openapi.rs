//! The OpenAPI 3.1 description of the HTTP API, served at `GET /v1/openapi.json` (issue #10):
//! the REST API for clinics' software (API keys), the web chat API, and the providers'
//! webhooks. It is built here, next to the handlers, from the same constants they use
//! (scopes, page sizes, body limits); a test checks that every `/v1` and `/webhooks` route of
//! the router is described and every described route exists, and schemathesis checks the live
//! server's answers against it (`crates/server/tests/it/openapi.rs`).

use super::api::{DEFAULT_PAGE, MAX_PAGE};
use frontdesk_domain::ApiScope;
use serde_json::{Map, Value, json};
use std::sync::OnceLock;

/// The document, built once.
pub fn document() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(build)
}

fn r(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

fn uuid() -> Value {
    json!({ "type": "string", "format": "uuid" })
}

fn time() -> Value {
    json!({ "type": "string", "format": "date-time" })
}

fn nullable(t: &str) -> Value {
    json!({ "type": [t, "null"] })
}

fn object(required: &[&str], props: Value) -> Value {
    json!({ "type": "object", "required": required, "properties": props })
}

fn page_of(item: &str) -> Value {
    object(
        &["data", "next_cursor"],
        json!({
            "data": { "type": "array", "items": r(item) },
            "next_cursor": {
                "type": ["string", "null"],
                "description": "Pass back as `cursor` for the next page; null on the last page."
            }
        }),
    )
}

fn json_body(schema: Value) -> Value {
    json!({ "application/json": { "schema": schema } })
}

fn ok(status: &str, description: &str, schema: Value) -> Value {
    let mut m = Map::new();
    m.insert(
        status.to_owned(),
        json!({ "description": description, "content": json_body(schema) }),
    );
    m.insert(
        "default".to_owned(),
        json!({ "$ref": "#/components/responses/Error" }),
    );
    Value::Object(m)
}

fn path_param(name: &str, description: &str) -> Value {
    json!({ "name": name, "in": "path", "required": true, "description": description, "schema": { "type": "string" } })
}

fn query(name: &str, description: &str, schema: Value) -> Value {
    json!({ "name": name, "in": "query", "required": false, "description": description, "schema": schema })
}

fn required_query(name: &str, description: &str, schema: Value) -> Value {
    json!({ "name": name, "in": "query", "required": true, "description": description, "schema": schema })
}

fn idempotency_header(description: &str) -> Value {
    json!({ "name": "Idempotency-Key", "in": "header", "required": true, "description": description,
        "schema": { "type": "string", "minLength": 1, "maxLength": 200, "pattern": "^[!-~]+$" } })
}

fn limit() -> Value {
    query(
        "limit",
        "Entries in a page.",
        json!({ "type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": DEFAULT_PAGE }),
    )
}

fn cursor() -> Value {
    query(
        "cursor",
        "The `next_cursor` of the page before.",
        json!({ "type": "string" }),
    )
}

/// One REST operation behind an API key with `scope`.
fn api_op(summary: &str, scope: ApiScope, params: Vec<Value>, responses: Value) -> Value {
    json!({
        "summary": summary,
        "tags": ["REST API"],
        "description": format!("Needs an API key with the scope `{}`.", scope.as_str()),
        "security": [{ "apiKey": [] }],
        "x-scope": scope.as_str(),
        "parameters": params,
        "responses": responses,
    })
}

fn schemas() -> Value {
    json!({
        "Error": object(&["error"], json!({
            "error": object(&["code", "message"], json!({
                "code": { "type": "string", "description": "Stable, for programs." },
                "message": { "type": "string", "description": "Safe to show." },
                "request_id": { "type": "string", "description": "Quote it to support." }
            }))
        })),
        "Practitioner": object(&["id", "name", "title", "active"], json!({
            "id": uuid(), "name": { "type": "string" }, "title": { "type": "string" },
            "active": { "type": "boolean" }
        })),
        "Service": object(&["id", "name", "duration_min", "price_minor", "currency", "active", "practitioner_ids"], json!({
            "id": uuid(), "name": { "type": "string" },
            "duration_min": { "type": "integer", "minimum": 0 },
            "price_minor": { "type": ["integer", "null"], "description": "In the currency's minor unit." },
            "currency": { "type": "string" }, "active": { "type": "boolean" },
            "practitioner_ids": { "type": "array", "items": uuid() }
        })),
        "Slot": object(&["starts_at", "ends_at", "practitioner_id", "service_id"], json!({
            "starts_at": time(), "ends_at": time(), "practitioner_id": uuid(), "service_id": uuid()
        })),
        "Appointment": object(&["id", "patient_id", "practitioner_id", "service_id", "starts_at", "ends_at", "status"], json!({
            "id": uuid(), "patient_id": uuid(), "practitioner_id": uuid(), "service_id": uuid(),
            "starts_at": time(), "ends_at": time(),
            "status": { "type": "string", "enum": ["booked", "confirmed", "cancelled", "completed", "no_show"] }
        })),
        "NewAppointment": {
            "type": "object",
            "required": ["patient_id", "practitioner_id", "service_id", "starts_at"],
            "additionalProperties": false,
            "properties": {
                "patient_id": uuid(), "practitioner_id": uuid(), "service_id": uuid(),
                "starts_at": time()
            }
        },
        "Patient": object(&["id", "name", "language", "created_at"], json!({
            "id": uuid(), "name": nullable("string"), "language": nullable("string"),
            "created_at": time()
        })),
        "Conversation": object(&["id", "patient_id", "channel", "status", "urgency", "created_at", "last_message_at"], json!({
            "id": uuid(), "patient_id": uuid(),
            "channel": { "type": "string", "enum": ["webchat", "whatsapp", "sms", "voice", "cli"] },
            "status": { "type": "string" }, "urgency": { "type": "string" },
            "created_at": time(), "last_message_at": time()
        })),
        "Message": object(&["id", "direction", "sender", "channel", "body", "status", "created_at"], json!({
            "id": uuid(),
            "direction": { "type": "string", "enum": ["inbound", "outbound"] },
            "sender": { "type": "string", "enum": ["patient", "agent", "staff", "system"] },
            "channel": { "type": "string", "enum": ["webchat", "whatsapp", "sms", "voice", "cli"] },
            "body": { "type": "string" }, "status": { "type": "string" }, "created_at": time()
        })),
        "NewMessage": {
            "type": "object", "required": ["text"], "additionalProperties": false,
            "properties": { "text": { "type": "string", "minLength": 1, "maxLength": 4096, "description": "Not only whitespace." } }
        },
        "DataRequest": object(&["kind", "status", "patient_id", "completed_at", "actor_kind", "counts"], json!({
            "kind": { "type": "string", "enum": ["erasure"] },
            "status": { "type": "string", "enum": ["completed"] },
            "patient_id": uuid(), "completed_at": time(), "actor_kind": { "type": "string" },
            "counts": object(&["conversations", "messages", "appointments", "calls", "recordings", "consents"], json!({
                "conversations": { "type": "integer" }, "messages": { "type": "integer" },
                "appointments": { "type": "integer" }, "calls": { "type": "integer" },
                "recordings": { "type": "integer" }, "consents": { "type": "integer" }
            }))
        })),
        "DataRequestPage": page_of("DataRequest"),
        "PractitionerPage": page_of("Practitioner"),
        "ServicePage": page_of("Service"),
        "SlotPage": page_of("Slot"),
        "AppointmentPage": page_of("Appointment"),
        "MessagePage": page_of("Message"),
        "WebchatSession": object(&["token", "conversation_id", "expires_at"], json!({
            "token": { "type": "string" }, "conversation_id": uuid(), "expires_at": time()
        })),
        "WebchatMessageIn": object(&["text"], json!({
            "text": { "type": "string", "minLength": 1, "description": "At most 4,096 bytes of UTF-8." }
        })),
        "WebchatReplies": object(&["replies"], json!({
            "replies": { "type": "array", "items": object(&["text"], json!({ "text": { "type": "string" } })) }
        })),
        "WebchatHistory": object(&["messages"], json!({
            "messages": { "type": "array", "items": object(&["id", "from", "text", "at"], json!({
                "id": uuid(),
                "from": { "type": "string", "enum": ["patient", "agent", "staff"] },
                "text": { "type": "string" }, "at": time()
            })) }
        }))
    })
}

fn rest_paths(p: &mut Map<String, Value>) {
    let id = |what: &str| path_param("id", &format!("The {what}'s id."));
    p.insert(
        "/v1/practitioners".into(),
        json!({ "get": api_op(
        "The clinic's practitioners", ApiScope::ScheduleRead, vec![],
        ok("200", "Every practitioner (one page).", r("PractitionerPage"))) }),
    );
    p.insert(
        "/v1/services".into(),
        json!({ "get": api_op(
        "The clinic's services", ApiScope::ScheduleRead, vec![],
        ok("200", "Every service (one page).", r("ServicePage"))) }),
    );
    p.insert("/v1/availability".into(), json!({ "get": api_op(
        "Free start times of a practitioner for a service", ApiScope::ScheduleRead,
        vec![
            required_query("practitioner", "A practitioner's id.", uuid()),
            required_query("service", "A service's id.", uuid()),
            query("from", "First day in the clinic's time zone (default today).", json!({ "type": "string", "format": "date" })),
            query("days", "Days from `from`.", json!({ "type": "integer", "minimum": 1, "maximum": 31, "default": 7 })),
            limit(),
        ],
        ok("200", "Free times, soonest first, at least an hour ahead.", r("SlotPage"))) }));
    let mut book = api_op(
        "Book an appointment",
        ApiScope::AppointmentsWrite,
        vec![idempotency_header(
            "Unique per booking you mean; the same key again answers the first booking.",
        )],
        ok(
            "201",
            "The appointment booked (or, for a repeated key, booked before).",
            r("Appointment"),
        ),
    );
    book["requestBody"] = json!({ "required": true, "content": json_body(r("NewAppointment")) });
    p.insert("/v1/appointments".into(), json!({
        "get": api_op("Appointments in a window, in start order", ApiScope::AppointmentsRead,
            vec![
                query("from", "Start of the window (default now).", time()),
                query("to", "End of the window (default `from` + 7 days; at most 92 days).", time()),
                limit(), cursor(),
            ],
            ok("200", "A page of live appointments overlapping the window.", r("AppointmentPage"))),
        "post": book,
    }));
    p.insert(
        "/v1/appointments/{id}".into(),
        json!({ "get": api_op(
        "One appointment", ApiScope::AppointmentsRead, vec![id("appointment")],
        ok("200", "The appointment.", r("Appointment"))) }),
    );
    p.insert(
        "/v1/appointments/{id}/cancel".into(),
        json!({ "post": api_op(
        "Cancel an appointment (idempotent)", ApiScope::AppointmentsWrite, vec![id("appointment")],
        ok("200", "The cancelled appointment.", r("Appointment"))) }),
    );
    p.insert(
        "/v1/patients/{id}".into(),
        json!({ "get": api_op(
        "A patient's minimal record (audited)", ApiScope::PatientsRead, vec![id("patient")],
        ok("200", "Name and language; never phone or email.", r("Patient"))) }),
    );
    p.insert(
        "/v1/conversations/{id}".into(),
        json!({ "get": api_op(
        "One conversation", ApiScope::ConversationsRead, vec![id("conversation")],
        ok("200", "The conversation.", r("Conversation"))) }),
    );
    let mut send = api_op(
        "Send a message to the conversation's patient",
        ApiScope::MessagesWrite,
        vec![
            id("conversation"),
            idempotency_header(
                "Unique per message you mean; the same key and text again answer the first message.",
            ),
        ],
        ok(
            "201",
            "The message, queued for the patient's channel (or, for a repeated key, sent before).",
            r("Message"),
        ),
    );
    send["requestBody"] = json!({ "required": true, "content": json_body(r("NewMessage")) });
    p.insert(
        "/v1/conversations/{id}/messages".into(),
        json!({
            "get": api_op(
                "A conversation's messages, oldest first (audited)", ApiScope::ConversationsRead,
                vec![id("conversation"), limit(), cursor()],
                ok("200", "A page of messages.", r("MessagePage"))),
            "post": send,
        }),
    );
    p.insert(
        "/v1/data-requests".into(),
        json!({ "get": api_op(
            "Completed erasures, newest first", ApiScope::DataRequestsRead, vec![limit(), cursor()],
            ok("200", "A page of the erasure ledger.", r("DataRequestPage"))) }),
    );
}

fn webchat_paths(p: &mut Map<String, Value>) {
    let slug = path_param(
        "tenant_slug",
        "The clinic's public slug, e.g. harbour-physio.",
    );
    p.insert("/v1/webchat/{tenant_slug}/sessions".into(), json!({ "post": {
        "summary": "Start a web chat session", "tags": ["Web chat"],
        "parameters": [slug],
        "responses": ok("201", "A new anonymous conversation and its token.", r("WebchatSession")),
    }}));
    p.insert("/v1/webchat/{tenant_slug}/messages".into(), json!({
        "get": {
            "summary": "The conversation so far", "tags": ["Web chat"],
            "security": [{ "webchatToken": [] }], "parameters": [slug],
            "responses": ok("200", "The last messages.", r("WebchatHistory")),
        },
        "post": {
            "summary": "Send a message, get the replies", "tags": ["Web chat"],
            "security": [{ "webchatToken": [] }], "parameters": [slug],
            "requestBody": { "required": true, "content": json_body(r("WebchatMessageIn")) },
            "responses": ok("200", "The receptionist's replies (or server-sent events with `Accept: text/event-stream`).", r("WebchatReplies")),
        }
    }));
}

fn webhook_op(summary: &str, signature: &str, form: bool) -> Value {
    let content = if form {
        json!({ "application/x-www-form-urlencoded": { "schema": { "type": "object", "additionalProperties": { "type": "string" } } } })
    } else {
        json!({ "application/json": { "schema": { "type": "object" } } })
    };
    json!({
        "summary": summary,
        "tags": ["Provider webhooks"],
        "description": format!("Called by the provider, signed with {signature}; an unsigned or wrongly signed request is refused before anything is read. See docs/API.md."),
        "requestBody": { "required": true, "content": content },
        "responses": {
            "200": { "description": "Accepted (stored before this answer; a repeat is accepted once)." },
            "default": { "$ref": "#/components/responses/Error" }
        }
    })
}

fn webhook_paths(p: &mut Map<String, Value>) {
    p.insert("/webhooks/whatsapp".into(), json!({
        "get": {
            "summary": "Meta's subscription check", "tags": ["Provider webhooks"],
            "parameters": [
                required_query("hub.mode", "`subscribe`.", json!({ "type": "string" })),
                required_query("hub.verify_token", "The clinic's verify token.", json!({ "type": "string" })),
                required_query("hub.challenge", "Echoed back when the token is right.", json!({ "type": "string" })),
            ],
            "responses": {
                "200": { "description": "The challenge, as text.", "content": { "text/plain": { "schema": { "type": "string" } } } },
                "default": { "$ref": "#/components/responses/Error" }
            }
        },
        "post": webhook_op("WhatsApp Cloud API events", "`X-Hub-Signature-256` (HMAC-SHA256 with the app secret)", false),
    }));
    p.insert("/webhooks/twilio/sms".into(), json!({
        "post": webhook_op("Twilio SMS", "`X-Twilio-Signature` (HMAC-SHA1 of the URL and the form)", true)
    }));
    p.insert(crate::channels::voice::VOICE_PATH.into(), json!({
        "post": webhook_op("Twilio Voice: a call or a speech result (answered with TwiML)", "`X-Twilio-Signature`", true)
    }));
    p.insert(
        "/webhooks/twilio/voice/status".into(),
        json!({
            "post": webhook_op("Twilio Voice call status", "`X-Twilio-Signature`", true)
        }),
    );
    p.insert(
        crate::recordings::RECORDING_PATH.into(),
        json!({
            "post": webhook_op("Twilio Voice recording status", "`X-Twilio-Signature`", true)
        }),
    );
    let mut at = webhook_op(
        "Africa's Talking SMS",
        "the clinic's secret callback token in the URL",
        true,
    );
    at["parameters"] = json!([
        path_param("address", "The clinic's sender address (short code)."),
        path_param("token", "The clinic's callback token."),
    ]);
    p.insert(
        "/webhooks/africastalking/{address}/{token}".into(),
        json!({ "post": at }),
    );
    let mut stripe = webhook_op(
        "Stripe Checkout events (deposits)",
        "`Stripe-Signature` (HMAC-SHA256 of `{t}.{body}` with the clinic's signing secret, 300 s either way)",
        false,
    );
    stripe["parameters"] = json!([path_param("tenant_slug", "The clinic's public slug.")]);
    p.insert(
        "/webhooks/stripe/{tenant_slug}".into(),
        json!({ "post": stripe }),
    );
    let mut mpesa = webhook_op(
        "M-Pesa (Daraja) STK push result",
        "the payment's own secret in the URL (Daraja does not sign)",
        false,
    );
    mpesa["parameters"] = json!([
        path_param("tenant_slug", "The clinic's public slug."),
        path_param("id", "The payment."),
        path_param("token", "The payment's callback secret."),
    ]);
    mpesa["responses"]["200"] = json!({
        "description": "`{\"ResultCode\":0,\"ResultDesc\":\"Accepted\"}` (a repeat is accepted once).",
        "content": { "application/json": { "schema": { "type": "object" } } }
    });
    p.insert(
        "/webhooks/mpesa/{tenant_slug}/{id}/{token}".into(),
        json!({ "post": mpesa }),
    );
    let mut cal = webhook_op(
        "Cal.com booking events (created, rescheduled, cancelled)",
        "`X-Cal-Signature-256` (hex HMAC-SHA256 of the body with the clinic's webhook secret)",
        false,
    );
    cal["parameters"] = json!([path_param("tenant_slug", "The clinic's public slug.")]);
    p.insert(
        "/webhooks/calcom/{tenant_slug}".into(),
        json!({ "post": cal }),
    );
}

/// The `data` of each outbound event type (see `crate::outbound::event` and docs/API.md).
fn event_data(kind: &str) -> Value {
    let channel = json!({ "type": "string", "enum": ["webchat", "whatsapp", "sms", "voice"] });
    match kind {
        "appointment.created" | "appointment.changed" | "appointment.cancelled" => object(
            &[
                "appointment_id",
                "patient_id",
                "practitioner_id",
                "service_id",
                "starts_at",
                "ends_at",
                "status",
            ],
            json!({
                "appointment_id": uuid(), "patient_id": uuid(), "practitioner_id": uuid(),
                "service_id": uuid(), "starts_at": time(), "ends_at": time(),
                "status": { "type": "string", "enum": ["booked", "confirmed", "cancelled", "completed", "no_show"] },
                "previous_appointment_id": uuid(),
            }),
        ),
        "conversation.escalated" | "conversation.handed_off" => object(
            &["conversation_id", "patient_id", "channel", "at"],
            json!({ "conversation_id": uuid(), "patient_id": uuid(), "channel": channel, "at": time() }),
        ),
        "message.received" => object(
            &[
                "message_id",
                "conversation_id",
                "patient_id",
                "channel",
                "received_at",
            ],
            json!({
                "message_id": uuid(), "conversation_id": uuid(), "patient_id": uuid(),
                "channel": channel, "received_at": time(),
            }),
        ),
        "data_request.completed" => object(
            &["patient_id", "kind", "completed_at"],
            json!({
                "patient_id": uuid(),
                "kind": { "type": "string", "enum": ["erasure", "export"] },
                "completed_at": time(),
            }),
        ),
        _ => object(
            &["test"],
            json!({ "test": { "type": "boolean", "const": true } }),
        ),
    }
}

/// OpenAPI 3.1's `webhooks`: what frontdesk posts to a clinic's own endpoints, one entry per
/// event type an endpoint can subscribe to.
fn outbound_webhooks() -> Map<String, Value> {
    frontdesk_store::WEBHOOK_EVENT_TYPES
        .iter()
        .map(|kind| {
            let envelope = object(
                &["id", "type", "created_at", "tenant", "data"],
                json!({
                    "id": { "type": "string", "pattern": "^evt_", "description": "Unique per event; the same on every retry: deduplicate on it." },
                    "type": { "type": "string", "const": kind },
                    "created_at": time(),
                    "tenant": { "type": "string", "description": "The clinic's slug." },
                    "data": event_data(kind),
                }),
            );
            let op = json!({ "post": {
                "summary": format!("The `{kind}` event"),
                "description": "Signed: `Frontdesk-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of \"t.body\">` (two v1 values while a secret is rotated); reject a t more than 5 minutes away. Answer 2xx within 10 s; 408, 429 and 5xx are retried. See docs/API.md, Outbound webhooks.",
                "tags": ["Outbound webhooks"],
                "parameters": [
                    { "name": "Frontdesk-Signature", "in": "header", "required": true, "schema": { "type": "string" } },
                    { "name": "Frontdesk-Event-Id", "in": "header", "required": true, "schema": { "type": "string" } },
                    { "name": "Frontdesk-Event-Type", "in": "header", "required": true, "schema": { "type": "string" } }
                ],
                "requestBody": { "required": true, "content": json_body(envelope) },
                "responses": { "2XX": { "description": "Delivered." } }
            }});
            ((*kind).to_owned(), op)
        })
        .collect()
}

fn build() -> Value {
    let mut paths = Map::new();
    rest_paths(&mut paths);
    webchat_paths(&mut paths);
    webhook_paths(&mut paths);
    paths.insert("/v1/openapi.json".into(), json!({ "get": {
        "summary": "This document", "tags": ["REST API"],
        "responses": {
            "200": { "description": "OpenAPI 3.1.", "content": json_body(json!({ "type": "object" })) },
            "default": { "$ref": "#/components/responses/Error" }
        }
    }}));
    let scopes: Map<String, Value> = ApiScope::ALL
        .into_iter()
        .map(|s| (s.as_str().to_owned(), Value::String(s.label().to_owned())))
        .collect();
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "frontdesk",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "The REST API for a clinic's own software (API keys with scopes), the web chat API, and the providers' webhooks. Every error has the shape {\"error\": {\"code\", \"message\", \"request_id\"}}. See docs/API.md.",
            "x-api-key-scopes": scopes,
        },
        "servers": [{ "url": "/" }],
        "paths": paths,
        "webhooks": outbound_webhooks(),
        "components": {
            "securitySchemes": {
                "apiKey": { "type": "http", "scheme": "bearer", "bearerFormat": "fdk_<prefix>_<secret>",
                    "description": "A clinic's API key (dashboard: API keys; or `frontdesk api-key create`)." },
                "webchatToken": { "type": "http", "scheme": "bearer",
                    "description": "The token from starting a web chat session." }
            },
            "responses": {
                "Error": {
                    "description": "An error, in the one shape. 401 has `WWW-Authenticate: Bearer`; 429 and 503 have `Retry-After`.",
                    "content": json_body(r("Error"))
                }
            },
            "schemas": schemas(),
        }
    })
}

/// `GET /v1/openapi.json`.
pub async fn openapi_json() -> axum::response::Response {
    use axum::response::IntoResponse;
    axum::Json(document().clone()).into_response()
}
