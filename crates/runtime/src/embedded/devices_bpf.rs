//! Device rules on cgroup v2, which has no `devices.allow`: a small eBPF program of
//! type `BPF_PROG_TYPE_CGROUP_DEVICE` attached to the container's cgroup decides each
//! open and mknod of a device node. The program is generated from the spec's rules:
//! the last wildcard rule (`a`, all devices) sets the default, later rules win over
//! earlier ones (so they are tested last-first, the first match deciding).

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

use oci_spec::runtime::LinuxDeviceCgroup;

use crate::RuntimeError;

/// One `struct bpf_insn`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Insn {
    code: u8,
    regs: u8,
    off: i16,
    imm: i32,
}

const LDX_W: u8 = 0x61; // BPF_LDX | BPF_MEM | BPF_W
const AND_K: u8 = 0x57; // BPF_ALU64 | BPF_AND | BPF_K
const RSH_K: u8 = 0x77; // BPF_ALU64 | BPF_RSH | BPF_K
const MOV_K: u8 = 0xb7; // BPF_ALU64 | BPF_MOV | BPF_K
const MOV_X: u8 = 0xbf; // BPF_ALU64 | BPF_MOV | BPF_X
const JNE_K: u8 = 0x55; // BPF_JMP | BPF_JNE | BPF_K
const EXIT: u8 = 0x95; // BPF_JMP | BPF_EXIT

fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    Insn {
        code,
        regs: (src << 4) | dst,
        off,
        imm,
    }
}

/// `BPF_DEVCG_ACC_*` bits of the requested access.
fn access_bits(access: &str) -> i32 {
    access.chars().fold(0, |m, c| {
        m | match c {
            'm' => 1,
            'r' => 2,
            'w' => 4,
            _ => 0,
        }
    })
}

/// The program for `rules`: r2 = device type, r3 = access, r4 = major, r5 = minor.
fn program(rules: &[LinuxDeviceCgroup]) -> Vec<Insn> {
    let mut default_allow = true;
    let mut specific: Vec<&LinuxDeviceCgroup> = Vec::new();
    for r in rules {
        let kind = r
            .typ()
            .map(|t| t.as_str().to_string())
            .unwrap_or("a".into());
        if kind == "a" && r.major().is_none() && r.minor().is_none() {
            default_allow = r.allow();
            specific.clear();
        } else {
            specific.push(r);
        }
    }
    let mut out = vec![
        insn(LDX_W, 2, 1, 0, 0),
        insn(AND_K, 2, 0, 0, 0xffff),
        insn(LDX_W, 3, 1, 0, 0),
        insn(RSH_K, 3, 0, 0, 16),
        insn(LDX_W, 4, 1, 4, 0),
        insn(LDX_W, 5, 1, 8, 0),
    ];
    for r in specific.iter().rev() {
        let mut block = Vec::new();
        let kind = r
            .typ()
            .map(|t| t.as_str().to_string())
            .unwrap_or("a".into());
        match kind.as_str() {
            "c" => block.push(insn(JNE_K, 2, 0, 0, 2)),
            "b" => block.push(insn(JNE_K, 2, 0, 0, 1)),
            _ => {}
        }
        let access = access_bits(r.access().as_deref().unwrap_or("rwm"));
        if access != 7 {
            // The rule covers the request only if nothing outside its access is asked.
            block.push(insn(MOV_X, 6, 3, 0, 0));
            block.push(insn(AND_K, 6, 0, 0, !access & 7));
            block.push(insn(JNE_K, 6, 0, 0, 0));
        }
        if let Some(major) = r.major() {
            block.push(insn(JNE_K, 4, 0, 0, major as i32));
        }
        if let Some(minor) = r.minor() {
            block.push(insn(JNE_K, 5, 0, 0, minor as i32));
        }
        block.push(insn(MOV_K, 0, 0, 0, r.allow() as i32));
        block.push(insn(EXIT, 0, 0, 0, 0));
        // Every test jumps past the block's end when it does not match.
        let len = block.len();
        for (i, ins) in block.iter_mut().enumerate() {
            if ins.code == JNE_K {
                ins.off = (len - i - 1) as i16;
            }
        }
        out.extend(block);
    }
    out.push(insn(MOV_K, 0, 0, 0, default_allow as i32));
    out.push(insn(EXIT, 0, 0, 0, 0));
    out
}

fn bpf(cmd: libc::c_long, attr: &mut [u64; 16]) -> std::io::Result<i64> {
    // SAFETY: the attribute buffer is larger than any bpf_attr variant we pass and
    // lives across the call.
    let r = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            attr.as_mut_ptr(),
            std::mem::size_of_val(attr) as libc::c_uint,
        )
    };
    if r < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_PROG_ATTACH: libc::c_long = 8;
const BPF_PROG_TYPE_CGROUP_DEVICE: u64 = 15;
const BPF_CGROUP_DEVICE: u64 = 6;
const BPF_F_ALLOW_MULTI: u64 = 2;

/// Loads the program for `rules` and attaches it to the cgroup at `dir`.
pub(crate) fn attach(dir: &Path, rules: &[LinuxDeviceCgroup]) -> Result<(), RuntimeError> {
    let fail = |e: std::io::Error| RuntimeError::io("attaching the device filter to", dir, e);
    let insns: Vec<u64> = program(rules)
        .iter()
        .map(|i| {
            u64::from(i.code)
                | (u64::from(i.regs) << 8)
                | (u64::from(i.off as u16) << 16)
                | (u64::from(i.imm as u32) << 32)
        })
        .collect();
    let license = b"Apache\0";
    let mut attr = [0u64; 16];
    attr[0] = BPF_PROG_TYPE_CGROUP_DEVICE | ((insns.len() as u64) << 32);
    attr[1] = insns.as_ptr() as u64;
    attr[2] = license.as_ptr() as u64;
    let prog = bpf(BPF_PROG_LOAD, &mut attr).map_err(fail)?;
    // SAFETY: the kernel just returned this descriptor to us.
    let prog = unsafe { OwnedFd::from_raw_fd(prog as i32) };
    let cgroup = std::fs::File::open(dir).map_err(fail)?;
    let mut attr = [0u64; 16];
    attr[0] = (cgroup.as_raw_fd() as u64) | ((prog.as_raw_fd() as u64) << 32);
    attr[1] = BPF_CGROUP_DEVICE | (BPF_F_ALLOW_MULTI << 32);
    bpf(BPF_PROG_ATTACH, &mut attr).map_err(fail)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(v: serde_json::Value) -> Vec<LinuxDeviceCgroup> {
        serde_json::from_value(v).unwrap()
    }

    /// Runs the program the way the kernel would, for a device request.
    fn run(prog: &[Insn], kind: u32, access: u32, major: u32, minor: u32) -> i64 {
        let ctx = [(access << 16) | kind, major, minor];
        let mut r = [0i64; 11];
        let mut pc = 0usize;
        loop {
            let i = prog[pc];
            let (dst, src) = ((i.regs & 0xf) as usize, (i.regs >> 4) as usize);
            pc += 1;
            match i.code {
                LDX_W => r[dst] = ctx[i.off as usize / 4] as i64,
                AND_K => r[dst] &= i.imm as i64,
                RSH_K => r[dst] >>= i.imm,
                MOV_K => r[dst] = i.imm as i64,
                MOV_X => r[dst] = r[src],
                JNE_K => {
                    if r[dst] != i.imm as i64 {
                        pc += i.off as usize;
                    }
                }
                EXIT => return r[0],
                _ => panic!("unknown instruction"),
            }
        }
    }

    #[test]
    fn docker_defaults_allow_only_the_standard_devices() {
        let prog = program(&rules(
            serde_json::to_value(crate::defaults::device_rules()).unwrap(),
        ));
        let (c, b) = (2, 1);
        let (m, rd, wr) = (1, 2, 4);
        assert_eq!(run(&prog, c, rd | wr, 1, 3), 1, "/dev/null");
        assert_eq!(run(&prog, c, rd, 136, 7), 1, "a pty");
        assert_eq!(run(&prog, b, rd, 8, 0), 0, "a disk");
        assert_eq!(run(&prog, b, m, 8, 0), 1, "mknod of anything is allowed");
        assert_eq!(run(&prog, b, m | rd, 8, 0), 0, "but not reading it");
        assert_eq!(run(&prog, c, wr, 1, 1), 0, "/dev/mem");
    }

    #[test]
    fn later_rules_win_and_wildcards_reset() {
        let prog = program(&rules(serde_json::json!([
            {"allow": false, "access": "rwm"},
            {"allow": true, "type": "c", "major": 1, "access": "rwm"},
            {"allow": false, "type": "c", "major": 1, "minor": 1, "access": "rw"},
        ])));
        assert_eq!(run(&prog, 2, 2, 1, 3), 1);
        assert_eq!(run(&prog, 2, 2, 1, 1), 0);
        let all = program(&rules(serde_json::json!([
            {"allow": false, "access": "rwm"},
            {"allow": true, "access": "rwm"},
        ])));
        assert_eq!(all.len(), 8);
        assert_eq!(run(&all, 1, 2, 8, 0), 1);
    }

    /// The program attached to a real cgroup2 directory (`/sys/fs/cgroup` on v2, the
    /// `unified` mount on a hybrid host): a process in it opens `/dev/null` but not
    /// `/dev/kmsg`. Needs root.
    #[test]
    fn the_kernel_enforces_the_program() {
        use std::ffi::CString;
        let root = match crate::CgroupMode::detect() {
            crate::CgroupMode::V2 => std::path::PathBuf::from("/sys/fs/cgroup"),
            crate::CgroupMode::Hybrid => std::path::PathBuf::from("/sys/fs/cgroup/unified"),
            crate::CgroupMode::V1 => {
                eprintln!("no cgroup2 hierarchy on this host: nothing to attach to");
                return;
            }
        };
        let dir = root.join(format!("kujira-bpf-test-{}", std::process::id()));
        std::fs::create_dir(&dir).unwrap();
        let rules = rules(serde_json::to_value(crate::defaults::device_rules()).unwrap());
        attach(&dir, &rules).unwrap();
        let procs = std::fs::OpenOptions::new()
            .write(true)
            .open(dir.join("cgroup.procs"))
            .unwrap();
        let (null, kmsg) = (
            CString::new("/dev/null").unwrap(),
            CString::new("/dev/kmsg").unwrap(),
        );
        // SAFETY: the child only makes system calls on memory prepared before the fork.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            unsafe {
                if libc::write(procs.as_raw_fd(), b"0".as_ptr().cast(), 1) != 1 {
                    libc::_exit(10);
                }
                if libc::open(null.as_ptr(), libc::O_RDWR) < 0 {
                    libc::_exit(11);
                }
                let fd = libc::open(kmsg.as_ptr(), libc::O_RDONLY);
                let denied = fd < 0 && *libc::__errno_location() == libc::EPERM;
                libc::_exit(if denied { 0 } else { 12 });
            }
        }
        let mut status = 0;
        // SAFETY: waiting for our own child.
        unsafe { libc::waitpid(pid, &mut status, 0) };
        std::fs::remove_dir(&dir).unwrap();
        assert!(libc::WIFEXITED(status));
        assert_eq!(
            libc::WEXITSTATUS(status),
            0,
            "10: join, 11: /dev/null denied, 12: /dev/kmsg allowed"
        );
    }
}
