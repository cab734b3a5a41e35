//! The forked side of `create`. The monitor that forks is multi-threaded, so the child
//! keeps to system calls on memory prepared before the fork (glibc's `fork` leaves
//! `malloc` usable, which the few formatted error messages rely on).
//!
//! Two processes: the first child unshares the namespaces, forks the container's init
//! (pid 1 of the new pid namespace), reports its pid and exits, so that the init is
//! re-parented to the monitor (a child subreaper). The parent then moves the init into
//! the container's cgroups while the init makes its mounts: on cgroup v1 the first
//! move waits for an RCU grace period (often ≈ 10 ms here), which is thus spent in
//! parallel. The init waits for that (`C` on its control pipe) only before it needs
//! it — its cgroup namespace and the mounts of `/sys/fs/cgroup` — then sets up the
//! rest of the root filesystem, becomes the container's user, reports that it is
//! ready, waits for `start` (`S`) and executes the container's command.

use std::ffi::{CStr, CString};
use std::os::fd::RawFd;

use super::plan::{InitPlan, MountKind, MountStep, ProcessPlan};

/// What goes wrong in the child: the step, and the errno.
pub(crate) struct Fail(pub String, pub i32);

type Step<T = ()> = Result<T, Fail>;

fn errno() -> i32 {
    std::io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EIO)
}

fn check(rc: libc::c_long, what: impl FnOnce() -> String) -> Step<libc::c_long> {
    if rc < 0 {
        Err(Fail(what(), errno()))
    } else {
        Ok(rc)
    }
}

/// The descriptors the child works with (all close-on-exec).
pub(crate) struct ChildFds {
    pub stdio: [RawFd; 3],
    /// Messages to the parent: `P` + pid, `R` (ready), `E` + errno + text.
    pub sync: RawFd,
    /// Read end: `C` when the init may join its cgroups, then `S` to start; end of
    /// file means give up.
    pub control: RawFd,
    /// The cgroup files the init writes `0` into to join the container's cgroups
    /// (see [`super::cgroups::Cgroups::procs`]).
    pub cgroups: Vec<RawFd>,
}

pub(crate) const MSG_PID: u8 = b'P';
pub(crate) const MSG_READY: u8 = b'R';
pub(crate) const MSG_ERROR: u8 = b'E';
pub(crate) const CTL_CGROUPS: u8 = b'C';
pub(crate) const CTL_START: u8 = b'S';

fn send(fd: RawFd, bytes: &[u8]) {
    // SAFETY: writing a buffer we own.
    unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) };
}

pub(crate) fn send_error(fd: RawFd, f: &Fail) {
    let mut msg = vec![MSG_ERROR];
    msg.extend_from_slice(&f.1.to_le_bytes());
    let text = f.0.as_bytes();
    msg.extend_from_slice(&(text.len() as u32).to_le_bytes());
    msg.extend_from_slice(text);
    send(fd, &msg);
}

/// The first child. Never returns.
pub(crate) fn intermediate(plan: &InitPlan, fds: &ChildFds) -> ! {
    let r = (|| -> Step<libc::pid_t> {
        reset_signals();
        // The cgroup namespace comes later, once the init is in its cgroups.
        let flags = plan.namespaces & !libc::CLONE_NEWCGROUP;
        // SAFETY: unshare with flags.
        check(unsafe { libc::unshare(flags) } as _, || {
            "creating the namespaces".into()
        })?;
        if plan.namespaces & libc::CLONE_NEWNET != 0 {
            loopback_up()?;
        }
        // SAFETY: this process is single-threaded (a fresh fork).
        let pid = check(unsafe { libc::fork() } as _, || "forking the init".into())?;
        Ok(pid as libc::pid_t)
    })();
    match r {
        Ok(0) => init(plan, fds),
        Ok(pid) => {
            let mut msg = vec![MSG_PID];
            msg.extend_from_slice(&pid.to_le_bytes());
            send(fds.sync, &msg);
            // SAFETY: leaving the forked child without running the parent's exit code.
            unsafe { libc::_exit(0) }
        }
        Err(f) => {
            send_error(fds.sync, &f);
            // SAFETY: as above.
            unsafe { libc::_exit(1) }
        }
    }
}

/// Brings up `lo` in the new network namespace (it starts down), as runtimes do.
fn loopback_up() -> Step {
    // SAFETY: an ioctl on a socket we open, with an ifreq we own.
    unsafe {
        let sock = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
        if sock < 0 {
            return Err(Fail("bringing up lo".into(), errno()));
        }
        let mut req: libc::ifreq = std::mem::zeroed();
        for (i, b) in b"lo".iter().enumerate() {
            req.ifr_name[i] = *b as libc::c_char;
        }
        req.ifr_ifru.ifru_flags = (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
        let rc = libc::ioctl(sock, libc::SIOCSIFFLAGS, &req);
        libc::close(sock);
        check(rc as _, || "bringing up lo".into())?;
    }
    Ok(())
}

/// The signal mask and dispositions a new process should start with: nothing
/// blocked (the monitor blocks what it forwards), nothing ignored (Rust ignores
/// SIGPIPE).
pub(crate) fn reset_signals() {
    // SAFETY: plain signal-state system calls on stack memory.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
        for sig in 1..32 {
            if sig != libc::SIGKILL && sig != libc::SIGSTOP {
                libc::signal(sig, libc::SIG_DFL);
            }
        }
    }
}

fn init(plan: &InitPlan, fds: &ChildFds) -> ! {
    let f = match setup(plan, fds) {
        Err(f) => f,
        Ok(never) => match never {},
    };
    send_error(fds.sync, &f);
    let code = match f.1 {
        libc::ENOENT => 127,
        libc::EACCES => 126,
        _ => 1,
    };
    // SAFETY: leaving the forked child.
    unsafe { libc::_exit(code) }
}

fn c(s: &str) -> CString {
    CString::new(s).unwrap_or_default()
}

/// Points descriptor `to` at `from`, keeping it open across exec.
fn dup_to(from: RawFd, to: RawFd) -> Step {
    // SAFETY: descriptor juggling with integers.
    unsafe {
        if from == to {
            check(libc::fcntl(to, libc::F_SETFD, 0) as _, || {
                "keeping stdio".into()
            })?;
        } else {
            check(libc::dup2(from, to) as _, || "setting up stdio".into())?;
        }
    }
    Ok(())
}

fn mount(
    src: Option<&CStr>,
    target: &CStr,
    fstype: Option<&CStr>,
    flags: libc::c_ulong,
    data: Option<&CStr>,
) -> libc::c_long {
    let p = |s: Option<&CStr>| s.map_or(std::ptr::null(), CStr::as_ptr);
    // SAFETY: NUL-terminated strings or nulls, as mount(2) takes.
    unsafe {
        libc::mount(
            p(src),
            target.as_ptr(),
            p(fstype),
            flags,
            data.map_or(std::ptr::null(), |d| d.as_ptr().cast()),
        ) as libc::c_long
    }
}

fn openat2(dirfd: RawFd, path: &CStr, flags: u64) -> Result<RawFd, i32> {
    // SAFETY: open_how is plain data.
    let mut how: libc::open_how = unsafe { std::mem::zeroed() };
    how.flags = flags | libc::O_CLOEXEC as u64;
    how.resolve = libc::RESOLVE_IN_ROOT;
    // SAFETY: a valid path and struct for the call's duration.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            dirfd,
            path.as_ptr(),
            &how as *const libc::open_how,
            std::mem::size_of::<libc::open_how>(),
        )
    };
    if fd < 0 {
        Err(errno())
    } else {
        Ok(fd as RawFd)
    }
}

/// `rel` inside the root `rootfd` (symlinks resolved as if it were `/`), created
/// (with its parents) when missing, as an `O_PATH` descriptor. A dangling symlink is
/// followed inside the root: what it names is created.
fn ensure(rootfd: RawFd, rel: &CStr, dir: bool) -> Step<RawFd> {
    ensure_at_depth(rootfd, rel, dir, 0)
}

fn ensure_at_depth(rootfd: RawFd, rel: &CStr, dir: bool, depth: u32) -> Step<RawFd> {
    let show = || format!("/{}", rel.to_string_lossy());
    if depth > 40 {
        return Err(Fail(format!("resolving {}", show()), libc::ELOOP));
    }
    match openat2(rootfd, rel, libc::O_PATH as u64) {
        Ok(fd) => return Ok(fd),
        Err(libc::ENOENT) => {}
        Err(e) => return Err(Fail(format!("resolving {}", show()), e)),
    }
    let bytes = rel.to_bytes();
    let (parent, name) = match bytes.iter().rposition(|b| *b == b'/') {
        Some(i) => (&bytes[..i], &bytes[i + 1..]),
        None => (&bytes[..0], bytes),
    };
    let parent_fd = if parent.is_empty() {
        rootfd
    } else {
        ensure_at_depth(
            rootfd,
            &CString::new(parent).unwrap_or_default(),
            true,
            depth + 1,
        )?
    };
    let name = CString::new(name).unwrap_or_default();
    let mut link = [0u8; 4096];
    // SAFETY: readlinkat into our own buffer.
    let n = unsafe {
        libc::readlinkat(
            parent_fd,
            name.as_ptr(),
            link.as_mut_ptr().cast(),
            link.len(),
        )
    };
    if n > 0 {
        // A dangling symlink: create what it points at, inside the root.
        let target = &link[..n as usize];
        let joined: Vec<u8> = if target.first() == Some(&b'/') {
            target.to_vec()
        } else {
            [parent, b"/", target].concat()
        };
        let inner: Vec<u8> = joined
            .split(|b| *b == b'/')
            .filter(|c| !c.is_empty() && *c != b".")
            .collect::<Vec<_>>()
            .join(&b'/');
        ensure_at_depth(
            rootfd,
            &CString::new(inner).unwrap_or_default(),
            dir,
            depth + 1,
        )?;
        return openat2(rootfd, rel, libc::O_PATH as u64)
            .map_err(|e| Fail(format!("resolving {}", show()), e));
    }
    // SAFETY: creating a name under a directory descriptor.
    unsafe {
        if dir {
            if libc::mkdirat(parent_fd, name.as_ptr(), 0o755) < 0 && errno() != libc::EEXIST {
                return Err(Fail(format!("creating {}", show()), errno()));
            }
        } else {
            let fd = libc::openat(
                parent_fd,
                name.as_ptr(),
                libc::O_CREAT | libc::O_WRONLY | libc::O_NOFOLLOW | libc::O_CLOEXEC,
                0o644,
            );
            if fd < 0 && errno() != libc::EEXIST {
                return Err(Fail(format!("creating {}", show()), errno()));
            }
            libc::close(fd);
        }
    }
    openat2(rootfd, rel, libc::O_PATH as u64).map_err(|e| Fail(format!("resolving {}", show()), e))
}

fn fd_path(fd: RawFd) -> CString {
    c(&format!("/proc/self/fd/{fd}"))
}

fn close(fd: RawFd) {
    // SAFETY: closing a descriptor this process opened.
    unsafe { libc::close(fd) };
}

fn do_mount(rootfd: RawFd, m: &MountStep) -> Step {
    let dir = !matches!(m.kind, MountKind::Bind { dir: false, .. });
    let target = ensure(rootfd, &m.target, dir)?;
    let show = || format!("mounting /{}", m.target.to_string_lossy());
    let path = fd_path(target);
    let data = (!m.data.is_empty()).then_some(m.data.as_c_str());
    match &m.kind {
        MountKind::Fresh => {
            check(
                mount(Some(&m.source), &path, Some(&m.fstype), m.flags, data),
                show,
            )?;
        }
        MountKind::Bind { recursive, .. } => {
            let rec = if *recursive { libc::MS_REC } else { 0 };
            check(
                mount(Some(&m.source), &path, None, libc::MS_BIND | rec, None),
                show,
            )?;
            if m.flags != 0 {
                // A remount sets every flag: keep the source's own restrictions
                // (nosuid, nodev, noexec, ro) rather than lift them.
                let top = ensure(rootfd, &m.target, dir)?;
                let flags = m.flags | mount_restrictions(&m.source);
                check(
                    mount(
                        None,
                        &fd_path(top),
                        None,
                        libc::MS_BIND | libc::MS_REMOUNT | flags,
                        None,
                    ),
                    show,
                )?;
                close(top);
            }
        }
        MountKind::CgroupV2 => {
            check(
                mount(Some(c"cgroup2"), &path, Some(c"cgroup2"), m.flags, None),
                show,
            )?;
        }
        MountKind::CgroupV1(hierarchies) => {
            let base = m.flags & !libc::MS_RDONLY;
            check(
                mount(
                    Some(c"tmpfs"),
                    &path,
                    Some(c"tmpfs"),
                    base,
                    Some(c"mode=755"),
                ),
                show,
            )?;
            for (name, opts) in hierarchies {
                let rel = c(&format!(
                    "{}/{}",
                    m.target.to_string_lossy(),
                    name.to_string_lossy()
                ));
                let fd = ensure(rootfd, &rel, true)?;
                check(
                    mount(
                        Some(c"cgroup"),
                        &fd_path(fd),
                        Some(c"cgroup"),
                        m.flags,
                        Some(opts),
                    ),
                    || format!("mounting /{}", rel.to_string_lossy()),
                )?;
                close(fd);
                let name = name.to_string_lossy();
                if name.contains(',') {
                    for part in name.split(',') {
                        let link = c(part);
                        let to = c(&name);
                        let top = ensure(rootfd, &m.target, true)?;
                        // SAFETY: creating a symlink under a directory descriptor.
                        unsafe { libc::symlinkat(to.as_ptr(), top, link.as_ptr()) };
                        close(top);
                    }
                }
            }
            if m.flags & libc::MS_RDONLY != 0 {
                let top = ensure(rootfd, &m.target, true)?;
                check(
                    mount(
                        None,
                        &fd_path(top),
                        None,
                        libc::MS_REMOUNT | m.flags,
                        Some(c"mode=755"),
                    ),
                    show,
                )?;
                close(top);
            }
        }
    }
    close(target);
    if m.propagation != 0 {
        let top = ensure(rootfd, &m.target, dir)?;
        check(mount(None, &fd_path(top), None, m.propagation, None), show)?;
        close(top);
    }
    Ok(())
}

/// A new terminal in the devpts of the root `rootfd`: (master, slave), both
/// close-on-exec. Raw system calls only, so it serves the forked init as well.
pub(crate) fn open_pty(rootfd: RawFd) -> Step<(RawFd, RawFd)> {
    let master = openat2(
        rootfd,
        c"dev/pts/ptmx",
        (libc::O_RDWR | libc::O_NOCTTY) as u64,
    )
    .map_err(|e| Fail("opening /dev/pts/ptmx".into(), e))?;
    // SAFETY: terminal ioctls on the descriptor just opened.
    let slave = unsafe {
        let unlock: libc::c_int = 0;
        if libc::ioctl(master, libc::TIOCSPTLCK, &unlock) < 0 {
            let e = errno();
            close(master);
            return Err(Fail("unlocking the terminal".into(), e));
        }
        libc::ioctl(
            master,
            libc::TIOCGPTPEER,
            libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
        )
    };
    if slave < 0 {
        let e = errno();
        close(master);
        return Err(Fail("opening the terminal's slave".into(), e));
    }
    Ok((master, slave))
}

/// Opens a terminal in the container's devpts, sends its master to the console
/// socket and makes its slave the controlling terminal and stdio.
fn console(rootfd: RawFd, socket: Option<&CStr>) -> Step {
    use nix::sys::socket::{
        connect, sendmsg, socket as mksocket, AddressFamily, ControlMessage, MsgFlags, SockFlag,
        SockType, UnixAddr,
    };
    use std::os::fd::AsRawFd;
    let fail = |what: &str, e: i32| Fail(format!("setting up the terminal: {what}"), e);
    let (master, slave) = open_pty(rootfd).map_err(|f| fail(&f.0, f.1))?;
    if let Some(path) = socket {
        let sock = mksocket(
            AddressFamily::Unix,
            SockType::Stream,
            SockFlag::SOCK_CLOEXEC,
            None,
        )
        .map_err(|e| fail("socket", e as i32))?;
        let addr = UnixAddr::new(path.to_bytes()).map_err(|e| fail("socket path", e as i32))?;
        connect(sock.as_raw_fd(), &addr).map_err(|e| fail("connecting", e as i32))?;
        let iov = [std::io::IoSlice::new(b"console")];
        let fds = [master];
        sendmsg::<()>(
            sock.as_raw_fd(),
            &iov,
            &[ControlMessage::ScmRights(&fds)],
            MsgFlags::empty(),
            None,
        )
        .map_err(|e| fail("sending the master", e as i32))?;
    }
    close(master);
    for fd in 0..3 {
        dup_to(slave, fd)?;
    }
    close(slave);
    // SAFETY: making the terminal on stdin this session's controlling terminal.
    check(unsafe { libc::ioctl(0, libc::TIOCSCTTY, 0) } as _, || {
        "setting the controlling terminal".into()
    })?;
    Ok(())
}

fn pivot(rootfs: &CStr) -> Step {
    // SAFETY: path system calls with NUL-terminated strings.
    unsafe {
        check(libc::chdir(rootfs.as_ptr()) as _, || {
            "entering the rootfs".into()
        })?;
        check(
            libc::syscall(libc::SYS_pivot_root, c".".as_ptr(), c".".as_ptr()),
            || "pivot_root".into(),
        )?;
        check(
            mount(None, c".", None, libc::MS_SLAVE | libc::MS_REC, None),
            || "detaching the old root".into(),
        )?;
        check(libc::umount2(c".".as_ptr(), libc::MNT_DETACH) as _, || {
            "unmounting the old root".into()
        })?;
        check(libc::chdir(c"/".as_ptr()) as _, || "entering /".into())?;
    }
    Ok(())
}

fn dev_nodes(plan: &InitPlan) -> Step {
    // SAFETY: creating nodes and links in the container's fresh /dev.
    unsafe {
        for d in &plan.devices {
            let bytes = d.path.to_bytes();
            if let Some(i) = bytes.iter().rposition(|b| *b == b'/').filter(|i| *i > 0) {
                make_dirs(&CString::new(&bytes[..i]).unwrap_or_default());
            }
            if libc::mknod(d.path.as_ptr(), d.mode, d.dev) < 0 {
                let e = errno();
                if e != libc::EEXIST {
                    return Err(Fail(format!("creating {}", d.path.to_string_lossy()), e));
                }
            }
            // mknod's mode is filtered by the umask; the spec's is meant exactly.
            libc::chmod(d.path.as_ptr(), d.mode & 0o7777);
            libc::chown(d.path.as_ptr(), d.uid, d.gid);
        }
        let links: &[(&CStr, &CStr)] = &[
            (c"/proc/self/fd", c"/dev/fd"),
            (c"/proc/self/fd/0", c"/dev/stdin"),
            (c"/proc/self/fd/1", c"/dev/stdout"),
            (c"/proc/self/fd/2", c"/dev/stderr"),
            (c"pts/ptmx", c"/dev/ptmx"),
        ];
        for (to, link) in links {
            libc::symlink(to.as_ptr(), link.as_ptr());
        }
        if libc::access(c"/proc/kcore".as_ptr(), libc::F_OK) == 0 {
            libc::symlink(c"/proc/kcore".as_ptr(), c"/dev/core".as_ptr());
        }
        if plan.terminal {
            let fd = libc::open(
                c"/dev/console".as_ptr(),
                libc::O_CREAT | libc::O_WRONLY | libc::O_CLOEXEC,
                0o600,
            );
            if fd >= 0 {
                libc::close(fd);
            }
            check(
                mount(
                    Some(c"/proc/self/fd/0"),
                    c"/dev/console",
                    None,
                    libc::MS_BIND,
                    None,
                ),
                || "mounting /dev/console".into(),
            )?;
        }
    }
    Ok(())
}

/// The restricting flags (`MS_NOSUID`, `MS_NODEV`, `MS_NOEXEC`, `MS_RDONLY`) of the
/// mount that holds `path`.
fn mount_restrictions(path: &CStr) -> libc::c_ulong {
    // SAFETY: statvfs into our own buffer.
    let mut sv: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(path.as_ptr(), &mut sv) } != 0 {
        return 0;
    }
    [
        (libc::ST_NOSUID, libc::MS_NOSUID),
        (libc::ST_NODEV, libc::MS_NODEV),
        (libc::ST_NOEXEC, libc::MS_NOEXEC),
        (libc::ST_RDONLY, libc::MS_RDONLY),
    ]
    .iter()
    .filter(|(st, _)| sv.f_flag & st != 0)
    .fold(0, |m, (_, ms)| m | ms)
}

fn mask_paths(plan: &InitPlan) -> Step {
    for p in &plan.masked {
        // SAFETY: stat into our own buffer.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        if unsafe { libc::stat(p.as_ptr(), &mut st) } < 0 {
            continue;
        }
        let rc = if st.st_mode & libc::S_IFMT == libc::S_IFDIR {
            mount(Some(c"tmpfs"), p, Some(c"tmpfs"), libc::MS_RDONLY, None)
        } else {
            mount(Some(c"/dev/null"), p, None, libc::MS_BIND, None)
        };
        check(rc, || format!("masking {}", p.to_string_lossy()))?;
    }
    for p in &plan.readonly {
        if mount(Some(p), p, None, libc::MS_BIND | libc::MS_REC, None) < 0 {
            if errno() == libc::ENOENT {
                continue;
            }
            return Err(Fail(format!("binding {}", p.to_string_lossy()), errno()));
        }
        let keep = mount_restrictions(p);
        check(
            mount(
                None,
                p,
                None,
                libc::MS_BIND | libc::MS_REMOUNT | libc::MS_RDONLY | libc::MS_REC | keep,
                None,
            ),
            || format!("making {} read-only", p.to_string_lossy()),
        )?;
    }
    Ok(())
}

/// Writes `value` into the existing file `path`.
fn write_file(path: &CStr, value: &CStr) -> Step {
    let what = || format!("writing {}", path.to_string_lossy());
    // SAFETY: open, write and close on a NUL-terminated path and our own buffer.
    unsafe {
        let fd = check(
            libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC) as _,
            what,
        )? as RawFd;
        let bytes = value.to_bytes();
        let n = libc::write(fd, bytes.as_ptr().cast(), bytes.len());
        let e = errno();
        libc::close(fd);
        if n < 0 {
            return Err(Fail(what(), e));
        }
    }
    Ok(())
}

/// `mkdir -p` as root, so that a working directory the image lacks exists.
fn make_dirs(path: &CStr) {
    let bytes = path.to_bytes();
    for (i, b) in bytes.iter().enumerate().skip(1) {
        if *b == b'/' {
            let part = CString::new(&bytes[..i]).unwrap_or_default();
            // SAFETY: mkdir of a NUL-terminated path.
            unsafe { libc::mkdir(part.as_ptr(), 0o755) };
        }
    }
    // SAFETY: as above.
    unsafe { libc::mkdir(path.as_ptr(), 0o755) };
}

fn setup(plan: &InitPlan, fds: &ChildFds) -> Step<std::convert::Infallible> {
    // SAFETY: setsid has no arguments.
    check(unsafe { libc::setsid() } as _, || "setsid".into())?;
    if !plan.terminal {
        for (i, fd) in fds.stdio.iter().enumerate() {
            dup_to(*fd, i as RawFd)?;
        }
    }
    check(mount(None, c"/", None, plan.root_propagation, None), || {
        "setting the propagation of /".into()
    })?;
    check(
        mount(
            Some(&plan.rootfs),
            &plan.rootfs,
            None,
            libc::MS_BIND | libc::MS_REC,
            None,
        ),
        || "binding the rootfs".into(),
    )?;
    // SAFETY: opening a NUL-terminated path.
    let rootfd = check(
        unsafe {
            libc::open(
                plan.rootfs.as_ptr(),
                libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
            )
        } as _,
        || "opening the rootfs".into(),
    )? as RawFd;
    // Mounts that need the cgroup namespace (and any inside them) wait for it.
    let cgroup_dests: Vec<&[u8]> = plan
        .mounts
        .iter()
        .filter(|m| matches!(m.kind, MountKind::CgroupV1(_) | MountKind::CgroupV2))
        .map(|m| m.target.to_bytes())
        .collect();
    let needs_cgroup = |m: &MountStep| {
        let t = m.target.to_bytes();
        cgroup_dests
            .iter()
            .any(|d| t == *d || (t.starts_with(d) && t.get(d.len()) == Some(&b'/')))
    };
    for m in plan.mounts.iter().filter(|m| !needs_cgroup(m)) {
        do_mount(rootfd, m)?;
    }
    if !wait_for(fds.control, CTL_CGROUPS) {
        // SAFETY: leaving the forked child: the monitor gave up.
        unsafe { libc::_exit(0) };
    }
    // The init moves itself, while it is one thread: `0` is the writer, and a
    // v1 `tasks` file then moves it without the kernel's global lock.
    for fd in &fds.cgroups {
        // SAFETY: writing a static buffer to a descriptor we hold.
        check(
            unsafe { libc::write(*fd, b"0".as_ptr().cast(), 1) } as _,
            || "joining the container's cgroups".into(),
        )?;
    }
    if plan.namespaces & libc::CLONE_NEWCGROUP != 0 {
        // SAFETY: unshare with a flag.
        check(unsafe { libc::unshare(libc::CLONE_NEWCGROUP) } as _, || {
            "creating the cgroup namespace".into()
        })?;
    }
    for m in plan.mounts.iter().filter(|m| needs_cgroup(m)) {
        do_mount(rootfd, m)?;
    }
    if plan.terminal {
        console(rootfd, plan.console_socket.as_deref())?;
    }
    close(rootfd);
    pivot(&plan.rootfs)?;
    dev_nodes(plan)?;
    // Before /proc/sys turns read-only.
    for (path, value) in &plan.sysctl {
        write_file(path, value)?;
    }
    if let Some(v) = &plan.oom_score_adj {
        write_file(c"/proc/self/oom_score_adj", v)?;
    }
    mask_paths(plan)?;
    if plan.root_readonly {
        check(
            mount(
                None,
                c"/",
                None,
                libc::MS_BIND | libc::MS_REMOUNT | libc::MS_RDONLY,
                None,
            ),
            || "making the rootfs read-only".into(),
        )?;
    } else {
        make_dirs(&plan.process.cwd);
    }
    if let Some(h) = &plan.hostname {
        // SAFETY: a buffer and its length.
        check(
            unsafe { libc::sethostname(h.as_ptr(), h.to_bytes().len()) } as _,
            || "setting the hostname".into(),
        )?;
    }
    let early_cwd = unsafe { libc::chdir(plan.process.cwd.as_ptr()) } == 0;
    become_user(&plan.process)?;
    if !early_cwd {
        // SAFETY: chdir to a NUL-terminated path.
        check(
            unsafe { libc::chdir(plan.process.cwd.as_ptr()) } as _,
            || {
                format!(
                    "changing to the working directory {}",
                    plan.process.cwd.to_string_lossy()
                )
            },
        )?;
    }
    send(fds.sync, &[MSG_READY]);
    if !wait_for(fds.control, CTL_START) {
        // SAFETY: leaving the forked child: the monitor gave up.
        unsafe { libc::_exit(0) };
    }
    close(fds.control);
    Err(exec(&plan.process))
}

/// Reads the next control byte; false unless it is `want`.
fn wait_for(fd: RawFd, want: u8) -> bool {
    let mut byte = 0u8;
    loop {
        // SAFETY: reading one byte into our own buffer.
        let n = unsafe { libc::read(fd, (&mut byte as *mut u8).cast(), 1) };
        if n < 0 && errno() == libc::EINTR {
            continue;
        }
        return n == 1 && byte == want;
    }
}

/// Limits, user, groups, capabilities, no_new_privs and seccomp, in the order that
/// keeps each step permitted: the filter goes on while CAP_SYS_ADMIN is still held
/// unless no_new_privs allows it later.
pub(crate) fn become_user(p: &ProcessPlan) -> Step {
    // SAFETY: each call is a plain system call on integers or our own structs.
    unsafe {
        for (resource, lim, name) in &p.rlimits {
            check(libc::setrlimit(*resource, lim) as _, || {
                format!("setting {name} to {}:{}", lim.rlim_cur, lim.rlim_max)
            })?;
        }
        if !p.no_new_privileges {
            load_seccomp(p)?;
        }
        for cap in 0..=p.last_cap.min(63) {
            if p.caps.bounding & (1u64 << cap) == 0 {
                let rc = libc::prctl(libc::PR_CAPBSET_DROP, cap as libc::c_ulong, 0, 0, 0);
                if rc < 0 && errno() != libc::EINVAL {
                    return Err(Fail("dropping bounding capabilities".into(), errno()));
                }
            }
        }
        check(libc::prctl(libc::PR_SET_KEEPCAPS, 1, 0, 0, 0) as _, || {
            "keeping capabilities".into()
        })?;
        check(
            libc::setgroups(p.groups.len(), p.groups.as_ptr()) as _,
            || "setting supplementary groups".into(),
        )?;
        check(libc::setresgid(p.gid, p.gid, p.gid) as _, || {
            format!("setting gid {}", p.gid)
        })?;
        check(libc::setresuid(p.uid, p.uid, p.uid) as _, || {
            format!("setting uid {}", p.uid)
        })?;
        check(libc::prctl(libc::PR_SET_KEEPCAPS, 0, 0, 0, 0) as _, || {
            "keeping capabilities".into()
        })?;
        #[repr(C)]
        struct Header {
            version: u32,
            pid: i32,
        }
        #[repr(C)]
        #[derive(Clone, Copy)]
        struct Data {
            effective: u32,
            permitted: u32,
            inheritable: u32,
        }
        let hdr = Header {
            version: 0x2008_0522,
            pid: 0,
        };
        let half = |m: u64, hi: bool| if hi { (m >> 32) as u32 } else { m as u32 };
        let data = [false, true].map(|hi| Data {
            effective: half(p.caps.effective, hi),
            permitted: half(p.caps.permitted, hi),
            inheritable: half(p.caps.inheritable, hi),
        });
        check(
            libc::syscall(libc::SYS_capset, &hdr as *const Header, data.as_ptr()),
            || "setting capabilities".into(),
        )?;
        for cap in 0..=p.last_cap.min(63) {
            if p.caps.ambient & (1u64 << cap) != 0 {
                libc::prctl(
                    libc::PR_CAP_AMBIENT,
                    libc::PR_CAP_AMBIENT_RAISE as libc::c_ulong,
                    cap as libc::c_ulong,
                    0,
                    0,
                );
            }
        }
        if p.no_new_privileges {
            check(
                libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) as _,
                || "setting no_new_privs".into(),
            )?;
            load_seccomp(p)?;
        }
    }
    Ok(())
}

fn load_seccomp(p: &ProcessPlan) -> Step {
    let Some(bpf) = &p.seccomp else {
        return Ok(());
    };
    let prog = libc::sock_fprog {
        len: (bpf.len() / 8) as u16,
        filter: bpf.as_ptr() as *mut libc::sock_filter,
    };
    // SAFETY: the program outlives the call; the kernel copies it.
    check(
        unsafe {
            libc::syscall(
                libc::SYS_seccomp,
                libc::SECCOMP_SET_MODE_FILTER,
                0,
                &prog as *const libc::sock_fprog,
            )
        },
        || "loading the seccomp filter".into(),
    )?;
    Ok(())
}

/// Executes the command, trying each candidate path; returns only on failure, with
/// Docker's wording.
pub(crate) fn exec(p: &ProcessPlan) -> Fail {
    let argv: Vec<*const libc::c_char> = p
        .argv
        .iter()
        .map(|a| a.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect();
    let envp: Vec<*const libc::c_char> = p
        .envp
        .iter()
        .map(|a| a.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect();
    // Nothing of the monitor's may leak into the container.
    // SAFETY: close_range with integer arguments.
    unsafe { libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 4u32) };
    let mut last = libc::ENOENT;
    for cand in &p.candidates {
        // SAFETY: NUL-terminated arrays built above.
        unsafe { libc::execve(cand.as_ptr(), argv.as_ptr(), envp.as_ptr()) };
        let e = errno();
        match e {
            libc::ENOENT | libc::ENOTDIR => {}
            libc::EACCES => last = e,
            _ => {
                last = e;
                break;
            }
        }
    }
    let name = p
        .argv
        .first()
        .map(|a| a.to_string_lossy().into_owned())
        .unwrap_or_default();
    let text = if last == libc::ENOENT && !name.contains('/') {
        format!("exec: \"{name}\": executable file not found in $PATH")
    } else {
        format!("exec: \"{name}\"")
    };
    Fail(text, last)
}
