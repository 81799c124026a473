//! IP list text (bulk imports through the API, `[[lists]] file`) must parse
//! to a list or to an error naming a line, never a panic; a parsed list must
//! print to text that parses back to the same addresses, and lookups must agree
//! with the networks it reports.
#![no_main]

use std::net::IpAddr;

use libfuzzer_sys::fuzz_target;
use rampart_rules::IpList;

fuzz_target!(|text: &str| {
    let list = match IpList::from_text(text) {
        Ok(list) => list,
        Err(e) => {
            assert!(!e.to_string().is_empty());
            return;
        }
    };
    let printed = list.to_text();
    let back = IpList::from_text(&printed).unwrap_or_else(|e| panic!("{printed:?}: {e}"));
    // `entries` counts lines as written (overlaps included); what must
    // survive the round trip is the set of addresses.
    assert_eq!(back.to_text(), printed);
    assert_eq!(back.ranges(), list.ranges());
    for net in list.cidrs().take(64) {
        let (first, last): (IpAddr, IpAddr) = (net.network(), net.broadcast());
        assert!(list.contains(first), "{net} start");
        assert!(list.contains(last), "{net} end");
    }
});
