//! Sites as JSON documents: the shape the admin API accepts and the store
//! keeps. A `SiteSpec` is what a user wrote, unvalidated; `compile_site`
//! turns it into the same `SiteConfig` a `[[site]]` table becomes, applying
//! the same rules (`rules.rs`, `values.rs`, `files.rs`), and reports every
//! problem with the JSON path of the field so the API can answer 422.

mod challenge;
mod compile;
mod security;
mod security_specs;
mod waf;

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

use crate::files;
use crate::model::{OriginConfig, PageTemplates, SiteConfig};
use crate::rules;
use crate::values::{self, format_duration};

pub use challenge::{
    BotRuleSpec, BotsSpec, CaptchaKeySpec, ChallengeSpec, DifficultySpec, IpPrefixSpec, ScryptSpec,
    ThresholdSpec, hex as hex_string,
};
pub use compile::{compile_file_site_with_lists, compile_site, compile_site_with_lists};
pub use security::{AutoUnderAttackSpec, BodyLimitSpec, LimitsSpec, RateLimitSpec, RuleSpec};
pub use waf::{WafExclusionSpec, WafSpec};

/// One site as JSON. Optional fields take the same defaults as the TOML
/// file; enum-like values and durations are strings so that a bad one is a
/// `FieldError` naming the field rather than a deserialisation failure.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SiteSpec {
    /// `[a-z0-9][a-z0-9_-]*`, at most 63 bytes.
    pub name: String,
    /// Exact names, `*.suffix` wildcards or IP literals; at least one.
    pub hosts: Vec<String>,
    /// At least one.
    pub origins: Vec<OriginSpec>,
    /// "round_robin" (default), "least_outstanding", "ip_hash".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lb: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<HealthSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsSpec>,
    /// Default false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub https_redirect: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hsts: Option<HstsSpec>,
    /// Default true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin_tls_verify: Option<bool>,
    /// 0 to 10, default 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retries: Option<u32>,
    /// Merged over the node's `[proxy] timeouts`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeouts: Option<TimeoutsSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pages: Option<PagesSpec>,
    /// "off", "low", "medium" (default), "high".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_level: Option<String>,
    /// Default false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub under_attack: Option<bool>,
    /// Custom rules in evaluation order; at most 1,000.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rules: Option<Vec<RuleSpec>>,
    /// At most 100.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limits: Option<Vec<RateLimitSpec>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<LimitsSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_under_attack: Option<AutoUnderAttackSpec>,
    /// Proof-of-work algorithm, difficulty per threat level, lifetimes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub challenge: Option<ChallengeSpec>,
    /// The weighted bot policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bots: Option<BotsSpec>,
    /// Captcha sitekeys (secrets as SHA-256 only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub captcha_keys: Option<Vec<CaptchaKeySpec>>,
    /// The WAF (OWASP CRS): mode, paranoia, thresholds, body limit,
    /// exclusions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waf: Option<WafSpec>,
}

/// `"http://127.0.0.1:9001"` or `{"url": "…", "weight": 2, "protocol": "http2"}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum OriginSpec {
    Url(String),
    Detailed(OriginDetails),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OriginDetails {
    pub url: String,
    /// 1 to 1000, default 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<u32>,
    /// "http1" (default for http://), "http2", "auto" (default for https://).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HealthSpec {
    /// Must start with '/'. Default "/".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Default "5s".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<String>,
    /// Default "2s"; not longer than the interval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
    /// 1 to 1000, default 2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rise: Option<u32>,
    /// 1 to 1000, default 3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fall: Option<u32>,
    /// Host header for checks; default: the site's first exact host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
}

/// A certificate chain and its private key as PEM text.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TlsSpec {
    /// The leaf certificate first, then intermediates.
    pub cert_pem: String,
    pub key_pem: String,
}

// Specs get logged with `{:?}` when something goes wrong; the key must not.
impl fmt::Debug for TlsSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsSpec")
            .field("cert_pem", &self.cert_pem)
            .field("key_pem", &format_args!("<{} bytes>", self.key_pem.len()))
            .finish()
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HstsSpec {
    /// Default "365d".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_age: Option<String>,
    /// Default false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include_subdomains: Option<bool>,
    /// Default false; needs `include_subdomains` and a max_age of at least 365d.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preload: Option<bool>,
}

/// Durations such as "5s"; each absent one is the node-wide value.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TimeoutsSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connect: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_header: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin_response: Option<String>,
}

/// Template text (not file names); placeholders as in `PageTemplates`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PagesSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_found: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bad_gateway: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_unavailable: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway_timeout: Option<String>,
}

/// One problem in a spec, for a 422 response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    /// JSON path of the offending value: "name", "hosts[0]",
    /// "origins[1].url", "health.interval", "tls.key_pem".
    pub field: String,
    /// Stable, for programs: "required" (missing or empty), "invalid"
    /// (malformed or unknown value), "out_of_range" (a number or duration
    /// outside its limits, or a health timeout longer than its interval),
    /// "duplicate" (listed twice in the site), "too_long" (name, PEM, page
    /// or description over its size limit, more rules than allowed),
    /// "key_mismatch" (the key is not the certificate's), "unknown_list"
    /// (an expression names a `$list` the site cannot see).
    pub code: &'static str,
    /// For people: what is wrong and how to write it instead.
    pub message: String,
}

// Hand-written instead of `#[serde(untagged)]`: an untagged enum only says
// "data did not match any variant", which hides a misspelt origin key.
impl<'de> Deserialize<'de> for OriginSpec {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = OriginSpec;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(
                    "a URL string or an object {\"url\": …, \"weight\": …, \"protocol\": …}",
                )
            }

            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<OriginSpec, E> {
                Ok(OriginSpec::Url(s.to_owned()))
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<OriginSpec, A::Error> {
                OriginDetails::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    .map(OriginSpec::Detailed)
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

impl OriginSpec {
    /// The URL as written, whichever form the origin takes.
    pub fn url(&self) -> &str {
        match self {
            Self::Url(url) => url,
            Self::Detailed(d) => &d.url,
        }
    }
}

impl SiteSpec {
    /// The spec of a site loaded from the TOML file, for provisioning file
    /// sites into the store: every setting written out explicitly (the
    /// timeouts in full, so the site keeps them whatever the node defaults
    /// become), TLS chain and key re-encoded as PEM, page templates as text.
    /// `compile_site` of the result gives `site` back, apart from
    /// `tls.source`.
    pub fn from_config(site: &SiteConfig) -> SiteSpec {
        let health = site.health.as_ref().map(|h| HealthSpec {
            path: Some(h.path.clone()),
            interval: Some(format_duration(h.interval)),
            timeout: Some(format_duration(h.timeout)),
            rise: Some(h.rise),
            fall: Some(h.fall),
            // The default follows the hosts; writing it out would pin it to
            // today's first host if the hosts are edited later.
            host: h
                .host
                .clone()
                .filter(|host| Some(host) != rules::default_health_host(&site.hosts).as_ref()),
        });
        let t = &site.timeouts;
        let security = security_specs::to_specs(&site.security);
        SiteSpec {
            name: site.name.clone(),
            hosts: site.hosts.iter().map(ToString::to_string).collect(),
            origins: site.origins.iter().map(origin_spec).collect(),
            lb: Some(site.lb.as_str().to_owned()),
            health,
            tls: site.tls.as_ref().map(|tls| TlsSpec {
                cert_pem: files::certs_to_pem(&tls.chain),
                key_pem: files::key_to_pem(&tls.key),
            }),
            https_redirect: Some(site.https_redirect),
            hsts: site.hsts.map(|h| HstsSpec {
                max_age: Some(format_duration(h.max_age)),
                include_subdomains: Some(h.include_subdomains),
                preload: Some(h.preload),
            }),
            origin_tls_verify: Some(site.origin_tls_verify),
            retries: Some(site.retries),
            timeouts: Some(TimeoutsSpec {
                connect: Some(format_duration(t.connect)),
                request_header: Some(format_duration(t.request_header)),
                idle: Some(format_duration(t.idle)),
                origin_response: Some(format_duration(t.origin_response)),
            }),
            pages: pages_spec(&site.pages),
            security_level: Some(site.security_level.as_str().to_owned()),
            under_attack: Some(site.under_attack),
            rules: security.rules,
            rate_limits: security.rate_limits,
            limits: security.limits,
            auto_under_attack: security.auto_under_attack,
            challenge: challenge::challenge_spec(&site.security.challenge),
            bots: challenge::bots_spec(&site.security.bots),
            captcha_keys: challenge::captcha_specs(&site.security.captcha),
            waf: waf::waf_spec(&site.security.waf),
        }
    }

    /// Host patterns as the store keeps them for conflict checks between
    /// sites: lowercase, wildcards as "*.suffix", IPv6 without brackets,
    /// without repeats. A host that does not parse is kept lowercased as
    /// written, so a spec that fails validation still gets a usable answer.
    pub fn normalized_hosts(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::with_capacity(self.hosts.len());
        for raw in &self.hosts {
            let host = values::parse_host_pattern(raw)
                .map_or_else(|_| raw.to_ascii_lowercase(), |h| h.to_string());
            if !out.contains(&host) {
                out.push(host);
            }
        }
        out
    }
}

/// The short string form when weight and protocol are the defaults.
fn origin_spec(o: &OriginConfig) -> OriginSpec {
    let scheme = o.url.scheme_str().unwrap_or("http");
    let authority = o.url.authority().map_or("", |a| a.as_str());
    let url = format!("{scheme}://{authority}");
    if o.weight == 1 && o.protocol == rules::default_protocol(scheme == "https") {
        OriginSpec::Url(url)
    } else {
        OriginSpec::Detailed(OriginDetails {
            url,
            weight: Some(o.weight),
            protocol: Some(o.protocol.as_str().to_owned()),
        })
    }
}

fn pages_spec(p: &PageTemplates) -> Option<PagesSpec> {
    if *p == PageTemplates::default() {
        return None;
    }
    Some(PagesSpec {
        not_found: p.not_found.clone(),
        bad_gateway: p.bad_gateway.clone(),
        service_unavailable: p.service_unavailable.clone(),
        gateway_timeout: p.gateway_timeout.clone(),
    })
}
