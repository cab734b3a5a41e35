//! Turning what a user typed (a name, a tag, a digest reference, a full or short image
//! ID) into a stored image, with Docker's precedence: a reference that names a tag
//! wins over an ID prefix that happens to look the same.

use kujira_reference::Reference;

use crate::{Digest, Engine, EngineError};

/// A resolved image and how it was named.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub id: Digest,
    /// The tag reference used, when the user named a tag (`docker.io/library/nginx:latest`).
    pub tag: Option<Reference>,
    /// The digest reference used, when the user named `repo@sha256:…`.
    pub digest_ref: Option<Reference>,
}

impl Engine {
    /// Resolves `input` to a stored image or fails with Docker's "No such image".
    pub fn resolve_image(&self, input: &str) -> Result<Resolved, EngineError> {
        self.find_image(input)?
            .ok_or_else(|| EngineError::NoSuchImage(not_found_name(input)))
    }

    pub fn find_image(&self, input: &str) -> Result<Option<Resolved>, EngineError> {
        let meta = &self.store.meta;
        // A full ID, with or without its algorithm.
        let hex = input.strip_prefix("sha256:").unwrap_or(input);
        if hex.len() == 64 {
            if let Ok(d) = Digest::parse(&format!("sha256:{hex}")) {
                if meta.image(&d)?.is_some() {
                    return Ok(Some(Resolved {
                        id: d,
                        tag: None,
                        digest_ref: None,
                    }));
                }
            }
        }
        if let Ok(r) = Reference::parse(input) {
            if let Some(dg) = r.digest() {
                let repo = r.name();
                for (rrepo, rdigest, image) in meta.repo_digests()? {
                    if rrepo == repo && rdigest == dg {
                        return Ok(Some(Resolved {
                            id: image,
                            tag: None,
                            digest_ref: Some(r),
                        }));
                    }
                }
                // A digest reference may also name the image's own ID (config digest).
                if let Ok(d) = Digest::parse(dg) {
                    if meta.image(&d)?.is_some() && r.tag().is_none() {
                        return Ok(Some(Resolved {
                            id: d,
                            tag: None,
                            digest_ref: Some(r),
                        }));
                    }
                }
                return Ok(None);
            }
            let tagged = if r.tag().is_some() {
                r
            } else {
                r.with_tag("latest")?
            };
            if let Some(id) = meta.tag_target(&tagged.to_string())? {
                return Ok(Some(Resolved {
                    id,
                    tag: Some(tagged),
                    digest_ref: None,
                }));
            }
        }
        // A unique ID prefix (Docker accepts any prefix of the hex digits).
        if !hex.is_empty()
            && hex.len() < 64
            && hex
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        {
            let matches = meta.images_with_prefix(hex)?;
            if matches.len() == 1 {
                return Ok(Some(Resolved {
                    id: matches[0].clone(),
                    tag: None,
                    digest_ref: None,
                }));
            }
        }
        Ok(None)
    }
}

/// Docker names a missing image as the user would read it: `nginx:latest` for `nginx`.
pub fn not_found_name(input: &str) -> String {
    match Reference::parse(input) {
        Ok(r) if r.tag().is_none() && r.digest().is_none() && !looks_like_id(input) => {
            format!("{input}:latest")
        }
        _ => input.to_string(),
    }
}

fn looks_like_id(s: &str) -> bool {
    let hex = s.strip_prefix("sha256:").unwrap_or(s);
    !hex.is_empty()
        && hex.len() <= 64
        && hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}
