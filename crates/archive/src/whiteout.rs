//! The two spellings of deletions in a layer.
//!
//! In a tarball (OCI image spec) a deleted `x` is an empty file `.wh.x`, and
//! a directory whose lower contents are hidden holds `.wh..wh..opq`. In an
//! overlayfs lower directory the same facts are a character device 0/0 named
//! `x` and the xattr `trusted.overlay.opaque=y` on the directory. Extraction
//! converts the first form into the second, `write_layer` converts back.

pub(crate) const PREFIX: &[u8] = b".wh.";
/// AUFS bookkeeping entries (`.wh..wh.plnk`, `.wh..wh.aufs`...) share this.
pub(crate) const META_PREFIX: &[u8] = b".wh..wh.";
pub(crate) const OPAQUE_MARKER: &[u8] = b".wh..wh..opq";

pub(crate) const OPAQUE_XATTR: &str = "trusted.overlay.opaque";
pub(crate) const OPAQUE_VALUE: &[u8] = b"y";

/// Xattr namespaces overlayfs reads as its own metadata (`user.overlay.*`
/// with the `userxattr` mount option). A layer must not be able to forge
/// redirects, origins or opacity, so these are refused on extraction and
/// never emitted on creation.
pub(crate) fn is_overlay_xattr(name: &[u8]) -> bool {
    name.starts_with(b"trusted.overlay.") || name.starts_with(b"user.overlay.")
}

/// What the last component of an entry name means.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Kind<'a> {
    /// An ordinary name.
    Plain,
    /// `.wh..wh..opq`: the parent directory is opaque.
    Opaque,
    /// Other `.wh..wh.*` names: AUFS metadata, skipped.
    AufsMeta,
    /// `.wh.<name>`: `<name>` is deleted.
    Whiteout(&'a [u8]),
    /// `.wh.` followed by nothing usable (empty, `.` or `..`).
    Invalid,
}

pub(crate) fn classify(base: &[u8]) -> Kind<'_> {
    if base == OPAQUE_MARKER {
        return Kind::Opaque;
    }
    if base.starts_with(META_PREFIX) {
        return Kind::AufsMeta;
    }
    match base.strip_prefix(PREFIX) {
        None => Kind::Plain,
        Some(b"" | b"." | b"..") => Kind::Invalid,
        Some(name) => Kind::Whiteout(name),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_names() {
        assert_eq!(classify(b"passwd"), Kind::Plain);
        assert_eq!(classify(b".wh.passwd"), Kind::Whiteout(b"passwd"));
        assert_eq!(classify(b".wh..wh..opq"), Kind::Opaque);
        assert_eq!(classify(b".wh..wh.plnk"), Kind::AufsMeta);
        assert_eq!(classify(b".wh."), Kind::Invalid);
        assert_eq!(classify(b".wh.."), Kind::Invalid);
        assert_eq!(classify(b".wh..."), Kind::Invalid);
        assert_eq!(classify(b".wh...x"), Kind::Whiteout(b"..x"));
        assert!(is_overlay_xattr(b"trusted.overlay.redirect"));
        assert!(!is_overlay_xattr(b"trusted.other"));
    }
}
