//! The WAF's transformation chains on hostile bytes: the first byte picks
//! a chain of up to four transformations, the rest is the value. A chain
//! must equal its steps applied one by one, `Borrowed` must mean
//! unchanged, and nothing may panic.
#![no_main]

use std::borrow::Cow;

use libfuzzer_sys::fuzz_target;
use rampart_waf::transform::{Transformation, apply_chain};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let all = Transformation::ALL;
    if all.is_empty() {
        return;
    }
    let (picks, value) = rest.split_at(rest.len().min(usize::from(selector % 5)));
    let chain: Vec<Transformation> = picks
        .iter()
        .filter_map(|b| all.get(usize::from(*b) % all.len()).copied())
        .collect();
    let chained = apply_chain(&chain, value);
    let mut stepwise: Vec<u8> = value.to_vec();
    for t in &chain {
        let next = match t.apply(&stepwise) {
            Cow::Borrowed(same) => {
                assert_eq!(same, stepwise.as_slice());
                continue;
            }
            Cow::Owned(changed) => changed,
        };
        stepwise = next;
    }
    assert_eq!(chained.as_ref(), stepwise.as_slice());
});
