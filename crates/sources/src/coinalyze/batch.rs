//! The scan's Coinalyze step: resolve every local symbol, fetch the four
//! hourly histories in batches of at most 20 Coinalyze symbols (one request
//! per batch and endpoint, served from the 1 h cache when possible), and hand
//! each local symbol its `ExternalData`. It never fails the scan: without a
//! key, or when Coinalyze fails, symbols get `ExternalData` with `None`s
//! (availability flags false) and the reason is logged once.

use super::cache::{BatchKey, ResponseCache};
use super::client::{CoinalyzeClient, HistoryBar, HistoryEndpoint, HistoryRange};
use super::resolver::{CoinalyzeResolver, Resolution, ResolutionKind};
use super::CoinalyzeConfig;
use crate::governor::{Budget, Governor, Host};
use crate::http::StatsSnapshot;
use crate::SourceError;
use quantpro_model::external::{ExternalData, ExternalDataMap, Liquidations, SymbolKey};
use quantpro_model::{Exchange, OiMetadata, OiStatus, StaleSeries};
use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// Coinalyze's interval name for the hourly bars the OI z-score uses.
const HOURLY: &str = "1hour";
const DAY_SECS: i64 = 24 * 3600;
/// The histories' bucket: hourly bars, the newest opening within the hour.
const BUCKET_SECS: i64 = 3600;
/// How late Coinalyze may publish a bucket. A value whose bar opened more
/// than one bucket plus this before "now" is not current: the signal gets
/// it as unavailable rather than, say, a two-year-old long/short ratio.
const FRESHNESS_TOLERANCE_SECS: i64 = 3600;

/// Histories by (endpoint, Coinalyze symbol), as fetched or cached.
pub type HistorySet = HashMap<(HistoryEndpoint, String), Vec<HistoryBar>>;

/// Fetches Coinalyze data for a scan; keep one per process (in
/// `SourceClients`) so the statistics span all scans. The quota is the
/// governor's, so it spans every scan whatever holds the processor.
pub struct BatchProcessor {
    config: CoinalyzeConfig,
    client: Option<CoinalyzeClient>,
    responses: ResponseCache,
    /// The governor's Coinalyze budget (40 symbol-calls per minute).
    quota: Budget,
}

/// "No key" is logged once per process, not once per scan or symbol.
static NO_KEY_LOGGED: AtomicBool = AtomicBool::new(false);

struct FetchOutcome {
    histories: HistorySet,
    batches: usize,
    failed_batches: usize,
    first_error: Option<SourceError>,
}

impl BatchProcessor {
    /// Without a key the processor still works: it returns unavailable data.
    pub fn new(
        config: CoinalyzeConfig,
        governor: &Arc<Governor>,
    ) -> Result<BatchProcessor, SourceError> {
        let quota = governor
            .limits(Host::Coinalyze)
            .budget
            .unwrap_or(Budget::per(u32::MAX, Duration::from_secs(60)));
        let client = match CoinalyzeClient::new(&config, governor) {
            Ok(client) => Some(client),
            Err(SourceError::NoKey { .. }) => None,
            Err(e) => return Err(e),
        };
        let responses =
            ResponseCache::new(&config.cache_dir.join("responses"), config.response_ttl);
        Ok(BatchProcessor {
            config,
            client,
            responses,
            quota,
        })
    }

    /// Successful, failed and cached requests so far.
    pub fn stats(&self) -> StatsSnapshot {
        self.client.as_ref().map(|c| c.stats()).unwrap_or_default()
    }

    /// External data for every `(exchange, symbol)`, at the current time.
    pub async fn process_symbols(&self, symbols: &[(Exchange, String)]) -> ExternalDataMap {
        self.process_symbols_at(symbols, quantpro_model::now_ms() / 1000)
            .await
    }

    /// [`BatchProcessor::process_symbols`] with `now` in Unix seconds (the
    /// end of the history range and of the 24 h liquidation window).
    pub async fn process_symbols_at(
        &self,
        symbols: &[(Exchange, String)],
        now_secs: i64,
    ) -> ExternalDataMap {
        let Some(client) = &self.client else {
            if !NO_KEY_LOGGED.swap(true, Ordering::Relaxed) {
                tracing::warn!("[BATCH] COINALYZE_API_KEY is not set: scanning without OI, funding, long/short and liquidation data");
            }
            return unavailable(symbols);
        };
        let resolver_dir = self.config.cache_dir.join("resolver");
        let resolver = match CoinalyzeResolver::load(
            client,
            &resolver_dir,
            self.config.resolver_ttl,
        )
        .await
        {
            Ok(resolver) => resolver,
            Err(e) => {
                tracing::warn!("[BATCH] Coinalyze market list unavailable, scanning without derivatives data: {e}");
                return unavailable(symbols);
            }
        };
        let resolutions = resolve_all(&resolver, symbols);
        let coinalyze_symbols: Vec<String> = resolutions
            .values()
            .map(|r| r.coinalyze_symbol.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let range = HistoryRange {
            interval: HOURLY,
            from: now_secs - i64::from(self.config.history_hours) * 3600,
            to: now_secs,
        };
        let outcome = self
            .fetch_histories(client, &coinalyze_symbols, range)
            .await;
        if let Some(e) = &outcome.first_error {
            tracing::warn!(
                "[BATCH] {} of {} Coinalyze requests failed; their symbols are marked unavailable. First error: {e}",
                outcome.failed_batches,
                outcome.batches
            );
        }
        let map = symbols
            .iter()
            .map(|key| {
                let data = resolutions
                    .get(key)
                    .map(|r| external_data_for(&r.coinalyze_symbol, &outcome.histories, now_secs))
                    .unwrap_or_default();
                (key.clone(), data)
            })
            .collect();
        let aggregated = resolutions
            .values()
            .filter(|r| r.kind == ResolutionKind::Aggregated)
            .count();
        tracing::info!(
            "[BATCH] Coinalyze: {} symbols, {} resolved ({aggregated} via the aggregated perp), {} Coinalyze symbols in {} batches; requests: {}",
            symbols.len(),
            resolutions.len(),
            coinalyze_symbols.len(),
            outcome.batches,
            client.stats()
        );
        map
    }

    /// One request per (endpoint, batch), cache first. Stops at a fatal error
    /// (a refused key) rather than spending quota on requests that will fail.
    async fn fetch_histories(
        &self,
        client: &CoinalyzeClient,
        symbols: &[String],
        range: HistoryRange,
    ) -> FetchOutcome {
        let mut outcome = FetchOutcome {
            histories: HashMap::new(),
            batches: 0,
            failed_batches: 0,
            first_error: None,
        };
        let batch_size = self.config.effective_batch_size(self.quota.weight);
        let batches_per_endpoint = symbols.len().div_ceil(batch_size);
        for endpoint in HistoryEndpoint::ALL {
            for (index, batch) in symbols.chunks(batch_size).enumerate() {
                outcome.batches += 1;
                if outcome
                    .first_error
                    .as_ref()
                    .is_some_and(SourceError::is_fatal)
                {
                    outcome.failed_batches += 1;
                    continue;
                }
                let usd = client.oi_in_usd() || endpoint == HistoryEndpoint::Liquidations;
                let key = BatchKey::new(endpoint, batch, range, usd, self.responses.ttl());
                let response = match self.responses.get(&key) {
                    Some(cached) => {
                        client.record_cached();
                        Ok(cached)
                    }
                    None => {
                        tracing::info!(
                            "[BATCH] {} batch {}/{batches_per_endpoint}: {} symbols",
                            endpoint.path(),
                            index + 1,
                            batch.len()
                        );
                        let fetched = client.history(endpoint, batch, range).await;
                        if let Ok(histories) = &fetched {
                            self.responses.put(&key, histories);
                        }
                        fetched
                    }
                };
                match response {
                    Ok(histories) => {
                        for h in histories {
                            outcome.histories.insert((endpoint, h.symbol), h.history);
                        }
                    }
                    Err(e) => {
                        outcome.failed_batches += 1;
                        outcome.first_error.get_or_insert(e);
                    }
                }
            }
        }
        outcome
    }
}

/// How a run went against Coinalyze's quota (see `benches/coinalyze_quota.rs`).
#[derive(Debug, Clone, PartialEq)]
pub struct QuotaRun {
    pub symbols: usize,
    pub symbol_calls: u64,
    pub per_window: u32,
    pub window: Duration,
    pub achieved: Duration,
    /// `symbol_calls / per_window * window`.
    pub floor: Duration,
    pub stats: StatsSnapshot,
}

impl QuotaRun {
    /// Achieved time over the floor: 1.0 is a run exactly at the quota's pace.
    pub fn ratio(&self) -> f64 {
        self.achieved.as_secs_f64() / self.floor.as_secs_f64().max(1e-9)
    }
}

impl std::fmt::Display for QuotaRun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} symbols, {} symbol-calls at {}/{:?}: achieved {:.3} s vs floor {:.3} s ({:.1}% of floor); {}",
            self.symbols,
            self.symbol_calls,
            self.per_window,
            self.window,
            self.achieved.as_secs_f64(),
            self.floor.as_secs_f64(),
            self.ratio() * 100.0,
            self.stats
        )
    }
}

impl BatchProcessor {
    /// Runs `process_symbols` and measures it against the quota floor; meant
    /// for a fake server with a scaled window (benches/coinalyze_quota.rs).
    pub async fn measure_quota_run(&self, symbols: &[(Exchange, String)]) -> QuotaRun {
        let symbol_calls_sent = || self.client.as_ref().map_or(0, |c| c.gate().charged());
        let calls_before = symbol_calls_sent();
        let started = Instant::now();
        let _ = self.process_symbols(symbols).await;
        let achieved = started.elapsed();
        let symbol_calls = symbol_calls_sent() - calls_before;
        let (per_window, window) = (self.quota.weight, self.quota.window);
        QuotaRun {
            symbols: symbols.len(),
            symbol_calls,
            per_window,
            window,
            achieved,
            floor: quota_floor(symbol_calls, per_window, window),
            stats: self.stats(),
        }
    }
}

/// The least time `symbol_calls` can take at `per_window` calls per
/// `window`: the benchmark's yardstick (the last window need not be waited
/// out, so a run can finish slightly under it).
pub fn quota_floor(symbol_calls: u64, per_window: u32, window: Duration) -> Duration {
    window.mul_f64(symbol_calls as f64 / f64::from(per_window.max(1)))
}

fn unavailable(symbols: &[(Exchange, String)]) -> ExternalDataMap {
    symbols
        .iter()
        .map(|key| (key.clone(), ExternalData::default()))
        .collect()
}

fn resolve_all(
    resolver: &CoinalyzeResolver,
    symbols: &[(Exchange, String)],
) -> HashMap<SymbolKey, Resolution> {
    let mut resolutions = HashMap::new();
    for (exchange, symbol) in symbols {
        match resolver.resolve(*exchange, symbol) {
            Some(resolution) => {
                resolutions.insert((*exchange, symbol.clone()), resolution);
            }
            None => tracing::debug!(
                "[BATCH] {symbol} on {exchange}: no Coinalyze perp of its base asset"
            ),
        }
    }
    resolutions
}

/// One Coinalyze symbol's histories as the core wants them: hourly OI closes,
/// the latest funding rate and long/short ratio, liquidations summed over the
/// 24 h before `now_secs`, and where they came from. A history the response
/// did not include stays `None`.
pub fn external_data_for(
    coinalyze_symbol: &str,
    histories: &HistorySet,
    now_secs: i64,
) -> ExternalData {
    let bars = |endpoint: HistoryEndpoint| histories.get(&(endpoint, coinalyze_symbol.to_string()));
    // The series left out for their age, for the signal to show (with the age).
    let stale = std::cell::RefCell::new(Vec::new());
    let current = |endpoint: HistoryEndpoint, newest: Option<i64>| match stale_series(
        coinalyze_symbol,
        endpoint,
        newest,
        now_secs,
    ) {
        Some(series) => {
            stale.borrow_mut().push(series);
            false
        }
        None => true,
    };
    let oi_history: Option<Vec<f64>> = bars(HistoryEndpoint::OpenInterest)
        .filter(|bars| {
            let newest = bars.iter().rev().find(|b| b.c.is_some_and(f64::is_finite));
            current(HistoryEndpoint::OpenInterest, newest.map(|b| b.t))
        })
        .map(|bars| {
            bars.iter()
                .filter_map(|b| b.c)
                .filter(|c| c.is_finite())
                .collect::<Vec<f64>>()
        })
        .filter(|closes| !closes.is_empty());
    let newest_current = |endpoint: HistoryEndpoint, field: fn(&HistoryBar) -> Option<f64>| {
        bars(endpoint)
            .and_then(|bars| latest(bars, field))
            .filter(|(t, _)| current(endpoint, Some(*t)))
            .map(|(_, value)| value)
    };
    let funding_rate = newest_current(HistoryEndpoint::FundingRate, |b| b.c);
    let ls_ratio = newest_current(HistoryEndpoint::LongShortRatio, |b| b.r);
    let liquidations_24h = bars(HistoryEndpoint::Liquidations)
        .map(|bars| liquidations_since(bars, now_secs - DAY_SECS));
    let any = oi_history.is_some()
        || funding_rate.is_some()
        || ls_ratio.is_some()
        || liquidations_24h.is_some();
    let stale = stale.into_inner();
    let oi_metadata = match (any, stale.is_empty()) {
        (true, _) => OiMetadata {
            status: OiStatus::Aggregated,
            coinalyze_symbol: Some(coinalyze_symbol.to_string()),
            value: oi_history
                .as_ref()
                .and_then(|closes| closes.last().copied()),
            stale,
        },
        // Nothing current: neutral, but the signal still says what was too old.
        (false, false) => OiMetadata {
            coinalyze_symbol: Some(coinalyze_symbol.to_string()),
            stale,
            ..OiMetadata::default()
        },
        (false, true) => OiMetadata::default(),
    };
    ExternalData {
        oi_history,
        funding_rate,
        ls_ratio,
        liquidations_24h,
        oi_metadata,
        market: None,
    }
}

/// The newest finite value of `field` and the open time of its bar.
fn latest(bars: &[HistoryBar], field: impl Fn(&HistoryBar) -> Option<f64>) -> Option<(i64, f64)> {
    bars.iter()
        .rev()
        .find_map(|b| field(b).filter(|v| v.is_finite()).map(|v| (b.t, v)))
}

/// The series of `endpoint` when its newest value (its bar's open time,
/// Unix seconds) is too old to use: older than its bucket plus the
/// tolerance at `now_secs`. Logged with its age; the signal shows it too
/// (`OiMetadata::stale`).
fn stale_series(
    coinalyze_symbol: &str,
    endpoint: HistoryEndpoint,
    newest: Option<i64>,
    now_secs: i64,
) -> Option<StaleSeries> {
    let age = now_secs - newest?;
    if age <= BUCKET_SECS + FRESHNESS_TOLERANCE_SECS {
        return None;
    }
    let series = endpoint.path().trim_start_matches('/');
    tracing::info!(
        "[BATCH] {coinalyze_symbol} {series}: newest value is {} old (limit {}): unavailable",
        quantpro_model::format::age(age),
        quantpro_model::format::age(BUCKET_SECS + FRESHNESS_TOLERANCE_SECS)
    );
    Some(StaleSeries {
        series: series.to_string(),
        age_secs: age,
    })
}

fn liquidations_since(bars: &[HistoryBar], since_secs: i64) -> Liquidations {
    let recent = bars.iter().filter(|b| b.t >= since_secs);
    let finite = |v: Option<f64>| v.filter(|x| x.is_finite()).unwrap_or(0.0);
    recent.fold(Liquidations::default(), |sum, b| Liquidations {
        long: sum.long + finite(b.l),
        short: sum.short + finite(b.s),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bar(t: i64) -> HistoryBar {
        HistoryBar {
            t,
            ..Default::default()
        }
    }

    #[test]
    fn histories_become_external_data() {
        let now = 1_721_174_400;
        let mut set = HistorySet::new();
        let sym = "BTCUSDT_PERP.A".to_string();
        set.insert(
            (HistoryEndpoint::OpenInterest, sym.clone()),
            vec![
                HistoryBar {
                    c: Some(10.0),
                    ..bar(now - 7200)
                },
                bar(now - 3600),
                HistoryBar {
                    c: Some(12.5),
                    ..bar(now)
                },
            ],
        );
        set.insert(
            (HistoryEndpoint::FundingRate, sym.clone()),
            vec![
                HistoryBar {
                    c: Some(0.01),
                    ..bar(now - 3600)
                },
                HistoryBar {
                    c: Some(-0.002),
                    ..bar(now)
                },
            ],
        );
        set.insert(
            (HistoryEndpoint::LongShortRatio, sym.clone()),
            vec![
                HistoryBar {
                    r: Some(1.85),
                    ..bar(now - 3600)
                },
                bar(now),
            ],
        );
        set.insert(
            (HistoryEndpoint::Liquidations, sym.clone()),
            vec![
                HistoryBar {
                    l: Some(100.0),
                    s: Some(1.0),
                    ..bar(now - DAY_SECS - 3600)
                },
                HistoryBar {
                    l: Some(2.0),
                    s: Some(3.0),
                    ..bar(now - DAY_SECS)
                },
                HistoryBar {
                    l: Some(4.0),
                    s: None,
                    ..bar(now)
                },
            ],
        );
        let data = external_data_for(&sym, &set, now);
        assert_eq!(data.oi_history, Some(vec![10.0, 12.5]));
        assert_eq!(data.funding_rate, Some(-0.002));
        assert_eq!(data.ls_ratio, Some(1.85), "the newest bar with a ratio");
        assert_eq!(
            data.liquidations_24h,
            Some(Liquidations {
                long: 6.0,
                short: 3.0
            })
        );
        assert_eq!(data.oi_metadata.status, OiStatus::Aggregated);
        assert_eq!(
            data.oi_metadata.coinalyze_symbol.as_deref(),
            Some("BTCUSDT_PERP.A")
        );
        assert_eq!(data.oi_metadata.value, Some(12.5));
    }

    #[test]
    fn values_older_than_their_bucket_and_the_tolerance_are_unavailable() {
        let now = 1_721_174_400;
        let sym = "SOLUSDT_PERP.A".to_string();
        let mut set = HistorySet::new();
        let two_years = 2 * 365 * DAY_SECS;
        set.insert(
            (HistoryEndpoint::LongShortRatio, sym.clone()),
            vec![HistoryBar {
                r: Some(1.4),
                ..bar(now - two_years)
            }],
        );
        set.insert(
            (HistoryEndpoint::OpenInterest, sym.clone()),
            vec![HistoryBar {
                c: Some(5.0),
                ..bar(now - BUCKET_SECS - FRESHNESS_TOLERANCE_SECS - 1)
            }],
        );
        set.insert(
            (HistoryEndpoint::FundingRate, sym.clone()),
            vec![HistoryBar {
                c: Some(0.0001),
                ..bar(now - BUCKET_SECS - FRESHNESS_TOLERANCE_SECS)
            }],
        );
        let data = external_data_for(&sym, &set, now);
        assert_eq!(data.ls_ratio, None, "a two-year-old ratio is not current");
        assert_eq!(data.oi_history, None, "one second past the limit");
        assert_eq!(data.funding_rate, Some(0.0001), "at the limit: current");
        // The signal says which were too old, and how old.
        let mut stale = data.oi_metadata.stale.clone();
        stale.sort_by(|a, b| a.series.cmp(&b.series));
        assert_eq!(
            stale,
            vec![
                StaleSeries {
                    series: "long-short-ratio-history".into(),
                    age_secs: two_years,
                },
                StaleSeries {
                    series: "open-interest-history".into(),
                    age_secs: BUCKET_SECS + FRESHNESS_TOLERANCE_SECS + 1,
                },
            ]
        );
        assert_eq!(
            data.oi_metadata.status,
            OiStatus::Aggregated,
            "funding is current"
        );

        // Nothing current: neutral, and still what was too old.
        set.remove(&(HistoryEndpoint::FundingRate, sym.clone()));
        let data = external_data_for(&sym, &set, now);
        assert_eq!(data.oi_metadata.status, OiStatus::Neutral);
        assert_eq!(data.oi_metadata.stale.len(), 2);
        assert_eq!(
            data.oi_metadata.coinalyze_symbol.as_deref(),
            Some(sym.as_str())
        );
    }

    #[test]
    fn a_symbol_missing_from_every_response_is_neutral() {
        let mut set = HistorySet::new();
        set.insert(
            (HistoryEndpoint::OpenInterest, "ETHUSDT_PERP.A".into()),
            vec![],
        );
        let data = external_data_for("ETHUSDT_PERP.A", &set, 0);
        assert_eq!(data, ExternalData::default());
        assert_eq!(data.oi_metadata.status, OiStatus::Neutral);
    }
}
