//! `rampart waf test-crs` runs the CRS regression suite in process and
//! ends with `N passed, M failed`; `rampart waf check` refuses a broken
//! rule file with `FILE:LINE: message` and exit 64.

mod support;

use std::process::Command;

use support::waf::crs_dir;

fn rampart(args: &[&std::ffi::OsStr]) -> std::process::Output {
    Command::new(support::BIN)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("run rampart: {e}"))
}

#[test]
fn the_regression_suite_of_one_rule_passes_and_says_so() {
    let Some(crs) = crs_dir() else {
        eprintln!("skipped: no CRS directory (set RAMPART_CRS_DIR)");
        return;
    };
    let out = rampart(&[
        "waf".as_ref(),
        "test-crs".as_ref(),
        crs.as_os_str(),
        "--rule".as_ref(),
        "942100".as_ref(),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last = stdout.lines().last().unwrap_or_default();
    let (passed, failed) = last
        .split_once(" passed, ")
        .and_then(|(p, f)| {
            Some((
                p.parse::<u32>().ok()?,
                f.strip_suffix(" failed")?.parse::<u32>().ok()?,
            ))
        })
        .unwrap_or_else(|| panic!("last line is not `N passed, M failed`: {stdout}"));
    assert!(passed > 0 && failed == 0, "{stdout}");
    assert!(out.status.success(), "{stdout}");
}

#[test]
fn a_broken_rule_file_is_named_with_its_line() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    std::fs::create_dir(dir.path().join("rules")).unwrap_or_else(|e| panic!("mkdir: {e}"));
    std::fs::write(dir.path().join("crs-setup.conf.example"), "# empty\n")
        .unwrap_or_else(|e| panic!("write: {e}"));
    std::fs::write(
        dir.path().join("rules/REQUEST-100-LOCAL.conf"),
        "# a local rule set\n\nSecRule ARGS \"@rx (unclosed\" \"id:1001,phase:2,deny\"\n",
    )
    .unwrap_or_else(|e| panic!("write: {e}"));
    let out = rampart(&["waf".as_ref(), "check".as_ref(), dir.path().as_os_str()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(64), "{stderr}");
    assert!(stderr.contains("REQUEST-100-LOCAL.conf:3:"), "{stderr}");

    std::fs::write(
        dir.path().join("rules/REQUEST-100-LOCAL.conf"),
        "SecRule ARGS \"@rx ^attack$\" \"id:1001,phase:2,deny,status:403\"\n",
    )
    .unwrap_or_else(|e| panic!("write: {e}"));
    let out = rampart(&["waf".as_ref(), "check".as_ref(), dir.path().as_os_str()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
