//! A cluster on this machine: one real PostgreSQL (the test kit's) and N
//! real `rampart serve` nodes with distinct `node.id`s, each with its own
//! directory, data dir and free ports, all on the same `[store] url`.
//!
//! ```ignore
//! let mut cluster = Cluster::builder(3)
//!     .sites(SITES)
//!     .node_tables(|i| format!("[shared]\nurl = \"{}\"\n", redis.url()))
//!     .start();
//! let api = cluster.api(1); // the operator token works on every node
//! cluster.kill(2);          // SIGKILL
//! cluster.stop_postgres();
//! ```

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rampart_testkit::Postgres;

use super::Rampart;
use super::api::{Api, bootstrap_token};
use super::ops::wait_until;

/// What a per-node snippet is made from: the node's index.
type NodeTables = Box<dyn Fn(usize) -> String + Send + Sync>;

pub struct ClusterBuilder {
    nodes: usize,
    sites: String,
    tables: String,
    node_keys: String,
    node_tables: Option<NodeTables>,
    env: Vec<(String, String)>,
}

impl ClusterBuilder {
    /// `[[site]]` tables every node's file holds (TOML text).
    pub fn sites(mut self, toml: &str) -> Self {
        self.sites.push_str(toml);
        self.sites.push('\n');
        self
    }

    /// Whole tables for every node (placed after `[store]`).
    pub fn tables(mut self, toml: &str) -> Self {
        self.tables.push_str(toml);
        self.tables.push('\n');
        self
    }

    /// Extra keys in every node's `[node]` table.
    pub fn node(mut self, toml: &str) -> Self {
        self.node_keys.push_str(toml);
        self.node_keys.push('\n');
        self
    }

    /// Whole tables for node `i` only, e.g. `[shared] url = "redis://…"`.
    pub fn node_tables(mut self, tables: impl Fn(usize) -> String + Send + Sync + 'static) -> Self {
        self.node_tables = Some(Box::new(tables));
        self
    }

    /// An environment variable for every node's process.
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_string(), value.to_string()));
        self
    }

    /// Starts PostgreSQL, then the first node (which bootstraps the store
    /// and prints the operator token), then the others side by side; returns
    /// once every node answers its readiness probe.
    pub fn start(self) -> Cluster {
        assert!(self.nodes > 0, "a cluster needs at least one node");
        let postgres = Postgres::start();
        let store_url = postgres.create_database_blocking();
        let first = self.start_node(0, &store_url);
        let token = bootstrap_token(&first.stderr())
            .unwrap_or_else(|| panic!("no admin token from the first node:\n{}", first.stderr()));
        let mut nodes = vec![first];
        let rest: Vec<Rampart> = std::thread::scope(|scope| {
            let handles: Vec<_> = (1..self.nodes)
                .map(|i| {
                    let this = &self;
                    let url = &store_url;
                    scope.spawn(move || this.start_node(i, url))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|_| panic!("a node did not start")))
                .collect()
        });
        nodes.extend(rest);
        Cluster {
            killed: vec![false; nodes.len()],
            nodes,
            token,
            store_url,
            postgres,
        }
    }

    fn start_node(&self, i: usize, store_url: &str) -> Rampart {
        let own = self.node_tables.as_ref().map(|f| f(i)).unwrap_or_default();
        let mut builder = Rampart::builder()
            .node_id(&node_id(i))
            .node(&self.node_keys)
            .tables(&format!("[store]\nurl = \"{store_url}\"\n"))
            .tables(&self.tables)
            .tables(&own)
            .sites(&self.sites);
        for (key, value) in &self.env {
            builder = builder.env(key, value);
        }
        builder.start()
    }
}

/// The `node.id` of node `i`: `node-a`, `node-b`, … (`node-26`, … past z).
pub fn node_id(i: usize) -> String {
    match u8::try_from(i) {
        Ok(n) if n < 26 => format!("node-{}", char::from(b'a' + n)),
        _ => format!("node-{i}"),
    }
}

/// Running nodes on one PostgreSQL. Nodes are killed, then PostgreSQL
/// stopped and removed, on drop.
pub struct Cluster {
    // Declared first so the nodes go before the database they use.
    pub nodes: Vec<Rampart>,
    /// Nodes [`Cluster::kill`] killed and nothing restarted since.
    killed: Vec<bool>,
    token: String,
    pub store_url: String,
    pub postgres: Postgres,
}

impl Cluster {
    pub fn builder(nodes: usize) -> ClusterBuilder {
        ClusterBuilder {
            nodes,
            sites: String::new(),
            tables: String::new(),
            node_keys: String::new(),
            node_tables: None,
            env: Vec::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn node(&self, i: usize) -> &Rampart {
        self.nodes
            .get(i)
            .unwrap_or_else(|| panic!("no node {i} in a cluster of {}", self.nodes.len()))
    }

    pub fn node_id(&self, i: usize) -> String {
        node_id(i)
    }

    /// Node `i`'s admin listener (API, dashboard, /metrics, /healthz).
    pub fn admin(&self, i: usize) -> SocketAddr {
        self.node(i).admin
    }

    /// Node `i`'s plain HTTP listener (the edge).
    pub fn http(&self, i: usize) -> SocketAddr {
        self.node(i).http
    }

    pub fn https(&self, i: usize) -> SocketAddr {
        self.node(i).https
    }

    /// The operator admin token the first node printed; the store holds
    /// it, so every node accepts it.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// The admin API of node `i` with the operator token.
    pub fn api(&self, i: usize) -> Api {
        Api::new(self.admin(i), &self.token)
    }

    /// Kills node `i` with SIGKILL (no flush, no goodbye) and waits until
    /// the process is gone.
    pub fn kill(&mut self, i: usize) {
        let node = self
            .nodes
            .get_mut(i)
            .unwrap_or_else(|| panic!("no node {i}"));
        node.signal("KILL");
        assert!(
            node.wait_exit(Duration::from_secs(10)).is_some(),
            "node {i} survived SIGKILL"
        );
        if let Some(killed) = self.killed.get_mut(i) {
            *killed = true;
        }
    }

    /// Whether node `i` runs (not killed by [`Cluster::kill`]).
    pub fn is_live(&self, i: usize) -> bool {
        !self.killed.get(i).copied().unwrap_or(true)
    }

    /// Starts node `i` again on its config and data dir (killing it first
    /// if it still runs); returns once it is ready.
    pub fn restart(&mut self, i: usize) {
        self.nodes
            .get_mut(i)
            .unwrap_or_else(|| panic!("no node {i}"))
            .kill_and_restart();
        if let Some(killed) = self.killed.get_mut(i) {
            *killed = false;
        }
    }

    /// Stops PostgreSQL (fast shutdown: connections are cut).
    pub fn stop_postgres(&mut self) {
        self.postgres.stop();
    }

    /// Starts PostgreSQL again on the same port and data.
    pub fn start_postgres(&mut self) {
        self.postgres.start_again();
    }

    /// Polls until `check` holds for every live node at once, up to
    /// `timeout`.
    pub fn wait_all(&self, timeout: Duration, check: impl Fn(usize, &Rampart) -> bool) -> bool {
        wait_until(timeout, || {
            self.nodes
                .iter()
                .enumerate()
                .all(|(i, n)| !self.is_live(i) || check(i, n))
        })
    }

    /// Polls until every live node's API answers (not 503), e.g. after
    /// PostgreSQL came back; how long that took.
    pub fn wait_store_reachable(&self, timeout: Duration) -> Option<Duration> {
        let started = Instant::now();
        let ok = self.wait_all(timeout, |i, _| {
            self.api(i).get("/api/v1/accounts").status == 200
        });
        ok.then(|| started.elapsed())
    }
}
