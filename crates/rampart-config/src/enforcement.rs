//! Trust & safety decisions in force on a site, as the edge applies them.
//! They come from the store's decisions, never from the site's own
//! settings: an owner cannot write or undo them through the site API.

/// What a decision does at the edge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnforcementAction {
    /// `suspend`: every request answers 403 with the suspension page.
    Suspend,
    /// `legal_block`: every request answers 451 (RFC 7725) with
    /// `Link: <blocked_by>; rel="blocked-by"` when the authority is known.
    LegalBlock { blocked_by: Option<String> },
    /// `restrict`: requests whose path matches one of the patterns answer
    /// 403 with the same page. A pattern is a path prefix, or a path with
    /// `*` wildcards.
    Restrict { patterns: Vec<String> },
    /// `interstitial`: visitors see a warning page first and may continue.
    Interstitial,
}

impl EnforcementAction {
    /// The decision outcome's API code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Suspend => "suspend",
            Self::LegalBlock { .. } => "legal_block",
            Self::Restrict { .. } => "restrict",
            Self::Interstitial => "interstitial",
        }
    }
}

/// One decision in force on a site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enforcement {
    /// The decision's id (`POST /api/v1/decisions/{id}/lift`).
    pub decision_id: String,
    /// The case's public reference, shown to visitors and the owner.
    pub reference: String,
    pub action: EnforcementAction,
    /// The report category's API code (`phishing`, `violent_threats`, …).
    pub category: String,
    /// When the decision was taken (unix seconds).
    pub decided_at: u64,
    /// Where the site's owner appeals; shown on the page.
    pub appeal_url: Option<String>,
}

/// How a category reads on the page a visitor sees.
pub fn category_phrase(code: &str) -> &'static str {
    match code {
        "phishing" => "phishing (impersonating another site to steal credentials or money)",
        "malware" => "distributing malware",
        "violent_threats" => "an imminent threat to human life",
        "harassment" => "targeted harassment or the publication of private information",
        "csam" => "child sexual abuse material",
        "ncii" => "non-consensual intimate imagery",
        "copyright" => "copyright infringement",
        "trademark" => "trademark infringement",
        "spam" => "spam",
        _ => "a violation of the acceptable use policy",
    }
}
