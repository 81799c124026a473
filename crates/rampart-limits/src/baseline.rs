//! Automatic under-attack mode: learn a site's normal request rate, flag when
//! the recent rate is far above it, clear with hysteresis.
//!
//! Requests are counted in fixed buckets (10 s by default). When a bucket
//! closes, its rate feeds two exponentially weighted moving averages: a
//! short one (time constant `short_window`, 30 s) that is "the rate now",
//! and a long one (time constant `horizon`, one hour) that is "normal".
//! Both are bias-corrected, so the first buckets are not averaged with an
//! imaginary zero history.
//!
//! * Attack starts when, after `warmup` of history, the short rate exceeds
//!   `trigger_factor × baseline` **and** `min_rps`. The floor keeps a tiny
//!   site (0.1 request/s) from flapping on a burst of a few requests.
//! * Attack ends when the short rate has stayed below
//!   `max(release_factor × baseline, min_rps × release_factor / trigger_factor)`
//!   for `hold`. Between the release and the trigger thresholds nothing
//!   changes, so a rate hovering around one threshold does not flap.
//! * The baseline does not learn while under attack: otherwise a long attack
//!   would become the new normal and end itself.
//!
//! The detector is plain data driven by the caller's clock: one per site,
//! fed by whatever counts the site's requests.

use crate::error::LimitsError;
use crate::time::{Millis, duration_ms};
use std::time::Duration;

/// Tuning of a [`BaselineDetector`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BaselineConfig {
    /// Counting bucket.
    pub bucket: Duration,
    /// Time constant of the learned baseline.
    pub horizon: Duration,
    /// Time constant of the short-term rate.
    pub short_window: Duration,
    /// Short rate over baseline that starts an attack.
    pub trigger_factor: f64,
    /// Short rate over baseline below which an attack may end.
    pub release_factor: f64,
    /// Requests per second below which nothing is an attack.
    pub min_rps: f64,
    /// How long the rate must stay below the release threshold.
    pub hold: Duration,
    /// History needed before anything is flagged.
    pub warmup: Duration,
}

impl Default for BaselineConfig {
    fn default() -> Self {
        Self {
            bucket: Duration::from_secs(10),
            horizon: Duration::from_secs(3_600),
            short_window: Duration::from_secs(30),
            trigger_factor: 4.0,
            release_factor: 2.0,
            min_rps: 20.0,
            hold: Duration::from_secs(300),
            warmup: Duration::from_secs(600),
        }
    }
}

impl BaselineConfig {
    /// Checks that the values make a detector that can both start and end.
    pub fn validate(&self) -> Result<(), LimitsError> {
        if duration_ms(self.bucket) == 0 {
            return Err(LimitsError::Zero { field: "bucket" });
        }
        if self.horizon < self.bucket || self.short_window < self.bucket {
            return Err(LimitsError::Inconsistent {
                field: "horizon",
                reason: "horizon and short_window must be at least one bucket",
            });
        }
        let finite_pos = |v: f64| v.is_finite() && v > 0.0;
        if !finite_pos(self.trigger_factor) || !finite_pos(self.release_factor) {
            return Err(LimitsError::Zero {
                field: "trigger_factor",
            });
        }
        if self.release_factor >= self.trigger_factor {
            return Err(LimitsError::Inconsistent {
                field: "release_factor",
                reason: "must be below trigger_factor, or the mode would flap",
            });
        }
        if !(self.min_rps.is_finite() && self.min_rps >= 0.0) {
            return Err(LimitsError::Inconsistent {
                field: "min_rps",
                reason: "must be a finite, non-negative rate",
            });
        }
        Ok(())
    }
}

/// A change of mode reported by [`BaselineDetector::observe`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Transition {
    /// The site is now under attack.
    AttackStarted {
        /// Short-term rate (requests/s) that triggered it.
        rate: f64,
        /// Baseline (requests/s) it was compared with.
        baseline: f64,
    },
    /// The attack is over.
    AttackEnded,
}

/// A bias-corrected exponentially weighted moving average.
#[derive(Clone, Copy, Debug)]
struct Ewma {
    alpha: f64,
    sum: f64,
    weight: f64,
}

impl Ewma {
    fn new(bucket_ms: u64, tau: Duration) -> Self {
        let tau_ms = duration_ms(tau).max(1) as f64;
        Self {
            alpha: 1.0 - (-(bucket_ms as f64) / tau_ms).exp(),
            sum: 0.0,
            weight: 0.0,
        }
    }

    fn push(&mut self, x: f64) {
        self.sum += self.alpha * (x - self.sum);
        self.weight += self.alpha * (1.0 - self.weight);
    }

    fn value(&self) -> f64 {
        if self.weight > 0.0 {
            self.sum / self.weight
        } else {
            0.0
        }
    }

    fn set(&mut self, x: f64) {
        self.sum = x;
        self.weight = 1.0;
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Mode {
    Normal,
    Attack { calm_since: Option<u64> },
}

/// Empty buckets closed one by one after a quiet gap; past this many both
/// averages are zero to double precision, so the rest are skipped.
const MAX_GAP_BUCKETS: u64 = 100_000;

/// Learns one site's normal rate and flags attacks. See the module docs.
#[derive(Clone, Debug)]
pub struct BaselineDetector {
    config: BaselineConfig,
    bucket_ms: u64,
    bucket_start: Option<u64>,
    bucket_count: u64,
    long: Ewma,
    short: Ewma,
    learned_ms: u64,
    mode: Mode,
}

impl BaselineDetector {
    /// A detector with no history: it learns for `warmup` before flagging.
    pub fn new(config: BaselineConfig) -> Result<Self, LimitsError> {
        config.validate()?;
        let bucket_ms = duration_ms(config.bucket);
        Ok(Self {
            config,
            bucket_ms,
            bucket_start: None,
            bucket_count: 0,
            long: Ewma::new(bucket_ms, config.horizon),
            short: Ewma::new(bucket_ms, config.short_window),
            learned_ms: 0,
            mode: Mode::Normal,
        })
    }

    /// A detector that starts from a baseline learned before (e.g. saved by
    /// a node that restarted), without a warm-up.
    pub fn resume(config: BaselineConfig, baseline_rps: f64) -> Result<Self, LimitsError> {
        let mut d = Self::new(config)?;
        if baseline_rps.is_finite() && baseline_rps >= 0.0 {
            d.long.set(baseline_rps);
            d.short.set(baseline_rps);
            d.learned_ms = duration_ms(config.warmup);
        }
        Ok(d)
    }

    /// Whether the site is under attack now.
    #[must_use]
    pub fn under_attack(&self) -> bool {
        matches!(self.mode, Mode::Attack { .. })
    }

    /// The learned normal rate, requests per second.
    #[must_use]
    pub fn baseline_rps(&self) -> f64 {
        self.long.value()
    }

    /// The short-term rate, requests per second, as of the last closed bucket.
    #[must_use]
    pub fn short_rps(&self) -> f64 {
        self.short.value()
    }

    /// Records `requests` seen at `now` (any number, e.g. one per request or
    /// a count per second), closing the buckets `now` has passed first.
    /// Returns the mode change, if closing them changed the mode. Call it
    /// with zero requests now and then so a site that went quiet is seen.
    pub fn observe(&mut self, now: Millis, requests: u64) -> Option<Transition> {
        let b = self.bucket_ms;
        let aligned = now.0 - now.0 % b;
        let Some(start) = self.bucket_start else {
            self.bucket_start = Some(aligned);
            self.bucket_count = requests;
            return None;
        };
        let mut transition = None;
        if aligned > start {
            let passed = (aligned - start) / b;
            let count = core::mem::take(&mut self.bucket_count);
            let mut end = start.saturating_add(b);
            if let Some(t) = self.close_bucket(count, end) {
                transition = Some(t);
            }
            for _ in 1..passed.min(MAX_GAP_BUCKETS) {
                end = end.saturating_add(b);
                if let Some(t) = self.close_bucket(0, end) {
                    transition = Some(t);
                }
            }
            self.bucket_start = Some(aligned);
        }
        // A clock that stepped back counts into the open bucket.
        self.bucket_count = self.bucket_count.saturating_add(requests);
        transition
    }

    fn close_bucket(&mut self, count: u64, end: u64) -> Option<Transition> {
        let c = &self.config;
        let rate = count as f64 * 1_000.0 / self.bucket_ms as f64;
        self.short.push(rate);
        let short = self.short.value();
        let baseline = self.long.value();
        let start = end.saturating_sub(self.bucket_ms);
        let mut transition = None;
        match &mut self.mode {
            Mode::Normal => {
                let warm = self.learned_ms >= duration_ms(c.warmup);
                if warm && short > c.trigger_factor * baseline && short >= c.min_rps {
                    self.mode = Mode::Attack { calm_since: None };
                    transition = Some(Transition::AttackStarted {
                        rate: short,
                        baseline,
                    });
                }
            }
            Mode::Attack { calm_since } => {
                let floor = c.min_rps * c.release_factor / c.trigger_factor;
                if short < (c.release_factor * baseline).max(floor) {
                    let since = *calm_since.get_or_insert(start);
                    if end.saturating_sub(since) >= duration_ms(c.hold) {
                        self.mode = Mode::Normal;
                        transition = Some(Transition::AttackEnded);
                    }
                } else {
                    *calm_since = None;
                }
            }
        }
        // Attack traffic is not normal: learn only outside attacks.
        if self.mode == Mode::Normal && transition.is_none() {
            self.long.push(rate);
            self.learned_ms = self.learned_ms.saturating_add(self.bucket_ms);
        }
        transition
    }
}
