//! Staff alerts by email: red flags, urgent cases, hand-offs, open questions and dead letters.
//!
//! An alert email says what happened and where to look, never who or what was written: no
//! patient name, phone or message text goes into an email (mail crosses servers we do not
//! control). Staff read the conversation itself in frontdesk.
//!
//! Transports: SMTP (`smtp_url`, TLS with rustls + ring) in production; in the demo a
//! development outbox file that collects the messages instead of sending them.

use frontdesk_domain::{Email, Role};
use frontdesk_store::{NotificationKind, StaffContact, StaffNotification};
use lettre::message::{Mailbox, Message, header::ContentType};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use std::path::PathBuf;

#[derive(Clone)]
pub enum Mailer {
    Smtp {
        transport: AsyncSmtpTransport<Tokio1Executor>,
        from: Mailbox,
    },
    /// Appends each message to a file (the demo's development outbox).
    DevFile { path: PathBuf, from: Mailbox },
    /// No email configured: alerts stay in frontdesk only.
    Disabled,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The SMTP URL may hold a password: never printed.
        f.write_str(match self {
            Mailer::Smtp { .. } => "Mailer::Smtp",
            Mailer::DevFile { .. } => "Mailer::DevFile",
            Mailer::Disabled => "Mailer::Disabled",
        })
    }
}

/// Why an email was not sent; `retryable` decides between a retry and giving up.
#[derive(Debug, thiserror::Error)]
#[error("email not sent ({code})")]
pub struct MailError {
    pub code: &'static str,
    pub retryable: bool,
}

impl Mailer {
    /// `smtp://host:587?tls=required`, `smtps://user:pass@host:465` (lettre's URL format).
    pub fn smtp(url: &str, from: &str) -> Result<Self, MailError> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|_| MailError {
                code: "bad_smtp_url",
                retryable: false,
            })?
            .timeout(Some(std::time::Duration::from_secs(15)))
            .build();
        Ok(Self::Smtp {
            transport,
            from: mailbox(from)?,
        })
    }

    pub fn dev_file(path: PathBuf, from: &str) -> Result<Self, MailError> {
        Ok(Self::DevFile {
            path,
            from: mailbox(from)?,
        })
    }

    pub fn is_enabled(&self) -> bool {
        !matches!(self, Mailer::Disabled)
    }

    /// Sends one message to each recipient (separately, so staff never see each other's
    /// addresses).
    pub async fn send(&self, to: &[Email], subject: &str, body: &str) -> Result<(), MailError> {
        for rcpt in to {
            match self {
                Mailer::Disabled => return Ok(()),
                Mailer::Smtp { transport, from } => {
                    let msg = build(from, rcpt, subject, body)?;
                    transport.send(msg).await.map_err(|e| MailError {
                        code: if e.is_permanent() {
                            "smtp_permanent"
                        } else {
                            "smtp_transient"
                        },
                        retryable: !e.is_permanent(),
                    })?;
                }
                Mailer::DevFile { path, from } => {
                    let msg = build(from, rcpt, subject, body)?;
                    append(path, &msg.formatted()).await?;
                }
            }
        }
        Ok(())
    }
}

fn mailbox(s: &str) -> Result<Mailbox, MailError> {
    s.parse().map_err(|_| MailError {
        code: "bad_from_address",
        retryable: false,
    })
}

fn build(from: &Mailbox, to: &Email, subject: &str, body: &str) -> Result<Message, MailError> {
    let bad = |code| MailError {
        code,
        retryable: false,
    };
    Message::builder()
        .from(from.clone())
        .to(to.as_str().parse().map_err(|_| bad("bad_recipient"))?)
        .subject(subject)
        .header(ContentType::TEXT_PLAIN)
        .body(body.to_owned())
        .map_err(|_| bad("bad_message"))
}

async fn append(path: &PathBuf, bytes: &[u8]) -> Result<(), MailError> {
    use tokio::io::AsyncWriteExt;
    let io = |_| MailError {
        code: "dev_outbox_unwritable",
        retryable: true,
    };
    let mut f = tokio::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .await
        .map_err(io)?;
    f.write_all(bytes).await.map_err(io)?;
    f.write_all(b"\n\n").await.map_err(io)
}

/// Who is told about each kind of alert.
pub fn recipients(kind: NotificationKind, staff: &[StaffContact]) -> Vec<Email> {
    let wanted: &[Role] = match kind {
        NotificationKind::Emergency | NotificationKind::Urgent => &[
            Role::Owner,
            Role::SeniorDoctor,
            Role::ReceptionHead,
            Role::Reception,
        ],
        NotificationKind::Handoff | NotificationKind::Task => {
            &[Role::Owner, Role::ReceptionHead, Role::Reception]
        }
        NotificationKind::DeliveryFailure => &[Role::Owner, Role::ReceptionHead],
    };
    staff
        .iter()
        .filter(|c| wanted.contains(&c.role))
        .map(|c| c.email.clone())
        .collect()
}

/// The subject and body of an alert: kind, rule, time and conversation id only.
pub fn alert_email(clinic: &str, n: &StaffNotification, base: Option<&str>) -> (String, String) {
    let (headline, action) = match n.kind {
        NotificationKind::Emergency => (
            "Emergency red flag",
            "The patient was told to call the emergency number. Check on them now.",
        ),
        NotificationKind::Urgent => (
            "Urgent case",
            "The patient was offered the earliest appointment. Please review today.",
        ),
        NotificationKind::Handoff => (
            "A patient asked for a person",
            "Please take over the conversation.",
        ),
        NotificationKind::Task => (
            "A question the receptionist could not answer",
            "Please reply to the patient.",
        ),
        NotificationKind::DeliveryFailure => (
            "A message could not be delivered",
            "The patient did not receive a message. Please contact them another way.",
        ),
    };
    let details: serde_json::Value = serde_json::from_str(&n.details).unwrap_or_default();
    let mut lines = vec![
        format!("{headline} at {clinic}."),
        String::new(),
        action.to_owned(),
        String::new(),
        format!("When: {}", n.created_at),
    ];
    if let Some(c) = n.conversation_id {
        lines.push(format!("Conversation: {c}"));
    }
    for key in ["category", "rule", "reason", "error_code"] {
        if let Some(v) = details.get(key).and_then(|v| v.as_str()) {
            lines.push(format!("{key}: {v}"));
        }
    }
    if let Some(base) = base {
        lines.push(format!("Open frontdesk: {base}/"));
    }
    lines.push(String::new());
    lines.push(
        "For the patient's privacy this email holds no names, numbers or message text.".to_owned(),
    );
    (
        format!("[frontdesk] {headline} — {clinic}"),
        lines.join("\n"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contact(role: Role, email: &str) -> StaffContact {
        StaffContact {
            role,
            email: Email::parse(email).unwrap(),
        }
    }

    #[test]
    fn each_alert_kind_goes_to_the_roles_that_act_on_it() {
        let staff = [
            contact(Role::Owner, "o@x.example"),
            contact(Role::Doctor, "d@x.example"),
            contact(Role::Reception, "r@x.example"),
        ];
        let to = |k| {
            recipients(k, &staff)
                .iter()
                .map(|e| e.as_str().to_owned())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            to(NotificationKind::Emergency),
            ["o@x.example", "r@x.example"]
        );
        assert_eq!(to(NotificationKind::DeliveryFailure), ["o@x.example"]);
    }

    #[test]
    fn alert_email_names_the_rule_and_conversation_but_nothing_personal() {
        let n = StaffNotification {
            id: uuid::Uuid::now_v7(),
            conversation_id: Some(frontdesk_domain::ConversationId::new()),
            kind: NotificationKind::Emergency,
            details: r#"{"rule":"en.chest_pain","category":"chest_pain"}"#.into(),
            status: "pending".into(),
            created_at: jiff::Timestamp::UNIX_EPOCH,
        };
        let (subject, body) = alert_email("Harbour Physio", &n, Some("https://fd.example"));
        assert_eq!(subject, "[frontdesk] Emergency red flag — Harbour Physio");
        assert!(body.contains("category: chest_pain"), "{body}");
        assert!(body.contains("https://fd.example/"), "{body}");
    }

    #[tokio::test]
    async fn dev_file_mailer_appends_one_message_per_recipient() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mail.txt");
        let m = Mailer::dev_file(path.clone(), "frontdesk <alerts@frontdesk.invalid>").unwrap();
        let to = [
            Email::parse("a@x.example").unwrap(),
            Email::parse("b@x.example").unwrap(),
        ];
        m.send(&to, "Hello", "Body text").await.unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.matches("Subject: Hello").count(), 2, "{text}");
        assert!(text.contains("To: a@x.example") && text.contains("To: b@x.example"));
    }
}
