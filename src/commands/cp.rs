//! `cp CONTAINER:SRC DEST|-` and `cp SRC|- CONTAINER:DEST`, with Docker's rules for
//! where things land.

use std::io::Write;
use std::path::{Path, PathBuf};

use kujira_engine::Engine;

use crate::cli::CpArgs;
use crate::error::CliError;

/// `name:path` is a container's path; anything with a `/` before the first `:` (or
/// no `:` at all) is the host's, as in Docker.
fn split_container(arg: &str) -> Option<(&str, &str)> {
    let (c, p) = arg.split_once(':')?;
    if c.is_empty() || c.contains('/') {
        return None;
    }
    Some((c, p))
}

fn io_err(what: &str, e: std::io::Error) -> CliError {
    CliError::new(1, format!("Error: {what}: {e}"))
}

pub fn run(engine: &Engine, args: &CpArgs) -> Result<(), CliError> {
    match (split_container(&args.src), split_container(&args.dest)) {
        (Some((name, src)), None) => from_container(engine, name, src, &args.dest, args.archive),
        (None, Some((name, dest))) => {
            into_container(engine, &args.src, name, dest, args.follow_link)
        }
        (Some(_), Some(_)) => Err(CliError::new(
            1,
            "copying between containers is not supported",
        )),
        (None, None) => Err(CliError::new(
            1,
            "must specify at least one container source",
        )),
    }
}

fn from_container(
    engine: &Engine,
    name: &str,
    src: &str,
    dest: &str,
    archive: bool,
) -> Result<(), CliError> {
    let c = engine.find_container(name)?;
    if dest == "-" {
        let out = std::io::stdout().lock();
        engine.copy_from_container(&c, src, out)?;
        return Ok(());
    }
    let dest = PathBuf::from(dest);
    let into_dir = dest.is_dir();
    let parent = if into_dir {
        dest.clone()
    } else {
        let p = dest
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        if !p.is_dir() {
            return Err(CliError::new(
                1,
                format!(
                    "Error: destination directory \"{}\" must exist",
                    p.display()
                ),
            ));
        }
        p.to_path_buf()
    };
    // Unpacked next to the destination first, then moved into place under its name.
    let stage = tempfile::Builder::new()
        .prefix(".kujira-cp.")
        .tempdir_in(&parent)
        .map_err(|e| io_err("preparing the copy", e))?;
    let (reader, writer) = std::io::pipe().map_err(|e| io_err("preparing the copy", e))?;
    let stage_path = stage.path().to_path_buf();
    let unpacker = std::thread::spawn(move || {
        let mut ar = tar::Archive::new(reader);
        ar.set_preserve_permissions(true);
        ar.set_preserve_ownerships(archive);
        ar.set_overwrite(true);
        ar.unpack(&stage_path)
    });
    let copied = engine.copy_from_container(&c, src, writer);
    let unpacked = unpacker
        .join()
        .unwrap_or_else(|_| Err(std::io::Error::other("unpacker panicked")));
    copied?;
    unpacked.map_err(|e| io_err("unpacking", e))?;
    let contents_only = src.ends_with("/.");
    let mut entries: Vec<PathBuf> = std::fs::read_dir(stage.path())
        .map_err(|e| io_err("reading the copy", e))?
        .flatten()
        .map(|e| e.path())
        .collect();
    entries.sort();
    if contents_only {
        std::fs::create_dir_all(&dest).map_err(|e| io_err("creating the destination", e))?;
        for e in entries {
            let target = dest.join(e.file_name().unwrap_or_default());
            replace(&e, &target)?;
        }
    } else if let Some(top) = entries.first() {
        let target = if into_dir {
            dest.join(top.file_name().unwrap_or_default())
        } else {
            dest.clone()
        };
        replace(top, &target)?;
    }
    Ok(())
}

/// Moves `from` to `to`, replacing a file or an empty directory there; merging into
/// an existing directory.
fn replace(from: &Path, to: &Path) -> Result<(), CliError> {
    if to.is_dir() && from.is_dir() {
        for e in std::fs::read_dir(from)
            .map_err(|e| io_err("reading the copy", e))?
            .flatten()
        {
            replace(&e.path(), &to.join(e.file_name()))?;
        }
        return Ok(());
    }
    if to.is_dir() {
        return Err(CliError::new(
            1,
            format!(
                "Error: cannot overwrite directory \"{}\" with non-directory",
                to.display()
            ),
        ));
    }
    std::fs::rename(from, to).map_err(|e| io_err(&format!("writing {}", to.display()), e))
}

fn into_container(
    engine: &Engine,
    src: &str,
    name: &str,
    dest: &str,
    follow: bool,
) -> Result<(), CliError> {
    let c = engine.find_container(name)?;
    if src == "-" {
        let stdin = std::io::stdin().lock();
        engine.copy_into_container(&c, dest, stdin)?;
        return Ok(());
    }
    let src_path = Path::new(src);
    let meta = if follow {
        std::fs::metadata(src_path)
    } else {
        std::fs::symlink_metadata(src_path)
    };
    let meta =
        meta.map_err(|_| CliError::new(1, format!("lstat {src}: no such file or directory")))?;
    let (dir, rename) = engine.copy_target(&c, dest)?;
    let contents_only = src.ends_with("/.");
    let top = rename.unwrap_or_else(|| {
        src_path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| ".".into())
    });
    let (reader, writer) = std::io::pipe().map_err(|e| io_err("preparing the copy", e))?;
    let src_owned = src_path.to_path_buf();
    let packer = std::thread::spawn(move || -> std::io::Result<()> {
        let mut b = tar::Builder::new(writer);
        b.follow_symlinks(follow);
        if meta.is_dir() {
            let name = if contents_only { ".".to_string() } else { top };
            b.append_dir_all(name, &src_owned)?;
        } else {
            b.append_path_with_name(&src_owned, top)?;
        }
        b.into_inner()?.flush()
    });
    let copied = engine.copy_into_container(&c, &dir, reader);
    let packed = packer
        .join()
        .unwrap_or_else(|_| Err(std::io::Error::other("packer panicked")));
    copied?;
    packed.map_err(|e| io_err(&format!("reading {src}"), e))?;
    Ok(())
}

/// `export [-o FILE] CONTAINER`: the container's filesystem as one tar, to a file
/// (written under a temporary name, then renamed) or to stdout.
pub fn export(engine: &Engine, args: &crate::cli::ExportArgs) -> Result<(), CliError> {
    let c = engine.find_container(&args.container)?;
    match &args.output {
        Some(path) => {
            let target = std::path::Path::new(path);
            let dir = target
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
                .unwrap_or(std::path::Path::new("."));
            let mut tmp = tempfile::NamedTempFile::new_in(dir)
                .map_err(|e| CliError::new(1, format!("failed to export container: {e}")))?;
            engine.export_container(&c, std::io::BufWriter::new(tmp.as_file_mut()))?;
            tmp.persist(target)
                .map_err(|e| CliError::new(1, format!("failed to export container: {e}")))?;
        }
        None => {
            if std::io::IsTerminal::is_terminal(&std::io::stdout()) {
                return Err(CliError::new(
                    1,
                    "cowardly refusing to save to a terminal. Use the -o flag or redirect",
                ));
            }
            engine.export_container(&c, std::io::stdout().lock())?;
        }
    }
    Ok(())
}
