//! The bot-defence settings of a site: how its challenge is priced
//! (`[site.challenge]`), which requests the bot policy weighs and what the
//! total weight leads to (`[site.bots]`), and its captcha keys
//! (`[[site.captcha]]` in the file; managed keys come from the store).
//! Node-wide: the verified good bots (`[[verified_bots]]`).

use std::time::Duration;

/// How suspicious the edge is of a request it challenges. Picks the
/// proof-of-work difficulty, and whether the no-JavaScript fallback may be
/// offered (low only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub enum ThreatLevel {
    Low,
    #[default]
    Medium,
    High,
}

impl ThreatLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
        }
    }

    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "low" => Ok(Self::Low),
            "medium" => Ok(Self::Medium),
            "high" => Ok(Self::High),
            other => Err(format!(
                "unknown threat level {other:?}; expected \"low\", \"medium\" or \"high\""
            )),
        }
    }
}

/// The proof-of-work function visitors' browsers compute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum PowAlgorithm {
    /// SHA-256 through WebCrypto: cheap for browsers, fine against scripts.
    #[default]
    Sha256,
    /// scrypt with memory `128 · r · 2^n_log2` bytes per hash: prices out
    /// GPU/ASIC solvers.
    Scrypt { n_log2: u8, r: u8, p: u8 },
}

impl PowAlgorithm {
    pub const DEFAULT_SCRYPT: Self = Self::Scrypt {
        n_log2: 10,
        r: 8,
        p: 1,
    };

    pub fn name(self) -> &'static str {
        match self {
            Self::Sha256 => "sha256",
            Self::Scrypt { .. } => "scrypt",
        }
    }

    /// Leading zero bits per threat level when the site names none. Measured
    /// in headless Chromium on a loaded two-core machine
    /// (`bench/results/challenge-solve-2026-11-28.md`): SHA-256 at 16, 18
    /// and 20 bits solve in a median 0.24, 0.30 and 0.62 s (medium keeps
    /// one visitor in ten under half a second); scrypt (N = 2^10, r = 8) at
    /// 3 and 5 bits in 0.23 and 0.32 s.
    pub fn default_difficulty(self) -> Difficulty {
        match self {
            Self::Sha256 => Difficulty {
                low: 16,
                medium: 18,
                high: 20,
            },
            Self::Scrypt { .. } => Difficulty {
                low: 3,
                medium: 5,
                high: 7,
            },
        }
    }

    /// The largest difficulty accepted: beyond it a browser would take
    /// minutes.
    pub fn max_difficulty(self) -> u8 {
        match self {
            Self::Sha256 => 26,
            Self::Scrypt { .. } => 12,
        }
    }
}

/// Leading zero bits required at each threat level; non-decreasing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Difficulty {
    pub low: u8,
    pub medium: u8,
    pub high: u8,
}

impl Difficulty {
    pub fn at(&self, level: ThreatLevel) -> u8 {
        match level {
            ThreatLevel::Low => self.low,
            ThreatLevel::Medium => self.medium,
            ThreatLevel::High => self.high,
        }
    }
}

/// `[site.challenge]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChallengeSettings {
    /// `algorithm = "sha256"` (default) or `"scrypt"`, with
    /// `scrypt = { n_log2 = 10, r = 8, p = 1 }`.
    pub algorithm: PowAlgorithm,
    /// `difficulty = 16` (medium; low and high two bits either side) or
    /// `difficulty = { low = 16, medium = 18, high = 20 }`.
    pub difficulty: Difficulty,
    /// `ttl`: how long an issued challenge may be solved. Default 5m.
    pub ttl: Duration,
    /// `clearance_ttl`: how long a passed challenge lasts. Default 30m.
    pub clearance_ttl: Duration,
    /// `ip_prefix = { v4 = 24, v6 = 64 }`: the client network a clearance
    /// is bound to.
    pub ip_prefix_v4: u8,
    pub ip_prefix_v6: u8,
    /// `nojs_fallback`: at low threat, browsers without JavaScript pass by a
    /// timed cookie round-trip. Default true.
    pub nojs_fallback: bool,
}

impl Default for ChallengeSettings {
    fn default() -> Self {
        Self {
            algorithm: PowAlgorithm::Sha256,
            difficulty: PowAlgorithm::Sha256.default_difficulty(),
            ttl: Duration::from_secs(300),
            clearance_ttl: Duration::from_secs(30 * 60),
            ip_prefix_v4: 24,
            ip_prefix_v6: 64,
            nojs_fallback: true,
        }
    }
}

/// What a total bot weight leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BotAction {
    Allow,
    /// A challenge at the given threat level (`"challenge"` with
    /// `level = …`; `"light"` is a low-threat challenge).
    Challenge(ThreatLevel),
    Block,
}

/// `[[site.bots.rules]]`: when `expression` matches, add `weight` (may be
/// negative) to the request's total.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BotRule {
    pub id: String,
    pub expression: String,
    pub weight: i32,
}

/// `[[site.bots.thresholds]]`: from `min_weight` up, take `action`. The
/// highest threshold not above the total wins; below every threshold, allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BotThreshold {
    pub min_weight: i32,
    pub action: BotAction,
}

/// `[site.bots]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BotPolicy {
    /// Default false: the policy runs only when the site turns it on.
    pub enabled: bool,
    pub rules: Vec<BotRule>,
    /// Sorted by `min_weight`.
    pub thresholds: Vec<BotThreshold>,
    /// `challenge_feeds`: also weigh RSS/Atom readers and `/.well-known/`.
    /// Default false: feed readers and well-known clients cannot solve
    /// challenges.
    pub challenge_feeds: bool,
}

impl Default for BotPolicy {
    fn default() -> Self {
        Self {
            enabled: false,
            rules: Vec::new(),
            thresholds: default_thresholds(),
            challenge_feeds: false,
        }
    }
}

/// Like Anubis's defaults: nothing suspicious passes, mild suspicion gets a
/// light check, more gets harder work.
pub fn default_thresholds() -> Vec<BotThreshold> {
    vec![
        BotThreshold {
            min_weight: 1,
            action: BotAction::Challenge(ThreatLevel::Low),
        },
        BotThreshold {
            min_weight: 10,
            action: BotAction::Challenge(ThreatLevel::Medium),
        },
        BotThreshold {
            min_weight: 20,
            action: BotAction::Challenge(ThreatLevel::High),
        },
    ]
}

impl BotPolicy {
    pub fn decide(&self, weight: i32) -> BotAction {
        self.thresholds
            .iter()
            .rev()
            .find(|t| weight >= t.min_weight)
            .map_or(BotAction::Allow, |t| t.action)
    }
}

/// A captcha sitekey of a site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaptchaKey {
    /// Public, in the widget's `data-sitekey`.
    pub sitekey: String,
    /// SHA-256 of the secret: the secret itself is never kept.
    pub secret_sha256: [u8; 32],
    /// Hosts the widget may run on; empty = any host of the site.
    pub hostnames: Vec<String>,
    /// "managed", "non-interactive" or "invisible": the widget's default.
    pub mode: CaptchaMode,
    /// A suspended key fails every verification with `sitekey-suspended`.
    pub suspended: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum CaptchaMode {
    #[default]
    Managed,
    NonInteractive,
    Invisible,
}

impl CaptchaMode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Managed => "managed",
            Self::NonInteractive => "non-interactive",
            Self::Invisible => "invisible",
        }
    }

    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "managed" => Ok(Self::Managed),
            "non-interactive" => Ok(Self::NonInteractive),
            "invisible" => Ok(Self::Invisible),
            other => Err(format!(
                "unknown captcha mode {other:?}; expected \"managed\", \"non-interactive\" or \"invisible\""
            )),
        }
    }
}

/// `[[verified_bots]]`: a crawler or monitor allowed through challenges
/// when its user agent says so AND its address proves it: inside `list`
/// (a named IP list of its published ranges) or, with `rdns`, its address's
/// reverse name ends in one of the suffixes and resolves back to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedBot {
    pub name: String,
    /// Case-insensitive substring of the User-Agent, e.g. "Googlebot".
    pub user_agent: String,
    pub list: Option<String>,
    /// e.g. ["googlebot.com", "google.com"].
    pub rdns: Vec<String>,
}

/// A challenge signing key (HMAC-SHA256). The newest signs; the one before
/// it is still accepted, so a rotation does not void clearances in flight.
#[derive(Clone, PartialEq, Eq)]
pub struct ChallengeKey {
    pub id: u32,
    pub secret: [u8; 32],
}

impl std::fmt::Debug for ChallengeKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChallengeKey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// Validation shared by the TOML walk and site specs.
pub(crate) mod checks {
    use super::*;

    pub(crate) const PREFIX_V4: std::ops::RangeInclusive<i64> = 8..=32;
    pub(crate) const PREFIX_V6: std::ops::RangeInclusive<i64> = 16..=128;
    pub(crate) const SCRYPT_N_LOG2: std::ops::RangeInclusive<i64> = 4..=16;
    pub(crate) const SCRYPT_R: std::ops::RangeInclusive<i64> = 1..=16;
    pub(crate) const SCRYPT_P: std::ops::RangeInclusive<i64> = 1..=4;
    pub(crate) const WEIGHT: std::ops::RangeInclusive<i64> = -1000..=1000;
    pub(crate) const CHALLENGE_TTL: std::ops::RangeInclusive<Duration> =
        Duration::from_secs(30)..=Duration::from_secs(3600);
    /// At most a day: signing keys rotate daily and only the previous key
    /// is still accepted, so a longer clearance would end early anyway.
    pub(crate) const CLEARANCE_TTL: std::ops::RangeInclusive<Duration> =
        Duration::from_secs(60)..=Duration::from_secs(24 * 3600);
    pub(crate) const MAX_BOT_RULES: usize = 200;
    pub(crate) const MAX_CAPTCHA_KEYS: usize = 20;

    pub(crate) fn algorithm(
        name: &str,
        scrypt: Option<(u8, u8, u8)>,
    ) -> Result<PowAlgorithm, String> {
        match name {
            "sha256" => Ok(PowAlgorithm::Sha256),
            "scrypt" => Ok(
                scrypt.map_or(PowAlgorithm::DEFAULT_SCRYPT, |(n_log2, r, p)| {
                    PowAlgorithm::Scrypt { n_log2, r, p }
                }),
            ),
            other => Err(format!(
                "unknown challenge algorithm {other:?}; expected \"sha256\" or \"scrypt\""
            )),
        }
    }

    /// A single number sets medium, with low and high two bits either side.
    pub(crate) fn difficulty_from_medium(medium: u8) -> Difficulty {
        Difficulty {
            low: medium.saturating_sub(2).max(1),
            medium,
            high: medium.saturating_add(2),
        }
    }

    pub(crate) fn difficulty(
        d: Difficulty,
        algorithm: PowAlgorithm,
        key: &str,
    ) -> Result<Difficulty, String> {
        let max = algorithm.max_difficulty();
        let mut d = d;
        // A medium set near the top may push high past it; clamp rather
        // than refuse a value the operator did not write.
        d.high = d.high.min(max);
        for (name, v) in [("low", d.low), ("medium", d.medium), ("high", d.high)] {
            if v == 0 || v > max {
                return Err(format!(
                    "`{key}.{name}` must be between 1 and {max} for {} (found {v})",
                    algorithm.name()
                ));
            }
        }
        if !(d.low <= d.medium && d.medium <= d.high) {
            return Err(format!(
                "`{key}`: low ({}) ≤ medium ({}) ≤ high ({}) is required",
                d.low, d.medium, d.high
            ));
        }
        Ok(d)
    }

    pub(crate) fn bot_action(action: &str, level: Option<&str>) -> Result<BotAction, String> {
        let level = level.map(ThreatLevel::parse).transpose()?;
        match (action, level) {
            ("allow", None) => Ok(BotAction::Allow),
            ("block", None) => Ok(BotAction::Block),
            ("light", None) => Ok(BotAction::Challenge(ThreatLevel::Low)),
            ("challenge", level) => Ok(BotAction::Challenge(level.unwrap_or_default())),
            ("allow" | "block" | "light", Some(_)) => Err(format!(
                "`level` applies to action \"challenge\" only, not {action:?}"
            )),
            (other, _) => Err(format!(
                "unknown bot action {other:?}; expected \"allow\", \"light\", \"challenge\" or \"block\""
            )),
        }
    }

    pub(crate) fn bot_action_parts(a: BotAction) -> (&'static str, Option<&'static str>) {
        match a {
            BotAction::Allow => ("allow", None),
            BotAction::Block => ("block", None),
            BotAction::Challenge(level) => ("challenge", Some(level.as_str())),
        }
    }

    /// `rk_` and 8 to 64 URL-safe characters.
    pub(crate) fn sitekey(s: &str) -> Result<(), String> {
        let body = s.strip_prefix("rk_").unwrap_or("");
        if (8..=64).contains(&body.len())
            && body
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            Ok(())
        } else {
            Err(format!(
                "sitekey {s:?} must be \"rk_\" followed by 8 to 64 letters, digits, '_' or '-'"
            ))
        }
    }

    /// At least 32 characters: it is the only thing standing between an
    /// attacker and forged verifications.
    pub(crate) fn secret(s: &str) -> Result<(), String> {
        if s.len() >= 32 && s.len() <= 256 && s.bytes().all(|b| b.is_ascii_graphic()) {
            Ok(())
        } else {
            Err("captcha secret must be 32 to 256 printable characters (generate one with `openssl rand -base64 32`)".to_string())
        }
    }

    pub(crate) fn secret_sha256(secret: &str) -> [u8; 32] {
        use sha2::Digest;
        sha2::Sha256::digest(secret.as_bytes()).into()
    }
}
