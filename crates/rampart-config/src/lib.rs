//! Rampart's node and site configuration: TOML in, typed and validated values out.
//!
//! Loading never stops at the first problem: the document is parsed into a
//! spanned tree and walked completely, so `check-config` can print every
//! mistake as `FILE:LINE:COL: message` in one go.
//!
//! Sites also arrive as JSON from the admin API and the store: a `SiteSpec`
//! is compiled by `compile_site` into the same `SiteConfig` under the same
//! rules, with each problem addressed by its JSON field instead of a position.
#![forbid(unsafe_code)]
// Config text is untrusted input: no code path may panic on it.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic,
        clippy::unreachable
    )
)]

mod challenge;
mod challenge_toml;
mod diagnostics;
mod document;
mod enforcement;
mod files;
mod model;
mod node_security;
mod notify;
mod rules;
mod security;
mod security_checks;
mod security_toml;
mod shared;
mod site;
mod spec;
mod tree;
mod values;
mod waf;
mod waf_toml;

use std::path::Path;

pub use challenge::*;
pub use diagnostics::{ConfigErrors, Diagnostic};
pub use enforcement::*;
pub use model::*;
pub use notify::{NotifyConfig, SmtpSecurity, SmtpServer, is_plain_address};
pub use security::*;
pub use shared::{
    DEFAULT_SYNC_INTERVAL, DEFAULT_TIMEOUT, RedisKind, RedisTarget, SharedConfig, parse_redis_url,
};
pub use spec::{
    AutoUnderAttackSpec, BodyLimitSpec, FieldError, HealthSpec, HstsSpec, LimitsSpec,
    OriginDetails, OriginSpec, PagesSpec, RateLimitSpec, RuleSpec, SiteSpec, TimeoutsSpec, TlsSpec,
    WafExclusionSpec, WafSpec, compile_file_site_with_lists, compile_site, compile_site_with_lists,
};
pub use spec::{
    BotRuleSpec, BotsSpec, CaptchaKeySpec, ChallengeSpec, DifficultySpec, IpPrefixSpec, ScryptSpec,
    ThresholdSpec, hex_string,
};
pub use waf::checks::{
    body_limit_action_str as waf_body_limit_action_str, mode_str as waf_mode_str,
};
pub use waf::{BodyLimitAction, WafExclusion, WafMode, WafNodeConfig, WafSettings};

/// Reads and validates a configuration file. An unreadable file is a single
/// diagnostic at 1:1.
pub fn load_file(path: &Path) -> Result<Config, ConfigErrors> {
    let bytes = std::fs::read(path).map_err(|e| {
        ConfigErrors::at_start(
            path,
            format!("cannot read config file {}: {e}", path.display()),
        )
    })?;
    match std::str::from_utf8(&bytes) {
        Ok(text) => parse_str(text, path),
        Err(e) => {
            // Point at the bad byte: everything before it is valid UTF-8.
            let valid = bytes.get(..e.valid_up_to()).unwrap_or_default();
            let text = String::from_utf8_lossy(valid);
            let (line, col) = diagnostics::LineIndex::new(&text).position(text.len());
            Err(ConfigErrors {
                diagnostics: vec![Diagnostic {
                    file: path.to_path_buf(),
                    line,
                    col,
                    message: "config file is not valid UTF-8".to_owned(),
                }],
            })
        }
    }
}

/// Parses and validates configuration text. `path` names the file in
/// diagnostics, and relative paths inside the configuration resolve against
/// its parent directory.
pub fn parse_str(text: &str, path: &Path) -> Result<Config, ConfigErrors> {
    document::parse(text, path)
}

/// The configuration used when there is no config file: HTTP on
/// 127.0.0.1:8080, HTTPS on 127.0.0.1:8443, admin on 127.0.0.1:9090, data in
/// `base_dir/rampart-data`, access log to stdout, the embedded store, no sites.
pub fn defaults(base_dir: &Path) -> Config {
    Config {
        source: None,
        node: document::default_node(base_dir),
        listen: document::default_listen(),
        log: LogConfig {
            access: AccessLogTarget::Stdout,
        },
        proxy: document::default_proxy(),
        store: StoreConfig::default(),
        shared: None,
        admin: AdminConfig::default(),
        analytics: AnalyticsConfig::default(),
        notify: NotifyConfig::default(),
        geoip: GeoipConfig::default(),
        dos: DosConfig::default(),
        dns: DnsConfig::default(),
        waf: WafNodeConfig::default(),
        rules: Vec::new(),
        lists: Vec::new(),
        verified_bots: Vec::new(),
        challenge_keys: Vec::new(),
        sites: Vec::new(),
    }
}
