//! The SecLang parser and rule compiler on hostile rule text: load errors
//! are fine (and must name a line), panics are not. Inputs that include
//! files or read data files are left out: they would make the fuzzer read
//! this machine's disk, not test the parser.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use rampart_waf::{HttpRequest, RuleSetBuilder};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let lower = text.to_ascii_lowercase();
    if lower.contains("include") || lower.contains("fromfile") || lower.contains("@pmf") || lower.contains("@ipmatchf") {
        return;
    }
    let mut builder = RuleSetBuilder::new();
    if let Err(error) = builder.add_directives(Path::new("fuzz.conf"), Path::new("/nonexistent"), text) {
        assert!(error.line <= text.lines().count() + 1, "{error}");
        return;
    }
    let Ok(rules) = builder.build() else {
        return;
    };
    // A rule set that loads must also run.
    let request = HttpRequest {
        method: "POST".into(),
        uri: "/a?b=c&d=%27".into(),
        protocol: "HTTP/1.1".into(),
        headers: vec![
            ("Host".into(), b"x".to_vec()),
            ("Content-Type".into(), b"application/x-www-form-urlencoded".to_vec()),
        ],
        body: b"e=f&g=<h>".to_vec(),
        client: ([192, 0, 2, 1], 1234).into(),
        server: ([192, 0, 2, 2], 80).into(),
    };
    let mut tx = rules.transaction("fuzz");
    let _ = tx.process_request_headers(&request);
    let _ = tx.process_request_body(&request);
    tx.process_logging();
});
