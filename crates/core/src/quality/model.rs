//! The baseline signal-quality model: an L2-regularised logistic regression
//! of "the trade wins" (R > 0) on a signal's features, fitted by Newton's
//! method (iteratively reweighted least squares) on standardised features.
//!
//! Written here rather than taken from a crate: the fit is a few dozen
//! lines of arithmetic over at most a few dozen features (a Cholesky solve
//! per step), while linfa-logistic or smartcore would add a linear-algebra
//! stack (ndarray and argmin, or smartcore's own) that nothing else in the
//! workspace uses. The tests hold the fit to known answers.
//!
//! The model is deterministic: the same rows in the same order give the
//! same weights, bit for bit (no random start, no threads).

use serde::{Deserialize, Serialize};

/// How a model is fitted.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FitOptions {
    /// The L2 penalty on the (standardised) weights; the intercept is not
    /// penalised. 1.0 shrinks a little; more shrinks every probability
    /// toward the training win rate.
    pub l2: f64,
    /// Newton steps at most.
    pub max_iter: usize,
    /// The fit stops when no parameter moves by more than this.
    pub tol: f64,
}

impl Default for FitOptions {
    fn default() -> FitOptions {
        FitOptions {
            l2: 1.0,
            max_iter: 100,
            tol: 1e-9,
        }
    }
}

/// Why a model could not be fitted.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FitError {
    #[error("no training rows")]
    Empty,
    #[error("{rows} rows but {labels} labels")]
    Labels { rows: usize, labels: usize },
    #[error("row {row} has {len} features, the model {expected}")]
    Ragged {
        row: usize,
        len: usize,
        expected: usize,
    },
    #[error("row {row}, feature {feature} is not a finite number")]
    NotFinite { row: usize, feature: usize },
    #[error("the L2 penalty must be positive and finite (got {0})")]
    Penalty(f64),
}

/// A fitted logistic regression: `p = 1 / (1 + exp(-(b + w . z)))` where
/// `z_j = (x_j - mean_j) / scale_j`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogisticModel {
    pub feature_names: Vec<String>,
    /// Each feature's mean over the training rows.
    pub mean: Vec<f64>,
    /// Each feature's standard deviation over the training rows (1 for a
    /// constant feature, whose weight the penalty then keeps at 0).
    pub scale: Vec<f64>,
    pub intercept: f64,
    /// Weights of the standardised features: comparable with each other
    /// (the change in log-odds for one standard deviation).
    pub weights: Vec<f64>,
    pub l2: f64,
    /// Training rows and their win rate.
    pub n_train: usize,
    pub train_win_rate: f64,
    /// Newton steps taken.
    pub iterations: usize,
}

impl LogisticModel {
    /// Fits the model to `rows` (one feature vector each, all the length
    /// of `feature_names`) and their labels.
    pub fn fit<R: AsRef<[f64]>>(
        feature_names: &[&str],
        rows: &[R],
        labels: &[bool],
        options: FitOptions,
    ) -> Result<LogisticModel, FitError> {
        let d = feature_names.len();
        if rows.is_empty() {
            return Err(FitError::Empty);
        }
        if rows.len() != labels.len() {
            return Err(FitError::Labels {
                rows: rows.len(),
                labels: labels.len(),
            });
        }
        if !(options.l2 > 0.0 && options.l2.is_finite()) {
            return Err(FitError::Penalty(options.l2));
        }
        for (row, x) in rows.iter().enumerate() {
            let x = x.as_ref();
            if x.len() != d {
                return Err(FitError::Ragged {
                    row,
                    len: x.len(),
                    expected: d,
                });
            }
            if let Some(feature) = x.iter().position(|v| !v.is_finite()) {
                return Err(FitError::NotFinite { row, feature });
            }
        }
        let n = rows.len() as f64;
        let mut mean = vec![0.0; d];
        for x in rows {
            for (m, v) in mean.iter_mut().zip(x.as_ref()) {
                *m += v;
            }
        }
        for m in &mut mean {
            *m /= n;
        }
        let mut scale = vec![0.0; d];
        for x in rows {
            for ((s, v), m) in scale.iter_mut().zip(x.as_ref()).zip(&mean) {
                *s += (v - m) * (v - m);
            }
        }
        for s in &mut scale {
            let variance = *s / n;
            *s = if variance > 1e-24 {
                variance.sqrt()
            } else {
                1.0
            };
        }
        // The design matrix with a leading 1 (the intercept), row-major.
        let k = d + 1;
        let mut z = Vec::with_capacity(rows.len() * k);
        for x in rows {
            z.push(1.0);
            for ((v, m), s) in x.as_ref().iter().zip(&mean).zip(&scale) {
                z.push((v - m) / s);
            }
        }
        let y: Vec<f64> = labels.iter().map(|&w| if w { 1.0 } else { 0.0 }).collect();
        let wins = y.iter().sum::<f64>();
        // Start at the training win rate (clamped so the log-odds are finite).
        let rate = (wins / n).clamp(1e-6, 1.0 - 1e-6);
        let mut beta = vec![0.0; k];
        beta[0] = (rate / (1.0 - rate)).ln();
        let mut loss = penalised_loss(&z, &y, &beta, options.l2);
        let mut iterations = 0;
        for _ in 0..options.max_iter {
            iterations += 1;
            let (grad, hess) = gradient_and_hessian(&z, &y, &beta, options.l2);
            let Some(step) = solve_spd(hess, &grad) else {
                break;
            };
            // Newton's step, halved until the penalised loss does not grow.
            let mut t = 1.0;
            let mut accepted = None;
            for _ in 0..30 {
                let trial: Vec<f64> = beta.iter().zip(&step).map(|(b, s)| b - t * s).collect();
                let trial_loss = penalised_loss(&z, &y, &trial, options.l2);
                if trial_loss <= loss + 1e-12 * loss.abs().max(1.0) {
                    accepted = Some((trial, trial_loss));
                    break;
                }
                t /= 2.0;
            }
            let Some((next, next_loss)) = accepted else {
                break;
            };
            let moved = beta
                .iter()
                .zip(&next)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f64::max);
            beta = next;
            loss = next_loss;
            if moved < options.tol {
                break;
            }
        }
        Ok(LogisticModel {
            feature_names: feature_names.iter().map(|s| s.to_string()).collect(),
            mean,
            scale,
            intercept: beta[0],
            weights: beta[1..].to_vec(),
            l2: options.l2,
            n_train: rows.len(),
            train_win_rate: wins / n,
            iterations,
        })
    }

    /// The probability that a signal with these features wins.
    ///
    /// # Panics
    /// When `features` is not as long as the model's feature list.
    pub fn predict(&self, features: &[f64]) -> f64 {
        assert_eq!(
            features.len(),
            self.weights.len(),
            "the model reads {} features",
            self.weights.len()
        );
        let logit = self.intercept
            + features
                .iter()
                .zip(&self.mean)
                .zip(&self.scale)
                .zip(&self.weights)
                .map(|(((v, m), s), w)| w * (v - m) / s)
                .sum::<f64>();
        sigmoid(logit)
    }

    /// The features by the size of their standardised weight, largest
    /// first: what moves the probability most for one standard deviation.
    pub fn strongest_features(&self) -> Vec<(&str, f64)> {
        let mut out: Vec<(&str, f64)> = self
            .feature_names
            .iter()
            .map(String::as_str)
            .zip(self.weights.iter().copied())
            .collect();
        out.sort_by(|a, b| b.1.abs().total_cmp(&a.1.abs()).then(a.0.cmp(b.0)));
        out
    }
}

/// The logistic function without overflow for large |x|.
pub fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

/// `log(1 + exp(x))` without overflow.
fn softplus(x: f64) -> f64 {
    if x > 0.0 {
        x + (-x).exp().ln_1p()
    } else {
        x.exp().ln_1p()
    }
}

/// Negative log-likelihood plus `l2 / 2 * |w|^2` (the intercept is free).
fn penalised_loss(z: &[f64], y: &[f64], beta: &[f64], l2: f64) -> f64 {
    let k = beta.len();
    let nll: f64 = z
        .chunks_exact(k)
        .zip(y)
        .map(|(row, &yi)| {
            let eta: f64 = row.iter().zip(beta).map(|(a, b)| a * b).sum();
            softplus(eta) - yi * eta
        })
        .sum();
    nll + 0.5 * l2 * beta[1..].iter().map(|b| b * b).sum::<f64>()
}

/// The gradient and the Hessian (k x k, row-major) of [`penalised_loss`].
fn gradient_and_hessian(z: &[f64], y: &[f64], beta: &[f64], l2: f64) -> (Vec<f64>, Vec<f64>) {
    let k = beta.len();
    let mut grad = vec![0.0; k];
    let mut hess = vec![0.0; k * k];
    for (row, &yi) in z.chunks_exact(k).zip(y) {
        let eta: f64 = row.iter().zip(beta).map(|(a, b)| a * b).sum();
        let p = sigmoid(eta);
        let w = p * (1.0 - p);
        for a in 0..k {
            grad[a] += (p - yi) * row[a];
            let wa = w * row[a];
            for b in 0..=a {
                hess[a * k + b] += wa * row[b];
            }
        }
    }
    for a in 0..k {
        for b in 0..a {
            hess[b * k + a] = hess[a * k + b];
        }
    }
    for j in 1..k {
        grad[j] += l2 * beta[j];
        hess[j * k + j] += l2;
    }
    // The intercept's curvature can vanish on separable data: a tiny ridge keeps the solve defined.
    hess[0] += 1e-9;
    (grad, hess)
}

/// Solves `a x = b` for a symmetric positive definite `a` (n x n,
/// row-major) by Cholesky; `None` when `a` is not positive definite.
fn solve_spd(mut a: Vec<f64>, b: &[f64]) -> Option<Vec<f64>> {
    let n = b.len();
    for j in 0..n {
        let mut d = a[j * n + j];
        for k in 0..j {
            d -= a[j * n + k] * a[j * n + k];
        }
        if !(d > 0.0 && d.is_finite()) {
            return None;
        }
        let d = d.sqrt();
        a[j * n + j] = d;
        for i in j + 1..n {
            let mut s = a[i * n + j];
            for k in 0..j {
                s -= a[i * n + k] * a[j * n + k];
            }
            a[i * n + j] = s / d;
        }
    }
    let mut x = b.to_vec();
    for i in 0..n {
        for k in 0..i {
            x[i] -= a[i * n + k] * x[k];
        }
        x[i] /= a[i * n + i];
    }
    for i in (0..n).rev() {
        for k in i + 1..n {
            x[i] -= a[k * n + i] * x[k];
        }
        x[i] /= a[i * n + i];
    }
    Some(x)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A small deterministic generator (splitmix64) for synthetic data.
    pub(crate) struct Rng(pub u64);

    impl Rng {
        pub(crate) fn next_u64(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }

        /// Uniform in [0, 1).
        pub(crate) fn uniform(&mut self) -> f64 {
            (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
        }

        /// Standard normal (Box-Muller).
        pub(crate) fn normal(&mut self) -> f64 {
            let u = self.uniform().max(1e-300);
            let v = self.uniform();
            (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
        }
    }

    /// Rows of two standard-normal features with labels drawn from
    /// `sigmoid(b0 + b1 x1 + b2 x2)`.
    fn logistic_sample(n: usize, b: [f64; 3], seed: u64) -> (Vec<[f64; 2]>, Vec<bool>) {
        let mut rng = Rng(seed);
        let mut rows = Vec::with_capacity(n);
        let mut labels = Vec::with_capacity(n);
        for _ in 0..n {
            let x = [rng.normal(), rng.normal()];
            let p = sigmoid(b[0] + b[1] * x[0] + b[2] * x[1]);
            labels.push(rng.uniform() < p);
            rows.push(x);
        }
        (rows, labels)
    }

    #[test]
    fn recovers_the_coefficients_that_generated_the_labels() {
        let (rows, labels) = logistic_sample(20_000, [-0.5, 1.5, -0.8], 7);
        let model = LogisticModel::fit(
            &["a", "b"],
            &rows,
            &labels,
            FitOptions {
                l2: 1e-6,
                ..FitOptions::default()
            },
        )
        .unwrap();
        // Undo the standardisation: raw slope = w / scale, raw intercept = b - sum(w * mean / scale).
        let raw: Vec<f64> = model
            .weights
            .iter()
            .zip(&model.scale)
            .map(|(w, s)| w / s)
            .collect();
        let intercept = model.intercept
            - model
                .weights
                .iter()
                .zip(&model.mean)
                .zip(&model.scale)
                .map(|((w, m), s)| w * m / s)
                .sum::<f64>();
        assert!((raw[0] - 1.5).abs() < 0.08, "{raw:?}");
        assert!((raw[1] + 0.8).abs() < 0.06, "{raw:?}");
        assert!((intercept + 0.5).abs() < 0.06, "{intercept}");
        assert!(model.iterations < 20);
        assert_eq!(model.strongest_features()[0].0, "a");
    }

    #[test]
    fn the_gradient_vanishes_at_the_fit() {
        let (rows, labels) = logistic_sample(500, [0.3, 0.7, 0.0], 3);
        let l2 = 2.0;
        let model = LogisticModel::fit(
            &["a", "b"],
            &rows,
            &labels,
            FitOptions {
                l2,
                ..FitOptions::default()
            },
        )
        .unwrap();
        // d/dw_j: sum (p - y) z_j + l2 w_j = 0; d/db: sum (p - y) = 0.
        let mut grad = [0.0; 3];
        for (x, &y) in rows.iter().zip(&labels) {
            let p = model.predict(x);
            let r = p - if y { 1.0 } else { 0.0 };
            grad[0] += r;
            for j in 0..2 {
                grad[j + 1] += r * (x[j] - model.mean[j]) / model.scale[j];
            }
        }
        for j in 0..2 {
            grad[j + 1] += l2 * model.weights[j];
        }
        assert!(grad.iter().all(|g| g.abs() < 1e-6), "{grad:?}");
    }

    #[test]
    fn separable_data_stays_finite_and_a_constant_feature_gets_no_weight() {
        let rows: Vec<[f64; 2]> = (0..40).map(|i| [i as f64, 3.0]).collect();
        let labels: Vec<bool> = (0..40).map(|i| i >= 20).collect();
        let model = LogisticModel::fit(&["x", "c"], &rows, &labels, FitOptions::default()).unwrap();
        assert!(model.weights.iter().all(|w| w.is_finite()));
        assert!(model.weights[1].abs() < 1e-12, "{:?}", model.weights);
        assert!(model.predict(&[0.0, 3.0]) < 0.05);
        assert!(model.predict(&[39.0, 3.0]) > 0.95);
        assert!((model.predict(&[19.5, 3.0]) - 0.5).abs() < 1e-6);
    }

    #[test]
    fn the_same_rows_give_the_same_model_and_it_survives_json() {
        let (rows, labels) = logistic_sample(300, [0.1, 1.0, 0.5], 11);
        let a = LogisticModel::fit(&["a", "b"], &rows, &labels, FitOptions::default()).unwrap();
        let b = LogisticModel::fit(&["a", "b"], &rows, &labels, FitOptions::default()).unwrap();
        assert_eq!(a, b);
        // serde_json may read a float back one unit in the last place off: the same probabilities to 1e-12.
        let json = serde_json::to_string(&a).unwrap();
        let back: LogisticModel = serde_json::from_str(&json).unwrap();
        assert_eq!(back.feature_names, a.feature_names);
        for x in &rows {
            assert!((back.predict(x) - a.predict(x)).abs() < 1e-12);
        }
    }

    #[test]
    fn bad_input_is_refused() {
        let fit = |rows: &[Vec<f64>], labels: &[bool]| {
            LogisticModel::fit(&["a"], rows, labels, FitOptions::default())
        };
        assert_eq!(fit(&[], &[]), Err(FitError::Empty));
        assert!(matches!(
            fit(&[vec![1.0]], &[true, false]),
            Err(FitError::Labels { .. })
        ));
        assert!(matches!(
            fit(&[vec![1.0, 2.0]], &[true]),
            Err(FitError::Ragged { row: 0, .. })
        ));
        assert!(matches!(
            fit(&[vec![0.0], vec![f64::NAN]], &[true, false]),
            Err(FitError::NotFinite { row: 1, feature: 0 })
        ));
    }

    #[test]
    fn cholesky_solves_a_known_system() {
        // [[4, 2], [2, 3]] x = [2, 1] -> x = [0.5, 0]
        let x = solve_spd(vec![4.0, 2.0, 2.0, 3.0], &[2.0, 1.0]).unwrap();
        assert!((x[0] - 0.5).abs() < 1e-12 && x[1].abs() < 1e-12, "{x:?}");
        assert!(solve_spd(vec![1.0, 2.0, 2.0, 1.0], &[1.0, 1.0]).is_none());
    }
}
