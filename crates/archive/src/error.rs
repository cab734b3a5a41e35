//! Errors of layer extraction and creation.
//!
//! Messages are meant for a person reading `kujira load` or `kujira pull`
//! output: they name the offending entry exactly as the archive spells it
//! (Debug-quoted, so control characters in hostile names cannot mess with a
//! terminal) and say what was wrong with it.

use std::io;

/// Everything that can go wrong while reading or writing a layer tarball.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ArchiveError {
    /// A name climbs out of the layer with `..` components.
    #[error("layer entry {entry:?} would land outside the layer")]
    Escape { entry: String },

    /// A parent directory of the entry is a symlink (planted by an earlier entry).
    #[error("layer entry {entry:?} goes through symlink {link:?}")]
    ThroughSymlink { entry: String, link: String },

    /// A parent of the entry exists but is not a directory.
    #[error("layer entry {entry:?} needs {component:?} to be a directory, but it is not")]
    NotADirectory { entry: String, component: String },

    /// The entry would replace the layer root with something other than a directory.
    #[error("layer entry {entry:?} would replace the layer root with a non-directory")]
    ReplacesRoot { entry: String },

    /// A hardlink target climbs out of the layer.
    #[error("hardlink {entry:?} points outside the layer ({target:?})")]
    HardlinkEscape { entry: String, target: String },

    /// A hardlink target would be reached through a symlink.
    #[error("hardlink {entry:?} points to {target:?}, which goes through symlink {link:?}")]
    HardlinkThroughSymlink {
        entry: String,
        target: String,
        link: String,
    },

    /// A hardlink target is not (yet) in the layer.
    #[error("hardlink {entry:?} points to {target:?}, which is not in the layer before it")]
    HardlinkMissing { entry: String, target: String },

    /// A hardlink target is a directory.
    #[error("hardlink {entry:?} points to directory {target:?}")]
    HardlinkToDirectory { entry: String, target: String },

    /// The entry tries to set overlayfs metadata, which only whiteout
    /// conversion may produce.
    #[error("layer entry {entry:?} carries extended attribute {name:?}; layers may not set overlay metadata")]
    OverlayXattr { entry: String, name: String },

    /// The entry name is unusable (NUL byte, too long, bad whiteout...).
    #[error("layer entry {entry:?} has an invalid name: {reason}")]
    InvalidName { entry: String, reason: &'static str },

    /// The entry type is not one a layer can hold.
    #[error("layer entry {entry:?} has unsupported type {kind}")]
    UnsupportedEntry { entry: String, kind: String },

    /// A header field (mode, owner, link target, ...) cannot be used.
    #[error("layer entry {entry:?} has an invalid header: {reason}")]
    InvalidEntry { entry: String, reason: String },

    /// The tar structure itself is broken.
    #[error("layer is not a valid tar archive: {0}")]
    InvalidTar(String),

    /// The compressed or plain stream ended early.
    #[error("{0} stream is truncated")]
    Truncated(&'static str),

    /// The compressed stream cannot be decoded.
    #[error("{format} stream is corrupt: {message}")]
    Corrupt {
        format: &'static str,
        message: String,
    },

    /// Compression formats Docker once accepted but kujira does not.
    #[error("layer is {0}-compressed, which is not supported (only gzip, zstd and plain tar are)")]
    UnsupportedCompression(&'static str),

    /// `ExtractOptions::max_entries` was exceeded.
    #[error("layer has more than {0} entries")]
    TooManyEntries(u64),

    /// Declared content sizes exceed the free space of the destination.
    #[error("layer would need {needed} bytes but only {available} are free")]
    NoSpace { needed: u64, available: u64 },

    /// Declared content sizes exceed `ExtractOptions::max_total_size`.
    #[error("layer would need {needed} bytes but the limit is {limit}")]
    TooLarge { needed: u64, limit: u64 },

    /// Reading the layer input failed.
    #[error("cannot read layer: {0}")]
    Read(#[source] io::Error),

    /// A filesystem operation on the destination failed for an entry.
    #[error("cannot {action} layer entry {entry:?}: {source}")]
    Entry {
        action: &'static str,
        entry: String,
        #[source]
        source: io::Error,
    },

    /// A filesystem operation failed outside any particular entry.
    #[error("cannot {action} {path:?}: {source}")]
    Fs {
        action: &'static str,
        path: String,
        #[source]
        source: io::Error,
    },

    /// Writing the tar output failed.
    #[error("cannot write layer: {0}")]
    Write(#[source] io::Error),

    /// Reading or writing tar-split metadata failed.
    #[error("cannot {action} tar-split metadata: {source}")]
    SplitIo {
        action: &'static str,
        #[source]
        source: io::Error,
    },

    /// The tar-split metadata is not in the expected format.
    #[error("invalid tar-split metadata: {0}")]
    InvalidSplit(String),

    /// A file the tar-split refers to is no longer what was extracted, so
    /// the original layer tar cannot be reproduced.
    #[error("layer file {path:?} was modified after extraction: {reason}")]
    LayerModified { path: String, reason: String },
}

impl ArchiveError {
    pub(crate) fn entry(action: &'static str, entry: &str, source: impl Into<io::Error>) -> Self {
        ArchiveError::Entry {
            action,
            entry: entry.to_owned(),
            source: source.into(),
        }
    }

    pub(crate) fn fs(action: &'static str, path: &[u8], source: impl Into<io::Error>) -> Self {
        ArchiveError::Fs {
            action,
            path: lossy(path),
            source: source.into(),
        }
    }
}

/// Names in archives are bytes; messages are text.
pub(crate) fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
