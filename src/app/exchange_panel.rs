//! ExchangePanel: the data source (All, MEXC, HYPERLIQUID, BINANCE), the
//! Scan button and the live progress bar of the current scan job.
//!
//! The source is the URL's `ex` parameter: it filters the table and is the
//! exchange the next scan covers. The progress comes from
//! `DashboardState::scan`, which `scan_events` keeps up to date.

use super::api::StartScan;
use super::dashboard_state::{use_set_view, DashboardState};
use super::session::use_visitor;
use super::table_view::ViewParams;
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;
use quantpro_model::{Exchange, ScanStartRequest, ScanState, ScanStatus};
use quantpro_model::{ScanStartOutcome, TableView};

const SOURCES: [Option<Exchange>; 4] = [
    None,
    Some(Exchange::Mexc),
    Some(Exchange::Hyperliquid),
    Some(Exchange::Binance),
];

#[component]
pub fn ExchangePanel() -> impl IntoView {
    let state = expect_context::<DashboardState>();
    let query = use_query_map();
    let source = Memo::new(move |_| query.with(|q| TableView::from_params(q).filter.exchange));
    let set_view = use_set_view();
    let start = ServerAction::<StartScan>::new();
    let busy = move || state.scanning() || start.pending().get();
    let owner = use_visitor().is_owner();

    let source_buttons = SOURCES
        .into_iter()
        .map(|exchange| {
            let set_view = set_view.clone();
            let label = exchange.map_or("All", |e| e.as_str());
            view! {
                <button
                    class="seg"
                    class:active=move || source.get() == exchange
                    aria-pressed=move || (source.get() == exchange).to_string()
                    data-source=label
                    on:click=move |_| {
                        let mut next = TableView::from_params(&query.get_untracked());
                        next.filter.exchange = exchange;
                        set_view(&next, false);
                    }
                >
                    {label}
                </button>
            }
        })
        .collect_view();

    let on_scan = move |_| {
        let request = ScanStartRequest {
            exchange: source.get_untracked(),
            ..Default::default()
        };
        start.dispatch(StartScan { request });
    };
    let scan_label = move || {
        if busy() {
            "Scanning…".to_string()
        } else {
            match source.get() {
                Some(exchange) => format!("Scan {exchange}"),
                None => "Scan all".to_string(),
            }
        }
    };
    // A started scan speaks through the progress bar; only a refusal needs words.
    let refusal = move || {
        start.value().get().and_then(|result| match result {
            Ok(ScanStartOutcome::Started { .. }) => None,
            Ok(outcome) => Some(outcome.message()),
            Err(err) => Some(format!("could not start the scan: {err}")),
        })
    };

    view! {
        <div class="exchange-panel" data-testid="exchange-panel">
            <div class="seg-group" role="group" aria-label="Data source" title="Data source: filters the table and is what the Scan button scans">
                {source_buttons}
            </div>
            <button
                class="btn btn-primary scan-button"
                data-testid="scan-button"
                disabled=move || busy() || !owner
                title=(!owner).then_some("Sign in as the owner to start scans")
                on:click=on_scan
            >
                {scan_label}
            </button>
            <ScanProgress />
            {move || {
                refusal()
                    .map(|message| {
                        view! {
                            <span class="scan-message" role="status" data-testid="scan-message">
                                {message}
                            </span>
                        }
                    })
            }}
        </div>
    }
}

/// The progress bar: processed/total symbols, percent, signals found.
#[component]
fn ScanProgress() -> impl IntoView {
    let state = expect_context::<DashboardState>();
    let status = move || state.scan.get();
    let percent = move || status().map_or(0.0, |s| s.percent());
    let state_name = move || status().map_or("unknown", |s| state_label(s.state));
    view! {
        <div
            class="scan-progress"
            data-testid="scan-progress"
            data-state=state_name
            role="progressbar"
            aria-valuemin="0"
            aria-valuemax="100"
            aria-valuenow=move || format!("{:.0}", percent())
            title="Progress of the current (or last) scan job, live from /api/scan/events"
        >
            <div class="progress-track">
                <div class="progress-fill" style:width=move || format!("{:.1}%", percent())></div>
            </div>
            <span class="progress-text" data-testid="scan-progress-text">
                {move || progress_text(status().as_ref(), state.live.get())}
            </span>
        </div>
    }
}

fn state_label(state: ScanState) -> &'static str {
    match state {
        ScanState::Idle => "idle",
        ScanState::Running => "running",
        ScanState::Finished => "finished",
        ScanState::Failed => "failed",
    }
}

/// `#3 18/30 symbols · 60% · 42 signals · 1.2 s`, or what the state says instead.
pub fn progress_text(status: Option<&ScanStatus>, live: bool) -> String {
    let Some(status) = status else {
        return if live {
            "waiting for status…"
        } else {
            "connecting…"
        }
        .to_string();
    };
    let counts = format!(
        "{}/{} symbols · {:.0}% · {} signals · {:.1} s",
        status.processed,
        status.total,
        status.percent(),
        status.signals,
        status.elapsed_secs
    );
    match status.state {
        // Live rescans update the feed without a scan job: this line is
        // about the Scan button only.
        ScanState::Idle => "no manual scan since the server started".to_string(),
        ScanState::Running => format!("#{} {counts}", status.id),
        ScanState::Finished => format!("#{} done · {counts}", status.id),
        ScanState::Failed => format!(
            "#{} failed: {}",
            status.id,
            status
                .errors
                .last()
                .map(String::as_str)
                .unwrap_or("unknown error")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_text_shows_counts_percent_and_signals() {
        let running = ScanStatus {
            id: 3,
            state: ScanState::Running,
            processed: 18,
            total: 30,
            signals: 42,
            elapsed_secs: 1.23,
            ..ScanStatus::idle()
        };
        assert_eq!(
            progress_text(Some(&running), true),
            "#3 18/30 symbols · 60% · 42 signals · 1.2 s"
        );
        let done = ScanStatus {
            state: ScanState::Finished,
            processed: 30,
            ..running.clone()
        };
        assert_eq!(
            progress_text(Some(&done), true),
            "#3 done · 30/30 symbols · 100% · 42 signals · 1.2 s"
        );
        let failed = ScanStatus {
            state: ScanState::Failed,
            errors: vec!["no symbol".into()],
            ..running
        };
        assert_eq!(progress_text(Some(&failed), true), "#3 failed: no symbol");
        assert_eq!(progress_text(None, false), "connecting…");
    }
}
