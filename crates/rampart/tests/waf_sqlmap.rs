//! The WAF against a real attack tool: sqlmap (Debian's package) on a
//! genuinely SQL-injectable origin (`tools/sqli_app.py`, SQLite). Straight
//! at the origin, sqlmap finds and confirms the injection, which proves the
//! tool and the app work here; through Rampart with the OWASP CRS in block
//! mode, it finds nothing, and the blocks are Rampart's (403 block pages
//! with a ray id). sqlmap sends a browser User-Agent (`--random-agent`),
//! so the CRS has to catch the payloads, not the scanner's name.

mod support;

use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use support::Rampart;
use support::ops::{http_call, required_program};
use support::waf::crs_dir;

const FOUND: &str = "identified the following injection point";

/// The injectable app on a free port, killed on drop.
struct SqliApp {
    child: Child,
    addr: SocketAddr,
}

impl SqliApp {
    fn start() -> SqliApp {
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/tools/sqli_app.py");
        let port = support::free_port();
        let mut child = Command::new("python3")
            .arg(&script)
            .arg(port.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("python3 {}: {e}", script.display()));
        // It prints its port once it listens: the readiness signal.
        let mut line = String::new();
        if let Some(out) = child.stdout.take() {
            let _ = BufReader::new(out).read_line(&mut line);
        }
        assert_eq!(line.trim(), port.to_string(), "the app did not start");
        SqliApp {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
        }
    }
}

impl Drop for SqliApp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs sqlmap on `GET /item?id=1` at `addr` (non-interactive, fresh
/// session) and returns what it printed.
fn sqlmap(addr: SocketAddr, work: &Path, extra: &[&str]) -> String {
    let output = Command::new(required_program("sqlmap", "sqlmap", "the attack tool"))
        .arg("-u")
        .arg(format!("http://{addr}/item?id=1"))
        .args([
            "--batch",
            "--random-agent",
            "--flush-session",
            "--disable-coloring",
            "--time-sec=2",
            "--timeout=10",
            "--retries=1",
        ])
        .args(extra)
        .arg(format!("--output-dir={}", work.display()))
        .env("HOME", work)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("run sqlmap: {e}"));
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn sqlmap_finds_the_injection_only_without_the_waf() {
    let Some(crs) = crs_dir() else {
        eprintln!("skipped: no CRS directory (set RAMPART_CRS_DIR)");
        return;
    };
    let app = SqliApp::start();
    let work = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));

    let direct = sqlmap(app.addr, &work.path().join("direct"), &[]);
    assert!(
        direct.contains(FOUND),
        "sqlmap did not find the injection even without the WAF, so the test \
         proves nothing:\n{direct}"
    );

    let rampart = Rampart::start(&format!(
        "[[site]]\nname = \"shop\"\nhosts = [\"shop.test\", \"127.0.0.1\"]\n\
         origins = [\"http://{}\"]\nwaf = {{ mode = \"block\", crs = \"{}\" }}\n",
        app.addr,
        crs.display()
    ));
    // The page is reachable through the WAF for ordinary requests.
    let benign = http_call(rampart.http, "GET", "/item?id=2");
    assert!(
        benign
            .as_ref()
            .is_some_and(|(status, body)| *status == 200 && body.contains("red shirt")),
        "{benign:?}"
    );
    // Plain, then disguised the way attackers get past naive filters
    // (comments for spaces, BETWEEN for comparisons, random case).
    for (run, extra) in [
        ("waf", &[][..]),
        (
            "waf-tamper",
            &["--tamper=space2comment,between,randomcase"][..],
        ),
    ] {
        let through = sqlmap(rampart.http, &work.path().join(run), extra);
        assert!(
            !through.contains(FOUND),
            "{run}: sqlmap found the injection through the WAF:\n{through}"
        );
        assert!(
            through.contains("403 (Forbidden)"),
            "{run}: sqlmap never met the WAF's 403:\n{through}"
        );
    }
    let blocked = http_call(
        rampart.http,
        "GET",
        "/item?id=1%20UNION%20SELECT%20password%20FROM%20users",
    );
    assert_eq!(blocked.map(|(status, _)| status), Some(403));
}
