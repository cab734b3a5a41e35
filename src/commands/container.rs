//! The container commands that act on existing containers: stop, restart, kill,
//! pause, unpause, rm, wait, logs, exec, commit, diff, port, rename, top, prune.

use std::io::Write;

use kujira_engine::container::commit::CommitOptions;
use kujira_engine::container::logs::LogOptions;
use kujira_engine::container::start::Attach;
use kujira_engine::Engine;

use crate::cli::{
    CommitArgs, ContainerPruneArgs, ContainersArgs, KillArgs, LogsArgs, OneContainerArgs, PortArgs,
    RenameArgs, RmArgs, StopArgs, TopArgs, UpdateArgs,
};
use crate::error::CliError;
use crate::format::human;

/// Runs `op` on each named container, printing the name on success and Docker's
/// error lines (exit 1) for the others.
fn each(
    engine: &Engine,
    names: &[String],
    op: impl Fn(&kujira_engine::container::Container) -> Result<(), kujira_engine::EngineError>,
) -> Result<(), CliError> {
    let mut errors = Vec::new();
    for name in names {
        match engine.find_container(name).and_then(|c| op(&c)) {
            Ok(()) => println!("{name}"),
            Err(e) => errors.push(CliError::from(e).message),
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(CliError::new(1, errors.join("\n")))
    }
}

/// As [`each`], but every container at once (as Docker stops them), each thread with
/// its own connection to the store; results print in the order given.
fn each_parallel(
    engine: &Engine,
    names: &[String],
    op: impl Fn(&Engine, &kujira_engine::container::Container) -> Result<(), kujira_engine::EngineError>
        + Sync,
) -> Result<(), CliError> {
    if names.len() == 1 {
        return each(engine, names, |c| op(engine, c));
    }
    let root = engine.root();
    let results: Vec<Result<(), String>> = std::thread::scope(|s| {
        let handles: Vec<_> = names
            .iter()
            .map(|name| {
                let (root, op) = (&root, &op);
                s.spawn(move || {
                    Engine::open(root)
                        .and_then(|e| e.find_container(name).and_then(|c| op(&e, &c)))
                        .map_err(|e| CliError::from(e).message)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err("internal error".into())))
            .collect()
    });
    let mut errors = Vec::new();
    for (name, r) in names.iter().zip(results) {
        match r {
            Ok(()) => println!("{name}"),
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(CliError::new(1, errors.join("\n")))
    }
}

pub fn stop(engine: &Engine, args: &StopArgs) -> Result<(), CliError> {
    each_parallel(engine, &args.containers, |e, c| {
        e.stop_container(c, args.time, args.signal.as_deref())
    })
}

pub fn restart(engine: &Engine, args: &StopArgs) -> Result<(), CliError> {
    each_parallel(engine, &args.containers, |e, c| {
        e.stop_container(c, args.time, args.signal.as_deref())?;
        let fresh = e.find_container(c.id())?;
        e.start_container(&fresh, Attach::No).map(drop)
    })
}

pub fn kill(engine: &Engine, args: &KillArgs) -> Result<(), CliError> {
    each(engine, &args.containers, |c| {
        engine.kill_container(c, &args.signal)
    })
}

pub fn pause(engine: &Engine, args: &ContainersArgs) -> Result<(), CliError> {
    each(engine, &args.containers, |c| engine.pause_container(c))
}

pub fn unpause(engine: &Engine, args: &ContainersArgs) -> Result<(), CliError> {
    each(engine, &args.containers, |c| engine.unpause_container(c))
}

pub fn rm(engine: &Engine, args: &RmArgs) -> Result<(), CliError> {
    each_parallel(engine, &args.containers, |e, c| {
        e.remove_container(c, args.force, args.volumes)
    })
}

pub fn wait(engine: &Engine, args: &ContainersArgs) -> Result<(), CliError> {
    let mut errors = Vec::new();
    for name in &args.containers {
        match engine.wait_container(name) {
            Ok(code) => println!("{code}"),
            Err(e) => errors.push(CliError::from(e).message),
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(CliError::new(1, errors.join("\n")))
    }
}

/// `--since`/`--until`: RFC 3339, Unix seconds, or a duration before now (`10m`).
pub(super) fn parse_time(s: &str) -> Result<f64, CliError> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Ok(t.timestamp() as f64 + t.timestamp_subsec_nanos() as f64 / 1e9);
    }
    if let Ok(v) = s.parse::<f64>() {
        return Ok(v);
    }
    let now = chrono::Utc::now().timestamp_millis() as f64 / 1000.0;
    let (num, unit) = s.split_at(s.trim_end_matches(|c: char| c.is_ascii_alphabetic()).len());
    let n: f64 = num.parse().map_err(|_| {
        CliError::new(
            1,
            format!(
                "invalid value for \"since\": failed to parse value as time or duration: \"{s}\""
            ),
        )
    })?;
    let secs = match unit {
        "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        "ms" => n / 1000.0,
        _ => {
            return Err(CliError::new(
                1,
                format!(
                "invalid value for \"since\": failed to parse value as time or duration: \"{s}\""
            ),
            ))
        }
    };
    Ok(now - secs)
}

pub fn logs(engine: &Engine, args: &LogsArgs) -> Result<(), CliError> {
    let c = engine.find_container(&args.container)?;
    let tail = match args.tail.as_str() {
        "all" | "" => None,
        n => match n.parse::<i64>() {
            Ok(v) if v >= 0 => Some(v as usize),
            _ => None,
        },
    };
    let opts = LogOptions {
        follow: args.follow,
        tail,
        since: args.since.as_deref().map(parse_time).transpose()?,
        until: args.until.as_deref().map(parse_time).transpose()?,
    };
    let ts = args.timestamps;
    engine.container_logs(&c, &opts, |e| {
        let r = if e.stream == "stderr" {
            let mut err = std::io::stderr().lock();
            if ts {
                let _ = write!(err, "{} ", e.time);
            }
            err.write_all(e.log.as_bytes())
        } else {
            let mut out = std::io::stdout().lock();
            if ts {
                let _ = write!(out, "{} ", e.time);
            }
            out.write_all(e.log.as_bytes()).and_then(|_| out.flush())
        };
        r.is_ok()
    })?;
    Ok(())
}

pub fn commit(engine: &Engine, args: &CommitArgs) -> Result<(), CliError> {
    let c = engine.find_container(&args.container)?;
    let r = engine.commit_container(
        &c,
        &CommitOptions {
            reference: args.reference.clone(),
            changes: args.change.clone(),
            message: args.message.clone(),
            author: args.author.clone(),
            pause: args.pause,
        },
    )?;
    println!("{}", r.id);
    Ok(())
}

pub fn diff(engine: &Engine, args: &OneContainerArgs) -> Result<(), CliError> {
    let c = engine.find_container(&args.container)?;
    let mut out = std::io::stdout().lock();
    for (kind, path) in engine.container_changes(&c)? {
        writeln!(out, "{} {path}", kind.letter())?;
    }
    Ok(())
}

pub fn port(engine: &Engine, args: &PortArgs) -> Result<(), CliError> {
    let c = engine.find_container(&args.container)?;
    let mut out = std::io::stdout().lock();
    let want = args.port.as_ref().map(|p| {
        if p.contains('/') {
            p.clone()
        } else {
            format!("{p}/tcp")
        }
    });
    let mut found = false;
    if c.is_running() {
        for p in &c.config.ports {
            let key = format!("{}/{}", p.container_port, p.proto.as_str());
            let ip = if p.host_ip.is_empty() {
                "0.0.0.0"
            } else {
                &p.host_ip
            };
            match &want {
                Some(w) if *w == key => writeln!(out, "{ip}:{}", p.host_port)?,
                Some(_) => continue,
                None => writeln!(out, "{key} -> {ip}:{}", p.host_port)?,
            }
            found = true;
        }
    }
    match want {
        Some(w) if !found => Err(CliError::new(
            1,
            format!(
                "Error: No public port '{w}' published for {}",
                args.container
            ),
        )),
        _ => Ok(()),
    }
}

pub fn rename(engine: &Engine, args: &RenameArgs) -> Result<(), CliError> {
    let c = engine.find_container(&args.container)?;
    engine.rename_container(&c, &args.new_name)?;
    Ok(())
}

/// `update`: resources and restart policy of each container, as `docker update`:
/// every container is tried, each name printed on success, the first error kept.
pub fn update(engine: &Engine, args: &UpdateArgs) -> Result<(), CliError> {
    let r = &args.resources;
    let limits = super::run::memory_limits(r)?;
    let restart = args
        .restart
        .as_deref()
        .map(kujira_engine::container::RestartPolicy::parse)
        .transpose()
        .map_err(|e| CliError::new(1, format!("Error response from daemon: {e}")))?;
    let body = bollard_stubs::models::ContainerUpdateBody {
        memory: limits.memory,
        memory_swap: limits.memory_swap,
        memory_reservation: limits.memory_reservation,
        nano_cpus: r.cpus.map(|c| (c * 1e9) as i64),
        cpu_shares: r.cpu_shares.map(|s| s as i64),
        pids_limit: r.pids_limit,
        restart_policy: restart.map(|p| p.to_api()),
        ..Default::default()
    };
    let mut failed = None;
    for name in &args.containers {
        let r = engine
            .find_container(name)
            .and_then(|c| engine.update_container(&c, &body));
        match r {
            Ok(()) => println!("{name}"),
            Err(e) => {
                let err = CliError::from(e);
                eprintln!("{}", err.message);
                failed = Some(CliError::silent(1));
            }
        }
    }
    failed.map_or(Ok(()), Err)
}

/// `top`: the host's `ps` over the container's processes (those in its cgroup).
pub fn top(engine: &Engine, args: &TopArgs) -> Result<(), CliError> {
    let c = engine.find_container(&args.container)?;
    let ps_args: Vec<String> = if args.ps_args.is_empty() {
        vec!["-f".into()]
    } else {
        args.ps_args.clone()
    };
    let top = engine.top(&c, &ps_args)?;
    let mut tw = tabwriter::TabWriter::new(Vec::new()).minwidth(7).padding(3);
    writeln!(tw, "{}", top.titles.join("\t"))?;
    for row in &top.processes {
        writeln!(tw, "{}", row.join("\t"))?;
    }
    let bytes = tw
        .into_inner()
        .map_err(|e| CliError::new(1, e.to_string()))?;
    std::io::stdout().lock().write_all(&bytes)?;
    Ok(())
}

pub fn prune(engine: &Engine, args: &ContainerPruneArgs) -> Result<(), CliError> {
    if !args.force && !super::confirm("WARNING! This will remove all stopped containers.") {
        return Ok(());
    }
    let (ids, bytes) = engine.prune_containers()?;
    if !ids.is_empty() {
        println!("Deleted Containers:");
        for id in &ids {
            println!("{id}");
        }
        println!();
    }
    println!("Total reclaimed space: {}", human::size(bytes));
    Ok(())
}
