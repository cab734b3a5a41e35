//! `kujira serve` for a test: the server on a socket in a temporary directory
//! over a test's store, and the real Docker CLI pointed at it (`DOCKER_HOST`, with
//! a private `DOCKER_CONFIG` so nothing of the developer's leaks in).

use std::ffi::OsStr;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::kujira::{expect_code, expect_ok};
use crate::Kujira;

/// The Docker CLI the tests drive: the one at `/usr/local/bin/docker`, else one
/// on `PATH` (Debian's `docker.io`).
pub fn docker_cli() -> PathBuf {
    let local = PathBuf::from("/usr/local/bin/docker");
    if local.exists() {
        return local;
    }
    crate::tools::require("docker");
    PathBuf::from("docker")
}

pub struct Server {
    child: Child,
    dir: TempDir,
    root: PathBuf,
}

impl Server {
    /// Starts `kujira serve` over `k`'s store with extra environment (a registry
    /// mirror); returns once `/_ping` answers.
    pub fn start(k: &Kujira, env: &[(&str, &str)]) -> Server {
        let dir = tempfile::Builder::new()
            .prefix("kujira-serve.")
            .tempdir()
            .expect("temporary directory for the socket");
        std::fs::create_dir_all(dir.path().join("docker-config")).expect("docker config dir");
        let sock = dir.path().join("docker.sock");
        let mut cmd = k.cmd(["serve", "-H"]);
        cmd.arg(format!("unix://{}", sock.display()));
        // The server's own credential store (`/auth` keeps what it checked).
        std::fs::create_dir_all(dir.path().join("serve-config")).expect("serve config dir");
        cmd.env("DOCKER_CONFIG", dir.path().join("serve-config"))
            .env("XDG_CONFIG_HOME", dir.path().join("serve-config"))
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("serve.log")).expect("log file"));
        let child = cmd.spawn().expect("start kujira serve");
        let s = Server {
            child,
            dir,
            root: k.root().to_path_buf(),
        };
        s.wait_ready();
        s
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if UnixStream::connect(self.socket()).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("kujira serve did not listen; its log:\n{}", self.log());
    }

    pub fn socket(&self) -> PathBuf {
        self.dir.path().join("docker.sock")
    }

    pub fn host(&self) -> String {
        format!("unix://{}", self.socket().display())
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("serve.log")).unwrap_or_default()
    }

    /// The server's pid (for fault tests).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `docker ARGS…` against this server, not yet run.
    pub fn docker<I, S>(&self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut cmd = Command::new(docker_cli());
        cmd.args(args)
            .env("DOCKER_HOST", self.host())
            .env("DOCKER_CONFIG", self.dir.path().join("docker-config"))
            .env_remove("DOCKER_CONTEXT")
            .env_remove("DOCKER_TLS_VERIFY")
            .env("DOCKER_CLI_HINTS", "false");
        cmd
    }

    /// Runs docker, asserts success, returns stdout.
    pub fn docker_ok<I, S>(&self, args: I) -> String
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut cmd = self.docker(args);
        let out = crate::tools::output(&mut cmd);
        if !out.status.success() {
            eprintln!("kujira serve log:\n{}", self.log());
        }
        expect_ok(&cmd, &out)
    }

    /// Runs docker, asserts exit code `code`, returns stderr.
    pub fn docker_fails<I, S>(&self, args: I, code: i32) -> String
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut cmd = self.docker(args);
        let out = crate::tools::output(&mut cmd);
        expect_code(&cmd, &out, code)
    }

    /// Runs docker with `stdin`, whatever the status.
    pub fn docker_stdin<I, S>(&self, args: I, stdin: &[u8]) -> Output
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut cmd = self.docker(args);
        crate::kujira::run_with_stdin(&mut cmd, stdin)
    }

    /// Kills the server (SIGKILL) and waits for it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The python of the venv `scripts/install-deps.sh` makes with docker-py and
/// testcontainers-python (`KUJIRA_PY_VENV` to use another).
pub fn python_venv() -> PathBuf {
    let venv = std::env::var_os("KUJIRA_PY_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/tmp/kujira-py-venv"));
    let py = venv.join("bin/python");
    let ok = Command::new(&py)
        .args(["-c", "import docker, testcontainers"])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "{} lacks docker-py or testcontainers: run scripts/install-deps.sh",
        py.display()
    );
    py
}
