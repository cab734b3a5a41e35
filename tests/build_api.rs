//! Builds through `kujira serve`'s `POST /build`: the real docker CLI (28, no buildx,
//! so it uses the legacy builder endpoint) and docker-py's `images.build`, on the
//! same Dockerfiles `kujira build` builds, with the same results. Needs root.

use std::path::Path;

use kujira_test_support::serve::{python_venv, Server};
use kujira_test_support::Kujira;

const DOCKERFILE: &str = "FROM busybox AS base\nARG WHO=world\nRUN echo building for $WHO && mkdir /out && echo \"hello $WHO\" > /out/greeting\n\nFROM busybox\nCOPY --from=base /out /out\nCOPY app.txt /app/\nLABEL built.by=docker-py\nCMD [\"cat\", \"/out/greeting\"]\n";

fn context(dir: &Path) {
    std::fs::write(dir.join("Dockerfile"), DOCKERFILE).unwrap();
    std::fs::write(dir.join("Dockerfile.fail"), "FROM busybox\nRUN exit 7\n").unwrap();
    std::fs::write(dir.join("app.txt"), "app\n").unwrap();
    std::fs::write(dir.join("secret.key"), "not for the image\n").unwrap();
    std::fs::write(dir.join(".dockerignore"), "secret.key\n").unwrap();
}

#[test]
fn docker_build_uses_the_legacy_endpoint_and_matches_kujira_build() {
    let k = Kujira::with_busybox(env!("CARGO_BIN_EXE_kujira"));
    let s = Server::start(&k, &[]);
    let ctx = tempfile::tempdir().unwrap();
    context(ctx.path());
    let dir = ctx.path().to_str().unwrap();
    let out = s.docker_ok(["build", "-t", "viacli", "--build-arg", "WHO=cli", dir]);
    assert!(out.contains("Step 1/8 : FROM busybox AS base"), "{out}");
    // The legacy builder's steps come in order, one stage after the other.
    let steps: Vec<usize> = out
        .lines()
        .filter_map(|l| l.strip_prefix("Step ")?.split('/').next()?.parse().ok())
        .collect();
    assert_eq!(steps, (1..=8).collect::<Vec<_>>(), "{out}");
    assert!(out.contains("building for cli"), "{out}");
    assert!(out.contains("Successfully tagged viacli:latest"), "{out}");
    assert_eq!(s.docker_ok(["run", "--rm", "viacli"]), "hello cli\n");
    // The CLI applied .dockerignore; the builder would have too.
    let ls = s.docker_ok(["run", "--rm", "viacli", "ls", "/app"]);
    assert_eq!(ls, "app.txt\n");
    // The same context built by kujira itself: every step cached, the same image.
    let cli_id = s.docker_ok(["inspect", "-f", "{{.Id}}", "viacli"]);
    let own = k.ok([
        "build",
        "-q",
        "-t",
        "viakujira",
        "--build-arg",
        "WHO=cli",
        dir,
    ]);
    assert_eq!(own.trim(), cli_id.trim());
    // -q prints the ID only.
    let q = s.docker_ok(["build", "-q", "--build-arg", "WHO=cli", dir]);
    assert_eq!(q.trim(), cli_id.trim());
    // History reads as BuildKit writes it.
    let hist = s.docker_ok([
        "history",
        "--no-trunc",
        "--format",
        "{{.CreatedBy}}",
        "viacli",
    ]);
    assert!(
        hist.contains("COPY --from=base /out /out # buildkit"),
        "{hist}"
    );
    // A failing RUN: its output, the legacy builder's message, its exit code.
    let err = s.docker_fails(["build", "-f", &format!("{dir}/Dockerfile.fail"), dir], 7);
    assert!(err.contains("returned a non-zero code: 7"), "{err}");
    // The cache shows in `docker system df`, and builder prune through the API
    // empties it.
    let before = s.docker_ok(["system", "df", "--format", "{{.Type}} {{.TotalCount}}"]);
    let row = before
        .lines()
        .find(|l| l.starts_with("Build Cache"))
        .unwrap_or_default();
    assert_ne!(row, "Build Cache 0", "{before}");
    s.docker_ok(["builder", "prune", "-a", "-f"]);
    let df = k.ok(["system", "df", "--format", "{{.Type}} {{.TotalCount}}"]);
    assert!(df.contains("Build Cache 0"), "{df}");
}

#[test]
fn docker_py_builds_through_the_api() {
    let k = Kujira::with_busybox(env!("CARGO_BIN_EXE_kujira"));
    let s = Server::start(&k, &[]);
    let ctx = tempfile::tempdir().unwrap();
    context(ctx.path());
    let script = format!(
        "{}/tests/python/docker_py_build.py",
        env!("CARGO_MANIFEST_DIR")
    );
    let out = std::process::Command::new(python_venv())
        .arg(&script)
        .env("DOCKER_HOST", s.host())
        .env("KUJIRA_BUILD_CONTEXT", ctx.path())
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "docker_py_build.py failed\n--- stdout ---\n{}\n--- stderr ---\n{}\n--- serve log ---\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        s.log()
    );
    // docker-py's image is kujira's: the same build again runs nothing.
    let mut again = k.cmd([
        "build",
        "--progress=plain",
        "-t",
        "pybuilt:1",
        "--build-arg",
        "WHO=python",
        ctx.path().to_str().unwrap(),
    ]);
    let o = kujira_test_support::tools::output(&mut again);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert_eq!(err.matches("CACHED").count(), 3, "{err}");
}

/// A build runs its steps with the server as their child subreaper only while they
/// run: afterwards a container init whose monitor was killed is not adopted by the
/// server (which would never reap it) but by the machine's init.
#[test]
fn after_a_build_the_server_adopts_no_orphans() {
    let k = Kujira::with_busybox(env!("CARGO_BIN_EXE_kujira"));
    let s = Server::start(&k, &[]);
    let ctx = tempfile::tempdir().unwrap();
    std::fs::write(
        ctx.path().join("Dockerfile"),
        "FROM busybox\nRUN echo step > /f\n",
    )
    .unwrap();
    s.docker_ok(["build", "-q", "-t", "stepped", ctx.path().to_str().unwrap()]);
    let id = s.docker_ok(["run", "-d", "busybox", "sleep", "600"]);
    let id = id.trim();
    let init: i32 = s
        .docker_ok(["inspect", "-f", "{{.State.Pid}}", id])
        .trim()
        .parse()
        .unwrap();
    let ppid = |pid: i32| -> Option<i32> {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("PPid:"))?
            .trim()
            .parse()
            .ok()
    };
    let monitor = ppid(init).expect("the init's parent");
    let cmdline = std::fs::read_to_string(format!("/proc/{monitor}/cmdline")).unwrap();
    assert!(cmdline.contains("container-monitor"), "{cmdline:?}");
    // SAFETY: kill with plain integers, on the container's own monitor.
    unsafe { libc::kill(monitor, libc::SIGKILL) };
    let mut adopted_by = None;
    for _ in 0..100 {
        adopted_by = ppid(init).filter(|p| *p != monitor);
        if adopted_by.is_some() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_ne!(
        adopted_by,
        Some(s.pid() as i32),
        "the server adopted the orphaned init"
    );
    // SAFETY: as above, on the orphaned init.
    unsafe { libc::kill(init, libc::SIGKILL) };
    k.ok(["rm", "-f", id]);
}
