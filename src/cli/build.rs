//! `build` and its aliases (`image build`, `buildx build`), and `builder prune`.

use clap::{Args, Subcommand};

#[derive(Args, Debug)]
pub struct BuildArgs {
    /// Name and optionally a tag in the "name:tag" format
    #[arg(short = 't', long = "tag", value_name = "list")]
    pub tags: Vec<String>,
    /// Name of the Dockerfile (default: "PATH/Dockerfile")
    #[arg(short = 'f', long = "file", value_name = "string")]
    pub file: Option<String>,
    /// Set the target build stage to build
    #[arg(long, value_name = "string")]
    pub target: Option<String>,
    /// Set build-time variables
    #[arg(long = "build-arg", value_name = "list")]
    pub build_args: Vec<String>,
    /// Do not use cache when building the image
    #[arg(long)]
    pub no_cache: bool,
    /// Always attempt to pull all referenced images
    #[arg(long)]
    pub pull: bool,
    /// Set platform if server is multi-platform capable
    #[arg(long, value_name = "string")]
    pub platform: Option<String>,
    /// Set metadata for an image
    #[arg(long = "label", value_name = "list")]
    pub labels: Vec<String>,
    /// Suppress the build output and print image ID on success
    #[arg(short, long)]
    pub quiet: bool,
    /// Write the image ID to the file
    #[arg(long, value_name = "string")]
    pub iidfile: Option<String>,
    /// Set type of progress output ("auto", "plain", "tty", "quiet")
    #[arg(long, default_value = "auto", value_name = "string")]
    pub progress: String,
    /// Set the networking mode for the RUN instructions during build
    #[arg(long, default_value = "default", value_name = "string")]
    pub network: String,
    /// Secret to expose to the build (format: "id=mysecret[,src=/local/secret]")
    #[arg(long = "secret", value_name = "stringArray")]
    pub secrets: Vec<String>,
    /// Remove intermediate containers after a successful build (always so)
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, hide = true)]
    pub rm: bool,
    /// Always remove intermediate containers (always so)
    #[arg(long, hide = true)]
    pub force_rm: bool,
    /// Build context: a directory, a tarball, or "-" (a Dockerfile or a tar on STDIN)
    #[arg(value_name = "PATH | URL | -")]
    pub context: String,
}

#[derive(Subcommand, Debug)]
pub enum BuilderCommand {
    /// Build an image from a Dockerfile
    Build(Box<BuildArgs>),
    /// Remove build cache
    Prune(super::PruneArgs),
}
