//! Authentication against a real `docker-registry`: htpasswd basic auth
//! with `login`, bearer tokens from a JWT issuer the registry verifies, and
//! TLS with a test CA from a certs.d directory.

mod common;

use common::*;
use kujira_registry::{Client, Error};
use kujira_test_support::image;
use kujira_test_support::registry::{Registry, RegistryOptions};

#[test]
fn htpasswd_login_then_pull() {
    let reg = Registry::start(RegistryOptions::plain().htpasswd("alice", "s3cret"));
    let img = image::busybox();
    reg.push_image(img, "private/busybox:1");
    let tmp = tempfile::tempdir().unwrap();
    rt().block_on(async {
        let r = reference(&reg, "private/busybox:1");
        let anon = client(tmp.path());
        let e = anon.resolve(&r, None).await.unwrap_err();
        assert!(matches!(e, Error::PullAccessDenied { .. }), "{e:?}");
        assert!(
            e.to_string().starts_with(&format!(
                "pull access denied for {}/private/busybox, repository does not exist or may require 'docker login'",
                reg.host()
            )),
            "{e}"
        );
        let e = anon.login(&reg.host(), "alice", "wrong").await.unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("login to {} failed: unauthorized: incorrect username or password", reg.host())
        );
        assert!(!tmp.path().join("config.json").exists());

        let key = anon.login(&reg.url(), "alice", "s3cret").await.unwrap();
        assert_eq!(key, reg.host());
        let cfg: serde_json::Value =
            serde_json::from_slice(&std::fs::read(tmp.path().join("config.json")).unwrap()).unwrap();
        assert!(cfg["auths"][reg.host()]["auth"].is_string());
        // The same client, and a fresh one reading config.json, can pull.
        for c in [anon.clone(), client(tmp.path())] {
            let res = c.resolve(&r, None).await.unwrap();
            assert_eq!(res.digest, img.manifest_digest());
            let l = &res.manifest.layers()[0];
            let bytes = read_blob(&c, &res.source(), l.digest().as_ref(), Some(l.size())).await;
            assert_eq!(sha256(&bytes), l.digest().to_string());
        }
        assert!(anon.logout(&reg.host()).await.unwrap());
        assert!(!anon.logout(&reg.host()).await.unwrap());
        assert!(matches!(
            client(tmp.path()).resolve(&r, None).await.unwrap_err(),
            Error::PullAccessDenied { .. }
        ));
    });
}

#[test]
fn bearer_tokens_anonymous_and_with_credentials() {
    let reg = Registry::start(RegistryOptions::plain().token(&[("bob", "pw")], true));
    let img = image::busybox();
    reg.push_image(img, "tok/busybox:1");
    let issuer = reg.issuer().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    rt().block_on(async {
        let r = reference(&reg, "tok/busybox:1");
        // Anonymous pull: a token with pull access.
        let anon = client(tmp.path());
        let before = issuer.requests();
        let res = anon.resolve(&r, None).await.unwrap();
        assert_eq!(res.digest, img.manifest_digest());
        let l = &res.manifest.layers()[0];
        let bytes = read_blob(&anon, &res.source(), l.digest().as_ref(), Some(l.size())).await;
        assert_eq!(sha256(&bytes), l.digest().to_string());
        // Manifest, config and layer share one cached token.
        assert_eq!(issuer.requests() - before, 1);
        // Anonymous push is refused with Docker's wording.
        let e = anon
            .put_manifest(
                &r,
                "2",
                &res.manifest_data.media_type,
                &res.manifest_data.bytes,
            )
            .await
            .unwrap_err();
        assert!(matches!(e, Error::Unauthorized { .. }), "{e:?}");
        assert!(e.to_string().starts_with("unauthorized: "), "{e}");

        // Wrong password: login fails; right one: stored, and push works.
        assert!(matches!(
            anon.login(&reg.host(), "bob", "nope").await.unwrap_err(),
            Error::LoginFailed { .. }
        ));
        anon.login(&reg.host(), "bob", "pw").await.unwrap();
        let authed = client(tmp.path());
        let d = authed
            .put_manifest(
                &r,
                "2",
                &res.manifest_data.media_type,
                &res.manifest_data.bytes,
            )
            .await
            .unwrap();
        assert_eq!(d, res.digest);
        assert_eq!(
            reg.inspect("tok/busybox:2", &[])["Digest"],
            res.digest.as_str()
        );
        let mut tags = authed.tags(&r).await.unwrap();
        tags.sort();
        assert_eq!(tags, ["1", "2"]);
        assert_eq!(authed.catalog(&reg.host()).await.unwrap(), ["tok/busybox"]);
    });
}

#[test]
fn tls_with_test_ca_from_certs_dir() {
    let reg = Registry::start(RegistryOptions::plain().tls());
    let img = image::busybox();
    reg.push_image(img, "tls/busybox:1");
    let tmp = tempfile::tempdir().unwrap();
    rt().block_on(async {
        let r = reference(&reg, "tls/busybox:1");
        // Loopback counts as insecure unless told otherwise, so turn that
        // off to see verification at work.
        let mut cfg = config(tmp.path());
        cfg.loopback_insecure = false;
        cfg.max_attempts = 1;
        let e = Client::new(cfg.clone())
            .resolve(&r, None)
            .await
            .unwrap_err();
        assert!(matches!(e, Error::Connection { .. }), "{e:?}");
        let msg = e.to_string();
        assert!(
            msg.contains(&reg.url()) && msg.to_lowercase().contains("certificate"),
            "{msg}"
        );

        cfg.certs_dirs = vec![tmp.path().join("none"), reg.certs_dir()];
        let c = Client::new(cfg);
        let res = c.resolve(&r, None).await.unwrap();
        assert_eq!(res.endpoint.base_url, reg.url());
        assert_eq!(res.digest, img.manifest_digest());

        // Default config: loopback is insecure, HTTPS without verification.
        let res = client(tmp.path()).resolve(&r, None).await.unwrap();
        assert_eq!(res.endpoint.base_url, reg.url());
    });
}
