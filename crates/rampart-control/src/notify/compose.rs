//! Building outbox rows for the desk's events, so callers (report intake,
//! decisions, lifts) pick an audience and an event and never assemble a
//! message or a webhook payload by hand.

use rampart_store::{NewNotification, NotificationKind};

use super::templates::{self, Audience, Event, Fields, TemplateError};

/// An email to `to` for `audience`, rendered from the templates.
pub fn email(
    to: &str,
    audience: Audience,
    category: &str,
    event: Event,
    fields: &Fields<'_>,
    case_id: Option<&str>,
    decision_id: Option<&str>,
) -> Result<NewNotification, TemplateError> {
    let (subject, body) = templates::render(audience, category, event, fields)?;
    Ok(NewNotification {
        kind: NotificationKind::Email,
        recipient: to.to_owned(),
        subject,
        body,
        case_id: case_id.map(str::to_owned),
        decision_id: decision_id.map(str::to_owned),
    })
}

/// A signed webhook to `url`: `{"event": event, "case_id", "decision_id",
/// "data": data}`. `data` must hold only what the receiver may see (no
/// reporter identity unless the reporter chose "named" for it).
pub fn webhook(
    url: &str,
    event: &str,
    data: serde_json::Value,
    case_id: Option<&str>,
    decision_id: Option<&str>,
) -> NewNotification {
    let body = serde_json::json!({
        "event": event,
        "case_id": case_id,
        "decision_id": decision_id,
        "data": data,
    });
    NewNotification {
        kind: NotificationKind::Webhook,
        recipient: url.to_owned(),
        subject: event.to_owned(),
        body: body.to_string(),
        case_id: case_id.map(str::to_owned),
        decision_id: decision_id.map(str::to_owned),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::templates::Sharing;

    #[test]
    fn email_and_webhook_rows() {
        let urls = vec!["https://shop.example/x".to_owned()];
        let fields = Fields {
            reference: "RPT-1",
            site: "shop.example",
            urls: &urls,
            explanation: "",
            reporter_name: None,
            reporter_email: None,
            reporter_shared: Sharing::Anonymous,
            outcome: "",
            statement_of_reasons: "",
            effective: "",
            status_url: "https://abuse.example/s/RPT-1",
            appeal_url: "",
        };
        let row = email(
            "r@example.test",
            Audience::Reporter,
            "spam",
            Event::Received,
            &fields,
            Some("case_1"),
            None,
        )
        .unwrap();
        assert_eq!(row.kind, NotificationKind::Email);
        assert_eq!(row.subject, "Report RPT-1 received");
        assert_eq!(row.case_id.as_deref(), Some("case_1"));

        let hook = webhook(
            "https://hooks.example/x",
            "decision.created",
            serde_json::json!({"outcome": "suspend"}),
            Some("case_1"),
            Some("dec_1"),
        );
        let body: serde_json::Value = serde_json::from_str(&hook.body).unwrap();
        assert_eq!(body["event"], "decision.created");
        assert_eq!(body["data"]["outcome"], "suspend");
        assert_eq!(body["decision_id"], "dec_1");
    }
}
