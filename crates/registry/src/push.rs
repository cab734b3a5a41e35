//! The push side of the protocol: checking which blobs a repository
//! already has, mounting blobs from another repository of the same
//! registry, uploading (one PUT for small blobs, PATCH chunks for large
//! ones, so memory stays bounded by the chunk size), and putting manifests.
//! Pushes always go to the registry itself, never to a mirror.

use bytes::Bytes;
use reqwest::header::{HeaderName, CONTENT_LENGTH, CONTENT_TYPE, LOCATION};
use reqwest::{Method, StatusCode};
use tokio::io::{AsyncRead, AsyncReadExt};

use kujira_reference::Reference;

use crate::auth::{pull_scope, push_scope};
use crate::client::{Client, Request};
use crate::endpoint::{join_location, Endpoint};
use crate::error::{Error, Result};
use crate::manifest::sha256_digest;

const DOCKER_CONTENT_DIGEST: HeaderName = HeaderName::from_static("docker-content-digest");
const CONTENT_RANGE: HeaderName = HeaderName::from_static("content-range");

impl Client {
    /// Whether `repo`'s repository already has blob `digest` (HEAD).
    pub async fn blob_exists(&self, repo: &Reference, digest: &str) -> Result<bool> {
        let ep = self.origin(repo.domain()).await?;
        let path = repo.path();
        let req = Request::new(
            Method::HEAD,
            ep.repo_url(path, &format!("blobs/{digest}")),
            &ep,
            Some(path),
            vec![push_scope(path)],
        );
        let resp = self.send(&req).await?;
        match resp.status() {
            s if s.is_success() => Ok(true),
            StatusCode::NOT_FOUND => Ok(false),
            _ => Err(self.fail(&req, resp).await),
        }
    }

    /// Asks the registry to link blob `digest` from repository `from_repo`
    /// (a path in the same registry, e.g. `library/busybox`) into `repo`
    /// without uploading it. Returns `false` when the registry would not
    /// (no access to `from_repo`, or it lacks the blob): upload it then.
    pub async fn mount_blob(
        &self,
        repo: &Reference,
        digest: &str,
        from_repo: &str,
    ) -> Result<bool> {
        let ep = self.origin(repo.domain()).await?;
        let path = repo.path();
        let mut url = reqwest::Url::parse(&ep.repo_url(path, "blobs/uploads/")).map_err(|e| {
            Error::Protocol {
                url: ep.base_url.clone(),
                reason: e.to_string(),
            }
        })?;
        url.query_pairs_mut()
            .append_pair("mount", digest)
            .append_pair("from", from_repo);
        let req = Request::new(
            Method::POST,
            url.to_string(),
            &ep,
            Some(path),
            vec![push_scope(path), pull_scope(from_repo)],
        )
        .header(CONTENT_LENGTH, "0");
        let resp = self.send(&req).await?;
        match resp.status() {
            StatusCode::CREATED => Ok(true),
            StatusCode::ACCEPTED => {
                // The registry opened an upload instead; close it so it does
                // not linger until the registry's upload purge.
                if let Some(loc) = location(&resp, &req.url) {
                    let del =
                        Request::new(Method::DELETE, loc, &ep, Some(path), req.scopes.clone());
                    let _ = self.send(&del).await;
                }
                Ok(false)
            }
            _ => Err(self.fail(&req, resp).await),
        }
    }

    /// Uploads blob `digest` of `size` bytes read from `reader` into
    /// `repo`'s repository. Blobs up to the configured chunk size go in one
    /// PUT; larger ones in PATCH chunks of that size. The registry checks
    /// the digest; a reader yielding other than `size` bytes is an error.
    pub async fn upload_blob<R: AsyncRead + Unpin + Send>(
        &self,
        repo: &Reference,
        digest: &str,
        size: u64,
        mut reader: R,
    ) -> Result<()> {
        let ep = self.origin(repo.domain()).await?;
        let path = repo.path();
        let scopes = vec![push_scope(path)];
        let start = Request::new(
            Method::POST,
            ep.repo_url(path, "blobs/uploads/"),
            &ep,
            Some(path),
            scopes.clone(),
        )
        .header(CONTENT_LENGTH, "0");
        let resp = self.send(&start).await?;
        if resp.status() != StatusCode::ACCEPTED {
            return Err(self.fail(&start, resp).await);
        }
        let mut upload = location(&resp, &start.url).ok_or_else(|| Error::Protocol {
            url: start.url.clone(),
            reason: "upload started without a Location".into(),
        })?;
        let chunk = self.config().upload_chunk_size.max(1 << 16);
        let read_err = |source| Error::Io {
            context: format!("reading blob {digest} to push"),
            source,
        };
        let final_body = if size <= chunk as u64 {
            let mut buf = Vec::with_capacity(size as usize);
            (&mut reader)
                .take(size + 1)
                .read_to_end(&mut buf)
                .await
                .map_err(read_err)?;
            check_len(digest, size, buf.len() as u64)?;
            Bytes::from(buf)
        } else {
            let mut sent = 0u64;
            loop {
                let mut buf = Vec::with_capacity(chunk);
                (&mut reader)
                    .take(chunk as u64)
                    .read_to_end(&mut buf)
                    .await
                    .map_err(read_err)?;
                if buf.is_empty() {
                    break;
                }
                if sent + buf.len() as u64 > size {
                    return check_len(digest, size, sent + buf.len() as u64).map(|_| ());
                }
                let end = sent + buf.len() as u64 - 1;
                let req = Request::new(
                    Method::PATCH,
                    upload.clone(),
                    &ep,
                    Some(path),
                    scopes.clone(),
                )
                .header(CONTENT_TYPE, "application/octet-stream")
                .header(CONTENT_RANGE, format!("{sent}-{end}"))
                .body(Bytes::from(buf));
                let resp = self.send(&req).await?;
                if resp.status() != StatusCode::ACCEPTED {
                    return Err(self.fail(&req, resp).await);
                }
                sent = end + 1;
                upload = location(&resp, &upload).unwrap_or(upload);
            }
            check_len(digest, size, sent)?;
            Bytes::new()
        };
        let sep = if upload.contains('?') { '&' } else { '?' };
        let put_url = format!("{upload}{sep}digest={}", digest.replace(':', "%3A"));
        let req = Request::new(Method::PUT, put_url, &ep, Some(path), scopes)
            .header(CONTENT_TYPE, "application/octet-stream")
            .body(final_body);
        let resp = self.send(&req).await?;
        if resp.status() != StatusCode::CREATED {
            return Err(self.fail(&req, resp).await);
        }
        Ok(())
    }

    /// Puts a manifest (or index) under `tag_or_digest` in `repo`'s
    /// repository and returns its digest, as Docker prints it after
    /// `latest: digest:`.
    pub async fn put_manifest(
        &self,
        repo: &Reference,
        tag_or_digest: &str,
        media_type: &str,
        bytes: &[u8],
    ) -> Result<String> {
        let ep: Endpoint = self.origin(repo.domain()).await?;
        let path = repo.path();
        let digest = sha256_digest(bytes);
        let req = Request::new(
            Method::PUT,
            ep.repo_url(path, &format!("manifests/{tag_or_digest}")),
            &ep,
            Some(path),
            vec![push_scope(path)],
        )
        .header(CONTENT_TYPE, media_type)
        .body(Bytes::copy_from_slice(bytes));
        let resp = self.send(&req).await?;
        if resp.status() != StatusCode::CREATED {
            return Err(self.fail(&req, resp).await);
        }
        let answered = resp
            .headers()
            .get(DOCKER_CONTENT_DIGEST)
            .and_then(|v| v.to_str().ok());
        if let Some(a) = answered {
            if a != digest {
                return Err(Error::DigestMismatch {
                    registry: ep.registry.clone(),
                    repository: path.to_string(),
                    what: format!("pushed manifest {tag_or_digest}"),
                    expected: digest,
                    actual: a.to_string(),
                });
            }
        }
        Ok(digest)
    }
}

fn check_len(digest: &str, size: u64, got: u64) -> Result<()> {
    if got == size {
        return Ok(());
    }
    Err(Error::Io {
        context: format!("reading blob {digest} to push"),
        source: std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "expected {size} bytes, the source has {}{got}",
                if got > size { "at least " } else { "" }
            ),
        ),
    })
}

/// The absolute upload URL from a `Location` header.
fn location(resp: &reqwest::Response, base: &str) -> Option<String> {
    let loc = resp.headers().get(LOCATION)?.to_str().ok()?;
    join_location(base, loc).ok()
}
