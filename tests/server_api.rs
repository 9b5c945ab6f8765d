//! The JSON API seen from outside: the real axum app (Leptos routes,
//! middleware and all) served on 127.0.0.1:0 and called with reqwest.
//! Scans run over a generated candle set in a temporary directory; a
//! `ScanJobs::hold` keeps a scan running while a test looks at it, so no
//! test waits on a sleep.

#[path = "common/served_app.rs"]
mod served_app;

#[path = "common/reference_candles.rs"]
mod reference_candles;

use quantpro::server::AppState;
use quantpro_core::feed_writer::write_feed;
use quantpro_core::scan::{run_scan, NoProgress, ScanRequest};
use quantpro_model::external::ExternalDataMap;
use quantpro_model::{
    Action, Exchange, MasterFeed, ScanState, ScanStatus, ScannerConfig, Strategy,
};
use quantpro_service::settings::{Environment, SettingsStore};
use reqwest::{header, Method, StatusCode};
use serde_json::{json, Value};
use std::io::Read;
use std::time::Duration;

/// Every wait in these tests is for an event that must come; this bounds a
/// broken server's hang, it is not a synchronisation.
const PATIENCE: Duration = Duration::from_secs(60);

/// Symbols per exchange in the generated data set.
const SYMBOLS: usize = 6;

struct TestServer {
    base: String,
    state: AppState,
    client: reqwest::Client,
    _dir: tempfile::TempDir,
}

impl TestServer {
    /// A server over `SYMBOLS` generated symbols on each of `exchanges`, with
    /// no feed and no configuration file yet.
    async fn start(exchanges: &[Exchange]) -> TestServer {
        TestServer::start_with_env(exchanges, &[]).await
    }

    /// `start`, with exactly these environment variables (overrides, keys):
    /// the machine's environment stays out of the test.
    async fn start_with_env(exchanges: &[Exchange], env: &[(&str, &str)]) -> TestServer {
        // No configuration file: single-user mode, and the test's requests
        // come from 127.0.0.1, so they are the owner's.
        let app = served_app::serve_app(exchanges, SYMBOLS, None, env).await;
        TestServer {
            base: app.base,
            state: app.state,
            client: reqwest::Client::new(),
            _dir: app._dir,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The body of `GET path` as text (a page the server renders).
    async fn page(&self, path: &str) -> String {
        let response = self.client.get(self.url(path)).send().await.unwrap();
        response.text().await.unwrap()
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        let response = self.client.get(self.url(path)).send().await.unwrap();
        json_of(response).await
    }

    async fn post_scan(&self, body: &str) -> (StatusCode, Value) {
        self.send_json(Method::POST, "/api/scan/start", body).await
    }

    async fn put_config(&self, body: &str) -> (StatusCode, Value) {
        self.send_json(Method::PUT, "/api/config", body).await
    }

    async fn send_json(&self, method: Method, path: &str, body: &str) -> (StatusCode, Value) {
        let response = self
            .client
            .request(method, self.url(path))
            .header(header::CONTENT_TYPE, "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        json_of(response).await
    }

    async fn feed(&self, path: &str) -> MasterFeed {
        let response = self.client.get(self.url(path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        MasterFeed::parse(&response.text().await.unwrap()).expect("a whole feed")
    }

    /// Waits until job `id` is finished or failed and returns its status.
    async fn wait_done(&self, id: u64) -> ScanStatus {
        let mut updates = self.state.scans.subscribe();
        let status = tokio::time::timeout(
            PATIENCE,
            updates.wait_for(|s| {
                s.id == id && matches!(s.state, ScanState::Finished | ScanState::Failed)
            }),
        )
        .await
        .expect("the scan ends")
        .unwrap()
        .clone();
        status
    }

    /// Starts a scan through the API and waits for it.
    async fn scan(&self, body: &str) -> ScanStatus {
        let (status, started) = self.post_scan(body).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{started}");
        self.wait_done(started["id"].as_u64().unwrap()).await
    }
}

/// Writes the feed of one fresh LONG signal (the fixture's BTCUSDT Legacy,
/// in the scanner's own output format) for `state`'s server; returns it.
fn write_feed_of_one_signal(state: &AppState) -> quantpro_model::Signal {
    let signal = quantpro_model::fixtures::sample_signal("BTCUSDT", Strategy::Legacy);
    let feed = MasterFeed {
        last_updated: 1_721_088_900_000,
        signals: vec![signal.clone()],
    };
    write_feed(&state.paths().feed_path, &feed).unwrap();
    signal
}

async fn json_of(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    let content_type = response.headers().get(header::CONTENT_TYPE).cloned();
    let text = response.text().await.unwrap();
    let value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{status}: not JSON ({e}): {text}"));
    assert_eq!(
        content_type.as_ref().and_then(|v| v.to_str().ok()),
        Some("application/json"),
        "{text}"
    );
    (status, value)
}

fn error_of(body: &Value) -> &str {
    body["error"]
        .as_str()
        .unwrap_or_else(|| panic!("no error message in {body}"))
}

#[tokio::test]
async fn results_are_served_filtered_by_source_and_compressed() {
    let server = TestServer::start(&[Exchange::Binance, Exchange::Mexc]).await;
    let (status, body) = server.get("/api/results").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(error_of(&body).starts_with("No master feed at"), "{body}");

    // A feed written by the scanner core directly, not through the server.
    let paths = server.state.paths();
    let request = ScanRequest::new(&paths.data_dir);
    let outcome = run_scan(
        &request,
        &ScannerConfig::default(),
        &ExternalDataMap::new(),
        &NoProgress,
    )
    .unwrap();
    write_feed(&paths.feed_path, &outcome.feed).unwrap();
    // Compared by key: the feed went through a JSON file and back.
    let keys = |feed: &MasterFeed| -> Vec<(Exchange, String, Strategy)> {
        feed.signals
            .iter()
            .map(|s| (s.exchange, s.symbol.clone(), s.strategy))
            .collect()
    };
    let feed = server.feed("/api/results").await;
    assert_eq!(keys(&feed), keys(&outcome.feed));
    assert_eq!(feed.last_updated, outcome.feed.last_updated);
    assert_eq!(feed.signals.len(), 2 * SYMBOLS * 3);

    for (query, exchange) in [("MEXC", Exchange::Mexc), ("binance", Exchange::Binance)] {
        let only = server.feed(&format!("/api/results?source={query}")).await;
        let expected = MasterFeed {
            last_updated: outcome.feed.last_updated,
            signals: outcome
                .feed
                .signals
                .iter()
                .filter(|s| s.exchange == exchange)
                .cloned()
                .collect(),
        };
        assert_eq!(keys(&only), keys(&expected), "{query}");
        assert_eq!(only.signals.len(), SYMBOLS * 3, "{query}");
        assert_eq!(only.last_updated, outcome.feed.last_updated);
    }
    let none = server.feed("/api/results?source=Hyperliquid").await;
    assert!(none.signals.is_empty());

    for bad in ["KRAKEN", ""] {
        let (status, body) = server.get(&format!("/api/results?source={bad}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(
            error_of(&body),
            format!("unknown source \"{bad}\": expected one of MEXC, HYPERLIQUID, BINANCE")
        );
    }

    let response = server
        .client
        .get(server.url("/api/results?source=MEXC"))
        .header(header::ACCEPT_ENCODING, "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()[header::CONTENT_ENCODING], "gzip");
    let compressed = response.bytes().await.unwrap();
    let mut text = String::new();
    flate2::read::GzDecoder::new(&compressed[..])
        .read_to_string(&mut text)
        .unwrap();
    let only_mexc = MasterFeed::parse(&text).unwrap();
    assert!(!only_mexc.signals.is_empty());
    assert!(only_mexc
        .signals
        .iter()
        .all(|s| s.exchange == Exchange::Mexc));
}

#[tokio::test]
async fn a_polling_client_revalidates_the_feed_with_its_etag() {
    let server = TestServer::start(&[Exchange::Binance]).await;
    let get = |path: &str, if_none_match: Option<&str>, gzip: bool| {
        let mut request = server.client.get(server.url(path));
        if let Some(tag) = if_none_match {
            request = request.header(header::IF_NONE_MATCH, tag);
        }
        if gzip {
            request = request.header(header::ACCEPT_ENCODING, "gzip");
        }
        request.send()
    };
    let etag_of = |response: &reqwest::Response| {
        response.headers()[header::ETAG]
            .to_str()
            .unwrap()
            .to_string()
    };
    let first = server.scan("{}").await;
    assert_eq!(first.state, ScanState::Finished, "{:?}", first.errors);

    let response = get("/api/results", None, false).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[header::CACHE_CONTROL], "no-cache");
    let tag = etag_of(&response);
    let zipped = get("/api/results", None, true).await.unwrap();
    assert_eq!(etag_of(&zipped), tag, "same content, same (weak) tag");
    let mexc = get("/api/results?source=MEXC", None, false).await.unwrap();
    assert_ne!(etag_of(&mexc), tag, "another selection, another tag");

    for gzip in [false, true] {
        let unchanged = get("/api/results", Some(&tag), gzip).await.unwrap();
        assert_eq!(unchanged.status(), StatusCode::NOT_MODIFIED);
        assert_eq!(etag_of(&unchanged), tag);
        assert!(unchanged.bytes().await.unwrap().is_empty());
    }
    let other = get("/api/results", Some("W/\"00000000-0\""), false)
        .await
        .unwrap();
    assert_eq!(other.status(), StatusCode::OK);

    // A new scan writes a new feed (a later last_updated): the old tag no
    // longer matches and the client gets the new feed with a new tag.
    let second = server.scan("{}").await;
    assert_eq!(second.state, ScanState::Finished, "{:?}", second.errors);
    let changed = get("/api/results", Some(&tag), false).await.unwrap();
    assert_eq!(changed.status(), StatusCode::OK);
    assert_ne!(etag_of(&changed), tag);
    let feed = MasterFeed::parse(&changed.text().await.unwrap()).unwrap();
    assert_eq!(feed.signals.len(), SYMBOLS * 3);
}

#[tokio::test]
async fn scanning_one_exchange_updates_its_signals_and_keeps_the_others() {
    let server = TestServer::start(&[Exchange::Binance, Exchange::Mexc]).await;
    let all = server.scan("{}").await;
    assert_eq!(all.state, ScanState::Finished, "{:?}", all.errors);
    let before = server.feed("/api/results").await;
    assert_eq!(before.signals.len(), 2 * SYMBOLS * 3);

    let mexc = server.scan(r#"{"exchange": "MEXC"}"#).await;
    assert_eq!(mexc.state, ScanState::Finished, "{:?}", mexc.errors);
    assert_eq!(mexc.signals, SYMBOLS * 3, "the job counts what it found");
    let after = server.feed("/api/results").await;
    assert!(after.last_updated >= before.last_updated);
    assert_eq!(after.signals.len(), 2 * SYMBOLS * 3, "BINANCE rows kept");
    let of = |feed: &MasterFeed, exchange: Exchange| -> Vec<(String, Strategy, i64)> {
        let mut rows: Vec<_> = feed
            .signals
            .iter()
            .filter(|s| s.exchange == exchange)
            .map(|s| (s.symbol.clone(), s.strategy, s.observability.calculated_at))
            .collect();
        rows.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
        rows
    };
    assert_eq!(
        of(&after, Exchange::Binance),
        of(&before, Exchange::Binance),
        "BINANCE signals untouched"
    );
    assert_eq!(of(&after, Exchange::Mexc).len(), SYMBOLS * 3);
    let scores: Vec<f64> = after.signals.iter().map(|s| s.score).collect();
    assert!(
        scores.windows(2).all(|w| w[0] >= w[1]),
        "merged feed still best first: {scores:?}"
    );
}

#[tokio::test]
async fn bad_scan_requests_are_refused_with_a_reason() {
    let server = TestServer::start(&[Exchange::Binance]).await;
    let cases = [
        (r#"{"limit": 0}"#, "'limit' must be at least 1"),
        (r#"{"symbol": ""}"#, "'symbol' must not be empty"),
        (
            r#"{"symbol": "BTC/USDT"}"#,
            "may only contain letters, digits",
        ),
        (
            r#"{"symbol": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}"#,
            "at most 32 are allowed",
        ),
        (
            r#"{"limit": -1}"#,
            "invalid scan request: invalid value: integer `-1`",
        ),
        (r#"{"exchange": "KRAKEN"}"#, "invalid scan request:"),
        (r#"{"limt": 5}"#, "unknown field `limt`"),
        (r#"{"limit": 5"#, "invalid scan request: EOF while parsing"),
        ("[]", "invalid scan request: expected a JSON object"),
    ];
    for (body, expected) in cases {
        let (status, answer) = server.post_scan(body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {answer}");
        assert!(error_of(&answer).contains(expected), "{body}: {answer}");
    }
    let (status, idle) = server.get("/api/scan/status").await;
    assert_eq!(status, StatusCode::OK);
    let idle: ScanStatus = serde_json::from_value(idle).unwrap();
    assert_eq!(
        idle,
        ScanStatus::idle(),
        "no refused request started a scan"
    );

    // Over the body limit: refused before any handler reads it.
    let huge = format!(r#"{{"symbol": "{}"}}"#, "A".repeat(100 * 1024));
    let response = server
        .client
        .post(server.url("/api/scan/start"))
        .body(huge)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn a_second_start_while_one_runs_gets_409_with_the_running_id() {
    let server = TestServer::start(&[Exchange::Binance]).await;
    let hold = server.state.scans.hold();
    let (status, first) = server.post_scan("").await;
    assert_eq!(
        status,
        StatusCode::ACCEPTED,
        "an empty body scans everything"
    );
    assert_eq!(first, json!({ "id": 1 }));

    let (status, second) = server.post_scan(r#"{"limit": 2}"#).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(second["running_id"], 1);
    assert!(
        error_of(&second).contains("already running (job 1)"),
        "{second}"
    );

    let (_, running) = server.get("/api/scan/status").await;
    let running: ScanStatus = serde_json::from_value(running).unwrap();
    assert_eq!((running.id, running.state), (1, ScanState::Running));
    assert!(running.elapsed_secs > 0.0);

    drop(hold);
    let done = server.wait_done(1).await;
    assert_eq!(done.state, ScanState::Finished, "{done:?}");
    let (status, third) = server
        .post_scan(r#"{"limit": 2, "exchange": "BINANCE"}"#)
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{third}");
    assert_eq!(third["id"], 2);
    let done = server.wait_done(2).await;
    assert_eq!((done.total, done.processed, done.signals), (2, 2, 6));
}

/// One Server-Sent Event: its name and JSON data.
#[derive(Debug)]
struct SseEvent {
    name: String,
    status: ScanStatus,
}

enum AnyEvent {
    Status(SseEvent),
    /// A `feed` event's `last_updated`.
    Feed(i64),
}

/// Reads a `text/event-stream` response event by event (comments, such as
/// keep-alives, are skipped).
struct SseReader {
    response: reqwest::Response,
    buffer: String,
    /// `last_updated` of the `feed` events read so far, oldest first.
    feeds: std::collections::VecDeque<i64>,
}

impl SseReader {
    /// The next status event (`progress` or `done`); `feed` events on the
    /// way are queued for `next_feed`.
    async fn next(&mut self) -> Option<SseEvent> {
        loop {
            match self.next_any().await? {
                AnyEvent::Status(event) => return Some(event),
                AnyEvent::Feed(last_updated) => self.feeds.push_back(last_updated),
            }
        }
    }

    /// The `last_updated` of the next `feed` event (status events on the
    /// way are dropped).
    async fn next_feed(&mut self) -> i64 {
        if let Some(last_updated) = self.feeds.pop_front() {
            return last_updated;
        }
        loop {
            match self.next_any().await.expect("the stream stays open") {
                AnyEvent::Feed(last_updated) => return last_updated,
                AnyEvent::Status(_) => continue,
            }
        }
    }

    async fn next_any(&mut self) -> Option<AnyEvent> {
        // One deadline for the whole event: keep-alive comments must not
        // keep a test waiting for an event that never comes.
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let (mut name, mut data) = (None, String::new());
                for line in block.lines() {
                    if let Some(value) = line.strip_prefix("event:") {
                        name = Some(value.trim().to_string());
                    } else if let Some(value) = line.strip_prefix("data:") {
                        data.push_str(value.trim_start());
                    }
                }
                if name.as_deref() == Some("feed") {
                    let feed: Value =
                        serde_json::from_str(&data).unwrap_or_else(|e| panic!("{e}: {data}"));
                    let last_updated = feed["last_updated"].as_i64().expect("a number");
                    return Some(AnyEvent::Feed(last_updated));
                }
                if let Some(name) = name {
                    let status =
                        serde_json::from_str(&data).unwrap_or_else(|e| panic!("{e}: {data}"));
                    return Some(AnyEvent::Status(SseEvent { name, status }));
                }
                continue;
            }
            let chunk = tokio::time::timeout_at(deadline, self.response.chunk())
                .await
                .expect("an event arrives");
            match chunk.unwrap() {
                Some(bytes) => self.buffer.push_str(std::str::from_utf8(&bytes).unwrap()),
                None => return None,
            }
        }
    }

    /// Skips events until one matches.
    async fn until(&mut self, wanted: impl Fn(&SseEvent) -> bool) -> SseEvent {
        loop {
            let event = self.next().await.expect("the stream stays open");
            if wanted(&event) {
                return event;
            }
        }
    }
}

async fn open_events(server: &TestServer) -> SseReader {
    let response = server
        .client
        .get(server.url("/api/scan/events"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()[header::CONTENT_TYPE],
        "text/event-stream"
    );
    SseReader {
        response,
        buffer: String::new(),
        feeds: Default::default(),
    }
}

#[tokio::test]
async fn the_event_stream_delivers_progress_then_done_and_the_feed_is_reread() {
    let server = TestServer::start(&[Exchange::Binance, Exchange::Hyperliquid]).await;
    // An old feed from elsewhere, which the scan must replace.
    let old = MasterFeed {
        last_updated: 1,
        signals: vec![],
    };
    write_feed(&server.state.paths().feed_path, &old).unwrap();
    assert_eq!(server.feed("/api/results").await, old);

    let mut events = open_events(&server).await;
    let first = events.next().await.unwrap();
    assert_eq!(
        (first.name.as_str(), first.status.clone()),
        ("progress", ScanStatus::idle())
    );

    let hold = server.state.scans.hold();
    let (_, started) = server.post_scan("{}").await;
    let id = started["id"].as_u64().unwrap();
    let progress = events.until(|e| e.status.processed > 0).await;
    assert_eq!(progress.name, "progress");
    assert_eq!(progress.status.id, id);
    assert_eq!(progress.status.state, ScanState::Running);
    assert_eq!(progress.status.total, 2 * SYMBOLS);
    assert!(
        progress.status.processed < progress.status.total,
        "held before the end: {:?}",
        progress.status
    );
    assert_eq!(progress.status.signals, 3 * progress.status.processed);

    drop(hold);
    let done = events.until(|e| e.name == "done").await;
    assert_eq!(done.status.id, id);
    assert_eq!(done.status.state, ScanState::Finished, "{:?}", done.status);
    assert_eq!(done.status.processed, done.status.total);
    assert_eq!(done.status.total, 2 * SYMBOLS);
    assert_eq!(done.status.signals, 3 * 2 * SYMBOLS);
    assert!(done.status.errors.is_empty(), "{:?}", done.status.errors);

    // `done` is sent after the feed was written and the cache dropped.
    let feed = server.feed("/api/results").await;
    assert_ne!(feed.last_updated, old.last_updated);
    assert_eq!(feed.signals.len(), done.status.signals);
    let (_, status) = server.get("/api/scan/status").await;
    assert_eq!(
        serde_json::from_value::<ScanStatus>(status).unwrap(),
        done.status
    );

    // The stream follows the next job too, and ends when the server stops.
    let next = server.scan(r#"{"symbol": "syn001"}"#).await;
    let again = events
        .until(|e| e.name == "done" && e.status.id == next.id)
        .await;
    assert_eq!(
        (again.status.total, again.status.signals),
        (2, 6),
        "SYN001 (the demo's second asset) on both exchanges"
    );
    server.state.begin_shutdown();
    tokio::time::timeout(PATIENCE, async { while events.next().await.is_some() {} })
        .await
        .expect("the stream ends at shutdown");
}

#[tokio::test]
async fn the_event_stream_announces_a_feed_written_by_someone_else() {
    let server = TestServer::start(&[Exchange::Binance]).await;
    let mut events = open_events(&server).await;
    assert_eq!(events.next_feed().await, 0, "no feed yet");

    // Another process (quantpro scan from cron, say) writes the feed.
    let feed = |last_updated| MasterFeed {
        last_updated,
        signals: vec![],
    };
    write_feed(&server.state.paths().feed_path, &feed(1_700_000_000_000)).unwrap();
    assert_eq!(events.next_feed().await, 1_700_000_000_000);
    write_feed(&server.state.paths().feed_path, &feed(1_700_000_900_000)).unwrap();
    assert_eq!(events.next_feed().await, 1_700_000_900_000);

    // A new connection hears the current feed at once.
    let mut late = open_events(&server).await;
    assert_eq!(late.next_feed().await, 1_700_000_900_000);

    // A scan of this server announces its feed as well (after `done`).
    let done = server.scan("{}").await;
    let written = server.feed("/api/results").await.last_updated;
    assert_eq!(done.state, ScanState::Finished);
    assert_eq!(events.next_feed().await, written);
}

#[tokio::test]
async fn a_scan_matching_nothing_fails_and_keeps_the_feed() {
    let server = TestServer::start(&[Exchange::Binance]).await;
    let good = server.scan("").await;
    assert_eq!(good.state, ScanState::Finished);
    let before = server.feed("/api/results").await;
    let failed = server.scan(r#"{"exchange": "MEXC"}"#).await;
    assert_eq!(failed.state, ScanState::Failed);
    assert!(
        failed
            .errors
            .iter()
            .any(|e| e.contains("no symbol with both 15m and 4h candles")),
        "{failed:?}"
    );
    assert_eq!(server.feed("/api/results").await, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn readers_never_see_a_half_written_feed() {
    let server =
        TestServer::start(&[Exchange::Binance, Exchange::Mexc, Exchange::Hyperliquid]).await;
    let first = server.scan("").await;
    let expected_signals = first.signals;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let readers: Vec<_> = (0..4)
        .map(|_| {
            let (client, url, stop) = (
                server.client.clone(),
                server.url("/api/results"),
                stop.clone(),
            );
            tokio::spawn(async move {
                let mut versions = std::collections::BTreeSet::new();
                let mut reads = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let response = client.get(&url).send().await.unwrap();
                    assert_eq!(response.status(), StatusCode::OK);
                    let feed =
                        MasterFeed::parse(&response.text().await.unwrap()).expect("a whole feed");
                    assert_eq!(feed.signals.len(), expected_signals);
                    versions.insert(feed.last_updated);
                    reads += 1;
                }
                (reads, versions)
            })
        })
        .collect();
    let mut written = std::collections::BTreeSet::new();
    for _ in 0..5 {
        let done = server.scan("").await;
        assert_eq!(done.state, ScanState::Finished);
        written.insert(server.feed("/api/results").await.last_updated);
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut seen = std::collections::BTreeSet::new();
    let mut reads = 0;
    for reader in readers {
        let (n, versions) = reader.await.unwrap();
        reads += n;
        seen.extend(versions);
    }
    assert!(
        reads > 20,
        "the readers ran during the scans: {reads} reads"
    );
    assert!(seen.len() >= 2, "the readers saw the feed change: {seen:?}");
    assert!(
        written.len() >= 2,
        "each scan wrote a new feed: {written:?}"
    );
}

#[tokio::test]
async fn config_is_served_validated_saved_and_used_by_the_next_scan() {
    let server = TestServer::start(&[Exchange::Binance]).await;
    let (status, view) = server.get("/api/config").await;
    assert_eq!(status, StatusCode::OK);
    let config: ScannerConfig = serde_json::from_value(view["config"].clone()).unwrap();
    assert_eq!(config, ScannerConfig::default());
    let fields = view["fields"].as_array().unwrap();
    assert_eq!(fields.len(), ScannerConfig::fields().len());
    assert_eq!(fields[0]["key"], "legacy.min_score");
    assert_eq!(fields[0]["default"], 60.0);

    let (status, refused) = server
        .put_config(r#"{"legacy": {"min_score": 500}, "setup": {"sl_lookback": 0}}"#)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let errors: Vec<&str> = refused["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap())
        .collect();
    assert_eq!(
        errors,
        [
            "'legacy.min_score' must be between 0 and 100, got 500",
            "'setup.sl_lookback' must be between 1 and 1000, got 0"
        ]
    );
    assert!(error_of(&refused).starts_with("invalid configuration: 'legacy.min_score'"));
    for (body, expected) in [
        ("{", "invalid configuration body: EOF while parsing"),
        (r#"{"legacy": {"min_scor": 5}}"#, "unknown field `min_scor`"),
        (r#"{"legacyy": {}}"#, "unknown section \"legacyy\""),
        (
            r#"{"v2": {"require_oi": "yes"}}"#,
            "invalid type: string \"yes\", expected a boolean",
        ),
    ] {
        let (status, refused) = server.put_config(body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(error_of(&refused).contains(expected), "{body}: {refused}");
    }
    assert!(
        !server.state.paths().config_path.exists(),
        "nothing refused was saved"
    );

    // A scan with the defaults acts on some symbols...
    let before = server.scan("").await;
    assert_eq!(before.state, ScanState::Finished);
    let feed = server.feed("/api/results").await;
    assert!(feed
        .signals
        .iter()
        .any(|s| s.wait_reasons != ["insufficient_data"]));

    // ...and none once 100000 candles are required.
    let mut wanted = ScannerConfig::default();
    wanted.data.min_ltf_candles = 100_000;
    let (status, saved) = server
        .put_config(&serde_json::to_string(&wanted).unwrap())
        .await;
    assert_eq!(status, StatusCode::OK, "{saved}");
    assert_eq!(
        serde_json::from_value::<ScannerConfig>(saved["config"].clone()).unwrap(),
        wanted
    );
    assert_eq!(
        SettingsStore::new(&server.state.paths().config_path, Environment::default())
            .load()
            .unwrap()
            .scanner,
        wanted
    );
    let (_, view) = server.get("/api/config").await;
    assert_eq!(view["config"]["data"]["min_ltf_candles"], 100_000);

    server.scan("").await;
    let feed = server.feed("/api/results").await;
    assert_eq!(feed.signals.len(), 3 * SYMBOLS);
    assert!(feed
        .signals
        .iter()
        .all(|s| s.action == Action::Wait && s.wait_reasons == ["insufficient_data"]));
}

/// The signals of a feed with their computation time blanked: two scans of
/// the same data moments apart differ in nothing else.
fn comparable(mut feed: MasterFeed) -> Vec<quantpro_model::Signal> {
    for signal in &mut feed.signals {
        signal.observability.calculated_at = 0;
    }
    feed.signals
}

#[tokio::test]
async fn the_cli_and_the_dashboard_scan_alike_with_the_same_config_and_environment() {
    let overrides = [
        ("QUANTPRO_LEGACY__MIN_SCORE", "20"),
        ("QUANTPRO_BREAKOUT__MIN_SCORE", "20"),
        ("QUANTPRO_SETUP__MIN_RR", "0.5"),
    ];
    let server = TestServer::start_with_env(&[Exchange::Binance, Exchange::Mexc], &overrides).await;
    let paths = server.state.paths().clone();
    std::fs::write(
        &paths.config_path,
        "[v2]\nrequire_oi = false\nmin_score = 20\n",
    )
    .unwrap();
    server.state.pipeline.settings().reload().unwrap();
    assert_eq!(server.scan("").await.state, ScanState::Finished);
    let dashboard = MasterFeed::parse(&std::fs::read_to_string(&paths.feed_path).unwrap()).unwrap();

    let cli_scan = |out: &std::path::Path, env: &[(&str, &str)]| {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_quantpro"));
        command
            .args(["scan", "--data-dir", paths.data_dir.to_str().unwrap()])
            .args(["--out", out.to_str().unwrap()])
            .args(["--config", paths.config_path.to_str().unwrap()])
            .current_dir(paths.data_dir.parent().unwrap())
            .env("RUST_LOG", "warn")
            .env_remove("COINALYZE_API_KEY")
            .env_remove("COINGECKO_API_KEY");
        for (name, _) in overrides {
            command.env_remove(name);
        }
        command.envs(env.iter().copied());
        let output = command.output().expect("run quantpro scan");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        MasterFeed::parse(&std::fs::read_to_string(out).unwrap()).unwrap()
    };
    let dir = paths.data_dir.parent().unwrap();
    let cli = cli_scan(&dir.join("cli_feed.json"), &overrides);
    assert_eq!(comparable(cli), comparable(dashboard.clone()));

    // The overrides matter: without them the CLI finds other actions.
    let plain = cli_scan(&dir.join("plain_feed.json"), &[]);
    let actions = |feed: &MasterFeed| {
        feed.signals
            .iter()
            .filter(|s| s.action != Action::Wait)
            .count()
    };
    assert!(
        actions(&dashboard) > actions(&plain),
        "overridden thresholds act more often: {} vs {}",
        actions(&dashboard),
        actions(&plain)
    );
}

#[tokio::test]
async fn every_response_has_the_security_headers_and_unknown_api_paths_are_json() {
    let server = TestServer::start(&[Exchange::Binance]).await;
    for path in ["/", "/api/scan/status", "/api/results", "/healthz"] {
        let response = server.client.get(server.url(path)).send().await.unwrap();
        let headers = response.headers();
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(headers["x-frame-options"], "DENY", "{path}");
        assert_eq!(headers["referrer-policy"], "no-referrer", "{path}");
        let csp = headers["content-security-policy"].to_str().unwrap();
        assert!(
            csp.contains("script-src 'self' 'unsafe-inline' 'wasm-unsafe-eval'"),
            "{path}: {csp}"
        );
    }
    let page = server.client.get(server.url("/")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(
        html.contains("/pkg/quantpro.js") || html.contains("quantpro"),
        "the page loads the app: {html}"
    );

    let (status, body) = server.get("/api/nope").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(error_of(&body).starts_with("no such API route"));
}

impl TestServer {
    /// Calls a server function at its fixed endpoint with form arguments.
    async fn server_fn(&self, endpoint: &str, form: &[(&str, &str)]) -> (StatusCode, String) {
        let response = self
            .client
            .post(self.url(&format!("/api/{endpoint}")))
            .form(form)
            .send()
            .await
            .unwrap();
        (response.status(), response.text().await.unwrap())
    }

    /// The `signal_panels` server function (what the DetailPanel shows).
    async fn signal_panels(
        &self,
        exchange: &str,
        symbol: &str,
        strategy: &str,
    ) -> (StatusCode, String) {
        let form = [
            ("exchange", exchange),
            ("symbol", symbol),
            ("strategy", strategy),
        ];
        self.server_fn("signal_panels", &form).await
    }
}

#[tokio::test]
async fn server_functions_serve_the_table_and_a_signal_rendered_on_the_server() {
    let server = TestServer::start(&[Exchange::Binance]).await;
    let (status, text) = server.server_fn("table_feed", &[]).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let table: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(table["rows"].as_array().unwrap().len(), 0);
    assert!(
        table["error"].as_str().unwrap().contains("No master feed"),
        "{table}"
    );

    server.scan("{}").await;
    let (status, text) = server.server_fn("table_feed", &[]).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let table: Value = serde_json::from_str(&text).unwrap();
    let rows = table["rows"].as_array().unwrap();
    assert_eq!(rows.len(), SYMBOLS * 3);
    assert!(table["error"].is_null(), "{table}");
    // The stale rule the page applies as its clock moves: the configured
    // number of 15m intervals (2 by default, then 5 once saved).
    assert_eq!(table["stale_after_ms"], 2 * 15 * 60 * 1000);
    let (status, _) = server
        .put_config(r#"{"data": {"stale_intervals": 5}}"#)
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, text) = server.server_fn("table_feed", &[]).await;
    let table_after: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(table_after["stale_after_ms"], 5 * 15 * 60 * 1000);

    // One signal of the table, its parts as the DetailPanel gets them.
    let symbol = rows[0]["symbol"].as_str().unwrap();
    let strategy = rows[0]["strategy"].as_str().unwrap();
    let (status, text) = server.signal_panels("BINANCE", symbol, strategy).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let panels: Value = serde_json::from_str(&text).unwrap();
    let html = |field: &str| panels[field].as_str().unwrap_or_default().to_string();
    assert!(html("header_html").contains(symbol), "{panels}");
    assert_eq!(
        html("charts_html").matches("<svg").count(),
        2,
        "15m and 4h charts"
    );
    assert!(html("observability_html").contains("Score composition"));
    assert!(html("observability_html").contains("<svg"), "the RSI chart");
    assert!(html("setup_html").contains("Trade setup"));
    assert!(html("description").starts_with(&format!("{symbol} on BINANCE")));

    // A signal the feed does not have is `null`, not an error.
    let (status, text) = server.signal_panels("BINANCE", "NOPEUSDT", "Legacy").await;
    assert_eq!((status, text.as_str()), (StatusCode::OK, "null"));

    // Arguments that do not parse are the caller's fault.
    let (status, text) = server.signal_panels("KRAKEN", symbol, "Legacy").await;
    assert!(status.is_client_error(), "{status}: {text}");
    assert!(
        text.contains("KRAKEN") || text.to_lowercase().contains("variant"),
        "{text}"
    );
}

#[tokio::test]
async fn the_track_record_page_lists_what_the_scans_recorded_in_the_journal() {
    // Low thresholds, so the generated market opens trades.
    let overrides = [
        ("QUANTPRO_LEGACY__MIN_SCORE", "20"),
        ("QUANTPRO_BREAKOUT__MIN_SCORE", "20"),
        ("QUANTPRO_SETUP__MIN_RR", "0.5"),
    ];
    let server = TestServer::start_with_env(&[Exchange::Binance, Exchange::Mexc], &overrides).await;
    assert_eq!(server.scan("").await.state, ScanState::Finished);
    let feed =
        MasterFeed::parse(&std::fs::read_to_string(&server.state.paths().feed_path).unwrap())
            .unwrap();
    let fired = feed
        .signals
        .iter()
        .filter(|s| s.setup.is_some() && s.action != Action::Wait)
        .count();
    assert!(
        fired > 0,
        "the generated market must fire signals for this test"
    );

    let get = |path: &str| server.client.get(format!("{}{path}", server.base)).send();
    let (status, record) = json_of(get("/api/track-record").await.unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    let recorded =
        record["all"]["trades"].as_u64().unwrap() + record["all"]["open"].as_u64().unwrap();
    assert_eq!(recorded as usize, fired, "every fired signal recorded once");

    let page = get("/track-record").await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(
        html.contains("data-testid=\"track-stats\""),
        "statistics table"
    );
    for strategy in Strategy::ALL {
        assert!(
            html.contains(&format!("data-strategy=\"{strategy}\"")),
            "{strategy} row"
        );
    }
    assert_eq!(
        html.matches("data-testid=\"trade-row\"").count(),
        fired.min(50)
    );
    for signal in feed
        .signals
        .iter()
        .filter(|s| s.setup.is_some() && s.action != Action::Wait)
        .take(3)
    {
        let link = format!(
            "href=\"/signal/{}/{}/{}\"",
            signal.exchange, signal.symbol, signal.strategy
        );
        assert!(html.contains(&link), "a trade row links to {link}");
    }

    // A filter narrows the rows to its strategy; a bad name is said on the page.
    let legacy = feed
        .signals
        .iter()
        .filter(|s| s.setup.is_some() && s.action != Action::Wait && s.strategy == Strategy::Legacy)
        .count();
    let html = get("/track-record?strategy=Legacy")
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        html.matches("data-testid=\"trade-row\"").count(),
        legacy.min(50)
    );
    let bad = get("/track-record?strategy=Martingale").await.unwrap();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    let html = bad.text().await.unwrap();
    assert!(
        html.contains("Cannot load the track record") && html.contains("Martingale"),
        "the error is shown"
    );

    // The signal's own views carry its strategy's line.
    let signal = feed
        .signals
        .iter()
        .find(|s| s.setup.is_some() && s.action != Action::Wait)
        .unwrap();
    let share = get(&format!(
        "/signal/{}/{}/{}",
        signal.exchange, signal.symbol, signal.strategy
    ))
    .await
    .unwrap()
    .text()
    .await
    .unwrap();
    assert!(
        share.contains(&format!("{} on {}:", signal.strategy, signal.symbol)),
        "track line on the share page"
    );
    assert!(share.contains("Last trade:"), "the signal's trade");
}

/// Thresholds low enough for the generated market to open trades.
const FIRING: [(&str, &str); 3] = [
    ("QUANTPRO_LEGACY__MIN_SCORE", "20"),
    ("QUANTPRO_BREAKOUT__MIN_SCORE", "20"),
    ("QUANTPRO_SETUP__MIN_RR", "0.5"),
];

/// The signals of the server's feed that open a trade.
fn fired_signals(server: &TestServer) -> Vec<quantpro_model::Signal> {
    let feed =
        MasterFeed::parse(&std::fs::read_to_string(&server.state.paths().feed_path).unwrap())
            .unwrap();
    feed.signals
        .into_iter()
        .filter(|s| s.setup.is_some() && s.action != Action::Wait)
        .collect()
}

/// `quantpro backtest --journal` over the server's data directory and
/// configuration, with only the `FIRING` overrides in its environment;
/// returns how many replayed trades the journal took.
fn backtest_into_journal(server: &TestServer) -> usize {
    let paths = server.state.paths();
    let out = paths.data_dir.with_file_name("report.json");
    let done = std::process::Command::new(env!("CARGO_BIN_EXE_quantpro"))
        .current_dir(paths.data_dir.parent().unwrap())
        .env_clear()
        .envs(FIRING)
        .arg("backtest")
        .arg("--data-dir")
        .arg(&paths.data_dir)
        .arg("--config")
        .arg(&paths.config_path)
        .arg("--out")
        .arg(&out)
        .arg("--journal")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&done.stdout);
    assert!(
        done.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&done.stderr)
    );
    let recorded = stdout
        .lines()
        .find_map(|line| {
            line.strip_prefix("[JOURNAL] ")?
                .split_once(" of ")?
                .0
                .parse()
                .ok()
        })
        .unwrap_or_else(|| panic!("no journal line in {stdout}"));
    assert!(recorded > 0, "the replay must record trades for this test");
    recorded
}

/// The `TableRow`s of the `table_feed` server function.
async fn table_rows(server: &TestServer) -> Vec<Value> {
    let (status, text) = server.server_fn("table_feed", &[]).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let table: Value = serde_json::from_str(&text).unwrap();
    table["rows"].as_array().unwrap().clone()
}

/// What a track line says of one group: "3 trades, 67% win, +0.50 R avg",
/// with " (1 open)" when some are open (STRATEGIES.md §6 figures, as
/// `GET /api/track-record` gives them).
fn stats_words(stats: &Value) -> String {
    let open = stats["open"].as_u64().unwrap();
    let open = if open > 0 {
        format!(" ({open} open)")
    } else {
        String::new()
    };
    match stats["trades"].as_u64().unwrap() {
        0 => format!("no closed trade{open}"),
        n => format!(
            "{n} trade{}, {:.0}% win, {:+.2} R avg{open}",
            if n == 1 { "" } else { "s" },
            stats["win_rate"].as_f64().unwrap() * 100.0,
            stats["avg_r"].as_f64().unwrap()
        ),
    }
}

#[tokio::test]
async fn each_table_row_carries_its_strategys_track_record_from_the_journal() {
    let server = TestServer::start_with_env(&[Exchange::Binance], &FIRING).await;
    assert_eq!(server.scan("").await.state, ScanState::Finished);
    let fired = fired_signals(&server);
    assert!(!fired.is_empty(), "the generated market must fire signals");

    // One scan: each fired signal opened a trade, none closed yet.
    let rows = table_rows(&server).await;
    assert_eq!(rows.len(), SYMBOLS * 3);
    for row in &rows {
        let strategy = row["strategy"].as_str().unwrap();
        let symbol = row["symbol"].as_str().unwrap();
        let open_of_strategy = fired
            .iter()
            .filter(|s| s.strategy.as_str() == strategy)
            .count();
        let track = row["track"].as_str();
        if open_of_strategy == 0 {
            assert_eq!(track, None, "{strategy} has no trade: no line");
            continue;
        }
        let own = fired
            .iter()
            .any(|s| s.strategy.as_str() == strategy && s.symbol == symbol);
        let on_symbol = if own {
            "no closed trade (1 open)"
        } else {
            "no closed trade"
        };
        assert_eq!(
            track,
            Some(
                format!(
                    "{strategy} on {symbol}: {on_symbol} · all symbols: no closed trade ({open_of_strategy} open)"
                )
                .as_str()
            ),
            "{row}"
        );
    }

    // A replay fills the journal with closed trades: the next table shows
    // them (the page refetches it on every feed change), with the figures
    // of GET /api/track-record, in the words of the DetailPanel.
    backtest_into_journal(&server);
    let rows = table_rows(&server).await;
    let mut closed_lines = 0;
    for row in &rows {
        let (strategy, symbol) = (
            row["strategy"].as_str().unwrap(),
            row["symbol"].as_str().unwrap(),
        );
        let (status, overall) = server
            .get(&format!("/api/track-record?strategy={strategy}"))
            .await;
        assert_eq!(status, StatusCode::OK);
        let (_, own) = server
            .get(&format!(
                "/api/track-record?strategy={strategy}&exchange=BINANCE&symbol={symbol}"
            ))
            .await;
        let expected = format!(
            "{strategy} on {symbol}: {} · all symbols: {}",
            stats_words(&own["all"]),
            stats_words(&overall["all"])
        );
        let recorded =
            overall["all"]["trades"].as_u64().unwrap() + overall["all"]["open"].as_u64().unwrap();
        if recorded == 0 {
            assert!(row["track"].is_null(), "{row}");
            continue;
        }
        assert_eq!(row["track"].as_str(), Some(expected.as_str()), "{row}");
        closed_lines += usize::from(own["all"]["trades"].as_u64().unwrap() > 0);

        let (_, text) = server.signal_panels("BINANCE", symbol, strategy).await;
        let panels: Value = serde_json::from_str(&text).unwrap();
        assert!(
            panels["track_html"].as_str().unwrap().contains(&expected),
            "the DetailPanel says the same: {}",
            panels["track_html"]
        );
    }
    assert!(
        closed_lines > 0,
        "some rows name closed trades on their symbol"
    );
}

#[tokio::test]
async fn the_track_record_filters_by_origin_on_the_api_and_the_page() {
    let server = TestServer::start_with_env(&[Exchange::Binance], &FIRING).await;
    assert_eq!(server.scan("").await.state, ScanState::Finished);
    let live = fired_signals(&server).len();
    assert!(live > 0, "the generated market must fire signals");
    let replayed = backtest_into_journal(&server);

    let recorded = |stats: &Value| {
        stats["all"]["trades"].as_u64().unwrap() + stats["all"]["open"].as_u64().unwrap()
    };
    let (status, all) = server.get("/api/track-record").await;
    assert_eq!(status, StatusCode::OK);
    let (_, everything) = server.get("/api/track-record?origin=all").await;
    assert_eq!(everything, all, "`all` is no filter");
    let (_, live_only) = server.get("/api/track-record?origin=live").await;
    let (_, backtest_only) = server.get("/api/track-record?origin=BACKTEST").await;
    assert_eq!(
        recorded(&live_only) as usize,
        live,
        "one trade per fired signal"
    );
    assert_eq!(recorded(&backtest_only) as usize, replayed);
    assert_eq!(recorded(&all) as usize, live + replayed);
    assert_eq!(
        live_only["all"]["trades"], 0,
        "the scan's trades are all open"
    );

    let (status, bad) = server.get("/api/track-record?origin=paper").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        error_of(&bad).contains("expected one of: live, backtest"),
        "{bad}"
    );

    // The page: its form keeps the choice, its trades, statistics and
    // source line follow it.
    let page = |query: &str| {
        let url = server.url(&format!("/track-record?{query}"));
        let client = server.client.clone();
        async move {
            let response = client.get(url).send().await.unwrap();
            let status = response.status();
            // Without the renderer's hydration markers (`<!>`).
            (status, response.text().await.unwrap().replace("<!>", ""))
        }
    };
    let (status, html) = page("origin=live").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        html.matches("data-testid=\"trade-row\"").count(),
        live.min(50)
    );
    assert!(html.contains(&format!("{live} trade")), "source line");
    assert!(html.contains("live scans only"), "source line");
    assert!(
        html.contains("<option value=\"live\" selected"),
        "the form keeps the choice"
    );
    let (_, html) = page("origin=backtest&strategy=").await;
    assert_eq!(
        html.matches("data-testid=\"trade-row\"").count(),
        replayed.min(50)
    );
    assert!(html.contains("backtest only"));
    let backtest_closed = backtest_only["all"]["trades"].as_u64().unwrap();
    assert!(
        html.contains(&format!("<td class=\"num\">{backtest_closed}</td>")),
        "the statistics count the backtest's closed trades ({backtest_closed})"
    );

    let (status, html) = page("origin=paper").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        html.contains("Cannot load the track record") && html.contains("live, backtest"),
        "the page says what is wrong"
    );
}

#[tokio::test]
async fn a_journal_that_cannot_be_reached_leaves_the_table_whole_without_track_lines() {
    // A read-only SQLite file that does not exist: opening fails at once
    // (a refused PostgreSQL connection is retried for 10 s).
    let env = [(
        "QUANTPRO_JOURNAL__DATABASE_URL",
        "sqlite:///nonexistent-quantpro-dir/journal.sqlite?mode=ro",
    )];
    let server = TestServer::start_with_env(&[Exchange::Binance], &env).await;
    server.scan("").await;
    let rows = table_rows(&server).await;
    assert_eq!(
        rows.len(),
        SYMBOLS * 3,
        "the feed was written and is served"
    );
    assert!(
        rows.iter().all(|row| row["track"].is_null()),
        "no line without a journal"
    );
    let (symbol, strategy) = (
        rows[0]["symbol"].as_str().unwrap(),
        rows[0]["strategy"].as_str().unwrap(),
    );
    let (status, text) = server.signal_panels("BINANCE", symbol, strategy).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert!(
        text.contains(
            "Track record unavailable: cannot open the signal journal at sqlite:///nonexistent-quantpro-dir/journal.sqlite"
        ),
        "the DetailPanel says why: {text}"
    );
}

#[tokio::test]
async fn the_share_page_is_rendered_whole_and_unknown_signals_get_a_404() {
    let server = TestServer::start(&[Exchange::Binance]).await;
    let page = |path: String| {
        let request = server.client.get(server.url(&path)).send();
        async move {
            let response = request.await.unwrap();
            (response.status(), response.text().await.unwrap())
        }
    };
    // No feed yet: the page says so, with the feed's status.
    let (status, html) = page("/signal/BINANCE/AAAUSDT/Legacy".into()).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        html.contains("Cannot load this signal: No master feed at"),
        "{html}"
    );

    server.scan("{}").await;
    let feed = server.feed("/api/results").await;
    let signal = &feed.signals[0];
    let path = format!(
        "/signal/{}/{}/{}",
        signal.exchange, signal.symbol, signal.strategy
    );
    let (status, html) = page(path).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("data-testid=\"share-page\""));
    assert!(html.contains("<meta property=\"og:title\" content=\""));
    assert!(html.contains(&format!(
        "<meta property=\"og:description\" content=\"{} on {}",
        signal.symbol, signal.exchange
    )));
    assert!(!html.contains("<script"), "no script: {html}");

    for missing in [
        format!("/signal/{}/NOSUCHCOIN/{}", signal.exchange, signal.strategy),
        format!("/signal/KRAKEN/{}/{}", signal.symbol, signal.strategy),
        format!("/signal/{}/{}/Martingale", signal.exchange, signal.symbol),
    ] {
        let (status, html) = page(missing.clone()).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{missing}");
        assert!(html.contains("Signal not found"), "{missing}");
    }
}

#[tokio::test]
async fn on_real_markets_without_a_coinalyze_key_the_table_says_once_what_breakout_v2_needs() {
    // Real candles (two Binance symbols of the reference data), no key.
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    std::fs::create_dir_all(&data_dir).unwrap();
    for name in [
        "BTCUSDT_BINANCE_15m.json",
        "BTCUSDT_BINANCE_4h.json",
        "ETHUSDT_BINANCE_15m.json",
        "ETHUSDT_BINANCE_4h.json",
    ] {
        std::fs::copy(
            reference_candles::candles_dir().join(name),
            data_dir.join(name),
        )
        .unwrap();
    }
    let paths = quantpro_service::pipeline::DataPaths {
        data_dir,
        feed_path: dir.path().join("master_feed.json"),
        config_path: dir.path().join("quantpro.toml"),
    };
    let pipeline = quantpro_service::pipeline::ScanPipeline::build(
        paths,
        Environment::from_pairs(Vec::<(&str, &str)>::new()),
    )
    .unwrap();
    let (base, state) = served_app::serve_pipeline(pipeline, dir.path()).await;
    let server = TestServer {
        base,
        state,
        client: reqwest::Client::new(),
        _dir: dir,
    };
    assert_eq!(server.scan("{}").await.state, ScanState::Finished);

    let (status, text) = server.server_fn("table_feed", &[]).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let table: Value = serde_json::from_str(&text).unwrap();
    let notice = table["notice"].as_str().expect("a notice");
    assert!(
        notice.starts_with("BreakoutV2 needs open interest: set COINALYZE_API_KEY"),
        "{notice}"
    );
    // What it explains: every BreakoutV2 row waits for open interest; the
    // rows themselves do not repeat the sentence.
    let rows = table["rows"].as_array().unwrap();
    let v2: Vec<&Value> = rows
        .iter()
        .filter(|row| row["strategy"] == "BreakoutV2")
        .collect();
    assert_eq!(v2.len(), 2);
    assert!(v2.iter().all(|row| row["action"] == "WAIT"), "{v2:?}");
    assert!(!rows
        .iter()
        .any(|row| row.to_string().contains("COINALYZE_API_KEY")));
    // Once on the page, above the table.
    let html = server.page("/").await;
    assert_eq!(
        html.matches("data-testid=\"feed-notice\"").count(),
        1,
        "{html}"
    );
    let notice_at = html.find("data-testid=\"feed-notice\"").unwrap();
    let table_at = html.find("<table").expect("the table");
    assert!(notice_at < table_at, "the notice is above the table");

    // The simulated market simulates its derivatives: nothing to say.
    let simulated = TestServer::start(&[Exchange::Binance]).await;
    let (_, text) = simulated.server_fn("table_feed", &[]).await;
    let table: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(table["notice"], "", "{table}");
}

/// The owner's paper trade over the JSON API: ticket, one bracket per
/// confirmation, the positions, the ticket page, close, and the kill
/// switch; each refusal a 4xx with its reason.
#[tokio::test]
async fn a_paper_trade_goes_from_ticket_to_positions_and_back_to_flat() {
    let server = TestServer::start(&[Exchange::Binance]).await;
    // A feed with one fresh LONG signal (the scanner's own output format).
    let signal = write_feed_of_one_signal(&server.state);
    let (exchange, symbol, strategy) = (
        signal.exchange.as_str(),
        signal.symbol.as_str(),
        signal.strategy.as_str(),
    );
    let (status, ticket) = server
        .get(&format!(
            "/api/execution/ticket?exchange={exchange}&symbol={symbol}&strategy={strategy}"
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{ticket}");
    assert_eq!(ticket["live"], false, "paper by default");
    assert!(ticket["refusal"].is_null(), "{ticket}");
    let candle = ticket["signal_candle"].as_i64().unwrap();
    let open = |candle: i64| {
        serde_json::json!({"exchange": exchange, "symbol": symbol, "strategy": strategy, "candle": candle})
            .to_string()
    };

    let (status, stale) = server
        .send_json(Method::POST, "/api/execution/open", &open(candle - 900_000))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{stale}");
    assert!(
        stale["error"]
            .as_str()
            .unwrap()
            .contains("the signal changed"),
        "{stale}"
    );

    let (status, bracket) = server
        .send_json(Method::POST, "/api/execution/open", &open(candle))
        .await;
    assert_eq!(status, StatusCode::OK, "{bracket}");
    assert_eq!(bracket["state"], "open", "{bracket}");
    assert_eq!(bracket["sizing"], ticket["sizing"]);
    let (status, again) = server
        .send_json(Method::POST, "/api/execution/open", &open(candle))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "a double click: {again}");
    assert!(again["error"].as_str().unwrap().contains("one per symbol"));

    let (_, positions) = server.get("/api/execution/positions").await;
    let open_positions = positions["open"].as_array().unwrap();
    assert_eq!(open_positions.len(), 1);
    assert_eq!(open_positions[0]["quantity"], ticket["sizing"]["quantity"]);

    let page = server
        .client
        .get(server.url(&format!("/trade/{exchange}/{symbol}/{strategy}")))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("data-testid=\"trade-ticket\"") && html.contains("PAPER"));
    assert!(
        html.contains("one per symbol"),
        "the limit it would break is shown"
    );

    let (status, closed) = server
        .send_json(
            Method::POST,
            "/api/execution/close",
            &serde_json::json!({"exchange": exchange, "symbol": symbol}).to_string(),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{closed}");
    assert_eq!(closed["state"], "closed");
    let (status, none) = server
        .send_json(
            Method::POST,
            "/api/execution/close",
            &serde_json::json!({"exchange": exchange, "symbol": symbol}).to_string(),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{none}");

    // The owner's Track Record lists the executed trade beside the signals'.
    let html = server.page("/track-record").await;
    assert!(html.contains("data-testid=\"executed-trades\""));
    assert_eq!(html.matches("data-testid=\"executed-row\"").count(), 1);

    let (status, bad) = server
        .send_json(Method::POST, "/api/execution/open", "{\"symbol\": 1}")
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");

    // Open again (a new attempt of the same signal), then the kill switch.
    let (status, _) = server
        .send_json(Method::POST, "/api/execution/open", &open(candle))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, flat) = server
        .send_json(Method::POST, "/api/execution/flatten", "")
        .await;
    assert_eq!(status, StatusCode::OK, "{flat}");
    assert_eq!(flat["closed"].as_array().unwrap().len(), 1, "{flat}");
    let (_, positions) = server.get("/api/execution/positions").await;
    assert!(positions["open"].as_array().unwrap().is_empty());
}

/// A rule with `execute = "paper"` trades each signal it fires for, under
/// the limits, and the order is alerted; `execute = "live"` does nothing on
/// a paper venue.
#[tokio::test]
async fn an_alert_rule_with_execute_trades_the_signal_on_paper() {
    let config = r#"
[[alerts.rules]]
name = "auto"
on = ["signal"]
execute = "paper"

[[alerts.rules]]
name = "live-only"
on = ["signal"]
execute = "live"
"#;
    let app = served_app::serve_app(&[Exchange::Binance], SYMBOLS, Some(config), &[]).await;
    let signal = write_feed_of_one_signal(&app.state);
    app.state.start_execution();
    let mut alerts = app.state.alerter.subscribe();
    let mut before = signal.clone();
    before.action = Action::Wait;
    before.ltf.last_candle_time = Some(signal.ltf.last_candle_time.unwrap() - 900_000);
    app.state
        .alerter
        .on_feed_change(&[before], std::slice::from_ref(&signal))
        .await;
    // The order's own alert (kind execution) follows the signal's.
    let placed = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let alert = alerts.recv().await.unwrap();
            if alert.kind == quantpro_service::alerts::AlertKind::Execution {
                return alert;
            }
        }
    })
    .await
    .expect("the rule traded and the order was alerted");
    assert!(
        placed.title.starts_with("PAPER BTCUSDT LONG"),
        "{}",
        placed.title
    );
    let positions = app.state.positions().await.unwrap();
    assert_eq!(
        positions.open.len(),
        1,
        "one bracket: the live-only rule did nothing"
    );
}

/// Live Binance (against its fake) through the whole server: the keys come
/// from the environment only, and neither a page, an API answer, the feed,
/// the journal nor any file of the data directory ever holds them.
#[tokio::test]
async fn live_keys_never_reach_a_page_an_answer_the_feed_or_a_file() {
    use quantpro_fakes::binance::{FakeBinance, API_KEY, SECRET};
    let fake = FakeBinance::start_default().await;
    fake.set_mark("BTCUSDT", "64080.5".parse().unwrap());
    let config = format!(
        "[execution]\nbinance = \"live\"\nbinance_url = \"{}\"\nbinance_stream_url = \"{}\"\n",
        fake.url(),
        fake.ws_url()
    );
    let app = served_app::serve_app(
        &[Exchange::Binance],
        SYMBOLS,
        Some(&config),
        &[("BINANCE_API_KEY", API_KEY), ("BINANCE_API_SECRET", SECRET)],
    )
    .await;
    write_feed_of_one_signal(&app.state);
    let client = reqwest::Client::new();
    let opened = client
        .post(format!("{}/api/execution/open", app.base))
        .header(header::CONTENT_TYPE, "application/json")
        .body(r#"{"exchange":"BINANCE","symbol":"BTCUSDT","strategy":"Legacy","candle":1721088000000}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(opened.status(), StatusCode::OK);
    let bracket: Value = opened.json().await.unwrap();
    assert_eq!(
        (bracket["live"].as_bool(), bracket["state"].as_str()),
        (Some(true), Some("open"))
    );
    assert_eq!(
        fake.position("BTCUSDT").amount.to_string(),
        bracket["sizing"]["quantity"].as_str().unwrap(),
        "the venue holds what was sized"
    );

    let leaks = |text: &str| text.contains(API_KEY) || text.contains(SECRET);
    for path in [
        "/",
        "/trade/BINANCE/BTCUSDT/Legacy",
        "/positions",
        "/track-record",
        "/alerts",
        "/api/results",
        "/api/execution/positions",
        "/api/execution/ticket?exchange=BINANCE&symbol=BTCUSDT&strategy=Legacy",
        "/api/config",
        "/api/alerts",
    ] {
        let text = client
            .get(format!("{}{path}", app.base))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(!leaks(&text), "{path} shows a key");
    }
    let mut files = vec![app.state.paths().data_dir.clone()];
    let mut read = 0;
    while let Some(path) = files.pop() {
        if path.is_dir() {
            files.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
        } else {
            let bytes = std::fs::read(&path).unwrap();
            assert!(
                !leaks(&String::from_utf8_lossy(&bytes)),
                "{} holds a key",
                path.display()
            );
            read += 1;
        }
    }
    assert!(read > 3, "the journal, the feed and the candles were read");
}

/// While the first feed is being made (a scan job here; the live loop at a
/// server's first start is the same case) and no feed file exists yet,
/// `/api/results` is a 503 that says it is warming up, with `Retry-After`,
/// and the dashboard says so above its table instead of "run a scan".
/// With nothing writing a feed, the answer is the plain "run a scan".
#[tokio::test]
async fn results_warm_up_while_the_first_scan_runs_and_say_run_a_scan_otherwise() {
    let server = TestServer::start(&[Exchange::Binance]).await;
    // Nothing writes a feed: how to make one.
    let response = server
        .client
        .get(server.url("/api/results"))
        .send()
        .await
        .unwrap();
    assert!(response.headers().get(header::RETRY_AFTER).is_none());
    let (status, body) = json_of(response).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(error_of(&body).contains("run a scan"), "{body}");
    assert_eq!(body.get("warming_up"), None, "{body}");
    let (_, text) = server.server_fn("table_feed", &[]).await;
    let table: Value = serde_json::from_str(&text).unwrap();
    assert!(
        table["error"].as_str().unwrap().contains("run a scan"),
        "{table}"
    );
    assert!(!text.contains("Warming up"), "{table}");

    // The first scan runs and has not written the feed yet.
    let hold = server.state.scans.hold();
    let (status, started) = server.post_scan("{}").await;
    assert_eq!(status, StatusCode::ACCEPTED, "{started}");
    assert!(!server.state.paths().feed_path.exists());
    let response = server
        .client
        .get(server.url("/api/results"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response
            .headers()
            .get(header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok()),
        Some("3")
    );
    let (status, body) = json_of(response).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        error_of(&body),
        "Warming up: the first scan of the market is running; retry in a few seconds."
    );
    assert_eq!(body["warming_up"], true, "{body}");
    assert_eq!(body["retry_after"], 3, "{body}");
    let (status, text) = server.server_fn("table_feed", &[]).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let table: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(table["error"], Value::Null, "not an error: {table}");
    assert!(
        table["notice"]
            .as_str()
            .unwrap()
            .starts_with("Warming up: the first scan is running"),
        "{table}"
    );
    assert!(!text.contains("run a scan"), "{table}");
    // The page the server renders says the same.
    let html = server.page("/").await;
    assert!(
        html.contains("Warming up: the first scan is running"),
        "{html}"
    );
    assert!(!html.contains("data-testid=\"error-banner\""), "{html}");
    // A share page asked for meanwhile says so too, not "run a scan".
    let share = server
        .client
        .get(server.url("/signal/BINANCE/BTCUSDT/Legacy"))
        .send()
        .await
        .unwrap();
    assert_eq!(share.status(), StatusCode::SERVICE_UNAVAILABLE);
    let share = share.text().await.unwrap();
    assert!(share.contains("Warming up"), "{share}");
    assert!(!share.contains("run a scan"), "{share}");

    // Once written, the feed is served.
    drop(hold);
    let done = server.wait_done(started["id"].as_u64().unwrap()).await;
    assert_eq!(done.state, ScanState::Finished);
    let feed = server.feed("/api/results").await;
    assert!(!feed.signals.is_empty());
}
