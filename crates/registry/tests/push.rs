//! Pushing to a real `docker-registry`: blobs (monolithic and chunked),
//! cross-repository mounts, the manifest; `skopeo inspect` must then show
//! the same digests. Also the catalog with pagination.

mod common;

use common::*;
use kujira_registry::Client;
use kujira_test_support::image;
use kujira_test_support::registry::{Registry, RegistryOptions};

#[test]
fn push_small_image_then_skopeo_sees_the_same_digests() {
    let reg = Registry::start(RegistryOptions::plain());
    let img = image::layered();
    let manifest = img.manifest();
    let manifest_bytes = img.blob(&img.manifest_digest());
    let tmp = tempfile::tempdir().unwrap();
    let mut cfg = config(tmp.path());
    // Small chunks so the ~1 MB busybox layer goes up in PATCH chunks.
    cfg.upload_chunk_size = 64 << 10;
    let client = Client::new(cfg);
    rt().block_on(async {
        let dest = reference(&reg, "pushed/layered:v1");
        let mut blobs = vec![manifest["config"].clone()];
        blobs.extend(manifest["layers"].as_array().unwrap().iter().cloned());
        for b in &blobs {
            let digest = b["digest"].as_str().unwrap();
            let size = b["size"].as_u64().unwrap();
            assert!(!client.blob_exists(&dest, digest).await.unwrap());
            let data = img.blob(digest);
            client
                .upload_blob(&dest, digest, size, std::io::Cursor::new(data))
                .await
                .unwrap();
            assert!(client.blob_exists(&dest, digest).await.unwrap());
        }
        let d = client
            .put_manifest(
                &dest,
                "v1",
                manifest["mediaType"]
                    .as_str()
                    .unwrap_or(kujira_registry::OCI_MANIFEST),
                &manifest_bytes,
            )
            .await
            .unwrap();
        assert_eq!(d, img.manifest_digest());
        let inspected = reg.inspect("pushed/layered:v1", &[]);
        assert_eq!(inspected["Digest"], img.manifest_digest().as_str());
        let layers: Vec<String> = inspected["Layers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect();
        assert_eq!(layers, img.layer_digests());
        assert_eq!(
            reg.inspect("pushed/layered:v1", &["--config"]),
            img.config()
        );

        // A second repository gets the blobs by mounting, not uploading.
        let other = reference(&reg, "other/layered:v1");
        for b in &blobs {
            let digest = b["digest"].as_str().unwrap();
            assert!(client
                .mount_blob(&other, digest, "pushed/layered")
                .await
                .unwrap());
            assert!(client.blob_exists(&other, digest).await.unwrap());
        }
        // Mounting from a repository without the blob falls back (false).
        let missing = format!("sha256:{}", "0".repeat(64));
        assert!(!client
            .mount_blob(&other, &missing, "pushed/layered")
            .await
            .unwrap());
        client
            .put_manifest(
                &other,
                &img.manifest_digest(),
                manifest["mediaType"]
                    .as_str()
                    .unwrap_or(kujira_registry::OCI_MANIFEST),
                &manifest_bytes,
            )
            .await
            .unwrap();

        // A reader with fewer bytes than announced is refused.
        let e = client
            .upload_blob(&other, &missing, 10, std::io::Cursor::new(vec![1u8; 3]))
            .await
            .unwrap_err();
        assert!(e.to_string().contains("expected 10 bytes"), "{e}");
        // Content that does not match its digest is refused by the registry.
        let e = client
            .upload_blob(&other, &missing, 3, std::io::Cursor::new(vec![1u8; 3]))
            .await
            .unwrap_err();
        assert!(e.to_string().contains("digest invalid"), "{e}");

        let mut repos = client.catalog(&reg.host()).await.unwrap();
        repos.sort();
        assert_eq!(repos, ["other/layered", "pushed/layered"]);
    });
}
