use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::backend;
use super::http1::{ParsedRequest, Strictness, parse_request};
use super::judge::{Failure, Observation, judge, log_line};
use super::raw::{BuildError, assemble, build_request, encode_form, expand_template};
use super::report::{SuiteReport, TestOutcome, TestResult};
use super::runner::{load_overrides, parse_test_file, test_files};
use super::schema::{Input, Output, TestFile};
use crate::engine::MatchedRule;

const CRS: &str = "/work/shared/crs";

/// The shared CRS checkout, when this machine has it.
fn crs() -> Option<PathBuf> {
    let dir = PathBuf::from(CRS);
    dir.join("tests/regression/tests").is_dir().then_some(dir)
}

fn parse_yaml(text: &str) -> TestFile {
    parse_test_file(text).unwrap().unwrap()
}

fn headers(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

mod requests;
mod suite;
mod verdicts;
mod yaml;
