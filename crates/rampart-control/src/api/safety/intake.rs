//! Filing a report: validation, the per-IP and per-email limits, and the
//! store write. Shared by `POST /api/v1/abuse-reports` and the edge's form
//! at `/.rampart/abuse` (through [`FormIntake`]).
//!
//! Nothing here logs who reported: names and emails go to the store only.

use std::net::IpAddr;
use std::sync::Weak;

use rampart_edge::abuse_form::{AbuseIntake, IntakeFuture, Receipt, Submission};
use rampart_store::{Actor, CATEGORIES, NewAbuseReport, ReportIdentity};
use sha2::{Digest as _, Sha256};

use crate::Control;
use crate::api::error::ApiError;
use crate::spool::{Applied, Entry, SpooledReport};

/// At most this many URLs per report.
pub const MAX_URLS: usize = 250;
/// Longest explanation, in characters.
pub const MAX_EXPLANATION: usize = 5000;
/// Reports of one site and category within this window join the open case.
pub const MERGE_WINDOW_MS: i64 = 24 * 3_600_000;
/// Reports per client address, and per reporter email, per window.
pub const LIMIT_PER_IP: i64 = 10;
pub const LIMIT_PER_EMAIL: i64 = 10;
pub const LIMIT_WINDOW_MS: i64 = 3_600_000;

/// A report as a caller sends it, before checks.
#[derive(Debug, Clone, Default)]
pub struct ReportInput {
    pub category: String,
    pub urls: Vec<String>,
    pub explanation: String,
    pub reporter_name: Option<String>,
    pub reporter_email: Option<String>,
    pub good_faith: bool,
    pub share_with_owner: String,
    pub share_with_host: String,
}

/// A filed report.
pub struct Filed {
    pub id: String,
    pub reference: String,
    /// None while the report waits in the spool for the store.
    pub case_id: Option<String>,
    pub status_url: String,
}

/// Why a report was not filed.
pub enum Refusal {
    /// Bad input (422, naming the field), or the store failed.
    Api(ApiError),
    /// Too many reports from this client or email: retry after this many
    /// seconds (429).
    Limited(u64),
}

impl From<ApiError> for Refusal {
    fn from(error: ApiError) -> Self {
        Refusal::Api(error)
    }
}

impl From<rampart_store::StoreError> for Refusal {
    fn from(error: rampart_store::StoreError) -> Self {
        Refusal::Api(error.into())
    }
}

fn invalid(field: &str, message: impl Into<String>) -> Refusal {
    Refusal::Api(ApiError::invalid(field, "invalid", message))
}

/// A pseudonym for the client address, for counting only. IPv6 clients
/// are counted per /64, which one subscriber usually holds whole.
pub fn ip_key(ip: IpAddr) -> String {
    let text = match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
    };
    let digest = Sha256::digest(format!("rampart abuse report client {text}").as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// The site a URL is on, by its host; an error names the field.
fn host_of(url: &str, field: &str) -> Result<String, Refusal> {
    let uri: http::Uri = url
        .trim()
        .parse()
        .map_err(|_| invalid(field, format!("'{url}' is not a URL")))?;
    let scheme_ok = matches!(uri.scheme_str(), Some("http" | "https"));
    match uri.host() {
        Some(host) if scheme_ok => Ok(host.trim_end_matches('.').to_ascii_lowercase()),
        _ => Err(invalid(
            field,
            format!("'{url}' is not an http:// or https:// URL"),
        )),
    }
}

/// A stored host pattern (exact, or `*.suffix` for any subdomain) against
/// a lowercased host.
fn host_matches(pattern: &str, host: &str) -> bool {
    match pattern.strip_prefix("*.") {
        Some(suffix) => host
            .strip_suffix(suffix)
            .is_some_and(|sub| sub.len() > 1 && sub.ends_with('.')),
        None => pattern == host,
    }
}

pub(crate) fn check_email(email: &str) -> bool {
    email.len() <= 254
        && !email.chars().any(char::is_whitespace)
        && email
            .split_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'))
}

/// Checks the report, applies the limits and files it.
pub async fn file(
    control: &Control,
    input: ReportInput,
    client_ip: IpAddr,
) -> Result<Filed, Refusal> {
    if !CATEGORIES.contains(&input.category.as_str()) {
        return Err(invalid(
            "category",
            format!("unknown category; one of {}", CATEGORIES.join(", ")),
        ));
    }
    if input.urls.is_empty() || input.urls.len() > MAX_URLS {
        return Err(invalid(
            "urls",
            format!("give between 1 and {MAX_URLS} URLs"),
        ));
    }
    if input.explanation.chars().count() > MAX_EXPLANATION {
        return Err(invalid(
            "explanation",
            format!("at most {MAX_EXPLANATION} characters"),
        ));
    }
    if !input.good_faith {
        return Err(invalid(
            "good_faith",
            "declare that the report is accurate and made in good faith",
        ));
    }
    if !matches!(
        input.share_with_owner.as_str(),
        "named" | "anonymous" | "none"
    ) {
        return Err(invalid("share_with_owner", "one of named, anonymous, none"));
    }
    if !matches!(input.share_with_host.as_str(), "named" | "anonymous") {
        return Err(invalid("share_with_host", "one of named, anonymous"));
    }
    let name = input.reporter_name.filter(|n| !n.trim().is_empty());
    // Lowercased so the per-email limit cannot be dodged by case.
    let email = input
        .reporter_email
        .map(|e| e.trim().to_lowercase())
        .filter(|e| !e.is_empty());
    // People reporting child abuse material may stay anonymous: asking for
    // a name deters reports that matter most.
    if input.category != "csam" {
        if name.is_none() {
            return Err(invalid("reporter.name", "a name is required"));
        }
        if email.is_none() {
            return Err(invalid("reporter.email", "an email address is required"));
        }
    }
    if let Some(email) = &email
        && !check_email(email)
    {
        return Err(invalid("reporter.email", "not an email address"));
    }

    // Every URL must be on a site Rampart protects, and on one site: a
    // case is about one site.
    let snapshot = control.edge.snapshot();
    // Read lazily: the store is asked only for a host the running snapshot
    // does not know yet (a site created a moment ago).
    let mut stored: Option<Vec<rampart_store::SiteRecord>> = None;
    let mut site_name: Option<String> = None;
    let mut urls = Vec::with_capacity(input.urls.len());
    for (i, url) in input.urls.iter().enumerate() {
        let field = format!("urls[{i}]");
        let host = host_of(url, &field)?;
        let name = match snapshot.site_for_host(&host) {
            Some(site) => Some(site.name.to_string()),
            None => {
                // Without the store, only the snapshot's sites are known.
                if stored.is_none()
                    && let Some(store) = control.store()
                {
                    stored = Some(match store.list_sites(None).await {
                        Ok(sites) => sites,
                        Err(error) if error.is_unavailable() => Vec::new(),
                        Err(error) => return Err(error.into()),
                    });
                }
                stored
                    .iter()
                    .flatten()
                    .find(|s| s.hosts.iter().any(|p| host_matches(p, &host)))
                    .map(|s| s.name.clone())
            }
        };
        let Some(name) = name else {
            return Err(invalid(
                &field,
                format!("'{host}' is not a site this service protects"),
            ));
        };
        match &site_name {
            None => site_name = Some(name),
            Some(first) if *first == name => {}
            Some(_) => {
                return Err(invalid(
                    &field,
                    "all URLs of one report must be on the same site; file one report per site",
                ));
            }
        }
        urls.push(url.trim().to_owned());
    }
    let site_name = site_name.unwrap_or_default();
    let report = SpooledReport {
        identity: ReportIdentity::new(crate::api::tokens::now_ms()),
        site: site_name,
        category: input.category,
        urls,
        explanation: input.explanation,
        reporter_name: name,
        reporter_email: email,
        share_with_owner: input.share_with_owner,
        share_with_host: input.share_with_host,
        client_ip_hash: ip_key(client_ip),
    };
    match file_now(control, &report).await {
        Ok(filed) => Ok(filed),
        Err(Attempt::Refused(refusal)) => Err(refusal),
        Err(Attempt::StoreDown) => queue(control, report),
    }
}

/// Why a report did not go into the store now.
enum Attempt {
    Refused(Refusal),
    /// The store cannot be reached: the report goes to the spool.
    StoreDown,
}

impl From<rampart_store::StoreError> for Attempt {
    fn from(error: rampart_store::StoreError) -> Self {
        if error.is_unavailable() {
            Attempt::StoreDown
        } else {
            Attempt::Refused(error.into())
        }
    }
}

impl From<Refusal> for Attempt {
    fn from(refusal: Refusal) -> Self {
        Attempt::Refused(refusal)
    }
}

fn status_url(control: &Control, reference: &str) -> String {
    format!(
        "{}/api/v1/abuse-reports/{reference}/status",
        control.public_url.trim_end_matches('/'),
    )
}

/// Applies the limits and writes the report, with the id and reference it
/// was given at intake (so a commit whose answer was lost, then spooled,
/// is not filed twice).
async fn file_now(control: &Control, report: &SpooledReport) -> Result<Filed, Attempt> {
    let store = control.store().ok_or(Attempt::StoreDown)?;
    let Some(site) = store.site_by_name(&report.site).await? else {
        return Err(invalid("urls[0]", "the site is not in the store").into());
    };
    let since = crate::api::tokens::now_ms() - LIMIT_WINDOW_MS;
    let retry = u64::try_from(LIMIT_WINDOW_MS / 1000).unwrap_or(3600);
    if store
        .count_reports_from_ip(&report.client_ip_hash, since)
        .await?
        >= LIMIT_PER_IP
    {
        return Err(Refusal::Limited(retry).into());
    }
    if let Some(email) = &report.reporter_email
        && store.count_reports_from_email(email, since).await? >= LIMIT_PER_EMAIL
    {
        return Err(Refusal::Limited(retry).into());
    }
    let (stored, case) = store_report(control, store, report.clone(), site).await?;
    Ok(Filed {
        status_url: status_url(control, &stored.reference),
        id: stored.id,
        reference: stored.reference,
        case_id: Some(case.id),
    })
}

/// Files `report` on `site` and announces it.
async fn store_report(
    control: &Control,
    store: &rampart_store::Store,
    report: SpooledReport,
    site: rampart_store::SiteRecord,
) -> Result<(rampart_store::AbuseReport, rampart_store::Case), rampart_store::StoreError> {
    let new = NewAbuseReport {
        site_id: site.id,
        account_id: site.account_id,
        category: report.category,
        urls: report.urls,
        explanation: report.explanation,
        reporter_name: report.reporter_name,
        reporter_email: report.reporter_email,
        good_faith: true,
        share_with_owner: report.share_with_owner,
        share_with_host: report.share_with_host,
        client_ip_hash: report.client_ip_hash,
    };
    let actor = Actor::system("public abuse report");
    let (stored, case, _merged) = store
        .file_abuse_report_once(&actor, new, MERGE_WINDOW_MS, &report.identity)
        .await?;
    let url = status_url(control, &stored.reference);
    crate::notify::hooks::report_received(store, &stored, &case, &report.site, &url).await;
    Ok((stored, case))
}

/// The store is down: the report is kept in the spool (on disk, fsynced)
/// and the reporter gets its reference now. The limits count what this
/// node has queued, since the store cannot count.
fn queue(control: &Control, report: SpooledReport) -> Result<Filed, Refusal> {
    let spool = &control.spool;
    let now = crate::api::tokens::now_ms();
    let since = now - LIMIT_WINDOW_MS;
    let retry = u64::try_from(LIMIT_WINDOW_MS / 1000).unwrap_or(3600);
    if spool.reports_since(&report.client_ip_hash, since) >= LIMIT_PER_IP {
        return Err(Refusal::Limited(retry));
    }
    if let Some(email) = &report.reporter_email
        && spool.reports_since(email, since) >= LIMIT_PER_EMAIL
    {
        return Err(Refusal::Limited(retry));
    }
    let (id, reference) = (
        report.identity.id.clone(),
        report.identity.reference.clone(),
    );
    let mut keys = vec![report.client_ip_hash.clone()];
    keys.extend(report.reporter_email.clone());
    if let Err(error) = spool.append(&Entry::Report(Box::new(report))) {
        tracing::error!("the store is down and the report cannot be spooled: {error}");
        return Err(Refusal::Api(ApiError::new(
            http::StatusCode::SERVICE_UNAVAILABLE,
            "store_unavailable",
            "the report could not be kept; try again shortly",
        )));
    }
    let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
    spool.note_report(&keys, now);
    tracing::info!("the store is down: abuse report {reference} kept in the spool");
    Ok(Filed {
        status_url: status_url(control, &reference),
        id,
        reference,
        case_id: None,
    })
}

/// Writes a report from the spool (the store is back).
pub(crate) async fn apply_spooled(control: &Control, report: SpooledReport) -> Applied {
    let Some(store) = control.store() else {
        return Applied::Unavailable;
    };
    let site = match store.site_by_name(&report.site).await {
        Ok(Some(site)) => site,
        Ok(None) => {
            return Applied::Refused(format!(
                "report {}: site '{}' no longer exists",
                report.identity.reference, report.site
            ));
        }
        Err(error) => return retry_or_refuse(error),
    };
    match store_report(control, store, report, site).await {
        Ok(_) => Applied::Done,
        Err(error) => retry_or_refuse(error),
    }
}

/// Only an answer that can never change sets an entry aside; anything
/// else (the store down, or an error not understood) keeps it for the
/// next flush, so nothing is dropped by mistake.
pub(crate) fn retry_or_refuse(error: rampart_store::StoreError) -> Applied {
    use rampart_store::StoreError as E;
    match error {
        E::NotFound { .. } | E::Conflict { .. } | E::Corrupt(_) => {
            Applied::Refused(error.to_string())
        }
        _ => Applied::Unavailable,
    }
}

/// The edge's form hands its reports here. The form is served only to
/// clients holding a clearance, which stands in for the captcha. Weak:
/// the edge state it is installed in is owned by the control plane.
pub struct FormIntake(pub Weak<Control>);

impl AbuseIntake for FormIntake {
    fn submit(&self, submission: Submission, client_ip: IpAddr) -> IntakeFuture {
        let control = self.0.upgrade();
        Box::pin(async move {
            let Some(control) = control else {
                return Receipt::Unavailable;
            };
            let input = ReportInput {
                category: submission.category,
                urls: submission
                    .urls
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(str::to_owned)
                    .collect(),
                explanation: submission.explanation,
                reporter_name: Some(submission.name),
                reporter_email: Some(submission.email),
                good_faith: submission.good_faith.is_some(),
                share_with_owner: submission.share_with_owner,
                share_with_host: submission.share_with_host,
            };
            match file(&control, input, client_ip).await {
                Ok(filed) => Receipt::Accepted {
                    reference: filed.reference,
                    status_url: filed.status_url,
                },
                Err(Refusal::Limited(secs)) => Receipt::Limited {
                    retry_after_secs: secs,
                },
                Err(Refusal::Api(error)) => match error.detail.field {
                    Some(field) if error.status == http::StatusCode::UNPROCESSABLE_ENTITY => {
                        Receipt::Refused(vec![(form_field(&field), error.detail.message)])
                    }
                    _ => Receipt::Unavailable,
                },
            }
        })
    }
}

/// The form's name for an API field: `urls[3]` → `urls`, `reporter.email`
/// → `email`.
fn form_field(api: &str) -> String {
    let base = api.split('[').next().unwrap_or(api);
    base.strip_prefix("reporter.").unwrap_or(base).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_and_addresses() {
        assert_eq!(form_field("urls[3]"), "urls");
        assert!(host_matches("*.shop.test", "www.shop.test"));
        assert!(
            !host_matches("*.shop.test", "shop.test") && !host_matches("*.shop.test", "xshop.test")
        );
        assert!(
            host_matches("shop.test", "shop.test") && !host_matches("shop.test", "a.shop.test")
        );
        assert_eq!(form_field("reporter.email"), "email");
        assert!(check_email("a@b.test"));
        assert!(!check_email("a b@c.test") && !check_email("@c.test") && !check_email("a@b"));
        let a: IpAddr = "2001:db8:1:2:3::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        assert_eq!(ip_key(a), ip_key(b));
        assert_ne!(
            ip_key("192.0.2.1".parse().unwrap()),
            ip_key("192.0.2.2".parse().unwrap())
        );
    }
}

#[cfg(test)]
mod category_tests {
    /// The store validates reports against its own list; the pages and
    /// messages read the config's. They must name the same categories.
    #[test]
    fn the_store_and_the_pages_know_the_same_categories() {
        let pages: Vec<&str> = rampart_config::ABUSE_CATEGORIES
            .iter()
            .map(|c| c.code)
            .collect();
        assert_eq!(pages, rampart_store::CATEGORIES.to_vec());
    }
}
