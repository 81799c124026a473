//! `rampart waf …`: the WAF engine's tools. `test-crs` runs the OWASP CRS
//! regression suite (go-ftw YAML) in process against Rampart's engine;
//! `check` loads a CRS directory the way a site would and reports the
//! first problem as `FILE:LINE: message`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;
use rampart_waf::ftw::{RunOptions, run_suite};

#[derive(Subcommand)]
pub enum WafCommand {
    /// Run the CRS regression suite (CRS_DIR/tests/regression/tests) in
    /// process; prints failures with their causes and ends with
    /// `N passed, M failed`. Exits 1 when a test failed.
    TestCrs {
        /// The CRS directory: rules/, crs-setup.conf.example, tests/.
        crs_dir: PathBuf,
        /// Only the tests of this rule id.
        #[arg(long)]
        rule: Option<u64>,
        /// Only this test id (with --rule).
        #[arg(long)]
        test: Option<u64>,
        /// An overrides file (go-ftw's format) on top of Rampart's own.
        #[arg(long, value_name = "FILE")]
        overrides: Option<PathBuf>,
        /// Print each failed stage's request and the engine's log.
        #[arg(long, short)]
        verbose: bool,
    },
    /// Load a CRS directory at paranoia level 1 and report whether it
    /// compiles (exit 0) or the first problem as FILE:LINE: message
    /// (exit 64).
    Check { crs_dir: PathBuf },
}

pub fn run(command: WafCommand) -> ExitCode {
    match command {
        WafCommand::TestCrs {
            crs_dir,
            rule,
            test,
            overrides,
            verbose,
        } => {
            let options = RunOptions {
                rule_id: rule,
                test_id: test,
                overrides,
                bundled_overrides: true,
                ..RunOptions::default()
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
                    eprintln!("rampart waf test-crs: {e}");
                    ExitCode::from(crate::EX_CONFIG)
                }
            }
        }
        WafCommand::Check { crs_dir } => {
            match rampart_waf::RuleSetBuilder::load_crs(&crs_dir, "") {
                Ok(rules) => {
                    println!("{}: ok ({} rules)", crs_dir.display(), rules.rule_count());
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("{e}");
                    ExitCode::from(crate::EX_CONFIG)
                }
            }
        }
    }
}
