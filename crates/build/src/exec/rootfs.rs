//! Paths inside a step's mounted rootfs, resolved as the container would see them:
//! symlinks followed with `/` meaning the rootfs and `..` stopping there, so that a
//! link in the image can never make `COPY` or `WORKDIR` write outside it.

use std::os::unix::fs::{chown, PermissionsExt};
use std::path::{Component, Path, PathBuf};

/// `path` (absolute, in the container) resolved to a path under `root` on the host.
/// The last component's symlink is followed only when `follow_last`.
pub fn resolve(root: &Path, path: &str, follow_last: bool) -> std::io::Result<PathBuf> {
    let mut parts: Vec<String> = Vec::new();
    let mut todo: Vec<String> = split(path);
    todo.reverse();
    let mut hops = 0;
    while let Some(part) = todo.pop() {
        match part.as_str() {
            "." => continue,
            ".." => {
                parts.pop();
                continue;
            }
            _ => {}
        }
        let candidate = root.join(parts.join("/")).join(&part);
        let last = todo.is_empty();
        match std::fs::symlink_metadata(&candidate) {
            Ok(m) if m.file_type().is_symlink() && (!last || follow_last) => {
                hops += 1;
                if hops > 40 {
                    return Err(std::io::Error::other(format!(
                        "too many levels of symbolic links: {path}"
                    )));
                }
                let target = std::fs::read_link(&candidate)?;
                let t = target.to_string_lossy().to_string();
                if t.starts_with('/') {
                    parts.clear();
                }
                let mut more = split(&t);
                more.reverse();
                todo.extend(more);
            }
            _ => parts.push(part),
        }
    }
    Ok(root.join(parts.join("/")))
}

fn split(p: &str) -> Vec<String> {
    Path::new(p)
        .components()
        .filter_map(|c| match c {
            Component::Normal(s) => Some(s.to_string_lossy().to_string()),
            Component::ParentDir => Some("..".into()),
            _ => None,
        })
        .collect()
}

/// `mkdir -p` of `path` inside `root`, new directories 0755 and owned by
/// `owner` (root's by default, as BuildKit makes them).
pub fn mkdir_all(root: &Path, path: &str, owner: Option<(u32, u32)>) -> std::io::Result<PathBuf> {
    let mut at = String::new();
    for part in split(path) {
        at.push('/');
        at.push_str(&part);
        let host = resolve(root, &at, true)?;
        match std::fs::symlink_metadata(&host) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                return Err(std::io::Error::other(format!(
                    "cannot create directory {at}: a file is in the way"
                )))
            }
            Err(_) => {
                std::fs::create_dir(&host)?;
                std::fs::set_permissions(&host, std::fs::Permissions::from_mode(0o755))?;
                let (u, g) = owner.unwrap_or((0, 0));
                chown(&host, Some(u), Some(g))?;
            }
        }
    }
    resolve(root, path, true)
}

/// Looks a user (and group) up in the rootfs's `/etc/passwd` and `/etc/group`, as
/// `--chown` and `USER` do: names or numbers, `user[:group]`.
pub fn lookup_owner(root: &Path, spec: &str) -> Result<(u32, u32), String> {
    let (user, group) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let read = |f: &str| {
        std::fs::read_to_string(resolve(root, f, true).unwrap_or_default()).unwrap_or_default()
    };
    let passwd = read("/etc/passwd");
    let (uid, primary) = match user.parse::<u32>() {
        Ok(n) => (
            n,
            passwd
                .lines()
                .map(|l| l.split(':').collect::<Vec<_>>())
                .find(|f| f.len() > 3 && f[2].parse() == Ok(n))
                .and_then(|f| f[3].parse().ok())
                .unwrap_or(n),
        ),
        Err(_) => passwd
            .lines()
            .map(|l| l.split(':').collect::<Vec<_>>())
            .find(|f| f.len() > 3 && f[0] == user)
            .and_then(|f| Some((f[2].parse().ok()?, f[3].parse().ok()?)))
            .ok_or_else(|| format!("unable to convert uid/gid chown string to host mapping: can't find uid for user {user}: no such user: {user}"))?,
    };
    let gid = match group {
        None => if user.parse::<u32>().is_ok() { uid } else { primary },
        Some(g) => match g.parse::<u32>() {
            Ok(n) => n,
            Err(_) => read("/etc/group")
                .lines()
                .map(|l| l.split(':').collect::<Vec<_>>())
                .find(|f| f.len() > 2 && f[0] == g)
                .and_then(|f| f[2].parse().ok())
                .ok_or_else(|| format!("unable to convert uid/gid chown string to host mapping: can't find gid for group {g}: no such group: {g}"))?,
        },
    };
    Ok((uid, gid))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_stay_inside_the_root() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path();
        std::fs::create_dir(root.join("real")).unwrap();
        std::os::unix::fs::symlink("/real", root.join("abs")).unwrap();
        std::os::unix::fs::symlink("../../../..", root.join("up")).unwrap();
        assert_eq!(resolve(root, "/abs/x", true).unwrap(), root.join("real/x"));
        assert_eq!(resolve(root, "/up/etc", true).unwrap(), root.join("etc"));
        assert_eq!(resolve(root, "/abs", false).unwrap(), root.join("abs"));
        let made = mkdir_all(root, "/abs/a/b", None).unwrap();
        assert_eq!(made, root.join("real/a/b"));
        assert!(made.is_dir());
    }

    #[test]
    fn owners_from_the_image() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join("etc")).unwrap();
        std::fs::write(
            d.path().join("etc/passwd"),
            "root:x:0:0::/root:/bin/sh\napp:x:1000:1001::/app:/bin/sh\n",
        )
        .unwrap();
        std::fs::write(d.path().join("etc/group"), "root:x:0:\nstaff:x:50:\n").unwrap();
        assert_eq!(lookup_owner(d.path(), "app").unwrap(), (1000, 1001));
        assert_eq!(lookup_owner(d.path(), "app:staff").unwrap(), (1000, 50));
        assert_eq!(lookup_owner(d.path(), "7:8").unwrap(), (7, 8));
        assert!(lookup_owner(d.path(), "nobody").is_err());
    }
}
