//! Rate limits under real load: a wrk flood from 127.0.0.2 is answered 429
//! with Retry-After while 127.0.0.3 (same /24, different address) is served,
//! and a login brute force is stopped by a limit that counts only failed
//! (401) answers.
//!
//! How wrk comes from 127.0.0.2: wrk cannot bind a source address, so it
//! talks to a relay in this test that makes each of its connections to
//! Rampart from 127.0.0.2 (all of 127/8 is local on Linux). Rampart then
//! sees a real socket peer of 127.0.0.2, which is the path real clients take.
//! The alternatives test something else: PROXY protocol or X-Forwarded-For
//! from a trusted peer would make the client address a claim in the bytes,
//! exercising the header parsers and trust settings rather than the plain
//! path, and a `trusted_proxies` entry for 127.0.0.1 would also change who
//! every other test client is.

mod support;

use std::net::IpAddr;
use std::time::Duration;

use http::{Response, StatusCode};
use http_body_util::BodyExt;
use support::Rampart;
use support::attack::{
    ATTACKER, NEIGHBOUR, Prober, Relay, assert_all_served, exchange_from, get_from, wrk,
};
use support::ops::Response as RawReply;
use support::origin::{self, full};

const SHOP: &str = "shop.test";

/// Status line and headers, for messages (the body is a page).
fn brief(reply: &RawReply) -> String {
    format!("{} {:?}", reply.status_line, reply.headers)
}

fn retry_after(reply: &RawReply) -> u64 {
    let value = reply
        .header("retry-after")
        .unwrap_or_else(|| panic!("429 without Retry-After: {}", brief(reply)));
    value
        .trim()
        .parse()
        .unwrap_or_else(|e| panic!("Retry-After {value:?} is not delay-seconds ({e})"))
}

/// wrk through the relay floods from 127.0.0.2; the per-IP limit answers it
/// 429, and 127.0.0.3 keeps getting 200 throughout.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn flood_from_one_address_gets_429_while_its_neighbour_is_served() {
    const LIMIT: u64 = 50;
    let shop = origin::start("shop").await;
    let rampart = Rampart::start(&format!(
        "[[site]]\nname = \"shop\"\nhosts = [\"{SHOP}\"]\norigins = [\"{}\"]\n\n\
         [[site.rate_limits]]\nid = \"per-ip\"\ncharacteristics = [\"ip\"]\n\
         period = \"10s\"\nrequests = {LIMIT}\naction = \"block\"\nmitigation_timeout = \"30s\"\n",
        shop.url()
    ));
    // Both clients are served before the flood.
    for src in [ATTACKER, NEIGHBOUR] {
        let reply = get_from(src, rampart.http, SHOP, "/", Duration::from_secs(5))
            .await
            .unwrap_or_else(|e| panic!("request from {src}: {e}"));
        assert_eq!(
            reply.status,
            200,
            "from {src} before the flood: {}",
            brief(&reply)
        );
    }

    let relay = Relay::start(ATTACKER, rampart.http).await;
    let prober = Prober::start(
        NEIGHBOUR,
        rampart.http,
        SHOP,
        "/",
        Duration::from_millis(100),
        Duration::from_secs(2),
    );
    let flood = wrk(
        &format!("http://{}/", relay.addr),
        SHOP,
        2,
        16,
        Duration::from_secs(4),
    )
    .await;
    let probes = prober.finish().await;

    let context = format!("{flood:?}");
    assert!(
        flood.requests >= 1_000,
        "wrk made only {} requests; {context}",
        flood.requests
    );
    // At most the limit (and what a sliding-window estimate may let past it)
    // is answered 200; everything else is refused.
    let ok = flood.statuses.get(&200).copied().unwrap_or(0);
    assert!(
        ok <= 3 * LIMIT,
        "{ok} of the flood's requests were served (limit {LIMIT} per 10 s); {context}"
    );
    assert!(
        flood.non_2xx + ok >= flood.requests && flood.non_2xx >= flood.requests - 3 * LIMIT,
        "wrk's Non-2xx count {} does not cover the refused requests; {context}",
        flood.non_2xx
    );
    let limited = flood.statuses.get(&429).copied().unwrap_or(0);
    assert!(
        limited + ok == flood.requests,
        "refusals other than 429 in the flood; {context}"
    );
    assert_eq!(
        flood.limited_without_retry_after, 0,
        "429s without Retry-After; {context}"
    );
    assert_all_served(&probes, 20, Duration::from_secs(2), "the wrk flood");

    // The mitigation holds after the flood, and says for how long.
    let reply = get_from(ATTACKER, rampart.http, SHOP, "/", Duration::from_secs(5))
        .await
        .unwrap_or_else(|e| panic!("request from {ATTACKER}: {e}"));
    assert_eq!(reply.status, 429, "{}", brief(&reply));
    let wait = retry_after(&reply);
    // At most the mitigation timeout plus the period: a sliding-window
    // estimate may keep the count over the limit that much longer.
    assert!(
        (1..=40).contains(&wait),
        "Retry-After {wait}: {}",
        brief(&reply)
    );
    let reply = get_from(NEIGHBOUR, rampart.http, SHOP, "/", Duration::from_secs(5))
        .await
        .unwrap_or_else(|e| panic!("request from {NEIGHBOUR}: {e}"));
    assert_eq!(reply.status, 200, "{}", brief(&reply));
    eprintln!(
        "wrk flood: {} requests, {ok} served, {limited} answered 429; {} probes from {NEIGHBOUR}, all 200",
        flood.requests,
        probes.len()
    );
}

/// An origin whose `POST /login` answers 200 for `password=right` and 401
/// for anything else.
async fn login_origin() -> origin::TestOrigin {
    origin::builder("accounts")
        .handler(|req| async move {
            let is_login = req.uri().path() == "/login";
            let body = req
                .into_body()
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            let status = if !is_login || body.as_ref() == b"user=alice&password=right" {
                StatusCode::OK
            } else {
                StatusCode::UNAUTHORIZED
            };
            let mut response = Response::new(full(status.as_str().to_string()));
            *response.status_mut() = status;
            response
        })
        .start()
        .await
}

async fn login(rampart: &Rampart, src: IpAddr, password: &str) -> RawReply {
    let body = format!("user=alice&password={password}");
    let request = format!(
        "POST /login HTTP/1.1\r\nHost: {SHOP}\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    exchange_from(
        src,
        rampart.http,
        request.as_bytes(),
        Duration::from_secs(5),
    )
    .await
    .unwrap_or_else(|e| panic!("login from {src}: {e}"))
}

/// Brute force: only failed logins (401) count towards the limit; after
/// `FAILURES` of them the address gets 429 (even with the right password),
/// while another address still logs in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_logins_are_limited_and_successful_ones_do_not_count() {
    const FAILURES: usize = 5;
    let accounts = login_origin().await;
    let rampart = Rampart::start(&format!(
        "[[site]]\nname = \"shop\"\nhosts = [\"{SHOP}\"]\norigins = [\"{}\"]\n\n\
         [[site.rate_limits]]\nid = \"login-failures\"\n\
         expression = 'http.request.uri.path eq \"/login\"'\n\
         counting_expression = 'http.response.code eq 401'\n\
         characteristics = [\"ip\"]\nperiod = \"60s\"\nrequests = {FAILURES}\n\
         mitigation_timeout = \"60s\"\n",
        accounts.url()
    ));

    // Many successful logins: if they counted, the limit would trip here.
    for i in 0..3 * FAILURES {
        let reply = login(&rampart, ATTACKER, "right").await;
        assert_eq!(reply.status, 200, "successful login {i}: {}", brief(&reply));
    }
    // The allowed failures, with successes in between that still do not count.
    for i in 0..FAILURES {
        let reply = login(&rampart, ATTACKER, &format!("guess{i}")).await;
        assert_eq!(
            reply.status,
            401,
            "failed login {i} (within the limit): {}",
            brief(&reply)
        );
        if i + 1 < FAILURES {
            let reply = login(&rampart, ATTACKER, "right").await;
            assert_eq!(
                reply.status,
                200,
                "successful login after failure {i}: {}",
                brief(&reply)
            );
        }
    }
    // Past the limit the next attempts are refused before reaching the
    // origin: at once, or after one more failure (whether the request that
    // reaches the count is itself refused is the implementation's choice).
    let mut statuses = Vec::new();
    for i in 0..3 {
        let reply = login(&rampart, ATTACKER, &format!("more{i}")).await;
        statuses.push(reply.status);
        if reply.status == 429 {
            let wait = retry_after(&reply);
            // Mitigation timeout plus period, as in the flood test.
            assert!(
                (1..=120).contains(&wait),
                "Retry-After {wait}: {}",
                brief(&reply)
            );
            break;
        }
    }
    assert!(
        statuses.last() == Some(&429) && statuses.len() <= 2,
        "after {FAILURES} failed logins the next attempts got {statuses:?}, not 429"
    );
    // Now even the right password is refused from this address…
    let reply = login(&rampart, ATTACKER, "right").await;
    assert_eq!(
        reply.status,
        429,
        "right password while limited: {}",
        brief(&reply)
    );
    // …while another address logs in, and its own failures are its own.
    let reply = login(&rampart, NEIGHBOUR, "right").await;
    assert_eq!(
        reply.status,
        200,
        "login from {NEIGHBOUR}: {}",
        brief(&reply)
    );
    let reply = login(&rampart, NEIGHBOUR, "wrong").await;
    assert_eq!(
        reply.status,
        401,
        "failed login from {NEIGHBOUR}: {}",
        brief(&reply)
    );
    // Other paths are not covered by the rule.
    let reply = get_from(ATTACKER, rampart.http, SHOP, "/", Duration::from_secs(5))
        .await
        .unwrap_or_else(|e| panic!("GET / from {ATTACKER}: {e}"));
    assert_eq!(
        reply.status,
        200,
        "GET / while /login is limited: {}",
        brief(&reply)
    );
}
