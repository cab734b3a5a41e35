//! Shared test support for kujira's crates and its end-to-end tests.
//!
//! Fixtures are built with the same third-party tools people use with Docker
//! (umoci, skopeo, Debian's static busybox) rather than with kujira's own
//! code, so a bug in kujira's image handling cannot be mirrored by a matching
//! bug in the fixture that hides it. Hostile inputs that no well-behaved tool
//! would produce are hand-crafted in [`craft`].
//!
//! Missing tools are a hard failure ([`tools::require`]), never a silent skip:
//! run `scripts/install-deps.sh` first.

pub mod container;
pub mod craft;
pub mod http;
pub mod image;
pub mod kujira;
pub mod net;
pub mod output;
pub mod registry;
pub mod serve;
pub mod snapshot;
pub mod tools;

pub use kujira::Kujira;
pub use snapshot::{assert_unchanged, StoreSnapshot};

use sha2::{Digest, Sha256};

/// Hex-encoded sha256 of `data`.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// `sha256:<hex>` digest of `data`, as used in OCI/Docker manifests.
pub fn digest(data: &[u8]) -> String {
    format!("sha256:{}", sha256_hex(data))
}
