//! Layer tarballs for kujira: safe extraction of OCI/Docker image layers into
//! directories that overlayfs uses directly as lower directories, and
//! creation of layer tarballs from directories.
//!
//! # Extraction
//! [`extract_layer`] reads a gzip, zstd or plain tar stream and recreates it
//! under `dest`:
//! - OCI whiteouts become overlayfs ones: `.wh.<name>` turns into a 0/0
//!   character device `<name>`, `.wh..wh..opq` into `trusted.overlay.opaque=y`
//!   on its directory; other `.wh..wh.*` (AUFS bookkeeping) are skipped.
//! - Names are cleaned like Docker does (leading `/` dropped); a `..` that
//!   climbs out, a parent that is a symlink, a hardlink whose target is
//!   outside or reached through a symlink, and xattrs in overlayfs'
//!   namespaces are refused. A later entry replaces an earlier node (the node
//!   itself, never the target of a symlink); a directory over a directory
//!   merges.
//! - Owners, modes (setuid/setgid/sticky included), xattrs and mtimes are
//!   applied; directory mtimes last.
//! - Sparse files (old GNU headers, and GNU's PAX formats 0.0/0.1/1.0 that
//!   Go and so Docker read) keep their holes.
//! - Declared data sizes are charged against a limit (the free space of
//!   `dest` by default) before being written, and the entry count is capped;
//!   GNU long names and PAX blocks over 1 MiB are refused before the parser
//!   buffers them.
//!
//! The input is read, decompressed and hashed on the calling thread while a
//! scoped helper thread parses the tar and writes files, so decompression
//! overlaps filesystem work; the input does not need to be `Send`.
//!
//! On error nothing outside `dest` has been touched; `dest` itself is left
//! half-filled for the caller to delete.
//!
//! # Tar-split
//! [`extract_layer_with_split`] also records a small description of the
//! uncompressed stream (headers and padding verbatim, file contents by
//! path), from which [`reassemble_layer`] writes the original tar again,
//! byte for byte, out of the extracted directory; the store then need not
//! keep a second copy of each layer. `LayerStats::reproducible` says
//! whether that holds for a given layer.
//!
//! # Creation
//! [`write_layer`] writes a deterministic tar of a directory, converting
//! overlayfs whiteouts back to their OCI form.

mod create;
mod digest;
mod error;
mod extract;
mod guard;
mod meta;
mod pipe;
mod reassemble;
mod resolve;
mod sparse;
mod split;
mod stream;
mod whiteout;

#[cfg(test)]
mod tests;

pub use create::{write_layer, write_layer_clamped};
pub use error::ArchiveError;
pub use extract::{extract_layer, extract_layer_with_split};
pub use reassemble::reassemble_layer;

/// Limits applied while extracting a layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtractOptions {
    /// Entries beyond this count make extraction fail.
    pub max_entries: u64,
    /// Total declared data size allowed; `None` means the free space of the
    /// destination filesystem.
    pub max_total_size: Option<u64>,
    /// Whether `.wh.` names are whiteouts (a layer) or plain files (an archive a
    /// user copies into a container, `cp`).
    pub whiteouts: bool,
}

impl Default for ExtractOptions {
    fn default() -> Self {
        ExtractOptions {
            max_entries: 1_000_000,
            max_total_size: None,
            whiteouts: true,
        }
    }
}

/// What extraction (or creation) learned about a layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerStats {
    /// `sha256:<hex>` of the whole uncompressed tar stream, read to EOF.
    pub diff_id: String,
    /// Length of the uncompressed tar stream (what the diff_id hashes).
    pub tar_size: u64,
    /// Docker's layer size: st_size of every non-directory written, hardlinks
    /// counted once, symlinks by target length, whiteouts as 0.
    pub size: u64,
    /// Tar entries processed (extension headers not counted).
    pub entries: u64,
    /// Things deliberately not reproduced, for the caller to show as Docker
    /// does (e.g. xattrs the filesystem refused with ENOTSUP/EPERM).
    pub warnings: Vec<String>,
    /// Whether the tar-split written by [`extract_layer_with_split`]
    /// regenerates the stream exactly from the layer directory. False when
    /// no split was recorded, or when the layer wrote a path twice, removed
    /// or replaced a file it had written, or holds sparse files; the caller
    /// then keeps the original tar.
    pub reproducible: bool,
}

/// Compression of a layer blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

/// Detects the compression of a layer from its first bytes (at least 4 for
/// a reliable answer).
pub fn detect_compression(first_bytes: &[u8]) -> Compression {
    if first_bytes.starts_with(&[0x1f, 0x8b]) {
        Compression::Gzip
    } else if first_bytes.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Compression::Zstd
    } else {
        Compression::None
    }
}
