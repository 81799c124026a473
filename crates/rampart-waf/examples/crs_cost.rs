//! Deterministic per-request cost driver for callgrind: loads the CRS once
//! (PL1), then runs N requests of one of the criterion bench's workloads
//! (`get`, `form`, `json`, `sqli`; default `get`) through phases 1, 2 and 5.
//!
//! `valgrind --tool=callgrind target/release/examples/crs_cost [CRS_DIR] [N] [WORKLOAD]`
//! (subtract a run with N = 0 for the load cost, or pass
//! `--toggle-collect='*run_requests*'`).

use std::hint::black_box;
use std::path::PathBuf;

use rampart_waf::{HttpRequest, RuleSet, RuleSetBuilder};

#[path = "../benches/support/workloads.rs"]
mod workloads;

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = args.next().map_or_else(workloads::crs_dir, PathBuf::from);
    let n: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(2000);
    let workload = args.next().unwrap_or_else(|| "get".to_owned());
    let rules = match RuleSetBuilder::load_crs(&dir, "") {
        Ok(rules) => rules,
        Err(e) => {
            eprintln!("cannot load the CRS from {}: {e}", dir.display());
            std::process::exit(1);
        }
    };
    let (name, req, _) = workloads::cases()
        .into_iter()
        .find(|(name, _, _)| name.contains(workload.as_str()))
        .unwrap_or_else(|| {
            eprintln!("no workload named {workload:?} (get, form, json, sqli)");
            std::process::exit(2);
        });
    eprintln!("workload {name}");
    let blocked = run_requests(&rules, &req, n);
    println!("{n} requests, {blocked} blocked");
}

/// The measured part (`--toggle-collect='*run_requests*'`).
#[inline(never)]
fn run_requests(rules: &RuleSet, req: &HttpRequest, n: usize) -> usize {
    (0..n)
        .map(|_| usize::from(workloads::run(rules, black_box(req))))
        .sum()
}
