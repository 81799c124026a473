//! Host routing, wildcard hosts, unknown hosts and generated pages.

mod support;

use support::client::{Proto, get, send};
use support::{Rampart, origin};

#[tokio::test(flavor = "multi_thread")]
async fn routes_exact_and_wildcard_hosts_and_pages_unknown_ones() {
    let shop = origin::start("shop").await;
    let blog = origin::start("blog").await;
    let rampart = Rampart::start(&format!(
        "[[site]]\nname = \"shop\"\nhosts = [\"shop.test\", \"*.shop.test\"]\norigins = [\"{}\"]\n\n[[site]]\nname = \"blog\"\nhosts = [\"blog.test\"]\norigins = [\"{}\"]\n",
        shop.url(),
        blog.url()
    ));

    for (host, expected) in [
        ("shop.test", "shop"),
        ("www.shop.test", "shop"),
        ("a.b.shop.test", "shop"),
        ("blog.test", "blog"),
        ("BLOG.test:8080", "blog"),
    ] {
        let reply = send(rampart.http, Proto::Http1, get(host, "/x?y=1")).await;
        assert_eq!(reply.status, 200, "{host}");
        assert_eq!(reply.json()["origin"], expected, "{host}");
        assert_eq!(reply.json()["uri"], "/x?y=1");
        assert_eq!(reply.ray().len(), 16);
    }

    let html = send(rampart.http, Proto::Http1, get("nope.test", "/")).await;
    assert_eq!(html.status, 404);
    assert!(
        html.header("content-type")
            .unwrap_or("")
            .starts_with("text/html")
    );
    assert!(
        html.text().contains(&html.ray()),
        "page shows the reference id"
    );

    let mut request = get("shop.test.evil", "/");
    request.headers_mut().insert(
        "accept",
        "application/json"
            .parse()
            .unwrap_or_else(|_| unreachable!()),
    );
    let json = send(rampart.http, Proto::Http1, request).await;
    assert_eq!(json.status, 404);
    assert_eq!(json.json()["error"]["code"], "unknown_host");
    assert_eq!(json.json()["error"]["ray_id"], json.ray());

    let ray = json.ray();
    let lines = rampart.access_log_until(|lines| lines.iter().any(|l| l["ray"] == ray.as_str()));
    let line = lines
        .iter()
        .find(|l| l["ray"] == ray.as_str())
        .unwrap_or_else(|| panic!("no log line for {ray}"));
    assert_eq!(line["status"], 404);
    assert_eq!(line["host"], "shop.test.evil");
}
