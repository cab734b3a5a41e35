//! Docker image references (`nginx`, `ghcr.io/o/app:1.2`,
//! `repo@sha256:…`): parsing, normalisation and display exactly as Docker's
//! `github.com/distribution/reference` package and the Docker CLI do it,
//! down to the error messages.
//!
//! ```
//! use kujira_reference::Reference;
//!
//! let r = Reference::parse_with_default_tag("nginx").unwrap();
//! assert_eq!(r.to_string(), "docker.io/library/nginx:latest");
//! assert_eq!(r.familiar_string(), "nginx:latest");
//!
//! let err = Reference::parse("Nginx").unwrap_err();
//! assert_eq!(
//!     err.to_string(),
//!     "invalid reference format: repository name (library/Nginx) must be lowercase"
//! );
//! ```

mod digest;
mod error;
mod grammar;
mod pattern;
mod reference;

pub use digest::{is_full_identifier, parse_digest};
pub use error::ReferenceError;
pub use pattern::path_match;
pub use reference::{
    AnyReference, Reference, DEFAULT_DOMAIN, DEFAULT_TAG, LEGACY_DEFAULT_DOMAIN,
    NAME_TOTAL_LENGTH_MAX, OFFICIAL_REPO_PREFIX,
};

#[cfg(test)]
mod round_trip_tests;
