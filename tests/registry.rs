//! Pull and push against Debian's real docker-registry on a loopback port: Docker's
//! output lines, shared layers fetched once, multi-platform selection, htpasswd and
//! token authentication, a corrupt blob refused with the store unchanged, a cut
//! connection resumed, and pushed digests equal to the local ones.

use std::process::Output;

use kujira_test_support::registry::{CutProxy, Registry, RegistryOptions};
use kujira_test_support::{assert_unchanged, image, Kujira, StoreSnapshot};

/// A kujira whose docker.io mirror is `mirror` and whose credentials live in a
/// private config directory.
struct Client {
    k: Kujira,
    config: tempfile::TempDir,
    mirror: Option<String>,
}

impl Client {
    fn new(mirror: Option<String>) -> Client {
        Client {
            k: Kujira::new(env!("CARGO_BIN_EXE_kujira")),
            config: tempfile::tempdir().unwrap(),
            mirror,
        }
    }

    fn run(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut cmd = self.k.cmd(args);
        cmd.env("DOCKER_CONFIG", self.config.path())
            .env("XDG_CONFIG_HOME", self.config.path())
            .env_remove("KUJIRA_REGISTRY_MIRROR");
        if let Some(m) = &self.mirror {
            cmd.env("KUJIRA_REGISTRY_MIRROR", m);
        }
        cmd.stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        {
            use std::io::Write;
            let mut input = child.stdin.take().unwrap();
            if let Some(s) = stdin {
                input.write_all(s.as_bytes()).unwrap();
            }
        }
        child.wait_with_output().unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        self.ok_stdin(args, None)
    }

    fn ok_stdin(&self, args: &[&str], stdin: Option<&str>) -> String {
        let out = self.run(args, stdin);
        assert!(
            out.status.success(),
            "kujira {args:?} failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args, None);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8(out.stderr).unwrap()
    }
}

fn short(digest: &str) -> &str {
    &digest[7..19]
}

#[test]
fn pull_through_the_docker_io_mirror_prints_dockers_lines() {
    let reg = Registry::start(RegistryOptions::plain());
    let img = image::busybox();
    reg.push_image(img, "library/busybox:latest");
    let remote = reg.inspect("library/busybox:latest", &[]);
    let digest = remote["Digest"].as_str().unwrap().to_string();
    let layer = remote["Layers"][0].as_str().unwrap().to_string();

    let c = Client::new(Some(reg.url()));
    let out = c.ok(&["pull", "busybox"]);
    let id = short(&layer);
    assert_eq!(
        out,
        format!(
            "Using default tag: latest\nlatest: Pulling from library/busybox\n{id}: Pulling fs layer\n\
             {id}: Verifying Checksum\n{id}: Download complete\n{id}: Pull complete\nDigest: {digest}\n\
             Status: Downloaded newer image for busybox:latest\ndocker.io/library/busybox:latest\n"
        )
    );
    assert_eq!(
        c.ok(&["inspect", "-f", "{{.Id}}", "busybox"]).trim(),
        img.image_id()
    );
    assert_eq!(
        c.ok(&["inspect", "-f", "{{json .RepoDigests}}", "busybox"])
            .trim(),
        format!("[\"busybox@{digest}\"]")
    );
    let again = c.ok(&["pull", "busybox:latest"]);
    assert!(
        again.contains(&format!("{id}: Already exists\n")),
        "{again}"
    );
    assert!(
        again.contains("Status: Image is up to date for busybox:latest\n"),
        "{again}"
    );
    assert_eq!(
        c.ok(&["pull", "-q", "busybox"]),
        "docker.io/library/busybox:latest\n"
    );
    // By digest, and by the registry's own name.
    let by_digest = c.ok(&["pull", &format!("busybox@{digest}")]);
    assert!(
        by_digest.ends_with(&format!("docker.io/library/busybox@{digest}\n")),
        "{by_digest}"
    );
    c.ok(&["pull", &format!("{}/library/busybox:latest", reg.host())]);
    assert!(c
        .ok(&["system", "check", "--verify-content"])
        .contains("store is consistent"));
}

#[test]
fn shared_base_layers_are_fetched_and_stored_once() {
    let reg = Registry::start(RegistryOptions::plain());
    let (base, child) = image::shared_pair();
    reg.push_image(base, "team/base:1");
    reg.push_image(child, "team/child:1");
    let c = Client::new(None);
    c.ok(&["pull", &format!("{}/team/base:1", reg.host())]);
    let out = c.ok(&["pull", &format!("{}/team/child:1", reg.host())]);
    let remote = reg.inspect("team/child:1", &[]);
    let layers: Vec<&str> = remote["Layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    assert_eq!(layers.len(), 3);
    for shared in &layers[..2] {
        assert!(
            out.contains(&format!("{}: Already exists\n", short(shared))),
            "{out}"
        );
    }
    assert!(
        out.contains(&format!("{}: Pull complete\n", short(layers[2]))),
        "{out}"
    );
    let dirs = std::fs::read_dir(c.k.root().join("layers"))
        .unwrap()
        .count();
    assert_eq!(dirs, 3, "2 shared + 1 own layer, each once");
}

#[test]
fn multi_platform_images_pick_the_host_or_the_asked_platform() {
    let reg = Registry::start(RegistryOptions::plain());
    let multi = reg.push_multiarch("team/multi:1");
    let c = Client::new(None);
    let name = format!("{}/team/multi:1", reg.host());
    let out = c.ok(&["pull", &name]);
    assert!(
        out.contains(&format!("Digest: {}\n", multi.index_digest)),
        "{out}"
    );
    assert_eq!(
        c.ok(&["inspect", "-f", "{{.Os}}/{{.Architecture}}", &name]),
        "linux/amd64\n"
    );
    c.ok(&["pull", "--platform", "linux/arm64", &name]);
    assert_eq!(
        c.ok(&["inspect", "-f", "{{.Architecture}}", &name]),
        "arm64\n"
    );
    let err = c.fails(&["pull", "--platform", "linux/s390x", &name]);
    assert!(
        err.contains("no matching manifest for linux/s390x"),
        "{err}"
    );
    assert!(
        err.contains("linux/amd64") && err.contains("linux/arm64"),
        "{err}"
    );
}

#[test]
fn htpasswd_registry_needs_login() {
    let reg = Registry::start(RegistryOptions::plain().htpasswd("alice", "s3cret"));
    reg.push_image(image::busybox(), "team/bb:1");
    let c = Client::new(None);
    let name = format!("{}/team/bb:1", reg.host());
    let err = c.fails(&["pull", &name]);
    assert!(err.starts_with("Error response from daemon: "), "{err}");
    let bad = c.run(
        &["login", "-u", "alice", "--password-stdin", &reg.host()],
        Some("wrong\n"),
    );
    assert_eq!(bad.status.code(), Some(1));
    assert_eq!(
        c.ok_stdin(
            &["login", "-u", "alice", "--password-stdin", &reg.host()],
            Some("s3cret\n")
        ),
        "Login Succeeded\n"
    );
    c.ok(&["pull", &name]);
    let config = std::fs::read_to_string(c.config.path().join("config.json")).unwrap();
    assert!(config.contains(&reg.host()), "{config}");
    assert_eq!(
        c.ok(&["logout", &reg.host()]),
        format!("Removing login credentials for {}\n", reg.host())
    );
}

#[test]
fn token_registry_allows_anonymous_pull() {
    let reg = Registry::start(RegistryOptions::plain().token(&[("bob", "pw")], true));
    reg.push_image(image::busybox(), "team/bb:1");
    let c = Client::new(None);
    c.ok(&["pull", &format!("{}/team/bb:1", reg.host())]);
    assert!(
        reg.issuer().unwrap().requests() > 0,
        "the token issuer was used"
    );
}

#[test]
fn corrupt_blob_is_refused_and_nothing_is_stored() {
    let reg = Registry::start(RegistryOptions::plain());
    reg.push_image(image::layered(), "team/layered:1");
    let remote = reg.inspect("team/layered:1", &[]);
    let last = remote["Layers"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .as_str()
        .unwrap()
        .to_string();
    let blob = reg.blob_path(&last);
    let mut bytes = std::fs::read(&blob).unwrap();
    let n = bytes.len();
    bytes[n / 2] ^= 0xff;
    std::fs::write(&blob, bytes).unwrap();

    let c = Client::new(None);
    c.ok(&["images"]);
    let before = StoreSnapshot::take(c.k.root());
    let err = c.fails(&["pull", &format!("{}/team/layered:1", reg.host())]);
    assert!(err.contains("Error response from daemon: "), "{err}");
    assert_unchanged(&before, &StoreSnapshot::take(c.k.root()));
    assert_eq!(c.ok(&["images", "-q"]), "");
}

#[test]
fn a_connection_cut_mid_layer_resumes() {
    let reg = Registry::start(RegistryOptions::plain());
    let img = image::big_image(8, 2);
    reg.push_image(&img, "team/big:1");
    let proxy = CutProxy::start(&reg.host(), 1_000_000);
    let c = Client::new(None);
    let name = format!("{}/team/big:1", proxy.host());
    c.ok(&["pull", &name]);
    assert!(proxy.cuts() >= 1, "the proxy cut a download");
    assert_eq!(
        c.ok(&["inspect", "-f", "{{.Id}}", &name]).trim(),
        img.image_id()
    );
    assert!(c
        .ok(&["system", "check", "--verify-content"])
        .contains("store is consistent"));
}

#[test]
fn push_sends_blobs_once_and_keeps_digests() {
    let reg = Registry::start(RegistryOptions::plain());
    let img = image::layered();
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("layered.tar");
    img.to_docker_archive(&archive, "layered:v1");
    let c = Client::new(None);
    c.ok(&["load", "-i", archive.to_str().unwrap()]);
    let name = format!("{}/team/layered:v1", reg.host());
    c.ok(&["tag", "layered:v1", &name]);
    let out = c.ok(&["push", &name]);
    assert!(
        out.starts_with(&format!(
            "The push refers to repository [{}/team/layered]\n",
            reg.host()
        )),
        "{out}"
    );
    assert_eq!(out.matches(": Pushed\n").count(), 3, "{out}");
    let remote_config = reg.inspect("team/layered:v1", &["--config"]);
    assert_eq!(
        remote_config["rootfs"]["diff_ids"],
        img.config()["rootfs"]["diff_ids"]
    );
    let raw = reg.inspect("team/layered:v1", &["--raw"]);
    assert_eq!(raw["config"]["digest"].as_str().unwrap(), img.image_id());
    let digest = reg.inspect("team/layered:v1", &[])["Digest"]
        .as_str()
        .unwrap()
        .to_string();
    let manifest = std::process::Command::new("curl")
        .args([
            "-fsS",
            "-H",
            "Accept: application/vnd.oci.image.manifest.v1+json",
        ])
        .arg(format!("{}/v2/team/layered/manifests/v1", reg.url()))
        .output()
        .unwrap();
    let manifest_len = manifest.stdout.len();
    assert_eq!(kujira_test_support::digest(&manifest.stdout), digest);
    assert!(
        out.ends_with(&format!("v1: digest: {digest} size: {manifest_len}\n")),
        "{out}"
    );
    // Again: everything is already there.
    let again = c.ok(&["push", &name]);
    assert_eq!(
        again.matches(": Layer already exists\n").count(),
        3,
        "{again}"
    );
    // A pull of what was pushed gives the same image.
    let fresh = Client::new(None);
    fresh.ok(&["pull", &name]);
    assert_eq!(
        fresh.ok(&["inspect", "-f", "{{.Id}}", &name]).trim(),
        img.image_id()
    );
}

#[test]
fn search_and_manifest_inspect() {
    let reg = Registry::start(RegistryOptions::plain());
    reg.push_image(image::busybox(), "library/busybox:latest");
    reg.push_image(image::busybox(), "team/busybox-tools:1");
    let c = Client::new(Some(reg.url()));
    // `search` verbatim on a machine whose Docker Hub is a mirror.
    assert_eq!(
        c.ok(&["search", "busybox"]),
        "NAME                 DESCRIPTION   STARS     OFFICIAL\nbusybox                            0         [OK]\nteam/busybox-tools                 0         \n"
    );
    let other = c.ok(&[
        "search",
        "--format",
        "{{.Name}}",
        &format!("{}/tools", reg.host()),
    ]);
    assert_eq!(other, format!("{}/team/busybox-tools\n", reg.host()));
    let m = c.ok(&[
        "manifest",
        "inspect",
        &format!("{}/library/busybox:latest", reg.host()),
    ]);
    let doc: serde_json::Value = serde_json::from_str(&m).unwrap();
    assert_eq!(
        doc["config"]["digest"].as_str().unwrap(),
        image::busybox().image_id()
    );
    assert!(m.starts_with("{\n\t\"schemaVersion\": 2,"), "{m}");
}

#[test]
fn two_concurrent_pulls_fetch_a_shared_layer_once() {
    let reg = Registry::start(RegistryOptions::plain());
    let (base, child) = image::shared_pair();
    reg.push_image(base, "team/base:1");
    reg.push_image(child, "team/child:1");
    // A proxy that never cuts, to count the blob downloads.
    let proxy = CutProxy::start(&reg.host(), u64::MAX);
    let c = Client::new(None);
    c.ok(&["images"]);
    let names = [
        format!("{}/team/base:1", proxy.host()),
        format!("{}/team/child:1", proxy.host()),
    ];
    let handles: Vec<_> = names
        .iter()
        .map(|n| {
            let mut cmd = c.k.cmd(["pull", n.as_str()]);
            cmd.env("DOCKER_CONFIG", c.config.path())
                .env("XDG_CONFIG_HOME", c.config.path());
            cmd.spawn().unwrap()
        })
        .collect();
    for h in handles {
        assert!(h.wait_with_output().unwrap().status.success());
    }
    // base has 2 layers, child shares them and adds 1: 3 layer blobs, each fetched once
    // (configs are fetched by both: they are what tells a pull which layers it needs).
    let layer_blobs = reg.inspect("team/child:1", &[])["Layers"]
        .as_array()
        .unwrap()
        .len() as u64;
    assert_eq!(layer_blobs, 3);
    assert!(
        proxy.blob_requests() <= layer_blobs + 2,
        "{} blob requests for {layer_blobs} layers and 2 configs",
        proxy.blob_requests()
    );
    assert_eq!(
        std::fs::read_dir(c.k.root().join("layers"))
            .unwrap()
            .count(),
        3
    );
    assert!(c
        .ok(&["system", "check", "--verify-content"])
        .contains("store is consistent"));
}

#[test]
fn pull_all_tags() {
    let reg = Registry::start(RegistryOptions::plain());
    reg.push_image(image::busybox(), "team/bb:1");
    reg.push_image(image::layered(), "team/bb:2");
    let c = Client::new(None);
    let repo = format!("{}/team/bb", reg.host());
    let out = c.ok(&["pull", "-a", "-q", &repo]);
    assert_eq!(out, format!("{repo}:1\n{repo}:2\n"));
    assert_eq!(
        c.ok(&["images", "--format", "{{.Repository}}:{{.Tag}}", &repo])
            .lines()
            .count(),
        2
    );
    let err = c.fails(&["pull", "-a", &format!("{repo}:1")]);
    assert!(
        err.contains("tag can't be used with --all-tags/-a"),
        "{err}"
    );
}
