//! The [`Reference`] type and the parsers that build it: Docker's
//! normalising `ParseNormalizedNamed`, the literal `Parse`, and
//! `ParseAnyReference`, which also accepts image IDs and bare digests.

use std::fmt;
use std::str::FromStr;

use crate::digest::{is_full_identifier, parse_digest};
use crate::grammar;
use crate::pattern::path_match;
use crate::ReferenceError;

/// Registry implied when a name has no domain.
pub const DEFAULT_DOMAIN: &str = "docker.io";
/// The old name of Docker Hub, normalised to [`DEFAULT_DOMAIN`].
pub const LEGACY_DEFAULT_DOMAIN: &str = "index.docker.io";
/// Namespace of Docker Hub's official images.
pub const OFFICIAL_REPO_PREFIX: &str = "library/";
/// Tag implied when a reference has neither tag nor digest.
pub const DEFAULT_TAG: &str = "latest";
/// Longest repository path Docker accepts, in bytes (the domain does not
/// count).
pub const NAME_TOTAL_LENGTH_MAX: usize = 255;

/// A named image reference: `domain/path[:tag][@digest]`.
///
/// Built by the normalising parser, `domain` is never empty and official
/// images carry their `library/` namespace, so `Display` gives the full
/// form (`docker.io/library/nginx:latest`) and the `familiar_*` methods give
/// the short form users type (`nginx:latest`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Reference {
    domain: String,
    path: String,
    tag: Option<String>,
    digest: Option<String>,
}

/// The pieces of a reference string that matched the grammar, borrowed from
/// the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Parts<'a> {
    domain: &'a str,
    path: &'a str,
    tag: Option<&'a str>,
    digest: Option<&'a str>,
}

impl Parts<'_> {
    fn to_reference(self) -> Reference {
        Reference {
            domain: self.domain.to_owned(),
            path: self.path.to_owned(),
            tag: self.tag.map(str::to_owned),
            digest: self.digest.map(str::to_owned),
        }
    }
}

/// Matches `name[:tag][@digest]` against the grammar, choosing the same
/// split as Go's leftmost-first regular expression.
fn match_reference(s: &str) -> Option<Parts<'_>> {
    // Only a digest may follow '@', and nothing before it may hold one.
    let (rest, digest) = match s.split_once('@') {
        Some((rest, digest)) => (rest, Some(digest)),
        None => (s, None),
    };
    if digest.is_some_and(|d| !grammar::is_reference_digest(d.as_bytes())) {
        return None;
    }
    // A ':' with no '/' after it cannot be a port (a domain is always
    // followed by '/') nor part of a path, so it must start the tag.
    let (name, tag) = match rest.rfind(':') {
        Some(i) if !rest[i + 1..].contains('/') => (&rest[..i], Some(&rest[i + 1..])),
        _ => (rest, None),
    };
    if tag.is_some_and(|t| !grammar::is_tag(t.as_bytes())) {
        return None;
    }
    let (domain, path) = split_name(name)?;
    Some(Parts {
        domain,
        path,
        tag,
        digest,
    })
}

/// Splits a name into domain and path. The domain is optional and preferred,
/// but a first component that is no valid domain may still be a valid path
/// component (`foo_bar.com/x`), leaving the domain empty, as in Go.
fn split_name(name: &str) -> Option<(&str, &str)> {
    if let Some((domain, path)) = name.split_once('/') {
        if grammar::is_domain(domain.as_bytes()) && grammar::is_remote_name(path.as_bytes()) {
            return Some((domain, path));
        }
    }
    grammar::is_remote_name(name.as_bytes()).then_some(("", name))
}

/// Go's `reference.Parse`: the grammar, the length limit, then the digest.
fn parse_parts(s: &str) -> Result<Parts<'_>, ReferenceError> {
    if s.is_empty() {
        return Err(ReferenceError::NameEmpty);
    }
    let Some(parts) = match_reference(s) else {
        // Docker names the problem when only the case is wrong.
        if grammar::has_upper(s) && match_reference(&grammar::go_to_lower(s)).is_some() {
            return Err(ReferenceError::NameContainsUppercase);
        }
        return Err(ReferenceError::InvalidFormat);
    };
    if parts.path.len() > NAME_TOTAL_LENGTH_MAX {
        return Err(ReferenceError::NameTooLong);
    }
    if let Some(digest) = parts.digest {
        parse_digest(digest)?;
    }
    Ok(parts)
}

/// Splits a familiar name into a domain and the remainder (which still
/// carries any tag and digest), as Docker's `splitDockerDomain` does.
/// Returns the domain, whether `library/` must be prepended, and the rest.
fn split_docker_domain(s: &str) -> (&str, bool, &str) {
    let Some((maybe_domain, maybe_remote)) = s.split_once('/') else {
        // A single component is never a domain, so that "host:5000" reads
        // as a name with a tag.
        return (DEFAULT_DOMAIN, true, s);
    };
    let (domain, remote) = if maybe_domain == "localhost"
        || maybe_domain.contains(['.', ':'])
        // Namespaces cannot hold upper case, so such a component can only
        // have been meant as a host name.
        || grammar::has_upper(maybe_domain)
    {
        if maybe_domain == LEGACY_DEFAULT_DOMAIN {
            (DEFAULT_DOMAIN, maybe_remote)
        } else {
            (maybe_domain, maybe_remote)
        }
    } else {
        (DEFAULT_DOMAIN, s)
    };
    let official = domain == DEFAULT_DOMAIN && !remote.contains('/');
    (domain, official, remote)
}

impl Reference {
    /// Parses a reference as the Docker CLI does (`ParseNormalizedNamed`):
    /// `nginx` becomes `docker.io/library/nginx`, without adding a tag.
    pub fn parse(s: &str) -> Result<Reference, ReferenceError> {
        if is_full_identifier(s) {
            return Err(ReferenceError::HexRepositoryName(s.to_owned()));
        }
        let (domain, official, remainder) = split_docker_domain(s);
        let prefix = if official { OFFICIAL_REPO_PREFIX } else { "" };
        let full = format!("{domain}/{prefix}{remainder}");
        let remainder = &full[domain.len() + 1..];
        // Docker checks case only up to the first ':', and names exactly that
        // span in its message.
        let remote = remainder.split(':').next().unwrap_or(remainder);
        if grammar::has_upper(remote) {
            return Err(ReferenceError::RepositoryNameNotLowercase(
                remote.to_owned(),
            ));
        }
        parse_parts(&full).map(Parts::to_reference)
    }

    /// [`Reference::parse`] followed by Docker's `TagNameOnly`: `:latest` is
    /// added when there is neither a tag nor a digest.
    pub fn parse_with_default_tag(s: &str) -> Result<Reference, ReferenceError> {
        Reference::parse(s).map(|r| r.with_default_tag())
    }

    /// Docker's `ParseDockerRef`, the form containerd stores: normalised,
    /// `:latest` added to a bare name, and the tag dropped when a digest pins
    /// the image anyway.
    pub fn parse_docker_ref(s: &str) -> Result<Reference, ReferenceError> {
        let mut reference = Reference::parse(s)?;
        if reference.digest.is_some() {
            reference.tag = None;
            Ok(reference)
        } else {
            Ok(reference.with_default_tag())
        }
    }

    /// Docker's `ParseNamed`: accepts only a reference already in the full
    /// normalised form (`docker.io/library/nginx`, not `nginx`).
    pub fn parse_canonical(s: &str) -> Result<Reference, ReferenceError> {
        let reference = Reference::parse(s)?;
        if reference.to_string() != s {
            return Err(ReferenceError::NameNotCanonical);
        }
        Ok(reference)
    }

    /// Docker's plain `Parse`: checks the grammar without normalising, so
    /// `nginx` keeps an empty domain and `Display` reproduces the input.
    pub fn parse_unnormalized(s: &str) -> Result<Reference, ReferenceError> {
        parse_parts(s).map(Parts::to_reference)
    }

    /// The registry, e.g. `docker.io`, `ghcr.io`, `localhost:5000`,
    /// `[::1]:5000`.
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The repository path within the registry, e.g. `library/nginx`.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The full repository name, e.g. `docker.io/library/nginx`.
    pub fn name(&self) -> String {
        join_name(&self.domain, &self.path)
    }

    /// The repository name as Docker shows it: `nginx`, `myuser/app`,
    /// `ghcr.io/owner/image`, `localhost:5000/x`.
    pub fn familiar_name(&self) -> String {
        let (domain, path) = self.familiar_parts();
        join_name(domain, path)
    }

    /// The reference as Docker shows it: `nginx:latest`, `nginx@sha256:…`,
    /// `nginx:1.25@sha256:…`.
    pub fn familiar_string(&self) -> String {
        let (domain, path) = self.familiar_parts();
        let mut out = join_name(domain, path);
        self.push_suffix(&mut out);
        out
    }

    /// Docker's `FamiliarMatch`, used by `--filter reference=`: the pattern
    /// (Go `path.Match` syntax) is tried against the familiar string, then
    /// against the familiar name alone.
    pub fn familiar_match(&self, pattern: &str) -> Result<bool, ReferenceError> {
        // Like Go, only the first attempt's syntax error is reported.
        Ok(path_match(pattern, &self.familiar_string())?
            || path_match(pattern, &self.familiar_name()).unwrap_or(false))
    }

    /// The tag, if any.
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// The digest, if any, e.g. `sha256:<64 hex>`.
    pub fn digest(&self) -> Option<&str> {
        self.digest.as_deref()
    }

    /// Whether the reference has neither a tag nor a digest.
    pub fn is_name_only(&self) -> bool {
        self.tag.is_none() && self.digest.is_none()
    }

    /// The same reference with `tag` set. Any digest is kept, as Docker's
    /// `WithTag` does.
    /// `latest` when neither a tag nor a digest was given, as Docker reads a bare
    /// name for pull and push.
    pub fn or_latest(self) -> Reference {
        if self.tag().is_some() || self.digest().is_some() {
            return self;
        }
        // "latest" is a valid tag, so this cannot fail.
        self.with_tag("latest").unwrap_or(self)
    }

    pub fn with_tag(&self, tag: &str) -> Result<Reference, ReferenceError> {
        if !grammar::is_tag(tag.as_bytes()) {
            return Err(ReferenceError::InvalidTagFormat);
        }
        Ok(Reference {
            tag: Some(tag.to_owned()),
            ..self.clone()
        })
    }

    /// The same reference with `digest` set; any tag is kept. Beyond Docker's
    /// grammar check the digest must also be one Docker can verify, so every
    /// `Reference` prints as a string that parses back to itself.
    pub fn with_digest(&self, digest: &str) -> Result<Reference, ReferenceError> {
        if !grammar::is_reference_digest(digest.as_bytes()) {
            return Err(ReferenceError::InvalidDigestFormat);
        }
        parse_digest(digest)?;
        Ok(Reference {
            digest: Some(digest.to_owned()),
            ..self.clone()
        })
    }

    /// The bare repository, without tag or digest (Docker's `TrimNamed`).
    pub fn without_tag_or_digest(&self) -> Reference {
        Reference {
            domain: self.domain.clone(),
            path: self.path.clone(),
            tag: None,
            digest: None,
        }
    }

    /// Docker's `TagNameOnly`: adds `:latest` when there is neither a tag nor
    /// a digest.
    pub fn with_default_tag(self) -> Reference {
        if self.is_name_only() {
            Reference {
                tag: Some(DEFAULT_TAG.to_owned()),
                ..self
            }
        } else {
            self
        }
    }

    /// Docker hides its own registry and the official-image namespace, but
    /// only for a single-level name: `library/a/b` keeps its prefix.
    fn familiar_parts(&self) -> (&str, &str) {
        if self.domain != DEFAULT_DOMAIN {
            return (&self.domain, &self.path);
        }
        match self.path.strip_prefix(OFFICIAL_REPO_PREFIX) {
            Some(short) if !short.contains('/') => ("", short),
            _ => ("", &self.path),
        }
    }

    fn push_suffix(&self, out: &mut String) {
        if let Some(tag) = &self.tag {
            out.push(':');
            out.push_str(tag);
        }
        if let Some(digest) = &self.digest {
            out.push('@');
            out.push_str(digest);
        }
    }
}

fn join_name(domain: &str, path: &str) -> String {
    if domain.is_empty() {
        path.to_owned()
    } else {
        let mut out = String::with_capacity(domain.len() + 1 + path.len());
        out.push_str(domain);
        out.push('/');
        out.push_str(path);
        out
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.domain.is_empty() {
            write!(f, "{}/", self.domain)?;
        }
        f.write_str(&self.path)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

impl FromStr for Reference {
    type Err = ReferenceError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Reference::parse(s)
    }
}

/// What Docker's `ParseAnyReference` returns: commands such as `docker rmi`
/// accept a name, a full image ID or a bare digest.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AnyReference {
    /// A repository name, possibly tagged and/or digested.
    Named(Reference),
    /// A bare digest, e.g. `sha256:<64 hex>`; a full image ID is given the
    /// `sha256:` prefix.
    Digest(String),
}

impl AnyReference {
    /// Parses like Docker's `ParseAnyReference`: a 64-hex image ID or a valid
    /// digest first, otherwise a normalised name.
    pub fn parse(s: &str) -> Result<AnyReference, ReferenceError> {
        if is_full_identifier(s) {
            return Ok(AnyReference::Digest(format!("sha256:{s}")));
        }
        if parse_digest(s).is_ok() {
            return Ok(AnyReference::Digest(s.to_owned()));
        }
        Reference::parse(s).map(AnyReference::Named)
    }

    /// The named reference, if this is one.
    pub fn as_named(&self) -> Option<&Reference> {
        match self {
            AnyReference::Named(r) => Some(r),
            AnyReference::Digest(_) => None,
        }
    }

    /// The digest, whether bare or attached to a name.
    pub fn digest(&self) -> Option<&str> {
        match self {
            AnyReference::Named(r) => r.digest(),
            AnyReference::Digest(d) => Some(d),
        }
    }

    /// Docker's `FamiliarString`; a bare digest is shown as is.
    pub fn familiar_string(&self) -> String {
        match self {
            AnyReference::Named(r) => r.familiar_string(),
            AnyReference::Digest(d) => d.clone(),
        }
    }

    /// Docker's `FamiliarMatch`; a bare digest is matched as a string.
    pub fn familiar_match(&self, pattern: &str) -> Result<bool, ReferenceError> {
        match self {
            AnyReference::Named(r) => r.familiar_match(pattern),
            AnyReference::Digest(d) => path_match(pattern, d),
        }
    }
}

impl fmt::Display for AnyReference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AnyReference::Named(r) => r.fmt(f),
            AnyReference::Digest(d) => f.write_str(d),
        }
    }
}

impl FromStr for AnyReference {
    type Err = ReferenceError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        AnyReference::parse(s)
    }
}

#[cfg(test)]
mod tests;
