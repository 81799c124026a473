//! Runs the CRS regression suite in process:
//! `cargo run -p rampart-waf --example test_crs -- /path/to/crs [--rule 942100]
//! [--test 3] [--overrides FILE] [--no-bundled-overrides] [--lenient]`.
//! Rampart's bundled overrides (front-end deviations) apply unless
//! `--no-bundled-overrides` or `--lenient` is given; `--verbose` also
//! prints each failed stage's request and synthesised log.
//! Exits 1 when a test failed, 2 on a usage or load error.

use std::path::PathBuf;
use std::process::ExitCode;

use rampart_waf::ftw::{RunOptions, Strictness, run_suite};

fn usage() -> ExitCode {
    eprintln!("usage: test_crs CRS_DIR [--rule ID] [--test ID] [--overrides FILE]");
    eprintln!("                [--no-bundled-overrides] [--lenient] [--verbose]");
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let mut crs_dir: Option<PathBuf> = None;
    let mut verbose = false;
    let mut options = RunOptions {
        bundled_overrides: true,
        ..RunOptions::default()
    };
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--rule" | "--test" => {
                let Some(id) = args.next().and_then(|v| v.parse::<u64>().ok()) else {
                    return usage();
                };
                if arg == "--rule" {
                    options.rule_id = Some(id);
                } else {
                    options.test_id = Some(id);
                }
            }
            "--overrides" => {
                let Some(path) = args.next() else {
                    return usage();
                };
                options.overrides = Some(PathBuf::from(path));
            }
            "--lenient" => options.strictness = Strictness::Lenient,
            "--no-bundled-overrides" => options.bundled_overrides = false,
            "--verbose" | "-v" => verbose = true,
            _ if crs_dir.is_none() && !arg.starts_with("--") => crs_dir = Some(PathBuf::from(arg)),
            _ => return usage(),
        }
    }
    let Some(crs_dir) = crs_dir else {
        return usage();
    };
    match run_suite(&crs_dir, &options) {
        Ok(report) => {
            if verbose {
                print!("{}", report.details());
            }
            println!("{report}");
            if report.failed() == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(e) => {
            eprintln!("test_crs: {e}");
            ExitCode::from(2)
        }
    }
}
