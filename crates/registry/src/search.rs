//! Listings: a registry's catalog, a repository's tags (both paginated
//! with `Link: <…>; rel="next"`), and Docker Hub's search API, which is what
//! `docker search` uses for docker.io.

use reqwest::header::LINK;
use reqwest::Method;
use serde::Deserialize;

use kujira_reference::Reference;

use crate::auth::pull_scope;
use crate::client::{read_limited, Client, Request};
use crate::endpoint::{join_location, Endpoint};
use crate::error::{Error, Result};

/// Entries asked for per page.
const PAGE: usize = 1000;
/// A page of names is small; this bounds a hostile one.
const MAX_PAGE_BYTES: usize = 16 << 20;
/// Guards against a registry whose `next` links loop.
const MAX_PAGES: usize = 10_000;

/// One Docker Hub search result.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct SearchResult {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default, rename = "star_count")]
    pub stars: u64,
    #[serde(default, rename = "is_official")]
    pub official: bool,
    #[serde(default, rename = "is_automated")]
    pub automated: bool,
}

#[derive(Deserialize)]
struct SearchResponse {
    #[serde(default)]
    results: Vec<SearchResult>,
}

#[derive(Deserialize)]
struct CatalogPage {
    #[serde(default)]
    repositories: Option<Vec<String>>,
}

#[derive(Deserialize)]
struct TagsPage {
    #[serde(default)]
    tags: Option<Vec<String>>,
}

impl Client {
    /// Every repository of `registry` (`host[:port]`), from `/v2/_catalog`.
    pub async fn catalog(&self, registry: &str) -> Result<Vec<String>> {
        let ep = self.origin(registry).await?;
        let first = format!("{}/v2/_catalog?n={PAGE}", ep.base_url);
        let pages = self
            .paginate(&ep, None, first, vec!["registry:catalog:*".to_string()])
            .await?;
        let mut out = Vec::new();
        for (url, body) in pages {
            let page: CatalogPage = parse(&url, &body)?;
            out.extend(page.repositories.unwrap_or_default());
        }
        Ok(out)
    }

    /// Every tag of `repo`'s repository.
    pub async fn tags(&self, repo: &Reference) -> Result<Vec<String>> {
        let ep = self.origin(repo.domain()).await?;
        let path = repo.path();
        let first = ep.repo_url(path, &format!("tags/list?n={PAGE}"));
        let pages = self
            .paginate(&ep, Some(path), first, vec![pull_scope(path)])
            .await?;
        let mut out = Vec::new();
        for (url, body) in pages {
            let page: TagsPage = parse(&url, &body)?;
            out.extend(page.tags.unwrap_or_default());
        }
        Ok(out)
    }

    /// Docker Hub's search (`docker search TERM --limit N`), from the
    /// configured search URL.
    pub async fn search(&self, term: &str, limit: usize) -> Result<Vec<SearchResult>> {
        let base = &self.config().search_url;
        let mut url = reqwest::Url::parse(base).map_err(|e| Error::Protocol {
            url: base.clone(),
            reason: format!("invalid search URL: {e}"),
        })?;
        url.query_pairs_mut()
            .append_pair("q", term)
            .append_pair("n", &limit.to_string());
        let url = url.to_string();
        let host = crate::endpoint::authority(&url).to_string();
        let http = self.http(&host, false)?;
        let resp = http
            .get(&url)
            .send()
            .await
            .map_err(|e| Error::connection("Get", &url, &e))?;
        let status = resp.status();
        let body = read_limited(resp, MAX_PAGE_BYTES, &url).await?;
        if !status.is_success() {
            return Err(Error::Registry {
                registry: host,
                repository: None,
                status: status.as_u16(),
                detail: crate::client::error_detail(status, &body),
            });
        }
        let mut r: SearchResponse = parse(&url, &body)?;
        r.results.truncate(limit);
        Ok(r.results)
    }

    /// GETs `first` and every page its `Link: rel="next"` headers lead to.
    async fn paginate(
        &self,
        ep: &Endpoint,
        repository: Option<&str>,
        first: String,
        scopes: Vec<String>,
    ) -> Result<Vec<(String, Vec<u8>)>> {
        let mut pages = Vec::new();
        let mut next = Some(first);
        while let Some(url) = next.take() {
            if pages.len() >= MAX_PAGES {
                return Err(Error::Protocol {
                    url,
                    reason: "too many pages".into(),
                });
            }
            let req = Request::new(Method::GET, url.clone(), ep, repository, scopes.clone());
            let resp = self.send(&req).await?;
            if !resp.status().is_success() {
                return Err(self.fail(&req, resp).await);
            }
            next = resp
                .headers()
                .get(LINK)
                .and_then(|v| v.to_str().ok())
                .and_then(next_link)
                .map(|l| join_location(&url, &l))
                .transpose()?;
            let body = read_limited(resp, MAX_PAGE_BYTES, &url).await?;
            pages.push((url, body));
        }
        Ok(pages)
    }
}

fn parse<T: for<'de> Deserialize<'de>>(url: &str, body: &[u8]) -> Result<T> {
    serde_json::from_slice(body).map_err(|e| Error::Protocol {
        url: url.to_string(),
        reason: format!("unexpected answer: {e}"),
    })
}

/// The target of the `rel="next"` link in a `Link` header.
fn next_link(header: &str) -> Option<String> {
    header.split(',').find_map(|part| {
        let (target, params) = part.split_once(';')?;
        let is_next = params
            .split(';')
            .any(|p| p.trim().replace(' ', "") == "rel=\"next\"" || p.trim() == "rel=next");
        let target = target.trim().strip_prefix('<')?.strip_suffix('>')?;
        is_next.then(|| target.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links() {
        assert_eq!(
            next_link(r#"</v2/_catalog?last=b&n=2>; rel="next""#).as_deref(),
            Some("/v2/_catalog?last=b&n=2")
        );
        assert_eq!(next_link(r#"</x>; rel="prev""#), None);
    }
}
