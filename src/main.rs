//! The `quantpro` binary: the command line (serve, watch, scan, backtest,
//! fetch, indicators, bench, demo-data, set-password, trade, model) and nothing else; each
//! command calls into
//! the library.

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use quantpro::server::{self, AppState};
use quantpro_core::{backtest, bench, indicator_export, scan, synthetic};
use quantpro_model::{Exchange, Interval, ScannerConfig, Strategy};
use quantpro_service::fetch;
use quantpro_service::live::LiveLoop;
use quantpro_service::pipeline::{DataPaths, PipelineReport, PipelineRequest, ScanPipeline};
use quantpro_service::settings::{Environment, SettingsStore, UniverseSettings};
use quantpro_sources::clock::Clock;
use std::path::{Path, PathBuf};
use std::sync::Arc;

mod model_cli;
mod trade_cli;

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
    /// Run the dashboard (the default when no command is given); with a
    /// `[universe]` it keeps the universe current by itself.
    Serve(ServeArgs),
    /// Keep the `[universe]` current and the feed written, without the web
    /// server.
    Watch(ServeArgs),
    /// Scan a data directory and write the master feed.
    Scan(ScanArgs),
    /// Replay the strategies over the history of a data directory
    /// (STRATEGIES.md §6): trades, outcomes and statistics.
    Backtest(BacktestArgs),
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
    /// Set the owner's password (asked twice on a terminal, else one line
    /// of standard input); its argon2 hash is stored in the config file.
    SetPassword(SetPasswordArgs),
    /// Act on a signal: open a bracket, close a position, flatten
    /// everything (paper unless `[execution]` makes a venue live).
    Trade(trade_cli::TradeCmd),
    /// The signal-quality model: train it on the backtest's trades, or
    /// print its out-of-sample evaluation (docs/QUALITY.md).
    Model(model_cli::ModelCmd),
}

#[derive(Args)]
struct SetPasswordArgs {
    #[arg(long, env = "QUANTPRO_CONFIG", default_value = "quantpro.toml")]
    config: PathBuf,
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
    /// Without a `[universe]`, run the built-in simulated market when the
    /// data directory has no candles or holds the synthetic sample (what a
    /// fresh checkout needs).
    #[arg(long, env = "QUANTPRO_DEMO_IF_EMPTY", default_value_t = false)]
    demo_if_empty: bool,
    /// Speed of the simulated market's clock (60: a 15m candle every 15 s).
    #[arg(long, env = "QUANTPRO_ACCELERATE")]
    accelerate: Option<f64>,
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
struct BacktestArgs {
    /// Candle files (QuantPro's names, or a freqtrade `user_data/data` or
    /// `user_data/data/<exchange>` folder as it is).
    #[arg(long, env = "QUANTPRO_DATA_DIR", default_value = "data")]
    data_dir: PathBuf,
    /// First 15m candle to replay (open time): Unix ms or an RFC 3339 date
    /// (2024-08-01, 2024-08-01T12:00:00Z). Earlier candles are history only.
    #[arg(long, value_parser = backtest::parse_time_ms)]
    from: Option<i64>,
    /// Last 15m candle to replay (same forms): the data ends there, so
    /// trades still open then are reported open.
    #[arg(long, value_parser = backtest::parse_time_ms)]
    to: Option<i64>,
    /// Only this strategy (Legacy, Breakout, BreakoutV2); all three by default.
    #[arg(long)]
    strategy: Option<Strategy>,
    /// Only this symbol (`BTCUSDT` or the base asset `BTC`).
    #[arg(long)]
    symbol: Option<String>,
    /// Only this exchange (MEXC, HYPERLIQUID, BINANCE).
    #[arg(long)]
    exchange: Option<Exchange>,
    /// Write the report (trades and statistics, JSON) here.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Write the trades as CSV here.
    #[arg(long)]
    csv: Option<PathBuf>,
    /// Also record the trades in the signal journal (origin `backtest`;
    /// trades it holds already are kept as they are).
    #[arg(long)]
    journal: bool,
    #[arg(long, env = "QUANTPRO_CONFIG", default_value = "quantpro.toml")]
    config: PathBuf,
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
    market: Option<quantpro_model::Market>,
    /// Override the exchange API's base URL (for a local fake or a proxy;
    /// also `[sources]` in the config file).
    #[arg(long)]
    base_url: Option<String>,
    #[arg(long, env = "QUANTPRO_CONFIG", default_value = "quantpro.toml")]
    config: PathBuf,
}

#[derive(Args)]
struct BenchArgs {
    /// Benchmark the files of this directory; without it, a generated set of
    /// 500 symbols x (5000 15m + 1500 4h) candles.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Repetitions of the full scan or of the backtest (the best run is reported).
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// Benchmark the backtest (the walk-forward replay) instead of the
    /// scan, against the naive replay of one full scan per close.
    #[arg(long)]
    backtest: bool,
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
        Some(Command::Watch(args)) => watch(args),
        Some(Command::Scan(args)) => run_scan(args),
        Some(Command::Backtest(args)) => run_backtest(args),
        Some(Command::Fetch(args)) => run_fetch(args),
        Some(Command::Indicators { file }) => {
            let json = indicator_export::indicators_json_for_file(&file, quantpro_model::now_ms())?;
            print_to_stdout(&json)
        }
        Some(Command::Bench(args)) => run_bench(args),
        Some(Command::SetPassword(args)) => set_password(args),
        Some(Command::Trade(cmd)) => trade_cli::run(cmd),
        Some(Command::Model(cmd)) => model_cli::run(cmd),
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
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async move {
        let (pipeline, live) = pipeline_and_live(args)?;
        let state = AppState::new(leptos_options, pipeline)?;
        let state = match live {
            Some(live) => state.with_live(live),
            None => state,
        };
        server::serve(state).await
    })
}

/// The live loop without the web server: runs until Ctrl-C or SIGTERM
/// (then finishes the rescan in progress), writing the feed at every close
/// and logging each market's status line.
fn watch(args: ServeArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async move {
        let stop_signal = quantpro_service::shutdown::StopSignal::listen();
        let (pipeline, live) = pipeline_and_live(args)?;
        tokio::spawn(quantpro_service::shutdown::reload_on_hangup(
            pipeline.settings().clone(),
        ));
        let live = live.context(
            "nothing to watch: add a [universe] table to the config (README, Live market)",
        )?;
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let mut status = live.status();
        let log = tokio::spawn(async move {
            let mut last = Vec::new();
            while status.changed().await.is_ok() {
                let lines = status.borrow_and_update().view().lines;
                if lines != last {
                    for line in &lines {
                        tracing::info!("[LIVE] {line}");
                    }
                    last = lines;
                }
            }
        });
        let running = tokio::spawn(live.run(stopped));
        stop_signal.requested().await;
        stop.send_replace(true);
        running.await?;
        log.abort();
        Ok(())
    })
}

/// The process's pipeline and, when there is a universe to follow, its
/// live loop: `[universe]`, or (with `--demo-if-empty` and no universe) the
/// simulated market when the data directory has no candles or holds the
/// synthetic sample.
fn pipeline_and_live(
    args: ServeArgs,
) -> anyhow::Result<(Arc<ScanPipeline>, Option<Arc<LiveLoop>>)> {
    let feed_path = args
        .feed
        .unwrap_or_else(|| default_feed_path(&args.data_dir));
    let paths = DataPaths {
        data_dir: args.data_dir,
        feed_path,
        config_path: args.config,
    };
    let env = Environment::capture(Path::new(".env"))?;
    let settings = SettingsStore::new(&paths.config_path, env.clone()).load()?;
    let has_candles = has_candle_files(&paths.data_dir);
    let demo = args.demo_if_empty && (paths.is_synthetic() || !has_candles);
    let universe = match settings.universe {
        Some(universe) => Some(universe),
        None if demo => {
            let dir = paths.data_dir.display();
            if has_candles {
                println!(
                    "The simulated market's candles in {dir}: it goes on from them (SYNTHETIC)"
                );
            } else {
                println!("No market data in {dir}: running the simulated market (SYNTHETIC)");
            }
            Some(UniverseSettings::simulated())
        }
        None => None,
    };
    let universe = universe.map(|mut universe| {
        if let Some(speed) = args.accelerate {
            universe.accelerate = speed;
        }
        universe
    });
    let clock = match &universe {
        Some(universe) if universe.accelerate > 1.0 => Clock::accelerated(universe.accelerate),
        _ => Clock::real(),
    };
    std::fs::create_dir_all(&paths.data_dir)
        .with_context(|| format!("creating {}", paths.data_dir.display()))?;
    let pipeline = Arc::new(ScanPipeline::build(paths, env)?.with_clock(clock));
    let live = universe
        .map(|universe| LiveLoop::build(pipeline.clone(), universe).map(Arc::new))
        .transpose()?;
    Ok((pipeline, live))
}

/// Reads the new password (twice, without echo, on a terminal; one line of
/// standard input otherwise) and stores its hash; the password and the hash
/// are never printed.
fn set_password(args: SetPasswordArgs) -> anyhow::Result<()> {
    use std::io::IsTerminal;
    let password = if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("New owner password: ")?;
        let second = rpassword::prompt_password("Repeat it: ")?;
        if first != second {
            return Err(server::auth::PasswordError::Mismatch.into());
        }
        first
    } else {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)?;
        line.trim_end_matches(['\r', '\n']).to_string()
    };
    let hash = server::auth::hash_password(&password)?;
    let env = Environment::capture(Path::new(".env"))?;
    let overridden = env.get("QUANTPRO_AUTH__PASSWORD_HASH").is_some();
    SettingsStore::new(&args.config, env).save_password_hash(&hash)?;
    println!(
        "Owner password set: its argon2 hash is in {} ([auth] password_hash). \
         Restart the dashboard to apply it.",
        args.config.display()
    );
    if overridden {
        println!("Note: QUANTPRO_AUTH__PASSWORD_HASH is set and wins over the file.");
    }
    Ok(())
}

/// The process's pipeline: settings from `quantpro.toml` and the
/// environment (over `.env`), checked once; clients built once.
fn build_pipeline(paths: DataPaths) -> anyhow::Result<ScanPipeline> {
    let env = Environment::capture(Path::new(".env"))?;
    Ok(ScanPipeline::build(paths, env)?)
}

fn run_scan(args: ScanArgs) -> anyhow::Result<()> {
    let paths = DataPaths {
        feed_path: args
            .out
            .unwrap_or_else(|| default_feed_path(&args.data_dir)),
        data_dir: args.data_dir,
        config_path: args.config,
    };
    let request = PipelineRequest {
        limit: args.limit,
        symbol: args.symbol,
        exchange: args.exchange,
        replace: args.replace,
        market_data: args.market_data,
        ..PipelineRequest::default()
    };
    let runtime = tokio::runtime::Runtime::new()?;
    let report = runtime.block_on(async move {
        let pipeline = build_pipeline(paths)?;
        let report = pipeline.run(&request, Arc::new(scan::NoProgress)).await;
        anyhow::Ok(report?)
    })?;
    print_summary(&report);
    Ok(())
}

/// `quantpro backtest --journal`: the replayed trades into the journal of
/// the data directory (or `journal.database_url`).
fn record_backtest(
    data_dir: &Path,
    settings: &quantpro_service::settings::JournalSettings,
    report: &quantpro_model::BacktestReport,
) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new()?;
    let (recorded, location) = runtime.block_on(async {
        let journal = quantpro_service::journal::JournalHandle::new(data_dir);
        let recorded = journal
            .record_backtest(settings, report, Clock::real().now_ms())
            .await?;
        anyhow::Ok((recorded, journal.location(settings).describe()))
    })?;
    println!(
        "[JOURNAL] {recorded} of {} trades recorded in {location} (origin backtest; the others were there already or overlap a recorded trade)",
        report.trades.len()
    );
    Ok(())
}

fn print_summary(report: &PipelineReport) {
    let (summary, out, written) = (&report.summary, &report.feed_path, &report.written);
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
    let journal = &report.journal;
    match &journal.error {
        None => println!(
            "[JOURNAL] {} trades recorded, {} resolved in {}",
            journal.recorded, journal.resolved.len(), journal.location
        ),
        Some(error) => println!(
            "[JOURNAL] error: {error} ({} trades not recorded; the next scan catches up on the outcomes)",
            journal.waiting
        ),
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
    let env = Environment::capture(Path::new(".env"))?;
    fetch_args.urls = SettingsStore::new(&args.config, env).load()?.sources;
    if let Some(url) = args.base_url {
        let market = args
            .market
            .unwrap_or_else(|| quantpro_model::Market::default_for(args.exchange));
        fetch_args
            .urls
            .set_exchange_rest(args.exchange, market, url);
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

fn run_backtest(args: BacktestArgs) -> anyhow::Result<()> {
    let env = Environment::capture(Path::new(".env"))?;
    let settings = SettingsStore::new(&args.config, env).load()?;
    let config = settings.scanner.clone();
    let request = backtest::BacktestRequest {
        from_ms: args.from,
        to_ms: args.to,
        strategies: args.strategy.into_iter().collect(),
        symbol: args.symbol,
        exchange: args.exchange,
        ..backtest::BacktestRequest::new(&args.data_dir)
    };
    // The simulated market replays its synthetic derivatives, as it scans them.
    let derivatives = quantpro_service::pipeline::replayed_derivatives(&args.data_dir);
    let outcome = backtest::run_backtest_with(&request, &config, derivatives)?;
    let (report, summary) = (&outcome.report, &outcome.summary);
    println!(
        "[BACKTEST] {} of {} symbols replayed, {} closes, {} evaluations, {} trades ({} open) in {:.3} s",
        summary.symbols_replayed,
        summary.symbols_total,
        summary.closes,
        summary.evaluations,
        report.trades.len(),
        report.stats.all.open,
        summary.replay_secs + summary.stats_secs
    );
    for skip in &summary.skipped {
        println!("[SKIP] {}: {}", skip.file, skip.reason);
    }
    println!("{}", backtest::StrategyTable(&report.stats));
    if args.journal {
        record_backtest(&args.data_dir, &settings.journal, report)?;
    }
    if let Some(path) = &args.out {
        backtest::write_report(path, report)?;
        println!("[BACKTEST] report written to {}", path.display());
    }
    if let Some(path) = &args.csv {
        backtest::write_trades_csv(path, &report.trades)?;
        println!("[BACKTEST] trades written to {}", path.display());
    }
    Ok(())
}

fn run_bench(args: BenchArgs) -> anyhow::Result<()> {
    let config = ScannerConfig::default();
    if args.backtest {
        let report = match args.data_dir {
            Some(dir) => {
                backtest::run_backtest_bench(&dir, &config, quantpro_model::now_ms(), args.runs)?
            }
            None => {
                println!("Generating 500 symbols x (5000 15m + 1500 4h) synthetic candles...");
                backtest::run_synthetic_backtest_bench(
                    &synthetic::SyntheticSpec::reference(),
                    &config,
                    args.runs,
                )?
            }
        };
        println!("{report}");
        return Ok(());
    }
    let report = match args.data_dir {
        Some(dir) => bench::run_bench(&dir, &config, quantpro_model::now_ms(), args.runs)?,
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
    let files = synthetic::generate_demo_dataset(dir, symbols, quantpro_model::now_ms())
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
    quantpro_core::candles::list_candle_files(dir)
        .map(|inventory| !inventory.symbols.is_empty())
        .unwrap_or(false)
}

fn default_feed_path(data_dir: &Path) -> PathBuf {
    data_dir.join(quantpro_model::FEED_FILE)
}

fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .init();
}
