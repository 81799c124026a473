//! Any UTF-8 text must come back as a Config or as diagnostics, never a panic,
//! and every diagnostic must point inside the text.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    // A directory that does not exist keeps relative cert/page paths from
    // touching real files.
    let path = Path::new("/nonexistent-rampart-fuzz/rampart.toml");
    if let Err(errors) = rampart_config::parse_str(text, path) {
        let lines: Vec<&str> = text.split('\n').collect();
        assert!(!errors.diagnostics.is_empty());
        for d in &errors.diagnostics {
            assert!(d.line >= 1 && d.line <= lines.len(), "{d}");
            let len = lines.get(d.line - 1).map_or(0, |l| l.chars().count());
            assert!(d.col >= 1 && d.col <= len + 1, "{d}");
            assert!(!d.message.is_empty());
        }
    }
});
