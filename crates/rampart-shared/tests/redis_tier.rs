//! The shared tier against a real redis-server: several "nodes" (each its
//! own `LocalCounters`, limiter and `SharedTier`) in one process hold one
//! global limit within 5% at a small ops-per-request cost, a token spent on
//! one is refused on another, and Redis going away and coming back is
//! survived without waiting and without help.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rampart_config::{SharedConfig, parse_redis_url};
use rampart_limits::{
    Action, Clock, CounterStore as _, CountersConfig, Counting, Decision, KeyHasher, LimitRule,
    LocalCounters, RateLimiter, SystemClock,
};
use rampart_shared::{SharedSpend, SharedState, SharedTier};
use rampart_testkit::redis::RedisServer;

struct Node {
    tier: SharedTier,
    limiter: RateLimiter<Arc<LocalCounters>>,
    hasher: Arc<Mutex<Option<KeyHasher>>>,
}

fn config(url: &str) -> SharedConfig {
    SharedConfig {
        redis: parse_redis_url(url).unwrap(),
        sync_interval: Duration::from_millis(25),
        timeout: Duration::from_millis(100),
    }
}

fn node(url: &str) -> Node {
    let local_seed = KeyHasher::random();
    let counters = Arc::new(
        LocalCounters::new(
            CountersConfig {
                max_keys: 10_000,
                shards: 8,
                record_deltas: true,
            },
            &local_seed,
        )
        .unwrap(),
    );
    let hasher = Arc::new(Mutex::new(None));
    let slot = hasher.clone();
    let tier = SharedTier::start(
        &config(url),
        Some(counters.clone()),
        Box::new(move |seed| *slot.lock().unwrap() = Some(KeyHasher::from_seed(seed))),
    )
    .unwrap();
    Node {
        tier,
        limiter: RateLimiter::new(counters, 1_000, &local_seed).unwrap(),
        hasher,
    }
}

async fn wait_for(what: &str, deadline: Duration, mut done: impl FnMut() -> bool) {
    let until = Instant::now() + deadline;
    while !done() {
        assert!(Instant::now() < until, "not {what} within {deadline:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_hold_one_limit_within_five_percent_at_few_ops_per_request() {
    let redis = RedisServer::start();
    let nodes: Vec<Arc<Node>> = (0..3).map(|_| Arc::new(node(&redis.url()))).collect();
    for n in &nodes {
        wait_for("connected", Duration::from_secs(5), || {
            n.tier.status().state() == SharedState::Ok && n.hasher.lock().unwrap().is_some()
        })
        .await;
    }
    // One seed for the cluster: the same client is the same key everywhere.
    let keys: Vec<_> = nodes
        .iter()
        .map(|n| {
            let h = n.hasher.lock().unwrap().clone().unwrap();
            h.key().site("shop").rule("api").finish()
        })
        .collect();
    assert!(keys.windows(2).all(|w| w[0] == w[1]), "{keys:?}");
    let key = keys[0];

    // 2,000 per 4 s globally (500/s); each node is offered about 1,000
    // per second, so the three together offer six times the limit.
    let rule = LimitRule {
        period: Duration::from_secs(4),
        requests: 2_000,
        mitigation_timeout: Duration::ZERO,
        action: Action::Block,
        counting: Counting::EveryRequest,
    };
    let seconds = 14;
    let start = SystemClock.now().0;
    let mut tasks = Vec::new();
    for n in &nodes {
        let n = n.clone();
        tasks.push(tokio::spawn(async move {
            let mut allowed = Vec::new();
            let mut offered = 0u64;
            let mut tick = tokio::time::interval(Duration::from_millis(1));
            loop {
                tick.tick().await;
                let now = SystemClock.now();
                if now.0 >= start + seconds * 1_000 {
                    break;
                }
                offered += 1;
                if n.limiter.check(&rule, &key, now) == Decision::Allow {
                    allowed.push(now.0);
                }
            }
            (allowed, offered)
        }));
    }
    let mut allowed = Vec::new();
    let mut offered = 0;
    for t in tasks {
        let (a, o) = t.await.unwrap();
        allowed.extend(a);
        offered += o;
    }
    allowed.sort_unstable();
    // Steady state: sliding 4 s windows ending from the third period on.
    let (mut lo, mut hi) = (usize::MAX, 0);
    let mut t = start + 8_000;
    while t <= start + seconds * 1_000 {
        let n = allowed.iter().filter(|&&a| a + 4_000 > t && a <= t).count();
        lo = lo.min(n);
        hi = hi.max(n);
        t += 100;
    }
    let ops: u64 = nodes.iter().map(|n| n.tier.status().ops()).sum();
    let ratio = ops as f64 / offered as f64;
    eprintln!(
        "allowed per 4 s: {lo}..={hi} (limit 2000); {offered} requests, {ops} Redis commands ({ratio:.4} per request)"
    );
    assert!(
        hi <= 2_100,
        "up to {hi} allowed per period across nodes, limit 2000"
    );
    assert!(
        lo >= 1_900,
        "down to {lo} allowed per period across nodes, limit 2000"
    );
    assert!(ratio <= 0.1, "{ratio} Redis commands per request");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_spent_on_one_node_is_refused_on_another() {
    let redis = RedisServer::start();
    let a = node(&redis.url());
    let b = node(&redis.url());
    for n in [&a, &b] {
        wait_for("connected", Duration::from_secs(5), || {
            n.tier.status().state() == SharedState::Ok
        })
        .await;
    }
    let expires = rampart_limits::SystemClock.now().0 / 1_000 + 300;
    let id = rand_id();
    assert_eq!(a.tier.spent().spend(id, expires).await, SharedSpend::First);
    assert_eq!(
        b.tier.spent().spend(id, expires).await,
        SharedSpend::AlreadySpent
    );
    assert_eq!(
        a.tier.spent().spend(id, expires).await,
        SharedSpend::AlreadySpent
    );
    assert_eq!(
        b.tier.spent().spend(rand_id(), expires).await,
        SharedSpend::First
    );
}

fn rand_id() -> [u8; 16] {
    rand::random()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_down_degrades_without_waiting_and_recovers_by_itself() {
    let mut redis = RedisServer::start();
    let n = node(&redis.url());
    wait_for("connected", Duration::from_secs(5), || {
        n.tier.status().state() == SharedState::Ok
    })
    .await;
    let key = KeyHasher::random().key().site("s").finish();
    let rule = LimitRule {
        period: Duration::from_secs(60),
        requests: 50,
        mitigation_timeout: Duration::ZERO,
        action: Action::Block,
        counting: Counting::EveryRequest,
    };

    redis.stop();
    // The next spend or sync notices; the state turns degraded by itself.
    wait_for("degraded", Duration::from_secs(5), || {
        n.tier.status().state() == SharedState::Degraded
    })
    .await;
    assert!(n.tier.status().errors() > 0);
    assert!(n.tier.status().last_error_unix_ms() > 0);
    // Redemptions answer at once and leave the decision to the local set.
    let expires = SystemClock.now().0 / 1_000 + 300;
    let began = Instant::now();
    assert_eq!(
        n.tier.spent().spend(rand_id(), expires).await,
        SharedSpend::Unavailable
    );
    assert!(
        began.elapsed() < Duration::from_millis(150),
        "{:?}",
        began.elapsed()
    );
    assert!(n.tier.status().local_fallbacks() >= 1);
    // Local limits keep working.
    let now = SystemClock.now();
    let allowed = (0..80)
        .filter(|_| n.limiter.check(&rule, &key, now) == Decision::Allow)
        .count();
    assert_eq!(allowed, 50);

    redis.restart();
    wait_for("ok again", Duration::from_secs(10), || {
        n.tier.status().state() == SharedState::Ok
    })
    .await;
    assert_eq!(
        n.tier.spent().spend(rand_id(), expires).await,
        SharedSpend::First
    );
}

/// `redis+cluster://`: a real three-master Redis Cluster (created with
/// redis-cli) holds the spent set and the counters, whose keys spread over
/// the cluster's slots.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_cluster_url_works_for_tokens_and_counters() {
    let servers: Vec<RedisServer> = (0..3)
        .map(|_| {
            RedisServer::start_with(&["--cluster-enabled", "yes", "--cluster-node-timeout", "2000"])
        })
        .collect();
    let addrs: Vec<String> = servers
        .iter()
        .map(|s| format!("127.0.0.1:{}", s.port()))
        .collect();
    let created = std::process::Command::new("redis-cli")
        .arg("--cluster")
        .arg("create")
        .args(&addrs)
        .args(["--cluster-replicas", "0", "--cluster-yes"])
        .output()
        .unwrap();
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stdout)
    );
    wait_for("cluster ok", Duration::from_secs(20), || {
        servers.iter().all(|s| {
            std::process::Command::new("redis-cli")
                .args(["-p", &s.port().to_string(), "cluster", "info"])
                .output()
                .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("cluster_state:ok"))
        })
    })
    .await;
    let url = format!("redis+cluster://{}", addrs.join(","));
    let a = node(&url);
    let b = node(&url);
    for n in [&a, &b] {
        wait_for("connected", Duration::from_secs(10), || {
            n.tier.status().state() == SharedState::Ok && n.hasher.lock().unwrap().is_some()
        })
        .await;
    }
    let expires = SystemClock.now().0 / 1_000 + 300;
    for _ in 0..20 {
        let id = rand_id();
        assert_eq!(a.tier.spent().spend(id, expires).await, SharedSpend::First);
        assert_eq!(
            b.tier.spent().spend(id, expires).await,
            SharedSpend::AlreadySpent
        );
    }
    // Many keys (spread over the slots) hit on node A reach node B's view.
    let rule = LimitRule {
        period: Duration::from_secs(60),
        requests: 5,
        mitigation_timeout: Duration::ZERO,
        action: Action::Block,
        counting: Counting::EveryRequest,
    };
    let hasher = a.hasher.lock().unwrap().clone().unwrap();
    let keys: Vec<_> = (0..50u32)
        .map(|i| {
            hasher
                .key()
                .site("shop")
                .rule("api")
                .bytes(&i.to_le_bytes())
                .finish()
        })
        .collect();
    let now = SystemClock.now();
    let sent = a.tier.status().ops();
    for key in &keys {
        for _ in 0..5 {
            assert_eq!(a.limiter.check(&rule, key, now), Decision::Allow);
        }
    }
    // A's round: an INCRBY, PEXPIRE and GET per key.
    wait_for("A's hits pushed", Duration::from_secs(5), || {
        a.tier.status().ops() >= sent + 150
    })
    .await;
    // A node reads a key's total when it pushes its own hits to it: B's
    // one hit each brings back the cluster's 5 + 1.
    for key in &keys {
        assert_eq!(
            b.limiter.check(&rule, key, SystemClock.now()),
            Decision::Allow
        );
    }
    wait_for("B sees A's hits", Duration::from_secs(5), || {
        keys.iter().all(|key| {
            b.limiter
                .store()
                .peek(key, SystemClock.now(), rule.period)
                .estimate()
                >= 6
        })
    })
    .await;
}

/// `redis+sentinel://`: the tier asks a real Sentinel for the master and
/// uses it for tokens and counters.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sentinel_url_finds_the_master() {
    let master = RedisServer::start();
    let sentinel = RedisServer::start_sentinel(&master, "mymaster");
    let url = format!("redis+sentinel://127.0.0.1:{}/mymaster", sentinel.port());
    let a = node(&url);
    let b = node(&url);
    for n in [&a, &b] {
        wait_for(
            "connected through the sentinel",
            Duration::from_secs(10),
            || n.tier.status().state() == SharedState::Ok,
        )
        .await;
    }
    let expires = SystemClock.now().0 / 1_000 + 300;
    let id = rand_id();
    assert_eq!(a.tier.spent().spend(id, expires).await, SharedSpend::First);
    assert_eq!(
        b.tier.spent().spend(id, expires).await,
        SharedSpend::AlreadySpent
    );
    // The id is on the master itself.
    let out = std::process::Command::new("redis-cli")
        .args([
            "-p",
            &master.port().to_string(),
            "--scan",
            "--pattern",
            "rampart:spent:*",
        ])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 1);
}

/// A node that hit a key once keeps learning the others' hits on it without
/// hitting it again (the periodic refresh), so a client it sees rarely is
/// judged on fresh totals.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_learns_other_nodes_hits_on_keys_it_saw_before() {
    let redis = RedisServer::start();
    let a = node(&redis.url());
    let b = node(&redis.url());
    for n in [&a, &b] {
        wait_for("connected", Duration::from_secs(5), || {
            n.tier.status().state() == SharedState::Ok && n.hasher.lock().unwrap().is_some()
        })
        .await;
    }
    let rule = LimitRule {
        period: Duration::from_secs(3600),
        requests: 5,
        mitigation_timeout: Duration::ZERO,
        action: Action::Block,
        counting: Counting::EveryRequest,
    };
    let key = KeyHasher::from_seed([9; 16])
        .key()
        .site("shop")
        .rule("login")
        .finish();
    assert_eq!(
        b.limiter.check(&rule, &key, SystemClock.now()),
        Decision::Allow
    );
    let sent = b.tier.status().ops();
    wait_for("B's hit pushed", Duration::from_secs(5), || {
        b.tier.status().ops() > sent
    })
    .await;
    for _ in 0..3 {
        assert_eq!(
            a.limiter.check(&rule, &key, SystemClock.now()),
            Decision::Allow
        );
    }
    wait_for("B sees A's three hits", Duration::from_secs(3), || {
        b.limiter
            .store()
            .peek(&key, SystemClock.now(), rule.period)
            .estimate()
            >= 4
    })
    .await;
    // B's next hit is its fifth in the cluster: allowed; the sixth is not.
    assert_eq!(
        b.limiter.check(&rule, &key, SystemClock.now()),
        Decision::Allow
    );
    assert_ne!(
        b.limiter.check(&rule, &key, SystemClock.now()),
        Decision::Allow
    );
}
