//! Hand-written recognisers for the productions of Docker's reference
//! grammar (distribution/reference `regexp.go`).
//!
//! Each function accepts exactly the strings that the corresponding anchored
//! Go regular expression accepts. They work on bytes: every production is
//! ASCII-only, so any non-ASCII byte simply fails to match, and no regex
//! engine is needed on the `kujira images` hot path.

/// Characters of an `alpha-numeric` run in a path component.
fn is_lower_alnum(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit()
}

/// `\w` in RE2 is ASCII-only.
fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// `path-component := [a-z0-9]+ (separator [a-z0-9]+)*` where
/// `separator := [._] | __ | -+`.
pub(crate) fn is_path_component(s: &[u8]) -> bool {
    let mut i = 0;
    loop {
        let run = i;
        while i < s.len() && is_lower_alnum(s[i]) {
            i += 1;
        }
        if i == run {
            return false;
        }
        if i == s.len() {
            return true;
        }
        let sep_start = i;
        while i < s.len() && matches!(s[i], b'.' | b'_' | b'-') {
            i += 1;
        }
        let sep = &s[sep_start..i];
        // An empty separator means a byte outside the component alphabet.
        let ok = matches!(sep, b"." | b"_" | b"__")
            || (!sep.is_empty() && sep.iter().all(|&b| b == b'-'));
        if !ok {
            return false;
        }
    }
}

/// `remote-name := path-component ('/' path-component)*`.
pub(crate) fn is_remote_name(s: &[u8]) -> bool {
    s.split(|&b| b == b'/').all(is_path_component)
}

/// `domain-component := [a-zA-Z0-9] | [a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]`.
fn is_domain_component(s: &[u8]) -> bool {
    match (s.first(), s.last()) {
        (Some(first), Some(last)) => {
            first.is_ascii_alphanumeric()
                && last.is_ascii_alphanumeric()
                && s.iter().all(|&b| b.is_ascii_alphanumeric() || b == b'-')
        }
        _ => false,
    }
}

/// `(':' [0-9]+)?`.
fn is_optional_port(s: &[u8]) -> bool {
    match s.split_first() {
        None => true,
        Some((b':', digits)) => !digits.is_empty() && digits.iter().all(u8::is_ascii_digit),
        Some(_) => false,
    }
}

/// `domain := host (':' port)?` with `host := domain-name | '[' ipv6 ']'`.
///
/// IPv6 hosts are only checked for their alphabet, as Docker does; zone
/// identifiers and IPv4-mapped forms are thereby rejected.
pub(crate) fn is_domain(s: &[u8]) -> bool {
    if let Some(bracketed) = s.strip_prefix(b"[") {
        let Some(close) = bracketed.iter().position(|&b| b == b']') else {
            return false;
        };
        let inner = &bracketed[..close];
        return !inner.is_empty()
            && inner.iter().all(|&b| b.is_ascii_hexdigit() || b == b':')
            && is_optional_port(&bracketed[close + 1..]);
    }
    // A domain name holds no ':', so the first one starts the port.
    let (host, port) = match s.iter().position(|&b| b == b':') {
        Some(i) => s.split_at(i),
        None => (s, &s[s.len()..]),
    };
    host.split(|&b| b == b'.').all(is_domain_component) && is_optional_port(port)
}

/// `tag := [\w][\w.-]{0,127}`.
pub(crate) fn is_tag(s: &[u8]) -> bool {
    match s.split_first() {
        Some((&first, rest)) => {
            s.len() <= 128
                && is_word(first)
                && rest.iter().all(|&b| is_word(b) || b == b'.' || b == b'-')
        }
        None => false,
    }
}

/// The reference grammar's (deliberately loose) digest production:
/// `[A-Za-z][A-Za-z0-9]*([-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}`.
pub(crate) fn is_reference_digest(s: &[u8]) -> bool {
    let Some(colon) = s.iter().position(|&b| b == b':') else {
        return false;
    };
    let (algorithm, hex) = (&s[..colon], &s[colon + 1..]);
    let algorithm_ok = algorithm
        .split(|&b| matches!(b, b'-' | b'_' | b'+' | b'.'))
        .all(|part| {
            part.first().is_some_and(u8::is_ascii_alphabetic)
                && part.iter().all(u8::is_ascii_alphanumeric)
        });
    algorithm_ok && hex.len() >= 32 && hex.iter().all(u8::is_ascii_hexdigit)
}

/// go-digest's `DigestRegexpAnchored`:
/// `[a-z0-9]+([.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+`.
pub(crate) fn is_go_digest_shape(s: &[u8]) -> bool {
    let Some(colon) = s.iter().position(|&b| b == b':') else {
        return false;
    };
    let (algorithm, encoded) = (&s[..colon], &s[colon + 1..]);
    let algorithm_ok = algorithm
        .split(|&b| matches!(b, b'.' | b'+' | b'_' | b'-'))
        .all(|part| !part.is_empty() && part.iter().all(|&b| is_lower_alnum(b)));
    algorithm_ok
        && !encoded.is_empty()
        && encoded
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'=' | b'_' | b'-'))
}

/// `identifier := [a-f0-9]{64}`.
pub(crate) fn is_identifier(s: &[u8]) -> bool {
    s.len() == 64 && s.iter().all(|&b| matches!(b, b'a'..=b'f' | b'0'..=b'9'))
}

/// Whether Go's `strings.ToLower` would change `s`.
pub(crate) fn has_upper(s: &str) -> bool {
    s.chars().any(|c| {
        if c.is_ascii() {
            return c.is_ascii_uppercase();
        }
        let mut lower = c.to_lowercase();
        !(lower.next() == Some(c) && lower.next().is_none())
    })
}

/// Go's `strings.ToLower`, which applies the simple (one-to-one) Unicode
/// mapping. Rust's full mapping differs only for U+0130, which Go lowers to
/// a plain `i`; matching Go matters because the result is re-parsed.
pub(crate) fn go_to_lower(s: &str) -> String {
    s.chars()
        .flat_map(|c| {
            let dotless = c == '\u{130}';
            c.to_lowercase().take(if dotless { 1 } else { usize::MAX })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_components() {
        for ok in [
            "a",
            "a0",
            "a.b",
            "a_b",
            "a__b",
            "a-b",
            "a---b",
            "a.b_c-d",
            "0",
            "ubuntu-12.04-base",
        ] {
            assert!(is_path_component(ok.as_bytes()), "{ok}");
        }
        for bad in [
            "", "-a", "a-", "_a", "a_", ".a", "a.", "a..b", "a___b", "a_.b", "a-.b", "a.-b", "A",
            "aB", "a b", "a/b", "a:b", "é",
        ] {
            assert!(!is_path_component(bad.as_bytes()), "{bad}");
        }
    }

    #[test]
    fn remote_names() {
        assert!(is_remote_name(b"library/ubuntu"));
        assert!(is_remote_name(b"a/b/c/d"));
        for bad in ["", "/a", "a/", "a//b", "a/B"] {
            assert!(!is_remote_name(bad.as_bytes()), "{bad}");
        }
    }

    #[test]
    fn domains() {
        for ok in [
            "localhost",
            "localhost:5000",
            "docker.io",
            "a",
            "A-b.C",
            "xn--n3h.com:18080",
            "127.0.0.1",
            "127.0.0.1:8",
            "[::1]",
            "[::1]:5000",
            "[fc00:1:2:3:4:5:6:7]",
            "test",
        ] {
            assert!(is_domain(ok.as_bytes()), "{ok}");
        }
        for bad in [
            "",
            "-a",
            "a-",
            "a..b",
            ".a",
            "a.",
            "a:",
            "a:x",
            "a:5000:1",
            "a_b",
            "[]",
            "[::1",
            "[::1]:",
            "[fe80::1%eth0]",
            "[2001:db8:3:4::192.0.2.33]",
            "fc00::1:5000",
        ] {
            assert!(!is_domain(bad.as_bytes()), "{bad}");
        }
    }

    #[test]
    fn tags() {
        assert!(is_tag(b"latest"));
        assert!(is_tag(b"_x"));
        assert!(is_tag(b"V1.2-rc_3"));
        assert!(is_tag("a".repeat(128).as_bytes()));
        assert!(!is_tag("a".repeat(129).as_bytes()));
        for bad in ["", ".a", "-a", "a:b", "a/b", "a@b", "a+b"] {
            assert!(!is_tag(bad.as_bytes()), "{bad}");
        }
    }

    #[test]
    fn reference_digests() {
        let hex32 = "0123456789abcdef0123456789ABCDEF";
        assert!(is_reference_digest(format!("sha256:{hex32}").as_bytes()));
        assert!(is_reference_digest(format!("SHA256:{hex32}").as_bytes()));
        assert!(is_reference_digest(
            format!("a+b.c_d-e9:{hex32}").as_bytes()
        ));
        assert!(!is_reference_digest(format!("9a:{hex32}").as_bytes()));
        assert!(!is_reference_digest(format!("a++b:{hex32}").as_bytes()));
        assert!(!is_reference_digest(format!(":{hex32}").as_bytes()));
        assert!(!is_reference_digest(b"sha256:0123"));
        assert!(!is_reference_digest(format!("sha256:{hex32}g").as_bytes()));
    }

    #[test]
    fn go_digest_shape() {
        assert!(is_go_digest_shape(b"sha256:abc"));
        assert!(is_go_digest_shape(b"a.b+c:A=_-"));
        assert!(!is_go_digest_shape(b"SHA256:abc"));
        assert!(!is_go_digest_shape(b"sha256:"));
        assert!(!is_go_digest_shape(b"a..b:abc"));
        assert!(!is_go_digest_shape(b"sha256:a:b"));
    }

    #[test]
    fn lowercase_like_go() {
        assert!(has_upper("aB"));
        assert!(has_upper("\u{130}"));
        assert!(has_upper("\u{212a}"));
        assert!(!has_upper("abc-é"));
        assert_eq!(go_to_lower("AbC"), "abc");
        assert_eq!(go_to_lower("\u{130}/x"), "i/x");
        assert_eq!(go_to_lower("\u{212a}"), "k");
    }
}
