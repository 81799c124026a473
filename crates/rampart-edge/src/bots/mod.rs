//! Bot defence at the edge: clearance cookies, the challenge interstitial,
//! the weighted bot policy, verified good bots, and the captcha service,
//! all on `rampart_challenge`'s signed, stateless tokens.
//!
//! * [`BotState`] outlives snapshots: the node's fallback signing key, the
//!   spent set (single use of solved challenges and captcha tokens),
//!   siteverify's idempotency cache and verified bots' reverse-DNS answers.
//! * [`SiteBots`] is one site's compiled settings, in its `SiteSecurity`.
//! * [`page`] renders the interstitial; [`routes`] answers `/.rampart/`.

pub mod page;
pub mod policy;
pub mod rdns;
pub mod routes;
pub mod verified;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use http::HeaderMap;
use http::header::{COOKIE, USER_AGENT};
use rampart_challenge::captcha::{MapDirectory, Sitekey};
use rampart_challenge::{
    Algorithm, KeyError, KeyRing, LocalSpentSet, PowParams, PrefixPolicy, SigningKey, clearance,
};
use rampart_config::{ChallengeKey, ChallengeSettings, PowAlgorithm, SiteConfig, ThreatLevel};

/// Challenges and captcha tokens solved and not yet expired, per node.
const SPENT_CAPACITY: usize = 1 << 20;
/// Siteverify answers kept for idempotent retries.
const IDEMPOTENCY_CAPACITY: usize = 100_000;

/// Bot-defence state that must survive snapshot swaps.
pub struct BotState {
    /// Signs when the store has given no shared keys (tests, first start).
    own_key: SigningKey,
    pub spent: LocalSpentSet,
    /// The cluster's spent set (`[shared]`), asked after the local one.
    shared_spent: std::sync::OnceLock<rampart_shared::SharedSpentSet>,
    pub idempotency: rampart_challenge::captcha::IdempotencyCache,
    /// Verified bots' forward-confirmed reverse DNS: resolver and answers.
    pub rdns: rdns::Rdns,
}

impl BotState {
    pub fn new() -> Result<Self, KeyError> {
        Ok(Self {
            own_key: SigningKey::generate()?,
            spent: LocalSpentSet::new(SPENT_CAPACITY),
            shared_spent: std::sync::OnceLock::new(),
            idempotency: rampart_challenge::captcha::IdempotencyCache::new(IDEMPOTENCY_CAPACITY),
            rdns: rdns::Rdns::new(),
        })
    }

    /// Installs the cluster's spent set (once; later calls are ignored).
    pub fn set_shared_spent(&self, shared: rampart_shared::SharedSpentSet) {
        let _ = self.shared_spent.set(shared);
    }

    /// Confirms with the cluster's spent set an id the local set has just
    /// accepted (see [`rampart_challenge::Recorded`]). `false` only when
    /// another node redeemed it first. With no shared tier, or Redis not
    /// answering within `[shared] timeout`, the local set's word stands:
    /// nodes keep serving with per-node single use while Redis is down.
    pub async fn confirm_shared(&self, taken: Option<([u8; 16], u64)>) -> bool {
        let (Some(shared), Some((id, expires_at))) = (self.shared_spent.get(), taken) else {
            return true;
        };
        !matches!(
            shared.spend(id, expires_at).await,
            rampart_shared::SharedSpend::AlreadySpent
        )
    }

    /// Local then shared single use of `id`, for a two-step check such as
    /// siteverify's.
    pub async fn spend_everywhere(&self, id: [u8; 16], expires_at: u64, now: u64) -> bool {
        use rampart_challenge::SpentSet as _;
        self.spent.spend(id, expires_at, now) && self.confirm_shared(Some((id, expires_at))).await
    }

    /// The key ring of a snapshot: the store's two newest keys, or this
    /// node's own.
    pub fn ring(&self, keys: &[ChallengeKey]) -> KeyRing {
        let key = |k: &ChallengeKey| SigningKey {
            id: k.id,
            secret: k.secret,
        };
        match keys {
            [current, previous, ..] => KeyRing::new(key(current), Some(key(previous))),
            [current] => KeyRing::new(key(current), None),
            [] => KeyRing::new(self.own_key.clone(), None),
        }
    }
}

/// Unix seconds: the tokens' clock.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// One site's bot-defence settings, compiled.
pub struct SiteBots {
    /// The site string bound into its challenges and clearances.
    pub site: Arc<str>,
    /// Bound into clearances won without JavaScript: they pass low-threat
    /// challenges only.
    pub nojs_site: String,
    pub ring: Arc<KeyRing>,
    pub settings: ChallengeSettings,
    pub prefix: PrefixPolicy,
    pub policy: Option<policy::CompiledPolicy>,
    /// The site's captcha keys.
    pub captcha: MapDirectory,
    /// `[site.bots] challenge_feeds`: whether feed readers and
    /// `/.well-known/` (ACME renewals among them) are challenged under
    /// attack or by the bot policy. Default false: they cannot solve one.
    pub challenge_feeds: bool,
}

impl SiteBots {
    /// `owners`: which site each sitekey belongs to ([`CaptchaOwners`]).
    pub fn new(
        cfg: &SiteConfig,
        ring: Arc<KeyRing>,
        policy: Option<policy::CompiledPolicy>,
        owners: &CaptchaOwners,
    ) -> Self {
        let settings = cfg.security.challenge.clone();
        // The config already bounds both lengths; the default is only for
        // a value that slipped past it.
        let prefix =
            PrefixPolicy::new(settings.ip_prefix_v4, settings.ip_prefix_v6).unwrap_or_default();
        let captcha = MapDirectory::new(
            cfg.security
                .captcha
                .iter()
                .filter(|k| owners.owns(&cfg.name, &k.sitekey))
                .map(|k| sitekey_of(cfg, k))
                .chain([rampart_challenge::captcha::abuse_form_sitekey(false)]),
        );
        Self {
            site: cfg.name.as_str().into(),
            nojs_site: format!("{}#nojs", cfg.name),
            ring,
            settings,
            prefix,
            policy,
            captcha,
            challenge_feeds: cfg.security.bots.challenge_feeds,
        }
    }

    /// Proof-of-work parameters at `level`.
    pub fn params(&self, level: ThreatLevel) -> PowParams {
        PowParams {
            algorithm: algorithm(self.settings.algorithm),
            difficulty: self.settings.difficulty.at(level),
            ttl_secs: self.settings.ttl.as_secs().max(1),
        }
    }

    /// Feed readers and `/.well-known/` clients (ACME renewals among them)
    /// cannot solve a challenge: unless the site says otherwise, neither the
    /// bot policy nor under-attack mode challenges them.
    pub fn feed_exempt(&self, path: &str, headers: &HeaderMap) -> bool {
        !self.challenge_feeds && policy::is_feed_or_well_known(path, headers)
    }

    /// Whether the request carries a clearance of this site for this
    /// client: one MAC over the cookie, no store access.
    pub fn has_clearance(&self, headers: &HeaderMap, ip: IpAddr, now: u64) -> bool {
        self.check_clearance(headers, ip, now, &self.site)
    }

    /// A clearance won through the no-JavaScript fallback (low threat).
    pub fn has_nojs_clearance(&self, headers: &HeaderMap, ip: IpAddr, now: u64) -> bool {
        self.check_clearance(headers, ip, now, &self.nojs_site)
    }

    fn check_clearance(&self, headers: &HeaderMap, ip: IpAddr, now: u64, site: &str) -> bool {
        let ua = headers.get(USER_AGENT).map_or(&b""[..], |v| v.as_bytes());
        headers.get_all(COOKIE).iter().any(|cookie| {
            cookie.to_str().is_ok_and(|text| {
                text.contains(clearance::COOKIE_NAME)
                    && clearance::check_header(&self.ring, text, site, ip, &self.prefix, ua, now)
                        .is_ok()
            })
        })
    }
}

/// The site each sitekey belongs to. Sitekeys are public, so another
/// account could copy one into its own site; the first site (in the
/// configuration's order) that names a key owns it, and only that site can
/// mint tokens for it — otherwise tokens minted elsewhere would verify with
/// the owner's secret.
#[derive(Default)]
pub struct CaptchaOwners(std::collections::HashMap<String, String>);

impl CaptchaOwners {
    pub fn new(config: &rampart_config::Config) -> Self {
        let mut owners = std::collections::HashMap::new();
        for site in &config.sites {
            for key in &site.security.captcha {
                let owner = owners
                    .entry(key.sitekey.clone())
                    .or_insert_with(|| site.name.clone());
                if *owner != site.name {
                    tracing::warn!(site = %site.name, sitekey = %key.sitekey, owner = %owner, "captcha sitekey left out: another site already uses it");
                }
            }
        }
        Self(owners)
    }

    pub fn owns(&self, site: &str, sitekey: &str) -> bool {
        self.0.get(sitekey).is_some_and(|owner| owner == site)
    }
}

/// A site's captcha key as the verifier sees it: suspended also while the
/// whole site is suspended or legally blocked by a trust & safety decision.
pub fn sitekey_of(site: &SiteConfig, k: &rampart_config::CaptchaKey) -> Sitekey {
    let site_blocked = site.enforcement.iter().any(|e| {
        matches!(
            e.action,
            rampart_config::EnforcementAction::Suspend
                | rampart_config::EnforcementAction::LegalBlock { .. }
        )
    });
    Sitekey {
        sitekey: k.sitekey.clone(),
        secret_hash: k.secret_sha256,
        hostnames: k.hostnames.clone(),
        suspended: k.suspended || site_blocked,
    }
}

pub fn algorithm(a: PowAlgorithm) -> Algorithm {
    match a {
        PowAlgorithm::Sha256 => Algorithm::Sha256,
        PowAlgorithm::Scrypt { n_log2, r, p } => Algorithm::Scrypt { n_log2, r, p },
    }
}

/// The threat level a site's `security_level` gives managed challenges.
pub fn level_of(security: rampart_config::SecurityLevel) -> ThreatLevel {
    match security {
        rampart_config::SecurityLevel::Off | rampart_config::SecurityLevel::Low => ThreatLevel::Low,
        rampart_config::SecurityLevel::Medium => ThreatLevel::Medium,
        rampart_config::SecurityLevel::High => ThreatLevel::High,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rampart_config::{CaptchaKey, Enforcement, EnforcementAction};

    #[test]
    fn a_suspended_sites_sitekeys_stop_verifying() {
        let dir = std::env::temp_dir();
        let mut config = rampart_config::defaults(&dir);
        let text =
            "[[site]]\nname = \"s\"\nhosts = [\"s.test\"]\norigins = [\"http://127.0.0.1:9\"]\n";
        let parsed =
            rampart_config::parse_str(text, &dir.join("t.toml")).unwrap_or_else(|e| panic!("{e}"));
        config.sites = parsed.sites;
        let Some(site) = config.sites.first_mut() else {
            panic!("one site");
        };
        let key = CaptchaKey {
            sitekey: "rk_abcdefgh".into(),
            secret_sha256: [1; 32],
            hostnames: Vec::new(),
            mode: Default::default(),
            suspended: false,
        };
        assert!(!sitekey_of(site, &key).suspended);
        site.enforcement.push(Enforcement {
            decision_id: "d1".into(),
            reference: "R-1".into(),
            action: EnforcementAction::Suspend,
            category: "phishing".into(),
            decided_at: 0,
            appeal_url: None,
        });
        assert!(sitekey_of(site, &key).suspended);
        site.enforcement[0].action = EnforcementAction::Interstitial;
        assert!(
            !sitekey_of(site, &key).suspended,
            "a warning leaves the captcha working"
        );
    }
}
