//! `ps` / `container ls`, with Docker's columns and template fields.

use std::io::Write;

use kujira_engine::container::list::{ContainerFilters, ContainerListing};
use kujira_engine::container::status::unix_of;
use kujira_engine::container::Container;
use kujira_engine::Engine;
use kujira_template::Value;

use crate::cli::PsArgs;
use crate::error::CliError;
use crate::format::human;
use crate::format::table::{row, Format};

const DEFAULT: &str =
    "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}";

pub fn run(engine: &Engine, args: &PsArgs) -> Result<(), CliError> {
    let format = match (&args.format, args.quiet) {
        (Some(f), false) if !f.is_empty() => f.clone(),
        (_, true) => "{{.ID}}".to_string(),
        _ if args.size => format!("{DEFAULT}\t{{{{.Size}}}}"),
        _ => DEFAULT.to_string(),
    };
    let sizes = format.contains(".Size");
    let format = Format::parse(&format)?;
    let filters = ContainerFilters::parse(&args.filter)?;
    let last = if args.latest {
        Some(1)
    } else {
        args.last.filter(|n| *n > 0).map(|n| n as usize)
    };
    let list = engine.list_containers(args.all, last, &filters, sizes)?;
    // NETWORKS names every network a container is on (by the store's names).
    let names: std::collections::HashMap<String, String> = engine
        .networks()?
        .into_iter()
        .map(|n| (n.id, n.name))
        .collect();
    let rows: Vec<Value> = list
        .iter()
        .map(|l| container_value(l, !args.no_trunc, &names))
        .collect();
    let mut out = std::io::stdout().lock();
    format.write(&mut out, &header(), rows)?;
    out.flush()?;
    Ok(())
}

/// `0.0.0.0:8001->80/tcp, 443/tcp` — published ports first, then exposed ones.
pub fn ports_text(c: &Container) -> String {
    let mut parts: Vec<String> = Vec::new();
    let running = c.is_running();
    let mut published = Vec::new();
    if running {
        for p in &c.config.ports {
            let ip = if p.host_ip.is_empty() {
                "0.0.0.0"
            } else {
                &p.host_ip
            };
            parts.push(format!(
                "{ip}:{}->{}/{}",
                p.host_port,
                p.container_port,
                p.proto.as_str()
            ));
            published.push(format!("{}/{}", p.container_port, p.proto.as_str()));
        }
    }
    for e in &c.config.exposed_ports() {
        if !published.contains(e) {
            parts.push(e.clone());
        }
    }
    parts.join(", ")
}

/// Docker's COMMAND: the path, then the arguments (single-quoted when they hold a
/// space), Go-quoted, cut to 20 characters unless `--no-trunc`.
pub fn command_text(c: &Container, trunc: bool) -> String {
    let mut cmd = c.config.path.clone();
    for a in &c.config.args {
        cmd.push(' ');
        if a.contains(' ') {
            cmd.push_str(&format!("'{a}'"));
        } else {
            cmd.push_str(a);
        }
    }
    let cmd = if trunc {
        human::ellipsis(&cmd, 20)
    } else {
        cmd
    };
    go_quote(&cmd)
}

/// Go's `strconv.Quote` for the characters a command line holds.
fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn container_value(
    l: &ContainerListing,
    trunc: bool,
    network_names: &std::collections::HashMap<String, String>,
) -> Value {
    let c = &l.container;
    let created = unix_of(&c.row.created);
    let id = if trunc {
        human::short_id(c.id())
    } else {
        c.id().to_string()
    };
    let size = match l.size {
        Some((rw, virt)) => format!("{} (virtual {})", human::size3(rw), human::size3(virt)),
        None => String::new(),
    };
    let labels = c
        .config
        .labels()
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",");
    let mounts = c
        .config
        .mounts
        .iter()
        .map(|m| {
            if m.name.is_empty() {
                m.source.clone()
            } else {
                m.name.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(",");
    let networks = if c.config.networks.is_empty() {
        match c.config.network() {
            "default" => "bridge".to_string(),
            other => other.to_string(),
        }
    } else {
        c.config
            .networks
            .iter()
            .filter_map(|s| network_names.get(&s.network_id).cloned())
            .collect::<Vec<_>>()
            .join(",")
    };
    row(vec![
        ("Command", command_text(c, trunc)),
        ("CreatedAt", human::go_time(created)),
        ("ID", id),
        ("Image", c.config.image().to_string()),
        ("Labels", labels),
        (
            "LocalVolumes",
            c.config
                .mounts
                .iter()
                .filter(|m| m.kind == "volume")
                .count()
                .to_string(),
        ),
        ("Mounts", mounts),
        ("Names", c.name().to_string()),
        ("Networks", networks.to_string()),
        ("Ports", ports_text(c)),
        ("RunningFor", human::since(created)),
        ("Size", size),
        ("State", c.status().to_string()),
        ("Status", l.status_text()),
    ])
}

fn header() -> Value {
    row(vec![
        ("Command", "COMMAND".into()),
        ("CreatedAt", "CREATED AT".into()),
        ("ID", "CONTAINER ID".into()),
        ("Image", "IMAGE".into()),
        ("Labels", "LABELS".into()),
        ("LocalVolumes", "LOCAL VOLUMES".into()),
        ("Mounts", "MOUNTS".into()),
        ("Names", "NAMES".into()),
        ("Networks", "NETWORKS".into()),
        ("Ports", "PORTS".into()),
        ("RunningFor", "CREATED".into()),
        ("Size", "SIZE".into()),
        ("State", "STATE".into()),
        ("Status", "STATUS".into()),
    ])
}
