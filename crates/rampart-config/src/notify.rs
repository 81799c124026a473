//! `[notify]`: how the trust & safety desk's notifications leave the node —
//! the SMTP server emails go through, their sender, and the secret webhooks
//! are signed with.

use std::time::Duration;

use crate::diagnostics::Diags;
use crate::tree::Table;

const NOTIFY_KEYS: &[&str] = &["smtp", "from", "webhook_secret", "retry_base"];

/// The first retry of a failed delivery; later ones are multiples of it.
pub const DEFAULT_RETRY_BASE: Duration = Duration::from_secs(30);

/// Webhook receivers check an HMAC-SHA256 with this secret; shorter ones
/// are guessable offline from one signed request.
const MIN_SECRET_LEN: usize = 16;

/// How the connection to the SMTP server is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// `smtp://`: plain SMTP, for a relay on localhost or a private network.
    Plain,
    /// `smtp+starttls://`: STARTTLS is required; the session fails without it.
    StartTls,
}

/// `notify.smtp`, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpServer {
    pub host: String,
    pub port: u16,
    pub security: SmtpSecurity,
}

/// `[notify]`. Every field is optional: without `smtp` emails stay queued
/// (pending) until one is configured; without `webhook_secret` webhooks do.
#[derive(Clone, PartialEq, Eq)]
pub struct NotifyConfig {
    pub smtp: Option<SmtpServer>,
    /// `notify.from`: the envelope and header sender of every email.
    pub from: Option<String>,
    /// `notify.webhook_secret`: key of the `Rampart-Signature` HMAC.
    pub webhook_secret: Option<String>,
    /// `notify.retry_base`, 1s to 1h, default 30s: the wait before the first
    /// retry; then 4×, 20×, 120× it, then every 720× (30s gives 30s, 2m,
    /// 10m, 1h, every 6h). Delivery gives up 24h after queueing.
    pub retry_base: Duration,
}

impl Default for NotifyConfig {
    fn default() -> Self {
        Self {
            smtp: None,
            from: None,
            webhook_secret: None,
            retry_base: DEFAULT_RETRY_BASE,
        }
    }
}

impl std::fmt::Debug for NotifyConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NotifyConfig")
            .field("smtp", &self.smtp)
            .field("from", &self.from)
            .field(
                "webhook_secret",
                &self.webhook_secret.as_ref().map(|_| "[redacted]"),
            )
            .field("retry_base", &self.retry_base)
            .finish()
    }
}

pub(crate) fn notify(t: &Table<'_, '_>, d: &mut Diags<'_>) -> NotifyConfig {
    t.check_keys(NOTIFY_KEYS, d);
    let smtp = t.str("smtp", d).and_then(|s| {
        smtp_url(s.text)
            .map_err(|msg| d.error(&s.span(), format!("`notify.smtp` {msg}")))
            .ok()
    });
    let from = t.str("from", d).and_then(|s| {
        if is_plain_address(s.text) {
            Some(s.text.to_owned())
        } else {
            d.error(
                &s.span(),
                "`notify.from` must be an email address such as \"abuse@example.org\"".to_owned(),
            );
            None
        }
    });
    let webhook_secret = t.str("webhook_secret", d).and_then(|s| {
        if s.text.len() >= MIN_SECRET_LEN {
            Some(s.text.to_owned())
        } else {
            // The value itself is never echoed: it is a secret.
            d.error(
                &s.span(),
                format!("`notify.webhook_secret` must be at least {MIN_SECRET_LEN} characters"),
            );
            None
        }
    });
    let retry_base = t
        .duration(
            "retry_base",
            Duration::from_secs(1)..=Duration::from_secs(3600),
            d,
        )
        .map_or(DEFAULT_RETRY_BASE, |(base, _)| base);
    NotifyConfig {
        smtp,
        from,
        webhook_secret,
        retry_base,
    }
}

/// `smtp://host:port` or `smtp+starttls://host:port`; the port defaults to
/// 25 and 587. No credentials in the URL: a first version relays through a
/// server that trusts this node.
pub fn smtp_url(text: &str) -> Result<SmtpServer, String> {
    let (security, rest, default_port) = if let Some(rest) = text.strip_prefix("smtp://") {
        (SmtpSecurity::Plain, rest, 25)
    } else if let Some(rest) = text.strip_prefix("smtp+starttls://") {
        (SmtpSecurity::StartTls, rest, 587)
    } else {
        return Err("must be smtp://host:port or smtp+starttls://host:port".to_owned());
    };
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if rest.contains(['@', '/', '?', '#']) || rest.is_empty() {
        return Err("must be just a host and port, e.g. smtp://127.0.0.1:25".to_owned());
    }
    let (host, port) = match rest.rsplit_once(':') {
        Some((host, _)) if !host.ends_with(']') && host.contains(':') => (rest, None),
        Some((host, port)) => (host, Some(port)),
        None => (rest, None),
    };
    let port = match port {
        Some(p) => p
            .parse::<u16>()
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| format!("has a bad port \"{p}\""))?,
        None => default_port,
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return Err("has no host".to_owned());
    }
    Ok(SmtpServer {
        host: host.to_owned(),
        port,
        security,
    })
}

/// One `local@domain` without spaces or display name: what goes into the
/// SMTP envelope as is.
pub fn is_plain_address(text: &str) -> bool {
    match text.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.is_empty()
                && !domain.contains('@')
                && !text
                    .contains(|c: char| c.is_whitespace() || c.is_control() || "<>,;\"".contains(c))
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smtp_urls() {
        let s = smtp_url("smtp://127.0.0.1:2525").unwrap();
        assert_eq!(
            (s.host.as_str(), s.port, s.security),
            ("127.0.0.1", 2525, SmtpSecurity::Plain)
        );
        let s = smtp_url("smtp+starttls://mail.example.org").unwrap();
        assert_eq!((s.port, s.security), (587, SmtpSecurity::StartTls));
        assert_eq!(smtp_url("smtp://[::1]:25").unwrap().host, "::1");
        for bad in [
            "http://x",
            "smtp://",
            "smtp://u:p@host:25",
            "smtp://h:0",
            "smtp://h:x",
        ] {
            assert!(smtp_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn addresses() {
        assert!(is_plain_address("abuse@example.org"));
        for bad in ["abuse", "@x", "a@", "a b@x", "A <a@x>", "a@b@c"] {
            assert!(!is_plain_address(bad), "{bad}");
        }
    }
}
