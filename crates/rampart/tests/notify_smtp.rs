//! Notifications end to end: a real rampart with `[notify]` delivers the
//! operator's test email to a real SMTP server (Python's aiosmtpd, started
//! here), keeps it pending while that server is down and delivers it once
//! the server is back on the same port; webhooks arrive signed and are
//! retried after a failure. Only operators may use the endpoints.

mod support;

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac as _};
use serde_json::{Value, json};
use sha2::Sha256;
use support::api::{Api, create_account, person};
use support::{Rampart, free_port};

/// aiosmtpd's controller, writing each message (recipients first) to a
/// file of its own in the spool directory.
const SMTP_SERVER: &str = r#"
import os, sys, threading, time
from aiosmtpd.controller import Controller

class Spool:
    async def handle_DATA(self, server, session, envelope):
        name = os.path.join(sys.argv[2], "%d.eml" % time.time_ns())
        with open(name + ".tmp", "wb") as f:
            f.write(("X-Envelope-To: %s\r\n" % ",".join(envelope.rcpt_tos)).encode())
            f.write(envelope.content)
        os.rename(name + ".tmp", name)
        return "250 OK"

controller = Controller(Spool(), hostname="127.0.0.1", port=int(sys.argv[1]))
controller.start()
print("ready", flush=True)
threading.Event().wait()
"#;

const SECRET: &str = "test-webhook-secret-0123456789";

struct SmtpServer {
    child: Child,
}

impl SmtpServer {
    fn start(dir: &Path, port: u16, spool: &Path) -> SmtpServer {
        let script = dir.join("smtp_server.py");
        std::fs::write(&script, SMTP_SERVER).unwrap();
        // Debian's python3, where python3-aiosmtpd installs (scripts/test.sh).
        let mut child = Command::new("/usr/bin/python3")
            .arg(&script)
            .arg(port.to_string())
            .arg(spool)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 with aiosmtpd (apt install python3-aiosmtpd)");
        let mut line = String::new();
        let stdout = child.stdout.take().unwrap();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        assert_eq!(line.trim(), "ready", "the SMTP server did not start");
        SmtpServer { child }
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Messages in the spool whose text contains `needle`.
fn spooled(spool: &Path, needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(spool).unwrap().flatten() {
        let path: PathBuf = entry.path();
        if path.extension().is_some_and(|e| e == "eml") {
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            if text.contains(needle) {
                found.push(text);
            }
        }
    }
    found
}

fn wait_for<T>(what: &str, timeout: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn listed(api: &Api, status: &str) -> Vec<Value> {
    api.get(&format!("/api/v1/notifications?status={status}"))
        .expect(200)
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn find(rows: &[Value], id: &str) -> Option<Value> {
    rows.iter().find(|r| r["id"] == id).cloned()
}

fn notify_table(smtp_port: u16) -> String {
    format!(
        "[notify]\nsmtp = \"smtp://127.0.0.1:{smtp_port}\"\nfrom = \"abuse@rampart.test\"\n\
         webhook_secret = \"{SECRET}\"\nretry_base = \"1s\"\n"
    )
}

#[test]
fn smtp_delivery_survives_an_outage() {
    let dir = tempfile::tempdir().unwrap();
    let spool = dir.path().join("spool");
    std::fs::create_dir(&spool).unwrap();
    let port = free_port();
    let mut smtp = SmtpServer::start(dir.path(), port, &spool);
    let rampart = Rampart::builder().tables(&notify_table(port)).start();
    let admin = rampart.admin_api();

    // Delivered while the server is up.
    let first = admin
        .post(
            "/api/v1/notifications/test",
            &json!({"to": "owner@site.test", "subject": "SMTP check one", "body": "Hello from Rampart.\nSecond line."}),
        )
        .expect(201);
    assert_eq!(first["status"], "pending");
    assert_eq!(first["kind"], "email");
    let id = first["id"].as_str().unwrap().to_owned();
    let mail = wait_for("the first email", Duration::from_secs(15), || {
        spooled(&spool, "SMTP check one").pop()
    });
    assert!(mail.contains("X-Envelope-To: owner@site.test"), "{mail}");
    assert!(mail.contains("From: abuse@rampart.test"), "{mail}");
    assert!(mail.contains("Hello from Rampart."), "{mail}");
    let sent = wait_for("the first to show as sent", Duration::from_secs(5), || {
        find(&listed(&admin, "sent"), &id)
    });
    assert_eq!(sent["attempts"], 1);

    // The server goes away: the message stays pending, with an error that
    // does not name the recipient.
    smtp.stop();
    let second = admin
        .post(
            "/api/v1/notifications/test",
            &json!({"to": "reporter@victim.test", "subject": "SMTP check two", "body": "Queued through an outage."}),
        )
        .expect(201);
    let id2 = second["id"].as_str().unwrap().to_owned();
    let pending = wait_for("a failed attempt", Duration::from_secs(10), || {
        find(&listed(&admin, "pending"), &id2).filter(|r| r["attempts"].as_i64() >= Some(1))
    });
    let error = pending["last_error"].as_str().unwrap_or_default();
    assert!(!error.is_empty() && !error.contains("victim"), "{error}");
    assert!(spooled(&spool, "SMTP check two").is_empty());

    // Back on the same port: the retry (1s, 4s, 20s after failures with
    // retry_base = 1s) delivers it.
    let _smtp = SmtpServer::start(dir.path(), port, &spool);
    let mail = wait_for("the queued email", Duration::from_secs(30), || {
        spooled(&spool, "SMTP check two").pop()
    });
    assert!(
        mail.contains("X-Envelope-To: reporter@victim.test"),
        "{mail}"
    );
    wait_for("the second to show as sent", Duration::from_secs(5), || {
        find(&listed(&admin, "sent"), &id2)
    });
    assert!(listed(&admin, "pending").is_empty());

    // Recipients never reach the log.
    let log = rampart.stderr();
    assert!(
        !log.contains("owner@site.test") && !log.contains("reporter@victim.test"),
        "{log}"
    );
}

#[test]
fn only_operators_use_the_notification_endpoints() {
    let rampart = Rampart::builder()
        .tables(&notify_table(free_port()))
        .start();
    let admin = rampart.admin_api();
    let account = create_account(&admin, "acme");
    let owner = person(&admin, "owner@acme.test", "account_owner", Some(&account));
    let agent = person(&admin, "agent@ops.test", "trust_safety", None);
    let anonymous = Api::anonymous(rampart.admin);
    let message = json!({"to": "x@example.test", "subject": "s", "body": "b"});

    assert_eq!(
        owner.post("/api/v1/notifications/test", &message).status,
        403
    );
    assert_eq!(owner.get("/api/v1/notifications").status, 403);
    assert_eq!(
        anonymous
            .post("/api/v1/notifications/test", &message)
            .status,
        401
    );
    assert_eq!(anonymous.get("/api/v1/notifications").status, 401);
    assert_eq!(
        agent.post("/api/v1/notifications/test", &message).status,
        403
    );
    assert_eq!(agent.get("/api/v1/notifications").status, 200);

    let bad = admin.post(
        "/api/v1/notifications/test",
        &json!({"to": "not an address", "subject": "s", "body": "b"}),
    );
    assert_eq!((bad.status, bad.field()), (422, "to"));
    let bad = admin.get("/api/v1/notifications?status=lost");
    assert_eq!((bad.status, bad.field()), (422, "status"));

    let doc = admin.get("/api/v1/openapi.json").expect(200);
    assert!(doc["paths"]["/api/v1/notifications/test"]["post"].is_object());
    assert!(doc["paths"]["/api/v1/notifications"]["get"].is_object());
}

/// One request as the receiver saw it.
struct Received {
    signature: String,
    body: String,
}

/// Answers 503 to the first request and 204 to the rest, reporting each.
fn webhook_receiver() -> (u16, std::sync::mpsc::Receiver<Received>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for (n, stream) in listener.incoming().enumerate() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut signature = String::new();
            let mut length = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some((name, value)) = line.split_once(':') {
                    match name.to_ascii_lowercase().as_str() {
                        "rampart-signature" => signature = value.trim().to_owned(),
                        "content-length" => length = value.trim().parse().unwrap_or(0),
                        _ => {}
                    }
                }
            }
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            let status = if n == 0 {
                "503 Service Unavailable"
            } else {
                "204 No Content"
            };
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            );
            let body = String::from_utf8_lossy(&body).into_owned();
            let _ = tx.send(Received { signature, body });
        }
    });
    (port, rx)
}

#[test]
fn webhooks_are_signed_and_retried() {
    let (port, received) = webhook_receiver();
    let rampart = Rampart::builder()
        .tables(&notify_table(free_port()))
        .start();
    let admin = rampart.admin_api();
    let url = format!("http://127.0.0.1:{port}/hooks/rampart");
    let row = admin
        .post(
            "/api/v1/notifications/test",
            &json!({"to": url, "subject": "Webhook check", "body": "hello"}),
        )
        .expect(201);
    assert_eq!(row["kind"], "webhook");
    let id = row["id"].as_str().unwrap().to_owned();

    for attempt in 0..2 {
        let got = received
            .recv_timeout(Duration::from_secs(15))
            .unwrap_or_else(|_| panic!("webhook attempt {attempt} never came"));
        let payload: Value = serde_json::from_str(&got.body).unwrap();
        assert_eq!(payload["event"], "test");
        assert_eq!(payload["subject"], "Webhook check");
        assert_eq!(payload["body"], "hello");
        // t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>
        let (t, v1) = got
            .signature
            .split_once(',')
            .unwrap_or_else(|| panic!("signature {:?}", got.signature));
        let t = t.strip_prefix("t=").unwrap();
        let v1 = v1.strip_prefix("v1=").unwrap();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        assert!((now - t.parse::<i64>().unwrap()).abs() < 60);
        let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
        mac.update(format!("{t}.{}", got.body).as_bytes());
        let want: String = mac
            .finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(v1, want, "bad signature");
    }
    let sent = wait_for(
        "the webhook to show as sent",
        Duration::from_secs(5),
        || find(&listed(&admin, "sent"), &id),
    );
    assert_eq!(sent["attempts"], 2);
}
