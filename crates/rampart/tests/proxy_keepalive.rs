//! Idle keep-alive connections are parked (hyper's buffers dropped) and woken
//! by the next request; a client pausing mid-head is not mistaken for idle;
//! the idle timeout still closes a parked connection.

mod support;

use std::io::Write;
use std::net::TcpStream;
use std::time::Duration;

use support::ops::{Ending, read_one_response, read_to_end};
use support::{Rampart, origin};

fn get(host: &str, path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n").into_bytes()
}

#[tokio::test(flavor = "multi_thread")]
async fn parked_connection_serves_later_requests_and_split_heads() {
    let shop = origin::start("shop").await;
    let rampart = Rampart::builder()
        .sites(&format!(
            "[[site]]\nname = \"shop\"\nhosts = [\"shop.test\"]\norigins = [\"{}\"]\n",
            shop.url()
        ))
        .start();
    let addr = rampart.http;
    tokio::task::spawn_blocking(move || {
        let mut stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect: {e}"));
        for round in 0..3 {
            stream
                .write_all(&get("shop.test", &format!("/r{round}")))
                .unwrap_or_else(|e| panic!("write: {e}"));
            let response = read_one_response(&mut stream, Duration::from_secs(5))
                .unwrap_or_else(|| panic!("no response in round {round}"));
            assert_eq!(response.status, 200, "round {round}");
            assert!(
                response.text().contains(&format!("/r{round}")),
                "round {round}"
            );
            // Longer than the parking delay: the next request wakes a parked socket.
            std::thread::sleep(Duration::from_millis(600));
        }
        // A head split by a pause longer than the parking delay is still one request.
        stream
            .write_all(b"GET /split HTTP/1.1\r\nHo")
            .unwrap_or_else(|e| panic!("write: {e}"));
        std::thread::sleep(Duration::from_millis(600));
        stream
            .write_all(b"st: shop.test\r\n\r\n")
            .unwrap_or_else(|e| panic!("write: {e}"));
        let response = read_one_response(&mut stream, Duration::from_secs(5))
            .unwrap_or_else(|| panic!("no response to the split head"));
        assert_eq!(response.status, 200);
        assert!(response.text().contains("/split"));
    })
    .await
    .unwrap_or_else(|e| panic!("{e}"));
}

#[tokio::test(flavor = "multi_thread")]
async fn idle_timeout_closes_a_parked_connection() {
    let shop = origin::start("shop").await;
    let rampart = Rampart::builder()
        .proxy("timeouts = { idle = \"1s\" }")
        .sites(&format!(
            "[[site]]\nname = \"shop\"\nhosts = [\"shop.test\"]\norigins = [\"{}\"]\n",
            shop.url()
        ))
        .start();
    let addr = rampart.http;
    tokio::task::spawn_blocking(move || {
        let mut stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect: {e}"));
        stream
            .write_all(&get("shop.test", "/"))
            .unwrap_or_else(|e| panic!("write: {e}"));
        let response = read_one_response(&mut stream, Duration::from_secs(5))
            .unwrap_or_else(|| panic!("no response"));
        assert_eq!(response.status, 200);
        let started = std::time::Instant::now();
        let rest = read_to_end(&mut stream, Duration::from_secs(5));
        assert_eq!(rest.ending, Ending::Eof, "idle connection not closed");
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_millis(800) && waited < Duration::from_secs(4),
            "closed after {waited:?}, idle timeout is 1s"
        );
    })
    .await
    .unwrap_or_else(|e| panic!("{e}"));
}
