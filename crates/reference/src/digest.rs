//! Content digests (`sha256:<hex>`) and image IDs, validated the way
//! go-digest v1.0.0 (the version Docker ships) validates them.

use crate::grammar;
use crate::ReferenceError;

/// The algorithms Docker can verify, with the length of their hex encoding.
/// go-digest v1.0.0 knows these three, and Docker binaries link the hash
/// implementations for all of them.
const ALGORITHMS: [(&str, usize); 3] = [("sha256", 64), ("sha384", 96), ("sha512", 128)];

/// Whether `s` is a full image ID: 64 lower-case hex digits with no
/// `sha256:` prefix.
pub fn is_full_identifier(s: &str) -> bool {
    grammar::is_identifier(s.as_bytes())
}

/// Validates a digest such as `sha256:<64 hex>` and splits it into algorithm
/// and hex; the error is the one go-digest's `Parse` returns.
pub fn parse_digest(s: &str) -> Result<(&str, &str), ReferenceError> {
    let Some((algorithm, encoded)) = s.split_once(':') else {
        return Err(ReferenceError::ChecksumInvalidFormat);
    };
    if encoded.is_empty() {
        return Err(ReferenceError::ChecksumInvalidFormat);
    }
    let Some(&(_, hex_len)) = ALGORITHMS.iter().find(|(name, _)| *name == algorithm) else {
        // go-digest tells a malformed digest from an unknown algorithm only
        // by the overall shape.
        return Err(if grammar::is_go_digest_shape(s.as_bytes()) {
            ReferenceError::DigestUnsupported
        } else {
            ReferenceError::ChecksumInvalidFormat
        });
    };
    if encoded.len() != hex_len {
        return Err(ReferenceError::ChecksumInvalidLength);
    }
    if !encoded
        .bytes()
        .all(|b| matches!(b, b'a'..=b'f' | b'0'..=b'9'))
    {
        return Err(ReferenceError::ChecksumInvalidFormat);
    }
    Ok((algorithm, encoded))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX64: &str = "dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9c";

    #[test]
    fn identifiers() {
        assert!(is_full_identifier(HEX64));
        assert!(!is_full_identifier(&HEX64[1..]));
        assert!(!is_full_identifier(&format!("{HEX64}0")));
        assert!(!is_full_identifier(&HEX64.to_uppercase()));
        assert!(!is_full_identifier(&format!("sha256:{HEX64}")));
        assert!(!is_full_identifier(""));
    }

    #[test]
    fn digests() {
        use ReferenceError::*;
        let sha256 = format!("sha256:{HEX64}");
        assert_eq!(parse_digest(&sha256), Ok(("sha256", HEX64)));
        let sha512 = format!("sha512:{}", "f".repeat(128));
        assert!(parse_digest(&sha512).is_ok());
        let sha384 = format!("sha384:{}", "0".repeat(96));
        assert!(parse_digest(&sha384).is_ok());

        let cases: Vec<(String, ReferenceError)> = vec![
            ("".into(), ChecksumInvalidFormat),
            ("sha256".into(), ChecksumInvalidFormat),
            ("sha256:".into(), ChecksumInvalidFormat),
            (":abc".into(), ChecksumInvalidFormat),
            (format!("sha256:{}", &HEX64[2..]), ChecksumInvalidLength),
            (format!("sha256:{HEX64}00"), ChecksumInvalidLength),
            (format!("sha512:{HEX64}"), ChecksumInvalidLength),
            (
                format!("sha256:{}", HEX64.to_uppercase()),
                ChecksumInvalidFormat,
            ),
            (format!("sha256:{}g", &HEX64[1..]), ChecksumInvalidFormat),
            (format!("SHA256:{HEX64}"), ChecksumInvalidFormat),
            (format!("md5:{}", &HEX64[..32]), DigestUnsupported),
            (format!("invaliddigest:{HEX64}"), DigestUnsupported),
            (format!("blake3:{HEX64}"), DigestUnsupported),
            (format!("foo:{HEX64}:x"), ChecksumInvalidFormat),
            (HEX64.into(), ChecksumInvalidFormat),
        ];
        for (input, want) in cases {
            assert_eq!(parse_digest(&input), Err(want), "{input}");
        }
    }
}
