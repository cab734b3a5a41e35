//! One handler per command; each turns parsed flags into engine calls and prints the
//! result the way Docker does.

mod df;
mod history;
mod images;
mod import;
mod info;
mod inspect;
mod load;
mod login;
mod prune;
mod pull;
mod push;
mod rmi;
mod save;
mod search;
mod system;
mod tag;

use std::path::Path;

use kujira_engine::Engine;

use crate::cli::{Command, ImageCommand, ManifestCommand, SystemCommand};
use crate::error::CliError;

pub fn dispatch(root: &Path, command: Command) -> Result<(), CliError> {
    if let Command::Version(args) = &command {
        return info::version(args);
    }
    let engine = Engine::open(root)?;
    match command {
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
        Command::Info(a)
        | Command::System {
            command: SystemCommand::Info(a),
        } => info::run(&engine, &a),
        Command::Version(_) => Ok(()),
    }
}

/// Asks on standard output and reads the answer from standard input, as Docker's
/// prompts do; anything but y/Y (including no input at all) is a no.
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
