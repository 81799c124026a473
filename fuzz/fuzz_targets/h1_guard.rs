//! Fuzz `FramingTracker::feed`: never panics, and the outcome (bytes
//! accepted, violation, requests) does not depend on how the input is split.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rampart_edge::h1_guard::{FramingTracker, GuardConfig, Violation};

#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    accepted: usize,
    violation: Option<Violation>,
    requests: usize,
    passthrough: bool,
}

/// `decisions`: bit k = outcome of the k-th upgrade wait.
fn run<'a>(max_head: usize, decisions: u8, chunks: impl Iterator<Item = &'a [u8]>) -> Outcome {
    let mut t = FramingTracker::new(GuardConfig {
        max_head_bytes: max_head,
        header_timeout: None,
    });
    let (mut accepted, mut requests, mut waits) = (0usize, 0usize, 0u32);
    'outer: for chunk in chunks {
        let mut rest = chunk;
        while !rest.is_empty() {
            let Ok(n) = t.feed(rest) else { break 'outer };
            let len = rest.len();
            assert!(n <= len);
            accepted += n;
            rest = &rest[n..];
            while t.pop_request().is_some() {
                requests += 1;
            }
            if t.violation().is_some() {
                break 'outer;
            }
            if t.is_waiting() {
                let switched = decisions.checked_shr(waits).unwrap_or(0) & 1 == 1;
                waits += 1;
                t.resolve_upgrade(switched);
                assert!(!t.is_waiting());
            } else {
                assert_eq!(n, len, "stalled without a reason");
            }
        }
    }
    Outcome {
        accepted,
        violation: t.violation().copied(),
        requests,
        passthrough: t.is_passthrough(),
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&[split, decisions, limit], input)) = data.split_first_chunk::<3>() else {
        return;
    };
    let max_head = 16 + usize::from(limit) * 4;
    let whole = run(max_head, decisions, std::iter::once(input));
    assert!(whole.accepted <= input.len());
    if whole.violation.is_none() && !whole.passthrough {
        assert_eq!(whole.accepted, input.len());
    }
    let step = usize::from(split % 16) + 1;
    let pieces = run(max_head, decisions, input.chunks(step));
    assert_eq!(whole, pieces, "split every {step}");
});
