//! Pulling from a real `docker-registry`: resolving single- and
//! multi-platform images pushed by skopeo (digests must equal skopeo's),
//! platform errors, streaming blobs, a corrupted blob, a cut connection,
//! and mirrors.

mod common;

use common::*;
use kujira_registry::{Error, Platform, RegistryConfig};
use kujira_test_support::image;
use kujira_test_support::registry::{CutProxy, Registry, RegistryOptions};

#[test]
fn resolve_single_platform_and_stream_layers() {
    let reg = Registry::start(RegistryOptions::plain());
    let img = image::layered();
    reg.push_image(img, "app/layered:1");
    let inspected = reg.inspect("app/layered:1", &[]);
    let raw = reg.inspect("app/layered:1", &["--raw"]);
    let tmp = tempfile::tempdir().unwrap();
    let client = client(tmp.path());
    rt().block_on(async {
        let r = reference(&reg, "app/layered:1");
        let resolved = client.resolve(&r, None).await.unwrap();
        assert_eq!(resolved.digest, inspected["Digest"].as_str().unwrap());
        assert_eq!(resolved.digest, img.manifest_digest());
        assert!(!resolved.endpoint.mirror);
        assert_eq!(resolved.endpoint.base_url, reg.url());
        assert_eq!(resolved.repository, "app/layered");
        assert!(resolved.platform.is_none());
        assert_eq!(resolved.manifest_data.digest, resolved.digest);
        assert_eq!(
            serde_json::from_slice::<serde_json::Value>(&resolved.manifest_data.bytes).unwrap(),
            raw
        );
        assert_eq!(sha256(&resolved.config), img.image_id());
        let layers: Vec<String> = resolved
            .manifest
            .layers()
            .iter()
            .map(|l| l.digest().to_string())
            .collect();
        assert_eq!(layers, img.layer_digests());
        for l in resolved.manifest.layers() {
            let d = l.digest().to_string();
            let bytes = read_blob(&client, &resolved.source(), &d, Some(l.size())).await;
            assert_eq!(sha256(&bytes), d);
            assert_eq!(bytes, img.blob(&d));
        }
        // By digest, the same image; a wrong digest is "manifest unknown".
        let by_digest = r.with_digest(&resolved.digest).unwrap();
        assert_eq!(
            client.resolve(&by_digest, None).await.unwrap().digest,
            resolved.digest
        );
        let missing = reference(&reg, "app/layered:nope");
        let e = client.resolve(&missing, None).await.unwrap_err();
        assert!(matches!(e, Error::ManifestUnknown { .. }), "{e:?}");
        assert_eq!(
            e.to_string(),
            format!(
                "manifest for {}/app/layered:nope not found: manifest unknown: manifest unknown",
                reg.host()
            )
        );
    });
}

#[test]
fn resolve_multi_platform() {
    let reg = Registry::start(RegistryOptions::plain());
    let multi = reg.push_multiarch("multi/app:2");
    let inspected_raw = reg.inspect("multi/app:2", &["--raw"]);
    let tmp = tempfile::tempdir().unwrap();
    let client = client(tmp.path());
    rt().block_on(async {
        let r = reference(&reg, "multi/app:2");
        for (i, want) in ["linux/amd64", "linux/arm64"].iter().enumerate() {
            let p = Platform::parse(want).unwrap();
            let res = client.resolve(&r, Some(&p)).await.unwrap();
            assert_eq!(res.digest, multi.index_digest);
            assert_eq!(sha256(&res.top.bytes), multi.index_digest);
            assert_eq!(
                serde_json::from_slice::<serde_json::Value>(&res.top.bytes).unwrap(),
                inspected_raw
            );
            assert!(res.top.is_index());
            assert_eq!(res.manifest_data.digest, multi.manifests[i].1);
            let layers: Vec<String> =
                res.manifest.layers().iter().map(|l| l.digest().to_string()).collect();
            assert_eq!(layers, multi.manifests[i].2);
            let cfg: serde_json::Value = serde_json::from_slice(&res.config).unwrap();
            assert_eq!(cfg["architecture"], want.split('/').nth(1).unwrap());
            assert_eq!(res.platform.as_ref(), Some(&p));
        }
        // skopeo agrees on the per-platform digest.
        let arm = reg.inspect("multi/app:2", &["--override-arch", "arm64"]);
        assert_eq!(arm["Digest"], multi.index_digest);
        // The host default picks amd64 on this machine's architecture.
        if Platform::host().architecture == "amd64" {
            let res = client.resolve(&r, None).await.unwrap();
            assert_eq!(res.manifest_data.digest, multi.manifests[0].1);
        }
        let e = client
            .resolve(&r, Some(&Platform::parse("linux/s390x").unwrap()))
            .await
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "no matching manifest for linux/s390x in the manifest list entries of {}/multi/app:2 (available: linux/amd64, linux/arm64/v8)",
                reg.host()
            )
        );
    });
}

#[test]
fn corrupted_blob_is_streamed_and_its_hash_differs() {
    let reg = Registry::start(RegistryOptions::plain());
    let img = image::busybox();
    reg.push_image(img, "corrupt/busybox:1");
    let layer = img.layer_digests()[0].clone();
    let path = reg.blob_path(&layer);
    let mut data = std::fs::read(&path).unwrap();
    let mid = data.len() / 2;
    data[mid] ^= 0xff;
    std::fs::write(&path, &data).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let client = client(tmp.path());
    rt().block_on(async {
        let r = reference(&reg, "corrupt/busybox:1");
        let res = client.resolve(&r, None).await.unwrap();
        let size = res.manifest.layers()[0].size();
        let got = read_blob(&client, &res.source(), &layer, Some(size)).await;
        assert_eq!(got.len() as u64, size);
        assert_ne!(sha256(&got), layer);
        assert_eq!(got, data);
    });
}

#[test]
fn cut_connection_resumes_with_range() {
    let reg = Registry::start(RegistryOptions::plain());
    let img = image::busybox();
    reg.push_image(img, "cut/busybox:1");
    let layer = img.layer_digests()[0].clone();
    let expected = img.blob(&layer);
    assert!(expected.len() > 300_000, "layer too small to cut");
    let proxy = CutProxy::start(&reg.host(), 200_000);
    let tmp = tempfile::tempdir().unwrap();
    let client = client(tmp.path());
    rt().block_on(async {
        // Through the proxy, as if the registry were at the proxy's address.
        let r =
            kujira_reference::Reference::parse(&format!("{}/cut/busybox:1", proxy.host())).unwrap();
        let res = client.resolve(&r, None).await.unwrap();
        let got = read_blob(&client, &res.source(), &layer, Some(expected.len() as u64)).await;
        assert_eq!(proxy.cuts(), 1, "the proxy did not cut");
        assert!(
            proxy.blob_requests() >= 3,
            "config, cut layer, resumed layer"
        );
        assert_eq!(got.len(), expected.len());
        assert!(got == expected, "resumed bytes differ");

        // Resuming explicitly from an offset yields exactly the tail.
        let mut reader = client
            .open_blob(&res.source(), &layer, Some(expected.len() as u64), 1000)
            .await
            .unwrap();
        let mut tail = Vec::new();
        while let Some(c) = reader.chunk().await.unwrap() {
            tail.extend_from_slice(&c);
        }
        assert_eq!(tail, expected[1000..]);
        assert_eq!(reader.bytes_read(), (expected.len() - 1000) as u64);
    });
}

#[test]
fn mirrors_are_tried_before_the_origin() {
    let mirror = Registry::start(RegistryOptions::plain());
    let img = image::busybox();
    mirror.push_image(img, "library/busybox:latest");
    let tmp = tempfile::tempdir().unwrap();
    // docker.io's mirror list: a dead one first, then the live one. The
    // origin (registry-1.docker.io) is unreachable here; it must not be
    // needed.
    let mut cfg: RegistryConfig = config(tmp.path());
    cfg.max_attempts = 1;
    cfg.mirrors.insert(
        "docker.io".into(),
        vec!["http://127.0.0.1:9".into(), mirror.url()],
    );
    let client = kujira_registry::Client::new(cfg);
    rt().block_on(async {
        let r = kujira_reference::Reference::parse("busybox").unwrap();
        let res = client.resolve(&r, None).await.unwrap();
        assert!(res.endpoint.mirror);
        assert_eq!(res.endpoint.base_url, mirror.url());
        assert_eq!(res.endpoint.registry, "docker.io");
        assert_eq!(res.digest, img.manifest_digest());
        let layer = res.manifest.layers()[0].clone();
        let bytes = read_blob(
            &client,
            &res.source(),
            layer.digest().as_ref(),
            Some(layer.size()),
        )
        .await;
        assert_eq!(sha256(&bytes), layer.digest().to_string());

        // A mirror for a non-Docker Hub registry, whose origin is a closed
        // port.
        let mut cfg = config(tmp.path());
        cfg.max_attempts = 1;
        cfg.mirrors.insert("127.0.0.1:9".into(), vec![mirror.url()]);
        let client = kujira_registry::Client::new(cfg);
        let r = kujira_reference::Reference::parse("127.0.0.1:9/library/busybox").unwrap();
        let res = client.resolve(&r, None).await.unwrap();
        assert!(res.endpoint.mirror);

        // Without the mirror, the closed origin's error is reported.
        let client = kujira_registry::Client::new(RegistryConfig {
            max_attempts: 1,
            ..config(tmp.path())
        });
        let e = client.resolve(&r, None).await.unwrap_err().to_string();
        assert!(e.contains("127.0.0.1:9") && e.contains("refused"), "{e}");
    });
}

#[test]
fn mirror_env_wins_over_files() {
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("config.toml");
    std::fs::write(&f, "registry-mirrors = [\"http://file\"]\n").unwrap();
    let c = RegistryConfig::load_from(&[f], Some("http://env")).unwrap();
    assert_eq!(c.mirrors_for("docker.io"), ["http://env"]);
}
