//! The figures of record for the rule engine: 1,000 realistic rules on one
//! request (target ≤ 20 µs), a lookup in a 1,000,000-entry IP list (target
//! ≤ 200 ns), and compiling one rule.

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use http::{HeaderMap, HeaderName, HeaderValue};
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use rampart_rules::{
    EvalScratch, IpList, ListKind, Lists, RequestFields, RuleSet, Scheme, compile, parse,
};

/// splitmix64: deterministic inputs without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// A mix of what sites write: host and path checks, regexes, IP sets and
/// lists, header and argument checks, user-agent matching.
fn realistic_rules(n: usize) -> Vec<(usize, String)> {
    (0..n)
        .map(|i| {
            let src = match i % 10 {
                0 => format!(
                    "http.host eq \"site{i}.example.com\" and http.request.uri.path matches \"^/admin/{i}\""
                ),
                1 => format!("http.request.uri.path contains \"/wp-content/plugins/p{i}/\""),
                2 => format!(
                    "ip.src in {{198.51.{}.0/24 2001:db8:{i:x}::/48 192.0.2.{}}}",
                    i % 256,
                    i % 250
                ),
                3 => format!(
                    "http.request.method in {{\"PUT\" \"DELETE\"}} and starts_with(http.request.uri.path, \"/api/v{i}/\")"
                ),
                4 => format!("lower(http.user_agent) contains \"badbot{i}\""),
                5 => format!("any(http.request.headers[\"x-api-key\"][*] eq \"key-{i}\")"),
                6 => format!("ip.src.country in {{\"CN\" \"RU\"}} and ip.src.asnum eq {i}"),
                7 => format!("http.request.uri.query contains \"id={i}\" and not ssl"),
                8 => format!("http.user_agent matches \"(?i)scanner-{i}\""),
                _ => format!(
                    "ip.src in $blocklist and http.request.uri.path wildcard \"/private/{i}/*\""
                ),
            };
            (i, src)
        })
        .collect()
}

fn browser_headers() -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in [
        ("host", "shop.example.com"),
        (
            "user-agent",
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
        ),
        (
            "accept",
            "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
        ),
        ("accept-language", "en-US,en;q=0.9"),
        ("accept-encoding", "gzip, deflate, br"),
        ("referer", "https://shop.example.com/"),
        ("cookie", "session=3f2a9c; cart=12"),
        ("sec-fetch-mode", "navigate"),
    ] {
        h.append(HeaderName::from_static(k), HeaderValue::from_static(v));
    }
    h
}

fn request(h: &HeaderMap) -> RequestFields<'_> {
    RequestFields {
        ip: IpAddr::V4(Ipv4Addr::new(203, 0, 113, 77)),
        country: Some(*b"FR"),
        asn: Some(3215),
        host: "shop.example.com",
        method: "GET",
        uri: "/products/shoes/running?id=7731&color=blue",
        path: "/products/shoes/running",
        query: "id=7731&color=blue",
        version: "HTTP/2",
        headers: h,
        cookie: None,
        ssl: true,
        body_size: 0,
        bot_verified: false,
        clearance: false,
        response_code: 0,
    }
}

fn million_v4(rng: &mut Rng) -> Vec<IpNet> {
    (0..1_000_000)
        .map(|i| {
            let a = Ipv4Addr::from(rng.next() as u32);
            // Mostly single addresses, some /24s, as blocklists are.
            let len = if i % 5 == 0 { 24 } else { 32 };
            IpNet::V4(Ipv4Net::new(a, len).unwrap().trunc())
        })
        .collect()
}

fn million_v6(rng: &mut Rng) -> Vec<IpNet> {
    (0..1_000_000)
        .map(|i| {
            // Global unicast 2000::/3, /48 and /64 blocks.
            let a = (u128::from(rng.next()) << 64 | u128::from(rng.next())) >> 3 | 1u128 << 125;
            let len = if i % 2 == 0 { 48 } else { 64 };
            IpNet::V6(Ipv6Net::new(Ipv6Addr::from(a), len).unwrap().trunc())
        })
        .collect()
}

fn lists() -> Lists {
    let block = IpList::from_text("198.51.100.0/24\n2001:db8::/32\n").unwrap();
    [("blocklist", Arc::new(block))].into_iter().collect()
}

fn scheme() -> Scheme {
    let mut s = Scheme::new();
    s.add_list("blocklist", ListKind::Ip);
    s
}

fn bench_ruleset(c: &mut Criterion) {
    let set = RuleSet::compile(realistic_rules(1_000), &scheme()).unwrap();
    let h = browser_headers();
    let req = request(&h);
    let lists = lists();
    let mut scratch = EvalScratch::new();
    let mut g = c.benchmark_group("ruleset");
    g.throughput(Throughput::Elements(1_000));
    g.bench_function("1000_rules_all_matches", |b| {
        b.iter(|| set.matching(black_box(&req), &lists, &mut scratch).count())
    });
    g.bench_function("1000_rules_first_match", |b| {
        b.iter(|| {
            set.first_match(black_box(&req), &lists, &mut scratch)
                .is_some()
        })
    });
    g.finish();
}

/// The same rules grouped by kind (100 of each), to see where time goes.
fn bench_rule_kinds(c: &mut Criterion) {
    let all = realistic_rules(1_000);
    let h = browser_headers();
    let req = request(&h);
    let lists = lists();
    let mut scratch = EvalScratch::new();
    let mut g = c.benchmark_group("ruleset_100_of_kind");
    for kind in 0..10 {
        let set = RuleSet::compile(
            all.iter().filter(|(i, _)| i % 10 == kind).cloned(),
            &scheme(),
        )
        .unwrap();
        g.bench_function(kind.to_string(), |b| {
            b.iter(|| set.matching(black_box(&req), &lists, &mut scratch).count())
        });
    }
    g.finish();
}

fn bench_lists(c: &mut Criterion) {
    let mut rng = Rng(42);
    let v4 = million_v4(&mut rng);
    let v6 = million_v6(&mut rng);
    let list4 = IpList::from_nets(v4.iter().copied());
    let list6 = IpList::from_nets(v6.iter().copied());
    eprintln!(
        "v4 list: {} entries, {:?} ranges, {} bytes; v6 list: {} entries, {:?} ranges, {} bytes",
        list4.entries(),
        list4.ranges(),
        list4.memory_bytes(),
        list6.entries(),
        list6.ranges(),
        list6.memory_bytes()
    );
    // Half the probes are in the list, half random (mostly misses).
    let probes4: Vec<IpAddr> = (0..4096)
        .map(|i| match i % 2 {
            0 => v4[rng.next() as usize % v4.len()].network(),
            _ => IpAddr::V4(Ipv4Addr::from(rng.next() as u32)),
        })
        .collect();
    let probes6: Vec<IpAddr> = (0..4096)
        .map(|i| match i % 2 {
            0 => v6[rng.next() as usize % v6.len()].network(),
            _ => IpAddr::V6(Ipv6Addr::from(
                (u128::from(rng.next()) << 64 | u128::from(rng.next())) >> 3 | 1u128 << 125,
            )),
        })
        .collect();
    let mut g = c.benchmark_group("iplist");
    for (name, list, probes) in [
        ("contains_1m_v4", &list4, &probes4),
        ("contains_1m_v6", &list6, &probes6),
    ] {
        let mut i = 0usize;
        g.bench_function(name, |b| {
            b.iter(|| {
                i = (i + 1) & 4095;
                list.contains(black_box(probes[i]))
            })
        });
    }
    let text: String = v4.iter().map(|n| format!("{n}\n")).collect();
    g.sample_size(10);
    g.bench_function("import_1m_v4_text", |b| {
        b.iter_batched(
            || (),
            |()| IpList::from_text(&text).unwrap(),
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

fn bench_compile(c: &mut Criterion) {
    let src = "http.request.uri.path matches \"^/wp-(admin|login)\" and not ip.src in $office \
               and any(lower(http.request.headers[\"accept\"][*]) contains \"json\")";
    let mut s = Scheme::new();
    s.add_list("office", ListKind::Ip);
    let mut g = c.benchmark_group("single_rule");
    g.bench_function("parse", |b| b.iter(|| parse(black_box(src)).unwrap()));
    g.bench_function("compile", |b| {
        b.iter(|| compile(black_box(src), &s).unwrap())
    });
    g.finish();
}

criterion_group!(
    benches,
    bench_ruleset,
    bench_rule_kinds,
    bench_lists,
    bench_compile
);
criterion_main!(benches);
