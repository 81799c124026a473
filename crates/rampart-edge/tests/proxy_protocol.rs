//! PROXY protocol v1/v2 parsing and exact-length reading.

use std::net::SocketAddr;
use std::time::Duration;

use rampart_edge::proxy_protocol::{
    ProxyHeader, ProxyProtocolError, parse_proxy_header, read_proxy_header,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt, duplex};

const SIG: &[u8] = b"\r\n\r\n\0\r\nQUIT\n";
const PAYLOAD: &[u8] = b"\x16\x03\x01\x02\x00GET / HTTP/1.1\r\n\r\n";

fn addr(s: &str) -> Option<SocketAddr> {
    Some(s.parse().unwrap())
}

fn v2(ver_cmd: u8, fam: u8, body: &[u8]) -> Vec<u8> {
    let mut v = SIG.to_vec();
    v.push(ver_cmd);
    v.push(fam);
    v.extend_from_slice(&(body.len() as u16).to_be_bytes());
    v.extend_from_slice(body);
    v
}

fn v2_tcp4_body() -> Vec<u8> {
    let mut b = vec![192, 0, 2, 1, 198, 51, 100, 7];
    b.extend_from_slice(&56324u16.to_be_bytes());
    b.extend_from_slice(&443u16.to_be_bytes());
    b
}

fn v2_tcp6_body() -> Vec<u8> {
    let src: std::net::Ipv6Addr = "2001:db8::1".parse().unwrap();
    let dst: std::net::Ipv6Addr = "2001:db8::ff".parse().unwrap();
    let mut b = src.octets().to_vec();
    b.extend_from_slice(&dst.octets());
    b.extend_from_slice(&1234u16.to_be_bytes());
    b.extend_from_slice(&8443u16.to_be_bytes());
    b
}

/// Valid headers with the addresses they carry.
fn valid_cases() -> Vec<(&'static str, Vec<u8>, ProxyHeader)> {
    let tcp4 = ProxyHeader {
        source: addr("192.0.2.1:56324"),
        destination: addr("198.51.100.7:443"),
    };
    let tcp6 = ProxyHeader {
        source: addr("[2001:db8::1]:1234"),
        destination: addr("[2001:db8::ff]:8443"),
    };
    let none = ProxyHeader {
        source: None,
        destination: None,
    };
    let mut with_tlv = v2_tcp4_body();
    with_tlv.extend_from_slice(&[0x01, 0x00, 0x02, b'h', b'2', 0x04, 0x00, 0x00]); // ALPN + NOOP
    vec![
        ("v1 tcp4", b"PROXY TCP4 192.0.2.1 198.51.100.7 56324 443\r\n".to_vec(), tcp4),
        ("v1 tcp6", b"PROXY TCP6 2001:db8::1 2001:db8::ff 1234 8443\r\n".to_vec(), tcp6),
        ("v1 unknown", b"PROXY UNKNOWN\r\n".to_vec(), none),
        ("v1 unknown with addresses", b"PROXY UNKNOWN ffff:f...f:ffff ffff:f...f:ffff 65535 65535\r\n".to_vec(), none),
        (
            "v1 longest tcp6",
            b"PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n".to_vec(),
            ProxyHeader {
                source: addr("[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535"),
                destination: addr("[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535"),
            },
        ),
        ("v1 port 0", b"PROXY TCP4 0.0.0.0 0.0.0.0 0 0\r\n".to_vec(), ProxyHeader { source: addr("0.0.0.0:0"), destination: addr("0.0.0.0:0") }),
        ("v2 tcp4", v2(0x21, 0x11, &v2_tcp4_body()), tcp4),
        ("v2 tcp4 with TLVs", v2(0x21, 0x11, &with_tlv), tcp4),
        ("v2 tcp6", v2(0x21, 0x21, &v2_tcp6_body()), tcp6),
        ("v2 local", v2(0x20, 0x00, &[]), none),
        ("v2 local with addresses", v2(0x20, 0x11, &v2_tcp4_body()), none),
        ("v2 proxy unspec", v2(0x21, 0x00, &[1, 2, 3]), none),
    ]
}

#[test]
fn parse_valid_headers_and_every_prefix() {
    for (name, bytes, expected) in valid_cases() {
        let mut input = bytes.clone();
        input.extend_from_slice(PAYLOAD);
        let parsed = parse_proxy_header(&input).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(parsed, Some((expected, bytes.len())), "{name}");
        for cut in 0..bytes.len() {
            assert!(
                matches!(parse_proxy_header(&bytes[..cut]), Ok(None)),
                "{name}: prefix {cut}"
            );
        }
    }
    assert_eq!(b"PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n".len(), 104);
}

#[tokio::test]
async fn read_consumes_exactly_the_header() {
    for (name, bytes, expected) in valid_cases() {
        // Whole, and trickled one byte at a time.
        for trickle in [false, true] {
            let (mut client, mut server) = duplex(4096);
            let mut input = bytes.clone();
            input.extend_from_slice(PAYLOAD);
            let writer = tokio::spawn(async move {
                if trickle {
                    for b in input.chunks(1) {
                        client.write_all(b).await.unwrap();
                        tokio::task::yield_now().await;
                    }
                } else {
                    client.write_all(&input).await.unwrap();
                }
                client
            });
            let header = read_proxy_header(&mut server, Duration::from_secs(5)).await;
            assert_eq!(
                header.unwrap_or_else(|e| panic!("{name}: {e}")),
                expected,
                "{name}"
            );
            drop(writer.await.unwrap());
            let mut rest = Vec::new();
            server.read_to_end(&mut rest).await.unwrap();
            assert_eq!(
                rest, PAYLOAD,
                "{name}: bytes after the header must be untouched"
            );
        }
    }
}

fn parse_err(input: &[u8]) -> ProxyProtocolError {
    match parse_proxy_header(input) {
        Err(e) => e,
        Ok(v) => panic!(
            "{:?}: expected an error, got {v:?}",
            String::from_utf8_lossy(input)
        ),
    }
}

#[test]
fn parse_rejects_invalid_headers() {
    use ProxyProtocolError as E;
    let v1: &[&[u8]] = &[
        b"PROXY TCP4 192.0.2.1 198.51.100.7 56324 443\n",
        b"PROXY TCP4 192.0.2.1 198.51.100.7 56324 443 \r\n",
        b"PROXY TCP4 192.0.2.1  198.51.100.7 56324 443\r\n",
        b"PROXY TCP4 192.0.2.1 198.51.100.7 56324\r\n",
        b"PROXY TCP4 2001:db8::1 198.51.100.7 1 2\r\n",
        b"PROXY TCP6 192.0.2.1 2001:db8::1 1 2\r\n",
        b"PROXY TCP4 192.0.2.256 198.51.100.7 1 2\r\n",
        b"PROXY TCP4 192.0.2.1 198.51.100.7 65536 443\r\n",
        b"PROXY TCP4 192.0.2.1 198.51.100.7 +80 443\r\n",
        b"PROXY TCP4 192.0.2.1 198.51.100.7 080 443\r\n",
        b"PROXY TCP4 192.0.2.1 198.51.100.7 -1 443\r\n",
        b"PROXY TCP5 192.0.2.1 198.51.100.7 1 2\r\n",
        b"PROXY tcp4 192.0.2.1 198.51.100.7 1 2\r\n",
        b"PROXY \r\n",
        b"PROXY UNKNOWN\xff\r\n",
    ];
    for input in v1 {
        assert!(
            matches!(parse_err(input), E::V1Malformed(_)),
            "{:?}",
            String::from_utf8_lossy(input)
        );
    }
    assert!(matches!(
        parse_err(b"GET / HTTP/1.1\r\n\r\n"),
        E::NotProxyProtocol
    ));
    assert!(matches!(parse_err(b"PROXYTCP4"), E::NotProxyProtocol));
    assert!(matches!(parse_err(b"\x16\x03\x01"), E::NotProxyProtocol));
    assert!(matches!(
        parse_err(b"\r\n\r\n\0\r\nQUIX\n1234"),
        E::NotProxyProtocol
    ));
    let long = format!("PROXY UNKNOWN {}\r\n", "a".repeat(100));
    assert!(matches!(parse_err(long.as_bytes()), E::V1TooLong));
    assert!(matches!(
        parse_err(&[b"PROXY ".as_slice(), &[b'x'; 200]].concat()),
        E::V1TooLong
    ));
    // 107 bytes including CRLF is still fine.
    let max = format!("PROXY UNKNOWN {}\r\n", "a".repeat(107 - 16));
    assert_eq!(max.len(), 107);
    assert!(matches!(
        parse_proxy_header(max.as_bytes()),
        Ok(Some((_, 107)))
    ));

    assert!(matches!(
        parse_err(&v2(0x11, 0x11, &v2_tcp4_body())),
        E::V2Version(1)
    ));
    assert!(matches!(
        parse_err(&v2(0x22, 0x11, &v2_tcp4_body())),
        E::V2Command(2)
    ));
    assert!(matches!(
        parse_err(&v2(0x21, 0x12, &v2_tcp4_body())),
        E::V2Family(0x12)
    ));
    assert!(matches!(
        parse_err(&v2(0x21, 0x31, &[0; 216])),
        E::V2Family(0x31)
    ));
    assert!(matches!(
        parse_err(&v2(0x21, 0x11, &[1, 2, 3, 4])),
        E::V2Truncated
    ));
    assert!(matches!(
        parse_err(&v2(0x21, 0x11, &v2_tcp4_body()[..10])),
        E::V2Truncated
    ));
    assert!(matches!(
        parse_err(&v2(0x21, 0x21, &v2_tcp4_body())),
        E::V2Truncated
    ));
    assert!(matches!(
        parse_err(&v2(0x21, 0x21, &v2_tcp6_body()[..34])),
        E::V2Truncated
    ));
}

#[tokio::test]
async fn read_errors() {
    async fn read(input: &[u8]) -> ProxyProtocolError {
        let (mut client, mut server) = duplex(4096);
        client.write_all(input).await.unwrap();
        drop(client);
        read_proxy_header(&mut server, Duration::from_secs(5))
            .await
            .unwrap_err()
    }
    assert!(matches!(
        read(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n").await,
        ProxyProtocolError::NotProxyProtocol
    ));
    assert!(matches!(
        read(b"PROXY TCP4 192.0.2.1").await,
        ProxyProtocolError::UnexpectedEof
    ));
    assert!(matches!(
        read(b"PRO").await,
        ProxyProtocolError::UnexpectedEof
    ));
    assert!(matches!(
        read(&v2(0x21, 0x11, &v2_tcp4_body())[..20]).await,
        ProxyProtocolError::UnexpectedEof
    ));
    assert!(matches!(
        read(&SIG[..10]).await,
        ProxyProtocolError::UnexpectedEof
    ));
    let long = [b"PROXY UNKNOWN ".as_slice(), &[b'a'; 300]].concat();
    assert!(matches!(read(&long).await, ProxyProtocolError::V1TooLong));
    assert!(matches!(
        read(b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n").await,
        ProxyProtocolError::V1Malformed(_)
    ));
    assert!(matches!(
        read(&v2(0x21, 0x12, &v2_tcp4_body())).await,
        ProxyProtocolError::V2Family(0x12)
    ));
}

#[tokio::test(start_paused = true)]
async fn deadline_expires() {
    let (mut client, mut server) = duplex(4096);
    client.write_all(b"PROXY TCP4 192.0.2.1 ").await.unwrap();
    let started = tokio::time::Instant::now();
    let err = read_proxy_header(&mut server, Duration::from_secs(3))
        .await
        .unwrap_err();
    assert!(matches!(err, ProxyProtocolError::Timeout), "{err}");
    assert_eq!(started.elapsed(), Duration::from_secs(3));
    assert!(err.to_string().contains("timed out"));
    // Nothing at all is sent: same.
    let (_client, mut server) = duplex(16);
    let err = read_proxy_header(&mut server, Duration::from_millis(500))
        .await
        .unwrap_err();
    assert!(matches!(err, ProxyProtocolError::Timeout));
    drop(client);
}
