//! Verified good bots (`[[verified_bots]]`): a request whose User-Agent
//! claims a known crawler or monitor is believed only when its address
//! proves it — inside the bot's published ranges (a named IP list) or, by
//! forward-confirmed reverse DNS, named under one of its domains (see
//! [`super::rdns`] for the lookups, their cache and why a request may wait
//! for one). Believed requests get `rampart.bot.verified` and are never
//! challenged.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::net::IpAddr;
use std::sync::Arc;

use rampart_config::{Config, DnsConfig, ListScope};
use rampart_rules::IpList;

use super::rdns::{self, Answer, Rdns};

pub struct VerifiedBot {
    pub name: Arc<str>,
    /// Lowercased, matched as a substring of the lowercased User-Agent.
    user_agent: String,
    ranges: Option<Arc<IpList>>,
    /// Reverse-DNS suffixes (without leading dot, lowercase).
    pub rdns: Vec<String>,
    /// Fingerprint of `rdns`: the reverse-DNS cache's answers hold for
    /// one set of suffixes, across snapshots.
    rdns_key: u64,
}

#[derive(Default)]
pub struct VerifiedBots {
    bots: Vec<VerifiedBot>,
    /// `[dns]`: whom reverse-DNS verification asks.
    dns: DnsConfig,
}

impl VerifiedBots {
    pub fn new(config: &Config) -> Self {
        let bots = config
            .verified_bots
            .iter()
            .map(|b| VerifiedBot {
                name: b.name.as_str().into(),
                user_agent: b.user_agent.to_ascii_lowercase(),
                ranges: b.list.as_ref().and_then(|name| {
                    config
                        .lists
                        .iter()
                        .find(|l| l.scope == ListScope::Operator && &l.name == name)
                        .map(|l| l.entries.clone())
                }),
                rdns: b.rdns.clone(),
                rdns_key: fingerprint(&b.rdns),
            })
            .collect();
        Self {
            bots,
            dns: config.dns.clone(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.bots.is_empty()
    }

    /// The bot the User-Agent claims to be, if any.
    pub fn claimed(&self, user_agent: &[u8]) -> Option<&VerifiedBot> {
        if self.bots.is_empty() || user_agent.is_empty() {
            return None;
        }
        self.bots
            .iter()
            .find(|b| contains_ignore_case(user_agent, b.user_agent.as_bytes()))
    }
}

impl VerifiedBot {
    /// Whether `ip` is in the bot's published ranges.
    pub fn in_ranges(&self, ip: IpAddr) -> bool {
        self.ranges.as_ref().is_some_and(|r| r.contains(ip))
    }

    /// Whether a reverse name (from PTR) is under one of the bot's domains.
    pub fn name_matches(&self, host: &str) -> bool {
        rdns::under(host, &self.rdns)
    }
}

/// Whether the request comes from a verified bot: by its published ranges
/// at once; by reverse DNS from the cache, or after a lookup bounded by
/// [`rdns::BUDGET`] when the address has no answer yet. Requests whose
/// User-Agent claims no rdns-verified bot never wait.
pub async fn check(
    bots: &VerifiedBots,
    rdns: &Rdns,
    headers: &http::HeaderMap,
    ip: IpAddr,
) -> bool {
    if bots.is_empty() {
        return false;
    }
    let ua = headers
        .get(http::header::USER_AGENT)
        .map_or(&b""[..], |v| v.as_bytes());
    let Some(bot) = bots.claimed(ua) else {
        return false;
    };
    if bot.in_ranges(ip) {
        return true;
    }
    if bot.rdns.is_empty() {
        return false;
    }
    let key = rdns::Key {
        ip,
        suffixes: bot.rdns_key,
    };
    match rdns.verify(&bots.dns, key, &bot.rdns) {
        Answer::Now(verified) => verified,
        Answer::Later(wait) => wait.await,
    }
}

fn fingerprint(suffixes: &[String]) -> u64 {
    let mut h = DefaultHasher::new();
    suffixes.hash(&mut h);
    h.finish()
}

fn contains_ignore_case(haystack: &[u8], needle_lower: &[u8]) -> bool {
    if needle_lower.is_empty() || needle_lower.len() > haystack.len() {
        return needle_lower.is_empty();
    }
    haystack.windows(needle_lower.len()).any(|w| {
        w.iter()
            .zip(needle_lower)
            .all(|(a, b)| a.to_ascii_lowercase() == *b)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bot(rdns: &[&str]) -> VerifiedBot {
        VerifiedBot {
            name: "googlebot".into(),
            user_agent: "googlebot".into(),
            ranges: None,
            rdns: rdns.iter().map(|s| s.to_string()).collect(),
            rdns_key: 0,
        }
    }

    #[test]
    fn reverse_names_must_be_under_a_listed_domain() {
        let b = bot(&["googlebot.com", "google.com"]);
        assert!(b.name_matches("crawl-66-249-66-1.googlebot.com."));
        assert!(b.name_matches("GOOGLE.com"));
        assert!(!b.name_matches("evilgooglebot.com"));
        assert!(!b.name_matches("googlebot.com.evil.test"));
    }

    #[test]
    fn user_agents_match_without_case() {
        let bots = VerifiedBots {
            bots: vec![bot(&[])],
            dns: DnsConfig::default(),
        };
        let ua = b"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)";
        assert!(bots.claimed(ua).is_some());
        assert!(bots.claimed(b"curl/8").is_none());
        assert!(bots.claimed(b"").is_none());
    }
}
