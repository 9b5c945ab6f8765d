//! Signal quality (issue 23): a learned probability that a signal's trade
//! wins, and the honest evaluation that says whether to trust it.
//!
//! Flow: the backtest's replay (`backtest`, `track`) -> `features` (each
//! trade with its signal's features at the close it fired, and its label
//! R > 0) -> `model` (L2 logistic regression) -> `evaluate` (walk-forward
//! with purging and an embargo, and leave-symbols-out: AUC, Brier skill,
//! reliability, R of the top fifth) -> `trained` (the model file `quantpro
//! model train` writes). No I/O here beyond the replay's reading of the
//! candle files; the CLI writes the file.

pub mod evaluate;
pub mod features;
pub mod model;
pub mod trained;

pub use evaluate::{evaluate, EvaluationOptions, Metrics, QualityReport, SplitReport};
pub use features::{
    replay_labelled, signal_features, LabelledTrade, QualityDataset, FEATURES, FEATURE_NAMES,
};
pub use model::{FitError, FitOptions, LogisticModel};
pub use trained::{signal_quality, train, OutOfSampleSummary, QualityModel};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backtest::BacktestRequest;
    use quantpro_model::ScannerConfig;

    /// The evaluation on a real data directory, printed:
    /// `QUANTPRO_QUALITY_DATA=../shared/data cargo test -p quantpro-core --lib
    /// quality::tests -- --ignored --nocapture` (what `quantpro model report`
    /// prints, with the default configuration and no derivatives).
    #[test]
    #[ignore = "reads the data directory named by QUANTPRO_QUALITY_DATA"]
    fn report_on_the_data_dir_of_the_environment() {
        let Ok(dir) = std::env::var("QUANTPRO_QUALITY_DATA") else {
            return;
        };
        let config = ScannerConfig::default();
        let started = std::time::Instant::now();
        let dataset = replay_labelled(&BacktestRequest::new(&dir), &config, None).unwrap();
        let closed = dataset.closed();
        println!(
            "{} symbols, {} trades, {} closed, replay {:.1} s",
            dataset.symbols_replayed,
            dataset.trades.len(),
            closed.len(),
            started.elapsed().as_secs_f64()
        );
        let started = std::time::Instant::now();
        let report = evaluate(&closed, &EvaluationOptions::for_track(&config.track)).unwrap();
        print!("{report}");
        println!("evaluation {:.3} s", started.elapsed().as_secs_f64());
        assert_eq!(report.trades, closed.len());
        // Scoring cost: one probability per closed trade, many times over.
        let model = evaluate::fit_chosen(
            &closed,
            &(0..closed.len()).collect::<Vec<_>>(),
            &EvaluationOptions::for_track(&config.track),
        )
        .unwrap();
        let started = std::time::Instant::now();
        let mut sum = 0.0;
        for _ in 0..100 {
            sum += closed
                .iter()
                .map(|t| model.predict(&t.features))
                .sum::<f64>();
        }
        println!(
            "scoring: {:.0} ns per signal (sum {sum:.1})",
            started.elapsed().as_nanos() as f64 / (100 * closed.len()) as f64
        );
        // How much a fixed penalty matters (picked on these same
        // out-of-sample figures, so a better one here is a hint, not a result).
        for l2 in [1.0, 10.0, 100.0, 1000.0] {
            let mut options = EvaluationOptions::for_track(&config.track);
            options.fit.l2 = l2;
            options.l2_grid.clear();
            let report = evaluate(&closed, &options).unwrap();
            for split in [&report.walk_forward, &report.leave_symbols_out] {
                let m = split.metrics.as_ref().unwrap();
                println!(
                    "l2 {l2:>6}: {:<17} AUC {:.3} skill vs base {:+.4} vs buckets {:+.4} top-fifth R {:+.3} (all {:+.3})",
                    split.name,
                    m.auc.unwrap_or(f64::NAN),
                    m.skill_vs_base_rate.unwrap_or(f64::NAN),
                    m.skill_vs_buckets.unwrap_or(f64::NAN),
                    m.avg_r_top_fifth,
                    m.avg_r_all
                );
            }
        }
    }
}
