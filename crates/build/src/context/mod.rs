//! The build context: a directory (the user's, or a tar unpacked into scratch space)
//! filtered by `.dockerignore`. Sources are resolved and hashed on demand, so only
//! what an instruction reads is ever hashed, and by content (never by mtime).

pub mod ignore;

use std::io::Read;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use sha2::{Digest as _, Sha256};

use crate::BuildError;

/// One entry under a source: its path relative to the context root.
#[derive(Debug, Clone)]
pub struct Entry {
    pub rel: String,
    pub meta: std::fs::Metadata,
}

pub struct Context {
    root: PathBuf,
    ignore: ignore::Matcher,
}

/// Cleans a context-relative path lexically; `None` when it climbs out of the root.
pub fn clean_rel(p: &str) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    for c in Path::new(p).components() {
        match c {
            Component::Normal(s) => parts.push(s.to_str()?),
            Component::ParentDir => {
                parts.pop()?;
            }
            _ => {}
        }
    }
    Some(parts.join("/"))
}

/// Go's `filepath.Match` of one path component (a `COPY` source's wildcard part),
/// with the `.dockerignore` matcher's pattern engine: `*`, `?`, `[...]`, `\` escapes.
pub fn match_component(pattern: &str, name: &str) -> bool {
    ignore::Pattern::new(pattern).is_ok_and(|p| p.matches_path(name))
}

fn has_glob(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

impl Context {
    /// A context rooted at `root`, filtered by `ignore_text` (a `.dockerignore`).
    pub fn new(root: &Path, ignore_text: Option<&str>) -> Result<Context, BuildError> {
        let patterns = match ignore_text {
            Some(t) => ignore::parse(t).map_err(|e| BuildError::Invalid(e.to_string()))?,
            None => Vec::new(),
        };
        let root = root.canonicalize().map_err(|e| {
            BuildError::io(format!("reading the build context {}", root.display()), e)
        })?;
        Ok(Context {
            root,
            ignore: ignore::Matcher::new(patterns),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn ignored(&self, rel: &str) -> bool {
        !rel.is_empty() && self.ignore.matches(rel)
    }

    /// The host path of a context entry, its symlinks followed without leaving the
    /// context (a link out of it is an error).
    pub fn host_path(&self, rel: &str) -> Result<PathBuf, BuildError> {
        let mut at = self.root.clone();
        let mut hops = 0;
        let mut todo: Vec<String> = rel
            .split('/')
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect();
        todo.reverse();
        while let Some(part) = todo.pop() {
            if part == ".." {
                if at == self.root {
                    return Err(outside(rel));
                }
                at.pop();
                continue;
            }
            if part == "." {
                continue;
            }
            let next = at.join(&part);
            match std::fs::symlink_metadata(&next) {
                Ok(m) if m.file_type().is_symlink() => {
                    hops += 1;
                    if hops > 40 {
                        return Err(BuildError::Invalid(format!(
                            "too many levels of symbolic links: {rel}"
                        )));
                    }
                    let target = std::fs::read_link(&next)
                        .map_err(|e| BuildError::io(format!("reading {rel}"), e))?;
                    if target.is_absolute() {
                        return Err(outside(rel));
                    }
                    let mut parts: Vec<String> = target
                        .to_string_lossy()
                        .split('/')
                        .filter(|s| !s.is_empty())
                        .map(String::from)
                        .collect();
                    parts.reverse();
                    todo.extend(parts);
                }
                _ => at = next,
            }
        }
        Ok(at)
    }

    /// The context-relative paths a `COPY` source names (with wildcards expanded);
    /// BuildKit's "not found" when nothing matches.
    pub fn resolve(&self, src: &str) -> Result<Vec<String>, BuildError> {
        let rel = clean_rel(src).ok_or_else(|| outside(src))?;
        if !has_glob(&rel) {
            let host = self.host_path(&rel)?;
            if self.ignored(&rel) || std::fs::symlink_metadata(&host).is_err() {
                return Err(not_found(src));
            }
            return Ok(vec![rel]);
        }
        let mut found = vec![String::new()];
        for part in rel.split('/') {
            let mut next = Vec::new();
            for base in &found {
                if !has_glob(part) {
                    let cand = join(base, part);
                    if std::fs::symlink_metadata(self.root.join(&cand)).is_ok() {
                        next.push(cand);
                    }
                    continue;
                }
                let dir = self.root.join(base);
                let Ok(rd) = std::fs::read_dir(&dir) else {
                    continue;
                };
                let mut names: Vec<String> = rd
                    .flatten()
                    .filter_map(|e| e.file_name().into_string().ok())
                    .filter(|n| match_component(part, n))
                    .collect();
                names.sort();
                next.extend(names.into_iter().map(|n| join(base, &n)));
            }
            found = next;
        }
        found.retain(|r| !self.ignored(r));
        if found.is_empty() {
            return Err(not_found(src));
        }
        Ok(found)
    }

    /// Every entry at and under `rel` that `.dockerignore` keeps, parents before
    /// children, names sorted. The top entry's symlinks are followed (as BuildKit
    /// follows a source path); links below it are entries of their own.
    pub fn walk(&self, rel: &str) -> Result<Vec<Entry>, BuildError> {
        let host = self.host_path(rel)?;
        let meta = std::fs::metadata(&host).map_err(|_| not_found(rel))?;
        let mut out = vec![Entry {
            rel: rel.to_string(),
            meta: meta.clone(),
        }];
        if meta.is_dir() {
            self.walk_dir(&host, rel, &mut out)?;
        }
        Ok(out)
    }

    fn walk_dir(&self, host: &Path, rel: &str, out: &mut Vec<Entry>) -> Result<(), BuildError> {
        let rd =
            std::fs::read_dir(host).map_err(|e| BuildError::io(format!("reading {rel}"), e))?;
        let mut names: Vec<String> = rd
            .flatten()
            .filter_map(|e| e.file_name().into_string().ok())
            .collect();
        names.sort();
        for n in names {
            let child = join(rel, &n);
            let path = host.join(&n);
            let Ok(meta) = std::fs::symlink_metadata(&path) else {
                continue;
            };
            let is_dir = meta.is_dir();
            if self.ignored(&child) {
                if is_dir && self.ignore.may_match_below(&child) {
                    // An exception may re-include something below: look inside, but
                    // keep only what is not ignored.
                    let mut below = Vec::new();
                    self.walk_dir(&path, &child, &mut below)?;
                    if !below.is_empty() {
                        out.push(Entry { rel: child, meta });
                        out.extend(below);
                    }
                }
                continue;
            }
            out.push(Entry {
                rel: child.clone(),
                meta,
            });
            if is_dir {
                self.walk_dir(&path, &child, out)?;
            }
        }
        Ok(())
    }

    /// The content checksum of what `srcs` (context-relative) hold: names relative to
    /// each source, types, modes, sizes, link targets and file contents.
    pub fn checksum(&self, srcs: &[String]) -> Result<String, BuildError> {
        let mut h = Sha256::new();
        for src in srcs {
            h.update(b"src\0");
            h.update(src.as_bytes());
            for e in self.walk(src)? {
                let name = e.rel.strip_prefix(src.as_str()).unwrap_or(&e.rel);
                h.update(name.as_bytes());
                h.update([0]);
                h.update(e.meta.permissions().mode().to_le_bytes());
                h.update(e.meta.uid().to_le_bytes());
                h.update(e.meta.gid().to_le_bytes());
                let ft = e.meta.file_type();
                if ft.is_symlink() {
                    let t = std::fs::read_link(self.root.join(&e.rel)).unwrap_or_default();
                    h.update(t.as_os_str().as_encoded_bytes());
                } else if ft.is_file() {
                    h.update(e.meta.len().to_le_bytes());
                    let path = self.host_path(&e.rel)?;
                    let mut f = std::fs::File::open(&path)
                        .map_err(|err| BuildError::io(format!("reading {}", e.rel), err))?;
                    let mut buf = vec![0u8; 64 * 1024];
                    loop {
                        let n = f
                            .read(&mut buf)
                            .map_err(|err| BuildError::io(format!("reading {}", e.rel), err))?;
                        if n == 0 {
                            break;
                        }
                        h.update(&buf[..n]);
                    }
                }
                h.update([0xff]);
            }
        }
        Ok(hex::encode(h.finalize()))
    }
}

/// Unpacks a tar stream, plain or gzip'd (told by its first bytes), into `dir`:
/// a context sent as a tarball, or a local archive `ADD` extracts. Owners, modes
/// and mtimes are kept; entries that would land outside `dir` are refused by `tar`.
pub fn unpack_tar(mut input: impl Read, dir: &Path) -> std::io::Result<()> {
    let mut head = [0u8; 2];
    let mut n = 0;
    while n < 2 {
        match input.read(&mut head[n..])? {
            0 => break,
            k => n += k,
        }
    }
    let chained = std::io::Cursor::new(head[..n].to_vec()).chain(input);
    let reader: Box<dyn Read> = if n == 2 && head == [0x1f, 0x8b] {
        Box::new(flate2::read::GzDecoder::new(chained))
    } else {
        Box::new(chained)
    };
    let mut a = tar::Archive::new(reader);
    a.set_preserve_permissions(true);
    a.set_preserve_mtime(true);
    a.set_preserve_ownerships(true);
    a.set_overwrite(true);
    a.unpack(dir)
}

fn join(base: &str, name: &str) -> String {
    if base.is_empty() {
        name.to_string()
    } else {
        format!("{base}/{name}")
    }
}

fn not_found(src: &str) -> BuildError {
    let shown = clean_rel(src).unwrap_or_else(|| src.to_string());
    BuildError::Invalid(format!(
        "failed to compute cache key: failed to calculate checksum of ref: \"/{shown}\": not found"
    ))
}

fn outside(src: &str) -> BuildError {
    BuildError::Invalid(format!(
        "failed to compute cache key: forbidden path outside the build context: {src}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn components_match_as_go() {
        assert!(match_component("*.txt", "a.txt"));
        assert!(!match_component("*.txt", "a.txd"));
        assert!(match_component("f?o", "foo"));
        assert!(match_component("[a-c]x", "bx"));
        assert!(!match_component("[^a-c]x", "bx"));
        assert!(match_component("\\*", "*"));
    }

    #[test]
    fn sources_resolve_within_the_context() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join("src")).unwrap();
        std::fs::write(d.path().join("src/a.txt"), "a").unwrap();
        std::fs::write(d.path().join("src/b.txt"), "b").unwrap();
        std::fs::write(d.path().join("src/c.pyc"), "c").unwrap();
        std::os::unix::fs::symlink("/etc/passwd", d.path().join("out")).unwrap();
        let ctx = Context::new(d.path(), Some("**/*.pyc\n")).unwrap();
        assert_eq!(
            ctx.resolve("src/*.txt").unwrap(),
            vec!["src/a.txt", "src/b.txt"]
        );
        assert!(ctx.resolve("src/c.pyc").is_err());
        assert!(ctx.resolve("../x").is_err());
        assert!(ctx.host_path("out").is_err());
        let names: Vec<String> = ctx
            .walk("src")
            .unwrap()
            .into_iter()
            .map(|e| e.rel)
            .collect();
        assert_eq!(names, vec!["src", "src/a.txt", "src/b.txt"]);
        let before = ctx.checksum(&["src".into()]).unwrap();
        std::fs::write(d.path().join("src/c.pyc"), "changed").unwrap();
        assert_eq!(before, ctx.checksum(&["src".into()]).unwrap());
        std::fs::write(d.path().join("src/a.txt"), "changed").unwrap();
        assert_ne!(before, ctx.checksum(&["src".into()]).unwrap());
    }
}
