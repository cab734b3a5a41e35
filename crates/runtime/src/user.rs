//! `--user` resolution against the container's `/etc/passwd` and `/etc/group`,
//! with Docker's (runc's) rules and error messages.

use std::path::{Component, Path, PathBuf};

use crate::RuntimeError;

/// The process identity a `--user` value resolves to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResolvedUser {
    pub uid: u32,
    pub gid: u32,
    pub additional_gids: Vec<u32>,
    /// The user's home directory (`/` when the user has no passwd entry).
    pub home: String,
}

struct PasswdEntry {
    name: String,
    uid: u32,
    gid: u32,
    home: String,
}

struct GroupEntry {
    name: String,
    gid: u32,
    members: Vec<String>,
}

const MAX_ID: i64 = 2_147_483_647;

/// Parses a numeric id; `Ok(None)` when `s` is not a number (so a name).
fn numeric_id(s: &str) -> Result<Option<u32>, RuntimeError> {
    match s.parse::<i64>() {
        Ok(n) if (0..=MAX_ID).contains(&n) => Ok(Some(n as u32)),
        Ok(_) => Err(RuntimeError::IdOutOfRange),
        Err(_) => Ok(None),
    }
}

/// Resolves `user` (`name`, `uid`, `name:group`, `uid:gid`, empty for root) against
/// the files in `rootfs`. Numeric ids work without the files.
pub fn resolve_user(rootfs: &Path, user: &str) -> Result<ResolvedUser, RuntimeError> {
    let (user_arg, group_arg) = match user.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (user, None),
    };
    let uid_arg = numeric_id(user_arg)?;
    let passwd = read_in_root(rootfs, "etc/passwd")
        .map(|t| parse_passwd(&t))
        .unwrap_or_default();
    let entry = passwd.into_iter().find(|e| {
        if user_arg.is_empty() {
            e.uid == 0
        } else {
            e.name == user_arg || uid_arg == Some(e.uid)
        }
    });
    let mut resolved = match (entry.as_ref(), uid_arg) {
        (Some(e), _) => ResolvedUser {
            uid: e.uid,
            gid: e.gid,
            additional_gids: Vec::new(),
            home: e.home.clone(),
        },
        (None, Some(uid)) => ResolvedUser {
            uid,
            gid: 0,
            additional_gids: Vec::new(),
            home: "/".into(),
        },
        (None, None) if user_arg.is_empty() => ResolvedUser {
            uid: 0,
            gid: 0,
            additional_gids: Vec::new(),
            home: "/".into(),
        },
        (None, None) => return Err(RuntimeError::UserNotFound(user_arg.to_string())),
    };

    let groups = read_in_root(rootfs, "etc/group")
        .map(|t| parse_group(&t))
        .unwrap_or_default();
    match group_arg.filter(|g| !g.is_empty()) {
        Some(group) => {
            let gid_arg = numeric_id(group)?;
            match groups
                .iter()
                .find(|g| g.name == group || gid_arg == Some(g.gid))
            {
                Some(g) => resolved.gid = g.gid,
                None => match gid_arg {
                    Some(gid) => resolved.gid = gid,
                    None => return Err(RuntimeError::GroupNotFound(group.to_string())),
                },
            }
        }
        None => {
            if let Some(e) = &entry {
                for g in groups.iter().filter(|g| g.members.contains(&e.name)) {
                    if !resolved.additional_gids.contains(&g.gid) {
                        resolved.additional_gids.push(g.gid);
                    }
                }
            }
        }
    }
    Ok(resolved)
}

/// A group by name or number, against the rootfs's `/etc/group` (`--group-add`).
pub fn resolve_group(rootfs: &Path, group: &str) -> Result<u32, RuntimeError> {
    let gid_arg = numeric_id(group)?;
    let groups = read_in_root(rootfs, "etc/group")
        .map(|t| parse_group(&t))
        .unwrap_or_default();
    groups
        .iter()
        .find(|g| g.name == group || gid_arg == Some(g.gid))
        .map(|g| g.gid)
        .or(gid_arg)
        .ok_or_else(|| RuntimeError::GroupNotFound(group.to_string()))
}

fn parse_passwd(text: &str) -> Vec<PasswdEntry> {
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|line| {
            let f: Vec<&str> = line.split(':').collect();
            Some(PasswdEntry {
                name: f.first()?.to_string(),
                uid: f.get(2)?.parse().ok()?,
                gid: f.get(3)?.parse().ok()?,
                home: f.get(5).map(|h| h.to_string()).unwrap_or_default(),
            })
        })
        .collect()
}

fn parse_group(text: &str) -> Vec<GroupEntry> {
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|line| {
            let f: Vec<&str> = line.split(':').collect();
            Some(GroupEntry {
                name: f.first()?.to_string(),
                gid: f.get(2)?.parse().ok()?,
                members: f
                    .get(3)
                    .map(|m| {
                        m.split(',')
                            .filter(|s| !s.is_empty())
                            .map(str::to_string)
                            .collect()
                    })
                    .unwrap_or_default(),
            })
        })
        .collect()
}

/// Reads `rel` inside `root`, resolving symlinks as if `root` were `/`, so a hostile
/// image can't make us read host files.
fn read_in_root(root: &Path, rel: &str) -> Option<String> {
    let path = resolve_in_root(root, Path::new(rel))?;
    std::fs::read_to_string(path).ok()
}

/// Resolves `rel` against `root` following symlinks, never leaving `root`.
pub fn resolve_in_root(root: &Path, rel: &Path) -> Option<PathBuf> {
    let mut pending: Vec<PathBuf> = rel
        .components()
        .rev()
        .map(|c| PathBuf::from(c.as_os_str()))
        .collect();
    let mut inside = PathBuf::new();
    let mut hops = 0;
    while let Some(part) = pending.pop() {
        match part.components().next() {
            None | Some(Component::RootDir) | Some(Component::CurDir) => continue,
            Some(Component::ParentDir) => {
                inside.pop();
                continue;
            }
            _ => {}
        }
        let candidate = inside.join(&part);
        let full = root.join(&candidate);
        match std::fs::symlink_metadata(&full) {
            Ok(meta) if meta.file_type().is_symlink() => {
                hops += 1;
                if hops > 40 {
                    return None;
                }
                let target = std::fs::read_link(&full).ok()?;
                if target.is_absolute() {
                    inside = PathBuf::new();
                }
                for c in target.components().rev() {
                    pending.push(PathBuf::from(c.as_os_str()));
                }
            }
            Ok(_) => inside = candidate,
            Err(_) => return None,
        }
    }
    Some(root.join(inside))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rootfs() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("etc")).unwrap();
        std::fs::write(
            dir.path().join("etc/passwd"),
            "root:x:0:0:root:/root:/bin/sh\n\
             daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n\
             www:x:33:33:www:/var/www:/bin/sh\n\
             alice:x:1000:1000::/home/alice:/bin/sh\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("etc/group"),
            "root:x:0:\nwww:x:33:\nalice:x:1000:\naudio:x:29:alice,www\nvideo:x:44:alice\nstaff:x:50:\n",
        )
        .unwrap();
        dir
    }

    fn u(uid: u32, gid: u32, extra: &[u32], home: &str) -> ResolvedUser {
        ResolvedUser {
            uid,
            gid,
            additional_gids: extra.to_vec(),
            home: home.into(),
        }
    }

    #[test]
    fn resolution_table() {
        let root = rootfs();
        let cases = [
            ("", u(0, 0, &[], "/root")),
            ("root", u(0, 0, &[], "/root")),
            ("www", u(33, 33, &[29], "/var/www")),
            ("33", u(33, 33, &[29], "/var/www")),
            ("alice", u(1000, 1000, &[29, 44], "/home/alice")),
            ("alice:staff", u(1000, 50, &[], "/home/alice")),
            ("alice:7", u(1000, 7, &[], "/home/alice")),
            ("4242", u(4242, 0, &[], "/")),
            ("4242:4343", u(4242, 4343, &[], "/")),
            ("4242:staff", u(4242, 50, &[], "/")),
        ];
        for (arg, want) in cases {
            assert_eq!(resolve_user(root.path(), arg).unwrap(), want, "{arg:?}");
        }
    }

    #[test]
    fn errors_are_dockers() {
        let root = rootfs();
        assert_eq!(
            resolve_user(root.path(), "nobody").unwrap_err().to_string(),
            "unable to find user nobody: no matching entries in passwd file"
        );
        assert_eq!(
            resolve_user(root.path(), "alice:nogroup")
                .unwrap_err()
                .to_string(),
            "unable to find group nogroup: no matching entries in group file"
        );
        assert!(matches!(
            resolve_user(root.path(), "4294967296"),
            Err(RuntimeError::IdOutOfRange)
        ));
        assert!(matches!(
            resolve_user(root.path(), "-1"),
            Err(RuntimeError::IdOutOfRange)
        ));
    }

    #[test]
    fn numeric_without_files() {
        let empty = tempfile::tempdir().unwrap();
        assert_eq!(
            resolve_user(empty.path(), "1234:5678").unwrap(),
            u(1234, 5678, &[], "/")
        );
        assert_eq!(resolve_user(empty.path(), "").unwrap(), u(0, 0, &[], "/"));
        assert!(resolve_user(empty.path(), "alice").is_err());
    }

    #[test]
    fn symlinked_passwd_stays_inside_the_rootfs() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("etc")).unwrap();
        std::fs::create_dir_all(root.path().join("real")).unwrap();
        std::fs::write(root.path().join("real/passwd"), "bob:x:77:77::/b:/bin/sh\n").unwrap();
        // An absolute link is resolved against the rootfs, not the host.
        std::os::unix::fs::symlink("/real/passwd", root.path().join("etc/passwd")).unwrap();
        assert_eq!(resolve_user(root.path(), "bob").unwrap().uid, 77);
        std::fs::remove_file(root.path().join("etc/passwd")).unwrap();
        std::os::unix::fs::symlink(
            "../../../../../../etc/passwd",
            root.path().join("etc/passwd"),
        )
        .unwrap();
        // Climbs stop at the rootfs: /etc/passwd of the rootfs is the link itself → loop.
        assert!(resolve_user(root.path(), "root").is_err());
    }
}
