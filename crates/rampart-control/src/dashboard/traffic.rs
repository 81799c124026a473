//! What the site page reads from the analytics store: the minutes of a
//! range, dense (a minute without requests is a zero, not a gap), and the
//! heaviest hitters. The one place that knows the analytics store's API.

use rampart_store::{Store, StoreError, TrafficTop};

/// The ranges the site page offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Range {
    Hour,
    Day,
}

impl Range {
    pub fn parse(text: Option<&str>) -> Range {
        match text {
            Some("24h") => Range::Day,
            _ => Range::Hour,
        }
    }

    pub fn param(self) -> &'static str {
        match self {
            Range::Hour => "1h",
            Range::Day => "24h",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Range::Hour => "Last hour",
            Range::Day => "Last 24 hours",
        }
    }

    pub fn minutes(self) -> i64 {
        match self {
            Range::Hour => 60,
            Range::Day => 24 * 60,
        }
    }
}

/// One minute of a site's traffic, as the charts draw it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Minute {
    /// Unix seconds of the minute's start.
    pub start: i64,
    pub requests: u64,
    pub blocked: u64,
    pub challenged: u64,
    pub passed: u64,
    pub rate_limited: u64,
}

pub(crate) struct Traffic {
    pub range: Range,
    /// Every minute of the range, oldest first, the current one last.
    pub minutes: Vec<Minute>,
    pub top: TrafficTop,
}

impl Traffic {
    pub fn total(&self, pick: impl Fn(&Minute) -> u64) -> u64 {
        self.minutes.iter().map(pick).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.minutes.iter().all(|m| m.requests == 0)
    }
}

/// How many entries each top list shows.
const TOP_N: usize = 10;

/// The range ending with the minute that holds `now_secs`.
pub(crate) async fn load(
    store: &Store,
    site_id: &str,
    range: Range,
    now_secs: i64,
) -> Result<Traffic, StoreError> {
    let current = now_secs.div_euclid(60) * 60;
    let from = current - (range.minutes() - 1) * 60;
    let to = current + 60;
    let rows = store.traffic_series(site_id, from, to).await?;
    let top = store.traffic_top(site_id, from, to, TOP_N).await?;
    let mut minutes: Vec<Minute> = (0..range.minutes())
        .map(|i| Minute {
            start: from + i * 60,
            ..Minute::default()
        })
        .collect();
    for row in rows {
        let slot = usize::try_from((row.minute - from).div_euclid(60))
            .ok()
            .and_then(|i| minutes.get_mut(i));
        if let Some(slot) = slot {
            slot.requests += row.counters.requests;
            slot.blocked += row.counters.blocked;
            slot.challenged += row.counters.challenged;
            slot.passed += row.counters.passed;
            slot.rate_limited += row.counters.rate_limited;
        }
    }
    Ok(Traffic {
        range,
        minutes,
        top,
    })
}
