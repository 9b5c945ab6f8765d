//! `quantpro model train|report`: the signal-quality model (issue 23) from
//! the command line. Both replay the backtest over the data directory
//! (with the same derivatives `quantpro backtest` replays), label each
//! trade with its signal's features, and evaluate the model out of sample
//! (walk-forward with purging and an embargo, leave-symbols-out;
//! docs/QUALITY.md). `train` also fits it on every trade and writes the
//! model file atomically; `report` only prints.

use anyhow::Context;
use clap::{Args, Subcommand};
use quantpro_core::backtest::BacktestRequest;
use quantpro_core::quality::{self, EvaluationOptions, QualityDataset};
use quantpro_model::atomic_file::write_atomic;
use quantpro_service::settings::{Environment, SettingsStore};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The model file's name in the data directory (the default `--out`).
const MODEL_FILE: &str = quantpro_model::QUALITY_MODEL_FILE;

#[derive(Args)]
pub struct ModelCmd {
    #[command(subcommand)]
    action: ModelAction,
    /// Candle files to replay (as `quantpro backtest` reads them).
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
enum ModelAction {
    /// Evaluate, fit on every closed trade and write the model (JSON).
    Train {
        /// Where to write the model (default: DATA_DIR/quality_model.json).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Print the out-of-sample evaluation; writes nothing.
    Report,
}

pub fn run(cmd: ModelCmd) -> anyhow::Result<()> {
    let env = Environment::capture(Path::new(".env"))?;
    let settings = SettingsStore::new(&cmd.config, env).load()?;
    let config = settings.scanner.clone();
    let started = Instant::now();
    let derivatives = quantpro_service::pipeline::replayed_derivatives(&cmd.data_dir);
    let dataset =
        quality::replay_labelled(&BacktestRequest::new(&cmd.data_dir), &config, derivatives)
            .with_context(|| format!("replaying {}", cmd.data_dir.display()))?;
    let closed = dataset.closed();
    print_dataset(&dataset, closed.len(), started.elapsed().as_secs_f64());
    anyhow::ensure!(
        !closed.is_empty(),
        "no closed trades in {}: is it a directory of candle files (the shared data keeps them in its candles/ folder)?",
        cmd.data_dir.display()
    );
    let options = EvaluationOptions::for_track(&config.track);
    let fitted = Instant::now();
    match cmd.action {
        ModelAction::Report => {
            let report = quality::evaluate(&closed, &options)?;
            print!("{report}");
            println!(
                "[MODEL] evaluated in {:.3} s",
                fitted.elapsed().as_secs_f64()
            );
        }
        ModelAction::Train { out } => {
            let (model, report) = quality::train(&closed, &options, quantpro_model::now_ms())?;
            print!("{report}");
            let path = out.unwrap_or_else(|| cmd.data_dir.join(MODEL_FILE));
            let mut bytes = serde_json::to_vec_pretty(&model)?;
            bytes.push(b'\n');
            write_atomic(&path, &bytes)?;
            println!(
                "[MODEL] {} trained on {} trades in {:.3} s ({}) -> {}",
                model.model_id,
                model.n_train,
                fitted.elapsed().as_secs_f64(),
                if model.has_skill() {
                    "skill over the base rate out of sample"
                } else {
                    "no skill on past data: not to be used to sort or filter"
                },
                path.display()
            );
        }
    }
    Ok(())
}

fn print_dataset(dataset: &QualityDataset, closed: usize, secs: f64) {
    println!(
        "[MODEL] {} symbols replayed, {} trades ({} closed, {} still open and left out) in {:.3} s",
        dataset.symbols_replayed,
        dataset.trades.len(),
        closed,
        dataset.trades.len() - closed,
        secs
    );
    for skip in &dataset.skipped {
        println!("[SKIP] {}: {}", skip.file, skip.reason);
    }
}
