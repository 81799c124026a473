//! RFC 3339 timestamps for `challenge_ts`, without a date library: the
//! only conversion needed is unix seconds to a UTC civil date.

/// `unix` seconds as `YYYY-MM-DDTHH:MM:SSZ` (UTC), the form Turnstile's
/// `challenge_ts` takes.
pub fn rfc3339_utc(unix: u64) -> String {
    let days = unix / 86_400;
    let secs = unix % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian
/// calendar: Howard Hinnant's `civil_from_days`, for non-negative days, in
/// 400-year eras of 146,097 days starting on 0000-03-01 so that the leap
/// day is the last day of a year.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let (m, carry) = if mp < 10 { (mp + 3, 0) } else { (mp - 9, 1) };
    (yoe + era * 400 + carry, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_instants() {
        assert_eq!(rfc3339_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339_utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339_utc(1_709_164_799), "2024-02-28T23:59:59Z");
        assert_eq!(rfc3339_utc(1_709_251_199), "2024-02-29T23:59:59Z");
        assert_eq!(rfc3339_utc(1_798_328_400), "2026-12-26T23:40:00Z");
        assert_eq!(rfc3339_utc(1_795_851_600), "2026-11-28T07:40:00Z");
        assert_eq!(rfc3339_utc(4_107_542_400), "2100-03-01T00:00:00Z");
        // Never panics, even far out.
        assert!(rfc3339_utc(u64::MAX).ends_with('Z'));
    }
}
