//! Resolving a reference to one image: the manifest (through a manifest
//! list / OCI index when there is one, choosing the platform), with every
//! digest checked, and the image config. Mirrors are tried before the
//! registry; the first endpoint that resolves the whole image wins.

use reqwest::header::{ACCEPT, CONTENT_TYPE};
use reqwest::{Method, StatusCode};
use serde::Deserialize;
use sha2::{Digest as _, Sha256};

use kujira_reference::Reference;
use oci_spec::image::ImageManifest;

use crate::auth::pull_scope;
use crate::blob::BlobSource;
use crate::client::{error_detail, read_limited, Client, Request};
use crate::endpoint::Endpoint;
use crate::error::{Error, Result};
use crate::platform::Platform;

pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
const DOCKER_SCHEMA1: &str = "application/vnd.docker.distribution.manifest.v1+json";
const DOCKER_SCHEMA1_SIGNED: &str = "application/vnd.docker.distribution.manifest.v1+prettyjws";

/// Manifests are small; the distribution registry itself refuses more
/// than 4 MiB.
const MAX_MANIFEST: usize = 4 << 20;
/// Image configs carry history and can be big, but not this big.
const MAX_CONFIG: u64 = 32 << 20;

/// A manifest (or index) as fetched: its bytes are what the digest covers.
#[derive(Clone, Debug)]
pub struct ManifestData {
    /// `sha256:<hex>` of `bytes`.
    pub digest: String,
    pub media_type: String,
    pub bytes: Vec<u8>,
}

impl ManifestData {
    /// Whether this is a manifest list or OCI index.
    pub fn is_index(&self) -> bool {
        self.media_type == OCI_INDEX || self.media_type == DOCKER_MANIFEST_LIST
    }
}

/// One image, resolved and verified.
#[derive(Clone, Debug)]
pub struct ResolvedImage {
    /// The endpoint that answered (a mirror or the registry).
    pub endpoint: Endpoint,
    /// Repository path within the registry (`library/nginx`).
    pub repository: String,
    /// Digest of the top-level manifest or index: what Docker prints as
    /// `Digest:` and records as the repo digest.
    pub digest: String,
    /// The top-level manifest or index.
    pub top: ManifestData,
    /// The platform chosen from an index; `None` for a single manifest.
    pub platform: Option<Platform>,
    /// The image manifest (the index entry chosen, or `top` itself).
    pub manifest_data: ManifestData,
    pub manifest: ImageManifest,
    /// The image config blob, verified against the manifest.
    pub config: Vec<u8>,
}

impl ResolvedImage {
    /// Where to fetch this image's blobs from.
    pub fn source(&self) -> BlobSource {
        BlobSource {
            endpoint: self.endpoint.clone(),
            repository: self.repository.clone(),
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Probe {
    schema_version: Option<u32>,
    media_type: Option<String>,
    manifests: Option<serde_json::Value>,
    config: Option<serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct IndexJson {
    manifests: Vec<IndexEntry>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct IndexEntry {
    media_type: Option<String>,
    digest: String,
    platform: Option<PlatformJson>,
}

#[derive(Deserialize)]
struct PlatformJson {
    os: String,
    architecture: String,
    variant: Option<String>,
}

/// `sha256:<hex>` of `data`.
pub(crate) fn sha256_digest(data: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(data)))
}

impl Client {
    /// Resolves `reference` to one image for `platform` (default: this
    /// host's). Tries each mirror of the reference's registry, then the
    /// registry; a mirror's failure falls through to the next endpoint, the
    /// registry's is returned.
    pub async fn resolve(
        &self,
        reference: &Reference,
        platform: Option<&Platform>,
    ) -> Result<ResolvedImage> {
        let endpoints = self.pull_endpoints(reference.domain()).await?;
        let mut result = None;
        for ep in endpoints {
            let r = self.resolve_at(&ep, reference, platform).await;
            match r {
                Ok(img) => return Ok(img),
                Err(e) => result = Some(e),
            }
        }
        Err(result.unwrap_or_else(|| Error::Protocol {
            url: reference.domain().to_string(),
            reason: "no endpoint to pull from".into(),
        }))
    }

    /// [`Client::resolve`] against one endpoint only.
    pub async fn resolve_at(
        &self,
        endpoint: &Endpoint,
        reference: &Reference,
        platform: Option<&Platform>,
    ) -> Result<ResolvedImage> {
        let repo = reference.path();
        let name = reference.familiar_string();
        let wanted = reference.digest().or(reference.tag()).unwrap_or("latest");
        let top = self
            .fetch_manifest(endpoint, reference, wanted, reference.digest())
            .await?;
        let (chosen, manifest_data) = if top.is_index() {
            let want = platform.cloned().unwrap_or_else(Platform::host);
            let digest = choose(&top, &want, &name)?;
            let m = self
                .fetch_manifest(endpoint, reference, &digest, Some(&digest))
                .await?;
            if m.is_index() {
                return Err(Error::Invalid {
                    name,
                    what: "manifest list",
                    reason: format!("entry {digest} is itself an index"),
                });
            }
            (Some(want), m)
        } else {
            (None, top.clone())
        };
        let manifest: ImageManifest =
            serde_json::from_slice(&manifest_data.bytes).map_err(|e| Error::Invalid {
                name: name.clone(),
                what: "manifest",
                reason: e.to_string(),
            })?;
        let source = BlobSource {
            endpoint: endpoint.clone(),
            repository: repo.to_string(),
        };
        let cfg = manifest.config();
        if cfg.size() > MAX_CONFIG {
            return Err(Error::TooLarge {
                registry: endpoint.registry.clone(),
                what: format!("config {}", cfg.digest()),
                limit: MAX_CONFIG,
            });
        }
        let config = self
            .fetch_blob_bytes(&source, cfg.digest().as_ref(), cfg.size())
            .await?;
        Ok(ResolvedImage {
            endpoint: endpoint.clone(),
            repository: repo.to_string(),
            digest: top.digest.clone(),
            top,
            platform: chosen,
            manifest_data,
            manifest,
            config,
        })
    }

    /// GETs a manifest by tag or digest and checks it; `expected` is the
    /// digest it must have, if known.
    pub async fn fetch_manifest(
        &self,
        endpoint: &Endpoint,
        reference: &Reference,
        tag_or_digest: &str,
        expected: Option<&str>,
    ) -> Result<ManifestData> {
        let repo = reference.path();
        let name = reference.familiar_string();
        let req = Request::new(
            Method::GET,
            endpoint.repo_url(repo, &format!("manifests/{tag_or_digest}")),
            endpoint,
            Some(repo),
            vec![pull_scope(repo)],
        )
        .header(
            ACCEPT,
            [
                OCI_INDEX,
                OCI_MANIFEST,
                DOCKER_MANIFEST_LIST,
                DOCKER_MANIFEST,
            ]
            .join(", "),
        );
        let resp = self.send(&req).await?;
        let status = resp.status();
        if !status.is_success() {
            let body = read_limited(resp, 64 << 10, &req.url)
                .await
                .unwrap_or_default();
            let detail = error_detail(status, &body);
            return Err(match status {
                StatusCode::NOT_FOUND => Error::ManifestUnknown { name, detail },
                StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => Error::PullAccessDenied {
                    name: reference.familiar_name(),
                    detail,
                },
                s => Error::Registry {
                    registry: endpoint.registry.clone(),
                    repository: Some(repo.to_string()),
                    status: s.as_u16(),
                    detail,
                },
            });
        }
        let header_type = resp
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(';').next().unwrap_or(v).trim().to_string());
        let bytes = read_limited(resp, MAX_MANIFEST, &req.url).await?;
        let digest = sha256_digest(&bytes);
        if let Some(exp) = expected {
            if exp != digest {
                return Err(Error::DigestMismatch {
                    registry: endpoint.registry.clone(),
                    repository: repo.to_string(),
                    what: format!("manifest {tag_or_digest}"),
                    expected: exp.to_string(),
                    actual: digest,
                });
            }
        }
        let media_type = media_type(&bytes, header_type.as_deref(), &name)?;
        Ok(ManifestData {
            digest,
            media_type,
            bytes,
        })
    }
}

/// The media type of a fetched manifest: the document's own `mediaType`
/// first (it is covered by the digest, the header is not), then the
/// Content-Type, then its shape.
fn media_type(bytes: &[u8], header: Option<&str>, name: &str) -> Result<String> {
    let probe: Probe = serde_json::from_slice(bytes).map_err(|e| Error::Invalid {
        name: name.to_string(),
        what: "manifest",
        reason: format!("not JSON: {e}"),
    })?;
    let schema1 = |t: &str| t == DOCKER_SCHEMA1 || t == DOCKER_SCHEMA1_SIGNED;
    if probe.schema_version == Some(1) || header.is_some_and(schema1) {
        return Err(Error::Schema1 {
            name: name.to_string(),
        });
    }
    let known = [
        OCI_INDEX,
        OCI_MANIFEST,
        DOCKER_MANIFEST_LIST,
        DOCKER_MANIFEST,
    ];
    let mt = match (probe.media_type.as_deref(), header) {
        (Some(t), _) if !t.is_empty() => t.to_string(),
        (_, Some(h)) if known.contains(&h) => h.to_string(),
        _ if probe.manifests.is_some() => OCI_INDEX.to_string(),
        _ if probe.config.is_some() => OCI_MANIFEST.to_string(),
        (_, h) => h.unwrap_or("unknown").to_string(),
    };
    if !known.contains(&mt.as_str()) {
        return Err(Error::UnsupportedMediaType {
            name: name.to_string(),
            media_type: mt,
        });
    }
    Ok(mt)
}

/// Picks the index entry for `want`; the error lists what there is.
fn choose(index: &ManifestData, want: &Platform, name: &str) -> Result<String> {
    let parsed: IndexJson = serde_json::from_slice(&index.bytes).map_err(|e| Error::Invalid {
        name: name.to_string(),
        what: "manifest list",
        reason: e.to_string(),
    })?;
    let mut available = Vec::new();
    for m in &parsed.manifests {
        let Some(p) = &m.platform else { continue };
        // Attestation manifests (buildx) are listed as unknown/unknown.
        if p.os == "unknown" || p.architecture == "unknown" {
            continue;
        }
        let is_image = m
            .media_type
            .as_deref()
            .is_none_or(|t| t == OCI_MANIFEST || t == DOCKER_MANIFEST);
        if is_image && want.matches(&p.os, &p.architecture, p.variant.as_deref()) {
            return Ok(m.digest.clone());
        }
        let mut s = format!("{}/{}", p.os, p.architecture);
        if let Some(v) = p.variant.as_deref().filter(|v| !v.is_empty()) {
            s.push('/');
            s.push_str(v);
        }
        available.push(s);
    }
    Err(Error::NoMatchingPlatform {
        name: name.to_string(),
        wanted: want.to_string(),
        available,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index(json: &str) -> ManifestData {
        ManifestData {
            digest: sha256_digest(json.as_bytes()),
            media_type: OCI_INDEX.into(),
            bytes: json.as_bytes().to_vec(),
        }
    }

    #[test]
    fn platform_choice_and_error() {
        let idx = index(
            r#"{"schemaVersion":2,"manifests":[
            {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:aa","size":1,"platform":{"os":"linux","architecture":"amd64"}},
            {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:bb","size":1,"platform":{"os":"linux","architecture":"arm64","variant":"v8"}},
            {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:cc","size":1,"platform":{"os":"unknown","architecture":"unknown"}}]}"#,
        );
        let p = |s| Platform::parse(s).unwrap();
        assert_eq!(choose(&idx, &p("linux/arm64"), "x").unwrap(), "sha256:bb");
        assert_eq!(choose(&idx, &p("linux/amd64"), "x").unwrap(), "sha256:aa");
        let e = choose(&idx, &p("linux/s390x"), "x:1")
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "no matching manifest for linux/s390x in the manifest list entries of x:1 (available: linux/amd64, linux/arm64/v8)"
        );
    }

    #[test]
    fn media_types() {
        assert!(matches!(
            media_type(br#"{"schemaVersion":1,"name":"x"}"#, None, "x"),
            Err(Error::Schema1 { .. })
        ));
        assert_eq!(
            media_type(br#"{"schemaVersion":2,"config":{}}"#, None, "x").unwrap(),
            OCI_MANIFEST
        );
        assert_eq!(
            media_type(br#"{"schemaVersion":2}"#, Some(DOCKER_MANIFEST), "x").unwrap(),
            DOCKER_MANIFEST
        );
        assert!(matches!(
            media_type(br#"{"mediaType":"text/plain"}"#, None, "x"),
            Err(Error::UnsupportedMediaType { .. })
        ));
    }
}
