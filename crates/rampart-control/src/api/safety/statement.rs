//! A decision's statement of reasons in the shape of the EU DSA
//! Transparency Database's submission API (`POST /api/v1/statement`):
//! its field names and enumerated values, filled from the desk's own
//! reasons. The desk and the affected site's owner may read it.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use rampart_store::{Case, Decision};
use serde_json::{Value, json};

use super::cases::visible_case;
use crate::Control;
use crate::api::auth::Principal;
use crate::api::error::{ApiError, ApiResult, ErrorBody};
use crate::api::store;

/// The EU and EEA countries: what `EU`/`EEA`/`worldwide` expand to (the
/// database accepts only these codes).
const EEA: &[&str] = &[
    "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU", "IE", "IS",
    "IT", "LI", "LT", "LU", "LV", "MT", "NL", "NO", "PL", "PT", "RO", "SE", "SI", "SK",
];

fn reason<'a>(decision: &'a Decision, key: &str) -> Option<&'a str> {
    decision
        .reasons
        .get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

fn flag(decision: &Decision, key: &str) -> bool {
    decision
        .reasons
        .get(key)
        .and_then(Value::as_bool)
        .unwrap_or(false)
}

/// `risk_for_public_security` → `STATEMENT_CATEGORY_RISK_FOR_PUBLIC_SECURITY`.
fn enum_value(prefix: &str, value: &str) -> String {
    let upper: String = value
        .trim()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    if upper.starts_with(prefix) {
        upper
    } else {
        format!("{prefix}{upper}")
    }
}

fn territorial_scope(value: Option<&str>) -> Vec<String> {
    let Some(value) = value else {
        return EEA.iter().map(|c| (*c).to_owned()).collect();
    };
    let mut codes: Vec<String> = Vec::new();
    for word in value.split(|c: char| c == ',' || c.is_whitespace()) {
        match word.trim().to_ascii_uppercase().as_str() {
            "" => {}
            "EU" | "EEA" | "WORLDWIDE" | "GLOBAL" => {
                codes.extend(EEA.iter().map(|c| (*c).to_owned()));
            }
            code if EEA.contains(&code) => codes.push(code.to_owned()),
            _ => {}
        }
    }
    codes.sort();
    codes.dedup();
    codes
}

fn content_type(value: Option<&str>) -> (Vec<&'static str>, Option<String>) {
    match value.map(str::to_ascii_lowercase).as_deref() {
        Some("text") => (vec!["CONTENT_TYPE_TEXT"], None),
        Some("image") => (vec!["CONTENT_TYPE_IMAGE"], None),
        Some("video") => (vec!["CONTENT_TYPE_VIDEO"], None),
        Some("audio") => (vec!["CONTENT_TYPE_AUDIO"], None),
        Some("synthetic_media") => (vec!["CONTENT_TYPE_SYNTHETIC_MEDIA"], None),
        Some("product") => (vec!["CONTENT_TYPE_PRODUCT"], None),
        other => (
            vec!["CONTENT_TYPE_OTHER"],
            Some(other.unwrap_or("website").to_owned()),
        ),
    }
}

/// `YYYY-MM-DD` (UTC) of unix milliseconds.
fn date(ms: i64) -> String {
    let stamp = rampart_challenge::rfc3339_utc(u64::try_from(ms / 1000).unwrap_or(0));
    stamp.get(..10).unwrap_or(&stamp).to_owned()
}

/// The statement for `decision` on `case`.
pub(crate) fn statement_of_reasons(decision: &Decision, case: &Case) -> Value {
    let illegal = reason(decision, "decision_ground")
        .is_some_and(|g| g.to_ascii_lowercase().contains("illegal"));
    let facts = reason(decision, "facts").unwrap_or_default();
    let ground_reference = reason(decision, "ground_reference").unwrap_or_default();
    // What the outcome restricts, in the database's terms.
    let (visibility, visibility_other, provision) = match decision.outcome.as_str() {
        "suspend" | "legal_block" => (
            "DECISION_VISIBILITY_CONTENT_DISABLED",
            None,
            Some("DECISION_PROVISION_TOTAL_SUSPENSION"),
        ),
        "restrict" => (
            "DECISION_VISIBILITY_CONTENT_DISABLED",
            None,
            Some("DECISION_PROVISION_PARTIAL_SUSPENSION"),
        ),
        "interstitial" => ("DECISION_VISIBILITY_CONTENT_LABELLED", None, None),
        other => (
            "DECISION_VISIBILITY_OTHER",
            Some(format!("no restriction at the edge ({other})")),
            None,
        ),
    };
    let (types, type_other) = content_type(reason(decision, "content_type"));
    let end = match (decision.expires_at, decision.lifted_at) {
        (Some(e), Some(l)) => Some(e.min(l)),
        (e, l) => e.or(l),
    };
    let mut statement = json!({
        "puid": decision.id,
        "decision_visibility": [visibility],
        "decision_ground": if illegal {
            "DECISION_GROUND_ILLEGAL_CONTENT"
        } else {
            "DECISION_GROUND_INCOMPATIBLE_CONTENT"
        },
        "category": enum_value(
            "STATEMENT_CATEGORY_",
            reason(decision, "category").unwrap_or("scope_of_platform_service"),
        ),
        "territorial_scope": territorial_scope(reason(decision, "territorial_scope")),
        "content_type": types,
        "content_date": date(case.created_at),
        "application_date": date(decision.effective_at),
        "decision_facts": facts,
        "source_type": "SOURCE_ARTICLE_16",
        "automated_detection": if flag(decision, "automated_detection") { "Yes" } else { "No" },
        "automated_decision": if flag(decision, "automated_decision") {
            "AUTOMATED_DECISION_FULLY"
        } else {
            "AUTOMATED_DECISION_NOT_AUTOMATED"
        },
    });
    let fields = [
        (
            "decision_visibility_other",
            visibility_other.map(Value::from),
        ),
        ("decision_provision", provision.map(Value::from)),
        ("content_type_other", type_other.map(Value::from)),
        (
            "end_date_visibility_restriction",
            end.map(|e| Value::from(date(e))),
        ),
        (
            if illegal {
                "illegal_content_legal_ground"
            } else {
                "incompatible_content_ground"
            },
            Some(Value::from(ground_reference)),
        ),
        (
            if illegal {
                "illegal_content_explanation"
            } else {
                "incompatible_content_explanation"
            },
            Some(Value::from(facts)),
        ),
    ];
    if let Some(object) = statement.as_object_mut() {
        for (key, value) in fields {
            if let Some(value) = value {
                object.insert(key.to_owned(), value);
            }
        }
    }
    statement
}

#[utoipa::path(get, path = "/api/v1/decisions/{id}/statement-of-reasons", tag = "trust & safety",
    responses((status = 200, body = Object), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(control): State<Arc<Control>>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    Ok(Json(decision_statement(&control, &principal, &id).await?))
}

/// Decision `id`'s statement of reasons if `principal` may see its case;
/// the API's and the dashboard's export.
pub(crate) async fn decision_statement(
    control: &Control,
    principal: &Principal,
    id: &str,
) -> ApiResult<Value> {
    let decision = store(control)?
        .get_decision(id)
        .await
        .map_err(|_| ApiError::not_found("decision", id))?;
    let (case, _) = visible_case(control, principal, &decision.case_id)
        .await
        .map_err(|_| ApiError::not_found("decision", id))?;
    Ok(statement_of_reasons(&decision, &case))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decision(outcome: &str, reasons: Value) -> Decision {
        Decision {
            id: "dec_1".into(),
            case_id: "case_1".into(),
            site_id: "site_1".into(),
            outcome: outcome.into(),
            reasons,
            patterns: None,
            blocked_by: None,
            decided_by: "agent".into(),
            decided_at: 1_795_000_000_000,
            effective_at: 1_795_000_000_000,
            expires_at: None,
            lifted_at: Some(1_795_100_000_000),
            lifted_by: None,
        }
    }

    fn case() -> Case {
        Case {
            id: "case_1".into(),
            reference: "TS-1".into(),
            site_id: "site_1".into(),
            account_id: "acct_1".into(),
            category: "violent_threats".into(),
            priority: "urgent".into(),
            sla_due_at: 0,
            status: "decided".into(),
            assignee_user_id: None,
            created_at: 1_794_900_000_000,
            updated_at: 0,
            merged_into: None,
        }
    }

    #[test]
    fn a_suspension_maps_onto_the_database_fields() {
        let d = decision(
            "suspend",
            json!({
                "decision_ground": "illegal_content",
                "category": "risk_for_public_security",
                "facts": "names a person and a time",
                "territorial_scope": "DE, fr, XX",
                "content_type": "website",
                "ground_reference": "StGB 241",
                "automated_detection": true,
            }),
        );
        let s = statement_of_reasons(&d, &case());
        assert_eq!(s["decision_ground"], "DECISION_GROUND_ILLEGAL_CONTENT");
        assert_eq!(s["category"], "STATEMENT_CATEGORY_RISK_FOR_PUBLIC_SECURITY");
        assert_eq!(
            s["decision_visibility"],
            json!(["DECISION_VISIBILITY_CONTENT_DISABLED"])
        );
        assert_eq!(
            s["decision_provision"],
            "DECISION_PROVISION_TOTAL_SUSPENSION"
        );
        assert_eq!(s["territorial_scope"], json!(["DE", "FR"]));
        assert_eq!(s["content_type"], json!(["CONTENT_TYPE_OTHER"]));
        assert_eq!(s["content_type_other"], "website");
        assert_eq!(s["illegal_content_legal_ground"], "StGB 241");
        assert_eq!(
            s["illegal_content_explanation"],
            "names a person and a time"
        );
        assert_eq!(s["automated_detection"], "Yes");
        assert_eq!(s["automated_decision"], "AUTOMATED_DECISION_NOT_AUTOMATED");
        assert_eq!(s["application_date"], "2026-11-18");
        assert_eq!(s["end_date_visibility_restriction"], "2026-11-19");
        assert_eq!(s["puid"], "dec_1");
    }

    #[test]
    fn terms_of_service_grounds_and_labels() {
        let d = decision(
            "interstitial",
            json!({ "decision_ground": "incompatible_content", "territorial_scope": "worldwide" }),
        );
        let s = statement_of_reasons(&d, &case());
        assert_eq!(s["decision_ground"], "DECISION_GROUND_INCOMPATIBLE_CONTENT");
        assert_eq!(
            s["decision_visibility"],
            json!(["DECISION_VISIBILITY_CONTENT_LABELLED"])
        );
        assert!(s.get("decision_provision").is_none());
        assert_eq!(
            s["territorial_scope"].as_array().map(Vec::len),
            Some(EEA.len())
        );
        assert!(s.get("incompatible_content_ground").is_some());
        assert!(s.get("illegal_content_legal_ground").is_none());
    }
}
