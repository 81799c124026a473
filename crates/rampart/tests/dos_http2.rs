//! HTTP/2 abuse: a rapid-reset flood (CVE-2023-44487) gets GOAWAY and the
//! connection closed, while another client on its own connection is served.

mod support;

use std::time::Duration;

use h2::Reason;
use support::client::{Proto, get, send};
use support::{Rampart, origin};
use tokio::net::TcpStream;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rapid_reset_flood_is_sent_away_and_others_are_served() {
    let shop = origin::start("shop").await;
    let rampart = Rampart::start(&format!(
        "[[site]]\nname = \"shop\"\nhosts = [\"shop.test\"]\norigins = [\"{}\"]\n",
        shop.url()
    ));

    let tcp = TcpStream::connect(rampart.http)
        .await
        .unwrap_or_else(|e| panic!("connect: {e}"));
    let (mut client, connection) = h2::client::handshake(tcp)
        .await
        .unwrap_or_else(|e| panic!("h2c handshake: {e}"));
    let connection = tokio::spawn(connection);

    // Open and cancel streams as fast as the client library allows.
    let mut opened = 0u32;
    for _ in 0..5_000 {
        let request = http::Request::get("http://shop.test/")
            .body(())
            .unwrap_or_else(|e| panic!("request: {e}"));
        let Ok(ready) = client.clone().ready().await else {
            break;
        };
        client = ready;
        match client.send_request(request, true) {
            Ok((_, mut stream)) => {
                stream.send_reset(Reason::CANCEL);
                opened += 1;
            }
            Err(_) => break,
        }
    }
    let ended = tokio::time::timeout(Duration::from_secs(10), connection)
        .await
        .unwrap_or_else(|_| panic!("the flooding connection was never closed ({opened} streams)"));
    let error = ended
        .unwrap_or_else(|e| panic!("connection task: {e}"))
        .err()
        .unwrap_or_else(|| panic!("the connection ended cleanly after {opened} resets"));
    // The server writes GOAWAY and closes. A client still writing resets can
    // hit the closed socket (EPIPE/ECONNRESET) before it reads the GOAWAY; that
    // is the server sending it away too, so both outcomes count.
    let sent_away = (error.is_go_away() && error.reason() == Some(Reason::ENHANCE_YOUR_CALM))
        || matches!(
            error.get_io().map(std::io::Error::kind),
            Some(std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::ConnectionReset)
        );
    assert!(
        sent_away,
        "expected GOAWAY(ENHANCE_YOUR_CALM) or the socket closed, got {error:?} after {opened} streams"
    );
    // How many resets the client managed to write before the GOAWAY reached it
    // depends on socket buffers, not on Rampart; what Rampart controls is how
    // much of the flood it passed on to the origin.
    let forwarded = shop.hits.load(std::sync::atomic::Ordering::Relaxed);
    assert!(
        forwarded < 200,
        "{forwarded} of {opened} reset streams reached the origin"
    );

    // Someone else is unaffected.
    let reply = send(rampart.http, Proto::Http2, get("shop.test", "/")).await;
    assert_eq!(reply.status, 200);
}
