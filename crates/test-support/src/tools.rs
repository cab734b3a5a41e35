//! Locating and running the third-party tools fixtures are built with.
//!
//! A missing tool must fail the test loudly with the fix in the message:
//! skipping would let a CI machine without skopeo report green while testing
//! nothing.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The hint every "tool missing" panic carries.
pub const INSTALL_HINT: &str = "run scripts/install-deps.sh";

/// Path of the static busybox from Debian's `busybox-static`; the dynamically
/// linked one from `busybox` would not run inside a rootfs without libc.
pub const BUSYBOX: &str = "/bin/busybox";

/// Finds `tool` on PATH (plus the sbin directories, where Debian puts runc
/// and which a non-login shell may lack) or panics with an install hint.
pub fn require(tool: &str) -> PathBuf {
    if tool == "busybox" {
        return require_busybox();
    }
    find(tool).unwrap_or_else(|| panic!("{tool} not found: {INSTALL_HINT}"))
}

/// Like [`require`] but returns `None` instead of panicking.
pub fn find(tool: &str) -> Option<PathBuf> {
    if tool.contains('/') {
        let p = PathBuf::from(tool);
        return is_executable(&p).then_some(p);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/local/sbin", "/usr/sbin", "/sbin"].map(PathBuf::from))
        .map(|dir| dir.join(tool))
        .find(|p| is_executable(p))
}

/// The static busybox binary, checked to be statically linked because
/// fixtures copy it into rootfs directories that have no dynamic loader.
pub fn require_busybox() -> PathBuf {
    let p = PathBuf::from(BUSYBOX);
    let data = std::fs::read(&p)
        .unwrap_or_else(|_| panic!("busybox not found at {BUSYBOX}: {INSTALL_HINT}"));
    assert!(
        !elf_has_interpreter(&data),
        "{BUSYBOX} is dynamically linked (package `busybox`); the fixtures need \
         package `busybox-static`: {INSTALL_HINT}"
    );
    p
}

/// A `Command` for `tool`, located with [`require`].
pub fn command(tool: &str) -> Command {
    Command::new(require(tool))
}

/// Runs `cmd` with its output captured and panics, showing the command line,
/// exit status, stdout and stderr, unless it succeeds.
pub fn run(cmd: &mut Command) -> Output {
    let out = output(cmd);
    if !out.status.success() {
        panic!("{}", describe_failure(cmd, &out, "succeed"));
    }
    out
}

/// Runs `cmd` (stdin closed) and returns its output whatever the exit status;
/// panics only if it cannot be started.
pub fn output(cmd: &mut Command) -> Output {
    cmd.stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", command_line(cmd)))
}

/// [`run`] and return stdout as UTF-8 (lossily, so binary noise still shows).
pub fn run_stdout(cmd: &mut Command) -> String {
    String::from_utf8_lossy(&run(cmd).stdout).into_owned()
}

/// A shell-like rendering of `cmd` for failure messages.
pub fn command_line(cmd: &Command) -> String {
    std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|a| {
            let s = a.to_string_lossy();
            if !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./:=@,+%".contains(c))
            {
                s.into_owned()
            } else {
                format!("'{}'", s.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The panic message for a command that did not behave: everything needed to
/// reproduce it by hand.
pub fn describe_failure(cmd: &Command, out: &Output, expected: &str) -> String {
    format!(
        "expected `{}` to {expected}, but it exited with {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        command_line(cmd),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    )
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// Whether an ELF file has a PT_INTERP program header, i.e. needs a dynamic
/// loader. Only 64-bit little-endian ELF is inspected; anything else is
/// treated as static so exotic hosts are not rejected on a guess.
fn elf_has_interpreter(data: &[u8]) -> bool {
    if data.len() < 64 || &data[..4] != b"\x7fELF" || data[4] != 2 || data[5] != 1 {
        return false;
    }
    let u16_at = |o: usize| u16::from_le_bytes([data[o], data[o + 1]]) as usize;
    let u64_at = |o: usize| {
        data.get(o..o + 8)
            .map(|b| u64::from_le_bytes(b.try_into().unwrap()) as usize)
            .unwrap_or(0)
    };
    let (phoff, phentsize, phnum) = (u64_at(32), u16_at(54), u16_at(56));
    (0..phnum).any(|i| {
        let o = phoff + i * phentsize;
        data.get(o..o + 4) == Some(&3u32.to_le_bytes()[..])
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_tool_panics_with_hint() {
        let err = std::panic::catch_unwind(|| require("definitely-not-a-tool-kujira"))
            .expect_err("should panic");
        let msg = err.downcast_ref::<String>().unwrap();
        assert_eq!(
            msg,
            "definitely-not-a-tool-kujira not found: run scripts/install-deps.sh"
        );
    }

    #[test]
    fn run_failure_shows_output() {
        let err = std::panic::catch_unwind(|| {
            run(Command::new("sh").args(["-c", "echo out; echo err >&2; exit 3"]))
        })
        .expect_err("should panic");
        let msg = err.downcast_ref::<String>().unwrap();
        assert!(
            msg.contains("sh -c 'echo out; echo err >&2; exit 3'"),
            "{msg}"
        );
        assert!(msg.contains("exit status: 3"), "{msg}");
        assert!(msg.contains("--- stdout ---\nout\n"), "{msg}");
        assert!(msg.contains("--- stderr ---\nerr\n"), "{msg}");
    }

    #[test]
    fn busybox_is_static() {
        require_busybox();
        // A dynamically linked binary must be told apart, or the check is moot.
        let sh = std::fs::read(std::fs::canonicalize("/bin/sh").unwrap()).unwrap();
        assert!(elf_has_interpreter(&sh));
    }
}
