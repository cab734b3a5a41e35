//! docker-py and testcontainers-python (from PyPI, in the venv install-deps makes)
//! driving `kujira serve`: the scripts under tests/python/ assert each call's
//! answer and exit non-zero at the first wrong one.

use kujira_test_support::image;
use kujira_test_support::registry::{Registry, RegistryOptions};
use kujira_test_support::serve::{python_venv, Server};
use kujira_test_support::Kujira;

fn run_script(script: &str, extra_env: &[(&str, &str)]) {
    let reg = Registry::start(RegistryOptions::plain());
    reg.push_image(image::busybox(), "library/busybox:latest");
    reg.push_image(image::web(), "library/nginx:latest");
    let k = Kujira::new(env!("CARGO_BIN_EXE_kujira"));
    let s = Server::start(&k, &[("KUJIRA_REGISTRY_MIRROR", &reg.url())]);
    let path = format!("{}/tests/python/{script}", env!("CARGO_MANIFEST_DIR"));
    let out = std::process::Command::new(python_venv())
        .arg(&path)
        .env("DOCKER_HOST", s.host())
        .envs(extra_env.iter().copied())
        .output()
        .expect("run python");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Nothing the scripts made outlives them.
    let left = k.ok(["ps", "-aq"]);
    let ids: Vec<&str> = left.split_whitespace().collect();
    if !ids.is_empty() {
        let mut args = vec!["rm", "-f"];
        args.extend(&ids);
        k.run(args);
    }
    assert!(
        out.status.success(),
        "{script} failed\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}\n--- serve log ---\n{}",
        s.log()
    );
    assert!(ids.is_empty(), "{script} left containers behind: {left}");
}

#[test]
fn docker_py_drives_images_containers_exec_archives_volumes_and_prunes() {
    run_script("docker_py_flow.py", &[]);
}

#[test]
fn testcontainers_starts_a_web_server_and_reaches_its_mapped_port() {
    run_script(
        "testcontainers_web.py",
        &[
            ("TESTCONTAINERS_RYUK_DISABLED", "true"),
            ("TESTCONTAINERS_HOST_OVERRIDE", "localhost"),
            ("TESTCONTAINERS_CONNECTION_MODE", "docker_host"),
        ],
    );
}
