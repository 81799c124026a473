//! How long the challenge interstitial takes to pass in headless Chromium,
//! per algorithm and difficulty: `bench/challenge-solve.sh` runs this with
//! `RAMPART_SOLVE_BENCH=FILE` and writes `bench/results/`. Without that
//! variable the one test here returns at once, so `cargo test` stays quick.
//!
//! Each run is a fresh visitor (cookies deleted). The clock starts when the
//! test asks WebDriver to navigate and stops when the in-test origin
//! receives the request that follows the interstitial's verify → 303: what
//! the visitor waits, interstitial load, worker start-up, the work and the
//! round trips included.
//!
//! `RAMPART_SOLVE_RUNS_SCALE=0.5` scales the number of runs;
//! `RAMPART_SOLVE_ONLY=sha256:20,scrypt10:5` picks cases.

#[path = "support/browser.rs"]
mod browser;
#[path = "support/challenge_web.rs"]
mod challenge_web;
mod support;

use std::time::Instant;

use browser::Browser;
use challenge_web::{HtmlOrigin, require_browser, wait_origin_page};
use support::Rampart;

/// One configuration measured: a site whose every level is `difficulty`.
struct Case {
    label: &'static str,
    algorithm: &'static str,
    difficulty: u8,
    runs: usize,
}

fn bench_cases(runs_scale: f64) -> Vec<Case> {
    let n = |base: usize| ((base as f64 * runs_scale).round() as usize).max(3);
    vec![
        Case {
            label: "sha256",
            algorithm: "sha256",
            difficulty: 12,
            runs: n(20),
        },
        Case {
            label: "sha256",
            algorithm: "sha256",
            difficulty: 14,
            runs: n(20),
        },
        Case {
            label: "sha256",
            algorithm: "sha256",
            difficulty: 16,
            runs: n(20),
        },
        Case {
            label: "sha256",
            algorithm: "sha256",
            difficulty: 18,
            runs: n(20),
        },
        Case {
            label: "sha256",
            algorithm: "sha256",
            difficulty: 20,
            runs: n(15),
        },
        Case {
            label: "sha256",
            algorithm: "sha256",
            difficulty: 22,
            runs: n(10),
        },
        Case {
            label: "scrypt N=2^12 (config default)",
            algorithm: "scrypt12",
            difficulty: 3,
            runs: n(10),
        },
        Case {
            label: "scrypt N=2^12 (config default)",
            algorithm: "scrypt12",
            difficulty: 5,
            runs: n(10),
        },
        Case {
            label: "scrypt N=2^10",
            algorithm: "scrypt10",
            difficulty: 3,
            runs: n(10),
        },
        Case {
            label: "scrypt N=2^10",
            algorithm: "scrypt10",
            difficulty: 5,
            runs: n(10),
        },
    ]
}

fn bench_site(i: usize, case: &Case, origin: &str) -> String {
    let algorithm = match case.algorithm {
        "scrypt12" => "algorithm = \"scrypt\"\nscrypt = { n_log2 = 12, r = 8, p = 1 }\n",
        "scrypt10" => "algorithm = \"scrypt\"\nscrypt = { n_log2 = 10, r = 8, p = 1 }\n",
        _ => "algorithm = \"sha256\"\n",
    };
    let d = case.difficulty;
    format!(
        r#"
[[site]]
name = "bench{i}"
hosts = ["bench{i}.localhost"]
origins = ["{origin}"]

[site.challenge]
{algorithm}difficulty = {{ low = {d}, medium = {d}, high = {d} }}

[[site.rules]]
id = "bench"
expression = 'starts_with(http.request.uri.path, "/bench")'
action = "challenge"
challenge = "js"
"#
    )
}

/// Nearest-rank percentile of sorted samples.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn median(sorted: &[f64]) -> f64 {
    let n = sorted.len();
    if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn solve_times_when_asked() {
    let Some(out) = std::env::var_os("RAMPART_SOLVE_BENCH") else {
        return;
    };
    require_browser();
    let scale: f64 = std::env::var("RAMPART_SOLVE_RUNS_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.0);
    let only: Option<String> = std::env::var("RAMPART_SOLVE_ONLY").ok();
    let cases: Vec<Case> = bench_cases(scale)
        .into_iter()
        .filter(|c| {
            only.as_deref().is_none_or(|o| {
                o.split(',')
                    .any(|w| w == format!("{}:{}", c.algorithm, c.difficulty))
            })
        })
        .collect();
    let origin = HtmlOrigin::start().await;
    let mut toml = String::new();
    for (i, case) in cases.iter().enumerate() {
        toml.push_str(&bench_site(i, case, &origin.url()));
    }
    let rampart = Rampart::builder().sites(&toml).start();
    let port = rampart.http.port();
    let b = Browser::start().await;

    // Warm-up: the browser's first navigation and worker start-up are not
    // what a visitor pays on a warm browser; one solve at the easiest site.
    b.goto(&format!("http://bench0.localhost:{port}/bench-warmup"))
        .await;
    wait_origin_page(&b, "/bench-warmup").await;
    b.client
        .delete_all_cookies()
        .await
        .unwrap_or_else(|e| panic!("delete cookies: {e}"));

    let mut report = String::from(
        "| algorithm | difficulty (bits) | expected tries | runs | median ms | p90 ms | min ms | max ms | mean ms |\n|---|---|---|---|---|---|---|---|---|\n",
    );
    let mut raw = String::new();
    for (i, case) in cases.iter().enumerate() {
        let host = format!("bench{i}.localhost");
        let mut samples = Vec::with_capacity(case.runs);
        for run in 0..case.runs {
            let path = format!("/bench-{run}");
            let url = format!("http://{host}:{port}{path}");
            let t0 = Instant::now();
            b.goto(&url).await;
            wait_origin_page(&b, &path).await;
            let at = origin
                .seen()
                .iter()
                .find(|s| s.path == path && s.host.starts_with(&host))
                .map(|s| s.at)
                .unwrap_or_else(|| panic!("the origin never saw {path}"));
            samples.push(at.duration_since(t0).as_secs_f64() * 1000.0);
            // The next run is a fresh visitor: no clearance from this one.
            b.client
                .delete_all_cookies()
                .await
                .unwrap_or_else(|e| panic!("delete cookies: {e}"));
        }
        let mut sorted = samples.clone();
        sorted.sort_by(|a, b| a.total_cmp(b));
        let mean = sorted.iter().sum::<f64>() / sorted.len() as f64;
        let tries = 1u64 << case.difficulty;
        report.push_str(&format!(
            "| {} | {} | {} | {} | {:.0} | {:.0} | {:.0} | {:.0} | {:.0} |\n",
            case.label,
            case.difficulty,
            tries,
            case.runs,
            median(&sorted),
            percentile(&sorted, 90.0),
            sorted[0],
            sorted[sorted.len() - 1],
            mean,
        ));
        raw.push_str(&format!(
            "{} d={}: {}\n",
            case.label,
            case.difficulty,
            samples
                .iter()
                .map(|s| format!("{s:.0}"))
                .collect::<Vec<_>>()
                .join(" ")
        ));
        eprintln!("{} d={} done", case.label, case.difficulty);
    }
    b.close().await;
    let text = format!("{report}\nRaw samples (ms, in run order):\n\n```\n{raw}```\n");
    std::fs::write(&out, text).unwrap_or_else(|e| panic!("write {out:?}: {e}"));
}
