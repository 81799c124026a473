//! `BaselineDetector` on synthetic traffic: steady and diurnal traffic stays
//! normal, a flood is flagged within seconds, the mode clears only after the
//! hold, hovering near a threshold does not flap, tiny sites never flag.

use rampart_limits::{BaselineConfig, BaselineDetector, Millis, Transition};
use std::time::Duration;

const T0: u64 = 1_767_225_600_000;

/// Feeds one second at a time: `rate(second)` requests in that second.
/// Returns every transition with the second it happened at.
fn feed(
    d: &mut BaselineDetector,
    from_s: u64,
    to_s: u64,
    rate: impl Fn(u64) -> u64,
) -> Vec<(u64, Transition)> {
    let mut out = Vec::new();
    for s in from_s..to_s {
        if let Some(t) = d.observe(Millis(T0 + s * 1_000), rate(s)) {
            out.push((s, t));
        }
    }
    out
}

/// A little deterministic noise: ±10%.
fn noisy(base: u64, s: u64) -> u64 {
    let wiggle = (s.wrapping_mul(2_654_435_761) >> 7) % 21;
    base * (90 + wiggle) / 100
}

fn detector() -> BaselineDetector {
    BaselineDetector::new(BaselineConfig::default()).unwrap()
}

#[test]
fn steady_traffic_is_learned_and_never_flagged() {
    let mut d = detector();
    let t = feed(&mut d, 0, 4 * 3_600, |s| noisy(100, s));
    assert!(t.is_empty(), "{t:?}");
    assert!(
        (95.0..105.0).contains(&d.baseline_rps()),
        "{}",
        d.baseline_rps()
    );
}

#[test]
fn a_slow_daily_swing_is_not_an_attack() {
    let mut d = detector();
    // 50 → 250 → 50 requests/s over a day, like a site's day and night.
    let day = 86_400.0;
    let t = feed(&mut d, 0, 86_400, |s| {
        let phase = (s as f64 / day * std::f64::consts::TAU).sin();
        (150.0 + 100.0 * phase) as u64
    });
    assert!(t.is_empty(), "{t:?}");
}

#[test]
fn a_flood_is_flagged_fast_and_cleared_after_the_hold() {
    let mut d = detector();
    feed(&mut d, 0, 3_600, |s| noisy(100, s));
    // Ten times the rate for ten minutes.
    let t = feed(&mut d, 3_600, 4_200, |s| noisy(1_000, s));
    assert_eq!(t.len(), 1, "{t:?}");
    let (at, started) = t[0];
    assert!(matches!(started, Transition::AttackStarted { .. }));
    assert!(at - 3_600 <= 30, "flagged after {} s", at - 3_600);
    assert!(d.under_attack());
    // The attack did not become the baseline.
    assert!(d.baseline_rps() < 110.0, "{}", d.baseline_rps());
    // Back to normal: cleared once the short rate has been low for the
    // 5-minute hold, not before.
    let t = feed(&mut d, 4_200, 5_400, |s| noisy(100, s));
    assert_eq!(t.len(), 1, "{t:?}");
    let (at, ended) = t[0];
    assert_eq!(ended, Transition::AttackEnded);
    let after = at - 4_200;
    assert!(
        (300..=420).contains(&after),
        "cleared {after} s after the flood"
    );
    assert!(!d.under_attack());
}

#[test]
fn hovering_between_the_thresholds_does_not_flap() {
    let mut d = detector();
    feed(&mut d, 0, 3_600, |s| noisy(100, s));
    // Into an attack, then a rate that swings between 2.5× and 4.5× the
    // baseline: above release (2×), so the mode stays on, once.
    let t = feed(&mut d, 3_600, 3_700, |_| 1_000);
    assert_eq!(t.len(), 1);
    let t = feed(&mut d, 3_700, 7_200, |s| {
        if (s / 60) % 2 == 0 { 450 } else { 250 }
    });
    assert!(t.is_empty(), "{t:?}");
    assert!(d.under_attack());
    // And below the trigger without a prior attack, nothing starts.
    let mut d = detector();
    feed(&mut d, 0, 3_600, |s| noisy(100, s));
    let t = feed(&mut d, 3_600, 7_200, |s| {
        if (s / 60) % 2 == 0 { 350 } else { 150 }
    });
    assert!(t.is_empty(), "{t:?}");
}

#[test]
fn tiny_sites_do_not_flag_on_small_bursts() {
    let mut d = detector();
    // 0.1 request/s, then a burst of 10/s: 100× the baseline, below the floor.
    feed(&mut d, 0, 3_600, |s| u64::from(s % 10 == 0));
    let t = feed(&mut d, 3_600, 3_900, |_| 10);
    assert!(t.is_empty(), "{t:?}");
    // A real flood on a tiny site is flagged.
    let t = feed(&mut d, 3_900, 4_000, |_| 500);
    assert_eq!(t.len(), 1, "{t:?}");
}

#[test]
fn nothing_is_flagged_during_warmup_unless_resumed() {
    let mut d = detector();
    let t = feed(&mut d, 0, 300, |s| if s < 60 { 10 } else { 5_000 });
    assert!(t.is_empty(), "{t:?}");
    // A restarted node resumes with the baseline it saved.
    let mut d = BaselineDetector::resume(BaselineConfig::default(), 10.0).unwrap();
    let t = feed(&mut d, 0, 60, |_| 5_000);
    assert_eq!(t.len(), 1, "{t:?}");
}

#[test]
fn a_quiet_gap_and_sparse_calls_are_handled() {
    let mut d = detector();
    feed(&mut d, 0, 3_600, |s| noisy(100, s));
    let t = feed(&mut d, 3_600, 3_700, |_| 2_000);
    assert_eq!(t.len(), 1);
    // The site goes silent and the caller only calls again three hours later:
    // the empty buckets in between end the attack and decay the baseline.
    let t = d.observe(Millis(T0 + 3_700_000 + 10_800_000), 0);
    assert_eq!(t, Some(Transition::AttackEnded));
    assert!(d.baseline_rps() < 20.0, "{}", d.baseline_rps());
    // A clock stepping back does not panic or flag.
    assert_eq!(d.observe(Millis(T0), 5), None);
}

#[test]
fn configuration_is_checked() {
    let d = BaselineConfig::default();
    let bad = |c: BaselineConfig| BaselineDetector::new(c).is_err();
    assert!(bad(BaselineConfig {
        bucket: Duration::ZERO,
        ..d
    }));
    assert!(bad(BaselineConfig {
        horizon: Duration::from_secs(1),
        ..d
    }));
    assert!(bad(BaselineConfig {
        release_factor: 4.0,
        ..d
    }));
    assert!(bad(BaselineConfig {
        trigger_factor: f64::NAN,
        ..d
    }));
    assert!(bad(BaselineConfig { min_rps: -1.0, ..d }));
    assert!(!bad(d));
}
