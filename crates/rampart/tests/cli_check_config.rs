//! `rampart check-config` and `rampart serve` start-up: exit codes and
//! `FILE:LINE:COL: message` diagnostics, refusing a bad file, and the
//! zero-config start on built-in defaults.

mod support;

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use support::client::{Proto, get, send, send_tls};
use support::ops::{
    ChildGuard, connection_refused, describe, position_of, run_rampart, wait_child, wait_until,
};
use support::{BIN, free_addr, http_get_status, write, write_cert};

/// Writes `text` as `rampart.toml` in `dir` and returns its path.
fn config_file(dir: &Path, text: &str) -> PathBuf {
    let path = dir.join("rampart.toml");
    write(&path, text);
    path
}

fn check_config(path: &Path) -> std::process::Output {
    run_rampart(
        [
            std::ffi::OsStr::new("check-config"),
            "--config".as_ref(),
            path.as_os_str(),
        ],
        path.parent().unwrap_or(Path::new(".")),
    )
}

/// The diagnostics of a failed run: every stderr line that starts with the file name.
fn diagnostics(stderr: &str, path: &Path) -> Vec<String> {
    let prefix = format!("{}:", path.display());
    stderr
        .lines()
        .filter(|l| l.starts_with(&prefix))
        .map(str::to_string)
        .collect()
}

/// The diagnostic expected where `needle` first occurs in `text`: the line
/// must start with `FILE:LINE:COL: ` and contain every one of `parts`.
struct Expect<'a> {
    needle: &'a str,
    parts: &'a [&'a str],
}

fn assert_diagnostics(path: &Path, text: &str, stderr: &str, expected: &[Expect<'_>]) {
    let lines = diagnostics(stderr, path);
    for e in expected {
        let (line, col) = position_of(text, e.needle);
        let prefix = format!("{}:{line}:{col}: ", path.display());
        let found = lines
            .iter()
            .any(|l| l.starts_with(&prefix) && e.parts.iter().all(|p| l.contains(p)));
        assert!(
            found,
            "expected a diagnostic `{prefix}…{:?}` for {:?}; stderr was:\n{stderr}",
            e.parts, e.needle
        );
    }
    assert_eq!(
        lines.len(),
        expected.len(),
        "exactly one diagnostic per problem; stderr was:\n{stderr}"
    );
}

fn assert_refused_with(path: &Path, text: &str, expected: &[Expect<'_>]) {
    let output = check_config(path);
    assert_eq!(output.status.code(), Some(64), "{}", describe(&output));
    assert!(
        output.stdout.is_empty(),
        "nothing on stdout for a bad file: {}",
        describe(&output)
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_diagnostics(path, text, &stderr, expected);
}

const SITE: &str = "[[site]]\nname = \"shop\"\nhosts = [\"shop.test\", \"*.shop.test\"]\norigins = [\"http://127.0.0.1:9001\"]\n";

#[test]
fn valid_file_exits_zero() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    write_cert(dir.path(), "shop", &["shop.test"]);
    let text = format!(
        "[node]\nid = \"edge-7\"\ndata_dir = \"data\"\nshutdown_grace = \"5s\"\n\n[listen]\nhttp = \"127.0.0.1:18080\"\nhttps = {{ addr = \"127.0.0.1:18443\", proxy_protocol = true }}\nadmin = \"off\"\n\n[log]\naccess = \"off\"\n\n[proxy]\ntrusted_proxies = [\"10.0.0.0/8\"]\ntimeouts = {{ connect = \"1s\" }}\n\n{SITE}tls = {{ cert = \"shop.pem\", key = \"shop.key\" }}\nhealth = {{ path = \"/healthz\", interval = \"2s\", timeout = \"1s\" }}\n\n[[site]]\nname = \"blog\"\nhosts = [\"blog.test\"]\norigins = [{{ url = \"http://127.0.0.1:9002\", weight = 3 }}]\n"
    );
    let path = config_file(dir.path(), &text);
    let output = check_config(&path);
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        stdout.trim(),
        format!("{}: ok (2 sites)", path.display()),
        "{}",
        describe(&output)
    );
    assert!(output.stderr.is_empty(), "{}", describe(&output));

    // The smallest valid file: no sites at all.
    let empty = config_file(dir.path(), "");
    let output = check_config(&empty);
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
    assert!(String::from_utf8_lossy(&output.stdout).contains("ok (0 sites)"));
}

#[test]
fn unknown_keys_are_reported_at_the_key() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let cases: [(&str, Expect<'_>); 5] = [
        (
            "[node]\nid = \"a\"\nworkerz = 2\n",
            Expect {
                needle: "workerz",
                parts: &[
                    "unknown key \"workerz\" in [node]",
                    "did you mean \"workers\"?",
                ],
            },
        ),
        (
            "[listen]\n  http = \"127.0.0.1:18080\"\n  admn = \"127.0.0.1:19090\"\n",
            Expect {
                needle: "admn",
                parts: &[
                    "unknown key \"admn\" in [listen]",
                    "did you mean \"admin\"?",
                ],
            },
        ),
        (
            "[server]\nport = 1\n",
            Expect {
                needle: "server",
                parts: &["unknown key \"server\" at the top level", "expected one of"],
            },
        ),
        (
            "[[site]]\nname = \"shop\"\nhosts = [\"shop.test\"]\norigins = [\"http://127.0.0.1:9001\"]\nretires = 2\n",
            Expect {
                needle: "retires",
                parts: &[
                    "unknown key \"retires\" in [site]",
                    "did you mean \"retries\"?",
                ],
            },
        ),
        (
            "[[site]]\nname = \"shop\"\nhosts = [\"shop.test\"]\norigins = [\"http://127.0.0.1:9001\"]\nhealth = { path = \"/\", intervall = \"1s\" }\n",
            Expect {
                needle: "intervall",
                parts: &[
                    "unknown key \"intervall\" in [site.health]",
                    "did you mean \"interval\"?",
                ],
            },
        ),
    ];
    for (text, expect) in &cases {
        let path = config_file(dir.path(), text);
        assert_refused_with(&path, text, std::slice::from_ref(expect));
    }
}

#[test]
fn bad_addresses_are_reported_at_the_value() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let cases: [(&str, Expect<'_>); 5] = [
        (
            "[listen]\nhttp = \"127.0.0.1:99999\"\n",
            Expect {
                needle: "\"127.0.0.1:99999\"",
                parts: &[
                    "`listen.http`: invalid socket address \"127.0.0.1:99999\"",
                    "0 to 65535",
                ],
            },
        ),
        (
            "[listen]\nhttp = \"127.0.0.1:18080\"\nadmin = \"localhost:9090\"\n",
            Expect {
                needle: "\"localhost:9090\"",
                parts: &["`listen.admin`: invalid socket address", "not a name"],
            },
        ),
        (
            "[listen]\nhttps = { addr = \"10.0.0.1\", proxy_protocol = true }\n",
            Expect {
                needle: "\"10.0.0.1\"",
                parts: &["`listen.https`: invalid socket address", "port is missing"],
            },
        ),
        (
            "[listen]\nhttp = \"127.0.0.1:18080\"\nhttps = \"0.0.0.0:18080\"\n",
            Expect {
                needle: "\"0.0.0.0:18080\"",
                parts: &[
                    "`listen.https` (0.0.0.0:18080) conflicts with `listen.http` (127.0.0.1:18080, line 2)",
                ],
            },
        ),
        (
            "[[site]]\nname = \"shop\"\nhosts = [\"shop.test\"]\norigins = [\"127.0.0.1:9001\"]\n",
            Expect {
                needle: "\"127.0.0.1:9001\"",
                parts: &["invalid origin URL \"127.0.0.1:9001\""],
            },
        ),
    ];
    for (text, expect) in &cases {
        let path = config_file(dir.path(), text);
        assert_refused_with(&path, text, std::slice::from_ref(expect));
    }
}

#[test]
fn overlapping_hosts_between_sites_are_reported_at_the_second_one() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    // The same exact host (in another case) and the same wildcard in a later site.
    let text = format!(
        "{SITE}\n[[site]]\nname = \"blog\"\nhosts = [\"blog.test\", \"SHOP.test\"]\norigins = [\"http://127.0.0.1:9002\"]\n\n[[site]]\nname = \"api\"\nhosts = [\n  \"api.test\",\n  \"*.Shop.Test\",\n]\norigins = [\"http://127.0.0.1:9003\"]\n"
    );
    let path = config_file(dir.path(), &text);
    let first_line = position_of(&text, "\"shop.test\"").0;
    let first_line_wild = position_of(&text, "\"*.shop.test\"").0;
    assert_refused_with(
        &path,
        &text,
        &[
            Expect {
                needle: "\"SHOP.test\"",
                parts: &[&format!(
                    "host \"shop.test\" is already used by site \"shop\" (line {first_line})"
                )],
            },
            Expect {
                needle: "\"*.Shop.Test\"",
                parts: &[&format!(
                    "host \"*.shop.test\" is already used by site \"shop\" (line {first_line_wild})"
                )],
            },
        ],
    );

    // A wildcard and an exact name under it do not overlap: the exact name wins.
    let fine = format!(
        "{SITE}\n[[site]]\nname = \"www\"\nhosts = [\"www.shop.test\"]\norigins = [\"http://127.0.0.1:9002\"]\n"
    );
    let path = config_file(dir.path(), &fine);
    let output = check_config(&path);
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
}

#[test]
fn unreadable_certificates_are_reported_at_the_path() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let (_, key, _) = write_cert(dir.path(), "good", &["shop.test"]);
    std::fs::create_dir(dir.path().join("certs.d")).unwrap_or_else(|e| panic!("mkdir: {e}"));
    write(
        &dir.path().join("garbage.pem"),
        "this is not a certificate\n",
    );
    let key = key.display().to_string();
    let cases = [
        ("missing.pem", "cannot read"),
        ("certs.d", "it is a directory"),
        ("garbage.pem", "no certificate found"),
    ];
    for (cert, why) in cases {
        let text = format!("{SITE}tls = {{ cert = \"{cert}\", key = \"{key}\" }}\n");
        let path = config_file(dir.path(), &text);
        let needle = format!("\"{cert}\"");
        let message = "`site.tls.cert`: ".to_string();
        assert_refused_with(
            &path,
            &text,
            &[Expect {
                needle: &needle,
                parts: &[&message, why, &dir.path().join(cert).display().to_string()],
            }],
        );
    }
    // A missing key is reported at the key's path.
    let (cert, _, _) = write_cert(dir.path(), "other", &["shop.test"]);
    let text = format!(
        "{SITE}tls = {{ cert = \"{}\", key = \"nokey.pem\" }}\n",
        cert.display()
    );
    let path = config_file(dir.path(), &text);
    assert_refused_with(
        &path,
        &text,
        &[Expect {
            needle: "\"nokey.pem\"",
            parts: &["`site.tls.key`: cannot read"],
        }],
    );
}

/// One file with a problem of every kind: each is printed, in file order.
fn file_with_several_problems(dir: &Path) -> (String, Vec<(&'static str, &'static str)>) {
    let text = format!(
        "[node]\nid = \"edge-1\"\nworkerz = 4\n\n[listen]\nhttp = \"127.0.0.1:99999\"\nadmin = \"127.0.0.1:19090\"\n\n{SITE}\n[[site]]\nname = \"blog\"\nhosts = [\"blog.test\", \"shop.test\"]\norigins = [\"http://127.0.0.1:9002\"]\ntls = {{ cert = \"no-such-cert.pem\", key = \"{}\" }}\n",
        write_cert(dir, "blog", &["blog.test"]).1.display()
    );
    let expected = vec![
        ("workerz", "unknown key \"workerz\" in [node]"),
        (
            "\"127.0.0.1:99999\"",
            "`listen.http`: invalid socket address",
        ),
        (
            "\"shop.test\"]\norigins = [\"http://127.0.0.1:9002\"",
            "host \"shop.test\" is already used by site \"shop\"",
        ),
        ("\"no-such-cert.pem\"", "`site.tls.cert`: cannot read"),
    ];
    (text, expected)
}

#[test]
fn several_problems_are_all_printed_in_file_order() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let (text, expected) = file_with_several_problems(dir.path());
    let path = config_file(dir.path(), &text);
    let output = check_config(&path);
    assert_eq!(output.status.code(), Some(64), "{}", describe(&output));
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let lines = diagnostics(&stderr, &path);
    assert_eq!(lines.len(), expected.len(), "stderr:\n{stderr}");
    for (line, (needle, message)) in lines.iter().zip(&expected) {
        let (l, c) = position_of(&text, needle);
        let prefix = format!("{}:{l}:{c}: {message}", path.display());
        assert!(
            line.starts_with(&prefix),
            "expected {prefix:?}, got {line:?}\nstderr:\n{stderr}"
        );
    }
}

#[test]
fn syntax_errors_and_missing_files_are_positioned_too() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let text = "[node]\nid = \"a\"\ndata_dir = data\n";
    let path = config_file(dir.path(), text);
    let output = check_config(&path);
    assert_eq!(output.status.code(), Some(64), "{}", describe(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    let (line, col) = position_of(text, "data\n");
    assert!(
        stderr.starts_with(&format!(
            "{}:{line}:{col}: TOML syntax error",
            path.display()
        )),
        "{stderr}"
    );

    let missing = dir.path().join("nope.toml");
    let output = check_config(&missing);
    assert_eq!(output.status.code(), Some(64), "{}", describe(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.starts_with(&format!(
            "{}:1:1: cannot read config file",
            missing.display()
        )),
        "{stderr}"
    );
}

#[test]
fn serve_refuses_a_bad_file_without_listening() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let http = free_addr();
    let admin = free_addr();
    // Valid listeners, so only the site problems stop it.
    let (problems, expected) = file_with_several_problems(dir.path());
    let text = problems
        .replace("\"127.0.0.1:99999\"", &format!("\"{http}\""))
        .replace("\"127.0.0.1:19090\"", &format!("\"{admin}\""));
    let path = config_file(dir.path(), &text);

    let stderr_path = dir.path().join("stderr.log");
    let child = Command::new(BIN)
        .args(["serve", "--config"])
        .arg(&path)
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&stderr_path).unwrap_or_else(|e| panic!("stderr file: {e}")))
        .spawn()
        .unwrap_or_else(|e| panic!("spawn: {e}"));
    let mut child = ChildGuard(child);
    let status = wait_child(&mut child.0, Duration::from_secs(20));
    let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
    let status =
        status.unwrap_or_else(|| panic!("serve did not exit on a bad config; stderr:\n{stderr}"));
    assert_eq!(status.code(), Some(64), "stderr:\n{stderr}");

    let lines = diagnostics(&stderr, &path);
    let still_wrong: Vec<_> = expected
        .iter()
        .filter(|(needle, _)| !needle.contains("99999"))
        .collect();
    assert_eq!(lines.len(), still_wrong.len(), "stderr:\n{stderr}");
    for (line, (needle, message)) in lines.iter().zip(&still_wrong) {
        let (l, c) = position_of(&text, needle);
        let prefix = format!("{}:{l}:{c}: {message}", path.display());
        assert!(
            line.starts_with(&prefix),
            "expected {prefix:?}, got {line:?}"
        );
    }
    assert!(stderr.contains("not started"), "stderr:\n{stderr}");
    assert!(connection_refused(http), "nothing may listen on {http}");
    assert!(connection_refused(admin), "nothing may listen on {admin}");
    assert!(
        !dir.path().join("rampart-data").exists(),
        "a refused start must not create the data dir"
    );
}

const DEFAULT_PORTS: [u16; 3] = [8080, 8443, 9090];

fn default_ports_free() -> bool {
    DEFAULT_PORTS
        .iter()
        .all(|&p| TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], p))).is_ok())
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_without_config_runs_on_defaults() {
    if !default_ports_free() {
        eprintln!(
            "NOTE: skipping serve_without_config_runs_on_defaults: one of 127.0.0.1:{DEFAULT_PORTS:?} is in use"
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let stderr_path = dir.path().join("stderr.log");
    let child = Command::new(BIN)
        .arg("serve")
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&stderr_path).unwrap_or_else(|e| panic!("stderr file: {e}")))
        .spawn()
        .unwrap_or_else(|e| panic!("spawn: {e}"));
    let mut child = ChildGuard(child);
    let stderr = || std::fs::read_to_string(&stderr_path).unwrap_or_default();

    let admin: SocketAddr = ([127, 0, 0, 1], 9090).into();
    let http: SocketAddr = ([127, 0, 0, 1], 8080).into();
    let https: SocketAddr = ([127, 0, 0, 1], 8443).into();
    let ready = wait_until(Duration::from_secs(20), || {
        http_get_status(admin, "/healthz") == Some(200)
    });
    assert!(ready, "defaults did not come up; stderr:\n{}", stderr());
    assert!(
        stderr().contains("running on built-in defaults"),
        "stderr:\n{}",
        stderr()
    );

    let data = dir.path().join("rampart-data");
    let cert_path = data.join("tls").join("default-cert.pem");
    let key_path = data.join("tls").join("default-key.pem");
    let cert_pem = std::fs::read_to_string(&cert_path)
        .unwrap_or_else(|e| panic!("{}: {e}", cert_path.display()));
    assert!(
        cert_pem.starts_with("-----BEGIN CERTIFICATE-----"),
        "{cert_pem}"
    );
    let key_pem = std::fs::read_to_string(&key_path)
        .unwrap_or_else(|e| panic!("{}: {e}", key_path.display()));
    assert!(key_pem.contains("PRIVATE KEY-----"));
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_path)
            .unwrap_or_else(|e| panic!("stat key: {e}"))
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "the private key is owner-only");
    }
    let pid = std::fs::read_to_string(data.join("rampart.pid")).unwrap_or_default();
    assert_eq!(pid.trim(), child.pid().to_string(), "pid file");

    // The welcome page, through the edge on :8080.
    let reply = send(http, Proto::Http1, get("anything.example", "/")).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.ray().len(), 16, "Rampart-Ray header");
    assert!(
        reply
            .header("content-type")
            .unwrap_or("")
            .starts_with("text/html")
    );
    let html = reply.text();
    assert!(html.contains("Rampart is running"), "{html}");
    assert!(html.contains("built-in defaults"), "{html}");
    assert!(
        html.contains(&reply.ray()),
        "the page shows its reference id"
    );

    // HTTPS on :8443 presents the self-signed certificate from the data dir.
    use rustls::pki_types::pem::PemObject as _;
    let der = rustls::pki_types::CertificateDer::from_pem_slice(cert_pem.as_bytes())
        .unwrap_or_else(|e| panic!("default cert PEM: {e:?}"))
        .to_vec();
    let tls = send_tls(
        https,
        "localhost",
        &der,
        Proto::Http1,
        get("localhost", "/"),
    )
    .await;
    assert_eq!(tls.status, 200);
    assert_eq!(tls.peer_cert.as_deref(), Some(der.as_slice()));
    assert!(tls.header("rampart-ray").is_some());

    // SIGTERM: clean exit, pid file removed.
    support::ops::kill(child.pid(), "TERM");
    let status = wait_child(&mut child.0, Duration::from_secs(20))
        .unwrap_or_else(|| panic!("no exit after SIGTERM; stderr:\n{}", stderr()));
    assert!(status.success(), "{status:?}; stderr:\n{}", stderr());
    assert!(
        !data.join("rampart.pid").exists(),
        "pid file removed on exit"
    );
    assert!(connection_refused(http));
}
