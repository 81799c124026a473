//! Siteverify compatibility, proven with somebody else's client: the
//! PyPI package `flask-turnstile` (a Flask extension for Cloudflare
//! Turnstile, pinned in `scripts/test.sh`, installed into `target/pydeps`)
//! verifies tokens from Rampart's captcha with nothing changed but its
//! `VERIFY_URL` (`tests/tools/turnstile_verify.py`). Success on first use,
//! `timeout-or-duplicate` on reuse, `invalid-input-secret` for a wrong
//! secret: as the library reports them, through `verify()` (a bool) and
//! `get_response()` (the raw answer).
//!
//! The tokens come from Rampart's own widget endpoints, solved in Rust as
//! in `challenge_flow.rs`; the browser's widget is in `challenge_browser.rs`.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::{Value, json};
use support::Rampart;

const SECRET: &str = "rs_compat-secret-0123456789abcdefghijklm";
const OTHER_SECRET: &str = "rs_other-secret-0123456789abcdefghijklmn";

/// Debian's interpreter when there is one: `scripts/test.sh` installs the
/// library with the same one.
fn python() -> &'static str {
    if Path::new("/usr/bin/python3").exists() {
        "/usr/bin/python3"
    } else {
        "python3"
    }
}

fn pydeps() -> PathBuf {
    std::env::var_os("RAMPART_TEST_PYDEPS").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/pydeps"),
        PathBuf::from,
    )
}

fn tool() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tools/turnstile_verify.py")
}

fn require_library() {
    let ok = Command::new(python())
        .env("PYTHONPATH", pydeps())
        .args(["-c", "import flask_turnstile"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "flask-turnstile is not in {} (scripts/test.sh installs it: \
         {} -m pip install --target target/pydeps flask-turnstile)",
        pydeps().display(),
        python()
    );
}

/// Runs the library over `steps`; one result per step.
fn library(verify_url: &str, steps: &Value) -> Vec<Value> {
    let mut child = Command::new(python())
        .env("PYTHONPATH", pydeps())
        .arg(tool())
        .arg(verify_url)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{}: {e}", python()));
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap_or_else(|| panic!("stdin"));
        stdin
            .write_all(steps.to_string().as_bytes())
            .unwrap_or_else(|e| panic!("write steps: {e}"));
    }
    let out = child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("turnstile_verify.py: {e}"));
    assert!(
        out.status.success(),
        "turnstile_verify.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "turnstile_verify.py printed no JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

fn sites(origin: &str) -> String {
    format!(
        r#"
[[site]]
name = "shop"
hosts = ["localhost"]
origins = ["{origin}"]

[site.challenge]
difficulty = {{ low = 6, medium = 8, high = 10 }}

[[site.captcha]]
sitekey = "rk_compat_contact"
secret = "{SECRET}"
hostnames = ["localhost"]

[[site]]
name = "other"
hosts = ["other.test"]
origins = ["{origin}"]

[[site.captcha]]
sitekey = "rk_compat_other"
secret = "{OTHER_SECRET}"
"#
    )
}

/// A token from the widget's endpoints, as the widget would get it.
async fn captcha_token(rampart: &Rampart, action: &str) -> String {
    support::widget::token(rampart.http, "localhost", "rk_compat_contact", action).await
}

fn step(call: &str, secret: &str, token: &str) -> Value {
    json!({ "call": call, "secret": secret, "token": token, "remote_ip": "127.0.0.1" })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_third_party_turnstile_client_verifies_rampart_tokens_by_its_url_alone() {
    require_library();
    let origin = support::origin::start("shop").await;
    let rampart = Rampart::builder().sites(&sites(&origin.url())).start();
    let url = format!(
        "http://localhost:{}/.rampart/captcha/v1/siteverify",
        rampart.http.port()
    );

    let first = captcha_token(&rampart, "contact").await;
    let second = captcha_token(&rampart, "signup").await;
    let results = library(
        &url,
        &json!([
            // A wrong secret fails and does not use the token up.
            step(
                "get_response",
                "rs_wrong-secret-00000000000000000000000",
                &first
            ),
            step("verify", "rs_wrong-secret-00000000000000000000000", &first),
            // Another site's real secret does not verify this site's token.
            step("verify", OTHER_SECRET, &first),
            // First use: verified.
            step("verify", SECRET, &first),
            // Second use: refused, as Turnstile refuses a spent token.
            step("verify", SECRET, &first),
            step("get_response", SECRET, &first),
            // The full answer of a first use, as the library hands it over.
            step("get_response", SECRET, &second),
            // Not a token at all.
            step("get_response", SECRET, "not-a-token"),
            step("get_response", SECRET, ""),
        ]),
    );
    assert_eq!(results.len(), 9, "{results:?}");
    let codes = |v: &Value| v["error-codes"].clone();

    assert_eq!(results[0]["success"], false, "{}", results[0]);
    assert_eq!(codes(&results[0]), json!(["invalid-input-secret"]));
    assert_eq!(results[1], json!(false));
    assert_eq!(results[2], json!(false));
    assert_eq!(results[3], json!(true), "first use must verify");
    assert_eq!(results[4], json!(false), "second use must not");
    assert_eq!(results[5]["success"], false);
    assert_eq!(codes(&results[5]), json!(["timeout-or-duplicate"]));

    let full = &results[6];
    assert_eq!(full["success"], true, "{full}");
    assert_eq!(full["hostname"], "localhost");
    assert_eq!(full["action"], "signup");
    assert_eq!(codes(full), json!([]));
    assert!(
        full["challenge_ts"]
            .as_str()
            .is_some_and(|t| t.len() == 20 && t.ends_with('Z')),
        "challenge_ts should be RFC 3339 UTC like Turnstile's: {full}"
    );

    assert_eq!(results[7]["success"], false);
    assert_eq!(codes(&results[7]), json!(["invalid-input-response"]));
    assert_eq!(results[8]["success"], false);
    assert_eq!(codes(&results[8]), json!(["missing-input-response"]));
}
