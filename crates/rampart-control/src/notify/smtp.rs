//! Email over SMTP with lettre: one connection per message (the outbox is
//! small and a pooled connection would outlive a server restart badly).

use std::time::Duration;

use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::{AsyncSmtpTransport, AsyncTransport as _, Message, Tokio1Executor};
use rampart_config::{SmtpSecurity, SmtpServer};

/// A whole SMTP exchange may take this long; a server that hangs must not
/// hold the delivery loop.
const SMTP_TIMEOUT: Duration = Duration::from_secs(15);

#[derive(Debug, thiserror::Error)]
pub(crate) enum SmtpError {
    /// The recipient or sender is not an address; retrying cannot help.
    #[error("bad address in the {0}")]
    BadAddress(&'static str),
    #[error("cannot build the message: {0}")]
    Message(String),
    /// The server refused for good (5xx); not retried.
    #[error("the SMTP server refused the message: {0}")]
    Permanent(String),
    /// Connection failures, timeouts, 4xx: retried later.
    #[error("SMTP delivery failed: {0}")]
    Transient(String),
}

impl SmtpError {
    pub(crate) fn is_permanent(&self) -> bool {
        !matches!(self, SmtpError::Transient(_))
    }
}

pub(crate) async fn send(
    server: &SmtpServer,
    from: &str,
    to: &str,
    subject: &str,
    body: &str,
) -> Result<(), SmtpError> {
    let from: Mailbox = from.parse().map_err(|_| SmtpError::BadAddress("sender"))?;
    let to: Mailbox = to.parse().map_err(|_| SmtpError::BadAddress("recipient"))?;
    let message = Message::builder()
        .from(from)
        .to(to)
        .subject(subject)
        .header(ContentType::TEXT_PLAIN)
        .body(body.to_owned())
        .map_err(|e| SmtpError::Message(e.to_string()))?;
    let builder = match server.security {
        SmtpSecurity::Plain => {
            AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(server.host.as_str())
        }
        SmtpSecurity::StartTls => {
            AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(server.host.as_str())
                .map_err(|e| SmtpError::Permanent(e.to_string()))?
        }
    };
    let transport = builder
        .port(server.port)
        .timeout(Some(SMTP_TIMEOUT))
        .build();
    match transport.send(message).await {
        Ok(_) => Ok(()),
        Err(e) if e.is_permanent() => Err(SmtpError::Permanent(e.to_string())),
        Err(e) => Err(SmtpError::Transient(e.to_string())),
    }
}
