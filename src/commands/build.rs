//! `kujira build`: the context and Dockerfile gathered as the docker CLI does (a
//! directory, a tarball, or STDIN), the build run by the builder with BuildKit's plain
//! progress on standard error, and its errors shown with the Dockerfile lines they
//! name. `builder prune` empties the build cache.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use kujira_build::{BuildError, BuildOptions, DockerfileSource, Plain, Quiet, Tty};
use kujira_engine::Engine;
use kujira_runtime::NetworkMode;

use crate::cli::{BuildArgs, PruneArgs};
use crate::error::CliError;
use crate::format::human;

fn is_tar(head: &[u8]) -> bool {
    (head.len() >= 2 && head[0] == 0x1f && head[1] == 0x8b)
        || (head.len() >= 262 && &head[257..262] == b"ustar")
}

/// Unpacks a tar context (its first bytes already read into `head`) into `dir`.
fn unpack(head: Vec<u8>, rest: impl Read, dir: &Path) -> Result<(), CliError> {
    kujira_build::context::unpack_tar(std::io::Cursor::new(head).chain(rest), dir)
        .map_err(|e| CliError::new(1, format!("ERROR: unable to prepare context: {e}")))
}

fn read_head(r: &mut dyn Read) -> Result<Vec<u8>, CliError> {
    let mut head = vec![0u8; 512];
    let mut n = 0;
    while n < head.len() {
        match r.read(&mut head[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) => return Err(CliError::new(1, format!("ERROR: reading the context: {e}"))),
        }
    }
    head.truncate(n);
    Ok(head)
}

fn kv(list: &[String]) -> Vec<(String, Option<String>)> {
    list.iter()
        .map(|s| match s.split_once('=') {
            Some((k, v)) => (k.to_string(), Some(v.to_string())),
            None => (s.clone(), None),
        })
        .collect()
}

/// `--secret` values; an `env=` secret is written into `scratch` (a temporary
/// directory of its own, outside any context, removed after the build).
fn secrets(list: &[String], scratch: &Path) -> Result<BTreeMap<String, PathBuf>, CliError> {
    let mut out = BTreeMap::new();
    for s in list {
        let mut id = None;
        let mut src = None;
        for part in s.split(',') {
            match part.split_once('=') {
                Some(("id", v)) => id = Some(v.to_string()),
                Some(("src" | "source", v)) => src = Some(PathBuf::from(v)),
                Some(("env", v)) => {
                    // The docker CLI reads an env secret into the build itself.
                    let value = std::env::var(v).unwrap_or_default();
                    let f = scratch.join(format!("secret-{v}"));
                    std::fs::write(&f, value)
                        .map_err(|e| CliError::new(1, format!("ERROR: secret {v}: {e}")))?;
                    src = Some(f);
                }
                Some(("type", _)) => {}
                _ => {
                    return Err(CliError::new(
                        1,
                        format!("ERROR: unexpected key '{part}' in '{s}'"),
                    ))
                }
            }
        }
        let id =
            id.ok_or_else(|| CliError::new(1, format!("ERROR: secret {s}: id is required")))?;
        let src = src.unwrap_or_else(|| PathBuf::from(&id));
        out.insert(id, src);
    }
    Ok(out)
}

/// The Dockerfile lines an error names, as BuildKit shows them.
fn excerpt(text: &str, first: usize, last: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let from = first.saturating_sub(3).max(1);
    let to = (last + 2).min(lines.len());
    let mut out = String::from("--------------------\n");
    for n in from..=to {
        let l = lines.get(n - 1).copied().unwrap_or_default();
        let mark = if n >= first && n <= last {
            ">>>"
        } else {
            "   "
        };
        out.push_str(&format!(" {n:>3} | {mark} {l}\n"));
    }
    out.push_str("--------------------\n");
    out
}

pub fn run(engine: &Engine, args: &BuildArgs) -> Result<(), CliError> {
    let scratch = tempfile::Builder::new()
        .prefix("kujira-build-")
        .tempdir()
        .map_err(|e| CliError::new(1, format!("ERROR: {e}")))?;
    let secret_dir = tempfile::Builder::new()
        .prefix("kujira-build-secrets-")
        .tempdir()
        .map_err(|e| CliError::new(1, format!("ERROR: {e}")))?;
    let mut stdin_dockerfile = None;
    let context: PathBuf = if args.context == "-" {
        let mut stdin = std::io::stdin().lock();
        let head = read_head(&mut stdin)?;
        if is_tar(&head) {
            unpack(head, stdin, scratch.path())?;
        } else {
            let mut text = head;
            stdin
                .read_to_end(&mut text)
                .map_err(|e| CliError::new(1, format!("ERROR: reading the Dockerfile: {e}")))?;
            stdin_dockerfile = Some(String::from_utf8_lossy(&text).to_string());
        }
        scratch.path().to_path_buf()
    } else if args.context.starts_with("http://")
        || args.context.starts_with("https://")
        || args.context.starts_with("git@")
    {
        return Err(CliError::new(
            1,
            format!(
                "ERROR: unable to prepare context: remote contexts are not supported: {}",
                args.context
            ),
        ));
    } else {
        let p = PathBuf::from(&args.context);
        match std::fs::metadata(&p) {
            Ok(m) if m.is_dir() => p,
            Ok(_) => {
                let mut f = std::fs::File::open(&p).map_err(|e| {
                    CliError::new(1, format!("ERROR: unable to prepare context: {e}"))
                })?;
                let head = read_head(&mut f)?;
                if !is_tar(&head) {
                    return Err(CliError::new(
                        1,
                        format!("ERROR: unable to prepare context: {}: not a directory or a tar archive", args.context),
                    ));
                }
                unpack(head, f, scratch.path())?;
                scratch.path().to_path_buf()
            }
            Err(_) => {
                return Err(CliError::new(
                    1,
                    format!(
                        "ERROR: unable to prepare context: path \"{}\" not found",
                        args.context
                    ),
                ))
            }
        }
    };
    let dockerfile = match (&args.file, stdin_dockerfile) {
        (_, Some(text)) => DockerfileSource::Text(text),
        (Some(f), None) if f == "-" => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|e| CliError::new(1, format!("ERROR: reading the Dockerfile: {e}")))?;
            DockerfileSource::Text(text)
        }
        (Some(f), None) => {
            let p = PathBuf::from(f);
            // As the docker CLI: relative to the working directory when it is there,
            // else to the context.
            if p.is_absolute() || p.exists() {
                DockerfileSource::Path(std::path::absolute(&p).unwrap_or(p))
            } else {
                DockerfileSource::Path(p)
            }
        }
        (None, None) => DockerfileSource::Path(PathBuf::from("Dockerfile")),
    };
    let network = match args.network.as_str() {
        "default" | "bridge" => NetworkMode::Private,
        "none" => NetworkMode::None,
        "host" => NetworkMode::Host,
        other => {
            return Err(CliError::new(
                1,
                format!("ERROR: network mode \"{other}\" not supported by buildkit"),
            ))
        }
    };
    let opts = BuildOptions {
        context,
        dockerfile,
        tags: args.tags.clone(),
        target: args.target.clone(),
        build_args: kv(&args.build_args),
        no_cache: args.no_cache,
        pull: args.pull,
        platform: args.platform.clone(),
        labels: kv(&args.labels)
            .into_iter()
            .map(|(k, v)| (k, v.unwrap_or_default()))
            .collect(),
        network,
        secrets: secrets(&args.secrets, secret_dir.path())?,
    };
    let quiet = args.quiet || args.progress == "quiet";
    if !matches!(
        args.progress.as_str(),
        "auto" | "plain" | "tty" | "quiet" | "rawjson"
    ) {
        return Err(CliError::new(
            1,
            format!("ERROR: invalid progress mode {}", args.progress),
        ));
    }
    let tty = args.progress == "tty"
        || (args.progress == "auto" && std::io::IsTerminal::is_terminal(&std::io::stderr()));
    let result = if quiet {
        kujira_build::build(engine, &opts, &Quiet)
    } else if tty {
        let view = Tty::new(std::io::stderr(), terminal_width());
        let done = std::sync::atomic::AtomicBool::new(false);
        let r = std::thread::scope(|scope| {
            scope.spawn(|| {
                while !done.load(std::sync::atomic::Ordering::Relaxed) {
                    std::thread::sleep(std::time::Duration::from_millis(100));
                    view.tick();
                }
            });
            let r = kujira_build::build(engine, &opts, &view);
            done.store(true, std::sync::atomic::Ordering::Relaxed);
            r
        });
        view.finish();
        r
    } else {
        let plain = Plain::new(std::io::stderr());
        plain_header();
        kujira_build::build(engine, &opts, &plain)
    };
    match result {
        Ok(built) => {
            if let Some(f) = &args.iidfile {
                std::fs::write(f, built.id.to_string())
                    .map_err(|e| CliError::new(1, format!("ERROR: writing {f}: {e}")))?;
            }
            if quiet {
                println!("{}", built.id);
            }
            Ok(())
        }
        Err((e, text)) => {
            let mut err = std::io::stderr().lock();
            if let (Some((first, last)), Some(text)) = (e.lines(), text) {
                let name = match &args.file {
                    Some(f) if f != "-" => Path::new(f)
                        .file_name()
                        .map(|n| n.to_string_lossy().to_string())
                        .unwrap_or_else(|| "Dockerfile".into()),
                    _ => "Dockerfile".into(),
                };
                let at = if first == last {
                    format!("{name}:{first}")
                } else {
                    format!("{name}:{first}-{last}")
                };
                let _ = write!(err, "{at}\n{}", excerpt(&text, first, last));
            }
            let message = match &e {
                BuildError::Parse { line, message, .. } => {
                    format!("failed to solve: dockerfile parse error on line {line}: {message}")
                }
                other => format!("failed to solve: {other}"),
            };
            Err(CliError::new(1, format!("ERROR: {message}")))
        }
    }
}

/// Standard error's terminal width (80 when it cannot be told).
fn terminal_width() -> usize {
    super::terminal::winsize(libc::STDERR_FILENO)
        .map(|w| w.ws_col as usize)
        .filter(|w| *w > 0)
        .unwrap_or(80)
}

fn plain_header() {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(
        err,
        "#0 building with \"default\" instance using kujira driver\n"
    );
}

pub fn prune(engine: &Engine, args: &PruneArgs) -> Result<(), CliError> {
    let mut until = None;
    for f in &args.filter {
        match f.split_once('=') {
            Some(("until", v)) => {
                let d = kujira_engine::duration::parse_go_duration(v)
                    .ok_or_else(|| CliError::new(1, format!("ERROR: invalid filter until={v}")))?;
                until = Some(chrono::Utc::now().timestamp() - d / 1_000_000_000);
            }
            _ => return Err(CliError::new(1, format!("ERROR: invalid filter {f}"))),
        }
    }
    if !args.force {
        let what = if args.all {
            "WARNING! This will remove all build cache."
        } else {
            "WARNING! This will remove all dangling build cache."
        };
        if !super::confirm(what) {
            return Ok(());
        }
    }
    let pruned = kujira_build::prune::prune(
        engine,
        &kujira_build::prune::PruneOptions {
            all: args.all,
            until,
        },
    )?;
    if !pruned.ids.is_empty() {
        println!("Deleted build cache objects:");
        for id in &pruned.ids {
            println!("{}", id.get(..25).unwrap_or(id));
        }
        println!();
    }
    println!("Total:\t{}", human::size(pruned.reclaimed));
    Ok(())
}
