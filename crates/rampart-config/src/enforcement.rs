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

/// An abuse report category: its API code and how people read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AbuseCategory {
    /// The API code (`violent_threats`).
    pub code: &'static str,
    /// Its name on forms and the desk's pages.
    pub label: &'static str,
    /// Inside a sentence: "a report of {sentence}".
    pub sentence: &'static str,
    /// On the page a visitor of a blocked site sees: "blocked for {page}".
    pub page: &'static str,
}

/// Every category, in the order forms offer them: the one list the edge's
/// form, the desk's pages, the notifications and the block page read.
pub const ABUSE_CATEGORIES: [AbuseCategory; 10] = [
    AbuseCategory {
        code: "phishing",
        label: "Phishing",
        sentence: "phishing",
        page: "phishing (impersonating another site to steal credentials or money)",
    },
    AbuseCategory {
        code: "malware",
        label: "Malware",
        sentence: "malware",
        page: "distributing malware",
    },
    AbuseCategory {
        code: "violent_threats",
        label: "Violent threats / threat to life",
        sentence: "violent threats or a threat to human life",
        page: "an imminent threat to human life",
    },
    AbuseCategory {
        code: "harassment",
        label: "Harassment or doxxing",
        sentence: "harassment or doxxing",
        page: "targeted harassment or the publication of private information",
    },
    AbuseCategory {
        code: "csam",
        label: "Child sexual abuse material",
        sentence: "child sexual abuse material",
        page: "child sexual abuse material",
    },
    AbuseCategory {
        code: "ncii",
        label: "Non-consensual intimate imagery",
        sentence: "non-consensual intimate imagery",
        page: "non-consensual intimate imagery",
    },
    AbuseCategory {
        code: "copyright",
        label: "Copyright",
        sentence: "copyright infringement",
        page: "copyright infringement",
    },
    AbuseCategory {
        code: "trademark",
        label: "Trademark",
        sentence: "trademark infringement",
        page: "trademark infringement",
    },
    AbuseCategory {
        code: "spam",
        label: "Spam",
        sentence: "spam",
        page: "spam",
    },
    AbuseCategory {
        code: "other",
        label: "Other",
        sentence: "abuse",
        page: "a violation of the acceptable use policy",
    },
];

/// The category with this API code.
pub fn abuse_category(code: &str) -> Option<&'static AbuseCategory> {
    ABUSE_CATEGORIES.iter().find(|c| c.code == code)
}

/// How a category reads on the page a visitor sees.
pub fn category_phrase(code: &str) -> &'static str {
    abuse_category(code).map_or("a violation of the acceptable use policy", |c| c.page)
}
