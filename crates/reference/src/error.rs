//! The error type shared by every parser in this crate.
//!
//! Each variant's message is, byte for byte, the text Docker prints for the
//! same input, because users (and scripts) match on those strings.

use crate::NAME_TOTAL_LENGTH_MAX;

/// Why a reference, tag, digest or match pattern was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReferenceError {
    /// The string does not follow the reference grammar.
    #[error("invalid reference format")]
    InvalidFormat,

    /// A tag given on its own (for example to `with_tag`) is malformed.
    #[error("invalid tag format")]
    InvalidTagFormat,

    /// A digest given on its own (for example to `with_digest`) does not
    /// follow the reference grammar's digest production.
    #[error("invalid digest format")]
    InvalidDigestFormat,

    /// The string only parses once lower-cased. Docker reports this without
    /// naming the offending part.
    #[error("repository name must be lowercase")]
    NameContainsUppercase,

    /// The empty string given to the non-normalising parser.
    #[error("repository name must have at least one component")]
    NameEmpty,

    /// The repository path is longer than [`NAME_TOTAL_LENGTH_MAX`] bytes.
    #[error(
        "repository name must not be more than {} characters",
        NAME_TOTAL_LENGTH_MAX
    )]
    NameTooLong,

    /// `parse_canonical` was given a reference that is not already in its
    /// fully normalised form.
    #[error("repository name must be canonical")]
    NameNotCanonical,

    /// The repository part of a familiar name holds an upper-case letter; the
    /// payload is that part as Docker names it (e.g. `library/Nginx`).
    #[error("invalid reference format: repository name ({0}) must be lowercase")]
    RepositoryNameNotLowercase(String),

    /// A bare 64-character hex string, which would be ambiguous with an
    /// image ID.
    #[error("invalid repository name ({0}), cannot specify 64-byte hexadecimal strings")]
    HexRepositoryName(String),

    /// The digest is malformed (go-digest's `ErrDigestInvalidFormat`).
    #[error("invalid checksum digest format")]
    ChecksumInvalidFormat,

    /// The digest's hex part has the wrong length for its algorithm
    /// (go-digest's `ErrDigestInvalidLength`).
    #[error("invalid checksum digest length")]
    ChecksumInvalidLength,

    /// The digest names an algorithm Docker does not support.
    #[error("unsupported digest algorithm")]
    DigestUnsupported,

    /// A shell pattern given to a matcher is malformed (Go's
    /// `path.ErrBadPattern`).
    #[error("syntax error in pattern")]
    BadPattern,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_match_docker() {
        let cases = [
            (ReferenceError::InvalidFormat, "invalid reference format"),
            (ReferenceError::InvalidTagFormat, "invalid tag format"),
            (ReferenceError::InvalidDigestFormat, "invalid digest format"),
            (
                ReferenceError::NameContainsUppercase,
                "repository name must be lowercase",
            ),
            (
                ReferenceError::NameEmpty,
                "repository name must have at least one component",
            ),
            (
                ReferenceError::NameTooLong,
                "repository name must not be more than 255 characters",
            ),
            (
                ReferenceError::NameNotCanonical,
                "repository name must be canonical",
            ),
            (
                ReferenceError::RepositoryNameNotLowercase("library/Nginx".into()),
                "invalid reference format: repository name (library/Nginx) must be lowercase",
            ),
            (
                ReferenceError::HexRepositoryName("ab".into()),
                "invalid repository name (ab), cannot specify 64-byte hexadecimal strings",
            ),
            (
                ReferenceError::ChecksumInvalidFormat,
                "invalid checksum digest format",
            ),
            (
                ReferenceError::ChecksumInvalidLength,
                "invalid checksum digest length",
            ),
            (
                ReferenceError::DigestUnsupported,
                "unsupported digest algorithm",
            ),
            (ReferenceError::BadPattern, "syntax error in pattern"),
        ];
        for (err, want) in cases {
            assert_eq!(err.to_string(), want);
        }
    }
}
