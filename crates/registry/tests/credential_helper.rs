//! Credentials through a `docker-credential-*` helper, the protocol Docker
//! uses for `credsStore` and `credHelpers`: a shell-script helper on PATH
//! keeps its secrets in a directory, and `login`, pulls and `logout` must
//! go through it. In its own test binary because it changes PATH.

mod common;

use std::os::unix::fs::PermissionsExt;

use common::*;
use kujira_test_support::image;
use kujira_test_support::registry::{Registry, RegistryOptions};

const HELPER: &str = r#"#!/bin/sh
# A docker-credential helper keeping one JSON file per server URL.
set -e
dir="$KUJIRA_TEST_CRED_DIR"
read -r server_or_json || true
case "$1" in
store)
    url=$(printf '%s' "$server_or_json" | sed 's/.*"ServerURL":"\([^"]*\)".*/\1/')
    printf '%s' "$server_or_json" > "$dir/$(printf '%s' "$url" | tr '/:' '__')"
    ;;
get)
    f="$dir/$(printf '%s' "$server_or_json" | tr '/:' '__')"
    if [ -f "$f" ]; then cat "$f"; else echo "credentials not found in native keychain"; exit 1; fi
    ;;
erase)
    f="$dir/$(printf '%s' "$server_or_json" | tr '/:' '__')"
    if [ -f "$f" ]; then rm "$f"; else echo "credentials not found in native keychain"; exit 1; fi
    ;;
esac
"#;

#[test]
fn creds_store_helper_round_trip() {
    let reg = Registry::start(RegistryOptions::plain().htpasswd("carol", "pa55"));
    let img = image::busybox();
    reg.push_image(img, "helped/busybox:1");
    let tmp = tempfile::tempdir().unwrap();
    let bin = tmp.path().join("bin");
    let store = tmp.path().join("store");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::create_dir_all(&store).unwrap();
    let helper = bin.join("docker-credential-test");
    std::fs::write(&helper, HELPER).unwrap();
    std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = std::env::var("PATH").unwrap_or_default();
    std::env::set_var("PATH", format!("{}:{path}", bin.display()));
    std::env::set_var("KUJIRA_TEST_CRED_DIR", &store);
    let cfg_path = tmp.path().join("config.json");
    std::fs::write(&cfg_path, r#"{"credsStore":"test","detachKeys":"ctrl-x"}"#).unwrap();
    rt().block_on(async {
        let c = client(tmp.path());
        c.login(&reg.host(), "carol", "pa55").await.unwrap();
        // The secret is in the helper's store, not in config.json.
        let cfg = std::fs::read_to_string(&cfg_path).unwrap();
        assert!(!cfg.contains("pa55"), "{cfg}");
        let v: serde_json::Value = serde_json::from_str(&cfg).unwrap();
        assert_eq!(v["detachKeys"], "ctrl-x");
        assert_eq!(v["auths"][reg.host()], serde_json::json!({}));
        assert_eq!(std::fs::read_dir(&store).unwrap().count(), 1);

        let fresh = client(tmp.path());
        let creds = fresh.credentials(&reg.host()).await.unwrap().unwrap();
        assert_eq!(creds.username, "carol");
        let r = reference(&reg, "helped/busybox:1");
        assert_eq!(
            fresh.resolve(&r, None).await.unwrap().digest,
            img.manifest_digest()
        );

        assert!(fresh.logout(&reg.host()).await.unwrap());
        assert_eq!(std::fs::read_dir(&store).unwrap().count(), 0);
        assert!(client(tmp.path())
            .credentials(&reg.host())
            .await
            .unwrap()
            .is_none());

        // credHelpers for one registry wins over the (broken) credsStore.
        std::fs::write(
            &cfg_path,
            format!(
                r#"{{"credsStore":"missing","credHelpers":{{"{}":"test"}}}}"#,
                reg.host()
            ),
        )
        .unwrap();
        client(tmp.path())
            .login(&reg.host(), "carol", "pa55")
            .await
            .unwrap();
        assert_eq!(std::fs::read_dir(&store).unwrap().count(), 1);
        let e = client(tmp.path())
            .credentials("other.example")
            .await
            .unwrap_err();
        assert!(e.to_string().contains("docker-credential-missing"), "{e}");
    });
}
