//! The idle server's footprint. Most of an idle `kujira serve`'s resident memory
//! is the binary's own code, faulted in 64 KiB at a time around every page the
//! CLI's start-up touched (the kernel's fault-around). The code mapping is
//! advised random access (single-page faults from now on) and its pages are let
//! go: they stay in the page cache and come back on first use. The same goes for
//! its read-only data. Only the executable's read-only mappings without a
//! written page are touched, so dropping them loses nothing (relocated data lives
//! in the RELRO mapping, which has written pages and is left alone). Freed heap
//! memory the allocator kept is handed back too (`malloc_trim`).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Set by every request; cleared when the code is shed again.
static BUSY_SINCE_SHED: AtomicBool = AtomicBool::new(false);
static LAST_REQUEST_MS: AtomicU64 = AtomicU64::new(0);

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Called for each request.
pub fn note_request() {
    LAST_REQUEST_MS.store(now_ms(), Ordering::Relaxed);
    BUSY_SINCE_SHED.store(true, Ordering::Relaxed);
}

/// Sheds the code again once the server has been idle a while after work (an
/// import or a pull touches a few megabytes of code it will not need at rest).
pub async fn shed_when_idle() {
    const QUIET: Duration = Duration::from_secs(5);
    loop {
        tokio::time::sleep(QUIET).await;
        let quiet_for = now_ms().saturating_sub(LAST_REQUEST_MS.load(Ordering::Relaxed));
        if quiet_for >= QUIET.as_millis() as u64 && BUSY_SINCE_SHED.swap(false, Ordering::Relaxed) {
            shed_startup_code();
        }
    }
}

pub fn shed_startup_code() {
    let Ok(exe) = std::fs::read_link("/proc/self/exe") else {
        return;
    };
    let Ok(smaps) = std::fs::read_to_string("/proc/self/smaps") else {
        return;
    };
    let exe = exe.to_string_lossy().into_owned();
    for (start, end) in clean_exe_mappings(&smaps, &exe) {
        // SAFETY: advice on mappings of our own executable that are read-only,
        // file-backed and hold no private (written) page — the text and the
        // read-only data, not the relocated RELRO segment — so every page dropped
        // is refaulted from the file unchanged.
        unsafe {
            libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_RANDOM);
            libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED);
        }
    }
    // The allocator keeps freed memory of every thread's arena for reuse; an idle
    // server gives it back.
    // SAFETY: malloc_trim only releases free memory of glibc's own arenas.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// The address ranges of `exe`'s mappings in `smaps` that are read-only (`r-xp`,
/// `r--p`) and have no anonymous (copy-on-write) pages.
fn clean_exe_mappings(smaps: &str, exe: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut current: Option<(usize, usize)> = None;
    for line in smaps.lines() {
        let mut f = line.split_whitespace();
        let Some(first) = f.next() else { continue };
        if let Some((a, b)) = first.split_once('-').filter(|_| !first.ends_with(':')) {
            let perms = f.next().unwrap_or_default();
            let path = line.split_whitespace().nth(5).unwrap_or_default();
            current = match (usize::from_str_radix(a, 16), usize::from_str_radix(b, 16)) {
                (Ok(s), Ok(e)) if (perms == "r-xp" || perms == "r--p") && path == exe => {
                    Some((s, e))
                }
                _ => None,
            };
        } else if first == "Anonymous:" {
            if let Some(range) = current.take() {
                if f.next() == Some("0") {
                    out.push(range);
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_clean_read_only_mappings_of_the_executable() {
        let smaps = "\
5590-5591 r--p 00000000 08:01 12 /bin/k
Rss:                1588 kB
Anonymous:             0 kB
5591-5592 r-xp 00001000 08:01 12 /bin/k
Anonymous:             0 kB
5592-5593 r--p 00002000 08:01 12 /bin/k
Anonymous:           512 kB
5593-5594 rw-p 00003000 08:01 12 /bin/k
Anonymous:            20 kB
7fd5-7fd6 r-xp 00000000 08:01 13 /usr/lib/libc.so.6
Anonymous:             0 kB
";
        assert_eq!(
            super::clean_exe_mappings(smaps, "/bin/k"),
            vec![(0x5590, 0x5591), (0x5591, 0x5592)]
        );
    }
}
