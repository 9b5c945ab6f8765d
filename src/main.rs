//! The `quantpro` binary: the command line (serve, scan, fetch, indicators,
//! bench, demo-data) and nothing else; each command calls into the library.

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use quantpro::core::candles::Interval;
use quantpro::core::feed_merge::{self, FeedUpdate};
use quantpro::core::{bench, config, feed_writer, indicator_export, scan, synthetic};
use quantpro::model::{Exchange, ScannerConfig};
use quantpro::server::{self, AppState, DataPaths};
use quantpro::sources::{enrich, fetch, keys::ApiKeys};
use std::path::{Path, PathBuf};

#[derive(Parser)]
#[command(
    name = "quantpro",
    version,
    about = "Crypto market scanner and dashboard"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the dashboard (the default when no command is given).
    Serve(ServeArgs),
    /// Scan a data directory and write the master feed.
    Scan(ScanArgs),
    /// Fetch candles from an exchange into the data directory (needs network).
    Fetch(FetchCmd),
    /// Print the indicator series of one candle file as JSON.
    Indicators {
        /// A candle file (`.json`, `.csv` or `.parquet`).
        file: PathBuf,
    },
    /// Measure indicator and scan throughput.
    Bench(BenchArgs),
    /// Generate the synthetic sample data set (random-walk candles).
    DemoData(DemoArgs),
}

#[derive(Args)]
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
    /// Generate the synthetic sample and scan it when the data directory has
    /// no candles and no feed exists (what a fresh checkout needs).
    #[arg(long, env = "QUANTPRO_DEMO_IF_EMPTY", default_value_t = false)]
    demo_if_empty: bool,
}

#[derive(Args)]
struct ScanArgs {
    #[arg(long, env = "QUANTPRO_DATA_DIR", default_value = "data")]
    data_dir: PathBuf,
    /// Where to write the master feed (default: DATA_DIR/master_feed.json).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Scan at most N symbols.
    #[arg(long)]
    limit: Option<usize>,
    /// Only this symbol (`BTCUSDT` or the base asset `BTC`).
    #[arg(long)]
    symbol: Option<String>,
    /// Only this exchange (MEXC, HYPERLIQUID, BINANCE).
    #[arg(long)]
    exchange: Option<Exchange>,
    #[arg(long, env = "QUANTPRO_CONFIG", default_value = "quantpro.toml")]
    config: PathBuf,
    /// Also fetch market caps from CoinGecko (needs network).
    #[arg(long)]
    market_data: bool,
    /// Write only this scan's signals. Without it a partial scan (--limit,
    /// --symbol, --exchange) updates its symbols in the existing feed and
    /// keeps the other signals.
    #[arg(long)]
    replace: bool,
}

#[derive(Args)]
struct FetchCmd {
    #[arg(long)]
    exchange: Exchange,
    /// Comma-separated symbols as the exchange spells them.
    #[arg(long, value_delimiter = ',', conflicts_with = "top")]
    symbols: Vec<String>,
    /// The N symbols with the highest 24 h volume.
    #[arg(long)]
    top: Option<usize>,
    #[arg(long, value_delimiter = ',', default_value = "15m,4h")]
    intervals: Vec<Interval>,
    #[arg(long, env = "QUANTPRO_DATA_DIR", default_value = "data")]
    data_dir: PathBuf,
    /// `spot` or `futures` (default: the exchange's usual market).
    #[arg(long)]
    market: Option<quantpro::sources::exchanges::Market>,
    /// Override the exchange API's base URL (for a local fake or a proxy).
    #[arg(long)]
    base_url: Option<String>,
}

#[derive(Args)]
struct BenchArgs {
    /// Benchmark the files of this directory; without it, a generated set of
    /// 500 symbols x (5000 15m + 1500 4h) candles.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Full-scan repetitions (the best and median are reported).
    #[arg(long, default_value_t = 5)]
    runs: usize,
}

#[derive(Args)]
struct DemoArgs {
    #[arg(long, env = "QUANTPRO_DATA_DIR", default_value = "data")]
    data_dir: PathBuf,
    #[arg(long, default_value_t = 24)]
    symbols: usize,
}

fn main() -> anyhow::Result<()> {
    init_logging();
    let cli = Cli::parse();
    match cli.command {
        None => serve(ServeArgs::from_env_only()),
        Some(Command::Serve(args)) => serve(args),
        Some(Command::Scan(args)) => run_scan(args),
        Some(Command::Fetch(args)) => run_fetch(args),
        Some(Command::Indicators { file }) => {
            let json = indicator_export::indicators_json_for_file(&file, quantpro::now_ms())?;
            print_to_stdout(&json)
        }
        Some(Command::Bench(args)) => run_bench(args),
        Some(Command::DemoData(args)) => {
            let files = generate_demo_data(&args.data_dir, args.symbols)?;
            println!(
                "wrote {} synthetic candle files to {}",
                files,
                args.data_dir.display()
            );
            Ok(())
        }
    }
}

impl ServeArgs {
    /// `cargo leptos serve` runs the binary without arguments: defaults plus
    /// the environment, and a demo data set on a fresh checkout.
    fn from_env_only() -> ServeArgs {
        #[derive(Parser)]
        struct Only {
            #[command(flatten)]
            args: ServeArgs,
        }
        let mut args = Only::parse_from(["quantpro"]).args;
        if std::env::var_os("QUANTPRO_DEMO_IF_EMPTY").is_none() {
            args.demo_if_empty = true;
        }
        args
    }
}

fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let leptos_options = server::leptos_options()?;
    let feed_path = args
        .feed
        .unwrap_or_else(|| default_feed_path(&args.data_dir));
    if args.demo_if_empty && !feed_path.exists() && !has_candle_files(&args.data_dir) {
        println!(
            "No candles in {}: generating the synthetic sample data set",
            args.data_dir.display()
        );
        generate_demo_data(&args.data_dir, 24)?;
        let config = config::load_config(&args.config)?;
        let outcome = scan::run_scan(
            &scan::ScanRequest::new(&args.data_dir),
            &config,
            &Default::default(),
            &scan::NoProgress,
        )?;
        feed_writer::write_feed(&feed_path, &outcome.feed)?;
    }
    let paths = DataPaths {
        data_dir: args.data_dir,
        feed_path,
        config_path: args.config,
    };
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(server::serve(AppState::new(leptos_options, paths)))
}

fn run_scan(args: ScanArgs) -> anyhow::Result<()> {
    let mut config = config::load_config(&args.config)?;
    config::apply_env_overrides(&mut config, |name| std::env::var(name).ok())?;
    let request = scan::ScanRequest {
        data_dir: args.data_dir.clone(),
        limit: args.limit,
        symbol: args.symbol,
        exchange: args.exchange,
        now_ms: None,
    };
    let external = gather_external(&request, &args.data_dir, args.market_data)?;
    let outcome = scan::run_scan(&request, &config, &external, &scan::NoProgress)?;
    let out = args
        .out
        .unwrap_or_else(|| default_feed_path(&args.data_dir));
    let update = if args.replace {
        FeedUpdate::Replace
    } else {
        FeedUpdate::for_request(&request)
    };
    let written = feed_merge::update_feed(&out, outcome.feed, update)
        .with_context(|| format!("writing {}", out.display()))?;
    if let Some(warning) = &written.warning {
        tracing::warn!("[SCAN] {warning}");
    }
    print_summary(&outcome.summary, &out, &written);
    Ok(())
}

fn gather_external(
    request: &scan::ScanRequest,
    data_dir: &Path,
    market_data: bool,
) -> anyhow::Result<quantpro::core::external::ExternalDataMap> {
    let keys = ApiKeys::load(Path::new(".env"))?;
    if keys.coinalyze.is_none() && !market_data {
        tracing::info!("[SCAN] COINALYZE_API_KEY not set: OI, funding, long/short and liquidations unavailable");
        return Ok(Default::default());
    }
    let symbols = scan::scan_symbols(request)?;
    let runtime = tokio::runtime::Runtime::new()?;
    Ok(runtime.block_on(enrich::gather_external_data(
        &symbols,
        &keys,
        &data_dir.join(".cache"),
        market_data,
    )))
}

fn print_summary(summary: &scan::ScanSummary, out: &Path, written: &feed_merge::FeedWritten) {
    let counts = summary.signals_per_action;
    println!(
        "[SCAN] {} of {} symbols processed, {} signals (LONG {}, SHORT {}, WAIT {}), {} stale, {} candles in {:.3} s",
        summary.symbols_processed,
        summary.symbols_total,
        summary.signals,
        counts.long,
        counts.short,
        counts.wait,
        summary.stale_symbols,
        summary.candles,
        summary.elapsed_secs
    );
    for skip in &summary.skipped {
        println!("[SKIP] {}: {}", skip.file, skip.reason);
    }
    if written.kept > 0 {
        println!(
            "[SCAN] feed written to {} ({} signals, {} kept from the previous feed)",
            out.display(),
            written.signals,
            written.kept
        );
    } else {
        println!("[SCAN] feed written to {}", out.display());
    }
}

fn run_fetch(args: FetchCmd) -> anyhow::Result<()> {
    let selection = match args.top {
        Some(n) => fetch::SymbolSelection::Top(n),
        None => fetch::SymbolSelection::List(args.symbols),
    };
    let mut fetch_args =
        fetch::FetchArgs::new(args.exchange, selection, args.intervals, args.data_dir);
    fetch_args.market = args.market;
    if let Some(url) = args.base_url {
        let market = args
            .market
            .unwrap_or_else(|| quantpro::sources::exchanges::Market::default_for(args.exchange));
        set_base_url(&mut fetch_args.base_urls, args.exchange, market, url);
    }
    let runtime = tokio::runtime::Runtime::new()?;
    let report = runtime.block_on(fetch::run_fetch(fetch_args))?;
    println!(
        "[FETCH] {} files updated, {} candles added",
        report.updated.len(),
        report.candles_added()
    );
    for failure in &report.failed {
        println!("[FETCH] failed: {failure:?}");
    }
    if !report.failed.is_empty() && report.updated.is_empty() {
        anyhow::bail!("every series failed");
    }
    Ok(())
}

fn set_base_url(
    urls: &mut fetch::BaseUrls,
    exchange: Exchange,
    market: quantpro::sources::exchanges::Market,
    url: String,
) {
    use quantpro::sources::exchanges::Market;
    let slot = match (exchange, market) {
        (Exchange::Binance, Market::Spot) => &mut urls.binance_spot,
        (Exchange::Binance, Market::Futures) => &mut urls.binance_futures,
        (Exchange::Mexc, Market::Spot) => &mut urls.mexc_spot,
        (Exchange::Mexc, Market::Futures) => &mut urls.mexc_futures,
        (Exchange::Hyperliquid, _) => &mut urls.hyperliquid,
    };
    *slot = Some(url);
}

fn run_bench(args: BenchArgs) -> anyhow::Result<()> {
    let config = ScannerConfig::default();
    let report = match args.data_dir {
        Some(dir) => bench::run_bench(&dir, &config, quantpro::now_ms(), args.runs)?,
        None => {
            println!("Generating 500 symbols x (5000 15m + 1500 4h) synthetic candles...");
            bench::run_synthetic_bench(&synthetic::SyntheticSpec::reference(), &config, args.runs)?
        }
    };
    println!("{report}");
    Ok(())
}

/// Writes the synthetic sample (with its SYNTHETIC marker) and returns the
/// number of candle files.
fn generate_demo_data(dir: &Path, symbols: usize) -> anyhow::Result<usize> {
    std::fs::create_dir_all(dir)?;
    let files = synthetic::generate_demo_dataset(dir, symbols, quantpro::now_ms())
        .with_context(|| format!("writing demo data to {}", dir.display()))?;
    Ok(files.len())
}

/// Prints `text` and a newline; a closed pipe (`quantpro indicators F | head`)
/// is a normal end, not a panic.
fn print_to_stdout(text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{text}").and_then(|_| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

fn has_candle_files(dir: &Path) -> bool {
    quantpro::core::candles::list_candle_files(dir)
        .map(|inventory| !inventory.symbols.is_empty())
        .unwrap_or(false)
}

fn default_feed_path(data_dir: &Path) -> PathBuf {
    data_dir.join("master_feed.json")
}

fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .init();
}
