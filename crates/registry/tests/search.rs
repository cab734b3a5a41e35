//! Docker Hub search can only be reached on the internet, so it is tested
//! against a local stand-in serving the same JSON shape as
//! `index.docker.io/v1/search`.

mod common;

use common::*;
use kujira_registry::{Client, SearchResult};
use kujira_test_support::registry::{HttpResponse, HttpServer};
use serde_json::json;

#[test]
fn hub_search_api() {
    let server = HttpServer::start(|req| {
        assert_eq!(req.path, "/v1/search");
        let q = req.query_all("q").concat();
        let n: usize = req.query_all("n").concat().parse().unwrap();
        let all = json!([
            {"name": "nginx", "description": "Official build of Nginx.", "star_count": 20000, "is_official": true, "is_automated": false},
            {"name": format!("someone/{q}-proxy"), "description": "", "star_count": 3, "is_official": false, "is_automated": true},
            {"name": "x/three", "star_count": 1}
        ]);
        let results: Vec<_> = all.as_array().unwrap().iter().take(n).cloned().collect();
        HttpResponse::json(
            200,
            &json!({"num_results": results.len(), "query": q, "results": results}),
        )
    });
    let tmp = tempfile::tempdir().unwrap();
    let mut cfg = config(tmp.path());
    cfg.search_url = format!("{}/v1/search", server.url());
    let client = Client::new(cfg);
    rt().block_on(async {
        let r = client.search("nginx", 2).await.unwrap();
        assert_eq!(
            r,
            [
                SearchResult {
                    name: "nginx".into(),
                    description: "Official build of Nginx.".into(),
                    stars: 20000,
                    official: true,
                    automated: false,
                },
                SearchResult {
                    name: "someone/nginx-proxy".into(),
                    description: "".into(),
                    stars: 3,
                    official: false,
                    automated: true,
                },
            ]
        );
    });
}
