//! A site document from the admin API (any JSON) must compile to a site or to
//! field errors with a path and a message, never a panic; a compiled site
//! must survive the round trip back to a document.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rampart_config::{SiteSpec, Timeouts, compile_site_with_lists};

fuzz_target!(|data: &[u8]| {
    let Ok(spec) = serde_json::from_slice::<SiteSpec>(data) else {
        return;
    };
    let timeouts = Timeouts {
        connect: std::time::Duration::from_secs(5),
        request_header: std::time::Duration::from_secs(10),
        idle: std::time::Duration::from_secs(60),
        origin_response: std::time::Duration::from_secs(60),
    };
    let known = |name: &str| name == "office";
    match compile_site_with_lists(&spec, &timeouts, &known) {
        Ok(site) => {
            let again = SiteSpec::from_config(&site);
            let recompiled = compile_site_with_lists(&again, &timeouts, &known)
                .unwrap_or_else(|e| panic!("round trip of {again:?}: {e:?}"));
            assert_eq!(site, recompiled);
        }
        Err(errors) => {
            assert!(!errors.is_empty());
            for e in &errors {
                assert!(!e.message.is_empty(), "{e:?}");
            }
        }
    }
});
