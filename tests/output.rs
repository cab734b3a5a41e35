//! Output compared with Docker's formats: the table layout of `images`, `history`
//! and `system df` (Docker's tabwriter: min width 10, padding 3), and the exact text of
//! `inspect -f` for the tutorials' templates.

use kujira_test_support::output::{assert_table, render_table};
use kujira_test_support::{image, Kujira};

fn loaded() -> (Kujira, &'static image::OciImage) {
    let img = image::layered();
    let k = Kujira::new(env!("CARGO_BIN_EXE_kujira"));
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("layered.tar");
    img.to_docker_archive(&archive, "nginx:1.25");
    k.ok(["load", "-i", archive.to_str().unwrap()]);
    (k, img)
}

/// `inspect -f '{{.Size}}'` of the loaded image, as a number.
fn image_size(k: &Kujira) -> u64 {
    k.ok(["inspect", "-f", "{{.Size}}", "nginx:1.25"])
        .trim()
        .parse()
        .unwrap()
}

fn short(id: &str) -> String {
    id.trim_start_matches("sha256:")[..12].to_string()
}

/// go-units HumanSizeWithPrecision(size, 3), written out independently here.
fn docker_size3(bytes: u64) -> String {
    docker_size(bytes, 3)
}

fn docker_size(bytes: u64, precision: i32) -> String {
    let units = ["B", "kB", "MB", "GB"];
    let mut v = bytes as f64;
    let mut i = 0;
    while v >= 1000.0 {
        v /= 1000.0;
        i += 1;
    }
    if v == 0.0 {
        return "0B".into();
    }
    let digits = (precision - 1 - v.log10().floor() as i32).max(0) as usize;
    let s = format!("{v:.digits$}");
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    };
    format!("{s}{}", units[i])
}

#[test]
fn images_table_matches_docker() {
    let (k, img) = loaded();
    k.ok(["tag", "nginx:1.25", "nginx:latest"]);
    let size = image_size(&k);
    let out = k.ok(["images"]);
    let rows = assert_table(&out, &["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"]);
    let id = short(&img.image_id());
    let expected = vec![
        vec![
            "REPOSITORY".to_string(),
            "TAG".into(),
            "IMAGE ID".into(),
            "CREATED".into(),
            "SIZE".into(),
        ],
        vec![
            "nginx".into(),
            "1.25".into(),
            id.clone(),
            "6 years ago".into(),
            docker_size3(size),
        ],
        vec![
            "nginx".into(),
            "latest".into(),
            id.clone(),
            "6 years ago".into(),
            docker_size3(size),
        ],
    ];
    assert_eq!(out, render_table(&expected));
    assert_eq!(rows.len(), 2);
    // `images | grep nginx`, `images nginx`, `images nginx:1.25`, -q, --no-trunc, --digests
    assert_eq!(k.ok(["images", "nginx:1.25"]).lines().count(), 2);
    assert_eq!(k.ok(["images", "nginx"]).lines().count(), 3);
    assert_eq!(k.ok(["images", "-q"]), format!("{id}\n{id}\n"));
    assert!(k.ok(["images", "--no-trunc"]).contains(&img.image_id()));
    let digests = k.ok(["images", "--digests"]);
    assert_table(
        &digests,
        &["REPOSITORY", "TAG", "DIGEST", "IMAGE ID", "CREATED", "SIZE"],
    );
    assert_eq!(
        k.ok([
            "images",
            "--format",
            "table {{.Repository}}:{{.Tag}}\t{{.Size}}"
        ]),
        render_table(&[
            vec!["REPOSITORY:TAG".into(), "SIZE".into()],
            vec!["nginx:1.25".into(), docker_size3(size)],
            vec!["nginx:latest".into(), docker_size3(size)],
        ])
    );
    assert_eq!(
        k.ok([
            "images",
            "--format",
            "{{.ID}} {{.Tag}}",
            "-f",
            "reference=*:lat*"
        ]),
        format!("{id} latest\n")
    );
    assert_eq!(k.ok(["images", "-f", "dangling=true", "-q"]), "");
    assert_eq!(
        k.ok(["images", "-f", "label=org.kujira.test=layered", "-q"])
            .lines()
            .count(),
        2
    );
}

#[test]
fn empty_images_table_is_docker_header() {
    let k = Kujira::new(env!("CARGO_BIN_EXE_kujira"));
    assert_eq!(
        k.ok(["images"]),
        "REPOSITORY   TAG       IMAGE ID   CREATED   SIZE\n"
    );
    assert_eq!(
        k.ok(["image", "ls"]),
        "REPOSITORY   TAG       IMAGE ID   CREATED   SIZE\n"
    );
}

#[test]
fn inspect_templates_print_what_docker_prints() {
    let (k, img) = loaded();
    let cfg = img.config();
    let f = |t: &str| k.ok(["inspect", "--format", t, "nginx:1.25"]);
    assert_eq!(f("{{.Config.ExposedPorts}}"), "map[80/tcp:{}]\n");
    assert_eq!(f("{{len .RootFS.Layers}}"), "3\n");
    assert_eq!(
        f("{{json .Config.Env}}").trim(),
        serde_json::to_string(&cfg["config"]["Env"]).unwrap()
    );
    assert_eq!(
        f("{{json .Config.Cmd}}").trim(),
        serde_json::to_string(&cfg["config"]["Cmd"]).unwrap()
    );
    assert_eq!(
        f("{{.Os}}/{{.Architecture}}"),
        format!("linux/{}\n", cfg["architecture"].as_str().unwrap())
    );
    assert_eq!(f("{{.RepoTags}}"), "[nginx:1.25]\n");
    assert_eq!(f("{{index .RepoTags 0}}"), "nginx:1.25\n");
    // The whole document: Docker's key order and four-space indentation.
    let full = k.ok(["inspect", "nginx:1.25"]);
    assert!(
        full.starts_with("[\n    {\n        \"Id\": \"sha256:"),
        "{full}"
    );
    let doc: serde_json::Value = serde_json::from_str(&full).unwrap();
    let keys: Vec<&str> = doc[0]
        .as_object()
        .unwrap()
        .keys()
        .map(|s| s.as_str())
        .collect();
    assert_eq!(
        keys,
        [
            "Id",
            "RepoTags",
            "RepoDigests",
            "Parent",
            "Comment",
            "Created",
            "DockerVersion",
            "Author",
            "Config",
            "Architecture",
            "Os",
            "Size",
            "GraphDriver",
            "RootFS",
            "Metadata"
        ]
    );
    assert_eq!(
        doc[0]["Size"].as_u64().unwrap().to_string(),
        f("{{.Size}}").trim()
    );
    assert_eq!(doc[0]["RootFS"]["Type"], "layers");
    // Errors: an unknown image, a bad template.
    let err = k.fails(["inspect", "nope"], 1);
    assert_eq!(err.trim(), "Error: No such object: nope");
    let err = k.fails(["inspect", "-f", "{{.Size", "nginx:1.25"], 64);
    assert!(
        err.starts_with("template parsing error: template: :1:"),
        "{err}"
    );
}

#[test]
fn image_size_is_what_is_on_disk() {
    let (k, _) = loaded();
    let size = image_size(&k);
    // Docker's rule: apparent sizes of non-directories, hard links once.
    let mut on_disk = 0u64;
    let mut seen = std::collections::HashSet::new();
    let mut stack: Vec<_> = std::fs::read_dir(k.root().join("layers"))
        .unwrap()
        .map(|e| e.unwrap().path().join("diff"))
        .collect();
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(d).unwrap() {
            let e = e.unwrap();
            let md = std::fs::symlink_metadata(e.path()).unwrap();
            use std::os::unix::fs::MetadataExt;
            if md.is_dir() {
                stack.push(e.path());
            } else if md.size() > 0 && seen.insert(md.ino()) {
                on_disk += md.size();
            }
        }
    }
    assert_eq!(size, on_disk);
}

#[test]
fn history_matches_docker() {
    let (k, img) = loaded();
    let out = k.ok(["history", "nginx:1.25"]);
    let rows = assert_table(&out, &["IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT"]);
    let history = img.config()["history"].as_array().unwrap().clone();
    assert_eq!(rows.len(), history.len());
    assert_eq!(rows[0][0], short(&img.image_id()));
    for r in &rows[1..] {
        assert_eq!(r[0], "<missing>");
    }
    for r in &rows {
        assert_eq!(r[1], "6 years ago");
    }
    let raw = k.ok([
        "history",
        "-H=false",
        "--format",
        "{{.CreatedAt}}|{{.Size}}",
        "nginx:1.25",
    ]);
    for line in raw.lines() {
        let (at, size) = line.split_once('|').unwrap();
        assert_eq!(at, "2020-09-13T12:26:40Z");
        size.parse::<u64>().unwrap();
    }
    assert_eq!(
        k.ok(["history", "-q", "nginx:1.25"])
            .lines()
            .next()
            .unwrap(),
        short(&img.image_id())
    );
    assert!(k
        .ok(["history", "--no-trunc", "nginx:1.25"])
        .contains(&img.image_id()));
}

#[test]
fn system_df_matches_docker() {
    let (k, _) = loaded();
    let size = image_size(&k);
    let out = k.ok(["system", "df"]);
    let human = k.ok(["images", "--format", "{{.Size}}"]);
    let _ = human;
    let rows = assert_table(&out, &["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"]);
    assert_eq!(rows[0][0], "Images");
    assert_eq!(rows[0][1], "1");
    assert_eq!(rows[0][2], "0");
    assert!(rows[0][4].ends_with("(100%)"), "{out}");
    assert_eq!(rows[1], ["Containers", "0", "0", "0B", "0B"]);
    assert_eq!(rows[2], ["Local Volumes", "0", "0", "0B", "0B"]);
    assert_eq!(rows[3], ["Build Cache", "0", "0", "0B", "0B"]);
    assert!(size > 0);
    let v = k.ok(["system", "df", "-v"]);
    assert!(v.starts_with("Images space usage:\n\nREPOSITORY"), "{v}");
    assert!(
        v.contains("\nContainers space usage:\n\nCONTAINER ID"),
        "{v}"
    );
    assert!(
        v.contains("\nLocal Volumes space usage:\n\nVOLUME NAME"),
        "{v}"
    );
    assert!(v.contains("\nBuild cache usage: 0B\n"), "{v}");
}

#[test]
fn shared_layers_are_counted_once() {
    let (base, child) = image::shared_pair();
    let k = Kujira::new(env!("CARGO_BIN_EXE_kujira"));
    let dir = tempfile::tempdir().unwrap();
    for (img, name) in [(base, "base:1"), (child, "child:1")] {
        let a = dir.path().join(format!("{}.tar", name.replace(':', "_")));
        img.to_docker_archive(&a, name);
        k.ok(["load", "-i", a.to_str().unwrap()]);
    }
    let size = |n: &str| -> u64 {
        k.ok(["inspect", "-f", "{{.Size}}", n])
            .trim()
            .parse()
            .unwrap()
    };
    let v = k.ok(["system", "df", "--format", "{{.Type}} {{.Size}}"]);
    let images_line = v.lines().next().unwrap();
    // child's size includes base's layers; the total counts them once = child's size.
    let total = size("child:1");
    assert!(size("base:1") < total);
    assert_eq!(images_line, format!("Images {}", docker_size(total, 4)));
}
