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
pub use trained::{train, OutOfSampleSummary, QualityModel};
