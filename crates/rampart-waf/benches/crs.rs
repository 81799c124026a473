//! Engine-only CPU per request with the real OWASP CRS at PL1, default
//! anomaly thresholds, engine On (the gateway's configuration): phases 1,
//! 2 and 5 of one transaction, as the edge runs them.
//!
//! `cargo bench -p rampart-waf --bench crs -- --warm-up-time 2 --measurement-time 5`
//!
//! The CRS is read from `RAMPART_CRS_DIR`, or `../../../shared/crs`
//! relative to this crate (the checkout's sibling `shared/crs`).

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rampart_waf::RuleSetBuilder;

#[path = "support/workloads.rs"]
mod workloads;
use workloads::{crs_dir, run};

fn bench(c: &mut Criterion) {
    let dir = crs_dir();
    let rules = match RuleSetBuilder::load_crs(&dir, "") {
        Ok(rules) => rules,
        Err(e) => panic!("cannot load the CRS from {}: {e}", dir.display()),
    };
    let cases = workloads::cases();
    let mut group = c.benchmark_group("crs_pl1");
    for (name, req, expect_block) in &cases {
        // The benign requests must pass and the attack must be blocked,
        // or the figures measure something else.
        let blocked = run(&rules, req);
        assert_eq!(blocked, *expect_block, "{name}: blocked = {blocked}");
        group.throughput(Throughput::Elements(1));
        group.bench_function(*name, |b| b.iter(|| run(&rules, black_box(req))));
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
