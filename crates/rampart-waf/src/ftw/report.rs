//! The suite's results: one outcome per test, the failures grouped by rule
//! and cause, and a summary ending in `N passed, M failed`.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use super::judge::Failure;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TestResult {
    Passed,
    /// Each failure with the (1-based) stage it happened in.
    Failed(Vec<(usize, Failure)>),
    Skipped(String),
}

#[derive(Debug, Clone)]
pub struct TestOutcome {
    pub file: PathBuf,
    pub rule_id: u64,
    pub test_id: u64,
    pub result: TestResult,
    /// Set when an override replaced the test's expectations.
    pub overridden: Option<String>,
    /// For each failed stage: the request sent, the status and the
    /// synthesised log, for [`SuiteReport::details`].
    pub details: Vec<(usize, String)>,
}

impl TestOutcome {
    /// `942100-3`, the name go-ftw uses.
    pub fn name(&self) -> String {
        format!("{}-{}", self.rule_id, self.test_id)
    }
}

#[derive(Debug, Clone, Default)]
pub struct SuiteReport {
    pub outcomes: Vec<TestOutcome>,
    /// Compiling the rule set.
    pub load_time: Duration,
    /// Running the tests.
    pub run_time: Duration,
}

impl SuiteReport {
    fn count(&self, pred: impl Fn(&TestResult) -> bool) -> usize {
        self.outcomes.iter().filter(|o| pred(&o.result)).count()
    }

    pub fn passed(&self) -> usize {
        self.count(|r| matches!(r, TestResult::Passed))
    }

    pub fn failed(&self) -> usize {
        self.count(|r| matches!(r, TestResult::Failed(_)))
    }

    pub fn skipped(&self) -> usize {
        self.count(|r| matches!(r, TestResult::Skipped(_)))
    }

    pub fn failures(&self) -> impl Iterator<Item = &TestOutcome> {
        self.outcomes
            .iter()
            .filter(|o| matches!(o.result, TestResult::Failed(_)))
    }

    /// Failures counted by (rule id, cause), most frequent first; a test
    /// with two causes counts under both.
    pub fn causes(&self) -> Vec<((u64, String), usize)> {
        let mut counts: BTreeMap<(u64, String), usize> = BTreeMap::new();
        for outcome in self.failures() {
            if let TestResult::Failed(failures) = &outcome.result {
                for (_, failure) in failures {
                    *counts
                        .entry((outcome.rule_id, failure.cause()))
                        .or_default() += 1;
                }
            }
        }
        let mut sorted: Vec<_> = counts.into_iter().collect();
        sorted.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        sorted
    }

    /// Failed tests per rule id, most first.
    pub fn failing_rules(&self) -> Vec<(u64, usize)> {
        let mut counts: BTreeMap<u64, usize> = BTreeMap::new();
        for outcome in self.failures() {
            *counts.entry(outcome.rule_id).or_default() += 1;
        }
        let mut sorted: Vec<_> = counts.into_iter().collect();
        sorted.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        sorted
    }

    /// The failed tests with what was sent and logged, for debugging.
    pub fn details(&self) -> String {
        let mut out = String::new();
        for outcome in self.failures() {
            for (stage, text) in &outcome.details {
                out.push_str(&format!(
                    "==== {} stage {stage} ({})\n{text}\n",
                    outcome.name(),
                    outcome.file.display()
                ));
            }
        }
        out
    }

    /// Tests that ran against an override's expectations.
    pub fn overridden(&self) -> usize {
        self.outcomes
            .iter()
            .filter(|o| o.overridden.is_some() && !matches!(o.result, TestResult::Skipped(_)))
            .count()
    }

    /// The summary lines only, the last being exactly `N passed, M failed`.
    pub fn summary(&self) -> String {
        format!(
            "{} ran with overridden expectations\n{} skipped\n{} passed, {} failed",
            self.overridden(),
            self.skipped(),
            self.passed(),
            self.failed()
        )
    }
}

/// How many groups of causes the printer lists.
const TOP_CAUSES: usize = 40;

impl fmt::Display for SuiteReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for outcome in self.failures() {
            if let TestResult::Failed(failures) = &outcome.result {
                for (stage, failure) in failures {
                    let stage = if *stage > 1 {
                        format!(" (stage {stage})")
                    } else {
                        String::new()
                    };
                    writeln!(f, "FAIL {}{stage}: {failure}", outcome.name())?;
                }
            }
        }
        let causes = self.causes();
        if !causes.is_empty() {
            writeln!(f)?;
            writeln!(f, "Top failure causes (rule id: cause, tests):")?;
            for ((rule, cause), count) in causes.iter().take(TOP_CAUSES) {
                writeln!(f, "  {rule}: {cause} ({count})")?;
            }
            if causes.len() > TOP_CAUSES {
                writeln!(f, "  … {} more", causes.len() - TOP_CAUSES)?;
            }
        }
        writeln!(
            f,
            "\nrule set compiled in {:.1?}, tests ran in {:.1?}",
            self.load_time, self.run_time
        )?;
        write!(f, "{}", self.summary())
    }
}
