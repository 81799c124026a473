//! `run_suite` end to end on one rule's tests of the real CRS (skipped when
//! the checkout is absent).

use super::*;
use crate::ftw::{RunOptions, Strictness, run_suite};

fn result_of(report: &SuiteReport, test_id: u64) -> &TestResult {
    &report
        .outcomes
        .iter()
        .find(|o| o.test_id == test_id)
        .unwrap()
        .result
}

#[test]
fn rule_920100_with_and_without_bundled_overrides() {
    let Some(crs) = crs() else { return };
    let plain = RunOptions {
        rule_id: Some(920100),
        ..RunOptions::default()
    };
    let report = run_suite(&crs, &plain).unwrap();
    assert!(report.outcomes.iter().all(|o| o.rule_id == 920100));
    assert!(report.outcomes.len() >= 15);
    // Malformed request lines are refused before the WAF, as Apache does.
    for test_id in [2, 11, 12, 13] {
        assert_eq!(
            result_of(&report, test_id),
            &TestResult::Passed,
            "{test_id}"
        );
    }
    // A colon in the path is fine for hyper: Apache's 400 is not met.
    assert_eq!(
        result_of(&report, 8),
        &TestResult::Failed(vec![(
            1,
            Failure::Status {
                expected: vec![400],
                actual: 200
            }
        )])
    );

    let bundled = RunOptions {
        bundled_overrides: true,
        ..plain.clone()
    };
    let report = run_suite(&crs, &bundled).unwrap();
    assert_eq!(result_of(&report, 8), &TestResult::Passed);
    assert_eq!(report.overridden(), 2);

    // Lenient reading lets the tab-prefixed method through to the WAF.
    let lenient = RunOptions {
        strictness: Strictness::Lenient,
        ..plain
    };
    let report = run_suite(&crs, &lenient).unwrap();
    assert!(matches!(result_of(&report, 12), TestResult::Failed(_)));
}

#[test]
fn filters_select_one_test() {
    let Some(crs) = crs() else { return };
    let options = RunOptions {
        rule_id: Some(920100),
        test_id: Some(3),
        ..RunOptions::default()
    };
    let report = run_suite(&crs, &options).unwrap();
    assert_eq!(report.outcomes.len(), 1);
    assert_eq!(report.outcomes[0].name(), "920100-3");
    assert_eq!(report.summary().lines().last(), Some("1 passed, 0 failed"));
}
