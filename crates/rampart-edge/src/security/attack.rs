//! Under-attack mode: manual (`under_attack = true`) or automatic, when a
//! site's request rate jumps far above its learned baseline
//! ([`BaselineDetector`]).
//!
//! # What the mode does until challenges exist
//!
//! Under attack, every client without a clearance (today: every client,
//! since nobody can pass a challenge yet) is held to a strict implicit
//! limit of [`IMPLICIT_REQUESTS`] requests per [`IMPLICIT_PERIOD`] per
//! address, answered with 429 and `Retry-After`. That keeps a browsing
//! person working (a page and its assets, then reading) while a flood from
//! one address is cut to two requests a second. When challenges land, the
//! mode will challenge instead and cleared clients will skip this limit.
//!
//! # Detection
//!
//! Each site counts its requests in an atomic; a task ticks once a second,
//! feeds each site's count to its detector, and logs transitions (tracing,
//! info) and keeps the last [`MAX_SWITCHES`] in a ring for the dashboard.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use rampart_config::AutoUnderAttack;
use rampart_limits::{
    Action, BaselineConfig, BaselineDetector, Counting, LimitRule, Millis, Transition,
};

/// The implicit per-address limit under attack: requests per period.
pub const IMPLICIT_REQUESTS: u32 = 20;
pub const IMPLICIT_PERIOD: Duration = Duration::from_secs(10);
/// Transitions kept for the dashboard.
pub const MAX_SWITCHES: usize = 64;

/// The implicit limit as a rule for the limiter.
pub const IMPLICIT_LIMIT: LimitRule = LimitRule {
    period: IMPLICIT_PERIOD,
    requests: IMPLICIT_REQUESTS,
    mitigation_timeout: IMPLICIT_PERIOD,
    action: Action::Block,
    counting: Counting::EveryRequest,
};

/// The id the implicit limit is logged and counted under.
pub const IMPLICIT_RULE_ID: &str = "under_attack";

/// A site's under-attack state, as the dashboard and metrics see it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct UnderAttackStatus {
    /// `under_attack = true` in the site's settings.
    pub manual: bool,
    /// Automatic detection is on for the site.
    pub auto_enabled: bool,
    /// The detector currently says the site is under attack.
    pub auto_active: bool,
    /// When the automatic mode last switched on (while it is on).
    pub since_unix_ms: Option<u64>,
    /// Learned normal rate, requests per second.
    pub baseline_rps: f64,
    /// Recent rate (over about the site's `window`, default 30 s),
    /// requests per second.
    pub current_rps: f64,
}

impl UnderAttackStatus {
    /// Whether the site is in under-attack mode by either cause.
    pub fn active(&self) -> bool {
        self.manual || self.auto_active
    }
}

/// One automatic switch, for the dashboard's list of recent events.
#[derive(Debug, Clone, PartialEq)]
pub struct AttackSwitch {
    pub site: String,
    /// `true`: the attack started; `false`: it ended.
    pub started: bool,
    pub at_unix_ms: u64,
    pub baseline_rps: f64,
    pub current_rps: f64,
}

struct Detector {
    settings: AutoUnderAttack,
    detector: BaselineDetector,
}

/// Per site, kept across snapshots (by site name) so that the learned
/// baseline and an ongoing attack survive reloads.
#[derive(Default)]
pub struct SiteAttack {
    /// Requests since the last tick.
    requests: AtomicU64,
    active: AtomicBool,
    since_unix_ms: AtomicU64,
    baseline_bits: AtomicU64,
    current_bits: AtomicU64,
    detector: Mutex<Option<Detector>>,
}

impl SiteAttack {
    /// Counts one request (every routed request, blocked ones too: the load
    /// is what is measured).
    #[inline]
    pub fn count_request(&self) {
        self.requests.fetch_add(1, Ordering::Relaxed);
    }

    /// Whether automatic detection currently flags the site.
    #[inline]
    pub fn auto_active(&self) -> bool {
        self.active.load(Ordering::Relaxed)
    }

    pub fn status(&self, manual: bool, settings: AutoUnderAttack) -> UnderAttackStatus {
        let active = self.auto_active();
        UnderAttackStatus {
            manual,
            auto_enabled: settings.enabled,
            auto_active: active,
            since_unix_ms: active.then(|| self.since_unix_ms.load(Ordering::Relaxed)),
            baseline_rps: f64::from_bits(self.baseline_bits.load(Ordering::Relaxed)),
            current_rps: f64::from_bits(self.current_bits.load(Ordering::Relaxed)),
        }
    }

    /// Feeds the requests since the last tick to the detector. Returns the
    /// switch, if the mode changed.
    pub fn tick(&self, site: &str, settings: AutoUnderAttack, now: Millis) -> Option<AttackSwitch> {
        let requests = self.requests.swap(0, Ordering::Relaxed);
        let mut slot = self.detector.lock().unwrap_or_else(PoisonError::into_inner);
        if !settings.enabled {
            *slot = None;
            self.baseline_bits.store(0, Ordering::Relaxed);
            self.current_bits.store(0, Ordering::Relaxed);
            if self.active.swap(false, Ordering::Relaxed) {
                return Some(self.switch(site, false, now, 0.0, 0.0));
            }
            return None;
        }
        let stale = slot.as_ref().is_some_and(|d| d.settings != settings);
        if stale || slot.is_none() {
            // New settings keep what was learned: resume from the baseline.
            let learned = slot.as_ref().map(|d| d.detector.baseline_rps());
            let config = baseline_config(settings);
            let detector = match learned {
                Some(rps) => BaselineDetector::resume(config, rps),
                None => BaselineDetector::new(config),
            };
            match detector {
                Ok(detector) => *slot = Some(Detector { settings, detector }),
                Err(error) => {
                    tracing::warn!(%site, %error, "automatic under-attack mode: unusable settings");
                    *slot = None;
                    return None;
                }
            }
        }
        let d = slot.as_mut()?;
        let transition = d.detector.observe(now, requests);
        let (baseline, current) = (d.detector.baseline_rps(), d.detector.short_rps());
        self.baseline_bits
            .store(baseline.to_bits(), Ordering::Relaxed);
        self.current_bits
            .store(current.to_bits(), Ordering::Relaxed);
        match transition? {
            Transition::AttackStarted { rate, baseline } => {
                self.since_unix_ms.store(now.0, Ordering::Relaxed);
                self.active.store(true, Ordering::Relaxed);
                Some(self.switch(site, true, now, baseline, rate))
            }
            Transition::AttackEnded => {
                self.active.store(false, Ordering::Relaxed);
                Some(self.switch(site, false, now, baseline, current))
            }
        }
    }

    fn switch(
        &self,
        site: &str,
        started: bool,
        now: Millis,
        baseline_rps: f64,
        current_rps: f64,
    ) -> AttackSwitch {
        tracing::info!(
            %site,
            direction = if started { "on" } else { "off" },
            baseline_rps,
            current_rps,
            "automatic under-attack mode switched"
        );
        AttackSwitch {
            site: site.to_string(),
            started,
            at_unix_ms: now.0,
            baseline_rps,
            current_rps,
        }
    }
}

/// The detector's tuning from the site's settings. The release factor is
/// the geometric middle between 1 and the trigger factor: always above 1
/// (normal traffic at the baseline ends an attack) and below the trigger
/// (a rate between the two changes nothing, so the mode does not flap).
fn baseline_config(settings: AutoUnderAttack) -> BaselineConfig {
    let factor = if settings.factor.is_finite() && settings.factor > 1.0 {
        settings.factor
    } else {
        4.0
    };
    BaselineConfig {
        bucket: bucket(settings),
        trigger_factor: factor,
        release_factor: factor.sqrt(),
        min_rps: f64::from(settings.min_rps),
        short_window: settings.window.max(Duration::from_secs(1)),
        hold: settings.hold,
        warmup: settings.warmup,
        ..BaselineConfig::default()
    }
}

/// The detector's counting bucket: 10 s, or less when the window or the
/// warm-up is short, so that both span at least three buckets (a bucket
/// longer than the window would be all the short rate sees). Whole seconds,
/// at least one: the ticker feeds the detector once a second, and a bucket
/// that is not a multiple of that would alternately get one tick's count
/// and two. Always at most the window (itself at least 1 s) and the one-hour
/// horizon, which is what [`BaselineConfig::validate`] asks.
fn bucket(settings: AutoUnderAttack) -> Duration {
    let secs = (settings.window.as_secs() / 3)
        .min(settings.warmup.as_secs() / 3)
        .clamp(1, 10);
    Duration::from_secs(secs)
}

/// The recent automatic switches of every site, oldest first.
#[derive(Default)]
pub struct SwitchLog {
    ring: Mutex<VecDeque<AttackSwitch>>,
    pub total: AtomicU64,
}

impl SwitchLog {
    pub fn push(&self, switch: AttackSwitch) {
        self.total.fetch_add(1, Ordering::Relaxed);
        let mut ring = self.ring.lock().unwrap_or_else(PoisonError::into_inner);
        if ring.len() >= MAX_SWITCHES {
            ring.pop_front();
        }
        ring.push_back(switch);
    }

    pub fn recent(&self) -> Vec<AttackSwitch> {
        let ring = self.ring.lock().unwrap_or_else(PoisonError::into_inner);
        ring.iter().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> AutoUnderAttack {
        AutoUnderAttack {
            enabled: true,
            factor: 4.0,
            min_rps: 10,
            ..AutoUnderAttack::default()
        }
    }

    /// Drives a site for `secs` seconds at `rps`, ticking every second.
    fn run(site: &SiteAttack, from: &mut u64, secs: u64, rps: u64) -> Vec<AttackSwitch> {
        let mut switches = Vec::new();
        for _ in 0..secs {
            for _ in 0..rps {
                site.count_request();
            }
            *from += 1_000;
            switches.extend(site.tick("shop", settings(), Millis(*from)));
        }
        switches
    }

    #[test]
    fn a_surge_switches_on_and_calm_switches_off() {
        let site = SiteAttack::default();
        let mut now = 1_767_225_600_000;
        // Learn a baseline of 20 rps for longer than the warm-up.
        assert!(run(&site, &mut now, 900, 20).is_empty());
        let status = site.status(false, settings());
        assert!(!status.auto_active);
        assert!((status.baseline_rps - 20.0).abs() < 2.0, "{status:?}");
        // Ten times the rate: on within the short window.
        let on = run(&site, &mut now, 60, 200);
        assert_eq!(on.len(), 1, "{on:?}");
        assert!(on.iter().all(|s| s.started && s.site == "shop"));
        let status = site.status(false, settings());
        assert!(status.auto_active && status.active());
        assert!(status.since_unix_ms.is_some());
        assert!(status.current_rps > 80.0, "{status:?}");
        // Back to normal: off after the hold time.
        let off = run(&site, &mut now, 600, 20);
        assert_eq!(off.len(), 1, "{off:?}");
        assert!(!off.iter().any(|s| s.started));
        assert!(!site.auto_active());
    }

    #[test]
    fn disabling_ends_an_automatic_attack() {
        let site = SiteAttack::default();
        let mut now = 1_767_225_600_000;
        run(&site, &mut now, 900, 20);
        run(&site, &mut now, 60, 200);
        assert!(site.auto_active());
        let off = site.tick(
            "shop",
            AutoUnderAttack {
                enabled: false,
                ..settings()
            },
            Millis(now + 1_000),
        );
        assert!(off.is_some_and(|s| !s.started));
        assert!(!site.auto_active());
    }

    #[test]
    fn the_ring_keeps_the_latest() {
        let log = SwitchLog::default();
        for i in 0..(MAX_SWITCHES as u64 + 5) {
            log.push(AttackSwitch {
                site: "s".into(),
                started: true,
                at_unix_ms: i,
                baseline_rps: 0.0,
                current_rps: 0.0,
            });
        }
        let recent = log.recent();
        assert_eq!(recent.len(), MAX_SWITCHES);
        assert_eq!(recent.first().map(|s| s.at_unix_ms), Some(5));
        assert_eq!(log.total.load(Ordering::Relaxed), MAX_SWITCHES as u64 + 5);
    }

    #[test]
    fn release_sits_between_one_and_the_trigger() {
        for factor in [1.5, 4.0, 1000.0] {
            let c = baseline_config(AutoUnderAttack {
                enabled: true,
                factor,
                min_rps: 1,
                ..AutoUnderAttack::default()
            });
            assert!(c.release_factor > 1.0 && c.release_factor < c.trigger_factor);
            assert!(c.validate().is_ok());
        }
    }

    #[test]
    fn the_defaults_keep_the_detector_defaults() {
        let c = baseline_config(AutoUnderAttack::default());
        let d = BaselineConfig::default();
        assert_eq!(
            (c.bucket, c.horizon, c.short_window, c.hold, c.warmup),
            (d.bucket, d.horizon, d.short_window, d.hold, d.warmup)
        );
    }

    #[test]
    fn every_timing_in_range_validates() {
        let secs = [1, 2, 3, 5, 29, 30, 31, 59, 600, 3_600, 86_400];
        for warmup in secs {
            for window in secs.iter().copied().filter(|&w| w <= 3_600) {
                let c = baseline_config(AutoUnderAttack {
                    enabled: true,
                    warmup: Duration::from_secs(warmup),
                    window: Duration::from_secs(window),
                    hold: Duration::from_secs(1),
                    ..AutoUnderAttack::default()
                });
                assert!(c.validate().is_ok(), "{warmup} {window}: {c:?}");
                assert!(c.bucket <= c.short_window && c.bucket <= c.warmup);
                assert_eq!(c.bucket.subsec_nanos(), 0);
            }
        }
    }

    #[test]
    fn short_timings_switch_within_seconds() {
        let fast = AutoUnderAttack {
            enabled: true,
            factor: 4.0,
            min_rps: 5,
            warmup: Duration::from_secs(3),
            window: Duration::from_secs(2),
            hold: Duration::from_secs(2),
        };
        let site = SiteAttack::default();
        let mut now = 1_767_225_600_500;
        let mut drive = |secs: u64, rps: u64| {
            let mut switches = Vec::new();
            for _ in 0..secs {
                for _ in 0..rps {
                    site.count_request();
                }
                now += 1_000;
                switches.extend(site.tick("shop", fast, Millis(now)));
            }
            switches
        };
        assert!(drive(6, 8).is_empty());
        let on = drive(3, 300);
        assert!(on.len() == 1 && on.iter().all(|s| s.started), "{on:?}");
        let off = drive(15, 8);
        assert!(off.len() == 1 && off.iter().all(|s| !s.started), "{off:?}");
    }
}
