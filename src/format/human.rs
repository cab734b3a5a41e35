//! Docker's human-readable figures (the go-units package): decimal sizes such as
//! `187MB` and ages such as `2 weeks`, plus its `Ellipsis` truncation.

const UNITS: [&str; 9] = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"];

/// `units.HumanSizeWithPrecision`: Go's `%.*g` of the size in the largest unit
/// below 1000 (so 3 significant digits give `187MB`, `7.34MB`, `1.01GB`).
pub fn size_with_precision(bytes: f64, precision: usize) -> String {
    let mut size = bytes;
    let mut i = 0;
    while size >= 1000.0 && i < UNITS.len() - 1 {
        size /= 1000.0;
        i += 1;
    }
    format!("{}{}", go_g(size, precision), UNITS[i])
}

/// `units.HumanSize`: four significant digits.
pub fn size(bytes: u64) -> String {
    size_with_precision(bytes as f64, 4)
}

/// The size column of `images` and `history`: three significant digits.
pub fn size3(bytes: u64) -> String {
    size_with_precision(bytes as f64, 3)
}

/// `units.BytesSize`: binary units with up to 4 significant digits (`23.47GiB`).
pub fn bytes_size(bytes: u64) -> String {
    const BINARY: [&str; 7] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let mut v = bytes as f64;
    let mut i = 0;
    while v >= 1024.0 && i < BINARY.len() - 1 {
        v /= 1024.0;
        i += 1;
    }
    format!("{}{}", go_g(v, 4), BINARY[i])
}

/// Go's `%.<p>g`: `p` significant digits, trailing zeros dropped, exponent form when
/// the exponent is < -4 or >= p (Docker really prints `1e+03MB` for 999.9 MB).
pub fn go_g(v: f64, precision: usize) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let p = precision.max(1);
    let sci = format!("{:.*e}", p - 1, v);
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if exp < -4 || exp >= p as i32 {
        let m = trim_zeros(mantissa);
        let sign = if exp < 0 { '-' } else { '+' };
        return format!("{m}e{sign}{:02}", exp.abs());
    }
    let decimals = (p as i32 - 1 - exp).max(0) as usize;
    trim_zeros(&format!("{v:.decimals$}")).to_string()
}

fn trim_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

pub use kujira_engine::container::status::human_duration as duration;

/// "2 weeks ago", measured from now.
pub fn since(unix: i64) -> String {
    let now = chrono::Utc::now().timestamp();
    format!("{} ago", duration(now - unix))
}

/// Go's `time.Time.String()` in UTC: `2024-01-10 12:34:56 +0000 UTC`.
pub fn go_time(unix: i64) -> String {
    chrono::DateTime::from_timestamp(unix, 0)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S +0000 UTC").to_string())
        .unwrap_or_default()
}

/// RFC 3339 in UTC, as `history -H=false` prints it.
pub fn rfc3339(unix: i64) -> String {
    chrono::DateTime::from_timestamp(unix, 0)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}

/// Docker's `formatter.Ellipsis`: at most `max` characters, the last one `…`.
pub fn ellipsis(s: &str, max: usize) -> String {
    let count = s.chars().count();
    if count <= max {
        return s.to_string();
    }
    if max == 0 {
        return String::new();
    }
    let mut out: String = s.chars().take(max - 1).collect();
    out.push('…');
    out
}

/// `stringid.TruncateID`: no algorithm, 12 characters.
pub fn short_id(id: &str) -> String {
    let hex = id.split_once(':').map(|(_, h)| h).unwrap_or(id);
    hex.chars().take(12).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_match_go_units() {
        assert_eq!(size3(187_000_000), "187MB");
        assert_eq!(size3(187_234_567), "187MB");
        assert_eq!(size3(7_340_000), "7.34MB");
        assert_eq!(size3(1_010_000_000), "1.01GB");
        assert_eq!(size3(0), "0B");
        assert_eq!(size3(999), "999B");
        assert_eq!(size3(1000), "1kB");
        assert_eq!(size3(999_950_000), "1e+03MB");
        assert_eq!(size(187_234_567), "187.2MB");
        assert_eq!(size(1_234), "1.234kB");
        assert_eq!(size(77_800_000), "77.8MB");
    }

    #[test]
    fn durations_match_go_units() {
        assert_eq!(duration(0), "Less than a second");
        assert_eq!(duration(1), "1 second");
        assert_eq!(duration(45), "45 seconds");
        assert_eq!(duration(60), "About a minute");
        assert_eq!(duration(59 * 60), "59 minutes");
        assert_eq!(duration(3600), "About an hour");
        assert_eq!(duration(5 * 3600), "5 hours");
        assert_eq!(duration(3 * 86400), "3 days");
        assert_eq!(duration(15 * 86400), "2 weeks");
        assert_eq!(duration(90 * 86400), "3 months");
        assert_eq!(duration(800 * 86400), "2 years");
    }

    #[test]
    fn ellipsis_and_ids() {
        assert_eq!(ellipsis("abcdef", 4), "abc…");
        assert_eq!(ellipsis("abc", 4), "abc");
        assert_eq!(
            short_id("sha256:a6bd71f48f6839d9faae1f29d3babef831e76bc213107682c5cc80f0cbb30866"),
            "a6bd71f48f68"
        );
        assert_eq!(short_id("<missing>"), "<missing>");
    }
}
