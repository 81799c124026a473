//! Every WAF request-body processor on hostile bytes: urlencoded, JSON,
//! XML and multipart (the first line is the Content-Type, the rest the
//! body). Each entry point checks its own invariants (bounded output,
//! nothing invented) and must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rampart_waf::body::fuzz;

fuzz_target!(|data: &[u8]| {
    fuzz::urlencoded(data);
    fuzz::json(data);
    fuzz::xml(data);
    fuzz::multipart(data);
});
