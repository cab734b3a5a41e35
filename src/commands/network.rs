//! `network create/ls/inspect/rm/prune/connect/disconnect`.

use std::collections::BTreeMap;
use std::io::Write;

use kujira_engine::network::{group_filters, CreateNetwork};
use kujira_engine::Engine;

use crate::cli::{
    NetworkCommand, NetworkConnectArgs, NetworkCreateArgs, NetworkDisconnectArgs,
    NetworkInspectArgs, NetworkLsArgs, NetworkPruneArgs, NetworkRmArgs,
};
use crate::error::CliError;
use crate::format::table::{row, Format};

pub fn run(engine: &Engine, command: NetworkCommand) -> Result<(), CliError> {
    match command {
        NetworkCommand::Create(a) => create(engine, &a),
        NetworkCommand::Ls(a) => ls(engine, &a),
        NetworkCommand::Inspect(a) => inspect(engine, &a),
        NetworkCommand::Rm(a) => rm(engine, &a),
        NetworkCommand::Prune(a) => prune(engine, &a),
        NetworkCommand::Connect(a) => connect(engine, &a),
        NetworkCommand::Disconnect(a) => disconnect(engine, &a),
    }
}

/// `KEY=VALUE` list flags (`--opt`, `--label`; a bare key has an empty value).
fn key_values(flags: &[String]) -> BTreeMap<String, String> {
    flags
        .iter()
        .map(|f| match f.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (f.clone(), String::new()),
        })
        .collect()
}

fn create(engine: &Engine, a: &NetworkCreateArgs) -> Result<(), CliError> {
    let one = |v: &[String], what: &str| -> Result<Option<String>, CliError> {
        match v {
            [] => Ok(None),
            [x] => Ok(Some(x.clone())),
            _ => Err(CliError::new(
                1,
                format!("Error response from daemon: kujira networks take one {what} (IPv4)"),
            )),
        }
    };
    if a.subnet.is_empty() && (!a.gateway.is_empty() || !a.ip_range.is_empty()) {
        return Err(CliError::new(
            1,
            "Error response from daemon: every ip-range or gateway must have a corresponding subnet",
        ));
    }
    let req = CreateNetwork {
        name: a.name.clone(),
        driver: a.driver.clone(),
        subnet: one(&a.subnet, "subnet")?,
        gateway: one(&a.gateway, "gateway")?,
        ip_range: one(&a.ip_range, "ip-range")?,
        internal: a.internal,
        attachable: a.attachable,
        enable_ipv6: a.ipv6,
        options: key_values(&a.opt),
        labels: key_values(&a.label),
    };
    let n = engine.create_network(&req)?;
    println!("{}", n.id);
    Ok(())
}

fn ls(engine: &Engine, a: &NetworkLsArgs) -> Result<(), CliError> {
    let filters = group_filters(&a.filter)?;
    let format = match (&a.format, a.quiet) {
        (_, true) => "{{.ID}}",
        (Some(f), false) if !f.is_empty() => f.as_str(),
        _ => "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}",
    };
    let format = Format::parse(format)?;
    let _ = engine.sweep_endpoints();
    let mut networks = engine.networks()?;
    networks.sort_by(|x, y| x.name.cmp(&y.name));
    let mut rows = Vec::new();
    for n in networks {
        if !engine.network_matches(&n, &filters)? {
            continue;
        }
        let id = if a.no_trunc {
            n.id.clone()
        } else {
            n.id[..12].to_string()
        };
        let labels = n
            .config
            .labels
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(",");
        rows.push(row(vec![
            ("ID", id),
            ("Name", n.name.clone()),
            ("Driver", n.config.driver.clone()),
            ("Scope", "local".into()),
            ("IPv4", "true".into()),
            ("IPv6", n.config.enable_ipv6.to_string()),
            ("Internal", n.config.internal.to_string()),
            ("Labels", labels),
            ("CreatedAt", n.created.clone()),
        ]));
    }
    let header = row(vec![
        ("ID", "NETWORK ID".into()),
        ("Name", "NAME".into()),
        ("Driver", "DRIVER".into()),
        ("Scope", "SCOPE".into()),
        ("IPv4", "IPV4".into()),
        ("IPv6", "IPV6".into()),
        ("Internal", "INTERNAL".into()),
        ("Labels", "LABELS".into()),
        ("CreatedAt", "CREATED AT".into()),
    ]);
    let mut out = std::io::stdout().lock();
    format.write(&mut out, &header, rows)?;
    Ok(())
}

fn inspect(engine: &Engine, a: &NetworkInspectArgs) -> Result<(), CliError> {
    let _ = engine.sweep_endpoints();
    let mut docs = Vec::new();
    let mut errors = Vec::new();
    for name in &a.names {
        match engine
            .find_network(name)
            .and_then(|n| engine.inspect_network(&n))
        {
            Ok(d) => docs.push(d),
            Err(e) => errors.push(CliError::from(e).message),
        }
    }
    super::inspect::print_docs(
        &docs,
        a.format.as_deref(),
        &["Labels", "Options", "Containers"],
    )?;
    if errors.is_empty() {
        Ok(())
    } else {
        Err(CliError::new(1, errors.join("\n")))
    }
}

fn rm(engine: &Engine, a: &NetworkRmArgs) -> Result<(), CliError> {
    let mut errors = Vec::new();
    for name in &a.names {
        match engine
            .find_network(name)
            .and_then(|n| engine.remove_network(&n))
        {
            Ok(()) => println!("{name}"),
            Err(kujira_engine::EngineError::NoSuchNetwork(_)) if a.force => {}
            Err(e) => errors.push(CliError::from(e).message),
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(CliError::new(1, errors.join("\n")))
    }
}

fn prune(engine: &Engine, a: &NetworkPruneArgs) -> Result<(), CliError> {
    if !a.force
        && !super::confirm(
            "WARNING! This will remove all custom networks not used by at least one container.",
        )
    {
        return Ok(());
    }
    let gone = engine.prune_networks(&group_filters(&a.filter)?)?;
    let mut out = std::io::stdout().lock();
    if !gone.is_empty() {
        writeln!(out, "Deleted Networks:")?;
        for n in &gone {
            writeln!(out, "{n}")?;
        }
    }
    Ok(())
}

fn connect(engine: &Engine, a: &NetworkConnectArgs) -> Result<(), CliError> {
    let n = engine.find_network(&a.network)?;
    let c = engine.find_container(&a.container)?;
    engine.connect_network(&n, &c, a.alias.clone(), a.ip.clone())?;
    Ok(())
}

fn disconnect(engine: &Engine, a: &NetworkDisconnectArgs) -> Result<(), CliError> {
    let n = engine.find_network(&a.network)?;
    let c = engine.find_container(&a.container)?;
    engine.disconnect_network(&n, &c)?;
    Ok(())
}
