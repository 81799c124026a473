//! Fuzz the PROXY protocol parser and the exact-length reader.
#![no_main]

use std::sync::OnceLock;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use rampart_edge::proxy_protocol::{parse_proxy_header, read_proxy_header};

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("runtime")
    })
}

fuzz_target!(|data: &[u8]| {
    let parsed = parse_proxy_header(data);
    if let Ok(Some((header, n))) = &parsed {
        assert!(*n <= data.len());
        // The header alone parses the same; any shorter prefix is incomplete.
        assert_eq!(
            parse_proxy_header(&data[..*n]).ok(),
            Some(Some((*header, *n)))
        );
        for cut in 0..*n {
            assert!(matches!(parse_proxy_header(&data[..cut]), Ok(None)));
        }
    }
    // The reader agrees with the parser and never reads past the header.
    let mut rest: &[u8] = data;
    let read = runtime().block_on(read_proxy_header(&mut rest, Duration::from_secs(5)));
    match (&parsed, read) {
        (Ok(Some((header, n))), Ok(got)) => {
            assert_eq!(*header, got);
            assert_eq!(rest.len(), data.len() - n);
        }
        (Ok(Some(_)), Err(e)) => panic!("parser accepted, reader failed: {e}"),
        (_, Ok(_)) => panic!("reader accepted what the parser did not"),
        (_, Err(_)) => {}
    }
});
