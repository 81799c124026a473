//! `@ipMatch`, `@ipMatchFromFile`/`@ipMatchF`.

use super::*;

#[test]
fn addresses_and_networks_v4_and_v6() {
    let spec = "@ipMatch 127.0.0.1,::1, 10.0.0.0/8 2001:db8::/32";
    assert!(matches(spec, b"127.0.0.1"));
    assert!(matches(spec, b"::1"));
    assert!(matches(spec, b"10.200.3.4"));
    assert!(matches(spec, b"2001:db8:1::5"));
    assert!(!matches(spec, b"127.0.0.2"));
    assert!(!matches(spec, b"11.0.0.1"));
    assert!(!matches(spec, b"2001:db9::1"));
    assert!(!matches(spec, b"not an ip"));
    assert!(!matches(spec, b""));
    assert!(matches("!@ipMatch 127.0.0.1", b"192.0.2.1"));
}

#[test]
fn mapped_v4_matches_v4_networks() {
    assert!(matches("@ipMatch 192.168.0.0/16", b"::ffff:192.168.1.1"));
}

#[test]
fn host_bits_in_a_network_are_ignored() {
    assert!(matches("@ipMatch 192.168.1.77/24", b"192.168.1.3"));
}

#[test]
fn bad_entries_are_rejected() {
    assert!(bad_argument("@ipMatch 300.1.1.1").contains("300.1.1.1"));
    assert!(bad_argument("@ipMatch 10.0.0.0/33").contains("10.0.0.0/33"));
    assert!(bad_argument("@ipMatch").contains("no address"));
}

#[test]
fn from_file() {
    let dir = scratch_dir("ipf");
    std::fs::write(
        dir.join("ips.txt"),
        "# office\n192.0.2.0/24\n\n 2001:db8::1 \r\n",
    )
    .expect("write");
    let op = compile_in("@ipMatchFromFile ips.txt", &dir).expect("compile");
    assert!(op.evaluate(b"192.0.2.200", &NoMacros, None));
    assert!(op.evaluate(b"2001:db8::1", &NoMacros, None));
    assert!(!op.evaluate(b"198.51.100.1", &NoMacros, None));
    assert!(compile_in("@ipMatchF ips.txt", &dir).is_ok());
    std::fs::write(dir.join("bad.txt"), "192.0.2.0/24\nnope\n").expect("write");
    assert!(compile_in("@ipMatchFromFile bad.txt", &dir).is_err());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn overlapping_and_adjacent_networks() {
    let spec = "@ipMatch 10.0.0.0/24,10.0.0.128/25,10.0.1.0/24,10.0.3.7,0.0.0.0/32,255.255.255.255";
    assert!(matches(spec, b"10.0.0.200"));
    assert!(matches(spec, b"10.0.1.255"));
    assert!(!matches(spec, b"10.0.2.0"));
    assert!(matches(spec, b"10.0.3.7"));
    assert!(!matches(spec, b"10.0.3.8"));
    assert!(matches(spec, b"0.0.0.0"));
    assert!(matches(spec, b"255.255.255.255"));
    assert!(!matches(spec, b"9.255.255.255"));
    assert!(matches("@ipMatch 0.0.0.0/0", b"203.0.113.9"));
    assert!(matches("@ipMatch ::/0", b"2001:db8::1"));
    assert!(
        !matches("@ipMatch ::/0", b"203.0.113.9"),
        "v6 networks do not hold v4"
    );
}
