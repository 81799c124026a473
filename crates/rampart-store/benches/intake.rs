//! Abuse-report intake on the embedded SQLite store: how many reports per
//! second the store files (each in its own transaction with its audit row,
//! merged into cases) with concurrent writers, and that none is lost.
//!
//! `cargo bench -p rampart-store --bench intake [-- REPORTS WRITERS]`
//! (defaults 4,000 reports, 16 concurrent writers, 40 sites).

use std::sync::Arc;
use std::time::Instant;

use rampart_store::{Actor, NewAbuseReport, SiteWrite, Store};

const CATEGORIES: [&str; 4] = ["phishing", "malware", "spam", "violent_threats"];

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1).filter(|a| !a.starts_with('-'));
    let reports: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(4_000);
    let writers: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(16);
    let dir = tempfile::tempdir()?;
    let store = Arc::new(Store::open_in_data_dir(dir.path()).await?);
    let actor = Actor::system("bench");
    let account = store.create_account(&actor, "bench").await?;
    let mut sites = Vec::new();
    for i in 0..40 {
        let write = SiteWrite {
            name: format!("s{i}"),
            hosts: vec![format!("s{i}.test")],
            spec: serde_json::json!({ "origins": ["http://127.0.0.1:9"] }),
        };
        let site = store.create_site(&actor, &account.id, write, false).await?;
        sites.push(site.id);
    }
    let sites = Arc::new(sites);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..writers {
        let (store, sites, account) = (store.clone(), sites.clone(), account.id.clone());
        tasks.push(tokio::spawn(async move {
            let actor = Actor::system("public abuse report");
            let mut filed = 0usize;
            for n in (w..reports).step_by(writers) {
                let Some(site_id) = sites.get(n % sites.len()).cloned() else {
                    continue;
                };
                let new = NewAbuseReport {
                    site_id,
                    account_id: account.clone(),
                    category: CATEGORIES
                        .get(n % CATEGORIES.len())
                        .copied()
                        .unwrap_or("spam")
                        .into(),
                    urls: vec![format!("https://s{}.test/page/{n}", n % 40)],
                    explanation: "seen on the page".into(),
                    reporter_name: Some("Reporter".into()),
                    reporter_email: Some(format!("r{n}@mail.test")),
                    good_faith: true,
                    share_with_owner: "anonymous".into(),
                    share_with_host: "anonymous".into(),
                    client_ip_hash: format!("ip{n}"),
                };
                if store
                    .file_abuse_report(&actor, new, 86_400_000)
                    .await
                    .is_ok()
                {
                    filed += 1;
                }
            }
            filed
        }));
    }
    let mut filed = 0;
    for task in tasks {
        filed += task.await?;
    }
    let elapsed = started.elapsed();
    let stored: usize = store
        .transparency(0, i64::MAX)
        .await?
        .reports_by_category
        .values()
        .map(|n| usize::try_from(*n).unwrap_or(0))
        .sum();
    println!(
        "{filed} of {reports} reports filed by {writers} writers in {:.2} s: {:.0} reports/s; {stored} in the store (lost: {})",
        elapsed.as_secs_f64(),
        filed as f64 / elapsed.as_secs_f64(),
        reports.saturating_sub(stored),
    );
    Ok(())
}
