//! The real OWASP CRS v4 loaded and run end to end.

use std::net::SocketAddr;
use std::path::PathBuf;

use rampart_waf::{HttpRequest, RuleSet, RuleSetBuilder};

/// `RAMPART_CRS_DIR`, else `shared/crs` beside the workspace (one level
/// further up from a worktree under `wt/`).
fn crs_dir() -> Option<PathBuf> {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let candidates = match std::env::var_os("RAMPART_CRS_DIR") {
        Some(d) => vec![PathBuf::from(d)],
        None => vec![
            manifest.join("../../../shared/crs"),
            manifest.join("../../../../shared/crs"),
        ],
    };
    let found = candidates
        .iter()
        .find(|d| d.join("rules").is_dir())
        .cloned();
    if found.is_none() {
        eprintln!("skipping: no CRS at {candidates:?} (set RAMPART_CRS_DIR)");
    }
    found
}

fn load() -> Option<RuleSet> {
    let dir = crs_dir()?;
    match RuleSetBuilder::load_crs(&dir, "") {
        Ok(rs) => Some(rs),
        Err(e) => panic!("CRS failed to load: {e}"),
    }
}

fn get(uri: &str) -> HttpRequest {
    HttpRequest {
        method: "GET".into(),
        uri: uri.into(),
        protocol: "HTTP/1.1".into(),
        headers: vec![
            ("Host".into(), b"example.com".to_vec()),
            (
                "User-Agent".into(),
                b"Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0".to_vec(),
            ),
            (
                "Accept".into(),
                b"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8".to_vec(),
            ),
            ("Accept-Language".into(), b"en-US,en;q=0.5".to_vec()),
            ("Accept-Encoding".into(), b"gzip, deflate, br".to_vec()),
            ("Connection".into(), b"keep-alive".to_vec()),
        ],
        body: Vec::new(),
        client: SocketAddr::from(([192, 0, 2, 10], 40000)),
        server: SocketAddr::from(([192, 0, 2, 1], 80)),
    }
}

struct Outcome {
    ids: Vec<u64>,
    blocked_by: Option<u64>,
    score: Option<String>,
}

fn run(rs: &RuleSet, req: &HttpRequest) -> Outcome {
    let mut tx = rs.transaction("test-unique-id");
    let mut blocked_by = tx.process_request_headers(req).map(|i| i.rule_id);
    if blocked_by.is_none() {
        blocked_by = tx.process_request_body(req).map(|i| i.rule_id);
    }
    Outcome {
        ids: tx.matched_rules().iter().map(|m| m.id).collect(),
        blocked_by,
        score: tx.tx_var("blocking_inbound_anomaly_score"),
    }
}

#[test]
fn crs_loads_and_passes_a_benign_get() {
    let Some(rs) = load() else { return };
    assert!(rs.rule_count() > 500, "only {} rules", rs.rule_count());
    let out = run(&rs, &get("/index.html?page=2&sort=name"));
    assert_eq!(out.blocked_by, None, "matched {:?}", out.ids);
    assert_eq!(out.score.as_deref(), Some("0"), "matched {:?}", out.ids);
}

fn assert_blocked(out: &Outcome, family: u64) {
    assert_eq!(out.blocked_by, Some(949110), "matched {:?}", out.ids);
    assert!(
        out.ids.iter().any(|id| id / 1000 == family),
        "no {family}xxx rule among {:?}",
        out.ids
    );
}

#[test]
fn crs_blocks_sql_injection() {
    let Some(rs) = load() else { return };
    let out = run(&rs, &get("/?id=1%27%20OR%20%271%27%3D%271"));
    assert_blocked(&out, 942);
    // Quotes as some clients send them, unencoded.
    let out = run(&rs, &get("/?id=1'%20OR%20'1'='1"));
    assert_blocked(&out, 942);
}

#[test]
fn crs_blocks_xss() {
    let Some(rs) = load() else { return };
    let out = run(&rs, &get("/search?q=%3Cscript%3Ealert(1)%3C%2Fscript%3E"));
    assert_blocked(&out, 941);
}

#[test]
fn crs_blocks_path_traversal_to_etc_passwd() {
    let Some(rs) = load() else { return };
    let out = run(&rs, &get("/download?file=../../../../etc/passwd"));
    assert_blocked(&out, 930);
}

fn load_with(extra: &str) -> Option<RuleSet> {
    let dir = crs_dir()?;
    Some(RuleSetBuilder::load_crs(&dir, extra).unwrap_or_else(|e| panic!("{e}")))
}

#[test]
fn crs_inspects_urlencoded_post_bodies() {
    let Some(rs) = load() else { return };
    let mut req = get("/login");
    req.method = "POST".into();
    req.headers.push((
        "Content-Type".into(),
        b"application/x-www-form-urlencoded".to_vec(),
    ));
    req.body = b"user=admin'--&pass=1' UNION SELECT password FROM users--".to_vec();
    req.headers.push((
        "Content-Length".into(),
        req.body.len().to_string().into_bytes(),
    ));
    let out = run(&rs, &req);
    assert_blocked(&out, 942);
}

#[test]
fn crs_setup_extra_directives_apply() {
    // DetectionOnly: the attack is scored and recorded, nothing blocks.
    let Some(rs) = load_with("SecRuleEngine DetectionOnly") else {
        return;
    };
    let out = run(&rs, &get("/download?file=../../../../etc/passwd"));
    assert_eq!(out.blocked_by, None);
    assert!(out.ids.contains(&949110), "{:?}", out.ids);
    assert_ne!(out.score.as_deref(), Some("0"));

    // A rule exclusion written for CRS (by id, before the rules load).
    let Some(rs) = load_with("SecRuleRemoveById 930100-930130 932160 949110") else {
        return;
    };
    let out = run(&rs, &get("/download?file=../../../../etc/passwd"));
    assert_eq!(out.blocked_by, None, "{:?}", out.ids);
    assert!(!out.ids.iter().any(|id| (930100..=930130).contains(id)));

    // Paranoia level 2 runs the PL2 rules too (tagged paranoia-level/2).
    let pl2 = "SecAction \"id:900000,phase:1,pass,nolog,setvar:tx.blocking_paranoia_level=2\"";
    let Some(rs) = load_with(pl2) else { return };
    let out = run(&rs, &get("/index.html?page=2&sort=name"));
    assert_eq!(out.blocked_by, None, "{:?}", out.ids);
    assert!(
        !out.ids.contains(&911014),
        "PL2 rules were skipped: {:?}",
        out.ids
    );
}
