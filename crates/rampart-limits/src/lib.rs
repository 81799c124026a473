//! Rate-limiting mechanisms for the edge: what counts, how it is counted,
//! and what is decided. Which requests a rule matches, and which response
//! counts, is the rules crate's business; this crate receives a built key.
//!
//! * [`LimitKey`] / [`KeyHasher`]: a rule's characteristics (site, rule,
//!   client address or its /24 or /64, a header, cookie, query argument,
//!   path) hashed into 128 bits with a secret seed, without allocating.
//! * [`CounterStore`] / [`LocalCounters`]: sliding-window counts per key in
//!   bounded memory, with hooks ([`LocalCounters::drain_deltas`],
//!   [`LocalCounters::merge_remote`]) for a shared tier.
//! * [`RateLimiter`]: a rule's threshold, the penalty box for the mitigation
//!   timeout, `Retry-After`, counting on the request or on the response.
//! * [`ConcurrencyLimiter`]: open connections per address and per prefix.
//! * [`BaselineDetector`]: automatic under-attack mode from a learned rate.
//!
//! Nothing here reads a clock: every call takes `now` as [`Millis`].
//!
//! ```
//! use rampart_limits::*;
//! use std::time::Duration;
//!
//! let hasher = KeyHasher::random();
//! let store = LocalCounters::new(CountersConfig::default(), &hasher)?;
//! let limiter = RateLimiter::new(store, 10_000, &hasher)?;
//! let rule = LimitRule {
//!     period: Duration::from_secs(60),
//!     requests: 2,
//!     mitigation_timeout: Duration::from_secs(600),
//!     action: Action::Block,
//!     counting: Counting::EveryRequest,
//! };
//! let ip = "192.0.2.7".parse().unwrap();
//! let key = hasher.key().site("site-1").rule("login").client_ip(ip).finish();
//! let now = Millis(1_767_225_600_000);
//! assert_eq!(limiter.check(&rule, &key, now), Decision::Allow);
//! assert_eq!(limiter.check(&rule, &key, now), Decision::Allow);
//! assert_eq!(
//!     limiter.check(&rule, &key, now),
//!     Decision::Limit { retry_after: Duration::from_secs(600) }
//! );
//! # Ok::<(), LimitsError>(())
//! ```
#![forbid(unsafe_code)]
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic
    )
)]
#![warn(missing_docs)]

mod baseline;
mod concurrency;
mod counters;
mod error;
mod key;
mod limiter;
mod slab;
mod time;
mod window;

pub use baseline::{BaselineConfig, BaselineDetector, Transition};
pub use concurrency::{ConcurrencyConfig, ConcurrencyLimiter, ConnectionGuard, Refused};
pub use counters::{CounterStore, CountersConfig, Delta, LocalCounters};
pub use error::LimitsError;
pub use key::{KeyHasher, LimitKey, LimitKeyBuilder, ip_prefix};
pub use limiter::{Action, Counting, Decision, LimitRule, RateLimiter};
pub use time::{Clock, ManualClock, Millis, SystemClock};
pub use window::WindowCount;
