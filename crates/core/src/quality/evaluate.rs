//! The honest evaluation of a signal-quality model: every probability it
//! is judged on comes from a model that never saw that trade, nor any
//! trade still running when that trade opened.
//!
//! Two splits (docs/QUALITY.md describes every figure):
//! - **walk-forward in time**: the span of signals is cut into
//!   `folds + 1` equal windows; each window after the first is a test
//!   window, and its model trains on the trades *resolved* at least an
//!   embargo before the window starts. Trades opened before the window but
//!   resolved later (or within the embargo) are purged: neither trained on
//!   nor tested in that fold. So no test trade overlaps a training trade's
//!   life, and the embargo keeps the indicators' memory from bridging them.
//! - **leave-symbols-out**: assets (canonical symbols, so a coin's venues
//!   stay together) are dealt into folds; each fold is predicted by a
//!   model trained on the other assets.
//!
//! Out-of-sample figures over the pooled predictions: AUC, Brier score,
//! Brier skill against the training win rate and against the training
//! win rate of the signal's score bucket (the Track Record page's
//! calibration), a reliability table by decile of probability, and the
//! average R of the top fifth by probability against all trades.

use super::features::{LabelledTrade, FEATURE_NAMES};
use super::model::{FitError, FitOptions, LogisticModel};
use crate::scan::LTF;
use quantpro_model::{ScoreBucket, Strategy, TrackConfig};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// How the evaluation splits and fits.
#[derive(Debug, Clone, PartialEq)]
pub struct EvaluationOptions {
    /// Test windows of the walk-forward split (the span is cut into one more).
    pub time_folds: usize,
    /// Gap between the resolution of the last training trade and the test window.
    pub embargo_ms: i64,
    /// Folds of the leave-symbols-out split.
    pub symbol_folds: usize,
    /// A fold with fewer training trades is not scored (its trades are counted as unscored).
    pub min_train: usize,
    pub fit: FitOptions,
    /// The L2 penalties to choose from, on the training trades only (an
    /// inner walk-forward, [`choose_l2`]); empty: always `fit.l2`.
    pub l2_grid: Vec<f64>,
}

impl EvaluationOptions {
    /// Five folds each way, an embargo of one trade's longest life
    /// (`track.max_bars` candles), at least 50 training trades, the
    /// penalty chosen among 1, 10, 100 and 1000.
    pub fn for_track(track: &TrackConfig) -> EvaluationOptions {
        EvaluationOptions {
            time_folds: 5,
            embargo_ms: track.max_bars as i64 * LTF.millis(),
            symbol_folds: 5,
            min_train: 50,
            fit: FitOptions::default(),
            l2_grid: vec![1.0, 10.0, 100.0, 1000.0],
        }
    }
}

/// One fold: which trades (indices into the evaluated slice) train and which test.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Split {
    pub train: Vec<usize>,
    pub test: Vec<usize>,
    /// Trades before the test window left out of training because their
    /// life reached into the window or its embargo.
    pub purged: usize,
    /// What the fold tests: a time window (`from..to`, Unix ms) or assets.
    pub label: String,
}

/// The walk-forward splits of `trades` (closed ones): the signals, in
/// time order, are cut into `folds + 1` windows of (nearly) equal count;
/// test window k (1..=folds) holds the trades whose signal came in it, and
/// its training trades are those resolved at least `embargo_ms` before it
/// starts. Equal counts rather than equal spans: a data set may hold
/// periods far apart (the shared data's Binance 2024 and Hyperliquid 2025).
pub fn walk_forward_splits(trades: &[LabelledTrade], folds: usize, embargo_ms: i64) -> Vec<Split> {
    let mut times: Vec<i64> = trades.iter().map(|t| t.signal_at()).collect();
    times.sort_unstable();
    let Some(&last) = times.last() else {
        return Vec::new();
    };
    let folds = folds.max(1);
    let edge = |k: usize| times[k * times.len() / (folds + 1)];
    (1..=folds)
        .map(|k| {
            let (start, end) = (edge(k), if k == folds { last + 1 } else { edge(k + 1) });
            let mut split = Split {
                label: format!("{}..{}", format_day(start), format_day(end)),
                ..Split::default()
            };
            for (i, t) in trades.iter().enumerate() {
                let signal = t.signal_at();
                if (start..end).contains(&signal) {
                    split.test.push(i);
                } else if signal < start {
                    match t.resolved_at() {
                        Some(resolved) if resolved.saturating_add(embargo_ms) <= start => {
                            split.train.push(i)
                        }
                        _ => split.purged += 1,
                    }
                }
            }
            split
        })
        .collect()
}

/// The leave-symbols-out splits: the assets, sorted, dealt round-robin
/// into `folds` folds; each fold's model trains on every other asset.
pub fn symbol_splits(trades: &[LabelledTrade], folds: usize) -> Vec<Split> {
    let assets: Vec<&str> = trades
        .iter()
        .map(|t| t.asset.as_str())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    if assets.is_empty() {
        return Vec::new();
    }
    let folds = folds.clamp(1, assets.len());
    let fold_of: BTreeMap<&str, usize> = assets
        .iter()
        .enumerate()
        .map(|(i, a)| (*a, i % folds))
        .collect();
    (0..folds)
        .map(|k| {
            let tested: Vec<&str> = assets
                .iter()
                .filter(|a| fold_of[*a] == k)
                .copied()
                .collect();
            // A few names are enough to tell the folds apart.
            let mut label = tested[..tested.len().min(3)].join(",");
            if tested.len() > 3 {
                label.push_str(&format!(" +{}", tested.len() - 3));
            }
            let mut split = Split {
                label,
                ..Split::default()
            };
            for (i, t) in trades.iter().enumerate() {
                if fold_of[t.asset.as_str()] == k {
                    split.test.push(i);
                } else {
                    split.train.push(i);
                }
            }
            split
        })
        .collect()
}

/// One out-of-sample probability with the two references it is judged against.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Prediction {
    pub p_model: f64,
    /// The training trades' win rate.
    pub p_base_rate: f64,
    /// The training trades' win rate in the signal's score bucket (the base
    /// rate when the bucket had no training trade).
    pub p_bucket: f64,
    /// The signal's total score (its own ranking, for comparison).
    pub score: f64,
    /// The setup's reward / risk: with P(win) it gives an expected R.
    pub rr: f64,
    pub strategy: Strategy,
    pub win: bool,
    pub r: f64,
}

impl Prediction {
    /// The R the model expects before fees: `p * RR - (1 - p)` (a win
    /// earns RR, a loss costs 1; expiries are in between).
    pub fn expected_r(&self) -> f64 {
        self.p_model * self.rr - (1.0 - self.p_model)
    }
}

/// What one fold did.
#[derive(Debug, Clone, PartialEq)]
pub struct FoldSummary {
    pub label: String,
    pub train: usize,
    pub test: usize,
    pub purged: usize,
    /// Whether a model was fitted and its test trades scored.
    pub scored: bool,
    /// The penalty chosen on the fold's training trades.
    pub l2: Option<f64>,
    /// The fold's own Brier skill against its training win rate.
    pub skill_vs_base_rate: Option<f64>,
}

/// The out-of-sample predictions of a set of splits, and the figures over them.
#[derive(Debug, Clone, PartialEq)]
pub struct SplitReport {
    pub name: &'static str,
    pub folds: Vec<FoldSummary>,
    pub predictions: Vec<Prediction>,
    /// `None` when no fold could be scored.
    pub metrics: Option<Metrics>,
    /// The same figures per strategy (the model is one, with the strategy
    /// as a feature): strategies with scored trades only.
    pub by_strategy: BTreeMap<Strategy, Metrics>,
}

/// One row of the reliability table: the predictions of one decile of probability.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReliabilityRow {
    pub count: usize,
    pub p_min: f64,
    pub p_max: f64,
    /// Mean predicted probability.
    pub predicted: f64,
    /// Observed win rate.
    pub observed: f64,
}

/// The out-of-sample figures (docs/QUALITY.md).
#[derive(Debug, Clone, PartialEq)]
pub struct Metrics {
    pub n: usize,
    pub win_rate: f64,
    /// Area under the ROC curve of the model's probability (0.5: no ranking skill).
    pub auc: Option<f64>,
    /// The same for the signal's total score, for comparison.
    pub auc_score: Option<f64>,
    pub brier: f64,
    pub brier_base_rate: f64,
    pub brier_buckets: f64,
    /// `1 - brier / brier_base_rate`: > 0 means better than the training win rate.
    pub skill_vs_base_rate: Option<f64>,
    /// `1 - brier / brier_buckets`: > 0 means better than the score buckets.
    pub skill_vs_buckets: Option<f64>,
    pub reliability: Vec<ReliabilityRow>,
    pub avg_r_all: f64,
    pub avg_r_top_fifth: f64,
    pub win_rate_top_fifth: f64,
    pub n_top_fifth: usize,
    /// The mean R of the fifth with the highest expected R (`p * RR - (1 - p)`).
    pub avg_r_top_fifth_by_expected_r: f64,
}

/// The whole evaluation of a data set.
#[derive(Debug, Clone, PartialEq)]
pub struct QualityReport {
    pub trades: usize,
    pub wins: usize,
    pub walk_forward: SplitReport,
    pub leave_symbols_out: SplitReport,
    /// The model fitted on every trade (what `model train` writes): the
    /// features by standardised weight, strongest first.
    pub strongest_features: Vec<(String, f64)>,
    pub embargo_ms: i64,
}

/// Evaluates the logistic model on the closed trades `trades` both ways,
/// and fits it on all of them for the feature weights.
pub fn evaluate(
    trades: &[LabelledTrade],
    options: &EvaluationOptions,
) -> Result<QualityReport, FitError> {
    let walk_forward = out_of_sample(
        "walk-forward",
        trades,
        &walk_forward_splits(trades, options.time_folds, options.embargo_ms),
        options,
    )?;
    let leave_symbols_out = out_of_sample(
        "leave-symbols-out",
        trades,
        &symbol_splits(trades, options.symbol_folds),
        options,
    )?;
    let strongest_features = if trades.is_empty() {
        Vec::new()
    } else {
        fit_chosen(trades, &(0..trades.len()).collect::<Vec<_>>(), options)?
            .strongest_features()
            .into_iter()
            .map(|(n, w)| (n.to_string(), w))
            .collect()
    };
    Ok(QualityReport {
        trades: trades.len(),
        wins: trades.iter().filter(|t| t.win() == Some(true)).count(),
        walk_forward,
        leave_symbols_out,
        strongest_features,
        embargo_ms: options.embargo_ms,
    })
}

/// Fits the model on the trades at `rows` (closed ones).
pub fn fit_on(
    trades: &[LabelledTrade],
    rows: &[usize],
    fit: FitOptions,
) -> Result<LogisticModel, FitError> {
    let x: Vec<&[f64]> = rows.iter().map(|&i| &trades[i].features[..]).collect();
    let y: Vec<bool> = rows
        .iter()
        .map(|&i| trades[i].win().unwrap_or(false))
        .collect();
    LogisticModel::fit(&FEATURE_NAMES, &x, &y, fit)
}

/// Chooses the penalty among `options.l2_grid` by an inner walk-forward
/// (3 folds, the same purging and embargo) over the trades at `rows`
/// alone, by the pooled Brier score; `options.fit.l2` when the grid is
/// empty or no inner fold has enough training trades.
pub fn choose_l2(
    trades: &[LabelledTrade],
    rows: &[usize],
    options: &EvaluationOptions,
) -> Result<f64, FitError> {
    if options.l2_grid.is_empty() {
        return Ok(options.fit.l2);
    }
    let inner: Vec<LabelledTrade> = rows.iter().map(|&i| trades[i].clone()).collect();
    let splits: Vec<Split> = walk_forward_splits(&inner, 3, options.embargo_ms)
        .into_iter()
        .filter(|s| s.train.len() >= options.min_train.max(1) && !s.test.is_empty())
        .collect();
    if splits.is_empty() {
        return Ok(options.fit.l2);
    }
    let mut best: Option<(f64, f64)> = None;
    for &l2 in &options.l2_grid {
        let fit = FitOptions { l2, ..options.fit };
        let (mut p, mut y) = (Vec::new(), Vec::new());
        for split in &splits {
            let model = fit_on(&inner, &split.train, fit)?;
            for &i in &split.test {
                p.push(model.predict(&inner[i].features));
                y.push(inner[i].win().unwrap_or(false));
            }
        }
        let score = brier(&p, &y);
        if best.is_none_or(|(b, _)| score < b) {
            best = Some((score, l2));
        }
    }
    Ok(best.map_or(options.fit.l2, |(_, l2)| l2))
}

/// Fits the model on the trades at `rows` with the penalty [`choose_l2`]
/// picks from them.
pub fn fit_chosen(
    trades: &[LabelledTrade],
    rows: &[usize],
    options: &EvaluationOptions,
) -> Result<LogisticModel, FitError> {
    let l2 = choose_l2(trades, rows, options)?;
    fit_on(trades, rows, FitOptions { l2, ..options.fit })
}

/// Fits one model per split on its training trades and predicts its test trades.
pub fn out_of_sample(
    name: &'static str,
    trades: &[LabelledTrade],
    splits: &[Split],
    options: &EvaluationOptions,
) -> Result<SplitReport, FitError> {
    let mut folds = Vec::with_capacity(splits.len());
    let mut predictions = Vec::new();
    for split in splits {
        let scored = split.train.len() >= options.min_train.max(1) && !split.test.is_empty();
        folds.push(FoldSummary {
            label: split.label.clone(),
            train: split.train.len(),
            test: split.test.len(),
            purged: split.purged,
            scored,
            l2: None,
            skill_vs_base_rate: None,
        });
        if !scored {
            continue;
        }
        let model = fit_chosen(trades, &split.train, options)?;
        if let Some(fold) = folds.last_mut() {
            fold.l2 = Some(model.l2);
        }
        let base_rate = model.train_win_rate;
        let first = predictions.len();
        let mut buckets: BTreeMap<ScoreBucket, (usize, usize)> = BTreeMap::new();
        for &i in &split.train {
            let entry = buckets.entry(trades[i].trade.score_bucket()).or_default();
            entry.0 += 1;
            entry.1 += usize::from(trades[i].win() == Some(true));
        }
        for &i in &split.test {
            let t = &trades[i];
            let p_bucket = buckets
                .get(&t.trade.score_bucket())
                .map_or(base_rate, |&(n, w)| w as f64 / n as f64);
            predictions.push(Prediction {
                p_model: model.predict(&t.features),
                p_base_rate: base_rate,
                p_bucket,
                score: t.trade.score,
                rr: t.trade.rr,
                strategy: t.trade.strategy,
                win: t.win().unwrap_or(false),
                r: t.trade.r.unwrap_or(0.0),
            });
        }
        if let (Some(fold), Some(m)) = (folds.last_mut(), metrics(&predictions[first..])) {
            fold.skill_vs_base_rate = m.skill_vs_base_rate;
        }
    }
    let by_strategy = Strategy::ALL
        .iter()
        .filter_map(|&strategy| {
            let of_strategy: Vec<Prediction> = predictions
                .iter()
                .filter(|p| p.strategy == strategy)
                .copied()
                .collect();
            Some((strategy, metrics(&of_strategy)?))
        })
        .collect();
    Ok(SplitReport {
        name,
        folds,
        metrics: metrics(&predictions),
        by_strategy,
        predictions,
    })
}

/// The figures over a set of out-of-sample predictions; `None` when empty.
pub fn metrics(predictions: &[Prediction]) -> Option<Metrics> {
    if predictions.is_empty() {
        return None;
    }
    let n = predictions.len();
    let y: Vec<bool> = predictions.iter().map(|p| p.win).collect();
    let model: Vec<f64> = predictions.iter().map(|p| p.p_model).collect();
    let base: Vec<f64> = predictions.iter().map(|p| p.p_base_rate).collect();
    let bucket: Vec<f64> = predictions.iter().map(|p| p.p_bucket).collect();
    let score: Vec<f64> = predictions.iter().map(|p| p.score).collect();
    let brier_model = brier(&model, &y);
    let brier_base_rate = brier(&base, &y);
    let brier_buckets = brier(&bucket, &y);
    let skill = |reference: f64| (reference > 0.0).then(|| 1.0 - brier_model / reference);
    let mut by_p: Vec<&Prediction> = predictions.iter().collect();
    by_p.sort_by(|a, b| b.p_model.total_cmp(&a.p_model));
    let n_top = n.div_ceil(5);
    let top = &by_p[..n_top];
    let mut by_expected_r: Vec<&Prediction> = predictions.iter().collect();
    by_expected_r.sort_by(|a, b| b.expected_r().total_cmp(&a.expected_r()));
    Some(Metrics {
        n,
        win_rate: y.iter().filter(|w| **w).count() as f64 / n as f64,
        auc: auc(&model, &y),
        auc_score: auc(&score, &y),
        brier: brier_model,
        brier_base_rate,
        brier_buckets,
        skill_vs_base_rate: skill(brier_base_rate),
        skill_vs_buckets: skill(brier_buckets),
        reliability: reliability(&model, &y, 10),
        avg_r_all: predictions.iter().map(|p| p.r).sum::<f64>() / n as f64,
        avg_r_top_fifth: top.iter().map(|p| p.r).sum::<f64>() / n_top as f64,
        win_rate_top_fifth: top.iter().filter(|p| p.win).count() as f64 / n_top as f64,
        n_top_fifth: n_top,
        avg_r_top_fifth_by_expected_r: by_expected_r[..n_top].iter().map(|p| p.r).sum::<f64>()
            / n_top as f64,
    })
}

/// The area under the ROC curve: the probability that a random win is
/// ranked above a random loss (ties count half). `None` without both.
pub fn auc(p: &[f64], y: &[bool]) -> Option<f64> {
    let positives = y.iter().filter(|w| **w).count();
    let negatives = y.len() - positives;
    if positives == 0 || negatives == 0 {
        return None;
    }
    let mut order: Vec<usize> = (0..p.len()).collect();
    order.sort_by(|&a, &b| p[a].total_cmp(&p[b]));
    // Sum of the (tie-averaged, 1-based) ranks of the wins.
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && p[order[j + 1]] == p[order[i]] {
            j += 1;
        }
        let average_rank = (i + j) as f64 / 2.0 + 1.0;
        rank_sum += average_rank * order[i..=j].iter().filter(|&&k| y[k]).count() as f64;
        i = j + 1;
    }
    let (pos, neg) = (positives as f64, negatives as f64);
    Some((rank_sum - pos * (pos + 1.0) / 2.0) / (pos * neg))
}

/// The mean squared difference between probability and outcome (0: perfect).
pub fn brier(p: &[f64], y: &[bool]) -> f64 {
    if p.is_empty() {
        return 0.0;
    }
    p.iter()
        .zip(y)
        .map(|(p, &w)| (p - if w { 1.0 } else { 0.0 }).powi(2))
        .sum::<f64>()
        / p.len() as f64
}

/// Predictions sorted by probability, cut into `bins` groups of (nearly)
/// equal count: each group's mean probability against its win rate.
pub fn reliability(p: &[f64], y: &[bool], bins: usize) -> Vec<ReliabilityRow> {
    let mut order: Vec<usize> = (0..p.len()).collect();
    order.sort_by(|&a, &b| p[a].total_cmp(&p[b]).then(a.cmp(&b)));
    let n = order.len();
    let bins = bins.min(n);
    (0..bins)
        .map(|k| {
            let group = &order[k * n / bins..(k + 1) * n / bins];
            let count = group.len() as f64;
            ReliabilityRow {
                count: group.len(),
                p_min: p[group[0]],
                p_max: p[group[group.len() - 1]],
                predicted: group.iter().map(|&i| p[i]).sum::<f64>() / count,
                observed: group.iter().filter(|&&i| y[i]).count() as f64 / count,
            }
        })
        .collect()
}

/// A Unix-ms time as its UTC day (`2024-08-01`).
fn format_day(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|d| d.format("%Y-%m-%d").to_string())
        .unwrap_or_else(|| ms.to_string())
}

fn opt(v: Option<f64>, digits: usize) -> String {
    v.map_or_else(|| "n/a".to_string(), |v| format!("{v:.digits$}"))
}

impl fmt::Display for SplitReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "== {} ==", self.name)?;
        writeln!(
            f,
            "{:<24} {:>7} {:>7} {:>7} {:>7} {:>6} {:>8}",
            "fold (tested)", "train", "test", "purged", "scored", "l2", "skill"
        )?;
        for fold in &self.folds {
            writeln!(
                f,
                "{:<24} {:>7} {:>7} {:>7} {:>7} {:>6} {:>8}",
                fold.label,
                fold.train,
                fold.test,
                fold.purged,
                if fold.scored { "yes" } else { "no" },
                fold.l2.map_or_else(|| "-".to_string(), |l2| l2.to_string()),
                opt(fold.skill_vs_base_rate, 4)
            )?;
        }
        let Some(m) = &self.metrics else {
            return writeln!(f, "no fold had enough training trades: nothing scored");
        };
        writeln!(
            f,
            "out of sample: {} trades, win rate {:.3}",
            m.n, m.win_rate
        )?;
        writeln!(
            f,
            "AUC {} (the score alone: {})",
            opt(m.auc, 3),
            opt(m.auc_score, 3)
        )?;
        writeln!(
            f,
            "Brier {:.4} | base rate {:.4} (skill {}) | score buckets {:.4} (skill {})",
            m.brier,
            m.brier_base_rate,
            opt(m.skill_vs_base_rate, 4),
            m.brier_buckets,
            opt(m.skill_vs_buckets, 4)
        )?;
        writeln!(
            f,
            "avg R: all {:.3} | top fifth by P(win) {:.3} ({} trades, win rate {:.3})",
            m.avg_r_all, m.avg_r_top_fifth, m.n_top_fifth, m.win_rate_top_fifth
        )?;
        writeln!(
            f,
            "avg R: top fifth by expected R (P * RR - (1 - P)) {:.3}",
            m.avg_r_top_fifth_by_expected_r
        )?;
        writeln!(
            f,
            "{:<8} {:>6} {:>15} {:>10} {:>9}",
            "decile", "count", "P range", "predicted", "observed"
        )?;
        for (k, row) in m.reliability.iter().enumerate() {
            writeln!(
                f,
                "{:<8} {:>6} {:>7.3}-{:<7.3} {:>10.3} {:>9.3}",
                k + 1,
                row.count,
                row.p_min,
                row.p_max,
                row.predicted,
                row.observed
            )?;
        }
        writeln!(
            f,
            "{:<11} {:>6} {:>9} {:>6} {:>11} {:>14} {:>7} {:>11}",
            "strategy",
            "trades",
            "win rate",
            "AUC",
            "skill base",
            "skill buckets",
            "avg R",
            "top-5th R"
        )?;
        for (strategy, s) in &self.by_strategy {
            writeln!(
                f,
                "{:<11} {:>6} {:>9.3} {:>6} {:>11} {:>14} {:>7.3} {:>11.3}",
                strategy.as_str(),
                s.n,
                s.win_rate,
                opt(s.auc, 3),
                opt(s.skill_vs_base_rate, 4),
                opt(s.skill_vs_buckets, 4),
                s.avg_r_all,
                s.avg_r_top_fifth
            )?;
        }
        let verdict = match m.skill_vs_base_rate {
            Some(s) if s > 0.0 => "skill over the base rate out of sample",
            _ => "NO SKILL out of sample (Brier skill <= 0 against the base rate)",
        };
        writeln!(f, "verdict: {verdict}")
    }
}

impl fmt::Display for QualityReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "[MODEL] logistic regression (L2, penalty chosen per fold on its training trades) on {} features; {} closed trades, {} wins ({:.3}); embargo {} h",
            FEATURE_NAMES.len(),
            self.trades,
            self.wins,
            if self.trades > 0 {
                self.wins as f64 / self.trades as f64
            } else {
                0.0
            },
            self.embargo_ms / 3_600_000
        )?;
        writeln!(f, "{}", self.walk_forward)?;
        writeln!(f, "{}", self.leave_symbols_out)?;
        writeln!(
            f,
            "strongest features (fit on all trades; weight per standard deviation, in log-odds):"
        )?;
        for (name, w) in self.strongest_features.iter().take(10) {
            writeln!(f, "  {name:<24} {w:+.3}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quality::features::{Features, FEATURES};
    use crate::quality::model::tests::Rng;
    use quantpro_model::fixtures::sample_trade;
    use quantpro_model::Outcome;

    const HOUR: i64 = 3_600_000;

    /// A closed trade of `asset` whose signal came at `opened_at` and that
    /// resolved `life` later, won or lost, with these features.
    fn labelled(
        asset: &str,
        opened_at: i64,
        life: i64,
        win: bool,
        features: Features,
    ) -> LabelledTrade {
        let mut trade = sample_trade();
        trade.symbol = format!("{asset}USDT");
        trade.opened_at = opened_at;
        trade.closed_at = Some(opened_at + life);
        trade.outcome = if win { Outcome::Win } else { Outcome::Loss };
        trade.r = Some(if win { 2.0 } else { -1.0 });
        trade.score = 60.0;
        LabelledTrade {
            trade,
            asset: asset.to_string(),
            features,
        }
    }

    /// `n` trades over ~`n` hours on 6 assets; feature 0 is `signal` (a
    /// value whose sign, with some noise, sets the label when `informative`),
    /// the rest are noise.
    fn sample(n: usize, informative: bool, seed: u64) -> Vec<LabelledTrade> {
        let mut rng = Rng(seed);
        (0..n)
            .map(|i| {
                let mut f = [0.0; FEATURES];
                for v in f.iter_mut() {
                    *v = rng.normal();
                }
                let win = if informative {
                    f[0] + 0.3 * rng.normal() > 0.0
                } else {
                    rng.uniform() < 0.4
                };
                let asset = ["BTC", "ETH", "SOL", "XRP", "DOGE", "AVAX"][i % 6];
                let life = (1 + (rng.next_u64() % 12) as i64) * HOUR;
                labelled(asset, i as i64 * HOUR, life, win, f)
            })
            .collect()
    }

    fn options() -> EvaluationOptions {
        EvaluationOptions::for_track(&TrackConfig::default())
    }

    #[test]
    fn auc_and_brier_by_hand() {
        assert_eq!(
            auc(&[0.1, 0.2, 0.8, 0.9], &[false, false, true, true]),
            Some(1.0)
        );
        assert_eq!(
            auc(&[0.9, 0.8, 0.2, 0.1], &[false, false, true, true]),
            Some(0.0)
        );
        assert_eq!(auc(&[0.5; 4], &[false, true, false, true]), Some(0.5));
        // Wins at 0.3 and 0.7, losses at 0.2 and 0.7: pairs (0.3>0.2)=1, (0.3<0.7)=0, (0.7>0.2)=1, tie=0.5.
        assert_eq!(
            auc(&[0.3, 0.7, 0.2, 0.7], &[true, true, false, false]),
            Some(0.625)
        );
        assert_eq!(auc(&[0.3, 0.4], &[true, true]), None);
        assert!((brier(&[0.8, 0.3], &[true, false]) - (0.04 + 0.09) / 2.0).abs() < 1e-15);
    }

    #[test]
    fn the_top_fifth_is_taken_by_probability_and_by_expected_r() {
        let prediction = |p_model: f64, rr: f64, r: f64| Prediction {
            p_model,
            p_base_rate: 0.5,
            p_bucket: 0.5,
            score: 50.0,
            rr,
            strategy: Strategy::Legacy,
            win: r > 0.0,
            r,
        };
        // Five trades: the likeliest (0.9) is a small win, the best expected R (0.5 * 5 - 0.5 = 2) a big one.
        let predictions = [
            prediction(0.9, 0.5, 0.5),
            prediction(0.5, 5.0, 5.0),
            prediction(0.2, 1.0, -1.0),
            prediction(0.3, 1.0, -1.0),
            prediction(0.4, 1.0, 1.0),
        ];
        let m = metrics(&predictions).unwrap();
        assert_eq!(m.n_top_fifth, 1);
        assert_eq!(m.avg_r_top_fifth, 0.5);
        assert_eq!(m.avg_r_top_fifth_by_expected_r, 5.0);
        assert!((m.avg_r_all - 0.9).abs() < 1e-12);
        assert_eq!(m.win_rate_top_fifth, 1.0);
    }

    #[test]
    fn reliability_cuts_deciles_of_equal_count() {
        let p: Vec<f64> = (0..25).map(|i| i as f64 / 25.0).collect();
        let y: Vec<bool> = (0..25).map(|i| i >= 20).collect();
        let rows = reliability(&p, &y, 10);
        assert_eq!(rows.len(), 10);
        assert_eq!(rows.iter().map(|r| r.count).sum::<usize>(), 25);
        assert!(rows.windows(2).all(|w| w[0].p_max <= w[1].p_min));
        assert_eq!(rows[0].observed, 0.0);
        assert_eq!(rows[9].observed, 1.0);
        assert_eq!(rows[9].count, 3);
    }

    #[test]
    fn purging_drops_trades_that_overlap_the_test_window_or_its_embargo() {
        let f = [0.0; FEATURES];
        // Eight signals: the test window of fold 1 of 1 starts at the fifth (60 h + 15 min).
        let trades = vec![
            labelled("BTC", 0, 10 * HOUR, true, f), // resolved at 10 h: trains
            labelled("BTC", 20 * HOUR, 41 * HOUR, false, f), // resolved at 61 h: overlaps the test, purged
            labelled("ETH", 30 * HOUR, 15 * HOUR, true, f), // resolved at 45 h: inside the 24 h embargo, purged
            labelled("ETH", 25 * HOUR, 4 * HOUR, false, f), // resolved at 29 h: trains
            labelled("SOL", 60 * HOUR, 2 * HOUR, true, f),  // tested
            labelled("SOL", 70 * HOUR, 2 * HOUR, true, f),  // tested
            labelled("XRP", 80 * HOUR, 2 * HOUR, false, f), // tested
            labelled("XRP", 100 * HOUR, 2 * HOUR, true, f), // tested
        ];
        let splits = walk_forward_splits(&trades, 1, 24 * HOUR);
        assert_eq!(splits.len(), 1);
        let split = &splits[0];
        assert_eq!(split.train, [0, 3]);
        assert_eq!(split.test, [4, 5, 6, 7]);
        assert_eq!(split.purged, 2);
        // Without an embargo only the overlapping trade is purged.
        let split = &walk_forward_splits(&trades, 1, 0)[0];
        assert_eq!(split.train, [0, 2, 3]);
        assert_eq!(split.purged, 1);
        // Windows of equal count, whatever the gaps in time.
        let mut far = trades.clone();
        for t in &mut far[4..] {
            t.trade.opened_at += 10_000 * HOUR;
            t.trade.closed_at = t.trade.closed_at.map(|c| c + 10_000 * HOUR);
        }
        let splits = walk_forward_splits(&far, 3, 0);
        assert_eq!(
            splits.iter().map(|s| s.test.len()).collect::<Vec<_>>(),
            [2, 2, 2]
        );
        // No test trade overlaps a training trade's life, in every fold of a larger sample.
        let trades = sample(600, false, 5);
        for split in walk_forward_splits(&trades, 5, 24 * HOUR) {
            let first_test = split
                .test
                .iter()
                .map(|&i| trades[i].signal_at())
                .min()
                .unwrap();
            for &i in &split.train {
                assert!(trades[i].resolved_at().unwrap() + 24 * HOUR <= first_test);
            }
        }
    }

    #[test]
    fn leave_symbols_out_never_tests_an_asset_it_trained_on() {
        let trades = sample(300, false, 9);
        let splits = symbol_splits(&trades, 4);
        assert_eq!(splits.len(), 4);
        let mut tested = 0;
        for split in &splits {
            let train: BTreeSet<&str> = split.train.iter().map(|&i| &*trades[i].asset).collect();
            let test: BTreeSet<&str> = split.test.iter().map(|&i| &*trades[i].asset).collect();
            assert!(train.is_disjoint(&test), "{train:?} / {test:?}");
            assert_eq!(split.train.len() + split.test.len(), trades.len());
            tested += split.test.len();
        }
        assert_eq!(tested, trades.len(), "every trade is tested once");
        // 6 assets in 4 folds: 2, 2, 1, 1, named.
        assert_eq!(splits[0].label, "AVAX,SOL");
        let many: Vec<LabelledTrade> = (0..10)
            .map(|i| {
                labelled(
                    &format!("A{i}"),
                    i * HOUR,
                    HOUR,
                    i % 2 == 0,
                    [0.0; FEATURES],
                )
            })
            .collect();
        assert_eq!(symbol_splits(&many, 2)[0].label, "A0,A2,A4 +2");
    }

    #[test]
    fn a_feature_that_sets_the_label_gives_auc_near_one_and_skill() {
        let trades = sample(2000, true, 1);
        let report = evaluate(&trades, &options()).unwrap();
        for split in [&report.walk_forward, &report.leave_symbols_out] {
            let m = split.metrics.as_ref().unwrap();
            assert!(m.auc.unwrap() > 0.95, "{}: AUC {:?}", split.name, m.auc);
            assert!(m.skill_vs_base_rate.unwrap() > 0.5, "{split}");
            assert!(m.skill_vs_buckets.unwrap() > 0.5, "{split}");
            assert!(m.avg_r_top_fifth > m.avg_r_all + 1.0, "{split}");
            let last = m.reliability.last().unwrap();
            assert!(last.observed > 0.9 && m.reliability[0].observed < 0.1);
        }
        assert_eq!(report.strongest_features[0].0, FEATURE_NAMES[0]);
        // The sample trades are all Legacy: one strategy row with every trade.
        let by_strategy = &report.walk_forward.by_strategy;
        assert_eq!(by_strategy.len(), 1);
        assert_eq!(
            by_strategy[&Strategy::Legacy].n,
            report.walk_forward.metrics.as_ref().unwrap().n
        );
    }

    #[test]
    fn pure_noise_gives_auc_near_half_and_no_skill() {
        let trades = sample(2000, false, 2);
        let report = evaluate(&trades, &options()).unwrap();
        for split in [&report.walk_forward, &report.leave_symbols_out] {
            let m = split.metrics.as_ref().unwrap();
            assert!((m.auc.unwrap() - 0.5).abs() < 0.06, "{split}");
            assert!(m.skill_vs_base_rate.unwrap() < 0.005, "{split}");
            assert!(split.to_string().contains("NO SKILL"), "{split}");
        }
    }

    #[test]
    fn shuffled_labels_lose_the_skill() {
        let mut trades = sample(2000, true, 3);
        // Shuffle the outcomes across trades (Fisher-Yates): the features no longer tell them.
        let mut rng = Rng(77);
        for i in (1..trades.len()).rev() {
            let j = (rng.next_u64() % (i as u64 + 1)) as usize;
            let (a, b) = (trades[i].trade.clone(), trades[j].trade.clone());
            trades[i].trade.r = b.r;
            trades[i].trade.outcome = b.outcome;
            trades[j].trade.r = a.r;
            trades[j].trade.outcome = a.outcome;
        }
        let report = evaluate(&trades, &options()).unwrap();
        let m = report.walk_forward.metrics.as_ref().unwrap();
        assert!(
            (m.auc.unwrap() - 0.5).abs() < 0.06,
            "{}",
            report.walk_forward
        );
        assert!(m.skill_vs_base_rate.unwrap() < 0.005);
    }

    #[test]
    fn too_little_training_scores_nothing_and_says_so() {
        let trades = sample(40, true, 4);
        let report = evaluate(&trades, &options()).unwrap();
        assert!(report.walk_forward.metrics.is_none());
        assert!(report.walk_forward.folds.iter().all(|f| !f.scored));
        assert!(report.walk_forward.to_string().contains("nothing scored"));
        assert!(evaluate(&[], &options())
            .unwrap()
            .walk_forward
            .folds
            .is_empty());
    }

    #[test]
    fn the_penalty_is_chosen_on_the_training_trades() {
        let options = options();
        let noise = sample(1500, false, 12);
        let all: Vec<usize> = (0..noise.len()).collect();
        // On noise every weight hurts: the heaviest penalty wins.
        assert_eq!(choose_l2(&noise, &all, &options).unwrap(), 1000.0);
        // A feature that sets the label is worth keeping: a light one.
        let signal = sample(1500, true, 13);
        assert!(choose_l2(&signal, &all, &options).unwrap() <= 10.0);
        // With no grid, the fixed penalty.
        let fixed = EvaluationOptions {
            l2_grid: vec![],
            ..options.clone()
        };
        assert_eq!(choose_l2(&noise, &all, &fixed).unwrap(), 1.0);
        // Each scored fold records its choice.
        let report = evaluate(&noise, &options).unwrap();
        assert!(report
            .walk_forward
            .folds
            .iter()
            .all(|f| f.scored == f.l2.is_some()));
    }

    #[test]
    fn the_same_trades_give_the_same_report() {
        let trades = sample(500, true, 6);
        assert_eq!(
            evaluate(&trades, &options()).unwrap(),
            evaluate(&trades, &options()).unwrap()
        );
    }
}
