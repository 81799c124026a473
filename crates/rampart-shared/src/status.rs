//! The shared tier's health, readable without locks by metrics, the
//! control plane and tests.

use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Whether the node is using its shared tier.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SharedState {
    /// No `[shared]` section: the node is alone by configuration.
    Off,
    /// The last call to Redis succeeded.
    Ok,
    /// Redis is not reachable (or not yet): the node counts and remembers
    /// tokens locally and keeps trying to reconnect.
    Degraded,
}

impl SharedState {
    /// `"off"`, `"ok"` or `"degraded"`.
    pub fn label(self) -> &'static str {
        match self {
            Self::Off => "off",
            Self::Ok => "ok",
            Self::Degraded => "degraded",
        }
    }
}

const OFF: u8 = 0;
const OK: u8 = 1;
const DEGRADED: u8 = 2;

/// Counters and state of one node's shared tier.
///
/// `ops` counts Redis commands sent (a pipeline of n commands counts n),
/// `round_trips` the pipelines and single calls, `errors` the calls that
/// failed or timed out.
#[derive(Debug)]
pub struct SharedStatus {
    state: AtomicU8,
    ops: AtomicU64,
    round_trips: AtomicU64,
    errors: AtomicU64,
    last_error_unix_ms: AtomicU64,
    /// Spends decided by the local set alone because Redis did not answer.
    local_fallbacks: AtomicU64,
    /// What the last failure said (redis-rs messages carry no password).
    last_error: std::sync::Mutex<String>,
}

impl SharedStatus {
    /// The status of a node without a shared tier.
    pub fn off() -> Self {
        Self::with_state(OFF)
    }

    /// A configured tier before its first successful call: degraded until
    /// Redis answers.
    pub fn configured() -> Self {
        Self::with_state(DEGRADED)
    }

    fn with_state(state: u8) -> Self {
        Self {
            state: AtomicU8::new(state),
            ops: AtomicU64::new(0),
            round_trips: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            last_error_unix_ms: AtomicU64::new(0),
            local_fallbacks: AtomicU64::new(0),
            last_error: std::sync::Mutex::new(String::new()),
        }
    }

    pub fn state(&self) -> SharedState {
        match self.state.load(Ordering::Relaxed) {
            OFF => SharedState::Off,
            OK => SharedState::Ok,
            _ => SharedState::Degraded,
        }
    }

    /// `"off"`, `"ok"` or `"degraded"`: for metrics labels and the node
    /// heartbeat.
    pub fn state_label(&self) -> &'static str {
        self.state().label()
    }

    /// Redis commands sent so far.
    pub fn ops(&self) -> u64 {
        self.ops.load(Ordering::Relaxed)
    }

    /// Pipelines and single calls sent so far.
    pub fn round_trips(&self) -> u64 {
        self.round_trips.load(Ordering::Relaxed)
    }

    /// Calls that failed or timed out.
    pub fn errors(&self) -> u64 {
        self.errors.load(Ordering::Relaxed)
    }

    /// Unix milliseconds of the last failure, 0 if none.
    pub fn last_error_unix_ms(&self) -> u64 {
        self.last_error_unix_ms.load(Ordering::Relaxed)
    }

    /// What the last failure said, "" if none.
    pub fn last_error(&self) -> String {
        self.last_error
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Token redemptions decided by the local set alone (Redis down).
    pub fn local_fallbacks(&self) -> u64 {
        self.local_fallbacks.load(Ordering::Relaxed)
    }

    pub(crate) fn sent(&self, commands: u64) {
        self.round_trips.fetch_add(1, Ordering::Relaxed);
        self.ops.fetch_add(commands, Ordering::Relaxed);
    }

    pub(crate) fn succeeded(&self) {
        // Off stays off (a status object is never both).
        let _ = self
            .state
            .compare_exchange(DEGRADED, OK, Ordering::Relaxed, Ordering::Relaxed);
    }

    pub(crate) fn failed(&self, why: &str) {
        *self
            .last_error
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = why.to_owned();
        self.errors.fetch_add(1, Ordering::Relaxed);
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        self.last_error_unix_ms.store(now, Ordering::Relaxed);
        let _ = self
            .state
            .compare_exchange(OK, DEGRADED, Ordering::Relaxed, Ordering::Relaxed);
    }

    pub(crate) fn fell_back(&self) {
        self.local_fallbacks.fetch_add(1, Ordering::Relaxed);
    }
}
