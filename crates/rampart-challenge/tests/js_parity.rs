//! The browser's hashes and the edge's are the same function: the code the
//! Web Worker runs (`assets/pow-core.js`, under Node) and this crate hash
//! the same inputs, SHA-256 and scrypt at several parameters, and must
//! agree bit for bit. A challenge solved in JavaScript must verify here.

use std::io::Write;
use std::process::{Command, Stdio};

use rampart_challenge::memory_hard::scrypt_hash;
use rampart_challenge::pow::{self, Algorithm, PowParams};
use rampart_challenge::{KeyRing, LocalSpentSet, PrefixPolicy, SigningKey};
use sha2::{Digest, Sha256};

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Runs the JS hasher on JSON lines; one hex hash per line back.
fn js_hashes(lines: &[serde_json::Value]) -> Vec<String> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/test/hash-cli.js");
    let mut child = Command::new("node")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("node (Node.js 20 is on every machine of this project): {e}"));
    let mut input = String::new();
    for line in lines {
        input.push_str(&line.to_string());
        input.push('\n');
    }
    child
        .stdin
        .take()
        .unwrap_or_else(|| panic!("stdin"))
        .write_all(input.as_bytes())
        .unwrap_or_else(|e| panic!("write: {e}"));
    let out = child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("node: {e}"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

fn inputs() -> Vec<String> {
    let ring = KeyRing::new(
        SigningKey {
            id: 3,
            secret: [9; 32],
        },
        None,
    );
    let ip = "192.0.2.1".parse().unwrap_or_else(|e| panic!("{e}"));
    let challenge = pow::issue(
        &ring,
        "shop",
        ip,
        &PrefixPolicy::default(),
        &PowParams::DEFAULT_SHA256,
        1_800_000_000,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let mut out = vec![
        String::new(),
        "abc".into(),
        "é and 漢字 and emoji 🦀".into(),
        "x".repeat(55),
        "x".repeat(56),
        "x".repeat(64),
        "x".repeat(1000),
    ];
    for n in [0u64, 7, 42, 1_000_000, u64::MAX] {
        out.push(format!("{challenge}:{n}"));
    }
    out
}

#[test]
fn sha256_agrees() {
    let inputs = inputs();
    let lines: Vec<_> = inputs
        .iter()
        .map(|i| serde_json::json!({"algorithm": "sha256", "input": i}))
        .collect();
    let js = js_hashes(&lines);
    assert_eq!(js.len(), inputs.len());
    for (input, js) in inputs.iter().zip(js) {
        assert_eq!(js, hex(&Sha256::digest(input.as_bytes())), "{input:?}");
    }
}

#[test]
fn scrypt_agrees_at_several_parameters() {
    let inputs = inputs();
    let params = [(4u8, 1u8, 1u8), (10, 8, 1), (6, 2, 2), (8, 3, 1)];
    let mut lines = Vec::new();
    let mut expected = Vec::new();
    for (i, input) in inputs.iter().enumerate() {
        let (n_log2, r, p) = params[i % params.len()];
        lines.push(serde_json::json!({"algorithm": "scrypt", "input": input, "n_log2": n_log2, "r": r, "p": p}));
        expected.push(hex(
            &scrypt_hash(input.as_bytes(), n_log2, r, p).unwrap_or_else(|e| panic!("{e}"))
        ));
    }
    assert_eq!(js_hashes(&lines), expected);
}

/// A nonce found by the JS hash verifies in Rust: solve a small scrypt
/// challenge by asking Node for hashes of candidate nonces.
#[test]
fn a_solution_found_with_the_js_hash_verifies() {
    let ring = KeyRing::new(
        SigningKey {
            id: 1,
            secret: [1; 32],
        },
        None,
    );
    let ip = "198.51.100.4".parse().unwrap_or_else(|e| panic!("{e}"));
    let policy = PrefixPolicy::default();
    let params = PowParams {
        algorithm: Algorithm::Scrypt {
            n_log2: 4,
            r: 1,
            p: 1,
        },
        difficulty: 4,
        ttl_secs: 300,
    };
    let now = 1_800_000_000;
    let challenge =
        pow::issue(&ring, "shop", ip, &policy, &params, now).unwrap_or_else(|e| panic!("{e}"));
    let lines: Vec<_> = (0..256u64)
        .map(|n| serde_json::json!({"algorithm": "scrypt", "input": format!("{challenge}:{n}"), "n_log2": 4, "r": 1, "p": 1}))
        .collect();
    let hashes = js_hashes(&lines);
    let nonce = hashes
        .iter()
        .position(|h| h.starts_with('0'))
        .unwrap_or_else(|| panic!("no 4-bit solution among 256 tries"));
    let spent = LocalSpentSet::new(16);
    pow::verify(
        &ring,
        &challenge,
        &nonce.to_string(),
        "shop",
        ip,
        &policy,
        now + 1,
        &spent,
    )
    .unwrap_or_else(|e| panic!("JS solution refused: {e}"));
}
