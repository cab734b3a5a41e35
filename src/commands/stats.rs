//! `stats`: Docker's table of CPU %, memory, network and block I/O and pids per
//! container, from two readings a second apart; streamed (redrawn every second) unless
//! `--no-stream`.

use std::collections::HashMap;
use std::io::Write;
use std::time::Duration;

use kujira_engine::container::Container;
use kujira_engine::Engine;
use kujira_runtime::stats::Sample;
use kujira_template::Value;

use crate::cli::StatsArgs;
use crate::error::CliError;
use crate::format::human;
use crate::format::table::{row, Format};

const DEFAULT_FORMAT: &str =
    "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}";

/// How long between two readings (Docker's daemon samples every second).
const INTERVAL: Duration = Duration::from_secs(1);

fn header() -> Value {
    row(vec![
        ("Container", "CONTAINER".into()),
        ("ID", "CONTAINER ID".into()),
        ("Name", "NAME".into()),
        ("CPUPerc", "CPU %".into()),
        ("MemUsage", "MEM USAGE / LIMIT".into()),
        ("MemPerc", "MEM %".into()),
        ("NetIO", "NET I/O".into()),
        ("BlockIO", "BLOCK I/O".into()),
        ("PIDs", "PIDS".into()),
    ])
}

/// The containers to show: the named ones, else the running ones (all with `-a`).
fn select(engine: &Engine, args: &StatsArgs) -> Result<Vec<(String, Container)>, CliError> {
    if args.containers.is_empty() {
        return Ok(engine
            .containers()?
            .into_iter()
            .filter(|c| args.all || c.is_running())
            .map(|c| (c.id()[..12].to_string(), c))
            .collect());
    }
    args.containers
        .iter()
        .map(|n| Ok((n.clone(), engine.find_container(n)?)))
        .collect()
}

fn stats_row(
    given: &str,
    c: &Container,
    now: Option<&Sample>,
    before: Option<&Sample>,
    no_trunc: bool,
) -> Value {
    let id = if no_trunc {
        c.id().to_string()
    } else {
        c.id()[..12].to_string()
    };
    let pair = |a: u64, b: u64, f: fn(u64) -> String| format!("{} / {}", f(a), f(b));
    let decimal = |v: u64| human::size_with_precision(v as f64, 3);
    let s = now.copied().unwrap_or_default();
    let cpu = match (now, before) {
        (Some(n), Some(b)) => n.cpu_percent(b),
        _ => 0.0,
    };
    row(vec![
        ("Container", given.to_string()),
        ("ID", id),
        ("Name", c.name().to_string()),
        ("CPUPerc", format!("{cpu:.2}%")),
        (
            "MemUsage",
            pair(s.memory, s.memory_limit, human::bytes_size),
        ),
        ("MemPerc", format!("{:.2}%", s.memory_percent())),
        ("NetIO", pair(s.net_rx, s.net_tx, decimal)),
        ("BlockIO", pair(s.block_read, s.block_write, decimal)),
        ("PIDs", s.pids.to_string()),
    ])
}

pub fn run(engine: &Engine, args: &StatsArgs) -> Result<(), CliError> {
    let format = Format::parse(args.format.as_deref().unwrap_or(DEFAULT_FORMAT))?;
    let mut previous: HashMap<String, Sample> = HashMap::new();
    let mut first = true;
    loop {
        let containers = select(engine, args)?;
        if first {
            // CPU % needs two readings: take the first one a moment before.
            for (_, c) in &containers {
                if let Some(s) = engine.container_sample(c) {
                    previous.insert(c.id().to_string(), s);
                }
            }
            std::thread::sleep(INTERVAL);
            first = false;
        }
        let mut rows = Vec::with_capacity(containers.len());
        let mut next = HashMap::new();
        for (given, c) in &containers {
            // A container read again from the store: it may have stopped meanwhile.
            let c = engine.find_container(c.id()).unwrap_or_else(|_| c.clone());
            let now = engine.container_sample(&c);
            rows.push(stats_row(
                given,
                &c,
                now.as_ref(),
                previous.get(c.id()),
                args.no_trunc,
            ));
            if let Some(n) = now {
                next.insert(c.id().to_string(), n);
            }
        }
        previous = next;
        let mut out = std::io::stdout().lock();
        if !args.no_stream {
            // Docker redraws the whole table in place.
            write!(out, "\x1b[2J\x1b[H")?;
        }
        format.write(&mut out, &header(), rows)?;
        out.flush()?;
        if args.no_stream {
            return Ok(());
        }
        std::thread::sleep(INTERVAL);
    }
}
