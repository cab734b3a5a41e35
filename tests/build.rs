//! `kujira build` end to end: Dockerfiles built over busybox images made from Debian
//! packages, with the real runtime, overlayfs and the store; the cache, the context
//! filter and the failure cases. Needs root.

use std::path::Path;

use kujira_test_support::Kujira;

fn with_busybox() -> Kujira {
    Kujira::with_busybox(env!("CARGO_BIN_EXE_kujira"))
}

fn write(dir: &Path, files: &[(&str, &str)]) {
    for (name, text) in files {
        let p = dir.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
}

/// Builds `ctx` and returns (stdout, stderr), asserting success.
fn build(k: &Kujira, args: &[&str], ctx: &Path) -> (String, String) {
    let mut a: Vec<&str> = vec!["build", "--progress=plain"];
    a.extend_from_slice(args);
    a.push(ctx.to_str().unwrap());
    let mut cmd = k.cmd(&a);
    let out = kujira_test_support::tools::output(&mut cmd);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{a:?} failed: {stderr}");
    (String::from_utf8_lossy(&out.stdout).into_owned(), stderr)
}

/// Whether a RUN step printed `word` (an output line, not the step's name).
fn printed(progress: &str, word: &str) -> bool {
    progress.lines().any(|l| {
        let mut parts = l.splitn(3, ' ');
        let (v, t, rest) = (parts.next(), parts.next(), parts.next());
        v.is_some_and(|v| v.starts_with('#'))
            && t.is_some_and(|t| t.contains('.') && t.parse::<f64>().is_ok())
            && rest.is_some_and(|r| r.contains(word))
    })
}

/// `system check` finds nothing wrong: no half-made layer, blob or row.
fn assert_store_sound(k: &Kujira) {
    let check = k.run(["system", "check"]);
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );
}

fn run_out(k: &Kujira, args: &[&str]) -> String {
    let mut a = vec!["run", "--rm"];
    a.extend_from_slice(args);
    k.ok(&a)
}

#[test]
fn a_simple_build_runs_copies_and_records_history() {
    let k = with_busybox();
    let ctx = tempfile::tempdir().unwrap();
    write(
        ctx.path(),
        &[
            ("hello.txt", "hello from the context\n"),
            (
                "Dockerfile",
                "FROM busybox\nENV GREETING=hi\nWORKDIR /app\nCOPY hello.txt .\nRUN echo \"$GREETING\" > /app/greeting && cat /app/hello.txt\nCMD [\"cat\", \"/app/greeting\"]\n",
            ),
        ],
    );
    let (_, err) = build(&k, &["-t", "simple"], ctx.path());
    assert!(
        err.contains("[internal] load build definition from Dockerfile"),
        "{err}"
    );
    assert!(
        err.contains("[4/4] RUN echo \"$GREETING\" > /app/greeting && cat /app/hello.txt"),
        "{err}"
    );
    assert!(err.contains("hello from the context"), "{err}");
    assert_eq!(run_out(&k, &["simple"]), "hi\n");
    assert_eq!(
        run_out(&k, &["simple", "cat", "/app/hello.txt"]),
        "hello from the context\n"
    );
    let history = k.ok([
        "history",
        "--no-trunc",
        "--format",
        "{{.CreatedBy}}|{{.Comment}}",
        "simple",
    ]);
    let rows: Vec<&str> = history.lines().collect();
    assert!(
        rows[0].starts_with("CMD [\"cat\" \"/app/greeting\"]|buildkit.dockerfile.v0"),
        "{history}"
    );
    assert!(
        rows[1].starts_with("RUN /bin/sh -c echo \"$GREETING\""),
        "{history}"
    );
    assert!(
        rows[2].starts_with("COPY hello.txt . # buildkit"),
        "{history}"
    );
    assert!(rows[3].starts_with("WORKDIR /app"), "{history}");
    assert!(rows[4].starts_with("ENV GREETING=hi"), "{history}");
    assert_eq!(
        k.ok([
            "inspect",
            "-f",
            "{{.Config.WorkingDir}} {{.Config.Env}}",
            "simple"
        ])
        .trim(),
        "/app [PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin GREETING=hi]"
    );
}

/// Builds with `Dockerfile` text and returns the plain progress, asserting success.
fn build_text(k: &Kujira, args: &[&str], ctx: &Path, dockerfile: &str) -> String {
    std::fs::write(ctx.join("Dockerfile"), dockerfile).unwrap();
    build(k, args, ctx).1
}

#[test]
fn the_tutorials_multi_stage_build_copies_the_builders_files() {
    let k = with_busybox();
    let ctx = tempfile::tempdir().unwrap();
    write(
        ctx.path(),
        &[
            ("pkg/tool.py", "print('tool')\n"),
            ("app.py", "import tool\n"),
        ],
    );
    // The builder installs "a wheel" into /root/.local; the final stage takes only that.
    let err = build_text(
        &k,
        &["-t", "multi"],
        ctx.path(),
        "FROM busybox as builder\nCOPY pkg /src/pkg\nRUN mkdir -p /root/.local/lib && cp -r /src/pkg /root/.local/lib/tool && echo built > /root/.local/BUILT\n\nFROM busybox\nCOPY --from=builder /root/.local /root/.local\nCOPY app.py /app/app.py\nENV PATH=/root/.local/bin:$PATH\nCMD [\"cat\", \"/root/.local/BUILT\"]\n",
    );
    assert!(
        err.contains("[builder 3/3] RUN mkdir -p /root/.local/lib"),
        "{err}"
    );
    assert!(
        err.contains("[stage-1 2/3] COPY --from=builder /root/.local /root/.local"),
        "{err}"
    );
    assert_eq!(run_out(&k, &["multi"]), "built\n");
    assert_eq!(
        run_out(&k, &["multi", "cat", "/root/.local/lib/tool/tool.py"]),
        "print('tool')\n"
    );
    // The builder's /src is not in the final image.
    assert_eq!(
        run_out(&k, &["multi", "sh", "-c", "test -e /src || echo absent"]),
        "absent\n"
    );
    let history = k.ok([
        "history",
        "--no-trunc",
        "--format",
        "{{.CreatedBy}}",
        "multi",
    ]);
    assert!(
        history.contains("COPY --from=builder /root/.local /root/.local # buildkit"),
        "{history}"
    );
    assert!(
        history.contains("ENV PATH=/root/.local/bin:/usr/local/sbin"),
        "{history}"
    );
    assert!(
        !history.contains("RUN"),
        "the builder's steps are not the final image's: {history}"
    );
}

#[test]
fn dockerignore_keeps_files_out_with_exceptions() {
    let k = with_busybox();
    let ctx = tempfile::tempdir().unwrap();
    write(
        ctx.path(),
        &[
            (".git/HEAD", "ref\n"),
            ("__pycache__/m.cpython.pyc", "x"),
            ("pkg/__pycache__/n.pyc", "x"),
            ("pkg/mod.py", "m\n"),
            ("pkg/old.pyc", "x"),
            ("node_modules/left-pad/index.js", "x"),
            ("notes.md", "n"),
            ("README.md", "r"),
            ("keep/keep.pyc", "kept"),
            (
                ".dockerignore",
                ".git\n**/__pycache__\n**/*.pyc\n!keep/keep.pyc\nnode_modules\n*.md\n!README.md\n",
            ),
        ],
    );
    build_text(
        &k,
        &["-t", "ignored"],
        ctx.path(),
        "FROM busybox\nCOPY . /ctx\n",
    );
    let listing = run_out(&k, &["ignored", "busybox", "find", "/ctx", "-type", "f"]);
    let mut files: Vec<&str> = listing.lines().collect();
    files.sort();
    assert_eq!(
        files,
        vec![
            "/ctx/.dockerignore",
            "/ctx/Dockerfile",
            "/ctx/README.md",
            "/ctx/keep/keep.pyc",
            "/ctx/pkg/mod.py"
        ],
        "{listing}"
    );
    // An ignored file named directly is not found, as with BuildKit.
    let ctxp = ctx.path().to_str().unwrap();
    std::fs::write(
        ctx.path().join("Dockerfile"),
        "FROM busybox\nCOPY notes.md /\n",
    )
    .unwrap();
    let err = k.fails(["build", "--progress=plain", ctxp], 1);
    assert!(err.contains("\"/notes.md\": not found"), "{err}");
}

#[test]
fn unchanged_rebuilds_run_nothing_and_a_changed_file_reruns_from_its_copy() {
    let k = with_busybox();
    let ctx = tempfile::tempdir().unwrap();
    write(ctx.path(), &[("a.txt", "one\n"), ("b.txt", "two\n")]);
    let df = "FROM busybox\nCOPY a.txt /a.txt\nRUN echo ran-first\nCOPY b.txt /b.txt\nRUN echo ran-second\n";
    let first = build_text(&k, &["-t", "cached"], ctx.path(), df);
    assert!(
        printed(&first, "ran-first") && printed(&first, "ran-second"),
        "{first}"
    );
    let id1 = k.ok(["inspect", "-f", "{{.Id}}", "cached"]);
    let again = build_text(&k, &["-t", "cached"], ctx.path(), df);
    assert!(
        !printed(&again, "ran-first") && !printed(&again, "ran-second"),
        "{again}"
    );
    assert_eq!(again.matches("CACHED").count(), 4, "{again}");
    assert_eq!(
        k.ok(["inspect", "-f", "{{.Id}}", "cached"]),
        id1,
        "an unchanged rebuild makes the same image"
    );
    // Touching a file (same content, new mtime) changes nothing.
    let f = std::fs::File::options()
        .write(true)
        .open(ctx.path().join("b.txt"))
        .unwrap();
    f.set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(60))
        .unwrap();
    let touched = build_text(&k, &["-t", "cached"], ctx.path(), df);
    assert!(!printed(&touched, "ran-second"), "{touched}");
    std::fs::write(ctx.path().join("b.txt"), "changed\n").unwrap();
    let changed = build_text(&k, &["-t", "cached"], ctx.path(), df);
    assert!(!printed(&changed, "ran-first"), "{changed}");
    assert!(printed(&changed, "ran-second"), "{changed}");
    assert_eq!(run_out(&k, &["cached", "cat", "/b.txt"]), "changed\n");
    // --no-cache runs everything.
    let all = build_text(&k, &["-t", "cached", "--no-cache"], ctx.path(), df);
    assert!(
        printed(&all, "ran-first") && printed(&all, "ran-second"),
        "{all}"
    );
}

#[test]
fn build_args_targets_heredocs_and_metadata_instructions() {
    let k = with_busybox();
    let ctx = tempfile::tempdir().unwrap();
    let df = r#"# syntax=docker/dockerfile:1
ARG BASE=busybox
FROM ${BASE} AS base
ARG WHO=world
ARG UNSET
ENV DIR=/opt/${WHO:-nobody} EMPTY=${UNSET:-fallback}
RUN <<EOT
set -e
mkdir -p $DIR
echo "hello $WHO" > $DIR/greeting
EOT
COPY <<EOF /etc/motd
motd for ${WHO}
EOF
RUN cat <<'END' | sh > /from-pipe
echo "piped $0"
END
LABEL org.example.who=$WHO maintainer="a b"
EXPOSE 8080 53/udp
VOLUME /data
USER 1000:1000
STOPSIGNAL SIGINT
HEALTHCHECK --interval=5s --retries=2 CMD true
SHELL ["/bin/sh", "-ec"]
ONBUILD RUN echo triggered
ENTRYPOINT ["/bin/sh", "-c"]
CMD ["cat $DIR/greeting"]

FROM base AS child
RUN echo child-ran > /tmp/child

FROM busybox AS other
RUN echo other-ran
"#;
    let err = build_text(
        &k,
        &[
            "-t",
            "meta",
            "--target",
            "base",
            "--build-arg",
            "WHO=kujira",
        ],
        ctx.path(),
        df,
    );
    assert!(
        !printed(&err, "other-ran"),
        "stages the target does not need are skipped: {err}"
    );
    assert_eq!(run_out(&k, &["meta"]), "hello kujira\n");
    assert_eq!(
        run_out(&k, &["--entrypoint", "cat", "meta", "/etc/motd"]),
        "motd for kujira\n"
    );
    // A heredoc after the command, feeding a pipeline.
    assert_eq!(
        run_out(&k, &["--entrypoint", "cat", "meta", "/from-pipe"]),
        "piped sh\n"
    );
    let f = |t: &str| k.ok(["inspect", "-f", t, "meta"]).trim().to_string();
    assert_eq!(f("{{index .Config.Labels \"org.example.who\"}}"), "kujira");
    assert_eq!(f("{{index .Config.Labels \"maintainer\"}}"), "a b");
    assert_eq!(
        f("{{json .Config.ExposedPorts}}"),
        r#"{"53/udp":{},"8080/tcp":{}}"#
    );
    assert_eq!(f("{{json .Config.Volumes}}"), r#"{"/data":{}}"#);
    assert_eq!(
        f("{{.Config.User}} {{.Config.StopSignal}}"),
        "1000:1000 SIGINT"
    );
    assert_eq!(
        f("{{json .Config.Healthcheck.Test}} {{.Config.Healthcheck.Retries}}"),
        r#"["CMD-SHELL","true"] 2"#
    );
    assert_eq!(f("{{json .Config.OnBuild}}"), r#"["RUN echo triggered"]"#);
    assert!(f("{{json .Config.Env}}").contains("EMPTY=fallback"));
    assert!(f("{{json .Config.Env}}").contains("DIR=/opt/kujira"));
    // The child stage runs the base's ONBUILD trigger.
    let child = build_text(&k, &["-t", "child", "--target", "child"], ctx.path(), df);
    assert!(printed(&child, "triggered"), "{child}");
    let hist = k.ok([
        "history",
        "--no-trunc",
        "--format",
        "{{.CreatedBy}}",
        "meta",
    ]);
    assert!(hist.contains("EXPOSE map[53/udp:{} 8080/tcp:{}]"), "{hist}");
    assert!(hist.contains("ARG WHO=world"), "{hist}");
    // A parse error names its line.
    std::fs::write(
        ctx.path().join("Dockerfile"),
        "FROM busybox\nRUN true\nBOGUS thing\n",
    )
    .unwrap();
    let err = k.fails(["build", ctx.path().to_str().unwrap()], 1);
    assert!(err.contains("Dockerfile:3"), "{err}");
    assert!(err.contains("dockerfile parse error on line 3"), "{err}");
    assert!(err.contains(">>> BOGUS thing"), "{err}");
}

#[test]
fn failures_name_the_line_and_leave_nothing_half_made() {
    let k = with_busybox();
    let ctx = tempfile::tempdir().unwrap();
    let ctxp = ctx.path().to_str().unwrap().to_string();
    let images_before = k.ok(["images", "-aq"]);
    std::os::unix::fs::symlink("/etc/passwd", ctx.path().join("escape")).unwrap();
    let cases: &[(&str, &str, &str)] = &[
        (
            "FROM busybox\nRUN echo output-before-failing && exit 3\n",
            "Dockerfile:2",
            "did not complete successfully: exit code: 3",
        ),
        (
            "FROM busybox\nCOPY missing.txt /\n",
            "Dockerfile:2",
            "\"/missing.txt\": not found",
        ),
        (
            "FROM busybox\nCOPY ../outside /\n",
            "Dockerfile:2",
            "outside the build context",
        ),
        (
            "FROM busybox\nCOPY escape /\n",
            "Dockerfile:2",
            "outside the build context",
        ),
        (
            "FROM busybox\nCOPY --from=nostage /x /\n",
            "Dockerfile:2",
            "nostage",
        ),
        (
            "FROM busybox\nCOPY a b /dir\n",
            "Dockerfile:2",
            "must be a directory and end with a /",
        ),
        (
            "FROM nosuchimage-kujira\n",
            "Dockerfile:1",
            "nosuchimage-kujira",
        ),
    ];
    for (df, at, msg) in cases {
        std::fs::write(ctx.path().join("Dockerfile"), df).unwrap();
        std::fs::write(ctx.path().join("a"), "a").unwrap();
        std::fs::write(ctx.path().join("b"), "b").unwrap();
        let err = k.fails(["build", "--progress=plain", "-t", "broken", &ctxp], 1);
        assert!(err.contains(at), "{df}: {err}");
        assert!(err.contains(msg), "{df}: {err}");
    }
    let err = k.fails(["build", "--target", "nope", &ctxp], 1);
    assert!(
        err.contains("target stage \"nope\" could not be found"),
        "{err}"
    );
    std::fs::write(ctx.path().join("Dockerfile"), cases[0].0).unwrap();
    let run_fail = k.fails(["build", "--progress=plain", &ctxp], 1);
    assert!(
        printed(&run_fail, "output-before-failing"),
        "the failing step's output is shown: {run_fail}"
    );
    assert_eq!(k.ok(["images", "-aq"]), images_before, "no image was made");
    assert_store_sound(&k);
}

#[test]
fn cache_mounts_survive_and_builder_prune_empties_the_cache() {
    let k = with_busybox();
    let ctx = tempfile::tempdir().unwrap();
    write(ctx.path(), &[("n", "1")]);
    let df = "FROM busybox\nCOPY n /n\nRUN --mount=type=cache,target=/cache cat /n >> /cache/log && echo runs=$(wc -l < /cache/log)\n";
    let first = build_text(&k, &["-t", "cm"], ctx.path(), df);
    assert!(printed(&first, "runs=0"), "{first}");
    std::fs::write(ctx.path().join("n"), "2\n").unwrap();
    let second = build_text(&k, &["-t", "cm"], ctx.path(), df);
    assert!(
        printed(&second, "runs=1"),
        "the cache directory survived: {second}"
    );
    // The cache mount is not in the image.
    assert_eq!(
        run_out(&k, &["cm", "sh", "-c", "ls /cache | wc -l"]).trim(),
        "0"
    );
    let df_v = k.ok(["system", "df", "-v"]);
    assert!(df_v.contains("exec.cachemount"), "{df_v}");
    let summary = k.ok([
        "system",
        "df",
        "--format",
        "{{.Type}} {{.TotalCount}} {{.Size}}",
    ]);
    let cache_row = summary
        .lines()
        .find(|l| l.starts_with("Build Cache"))
        .unwrap()
        .to_string();
    assert_ne!(cache_row, "Build Cache 0 0B", "{summary}");
    k.ok(["builder", "prune", "-a", "-f"]);
    let summary = k.ok([
        "system",
        "df",
        "--format",
        "{{.Type}} {{.TotalCount}} {{.Size}}",
    ]);
    assert!(summary.contains("Build Cache 0 0B"), "{summary}");
    // The image itself is untouched, and a rebuild runs again from scratch.
    assert_eq!(run_out(&k, &["cm", "cat", "/n"]), "2\n");
    let third = build_text(&k, &["-t", "cm"], ctx.path(), df);
    // The cache directory went with the prune: the log holds this run's line alone.
    assert!(printed(&third, "runs=1"), "{third}");
    // `system prune -a` takes the build cache with it, as Docker's does.
    let pruned = k.ok(["system", "prune", "-a", "-f"]);
    assert!(pruned.contains("Deleted build cache objects:"), "{pruned}");
    let summary = k.ok(["system", "df", "--format", "{{.Type}} {{.TotalCount}}"]);
    assert!(summary.contains("Build Cache 0"), "{summary}");
    assert_store_sound(&k);
}

#[test]
fn source_date_epoch_rebuilds_are_identical_and_stages_run_in_parallel() {
    let k = with_busybox();
    let ctx = tempfile::tempdir().unwrap();
    write(ctx.path(), &[("f", "content")]);
    let df = "FROM busybox AS a\nRUN sleep 1 && echo a > /a\nFROM busybox AS b\nRUN sleep 1 && echo b > /b\nFROM busybox\nCOPY --from=a /a /a\nCOPY --from=b /b /b\nCOPY f /f\n";
    let start = std::time::Instant::now();
    build_text(
        &k,
        &["-t", "sde", "--build-arg", "SOURCE_DATE_EPOCH=1700000000"],
        ctx.path(),
        df,
    );
    let took = start.elapsed();
    let id1 = k.ok(["inspect", "-f", "{{.Id}} {{.Created}}", "sde"]);
    assert!(id1.contains("2023-11-14T22:13:20Z"), "{id1}");
    // Two one-second stages side by side take about one second, not two.
    assert!(
        took < std::time::Duration::from_millis(1900),
        "stages a and b ran one after the other: {took:?}"
    );
    k.ok(["builder", "prune", "-a", "-f"]);
    k.ok(["rmi", "sde"]);
    build_text(
        &k,
        &["-t", "sde", "--build-arg", "SOURCE_DATE_EPOCH=1700000000"],
        ctx.path(),
        df,
    );
    assert_eq!(k.ok(["inspect", "-f", "{{.Id}} {{.Created}}", "sde"]), id1);
    assert_eq!(
        run_out(&k, &["sde", "cat", "/a", "/b", "/f"]),
        "a\nb\ncontent"
    );
}

#[test]
fn add_copy_flags_mounts_and_contexts_from_stdin_and_tarballs() {
    let k = with_busybox();
    let ctx = tempfile::tempdir().unwrap();
    let ctxp = ctx.path().to_str().unwrap().to_string();
    // A local tarball ADD extracts; a URL ADD downloads (from a loopback server) and
    // checks --checksum.
    let payload = tempfile::tempdir().unwrap();
    write(payload.path(), &[("inner/one.txt", "one\n")]);
    let tgz = ctx.path().join("bundle.tar.gz");
    let st = std::process::Command::new("tar")
        .args([
            "-czf",
            tgz.to_str().unwrap(),
            "-C",
            payload.path().to_str().unwrap(),
            "inner",
        ])
        .status()
        .unwrap();
    assert!(st.success());
    let served = tempfile::tempdir().unwrap();
    write(served.path(), &[("remote.txt", "from the server\n")]);
    let port = kujira_test_support::container::free_port();
    let mut server = std::process::Command::new("python3")
        .args([
            "-m",
            "http.server",
            "--bind",
            "127.0.0.1",
            &port.to_string(),
        ])
        .current_dir(served.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}/remote.txt");
    kujira_test_support::container::wait_until(
        "the file server",
        std::time::Duration::from_secs(10),
        || std::net::TcpStream::connect(("127.0.0.1", port)).is_ok(),
    );
    let sum = {
        use sha2::Digest as _;
        hex::encode(sha2::Sha256::digest(b"from the server\n"))
    };
    write(
        ctx.path(),
        &[("owned.txt", "mine\n"), ("token", "s3cret\n")],
    );
    let df = format!(
        "FROM busybox\nADD bundle.tar.gz /opt/\nADD --checksum=sha256:{sum} {url} /remote/\nCOPY --chown=1000:1000 --chmod=640 owned.txt /owned.txt\nRUN --mount=type=secret,id=tok cat /run/secrets/tok > /seen-secret\nRUN --mount=type=bind,source=owned.txt,target=/mnt/o cp /mnt/o /bound.txt\n"
    );
    let secret = format!("id=tok,src={}", ctx.path().join("token").display());
    let iid = ctx.path().join("iid");
    build_text(
        &k,
        &[
            "-t",
            "flags",
            "--secret",
            &secret,
            "--iidfile",
            iid.to_str().unwrap(),
            "--label",
            "stage=test",
        ],
        ctx.path(),
        &df,
    );
    let id = std::fs::read_to_string(&iid).unwrap();
    assert_eq!(
        k.ok(["inspect", "-f", "{{.Id}}", "flags"]).trim(),
        id.trim()
    );
    assert_eq!(
        k.ok([
            "inspect",
            "-f",
            "{{index .Config.Labels \"stage\"}}",
            "flags"
        ])
        .trim(),
        "test"
    );
    assert_eq!(
        run_out(&k, &["flags", "cat", "/opt/inner/one.txt"]),
        "one\n"
    );
    assert_eq!(
        run_out(&k, &["flags", "cat", "/remote/remote.txt"]),
        "from the server\n"
    );
    assert_eq!(
        run_out(
            &k,
            &["flags", "busybox", "stat", "-c", "%u:%g %a", "/owned.txt"]
        ),
        "1000:1000 640\n"
    );
    assert_eq!(
        run_out(&k, &["flags", "cat", "/seen-secret", "/bound.txt"]),
        "s3cret\nmine\n"
    );
    // The secret and the bind target are not in the image.
    assert_eq!(
        run_out(
            &k,
            &[
                "flags",
                "sh",
                "-c",
                "ls /run/secrets /mnt 2>/dev/null | wc -l"
            ]
        )
        .trim(),
        "0"
    );
    // A wrong checksum fails the ADD.
    std::fs::write(
        ctx.path().join("Dockerfile"),
        format!(
            "FROM busybox\nADD --checksum=sha256:{} {url} /r\n",
            "0".repeat(64)
        ),
    )
    .unwrap();
    let err = k.fails(["build", &ctxp], 1);
    assert!(err.contains("digest mismatch"), "{err}");
    let _ = server.kill();
    let _ = server.wait();
    // A Dockerfile on stdin (no context), and a tarball as the context.
    let out = k.with_stdin(
        ["build", "-q", "-t", "fromstdin", "-"],
        "FROM busybox\nRUN echo hi > /hi\n",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(run_out(&k, &["fromstdin", "cat", "/hi"]), "hi\n");
    let ctx_tar = ctx.path().join("ctx.tar");
    let tarred = tempfile::tempdir().unwrap();
    write(
        tarred.path(),
        &[
            ("Dockerfile", "FROM busybox\nCOPY f /f\n"),
            ("f", "tarred\n"),
        ],
    );
    let st = std::process::Command::new("tar")
        .args([
            "-cf",
            ctx_tar.to_str().unwrap(),
            "-C",
            tarred.path().to_str().unwrap(),
            ".",
        ])
        .status()
        .unwrap();
    assert!(st.success());
    k.ok(["build", "-q", "-t", "fromtar", ctx_tar.to_str().unwrap()]);
    assert_eq!(run_out(&k, &["fromtar", "cat", "/f"]), "tarred\n");
    let piped = k.with_stdin(
        ["build", "-q", "-t", "frompipe", "-"],
        std::fs::read(&ctx_tar).unwrap(),
    );
    assert!(
        piped.status.success(),
        "{}",
        String::from_utf8_lossy(&piped.stderr)
    );
    assert_eq!(run_out(&k, &["frompipe", "cat", "/f"]), "tarred\n");
}

#[test]
fn a_build_killed_mid_step_leaves_nothing_the_next_command_does_not_clean() {
    let k = with_busybox();
    let ctx = tempfile::tempdir().unwrap();
    write(ctx.path(), &[("f", "x")]);
    std::fs::write(
        ctx.path().join("Dockerfile"),
        "FROM busybox\nCOPY f /f\nRUN echo started && sleep 30\n",
    )
    .unwrap();
    let mut child = k
        .cmd([
            "build",
            "--progress=plain",
            "-t",
            "killed",
            ctx.path().to_str().unwrap(),
        ])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the RUN step's process is running, then kill the build.
    let mut err = child.stderr.take().unwrap();
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&seen).contains("started") {
        use std::io::Read;
        let n = err.read(&mut buf).unwrap();
        assert!(
            n > 0,
            "build ended early: {}",
            String::from_utf8_lossy(&seen)
        );
        seen.extend_from_slice(&buf[..n]);
    }
    let builder = child.id();
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(builder as i32, libc::SIGKILL) };
    let _ = child.wait();
    let root = k.root().to_string_lossy().to_string();
    let mounted = || {
        std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap()
            .lines()
            .filter(|l| l.contains(&root))
            .count()
    };
    // The next prune cleans the killed build's scratch space and its mount.
    k.ok(["image", "prune", "-f"]);
    assert_eq!(mounted(), 0, "a step mount outlived the prune");
    assert_store_sound(&k);
    // The steps that finished are cached; the killed one reruns.
    let again = build_text(
        &k,
        &["-t", "killed"],
        ctx.path(),
        "FROM busybox\nCOPY f /f\nRUN echo finished\n",
    );
    assert!(again.contains("CACHED"), "{again}");
    assert!(printed(&again, "finished"), "{again}");
    // The killed build's RUN process (its `sleep 30`) was killed by that build's
    // successor, and its runtime state is gone.
    let state = std::path::Path::new("/run/kujira/runtime/kujira");
    let left: Vec<String> = std::fs::read_dir(state)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().to_string())
                .filter(|n| n.starts_with(&format!("build-{builder}-")))
                .collect()
        })
        .unwrap_or_default();
    assert!(left.is_empty(), "orphaned steps: {left:?}");
}

#[test]
fn on_a_terminal_the_build_is_a_live_view() {
    use kujira_test_support::container::Pty;
    let k = with_busybox();
    let ctx = tempfile::tempdir().unwrap();
    std::fs::write(
        ctx.path().join("Dockerfile"),
        "FROM busybox\nRUN echo live-output && sleep 1\n",
    )
    .unwrap();
    let mut pty = Pty::spawn(k.cmd(["build", "-t", "tty", ctx.path().to_str().unwrap()]));
    let secs = std::time::Duration::from_secs(20);
    // The header and the running step with its output, redrawn in place …
    pty.expect("[+] Building", secs);
    pty.expect("=> [2/2] RUN echo live-output && sleep 1", secs);
    pty.expect("=> => # live-output", secs);
    pty.expect("\x1b[2K", secs);
    // … and the last frame says it finished.
    pty.expect("FINISHED", secs);
    assert_eq!(pty.wait(secs), 0);
    assert_eq!(run_out(&k, &["tty", "true"]), "");
}

#[test]
fn a_changed_file_is_written_and_the_unchanged_ones_are_linked_from_the_last_layer() {
    use std::os::unix::fs::MetadataExt;
    let k = with_busybox();
    let ctx = tempfile::tempdir().unwrap();
    write(
        ctx.path(),
        &[
            ("src/one", "1\n"),
            ("src/two", "2\n"),
            ("src/sub/three", "3\n"),
        ],
    );
    let df = "FROM busybox\nCOPY src /app/src\n";
    build_text(&k, &["-t", "linked"], ctx.path(), df);
    std::fs::write(ctx.path().join("src/two"), "changed\n").unwrap();
    build_text(&k, &["-t", "linked"], ctx.path(), df);
    assert_eq!(
        run_out(
            &k,
            &[
                "linked",
                "cat",
                "/app/src/one",
                "/app/src/two",
                "/app/src/sub/three"
            ]
        ),
        "1\nchanged\n3\n"
    );
    // In the store: `one` and `three` are one inode in both layers, `two` is not.
    let mut links = std::collections::BTreeMap::new();
    for layer in std::fs::read_dir(k.root().join("layers"))
        .unwrap()
        .flatten()
    {
        for name in ["one", "two", "sub/three"] {
            let p = layer.path().join("diff/app/src").join(name);
            if let Ok(m) = std::fs::metadata(&p) {
                links.entry(name).or_insert_with(Vec::new).push(m.ino());
            }
        }
    }
    let same = |n: &str| links[n].len() == 2 && links[n][0] == links[n][1];
    assert!(same("one") && same("sub/three"), "{links:?}");
    assert!(links["two"].len() == 2 && !same("two"), "{links:?}");
    // Removing the first image and pruning leaves the second whole.
    k.ok(["builder", "prune", "-a", "-f"]);
    assert_eq!(run_out(&k, &["linked", "cat", "/app/src/one"]), "1\n");
    assert_store_sound(&k);
}
