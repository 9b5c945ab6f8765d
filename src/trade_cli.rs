//! `quantpro trade open|close|flatten|positions`: the trader's view from
//! the command line, over the same executor, journal and venues as the
//! dashboard (paper unless `[execution]` and the environment's keys make a
//! venue live). `open` shows the ticket and asks before placing (`--yes`
//! skips the question, for scripts).

use anyhow::Context;
use clap::{Args, Subcommand};
use quantpro_model::{Exchange, MasterFeed, Strategy};
use quantpro_service::execution::{build_executor, Bracket, Executor};
use quantpro_service::pipeline::{DataPaths, ScanPipeline};
use quantpro_service::settings::{Environment, ExecutionSettings};
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};

#[derive(Args)]
pub struct TradeCmd {
    #[command(subcommand)]
    action: TradeAction,
    #[arg(long, env = "QUANTPRO_DATA_DIR", default_value = "data", global = true)]
    data_dir: PathBuf,
    #[arg(
        long,
        env = "QUANTPRO_CONFIG",
        default_value = "quantpro.toml",
        global = true
    )]
    config: PathBuf,
}

#[derive(Subcommand)]
enum TradeAction {
    /// Place the bracket of a signal of the feed (its ticket first).
    Open {
        #[arg(long)]
        exchange: Exchange,
        #[arg(long)]
        symbol: String,
        #[arg(long)]
        strategy: Strategy,
        /// Place without asking.
        #[arg(long)]
        yes: bool,
    },
    /// Close the position QuantPro opened on a symbol.
    Close {
        #[arg(long)]
        exchange: Exchange,
        #[arg(long)]
        symbol: String,
    },
    /// The kill switch: cancel every order and close every position
    /// QuantPro opened, on every venue.
    Flatten,
    /// Open positions, today's result and the daily-loss headroom (JSON).
    Positions,
}

pub fn run(cmd: TradeCmd) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async move {
        let (executor, settings, feed_path) = open_desk(&cmd.data_dir, &cmd.config)?;
        for problem in executor.check_venues().await {
            eprintln!("{problem}");
        }
        match cmd.action {
            TradeAction::Open {
                exchange,
                symbol,
                strategy,
                yes,
            } => {
                let feed = std::fs::read_to_string(&feed_path)
                    .with_context(|| format!("reading the feed {}", feed_path.display()))?;
                let feed = MasterFeed::parse(&feed)
                    .with_context(|| format!("reading the feed {}", feed_path.display()))?;
                let signal = feed
                    .signals
                    .into_iter()
                    .find(|s| {
                        s.exchange == exchange && s.symbol == symbol && s.strategy == strategy
                    })
                    .with_context(|| {
                        format!(
                            "no signal {exchange} {symbol} {strategy} in {}",
                            feed_path.display()
                        )
                    })?;
                let ticket = executor.ticket(&signal, &settings).await?;
                println!("{}", serde_json::to_string_pretty(&ticket)?);
                if let Some(refusal) = &ticket.refusal {
                    anyhow::bail!("refused: {refusal}");
                }
                if !yes && !confirmed(&ticket_question(&ticket))? {
                    println!("Not placed.");
                    return Ok(());
                }
                let bracket = executor
                    .open(&signal, ticket.signal_candle, &settings)
                    .await?;
                print_bracket(&bracket)
            }
            TradeAction::Close { exchange, symbol } => {
                print_bracket(&executor.close(exchange, &symbol).await?)
            }
            TradeAction::Flatten => {
                let done = executor.flatten().await?;
                println!("{}", serde_json::to_string_pretty(&done)?);
                if done.errors.is_empty() {
                    Ok(())
                } else {
                    anyhow::bail!(
                        "the kill switch left {} problems (above)",
                        done.errors.len()
                    )
                }
            }
            TradeAction::Positions => {
                executor.sync().await?;
                let positions = executor.positions(&settings).await?;
                println!("{}", serde_json::to_string_pretty(&positions)?);
                Ok(())
            }
        }
    })
}

/// The executor of the data directory (its journal and paper accounts),
/// `[execution]`, and the feed's path.
fn open_desk(
    data_dir: &Path,
    config: &Path,
) -> anyhow::Result<(Executor, ExecutionSettings, PathBuf)> {
    let paths = DataPaths {
        data_dir: data_dir.to_path_buf(),
        feed_path: data_dir.join(quantpro_model::FEED_FILE),
        config_path: config.to_path_buf(),
    };
    let env = Environment::capture(Path::new(".env"))?;
    let pipeline = ScanPipeline::build(paths, env)?;
    let settings = pipeline.current_settings()?;
    let executor = build_executor(
        data_dir,
        &settings,
        pipeline.settings().environment(),
        pipeline.journal().as_ref().clone(),
        pipeline.clock(),
        false,
    )?;
    Ok((
        executor,
        settings.execution.clone(),
        pipeline.paths().feed_path.clone(),
    ))
}

fn ticket_question(ticket: &quantpro_service::execution::Ticket) -> String {
    let (s, l) = (&ticket.sizing, &ticket.sizing.levels);
    format!(
        "{} {} {} {} on {}: {} at {}, stop {}, target {}; risk {} ({} R). Place it? [y/N] ",
        if ticket.live { "LIVE" } else { "PAPER" },
        l.direction(),
        ticket.symbol,
        ticket.strategy,
        ticket.venue,
        s.quantity,
        l.entry,
        l.stop,
        l.target,
        s.risk,
        s.risk_r
    )
}

/// Asks on the terminal; without one, nothing is placed without `--yes`.
fn confirmed(question: &str) -> anyhow::Result<bool> {
    if !std::io::stdin().is_terminal() {
        anyhow::bail!("not a terminal: pass --yes to place without asking");
    }
    print!("{question}");
    std::io::stdout().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}

fn print_bracket(bracket: &Bracket) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(bracket)?);
    if let Some(note) = &bracket.note {
        println!("{note}");
    }
    Ok(())
}
