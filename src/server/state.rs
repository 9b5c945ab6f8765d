//! Application state shared by every handler and server function, built
//! once at start: the scan pipeline (settings, external clients), the feed
//! store, the scan jobs, the signal journal, the alerter and the access gate (sessions, limits). The JSON routes and the server functions that do
//! the same thing call the same method here, so each action has one
//! implementation and one validation.

use super::api_error::ApiError;
use super::auth::AuthGate;
use super::render::{
    charts::render_signal_charts, render_panels, render_track_record_page, SignalDetail,
    SignalTrack, StrategyRecords,
};
use super::scan_jobs::{ScanJobs, ScanStartError};
use axum::extract::FromRef;
use leptos::prelude::LeptosOptions;
use quantpro_model::{AiAnalysis, AlertsConfig, ConfigState, SignalPanels, TableFeed, TableRow};
use quantpro_model::{
    Exchange, ScanStartRequest, ScanState, ScannerConfig, Signal, Staleness, Strategy, TrackQuery,
    TrackRecord, Trade,
};
use quantpro_service::alerts::store::warn_of_old_log;
use quantpro_service::alerts::{AlertLogView, Alerter, JournalAlertStore};
use quantpro_service::execution::{
    build_executor, Bracket, ExecutionError, Executor, Flattened, Positions, Ticket,
};
use quantpro_service::feed_store::{FeedLoadError, FeedSnapshot, FeedStore};
use quantpro_service::journal::{JournalError, JournalHandle, TradeFilter};
use quantpro_service::live::{LiveLoop, Rescan};
use quantpro_service::pipeline::{DataPaths, FirstTrackRecord, ScanPipeline};
use quantpro_service::settings::{Settings, SettingsError, SettingsStore};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

/// Why a server cannot start: its settings, or its trading venues (a paper
/// account that cannot be read, a live venue without its keys).
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Settings(#[from] SettingsError),
    #[error("cannot start trade execution: {0}")]
    Execution(#[from] ExecutionError),
}

/// What the dashboard says above its (empty) table while the first feed
/// is being made, instead of "run a scan".
const WARMING_UP_NOTICE: &str =
    "Warming up: the first scan is running; the table fills in by itself in a few seconds.";

/// How live venues' orders are followed when no stream says more.
const EXECUTION_SYNC_EVERY: Duration = Duration::from_secs(30);

/// How long the dashboard table waits for the journal's trades before it
/// is served without its track lines (the journal may be a PostgreSQL
/// server that is down: its connection attempt alone may take 10 s).
const TABLE_TRACK_PATIENCE: Duration = Duration::from_secs(3);

#[derive(Clone)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub pipeline: Arc<ScanPipeline>,
    pub feed: Arc<FeedStore>,
    /// Background scans (one at a time) and their live status.
    pub scans: Arc<ScanJobs>,
    /// The live market, when the server keeps a universe current.
    pub live: Option<Arc<LiveLoop>>,
    /// The signal journal (the pipeline's: scans record into it, the
    /// track record reads it).
    pub journal: Arc<JournalHandle>,
    /// Every feed change the live loop made, after the feed store let go of
    /// the old feed (see `forward_rescans`).
    feed_changes: tokio::sync::broadcast::Sender<Rescan>,
    /// Who may do what: `[auth]` settings, sessions, per-client limits.
    pub auth: Arc<AuthGate>,
    /// `[alerts]`: follows the live loop's rescans, delivers, keeps the log.
    pub alerter: Arc<Alerter>,
    /// Trade execution (the owner's): paper unless `[execution]` and the
    /// environment's keys make a venue live.
    pub executor: Arc<Executor>,
    /// Set once the server stops, so long-lived streams (scan events) end
    /// and graceful shutdown does not wait for them forever.
    shutdown: Arc<tokio::sync::watch::Sender<bool>>,
    /// The live loop's task once started, so a stop can wait for the
    /// rescan in progress.
    live_task: Arc<std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>>,
}

impl AppState {
    /// The state of a server; its access settings (`[auth]` and
    /// `QUANTPRO_OWNER_TOKEN`) are read once, here: a file that cannot be
    /// read stops the start rather than leaving the server open.
    pub fn new(
        leptos_options: LeptosOptions,
        pipeline: Arc<ScanPipeline>,
    ) -> Result<Self, StartError> {
        let settings = pipeline.current_settings()?;
        let executor = Arc::new(build_executor(
            &pipeline.paths().data_dir,
            &settings,
            pipeline.settings().environment(),
            pipeline.journal().as_ref().clone(),
            pipeline.clock(),
            true,
        )?);
        let auth = Arc::new(AuthGate::new(settings.auth.clone()));
        warn_of_old_log(&pipeline.paths().data_dir);
        let alert_store = JournalAlertStore::new(
            pipeline.journal().as_ref().clone(),
            settings.journal.clone(),
        );
        let alerter = Arc::new(Alerter::new(
            settings.alerts.clone(),
            pipeline.settings().environment(),
            &pipeline.sources().governor,
            Arc::new(alert_store),
            pipeline.clock(),
        ));
        let feed = Arc::new(FeedStore::new(pipeline.paths().feed_path.clone()));
        let scans = Arc::new(ScanJobs::new(pipeline.clone(), feed.clone()));
        let journal = pipeline.journal().clone();
        let (shutdown, _) = tokio::sync::watch::channel(false);
        let (feed_changes, _) = tokio::sync::broadcast::channel(64);
        Ok(AppState {
            leptos_options,
            pipeline,
            feed,
            scans,
            live: None,
            journal,
            feed_changes,
            auth,
            alerter,
            executor,
            shutdown: Arc::new(shutdown),
            live_task: Arc::default(),
        })
    }

    /// The same state with a live loop (started by `start_live`).
    pub fn with_live(mut self, live: Arc<LiveLoop>) -> AppState {
        self.live = Some(live);
        self
    }

    /// Runs the live loop (if any) until shutdown, and passes its rescans on
    /// to the event streams and the alerter once the feed store has let go
    /// of the old feed.
    pub fn start_live(&self) {
        let Some(live) = self.live.clone() else {
            return;
        };
        tokio::spawn(
            self.alerter
                .clone()
                .follow(self.feed.clone(), self.feed_changes()),
        );
        let mut rescans = live.rescans();
        let (feed, changes) = (self.feed.clone(), self.feed_changes.clone());
        tokio::spawn(async move {
            loop {
                match rescans.recv().await {
                    Ok(rescan) => {
                        feed.invalidate();
                        let _ = changes.send(rescan);
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => feed.invalidate(),
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                }
            }
        });
        if self.pipeline.paths().is_synthetic() {
            tokio::spawn(first_track_record(self.pipeline.clone(), live.rescans()));
        }
        let task = tokio::spawn(live.run(self.shutdown_signal()));
        *self.live_task.lock().unwrap_or_else(|e| e.into_inner()) = Some(task);
    }

    /// The end of a graceful stop (after `begin_shutdown`): waits for the
    /// live loop to finish the rescan in progress, then up to `drain` for
    /// the alert deliveries under way.
    pub async fn finish(&self, drain: std::time::Duration) {
        let task = self
            .live_task
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(task) = task {
            let _ = task.await;
        }
        if tokio::time::timeout(drain, self.alerter.settled())
            .await
            .is_err()
        {
            tracing::warn!(
                "[STOP] alert deliveries still under way after {} s: left as recorded in the journal",
                drain.as_secs()
            );
        }
    }

    /// The alerts sent lately (newest first) with each channel's outcome,
    /// and every channel's state.
    pub fn alert_log(&self) -> AlertLogView {
        self.alerter.log()
    }

    /// The alert log page (`GET /alerts`): the same log, as HTML.
    pub fn alert_log_page(&self) -> String {
        super::render::render_alert_log_page(&self.alerter.log())
    }

    /// Validates the ConfigPanel's `[alerts]` text, saves it to the file
    /// and puts it in force (the alerter's rules, limits and channels, no
    /// restart); returns it as saved. A refused text is
    /// `SettingsError::Alerts` naming every field, and nothing changes.
    pub async fn save_alerts_config(&self, text: String) -> Result<String, SettingsError> {
        let pipeline = self.pipeline.clone();
        let alerts = blocking(move || {
            let store = pipeline.settings();
            let alerts = store.parse_alerts_text(&text)?;
            store.save_alerts(&alerts)?;
            Ok(alerts)
        })
        .await?;
        tracing::info!(
            "[CONFIG] saved [alerts] to {}",
            self.pipeline.settings().path().display()
        );
        let saved = SettingsStore::alerts_text(&alerts)?;
        self.alerter.replace_settings(alerts);
        Ok(saved)
    }

    /// Feed changes of the live loop from now on.
    pub fn feed_changes(&self) -> tokio::sync::broadcast::Receiver<Rescan> {
        self.feed_changes.subscribe()
    }

    /// What "now" is for the page (the simulated market may run faster
    /// than the wall clock).
    pub fn now_ms(&self) -> i64 {
        self.pipeline.clock().now_ms()
    }

    pub fn paths(&self) -> &DataPaths {
        self.pipeline.paths()
    }

    /// Ends every open event stream; called when the server stops.
    pub fn begin_shutdown(&self) {
        self.shutdown.send_replace(true);
    }

    /// Becomes `true` when the server stops.
    pub fn shutdown_signal(&self) -> tokio::sync::watch::Receiver<bool> {
        self.shutdown.subscribe()
    }

    /// The scanner configuration the next scan will use (`quantpro.toml`
    /// with the environment's overrides).
    pub async fn scanner_config(&self) -> Result<ScannerConfig, SettingsError> {
        Ok(self.pipeline.current_settings()?.scanner.clone())
    }

    /// The configuration with where it is saved and what the environment
    /// overrides; a file that cannot be used gives the defaults and the reason.
    /// `with_alerts` (the owner asks) adds the `[alerts]` table, read from
    /// the same load of the file.
    pub async fn config_state(&self, with_alerts: bool) -> ConfigState {
        let loaded = self.pipeline.current_settings();
        let settings = self.pipeline.settings();
        let path = settings.path().display().to_string();
        let overridden = settings
            .overridden_keys()
            .into_iter()
            .map(|(key, var)| format!("{key} ({var})"))
            .collect();
        let alerts = with_alerts.then(|| alerts_config(&loaded, path.clone()));
        match loaded {
            Ok(settings) => ConfigState {
                texts: settings.scanner.texts(),
                path,
                error: None,
                overridden,
                alerts,
            },
            Err(err) => ConfigState {
                texts: ScannerConfig::default().texts(),
                path,
                error: Some(err.to_string()),
                overridden,
                alerts,
            },
        }
    }

    /// Validates (once) and saves the configuration for the next scan;
    /// returns the configuration now in force. An invalid one is
    /// `SettingsError::Invalid` with every problem and is not saved.
    pub async fn save_scanner_config(
        &self,
        config: ScannerConfig,
    ) -> Result<ScannerConfig, SettingsError> {
        let pipeline = self.pipeline.clone();
        let saved = blocking(move || pipeline.settings().save_scanner(&config)).await?;
        tracing::info!(
            "[CONFIG] saved {}",
            self.pipeline.settings().path().display()
        );
        Ok(saved)
    }

    /// The statistics of the journal's trades that pass `filter`
    /// (`GET /api/track-record` and the Track Record page).
    pub async fn track_record(&self, filter: TradeFilter) -> Result<TrackRecord, JournalError> {
        let settings = self.pipeline.current_settings()?;
        self.journal.track_record(&settings.journal, &filter).await
    }

    /// The Track Record page (a whole HTML document) of the journal's
    /// trades that `query` selects: the same statistics as `track_record`,
    /// with the trades they come from drawn and listed.
    /// `owner`: the executed trades (paper and live) are listed beside the
    /// signals' outcomes; a viewer does not see the owner's orders.
    pub async fn track_record_page(
        &self,
        query: TrackQuery,
        owner: bool,
    ) -> Result<String, JournalError> {
        let settings = self.pipeline.current_settings()?;
        let trades = self
            .journal
            .trades(&settings.journal, &TradeFilter::from(query.clone()))
            .await?;
        let location = self.journal.location(&settings.journal).describe();
        let executed = if owner {
            match self.executor.brackets().await {
                Ok(brackets) => super::render::trading_html::executed_trades_section(&brackets),
                Err(err) => super::render::trading_html::executed_trades_error(&err.to_string()),
            }
        } else {
            String::new()
        };
        tokio::task::spawn_blocking(move || {
            let record = quantpro_core::track::track_record(&trades)?;
            Ok(render_track_record_page(
                &query, &trades, &record, &location, &executed,
            ))
        })
        .await
        .map_err(JournalError::Stopped)?
    }

    /// Starts a background scan (the Scan button and `POST /api/scan/start`).
    pub fn start_scan(&self, request: ScanStartRequest) -> Result<u64, ScanStartError> {
        self.scans.start(request)
    }

    /// The dashboard table: one row per signal of the feed, or the reason
    /// there is no feed.
    pub async fn table_feed(&self) -> TableFeed {
        let mut warming_up = false;
        let (mut rows, last_updated, error) = match self.load_feed().await {
            Ok(snapshot) => (
                snapshot.feed.signals.iter().map(table_row).collect(),
                snapshot.feed.last_updated,
                None,
            ),
            // Not an error: said above the table, which fills by itself
            // when the first feed is written (its `feed` event).
            Err(err) if err.is_warming_up() => {
                warming_up = true;
                (Vec::new(), 0, None)
            }
            Err(err) => {
                tracing::warn!("[FEED] {err}");
                (Vec::new(), 0, Some(err.to_string()))
            }
        };
        self.add_track_lines(&mut rows).await;
        // A configuration that cannot be read is the ConfigPanel's to show;
        // the table keeps the default rule meanwhile.
        let data = self
            .scanner_config()
            .await
            .map(|c| c.data)
            .unwrap_or_default();
        let shown = rows.iter().map(|row| row.symbol.as_str());
        let mut notice = self.pipeline.missing_data_notice(shown).unwrap_or_default();
        if warming_up {
            notice = [WARMING_UP_NOTICE, notice.as_str()]
                .iter()
                .filter(|text| !text.is_empty())
                .copied()
                .collect::<Vec<_>>()
                .join(" ");
        }
        TableFeed {
            rows,
            last_updated,
            error,
            synthetic: self.paths().is_synthetic(),
            notice,
            server_time_ms: self.now_ms(),
            stale_after_ms: Staleness::ltf(&data).after_ms,
            market: self.live.as_ref().map(|live| live.current_status().view()),
        }
    }

    /// The current feed; a missing one is `FeedLoadError::WarmingUp` while
    /// the first is being made (`first_feed_under_way`).
    pub async fn load_feed(&self) -> Result<Arc<FeedSnapshot>, FeedLoadError> {
        self.feed
            .load()
            .await
            .map_err(|err| err.warming_up_if(|| self.first_feed_under_way()))
    }

    /// True while something is writing a feed: the live loop runs (its
    /// first rescan writes one) or a scan job does.
    fn first_feed_under_way(&self) -> bool {
        let live = self
            .live_task
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .is_some_and(|task| !task.is_finished());
        live || self.scans.status().state == ScanState::Running
    }

    /// The signal of `(exchange, symbol, strategy)` from the current feed,
    /// with its charts drawn from the candle files and its static parts
    /// rendered; `None` when the feed has no such signal.
    pub async fn signal_panels(
        &self,
        exchange: Exchange,
        symbol: &str,
        strategy: Strategy,
    ) -> Result<Option<SignalPanels>, FeedLoadError> {
        let Some(signal) = self.find_signal(exchange, symbol, strategy).await? else {
            return Ok(None);
        };
        let data_dir = self.paths().data_dir.clone();
        let for_charts = signal.clone();
        let rendered =
            tokio::task::spawn_blocking(move || render_signal_charts(&data_dir, &for_charts)).await;
        // The reason the charts are missing is shown in their place.
        let (charts, chart_error) = match rendered {
            Ok(Ok(charts)) => (Some(charts), None),
            Ok(Err(err)) => (None, Some(err.to_string())),
            Err(err) => (None, Some(err.to_string())),
        };
        if let Some(err) = &chart_error {
            tracing::warn!(
                "[CHARTS] {} {} {}: {err}",
                signal.exchange,
                signal.symbol,
                signal.strategy
            );
        }
        let track = self.signal_track(&signal).await;
        Ok(Some(render_panels(SignalDetail {
            signal,
            charts,
            chart_error,
            synthetic: self.paths().is_synthetic(),
            server_time_ms: self.now_ms(),
            track,
        })))
    }

    /// The journal's view of `signal`: its strategy on its symbol and
    /// overall, and its latest trade; a journal that cannot be read leaves
    /// the panels with the reason, never without the signal.
    async fn signal_track(&self, signal: &Signal) -> SignalTrack {
        let filter = TradeFilter {
            strategy: Some(signal.strategy),
            ..TradeFilter::default()
        };
        let trades = match self.journal_trades(&filter).await {
            Ok(trades) => trades,
            Err(e) => {
                tracing::warn!(
                    "[JOURNAL] track record of {} {}: {e}",
                    signal.exchange,
                    signal.symbol
                );
                return SignalTrack::Unavailable(e.to_string());
            }
        };
        let (exchange, symbol, strategy) =
            (signal.exchange, signal.symbol.clone(), signal.strategy);
        let known = tokio::task::spawn_blocking(move || {
            let records = StrategyRecords::of(&trades, [strategy])?;
            let last_trade = trades
                .iter()
                .filter(|t| t.exchange == exchange && t.symbol == symbol)
                .max_by_key(|t| t.opened_at)
                .cloned();
            Ok::<_, JournalError>(SignalTrack::Known {
                line: records.line(strategy, exchange, &symbol),
                last_trade,
            })
        })
        .await;
        match known {
            Ok(Ok(track)) => track,
            Ok(Err(e)) => SignalTrack::Unavailable(e.to_string()),
            Err(e) => SignalTrack::Unavailable(e.to_string()),
        }
    }

    /// Sets each row's `track` line (its strategy on its symbol and
    /// overall, as the DetailPanel says it) from the journal, for the rows
    /// whose strategy has a recorded trade. The table never waits for the
    /// journal longer than `TABLE_TRACK_PATIENCE`: a journal that is slow
    /// or down leaves the rows without lines (and the reason in the log).
    async fn add_track_lines(&self, rows: &mut [TableRow]) {
        if rows.is_empty() {
            return;
        }
        let strategies: BTreeSet<Strategy> = rows.iter().map(|r| r.strategy).collect();
        let records = match self.strategy_records(strategies).await {
            Ok(records) => records,
            Err(reason) => {
                tracing::warn!("[JOURNAL] the table's track lines: {reason}");
                return;
            }
        };
        for row in rows.iter_mut() {
            if records.has_trades(row.strategy) {
                row.track = Some(records.line(row.strategy, row.exchange, &row.symbol));
            }
        }
    }

    /// The track records of `strategies` over every journal trade (live
    /// and backtest), within `TABLE_TRACK_PATIENCE`.
    async fn strategy_records(
        &self,
        strategies: BTreeSet<Strategy>,
    ) -> Result<StrategyRecords, JournalError> {
        let trades = tokio::time::timeout(
            TABLE_TRACK_PATIENCE,
            self.journal_trades(&TradeFilter::default()),
        )
        .await
        .map_err(|_| JournalError::NoAnswer(TABLE_TRACK_PATIENCE))??;
        tokio::task::spawn_blocking(move || StrategyRecords::of(&trades, strategies))
            .await
            .map_err(JournalError::Stopped)?
            .map_err(JournalError::from)
    }

    /// The journal's trades that pass `filter`.
    async fn journal_trades(&self, filter: &TradeFilter) -> Result<Vec<Trade>, JournalError> {
        let settings = self.pipeline.current_settings()?;
        self.journal.trades(&settings.journal, filter).await
    }

    /// Gemini's commentary of one signal, through the process's client;
    /// without `GEMINI_API_KEY` the answer says how to set it.
    pub async fn analyze_signal(
        &self,
        exchange: Exchange,
        symbol: &str,
        strategy: Strategy,
    ) -> AiAnalysis {
        let signal = match self.find_signal(exchange, symbol, strategy).await {
            Ok(Some(signal)) => signal,
            Ok(None) => {
                return AiAnalysis::Unavailable(format!(
                    "{symbol} {strategy} on {exchange} is not in the current feed"
                ))
            }
            Err(err) => return AiAnalysis::Unavailable(err.to_string()),
        };
        match self.pipeline.sources().gemini.explain_signal(&signal).await {
            Ok(text) => AiAnalysis::Commentary(text),
            Err(err) => AiAnalysis::Unavailable(err.to_string()),
        }
    }

    /// The trade ticket of a signal in the feed (the owner's).
    pub async fn trade_ticket(&self, key: &SignalKey) -> Result<Ticket, ApiError> {
        let signal = self.signal_to_trade(key).await?;
        let settings = self.pipeline.current_settings()?;
        Ok(self.executor.ticket(&signal, &settings.execution).await?)
    }

    /// Places the bracket of a signal whose ticket showed `candle`.
    pub async fn open_trade(&self, key: &SignalKey, candle: i64) -> Result<Bracket, ApiError> {
        let signal = self.signal_to_trade(key).await?;
        let settings = self.pipeline.current_settings()?;
        let bracket = self
            .executor
            .open(&signal, candle, &settings.execution)
            .await?;
        self.alerter.fire(&[bracket.alert_event()]).await;
        Ok(bracket)
    }

    pub async fn close_trade(&self, exchange: Exchange, symbol: &str) -> Result<Bracket, ApiError> {
        let bracket = self.executor.close(exchange, symbol).await?;
        self.alerter.fire(&[bracket.alert_event()]).await;
        Ok(bracket)
    }

    pub async fn flatten(&self) -> Result<Flattened, ApiError> {
        Ok(self.executor.flatten().await?)
    }

    pub async fn positions(&self) -> Result<Positions, ApiError> {
        let settings = self.pipeline.current_settings()?;
        Ok(self.executor.positions(&settings.execution).await?)
    }

    /// An alert whose rule trades (`execute`): the signal's bracket, under
    /// every limit, when the rule's mode is the venue's (a live venue also
    /// needs `execution.allow_auto`). The order is alerted like any other;
    /// a refusal is logged with its reason.
    async fn execute_alert(&self, alert: &quantpro_service::alerts::Alert) {
        use quantpro_service::alerts::AutoExecute;
        let (Some(mode), Some(exchange), Some(symbol), Some(strategy)) = (
            alert.execute,
            alert.exchange,
            alert.symbol.clone(),
            alert.strategy,
        ) else {
            return;
        };
        let live = match self.executor.venue(exchange) {
            Ok(venue) => venue.is_live(),
            Err(err) => return tracing::warn!("[EXEC] rule {}: {err}", alert.rule),
        };
        let allowed = match (mode, live) {
            (AutoExecute::Paper, false) => Ok(()),
            (AutoExecute::Live, true) => match self.pipeline.current_settings() {
                Ok(settings) if settings.execution.allow_auto => Ok(()),
                Ok(_) => Err("live orders from rules need execution.allow_auto = true".to_string()),
                Err(err) => Err(err.to_string()),
            },
            (AutoExecute::Paper, true) => {
                Err(format!("{exchange} trades live, the rule says paper"))
            }
            (AutoExecute::Live, false) => {
                Err(format!("{exchange} trades on paper, the rule says live"))
            }
        };
        let key = SignalKey {
            exchange,
            symbol,
            strategy,
        };
        let outcome = match allowed {
            Ok(()) => self
                .open_trade(&key, alert.candle_ms)
                .await
                .map(|b| b.state.as_str().to_string())
                .map_err(|e| e.to_string()),
            Err(why) => Err(why),
        };
        match outcome {
            Ok(state) => tracing::info!(
                "[EXEC] rule {} traded {exchange} {} {strategy}: {state}",
                alert.rule,
                key.symbol
            ),
            Err(why) => tracing::warn!(
                "[EXEC] rule {} did not trade {exchange} {} {strategy}: {why}",
                alert.rule,
                key.symbol
            ),
        }
    }

    async fn signal_to_trade(&self, key: &SignalKey) -> Result<Signal, ApiError> {
        self.find_signal(key.exchange, &key.symbol, key.strategy)
            .await?
            .ok_or_else(|| {
                ApiError::BadRequest(format!(
                    "no signal {} {} {} in the feed",
                    key.exchange, key.symbol, key.strategy
                ))
            })
    }

    /// Reconciles with the venues at start, then follows the brackets:
    /// paper fills from each rescan's stored candles, live venues' orders
    /// every `EXECUTION_SYNC_EVERY`. Fills and stop-outs are logged.
    pub fn start_execution(&self) {
        let (executor, alerter) = (self.executor.clone(), self.alerter.clone());
        let auto = self.clone();
        let data_dir = self.pipeline.paths().data_dir.clone();
        let mut rescans = self.feed_changes();
        // Subscribed before the task runs: an alert that fires meanwhile
        // still reaches it.
        let mut orders = self.alerter.subscribe_orders();
        let mut stop = self.shutdown.subscribe();
        tokio::spawn(async move {
            let alert = |changes| {
                let alerter = alerter.clone();
                async move {
                    let events: Vec<_> = report_changes(changes)
                        .iter()
                        .map(Bracket::alert_event)
                        .collect();
                    if !events.is_empty() {
                        alerter.fire(&events).await;
                    }
                }
            };
            for problem in executor.check_venues().await {
                tracing::error!("[EXEC] {problem}");
            }
            alert(executor.sync().await).await;
            let mut every = tokio::time::interval(EXECUTION_SYNC_EVERY);
            loop {
                tokio::select! {
                    _ = stop.changed() => break,
                    rescan = rescans.recv() => {
                        if matches!(rescan, Err(tokio::sync::broadcast::error::RecvError::Closed)) {
                            break;
                        }
                        alert(executor.follow_stored_candles(&data_dir).await).await;
                    }
                    _ = every.tick() => alert(executor.sync().await).await,
                    _ = executor.woken() => alert(executor.sync().await).await,
                    Ok(order) = orders.recv() => auto.execute_alert(&order).await,
                }
            }
        });
    }

    async fn find_signal(
        &self,
        exchange: Exchange,
        symbol: &str,
        strategy: Strategy,
    ) -> Result<Option<Signal>, FeedLoadError> {
        let snapshot = self.load_feed().await?;
        Ok(snapshot
            .feed
            .signals
            .iter()
            .find(|s| s.exchange == exchange && s.symbol == symbol && s.strategy == strategy)
            .cloned())
    }
}

/// A signal's key as the execution routes name it.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct SignalKey {
    pub exchange: Exchange,
    pub symbol: String,
    pub strategy: Strategy,
}

/// Logs the brackets a sync changed (a fill, a stop-out, a target, a stop
/// put back), or why the sync failed; returns the changed ones.
fn report_changes(changes: Result<Vec<Bracket>, ExecutionError>) -> Vec<Bracket> {
    match changes {
        Ok(changed) => {
            for bracket in &changed {
                tracing::info!(
                    "[EXEC] {} {} {}: {}{}",
                    bracket.venue,
                    bracket.symbol,
                    bracket.strategy,
                    bracket.state.as_str(),
                    bracket.r.map(|r| format!(" at {r} R")).unwrap_or_default()
                );
            }
            changed
        }
        Err(err) => {
            tracing::warn!("[EXEC] following the open brackets failed: {err}");
            Vec::new()
        }
    }
}

/// File work (a read, or a write with fsync) off the async workers.
/// `[alerts]` of `loaded` as the ConfigPanel edits it (TOML of that table,
/// no secret in it), or why the file at `path` cannot be used.
fn alerts_config(loaded: &Result<Arc<Settings>, SettingsError>, path: String) -> AlertsConfig {
    let text = match loaded {
        Ok(settings) => SettingsStore::alerts_text(&settings.alerts),
        Err(err) => return alerts_config_error(err, path),
    };
    match text {
        Ok(toml) => AlertsConfig {
            toml,
            path,
            error: None,
        },
        Err(err) => alerts_config_error(&err, path),
    }
}

/// The ConfigPanel's `[alerts]` when the file cannot be used: no text, the
/// reason shown instead.
fn alerts_config_error(err: &SettingsError, path: String) -> AlertsConfig {
    AlertsConfig {
        toml: String::new(),
        path,
        error: Some(err.to_string()),
    }
}

/// On the simulated market, a track record from the first start: once the
/// live loop has stored the history and rescanned it, an empty journal gets
/// the backtest of that history (origin `backtest`).
async fn first_track_record(
    pipeline: Arc<ScanPipeline>,
    mut rescans: tokio::sync::broadcast::Receiver<Rescan>,
) {
    if rescans.recv().await.is_err() {
        return;
    }
    match pipeline.backtest_into_empty_journal().await {
        Ok(FirstTrackRecord::Recorded { trades, recorded }) => tracing::info!(
            "[JOURNAL] the simulated history's backtest: {recorded} of {trades} trades recorded (origin backtest)"
        ),
        Ok(FirstTrackRecord::AlreadyThere) => {}
        Err(err) => tracing::warn!("[JOURNAL] the simulated history's backtest failed: {err}"),
    }
}

/// A signal as its table row, with the reason of a WAIT in words (the
/// browser shows them as they come: no wording table in the WASM).
pub(crate) fn table_row(signal: &Signal) -> TableRow {
    let mut row = TableRow::from(signal);
    if let Some(wait) = row.wait.as_mut() {
        wait.words = quantpro_core::strategies::wait_reason_words(&wait.code).to_string();
    }
    row
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, SettingsError> + Send + 'static,
) -> Result<T, SettingsError> {
    tokio::task::spawn_blocking(work)
        .await
        .unwrap_or_else(|join_error| {
            Err(SettingsError::Encode(format!(
                "the configuration task failed: {join_error}"
            )))
        })
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}
