//! Evaluation allocates nothing once the scratch buffers have grown.
//!
//! A counting global allocator sees every allocation of this process, so this
//! file runs without the libtest harness (`harness = false`): its main thread
//! is the only thread, and nothing else allocates while it measures (libtest's
//! own thread was seen allocating a few bytes mid-measurement).

mod common;

use rampart_rules::{EvalScratch, RuleSet};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use std::alloc::System;

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

fn main() {
    evaluation_does_not_allocate();
    println!("no_alloc: evaluation allocates nothing: ok");
}

fn evaluation_does_not_allocate() {
    let rules = [
        "http.request.uri.path matches \"^/wp-(admin|login)\" and not ip.src in $office",
        "lower(url_decode(http.request.uri)) contains \"/wp-admin/\"",
        "upper(lower(http.user_agent)) wildcard \"*FIREFOX*\"",
        "any(lower(http.request.headers[\"accept\"][*]) contains \"json\")",
        "all(http.request.uri.args[\"tag\"][*] in {\"a\" \"b c\"})",
        "any(url_decode(http.request.uri.args[\"redirect_to\"][*]) eq \"/wp-admin/\")",
        "len(http.request.uri.args[\"tag\"]) eq 2 and len(http.request.headers[\"accept\"]) eq 2",
        "ip.src in {10.0.0.0/8 2001:db8::/32} or ip.src.asnum in {64496..64511}",
        "http.cookie contains \"session\" and ssl and http.request.body.size gt 10",
        "starts_with(http.host, \"www.\") xor ends_with(http.referer, \"/start\")",
        "http.request.method in {\"GET\" \"POST\"} and ip.src.country ne \"US\"",
    ];
    let set = RuleSet::compile(rules.iter().enumerate(), &common::scheme()).unwrap();
    let h = common::default_headers();
    let req = common::request(&h);
    let lists = common::lists();
    let mut scratch = EvalScratch::new();
    // The first evaluation on a thread creates the regexes' caches.
    let warm: usize = set.matching(&req, &lists, &mut scratch).count();

    let region = Region::new(GLOBAL);
    let mut total = 0;
    for _ in 0..1_000 {
        total += set.matching(&req, &lists, &mut scratch).count();
        total += usize::from(set.first_match(&req, &lists, &mut scratch).is_some());
    }
    let stats = region.change();
    assert_eq!(total, 1_000 * (warm + 1));
    assert_eq!(warm, 9, "the rules are meant to match mostly");
    assert_eq!(stats.allocations, 0, "{stats:?}");
    assert_eq!(stats.reallocations, 0, "{stats:?}");
}
