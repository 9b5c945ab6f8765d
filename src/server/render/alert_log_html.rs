//! The alert log page (`GET /alerts`, the owner's), rendered whole on the
//! server like the sign-in form: every alert the alerter decided lately
//! (newest first) with its time, rule, signal, and each channel's outcome
//! (delivered, failed and why, pending, resent after a restart), then every
//! channel's state. The data is `Alerter::log`, the same as `GET /api/alerts`.

use super::page_document::{page_document, PageTopbar};
use super::to_html;
use leptos::prelude::*;
use quantpro_model::format;
use quantpro_service::alerts::alerter::ChannelDelivery;
use quantpro_service::alerts::channels::{ChannelState, ChannelStatus};
use quantpro_service::alerts::{AlertLogEntry, AlertLogView, DeliveryState};

/// The whole page of `log`.
pub fn render_alert_log_page(log: &AlertLogView) -> String {
    let entries = log.entries.clone();
    let channels = log.channels.clone();
    let body = to_html(view! {
        <div class="app alerts-page">
            <PageTopbar subtitle=" alert log">
                <a class="btn btn-ghost btn-small" href="/">"Scanner"</a>
            </PageTopbar>
            <main class="content track-content" data-testid="alert-log">
                <section class="panel">
                    <h2>"Alerts"</h2>
                    <p class="panel-note">
                        "The alerts decided since the server started (newest first, at most "
                        {quantpro_service::alerts::alerter::LOG_CAPACITY.to_string()}
                        "); the journal keeps every decision and delivery, so a restart sends nothing twice."
                    </p>
                    <AlertTable entries />
                </section>
                <section class="panel">
                    <h2>"Channels"</h2>
                    <ChannelTable channels />
                </section>
            </main>
        </div>
    });
    page_document("Alert log", &body)
}

#[component]
fn AlertTable(entries: Vec<AlertLogEntry>) -> impl IntoView {
    if entries.is_empty() {
        return view! { <p class="muted" data-testid="alert-log-empty">"No alert yet."</p> }
            .into_any();
    }
    let rows = entries
        .into_iter()
        .map(|entry| {
            let signal = match &entry.link {
                Some(link) => view! { <a href=link.clone()>{entry.title.clone()}</a> }.into_any(),
                None => entry.title.clone().into_any(),
            };
            let deliveries = if entry.held {
                view! { <span class="muted">"held back by the hourly cap (in the summary)"</span> }
                    .into_any()
            } else {
                entry
                    .deliveries
                    .iter()
                    .map(|d| view! { <Delivery delivery=d.clone() /> })
                    .collect_view()
                    .into_any()
            };
            view! {
                <tr data-testid="alert-log-row">
                    <td class="nowrap">{format::utc_datetime(entry.at_ms)}</td>
                    <td>{entry.rule.clone()}</td>
                    <td>{signal}</td>
                    <td>{deliveries}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <table class="grid-table">
            <thead>
                <tr>
                    <th>"Time (UTC)"</th>
                    <th>"Rule"</th>
                    <th>"Alert"</th>
                    <th>"Channels"</th>
                </tr>
            </thead>
            <tbody>{rows}</tbody>
        </table>
    }
    .into_any()
}

#[component]
fn Delivery(delivery: ChannelDelivery) -> impl IntoView {
    let (class, text) = match &delivery.state {
        DeliveryState::Pending => ("muted", "pending".to_string()),
        DeliveryState::Delivered { at_ms } => {
            ("ok", format!("delivered {}", format::utc_datetime(*at_ms)))
        }
        DeliveryState::Failed { at_ms, reason } => (
            "error",
            format!("failed {}: {reason}", format::utc_datetime(*at_ms)),
        ),
    };
    // The process before stopped while this one was under way: the
    // receiver may have had it already.
    let resent = delivery.resent.then_some(" (resent after a restart)");
    view! {
        <div class=format!("delivery {class}") data-channel=delivery.channel.clone()>
            <strong>{delivery.channel.clone()}</strong>
            " "
            {text}
            {resent}
        </div>
    }
}

#[component]
fn ChannelTable(channels: Vec<ChannelStatus>) -> impl IntoView {
    if channels.is_empty() {
        return view! {
            <p class="muted">
                "No outside channel is configured (the dashboard's own channel is \"browser\")."
            </p>
        }
        .into_any();
    }
    let rows = channels
        .into_iter()
        .map(|c| {
            let state = match c.state {
                ChannelState::Ready => "ready",
                ChannelState::Failing => "failing",
                ChannelState::Disabled => "disabled",
            };
            view! {
                <tr data-testid="alert-channel-row">
                    <td>{c.name.clone()}</td>
                    <td>{c.kind}</td>
                    <td>{state}</td>
                    <td>{c.reason.clone().unwrap_or_default()}</td>
                    <td class="num">{c.delivered.to_string()}</td>
                    <td class="num">{c.failed.to_string()}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <table class="grid-table">
            <thead>
                <tr>
                    <th>"Channel"</th>
                    <th>"Kind"</th>
                    <th>"State"</th>
                    <th>"Why"</th>
                    <th class="num">"Delivered"</th>
                    <th class="num">"Failed"</th>
                </tr>
            </thead>
            <tbody>{rows}</tbody>
        </table>
    }
    .into_any()
}
