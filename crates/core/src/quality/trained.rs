//! The model file: the fitted logistic regression with what a signal's
//! `quality` needs to cite it (id, training time, training trades) and the
//! out-of-sample figures it earned (so a model without skill says so
//! wherever it is shown).

use super::evaluate::{evaluate, fit_chosen, EvaluationOptions, QualityReport};
use super::features::{Features, LabelledTrade};
use super::model::{FitError, LogisticModel};
use serde::{Deserialize, Serialize};

/// A trained signal-quality model, as `quantpro model train` writes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QualityModel {
    /// `logit-` and a hash of the fitted parameters: the same data gives the same id.
    pub model_id: String,
    /// Unix ms.
    pub trained_at: i64,
    pub n_train: usize,
    pub logistic: LogisticModel,
    pub walk_forward: Option<OutOfSampleSummary>,
    pub leave_symbols_out: Option<OutOfSampleSummary>,
}

/// The headline out-of-sample figures of one split (docs/QUALITY.md).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutOfSampleSummary {
    pub n: usize,
    pub auc: Option<f64>,
    pub brier: f64,
    pub skill_vs_base_rate: Option<f64>,
    pub skill_vs_buckets: Option<f64>,
    pub avg_r_all: f64,
    pub avg_r_top_fifth: f64,
    pub avg_r_top_fifth_by_expected_r: f64,
}

impl QualityModel {
    /// The probability that a signal with these features wins.
    pub fn p_win(&self, features: &Features) -> f64 {
        self.logistic.predict(features)
    }

    /// Whether the model beat the base rate out of sample (walk-forward
    /// Brier skill > 0): without it, it must not sort or filter anything.
    pub fn has_skill(&self) -> bool {
        self.walk_forward
            .as_ref()
            .and_then(|s| s.skill_vs_base_rate)
            .is_some_and(|s| s > 0.0)
    }
}

/// The `quality` of an acting signal under `model`, from the context it
/// was computed from; `None` for a WAIT or when its features cannot be
/// taken at its close.
pub fn signal_quality(
    model: &QualityModel,
    signal: &quantpro_model::Signal,
    ctx: &crate::context::SharedContext,
) -> Option<quantpro_model::SignalQuality> {
    if signal.action == quantpro_model::Action::Wait {
        return None;
    }
    let features = super::features::signal_features(signal, ctx).ok()?;
    Some(quantpro_model::SignalQuality {
        p_win: model.p_win(&features),
        model_id: model.model_id.clone(),
        trained_at: model.trained_at,
        n_train: model.n_train,
        skill: model
            .walk_forward
            .as_ref()
            .and_then(|s| s.skill_vs_base_rate),
    })
}

/// Evaluates the model on the closed trades `trades`, then fits it on all
/// of them. Returns the model and the full evaluation.
pub fn train(
    trades: &[LabelledTrade],
    options: &EvaluationOptions,
    trained_at: i64,
) -> Result<(QualityModel, QualityReport), FitError> {
    let report = evaluate(trades, options)?;
    let logistic = fit_chosen(trades, &(0..trades.len()).collect::<Vec<_>>(), options)?;
    let summary = |m: Option<&super::evaluate::Metrics>| {
        m.map(|m| OutOfSampleSummary {
            n: m.n,
            auc: m.auc,
            brier: m.brier,
            skill_vs_base_rate: m.skill_vs_base_rate,
            skill_vs_buckets: m.skill_vs_buckets,
            avg_r_all: m.avg_r_all,
            avg_r_top_fifth: m.avg_r_top_fifth,
            avg_r_top_fifth_by_expected_r: m.avg_r_top_fifth_by_expected_r,
        })
    };
    let model = QualityModel {
        model_id: model_id(&logistic),
        trained_at,
        n_train: logistic.n_train,
        walk_forward: summary(report.walk_forward.metrics.as_ref()),
        leave_symbols_out: summary(report.leave_symbols_out.metrics.as_ref()),
        logistic,
    };
    Ok((model, report))
}

/// `logit-` and the FNV-1a hash of the parameters' bits.
fn model_id(model: &LogisticModel) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let values = [model.intercept]
        .into_iter()
        .chain(model.weights.iter().copied())
        .chain(model.mean.iter().copied())
        .chain(model.scale.iter().copied());
    for v in values {
        for byte in v.to_bits().to_le_bytes() {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("logit-{hash:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quality::features::FEATURES;
    use crate::quality::model::tests::Rng;
    use quantpro_model::{fixtures::sample_trade, Outcome, TrackConfig};

    fn trades(n: usize, seed: u64) -> Vec<LabelledTrade> {
        let mut rng = Rng(seed);
        (0..n)
            .map(|i| {
                let mut features = [0.0; FEATURES];
                for v in features.iter_mut() {
                    *v = rng.normal();
                }
                let win = features[3] + rng.normal() > 0.0;
                let mut trade = sample_trade();
                trade.opened_at = i as i64 * 3_600_000;
                trade.closed_at = Some(trade.opened_at + 3_600_000);
                trade.outcome = if win { Outcome::Win } else { Outcome::Loss };
                trade.r = Some(if win { 1.5 } else { -1.0 });
                LabelledTrade {
                    trade,
                    asset: ["BTC", "ETH", "SOL"][i % 3].to_string(),
                    features,
                }
            })
            .collect()
    }

    #[test]
    fn training_is_deterministic_and_the_file_loads_elsewhere() {
        let data = trades(600, 1);
        let options = EvaluationOptions::for_track(&TrackConfig::default());
        let (a, _) = train(&data, &options, 1_700_000_000_000).unwrap();
        let (b, _) = train(&data, &options, 1_700_000_000_000).unwrap();
        assert_eq!(a, b);
        assert!(a.model_id.starts_with("logit-") && a.model_id.len() == 22);
        assert_eq!(a.n_train, 600);
        assert!(a.has_skill(), "{:?}", a.walk_forward);
        // What one machine writes, another reads and scores the same (to
        // 1e-12: serde_json may read a float back one unit in the last place off).
        let json = serde_json::to_string_pretty(&a).unwrap();
        let loaded: QualityModel = serde_json::from_str(&json).unwrap();
        assert_eq!(
            (&loaded.model_id, loaded.trained_at, loaded.n_train),
            (&a.model_id, a.trained_at, a.n_train)
        );
        assert_eq!(loaded.has_skill(), a.has_skill());
        for t in &data {
            assert!((loaded.p_win(&t.features) - a.p_win(&t.features)).abs() < 1e-12);
        }
        // Other data, another id.
        let (c, _) = train(&trades(600, 2), &options, 1_700_000_000_000).unwrap();
        assert_ne!(c.model_id, a.model_id);
    }
}
