//! One handler per command; each turns parsed flags into engine calls and prints the
//! result the way Docker does.

mod build;
mod container;
mod cp;
mod create_body;
mod df;
mod events;
mod exec;
mod history;
mod images;
mod import;
mod info;
mod inspect;
mod load;
mod login;
mod network;
mod prune;
mod ps;
mod pull;
mod push;
mod rmi;
mod run;
mod save;
mod search;
mod stats;
mod system;
mod tag;
mod terminal;
mod volume;

use std::path::Path;

use kujira_engine::Engine;

use crate::cli::{
    BuilderCommand, Command, ContainerCommand, ImageCommand, ManifestCommand, SystemCommand,
    VolumeCommand,
};
use crate::error::CliError;

pub fn dispatch(root: &Path, command: Command) -> Result<(), CliError> {
    if let Command::Version(args) = &command {
        return info::version(args);
    }
    if let Command::Serve(a) = &command {
        return kujira_api::serve(kujira_api::ServeOptions {
            root: root.to_path_buf(),
            hosts: a.host.clone(),
            group: a.group.clone(),
            debug: a.debug,
            tls: tls_files(a),
        })
        .map_err(|e| CliError::new(1, e.to_string()));
    }
    let engine = Engine::open(root)?;
    if let Command::ContainerMonitor(a) = &command {
        std::process::exit(engine.run_monitor(&a.id, a.attach, a.sync_fd));
    }
    match command {
        Command::Run(a)
        | Command::Container {
            command: ContainerCommand::Run(a),
        } => run::run(&engine, &a),
        Command::Create(a)
        | Command::Container {
            command: ContainerCommand::Create(a),
        } => run::create_cmd(&engine, &a),
        Command::Start(a)
        | Command::Container {
            command: ContainerCommand::Start(a),
        } => run::start(&engine, &a),
        Command::Stop(a)
        | Command::Container {
            command: ContainerCommand::Stop(a),
        } => container::stop(&engine, &a),
        Command::Restart(a)
        | Command::Container {
            command: ContainerCommand::Restart(a),
        } => container::restart(&engine, &a),
        Command::Kill(a)
        | Command::Container {
            command: ContainerCommand::Kill(a),
        } => container::kill(&engine, &a),
        Command::Pause(a)
        | Command::Container {
            command: ContainerCommand::Pause(a),
        } => container::pause(&engine, &a),
        Command::Unpause(a)
        | Command::Container {
            command: ContainerCommand::Unpause(a),
        } => container::unpause(&engine, &a),
        Command::Rm(a)
        | Command::Container {
            command: ContainerCommand::Rm(a),
        } => container::rm(&engine, &a),
        Command::Ps(a)
        | Command::Container {
            command: ContainerCommand::Ls(a),
        } => ps::run(&engine, &a),
        Command::Logs(a)
        | Command::Container {
            command: ContainerCommand::Logs(a),
        } => container::logs(&engine, &a),
        Command::Exec(a)
        | Command::Container {
            command: ContainerCommand::Exec(a),
        } => exec::exec(&engine, &a),
        Command::Wait(a)
        | Command::Container {
            command: ContainerCommand::Wait(a),
        } => container::wait(&engine, &a),
        Command::Commit(a)
        | Command::Container {
            command: ContainerCommand::Commit(a),
        } => container::commit(&engine, &a),
        Command::Diff(a)
        | Command::Container {
            command: ContainerCommand::Diff(a),
        } => container::diff(&engine, &a),
        Command::Export(a)
        | Command::Container {
            command: ContainerCommand::Export(a),
        } => cp::export(&engine, &a),
        Command::Port(a)
        | Command::Container {
            command: ContainerCommand::Port(a),
        } => container::port(&engine, &a),
        Command::Rename(a)
        | Command::Container {
            command: ContainerCommand::Rename(a),
        } => container::rename(&engine, &a),
        Command::Update(a)
        | Command::Container {
            command: ContainerCommand::Update(a),
        } => container::update(&engine, &a),
        Command::Top(a)
        | Command::Container {
            command: ContainerCommand::Top(a),
        } => container::top(&engine, &a),
        Command::Stats(a)
        | Command::Container {
            command: ContainerCommand::Stats(a),
        } => stats::run(&engine, &a),
        Command::Attach(a)
        | Command::Container {
            command: ContainerCommand::Attach(a),
        } => run::attach(&engine, &a),
        Command::Cp(a)
        | Command::Container {
            command: ContainerCommand::Cp(a),
        } => cp::run(&engine, &a),
        Command::Container {
            command: ContainerCommand::Inspect(a),
        } => inspect::run_container(&engine, &a),
        Command::Container {
            command: ContainerCommand::Prune(a),
        } => container::prune(&engine, &a),
        Command::Network { command } => network::run(&engine, command),
        Command::Volume {
            command: VolumeCommand::Create(a),
        } => volume::create(&engine, &a),
        Command::Volume {
            command: VolumeCommand::Ls(a),
        } => volume::ls(&engine, &a),
        Command::Volume {
            command: VolumeCommand::Inspect(a),
        } => volume::inspect(&engine, &a),
        Command::Volume {
            command: VolumeCommand::Rm(a),
        } => volume::rm(&engine, &a),
        Command::Volume {
            command: VolumeCommand::Prune(a),
        } => volume::prune(&engine, &a),
        Command::ContainerMonitor(_) => Ok(()),
        Command::Images(a)
        | Command::Image {
            command: ImageCommand::Ls(a),
        } => images::run(&engine, &a),
        Command::Inspect(a) => inspect::run(&engine, &a),
        Command::Image {
            command: ImageCommand::Inspect(a),
        } => inspect::run_image(&engine, &a),
        Command::History(a)
        | Command::Image {
            command: ImageCommand::History(a),
        } => history::run(&engine, &a),
        Command::Rmi(a)
        | Command::Image {
            command: ImageCommand::Rm(a),
        } => rmi::run(&engine, &a),
        Command::Image {
            command: ImageCommand::Prune(a),
        } => prune::run(&engine, &a),
        Command::Load(a)
        | Command::Image {
            command: ImageCommand::Load(a),
        } => load::run(&engine, &a),
        Command::Save(a)
        | Command::Image {
            command: ImageCommand::Save(a),
        } => save::run(&engine, &a),
        Command::Import(a)
        | Command::Image {
            command: ImageCommand::Import(a),
        } => import::run(&engine, &a),
        Command::Tag(a)
        | Command::Image {
            command: ImageCommand::Tag(a),
        } => tag::run(&engine, &a),
        Command::Pull(a)
        | Command::Image {
            command: ImageCommand::Pull(a),
        } => pull::run(&engine, &a),
        Command::Push(a)
        | Command::Image {
            command: ImageCommand::Push(a),
        } => push::run(&engine, &a),
        Command::Login(a) => login::login(&engine, &a),
        Command::Search(a) => search::run(&engine, &a),
        Command::Manifest {
            command: ManifestCommand::Inspect(a),
        } => search::manifest_inspect(&engine, &a),
        Command::Logout(a) => login::logout(&engine, &a),
        Command::System {
            command: SystemCommand::Df(a),
        } => df::run(&engine, &a),
        Command::System {
            command: SystemCommand::Prune(a),
        } => system::prune(&engine, &a),
        Command::System {
            command: SystemCommand::Check(a),
        } => system::check(&engine, &a),
        Command::Events(a)
        | Command::System {
            command: SystemCommand::Events(a),
        } => events::run(&engine, &a),
        Command::Info(a)
        | Command::System {
            command: SystemCommand::Info(a),
        } => info::run(&engine, &a),
        Command::Build(a)
        | Command::Image {
            command: ImageCommand::Build(a),
        }
        | Command::Builder {
            command: BuilderCommand::Build(a),
        }
        | Command::Buildx {
            command: BuilderCommand::Build(a),
        } => build::run(&engine, &a),
        Command::Builder {
            command: BuilderCommand::Prune(a),
        }
        | Command::Buildx {
            command: BuilderCommand::Prune(a),
        } => build::prune(&engine, &a),
        Command::Version(_) | Command::Serve(_) => Ok(()),
    }
}

/// Asks on standard output and reads the answer from standard input, as Docker's
/// prompts do; anything but y/Y (including no input at all) is a no.
/// `serve`'s TLS files, dockerd's defaults under `~/.docker` where not given.
fn tls_files(a: &crate::cli::ServeArgs) -> Option<kujira_api::tls::TlsFiles> {
    if !a.tls && !a.tlsverify {
        return None;
    }
    let dir = std::env::var_os("DOCKER_CERT_PATH")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/root".into()))
                .join(".docker")
        });
    Some(kujira_api::tls::TlsFiles {
        ca: a.tlscacert.clone().unwrap_or_else(|| dir.join("ca.pem")),
        cert: a.tlscert.clone().unwrap_or_else(|| dir.join("cert.pem")),
        key: a.tlskey.clone().unwrap_or_else(|| dir.join("key.pem")),
        verify: a.tlsverify,
    })
}

pub fn confirm(warning: &str) -> bool {
    use std::io::Write;
    print!("{warning}\nAre you sure you want to continue? [y/N] ");
    let _ = std::io::stdout().flush();
    let mut answer = String::new();
    if std::io::stdin().read_line(&mut answer).is_err() {
        return false;
    }
    matches!(answer.trim(), "y" | "Y")
}
