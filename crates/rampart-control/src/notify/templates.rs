//! Plain-text messages of the trust & safety desk, per audience, report
//! category and event.
//!
//! The reporter's identity reaches the site owner or the host only when the
//! reporter chose "named" for that audience; the caller passes that choice
//! in [`Fields::reporter_shared`], and nothing else here decides it. CSAM
//! reports never carry the reporter's explanation to the owner or host:
//! only URLs leave the desk.

use std::fmt::Write as _;

/// Who a message is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    Reporter,
    /// The owner of the reported site (its account's owners).
    SiteOwner,
    /// The hosting provider of the site's origin.
    Host,
}

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// A report was received (reporter), or filed about the site (owner).
    Received,
    /// A decision was taken on the case.
    Decided,
    /// The report is forwarded (host).
    Forwarded,
}

/// How the reporter chose to be shown to this audience.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sharing {
    Named,
    Anonymous,
    /// Not shared at all: the report itself is not sent to this audience.
    None,
}

/// What a message may say. Unused fields may stay empty.
#[derive(Debug, Clone, Copy)]
pub struct Fields<'a> {
    /// The public reference id (case or report).
    pub reference: &'a str,
    /// The site's name or host.
    pub site: &'a str,
    pub urls: &'a [String],
    /// The reporter's explanation.
    pub explanation: &'a str,
    pub reporter_name: Option<&'a str>,
    pub reporter_email: Option<&'a str>,
    /// The reporter's choice for this message's audience.
    pub reporter_shared: Sharing,
    /// The decision's outcome code (`suspend`, …).
    pub outcome: &'a str,
    /// The statement of reasons, as shown to the owner.
    pub statement_of_reasons: &'a str,
    /// When the decision takes effect, human-readable (RFC 3339).
    pub effective: &'a str,
    /// Where the reporter follows the report (no login).
    pub status_url: &'a str,
    /// Where the owner appeals.
    pub appeal_url: &'a str,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("no {event:?} message exists for the {audience:?}")]
    NoSuchMessage { audience: Audience, event: Event },
    #[error("the reporter chose not to share the report with the {0:?}")]
    NotShared(Audience),
}

/// The category's name in a sentence ("a report of phishing").
pub fn category_phrase(category: &str) -> &'static str {
    rampart_config::abuse_category(category).map_or("abuse", |c| c.sentence)
}

fn outcome_phrase(outcome: &str) -> &'static str {
    match outcome {
        "no_action" => "no action was taken",
        "forward" => "the report was forwarded to the site's owner and/or hosting provider",
        "warn" => "the site's owner was warned",
        "interstitial" => "visitors now see a warning before the site",
        "restrict" => "access to specific addresses on the site is restricted",
        "suspend" => "the site is suspended",
        "legal_block" => "the site is blocked for legal reasons",
        _ => "a decision was taken",
    }
}

/// What the category asks of the owner, beyond the default.
fn owner_advice(category: &str) -> &'static str {
    match category {
        "phishing" | "malware" => {
            "Sites are often compromised without their owner's knowledge: check for \
             files or accounts you did not create, update your software and change \
             your passwords."
        }
        "violent_threats" | "csam" => {
            "This category is handled with the highest priority and may be \
             referred to law enforcement."
        }
        "copyright" | "trademark" => {
            "If you believe the use is lawful, you may reply with your reasons."
        }
        _ => "Please review the content and remove anything that breaks the law or our terms.",
    }
}

/// The subject and body of one message.
pub fn render(
    audience: Audience,
    category: &str,
    event: Event,
    f: &Fields<'_>,
) -> Result<(String, String), TemplateError> {
    let what = category_phrase(category);
    let mut body = String::new();
    // Writing to a String cannot fail; results are ignored below.
    let subject = match (audience, event) {
        (Audience::Reporter, Event::Received) => {
            let _ = writeln!(
                body,
                "Thank you for your report of {what} about {}.",
                f.site
            );
            let _ = writeln!(body, "\nReference: {}", f.reference);
            let _ = writeln!(
                body,
                "Follow its status (no account needed): {}",
                f.status_url
            );
            let _ = writeln!(
                body,
                "\nWe review reports in order of urgency and will write again when a \
                 decision is taken."
            );
            format!("Report {} received", f.reference)
        }
        (Audience::Reporter, Event::Decided) => {
            let _ = writeln!(
                body,
                "We have decided on your report of {what} about {}.",
                f.site
            );
            let _ = writeln!(body, "\nReference: {}", f.reference);
            let _ = writeln!(body, "Outcome: {}.", outcome_phrase(f.outcome));
            let _ = writeln!(body, "Details: {}", f.status_url);
            format!("Report {}: decision taken", f.reference)
        }
        (Audience::SiteOwner, Event::Received) => {
            if f.reporter_shared == Sharing::None {
                return Err(TemplateError::NotShared(audience));
            }
            let _ = writeln!(
                body,
                "We received a report of {what} about your site {}.",
                f.site
            );
            let _ = writeln!(body, "\nReference: {}", f.reference);
            report_details(&mut body, category, f);
            let _ = writeln!(body, "\n{}", owner_advice(category));
            format!("Abuse report about {} ({what})", f.site)
        }
        (Audience::SiteOwner, Event::Decided) => {
            let _ = writeln!(
                body,
                "A decision was taken about your site {} following a report of {what}.",
                f.site
            );
            let _ = writeln!(body, "\nReference: {}", f.reference);
            let _ = writeln!(body, "Outcome: {}.", outcome_phrase(f.outcome));
            if !f.effective.is_empty() {
                let _ = writeln!(body, "Effective: {}", f.effective);
            }
            let _ = writeln!(body, "\nStatement of reasons:\n{}", f.statement_of_reasons);
            let _ = writeln!(
                body,
                "\nHow to appeal: you may appeal this decision, with your reasons, at \
                 {}. A different member of our team will review it.",
                f.appeal_url
            );
            format!("Decision on your site {} ({what})", f.site)
        }
        (Audience::Host, Event::Forwarded) => {
            if f.reporter_shared == Sharing::None {
                return Err(TemplateError::NotShared(audience));
            }
            let _ = writeln!(
                body,
                "We received a report of {what} about {}, a site whose origin you host. \
                 We forward it so you can act under your own policies.",
                f.site
            );
            let _ = writeln!(body, "\nReference: {}", f.reference);
            report_details(&mut body, category, f);
            format!("Forwarded abuse report: {} ({what})", f.site)
        }
        (audience, event) => return Err(TemplateError::NoSuchMessage { audience, event }),
    };
    Ok((subject, body))
}

/// The URLs, the explanation (never for CSAM) and the reporter, when named.
fn report_details(body: &mut String, category: &str, f: &Fields<'_>) {
    let _ = writeln!(body, "\nReported addresses:");
    for url in f.urls {
        let _ = writeln!(body, "  {url}");
    }
    if category != "csam" && !f.explanation.is_empty() {
        let _ = writeln!(body, "\nThe reporter's explanation:\n{}", f.explanation);
    }
    match (f.reporter_shared, f.reporter_name, f.reporter_email) {
        (Sharing::Named, name, email) if name.is_some() || email.is_some() => {
            let _ = writeln!(
                body,
                "\nReported by: {} {}",
                name.unwrap_or_default(),
                email.map(|e| format!("<{e}>")).unwrap_or_default()
            );
        }
        _ => {
            let _ = writeln!(body, "\nThe reporter asked to remain anonymous.");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(shared: Sharing) -> Fields<'static> {
        static URLS: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
        Fields {
            reference: "RPT-7K2M",
            site: "shop.example",
            urls: URLS.get_or_init(|| vec!["https://shop.example/login".to_owned()]),
            explanation: "Fake bank login page",
            reporter_name: Some("Alice Reporter"),
            reporter_email: Some("alice@reporter.test"),
            reporter_shared: shared,
            outcome: "suspend",
            statement_of_reasons: "Phishing page imitating a bank.",
            effective: "2026-11-28T09:00:00Z",
            status_url: "https://abuse.example/s/RPT-7K2M",
            appeal_url: "https://dash.example/appeals",
        }
    }

    #[test]
    fn owner_sees_reporter_only_when_named() {
        for shared in [Sharing::Anonymous, Sharing::Named] {
            let (subject, body) = render(
                Audience::SiteOwner,
                "phishing",
                Event::Received,
                &fields(shared),
            )
            .unwrap();
            assert!(subject.contains("shop.example"), "{subject}");
            assert!(body.contains("https://shop.example/login"));
            let named = body.contains("alice@reporter.test") || body.contains("Alice");
            assert_eq!(named, shared == Sharing::Named, "{body}");
        }
        assert_eq!(
            render(
                Audience::SiteOwner,
                "phishing",
                Event::Received,
                &fields(Sharing::None)
            ),
            Err(TemplateError::NotShared(Audience::SiteOwner))
        );
        // A decision never carries the reporter, whatever the choice.
        let (_, body) = render(
            Audience::SiteOwner,
            "phishing",
            Event::Decided,
            &fields(Sharing::Named),
        )
        .unwrap();
        assert!(!body.contains("alice") && !body.contains("Alice"), "{body}");
        assert!(body.contains("Statement of reasons:\nPhishing page imitating a bank."));
        assert!(body.contains("How to appeal") && body.contains("https://dash.example/appeals"));
    }

    #[test]
    fn csam_never_forwards_the_explanation() {
        let (_, body) = render(
            Audience::Host,
            "csam",
            Event::Forwarded,
            &fields(Sharing::Anonymous),
        )
        .unwrap();
        assert!(!body.contains("Fake bank"), "{body}");
        assert!(body.contains("child sexual abuse material"));
        assert!(!body.contains("alice"));
    }

    #[test]
    fn reporter_messages_and_unknown_combinations() {
        let (subject, body) = render(
            Audience::Reporter,
            "malware",
            Event::Received,
            &fields(Sharing::None),
        )
        .unwrap();
        assert_eq!(subject, "Report RPT-7K2M received");
        assert!(body.contains("https://abuse.example/s/RPT-7K2M"));
        let (_, body) = render(
            Audience::Reporter,
            "malware",
            Event::Decided,
            &fields(Sharing::None),
        )
        .unwrap();
        assert!(body.contains("the site is suspended"));
        assert!(
            render(
                Audience::Host,
                "spam",
                Event::Decided,
                &fields(Sharing::Named)
            )
            .is_err()
        );
        assert!(
            render(
                Audience::Reporter,
                "spam",
                Event::Forwarded,
                &fields(Sharing::Named)
            )
            .is_err()
        );
    }
}
