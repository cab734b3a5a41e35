//! Running the `kujira` binary against a private, throw-away store.
//!
//! Every [`Kujira`] owns its own `--root`, so tests can run in parallel and
//! never see the developer's real store. `KUJIRA_ROOT` is removed from the
//! child's environment so a value exported in the developer's shell cannot
//! redirect a test (the explicit `--root` should win anyway, but a test
//! suite must not depend on the feature it is testing).

use std::ffi::OsStr;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use tempfile::TempDir;

use crate::tools::{command_line, describe_failure};

/// Set to keep every test's store root on disk (its path is printed), for
/// poking at what a failing test left behind.
pub const KEEP_ENV: &str = "KUJIRA_TEST_KEEP";

pub struct Kujira {
    root: Option<TempDir>,
    bin: PathBuf,
    net: crate::net::NetSlot,
}

impl Kujira {
    /// A fresh, empty store root driven by the binary at `bin`; integration
    /// tests pass `env!("CARGO_BIN_EXE_kujira")`.
    pub fn new(bin: impl AsRef<Path>) -> Kujira {
        let root = tempfile::Builder::new()
            .prefix("kujira-test-root.")
            .tempdir()
            .expect("create temporary store root");
        Kujira {
            root: Some(root),
            bin: bin.as_ref().to_path_buf(),
            net: crate::net::NetSlot::take(),
        }
    }

    /// A fresh store with `busybox:latest` (the Debian busybox fixture) loaded.
    pub fn with_busybox(bin: impl AsRef<Path>) -> Kujira {
        let k = Kujira::new(bin);
        let archive = crate::image::busybox_docker_archive();
        k.ok([
            "load".as_ref(),
            "-q".as_ref(),
            "-i".as_ref(),
            archive.as_os_str(),
        ]);
        k
    }

    /// The store root passed as `--root`.
    pub fn root(&self) -> &Path {
        self.root.as_ref().expect("root present until drop").path()
    }

    pub fn bin(&self) -> &Path {
        &self.bin
    }

    /// `kujira --root <root> ARGS...`, not yet run, for tests that need to
    /// set env, cwd or stdio themselves.
    pub fn cmd<I, S>(&self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut cmd = Command::new(&self.bin);
        cmd.arg("--root").arg(self.root()).args(args);
        cmd.env_remove("KUJIRA_ROOT");
        cmd.env("KUJIRA_CONFIG", self.net.config());
        cmd
    }

    /// This store's private network slot (its default bridge, subnet and pools).
    pub fn net(&self) -> &crate::net::NetSlot {
        &self.net
    }

    /// Runs with stdin closed and returns the output whatever the status.
    pub fn run<I, S>(&self, args: I) -> Output
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut cmd = self.cmd(args);
        crate::tools::output(&mut cmd)
    }

    /// Runs, asserts exit status 0 and returns stdout.
    pub fn ok<I, S>(&self, args: I) -> String
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut cmd = self.cmd(args);
        let out = crate::tools::output(&mut cmd);
        expect_ok(&cmd, &out)
    }

    /// Runs, asserts the exit code is `code` and returns stderr (where the
    /// error message a Docker user would read goes).
    pub fn fails<I, S>(&self, args: I, code: i32) -> String
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut cmd = self.cmd(args);
        let out = crate::tools::output(&mut cmd);
        expect_code(&cmd, &out, code)
    }

    /// Runs with `stdin` fed to the child (e.g. `load` from a pipe) and
    /// returns the output whatever the status.
    pub fn with_stdin<I, S>(&self, args: I, stdin: impl AsRef<[u8]>) -> Output
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut cmd = self.cmd(args);
        run_with_stdin(&mut cmd, stdin.as_ref())
    }

    /// [`Kujira::with_stdin`] asserting success; returns stdout.
    pub fn ok_stdin<I, S>(&self, args: I, stdin: impl AsRef<[u8]>) -> String
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut cmd = self.cmd(args);
        let out = run_with_stdin(&mut cmd, stdin.as_ref());
        expect_ok(&cmd, &out)
    }
}

/// Asserts `out` is a success and returns its stdout.
pub fn expect_ok(cmd: &Command, out: &Output) -> String {
    if !out.status.success() {
        panic!("{}", describe_failure(cmd, out, "succeed"));
    }
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Asserts `out` exited (not died of a signal) with `code`; returns stderr.
pub fn expect_code(cmd: &Command, out: &Output, code: i32) -> String {
    if out.status.code() != Some(code) {
        panic!(
            "{}",
            describe_failure(cmd, out, &format!("exit with code {code}"))
        );
    }
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Spawns `cmd`, writes `input` to its stdin from a separate thread (so a
/// child that fills its stdout pipe before reading all input cannot
/// deadlock us) and collects its output.
pub fn run_with_stdin(cmd: &mut Command, input: &[u8]) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", command_line(cmd)));
    let mut stdin = child.stdin.take().expect("piped stdin");
    std::thread::scope(|s| {
        s.spawn(move || {
            // A child that exits without reading everything (e.g. rejecting
            // a bad archive early) gives EPIPE; that is its answer, not ours.
            let _ = stdin.write_all(input);
        });
        child.wait_with_output().expect("wait for child")
    })
}

impl Drop for Kujira {
    fn drop(&mut self) {
        let Some(root) = self.root.take() else { return };
        // No monitor outlives its store (they would hold veths, leases and
        // published ports of a store that is gone), then user networks' bridges
        // and firewall elements go (the default bridge goes with the network slot).
        let ids = Command::new(&self.bin)
            .arg("--root")
            .arg(root.path())
            .args(["ps", "-aq", "--no-trunc"])
            .env("KUJIRA_CONFIG", self.net.config())
            .stderr(Stdio::null())
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        let ids: Vec<&str> = ids.split_whitespace().collect();
        if !ids.is_empty() {
            let _ = Command::new(&self.bin)
                .arg("--root")
                .arg(root.path())
                .args(["rm", "-f"])
                .args(&ids)
                .env("KUJIRA_CONFIG", self.net.config())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
        let _ = Command::new(&self.bin)
            .arg("--root")
            .arg(root.path())
            .args(["network", "prune", "-f"])
            .env("KUJIRA_CONFIG", self.net.config())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        // Lazily detach anything kujira left mounted under the root (a test
        // that panicked mid-run), or deleting the root would descend into
        // overlay mounts, and fail with EBUSY on the mount points.
        unmount_under(root.path());
        if std::env::var_os(KEEP_ENV).is_some() {
            eprintln!("{KEEP_ENV}: keeping store root {}", root.path().display());
            std::mem::forget(root);
        }
    }
}

/// Mount points at or below `dir`, deepest first.
pub fn mounts_under(dir: &Path) -> Vec<PathBuf> {
    let Ok(info) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return Vec::new();
    };
    let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    let mut found: Vec<PathBuf> = info
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(|m| PathBuf::from(unescape_mountinfo(m)))
        .filter(|m| m.starts_with(&dir))
        .collect();
    found.sort_by_key(|m| std::cmp::Reverse(m.as_os_str().len()));
    found.dedup();
    found
}

fn unmount_under(dir: &Path) {
    for m in mounts_under(dir) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(&m)
            .stderr(Stdio::null())
            .status();
    }
}

/// mountinfo escapes space, tab, newline and backslash as `\ooo`.
fn unescape_mountinfo(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let v = (b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0');
            out.push(v);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    /// A stand-in for the kujira binary: drops `--root DIR` and runs the
    /// rest as a command, so the plumbing can be tested without kujira.
    fn fake() -> Kujira {
        let mut k = Kujira::new("/nonexistent");
        let script = k.root().join("fake-kujira");
        std::fs::write(
            &script,
            "#!/bin/sh\n[ \"$1\" = --root ] || exit 99\nshift 2\nexec \"$@\"\n",
        )
        .unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        Kujira {
            root: k.root.take(),
            bin: script,
            net: crate::net::NetSlot::take(),
        }
    }

    #[test]
    fn prepends_root_and_drops_env() {
        let k = fake();
        let args: Vec<_> = k
            .cmd(["images", "-q"])
            .get_args()
            .map(|a| a.to_owned())
            .collect();
        assert_eq!(
            args,
            [
                OsStr::new("--root"),
                k.root().as_os_str(),
                "images".as_ref(),
                "-q".as_ref()
            ]
        );
        let out = k.ok(["sh", "-c", r#"echo "${KUJIRA_ROOT-unset}""#]);
        assert_eq!(out, "unset\n");
    }

    #[test]
    fn exit_codes_and_stdin() {
        let k = fake();
        assert_eq!(k.ok(["echo", "hi"]), "hi\n");
        assert_eq!(
            k.fails(["sh", "-c", "echo bad >&2; exit 125"], 125),
            "bad\n"
        );
        let out = k.with_stdin(["cat"], vec![7u8; 1 << 20]);
        assert!(out.status.success());
        assert_eq!(out.stdout.len(), 1 << 20);
        assert_eq!(k.ok_stdin(["wc", "-c"], "abc").trim(), "3");
        let err = std::panic::catch_unwind(|| k.fails(["true"], 1)).expect_err("must panic");
        let msg = err.downcast_ref::<String>().unwrap();
        assert!(msg.contains("to exit with code 1"), "{msg}");
    }

    #[test]
    fn root_removed_on_drop() {
        let k = fake();
        let root = k.root().to_path_buf();
        assert!(root.is_dir());
        drop(k);
        assert!(!root.exists());
    }

    #[test]
    fn mountinfo_unescape() {
        assert_eq!(unescape_mountinfo(r"/a\040b\\c"), r"/a b\\c");
        assert_eq!(unescape_mountinfo(r"/a\134b"), r"/a\b");
    }
}
