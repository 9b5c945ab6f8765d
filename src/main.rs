//! The `quantpro` binary: the command line (serve, scan, fetch, indicators,
//! bench, demo-data) and nothing else; each command calls into the library.

use clap::{Parser, Subcommand};
use quantpro::server::{self, AppState, DataPaths};
use std::path::PathBuf;

#[derive(Parser)]
#[command(name = "quantpro", version, about = "Crypto market scanner and dashboard")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the dashboard (the default when no command is given).
    Serve(ServeArgs),
    /// Scan a data directory and write the master feed.
    Scan,
    /// Fetch candles from an exchange into the data directory.
    Fetch,
    /// Print the indicator series of one candle file as JSON.
    Indicators,
    /// Measure indicator and scan throughput.
    Bench,
}

#[derive(clap::Args, Default)]
struct ServeArgs {
    /// Directory of candle files.
    #[arg(long, env = "QUANTPRO_DATA_DIR", default_value = "data")]
    data_dir: PathBuf,
    /// Master feed to show (default: DATA_DIR/master_feed.json).
    #[arg(long, env = "QUANTPRO_FEED")]
    feed: Option<PathBuf>,
    /// Scanner configuration file.
    #[arg(long, env = "QUANTPRO_CONFIG", default_value = "quantpro.toml")]
    config: PathBuf,
}

fn main() -> anyhow::Result<()> {
    init_logging();
    let cli = Cli::parse();
    match cli.command {
        None => serve(ServeArgs::parse_from_env()),
        Some(Command::Serve(args)) => serve(args),
        Some(Command::Scan | Command::Fetch | Command::Indicators | Command::Bench) => {
            anyhow::bail!("not implemented yet")
        }
    }
}

impl ServeArgs {
    /// `cargo leptos serve` runs the binary without arguments: take the
    /// defaults and the environment.
    fn parse_from_env() -> ServeArgs {
        #[derive(Parser)]
        struct Only {
            #[command(flatten)]
            args: ServeArgs,
        }
        Only::parse_from(["quantpro"]).args
    }
}

fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let leptos_options = server::leptos_options()?;
    let feed_path = args.feed.unwrap_or_else(|| args.data_dir.join("master_feed.json"));
    let paths = DataPaths { data_dir: args.data_dir, feed_path, config_path: args.config };
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(server::serve(AppState::new(leptos_options, paths)))
}

fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt().with_env_filter(filter).with_target(false).init();
}
