//! The compiled, immutable view of the configuration that the data plane
//! reads. Built off the request path, swapped atomically; requests in flight
//! keep the snapshot they started with.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use http::HeaderValue;
use http::uri::{Authority, Scheme};
use rampart_config::{
    Config, DosConfig, HostPattern, OriginConfig, PageTemplates, SiteConfig, Timeouts,
};
use rustls::sign::CertifiedKey;

use crate::client_addr::TrustedProxies;
use crate::metrics::{Metrics, SiteMetrics};
use crate::routing::HostMap;
use crate::security::SecurityState;
use crate::security::compile::{SharedSecurity, SiteSecurity};
use crate::tls::{TlsError, certified_key};
use crate::upstream::{
    ClientKey, HealthKey, Origin, OriginKey, Upstream, origin_client, spawn_health_check,
};

pub struct Site {
    pub name: Arc<str>,
    pub upstream: Upstream,
    pub https_redirect: bool,
    pub hsts: Option<HeaderValue>,
    pub timeouts: Timeouts,
    pub retries: u32,
    pub pages: PageTemplates,
    pub metrics: Arc<SiteMetrics>,
    /// Rules, rate limits, request limits, under-attack settings.
    pub security: SiteSecurity,
    /// Trust & safety decisions in force.
    pub enforcement: crate::enforcement::SiteEnforcement,
    /// The compiled WAF; `None` when the site's WAF is off.
    pub waf: Option<Arc<crate::waf::SiteWaf>>,
}

pub struct Snapshot {
    pub version: u64,
    /// The challenge and captcha key ring every site of this snapshot uses.
    pub ring: Arc<rampart_challenge::KeyRing>,
    pub sites: Vec<Site>,
    /// Host → index into `sites`.
    pub hosts: HostMap<usize>,
    /// SNI name → certificate of the site that declares it.
    pub certs: HostMap<Arc<CertifiedKey>>,
    pub trusted_proxies: TrustedProxies,
    pub timeouts: Timeouts,
    /// No site configured: every host gets the welcome page.
    pub welcome: bool,
    pub config_source: Option<String>,
    /// Port of the HTTPS listener, for building redirects.
    pub https_port: Option<u16>,
    /// Metrics bucket for requests that matched no site.
    pub unrouted_metrics: Arc<SiteMetrics>,
    /// `[dos]`: body rate, send timeout, HTTP/2 streams, origin cap.
    pub dos: DosConfig,
    /// Every site's captcha keys: siteverify finds the key by its secret.
    pub captcha_keys: rampart_challenge::captcha::MapDirectory,
    /// `[[verified_bots]]`.
    pub verified_bots: crate::bots::verified::VerifiedBots,
}

impl Snapshot {
    pub fn site_for_host(&self, host: &str) -> Option<&Site> {
        self.hosts.lookup(host).and_then(|i| self.sites.get(*i))
    }

    /// The site named `name` (a linear scan: for the dashboard, not requests).
    pub fn site_named(&self, name: &str) -> Option<&Site> {
        self.sites.iter().find(|s| &*s.name == name)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("site \"{site}\": {source}")]
    Certificate { site: String, source: TlsError },
    #[error("site \"{site}\": origin {origin} is not a usable URL")]
    Origin { site: String, origin: String },
    #[error("rate limiter: {0}")]
    Limits(#[from] rampart_limits::LimitsError),
    #[error("{0}")]
    GeoIp(#[from] crate::geoip::GeoIpError),
    #[error("challenge signing key: {0}")]
    ChallengeKey(#[from] rampart_challenge::KeyError),
    #[error("{0}")]
    Waf(#[from] crate::waf::WafBuildError),
}

/// Long-lived parts a snapshot build draws on and reuses.
pub struct BuildContext<'a> {
    pub metrics: &'a Metrics,
    pub origins: &'a Mutex<HashMap<OriginKey, Weak<Origin>>>,
    pub security: &'a SecurityState,
    pub bots: &'a crate::bots::BotState,
    pub waf: &'a crate::waf::WafCache,
}

pub fn build(
    config: &Config,
    version: u64,
    ctx: &BuildContext<'_>,
) -> Result<Snapshot, BuildError> {
    let mut hosts = HostMap::default();
    let mut certs = HostMap::default();
    let mut sites = Vec::with_capacity(config.sites.len());
    let mut registry = ctx.origins.lock().unwrap_or_else(|e| e.into_inner());
    registry.retain(|_, weak| weak.strong_count() > 0);
    let shared_security = SharedSecurity::new(config);
    let ring = Arc::new(ctx.bots.ring(&config.challenge_keys));
    let mut waf = ctx.waf.build(&config.waf);

    for (index, site_cfg) in config.sites.iter().enumerate() {
        for pattern in &site_cfg.hosts {
            hosts.insert(pattern, index);
        }
        if let Some(tls) = &site_cfg.tls {
            let key = certified_key(
                tls.chain.clone(),
                &tls.key,
                &format!("site {}", site_cfg.name),
            )
            .map_err(|source| BuildError::Certificate {
                site: site_cfg.name.clone(),
                source,
            })?;
            for pattern in &site_cfg.hosts {
                certs.insert(pattern, key.clone());
            }
        }
        sites.push(build_site(
            site_cfg,
            ctx,
            &mut registry,
            &shared_security,
            &ring,
            &mut waf,
        )?);
    }

    Ok(Snapshot {
        version,
        ring: ring.clone(),
        sites,
        hosts,
        certs,
        trusted_proxies: TrustedProxies::new(config.proxy.trusted_proxies.clone()),
        timeouts: config.proxy.timeouts,
        welcome: config.sites.is_empty(),
        config_source: config.source.as_ref().map(|p| p.display().to_string()),
        https_port: config.listen.https.as_ref().map(|l| l.addr.port()),
        unrouted_metrics: ctx.metrics.site("_unrouted"),
        dos: config.dos,
        captcha_keys: rampart_challenge::captcha::MapDirectory::new(config.sites.iter().flat_map(
            |s| {
                s.security
                    .captcha
                    .iter()
                    .filter(|k| shared_security.captcha_owners.owns(&s.name, &k.sitekey))
                    .map(|k| crate::bots::sitekey_of(s, k))
            },
        )),
        verified_bots: crate::bots::verified::VerifiedBots::new(config),
    })
}

fn build_site(
    cfg: &SiteConfig,
    ctx: &BuildContext<'_>,
    registry: &mut HashMap<OriginKey, Weak<Origin>>,
    shared_security: &SharedSecurity,
    ring: &Arc<rampart_challenge::KeyRing>,
    waf: &mut crate::waf::WafBuild<'_>,
) -> Result<Site, BuildError> {
    let health_host = cfg
        .health
        .as_ref()
        .and_then(|h| h.host.clone())
        .or_else(|| {
            cfg.hosts.iter().find_map(|h| match h {
                HostPattern::Exact(name) => Some(name.clone()),
                HostPattern::Wildcard(_) => None,
            })
        })
        .unwrap_or_else(|| "localhost".to_string());

    let mut origins = Vec::with_capacity(cfg.origins.len());
    for origin_cfg in &cfg.origins {
        let client_key = ClientKey {
            protocol: origin_cfg.protocol,
            verify_tls: cfg.origin_tls_verify,
            connect_timeout: cfg.timeouts.connect,
        };
        let health = cfg
            .health
            .as_ref()
            .map(|h| HealthKey::new(h, health_host.clone()));
        let key = OriginKey {
            site: cfg.name.clone(),
            url: origin_cfg.url.to_string(),
            client: client_key,
            health: health.clone(),
            weight: origin_cfg.weight,
        };
        if let Some(existing) = registry.get(&key).and_then(Weak::upgrade) {
            origins.push(existing);
            continue;
        }
        let origin = Arc::new(new_origin(cfg, origin_cfg, ctx, &client_key)?);
        if let Some(health) = health {
            spawn_health_check(&origin, health);
        }
        registry.insert(key, Arc::downgrade(&origin));
        origins.push(origin);
    }

    let hsts = cfg.hsts.as_ref().and_then(|h| {
        let mut value = format!("max-age={}", h.max_age.as_secs());
        if h.include_subdomains {
            value.push_str("; includeSubDomains");
        }
        if h.preload {
            value.push_str("; preload");
        }
        HeaderValue::from_str(&value).ok()
    });

    Ok(Site {
        name: cfg.name.as_str().into(),
        upstream: Upstream::new(origins, cfg.lb),
        https_redirect: cfg.https_redirect,
        hsts,
        timeouts: cfg.timeouts,
        retries: cfg.retries,
        pages: cfg.pages.clone(),
        metrics: ctx.metrics.site(&cfg.name),
        enforcement: crate::enforcement::SiteEnforcement::new(&cfg.enforcement),
        security: shared_security.site(cfg, ctx.security.site_attack(&cfg.name), ring.clone()),
        waf: waf.site(cfg)?,
    })
}

fn new_origin(
    site: &SiteConfig,
    origin: &OriginConfig,
    ctx: &BuildContext<'_>,
    client_key: &ClientKey,
) -> Result<Origin, BuildError> {
    let bad = || BuildError::Origin {
        site: site.name.clone(),
        origin: origin.url.to_string(),
    };
    let scheme: Scheme = origin.url.scheme().cloned().ok_or_else(bad)?;
    let authority: Authority = origin.url.authority().cloned().ok_or_else(bad)?;
    let label: Arc<str> = format!("{scheme}://{authority}").into();
    let client = origin_client(client_key, &scheme, &authority);
    Ok(Origin::new(
        label.clone(),
        scheme,
        authority,
        origin.weight,
        origin.protocol,
        client,
        ctx.metrics.origin(&site.name, &label),
    ))
}
