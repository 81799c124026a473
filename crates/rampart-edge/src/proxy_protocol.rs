//! PROXY protocol v1 / v2 header on accepted connections
//! (<https://www.haproxy.org/download/2.9/doc/proxy-protocol.txt>).
//!
//! [`read_proxy_header`] reads exactly the header and never a byte past it:
//! what follows belongs to TLS / HTTP.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt};

/// Addresses conveyed by the header. Both are `None` for v1 `UNKNOWN`,
/// v2 `LOCAL` and v2 `AF_UNSPEC` (use the real connection endpoints).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProxyHeader {
    pub source: Option<SocketAddr>,
    pub destination: Option<SocketAddr>,
}

impl ProxyHeader {
    const LOCAL: ProxyHeader = ProxyHeader {
        source: None,
        destination: None,
    };
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProxyProtocolError {
    #[error("I/O error while reading the PROXY protocol header: {0}")]
    Io(#[from] std::io::Error),
    #[error("connection closed before the PROXY protocol header was complete")]
    UnexpectedEof,
    #[error("timed out waiting for the PROXY protocol header")]
    Timeout,
    #[error("connection does not start with a PROXY protocol header")]
    NotProxyProtocol,
    #[error("PROXY v1 header longer than 107 bytes")]
    V1TooLong,
    #[error("malformed PROXY v1 header: {0}")]
    V1Malformed(&'static str),
    #[error("unsupported PROXY v2 version {0}")]
    V2Version(u8),
    #[error("unsupported PROXY v2 command {0:#x}")]
    V2Command(u8),
    #[error("unsupported PROXY v2 address family/transport {0:#04x}")]
    V2Family(u8),
    #[error("PROXY v2 address block shorter than its family requires")]
    V2Truncated,
}

const V2_SIG: &[u8; 12] = b"\r\n\r\n\0\r\nQUIT\n";
const V1_PREFIX: &[u8; 6] = b"PROXY ";
const V1_MAX: usize = 107;
/// Shortest possible header of either version ("PROXY UNKNOWN\r\n" is 15).
const MIN_HEADER: usize = 8;

/// Parse a PROXY header at the start of `buf`. `Ok(None)`: `buf` is a valid
/// prefix but incomplete. On success, also returns the header length.
pub fn parse_proxy_header(buf: &[u8]) -> Result<Option<(ProxyHeader, usize)>, ProxyProtocolError> {
    if is_prefix_of(buf, V2_SIG) {
        if buf.len() < V2_SIG.len() {
            // Could still be either version only when empty.
            return Ok(None);
        }
        return parse_v2(buf);
    }
    if is_prefix_of(buf, V1_PREFIX) {
        return parse_v1(buf);
    }
    Err(ProxyProtocolError::NotProxyProtocol)
}

/// `buf` starts with `sig`, or is a (possibly empty) prefix of it.
fn is_prefix_of(buf: &[u8], sig: &[u8]) -> bool {
    buf.iter().zip(sig).all(|(a, b)| a == b)
}

fn parse_v1(buf: &[u8]) -> Result<Option<(ProxyHeader, usize)>, ProxyProtocolError> {
    let window = buf.get(..V1_MAX).unwrap_or(buf);
    let Some(lf) = memchr::memchr(b'\n', window) else {
        return if window.len() >= V1_MAX {
            Err(ProxyProtocolError::V1TooLong)
        } else {
            Ok(None)
        };
    };
    let line = window.get(..lf).unwrap_or_default();
    let line = line
        .strip_suffix(b"\r")
        .ok_or(ProxyProtocolError::V1Malformed(
            "line does not end with CRLF",
        ))?;
    let line = std::str::from_utf8(line)
        .map_err(|_| ProxyProtocolError::V1Malformed("non-ASCII bytes"))?;
    let mut parts = line.split(' ');
    parts.next(); // "PROXY"
    let header = match parts.next() {
        Some("UNKNOWN") => ProxyHeader::LOCAL,
        Some(proto @ ("TCP4" | "TCP6")) => {
            let fields: Vec<&str> = parts.collect();
            let [src, dst, sport, dport] = fields.as_slice() else {
                return Err(ProxyProtocolError::V1Malformed("expected 4 address fields"));
            };
            let (src, dst) = if proto == "TCP4" {
                (v1_ip::<Ipv4Addr>(src)?, v1_ip::<Ipv4Addr>(dst)?)
            } else {
                (v1_ip::<Ipv6Addr>(src)?, v1_ip::<Ipv6Addr>(dst)?)
            };
            ProxyHeader {
                source: Some(SocketAddr::new(src, v1_port(sport)?)),
                destination: Some(SocketAddr::new(dst, v1_port(dport)?)),
            }
        }
        _ => return Err(ProxyProtocolError::V1Malformed("unknown protocol")),
    };
    Ok(Some((header, lf + 1)))
}

fn v1_ip<A: std::str::FromStr + Into<IpAddr>>(s: &str) -> Result<IpAddr, ProxyProtocolError> {
    s.parse::<A>()
        .map(Into::into)
        .map_err(|_| ProxyProtocolError::V1Malformed("invalid address"))
}

fn v1_port(s: &str) -> Result<u16, ProxyProtocolError> {
    let digits_ok = (1..=5).contains(&s.len())
        && s.bytes().all(|b| b.is_ascii_digit())
        && (s == "0" || !s.starts_with('0'));
    if !digits_ok {
        return Err(ProxyProtocolError::V1Malformed("invalid port"));
    }
    s.parse()
        .map_err(|_| ProxyProtocolError::V1Malformed("invalid port"))
}

fn parse_v2(buf: &[u8]) -> Result<Option<(ProxyHeader, usize)>, ProxyProtocolError> {
    let Some(&[ver_cmd, fam, len_hi, len_lo]) = buf.get(12..16) else {
        return Ok(None);
    };
    if ver_cmd >> 4 != 2 {
        return Err(ProxyProtocolError::V2Version(ver_cmd >> 4));
    }
    let len = usize::from(u16::from_be_bytes([len_hi, len_lo]));
    let total = 16 + len;
    let Some(body) = buf.get(16..total) else {
        return Ok(None);
    };
    let header = match ver_cmd & 0x0f {
        0x0 => ProxyHeader::LOCAL, // LOCAL: addresses (if any) are ignored
        0x1 => v2_addresses(fam, body)?,
        cmd => return Err(ProxyProtocolError::V2Command(cmd)),
    };
    Ok(Some((header, total)))
}

fn v2_addresses(fam: u8, body: &[u8]) -> Result<ProxyHeader, ProxyProtocolError> {
    let (src, dst, ports) = match fam {
        0x00 => return Ok(ProxyHeader::LOCAL), // AF_UNSPEC
        0x11 => {
            let Some(&[a, b, c, d, e, f, g, h]) = body.get(..8) else {
                return Err(ProxyProtocolError::V2Truncated);
            };
            let src = IpAddr::from([a, b, c, d]);
            let dst = IpAddr::from([e, f, g, h]);
            (src, dst, body.get(8..12))
        }
        0x21 => {
            let (Some(s), Some(d)) = (body.get(..16), body.get(16..32)) else {
                return Err(ProxyProtocolError::V2Truncated);
            };
            let s: [u8; 16] = s.try_into().map_err(|_| ProxyProtocolError::V2Truncated)?;
            let d: [u8; 16] = d.try_into().map_err(|_| ProxyProtocolError::V2Truncated)?;
            (IpAddr::from(s), IpAddr::from(d), body.get(32..36))
        }
        other => return Err(ProxyProtocolError::V2Family(other)),
    };
    // TLVs after the address block are skipped.
    let Some(&[sp_hi, sp_lo, dp_hi, dp_lo]) = ports else {
        return Err(ProxyProtocolError::V2Truncated);
    };
    Ok(ProxyHeader {
        source: Some(SocketAddr::new(src, u16::from_be_bytes([sp_hi, sp_lo]))),
        destination: Some(SocketAddr::new(dst, u16::from_be_bytes([dp_hi, dp_lo]))),
    })
}

/// Read a PROXY protocol header from `io`, consuming exactly its bytes.
/// Fails with [`ProxyProtocolError::Timeout`] if it is not complete within
/// `deadline`.
pub async fn read_proxy_header<T: AsyncRead + Unpin>(
    io: &mut T,
    deadline: Duration,
) -> Result<ProxyHeader, ProxyProtocolError> {
    tokio::time::timeout(deadline, read_header(io))
        .await
        .map_err(|_| ProxyProtocolError::Timeout)?
}

async fn read_header<T: AsyncRead + Unpin>(io: &mut T) -> Result<ProxyHeader, ProxyProtocolError> {
    let mut head = [0u8; V1_MAX];
    let mut len = 0usize;
    let mut want = MIN_HEADER;
    loop {
        let chunk = head
            .get_mut(len..want)
            .ok_or(ProxyProtocolError::V1TooLong)?;
        read_exact(io, chunk).await?;
        len = want;
        let seen = head.get(..len).unwrap_or_default();
        if let Some((header, _)) = parse_proxy_header(seen)? {
            return Ok(header);
        }
        if is_prefix_of(seen, V2_SIG) {
            if len < 16 {
                want = 16;
                continue;
            }
            // Fixed part complete: read the declared length exactly.
            let declared = head
                .get(14..16)
                .and_then(|b| <[u8; 2]>::try_from(b).ok())
                .map_or(0, |b| usize::from(u16::from_be_bytes(b)));
            let mut rest = vec![0u8; declared];
            read_exact(io, &mut rest).await?;
            let mut all = Vec::with_capacity(16 + declared);
            all.extend_from_slice(seen);
            all.extend_from_slice(&rest);
            return match parse_proxy_header(&all)? {
                Some((header, _)) => Ok(header),
                None => Err(ProxyProtocolError::V2Truncated),
            };
        }
        // v1 without LF yet: read no more than the line can still need.
        want = (len + v1_min_remaining(seen)).min(V1_MAX);
        if want <= len {
            return Err(ProxyProtocolError::V1TooLong);
        }
    }
}

/// Lower bound of the bytes still missing from an incomplete v1 line, so
/// reading them never consumes a byte past the header, even when a broken
/// sender ends the line with a bare LF.
fn v1_min_remaining(seen: &[u8]) -> usize {
    let tcp = seen.starts_with(b"PROXY TCP4 ") || seen.starts_with(b"PROXY TCP6 ");
    if !tcp || seen.last() == Some(&b'\r') {
        return 1;
    }
    // Fields after "PROXY TCPx": src dst sport dport; each missing one needs
    // at least a separator and one character, then the line end.
    let spaces = seen.iter().filter(|&&b| b == b' ').count();
    let missing_fields = 5usize.saturating_sub(spaces);
    let current_empty = seen.last() == Some(&b' ');
    missing_fields * 2 + usize::from(current_empty) + 1
}

async fn read_exact<T: AsyncRead + Unpin>(
    io: &mut T,
    buf: &mut [u8],
) -> Result<(), ProxyProtocolError> {
    match io.read_exact(buf).await {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            Err(ProxyProtocolError::UnexpectedEof)
        }
        Err(e) => Err(e.into()),
    }
}
