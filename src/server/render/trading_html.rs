//! The owner's trading pages, rendered whole on the server (no WASM): the
//! ticket of one signal (`/trade/...`: side, levels, size, notional,
//! leverage, risk in money and in R, fees, the limits, PAPER/LIVE) with a
//! confirmation that repeats the numbers, and the positions (`/positions`:
//! entry, mark, unrealised result, stop and target, a close button each,
//! today's result and the daily-loss headroom, the kill switch). Every
//! number is defined in docs/TRADING.md. The buttons post to the JSON API
//! through the inline script below, with the page's CSRF token.

use super::page_document::{page_document_with_head, PageTopbar};
use super::to_html;
use leptos::prelude::*;
use quantpro_service::execution::{Bracket, Positions, Ticket};
use quantpro_sources::trading::Leg;

/// Posts `data-body` to `data-post` after `confirm(data-confirm)`, shows
/// the answer in `#trade-result`, and follows `data-next` on success.
const SCRIPT: &str = r#"<script>
(function(){
const token=document.querySelector('meta[name=csrf-token]');
document.querySelectorAll('[data-post]').forEach(function(b){b.addEventListener('click',async function(){
 if(b.dataset.confirm&&!window.confirm(b.dataset.confirm))return;
 b.disabled=true;const out=document.getElementById('trade-result');out.textContent='Sending…';
 const h={'content-type':'application/json'};if(token)h['x-csrf-token']=token.content;
 let ok=false,text='';
 try{const r=await fetch(b.dataset.post,{method:'POST',headers:h,body:b.dataset.body||'{}'});
  const j=await r.json().catch(function(){return{error:r.statusText}});ok=r.ok;
  text=ok?(j.note||b.dataset.done||'Done'):('Refused: '+j.error);}catch(e){text='Failed: '+e;}
 out.textContent=text;out.dataset.state=ok?'ok':'error';
 if(ok&&b.dataset.next){window.location.href=b.dataset.next;}else{b.disabled=false;}
});});
})();
</script>"#;

fn head(token: Option<String>) -> String {
    token
        .map(|t| to_html(view! { <meta name="csrf-token" content=t /> }))
        .unwrap_or_default()
}

/// The ticket of `ticket`, or the reason there is none.
pub fn render_ticket_page(ticket: Result<&Ticket, &str>, token: Option<String>) -> String {
    let body = match ticket {
        Ok(ticket) => ticket_body(ticket),
        Err(reason) => {
            let reason = reason.to_string();
            to_html(view! {
                <section class="panel"><h2>"No ticket"</h2>
                <p class="trade-error" data-testid="ticket-error">{reason}</p></section>
            })
        }
    };
    let page = to_html(view! {
        <div class="app trade-page">
            <PageTopbar subtitle=" trade ticket">
                <a class="btn btn-ghost btn-small" href="/positions">"Positions"</a>
                <a class="btn btn-ghost btn-small" href="/">"Scanner"</a>
            </PageTopbar>
            <main class="content track-content" inner_html=body></main>
        </div>
    });
    page_document_with_head(
        "Trade ticket · QuantPro",
        &head(token),
        &format!("{page}{SCRIPT}"),
    )
}

fn ticket_body(t: &Ticket) -> String {
    let s = &t.sizing;
    let l = &s.levels;
    let mode = if t.live { "LIVE" } else { "PAPER" };
    let side = l.direction();
    let confirm = format!(
        "{mode} {side} {} {} on {}: {} at {} ({}), stop {}, target {}; risk {} ({} R). Place it?",
        t.symbol,
        t.strategy,
        t.venue,
        s.quantity,
        l.entry,
        t.entry,
        l.stop,
        l.target,
        s.risk,
        s.risk_r
    );
    let body = serde_json::json!({
        "exchange": t.exchange, "symbol": t.symbol, "strategy": t.strategy, "candle": t.signal_candle,
    })
    .to_string();
    let rows: Vec<(&str, String)> = vec![
        ("Side", side.to_string()),
        ("Entry", format!("{} ({})", l.entry, t.entry)),
        ("Stop", l.stop.to_string()),
        ("Target", l.target.to_string()),
        ("Size", s.quantity.to_string()),
        ("Notional", s.notional.to_string()),
        ("Leverage", format!("{}x", s.leverage)),
        (
            "Risk",
            format!("{} ({} R of {})", s.risk, s.risk_r, s.risk_budget),
        ),
        ("Est. fees", s.fees.to_string()),
        ("Equity", t.equity.round_dp(2).to_string()),
    ];
    let title = format!("{} {} · {}", t.symbol, t.strategy, t.exchange);
    let (venue, limits, notes) = (t.venue.clone(), t.limits.clone(), t.notes.clone());
    let refusal = t.refusal.clone();
    let can_place = refusal.is_none();
    to_html(view! {
        <section class="panel" data-testid="trade-ticket">
            <h2>{title}" "<span class="badge" data-testid="trade-mode">{mode}</span></h2>
            <p class="panel-note">"Venue: "{venue}</p>
            <table class="track-table"><tbody>
                {rows.into_iter().map(|(k, v)| view! { <tr><th>{k}</th><td>{v}</td></tr> }).collect_view()}
            </tbody></table>
            <h3>"Limits"</h3>
            <ul>{limits.into_iter().map(|l| view! { <li>{l}</li> }).collect_view()}</ul>
            {(!notes.is_empty()).then(|| view! {
                <ul class="panel-note">{notes.into_iter().map(|n| view! { <li>{n}</li> }).collect_view()}</ul>
            })}
            {refusal.map(|r| view! { <p class="trade-error" data-testid="ticket-refusal">{r}</p> })}
            <button class="btn" data-testid="place-trade" disabled=!can_place
                data-post="/api/execution/open" data-body=body data-confirm=confirm
                data-next="/positions">"Place bracket"</button>
            <p id="trade-result" data-testid="trade-result" role="status"></p>
        </section>
    })
}

/// The positions page of `positions`, or why it cannot be read.
pub fn render_positions_page(positions: Result<&Positions, &str>, token: Option<String>) -> String {
    let body = match positions {
        Ok(p) => positions_body(p),
        Err(reason) => {
            let reason = reason.to_string();
            to_html(view! { <p class="trade-error">{reason}</p> })
        }
    };
    let page = to_html(view! {
        <div class="app trade-page">
            <PageTopbar subtitle=" positions">
                <a class="btn btn-ghost btn-small" href="/">"Scanner"</a>
            </PageTopbar>
            <main class="content track-content" inner_html=body></main>
        </div>
    });
    page_document_with_head(
        "Positions · QuantPro",
        &head(token),
        &format!("{page}{SCRIPT}"),
    )
}

fn level(bracket: &Bracket, leg: Leg) -> String {
    bracket.leg(leg).filter(|l| l.is_resting()).map_or_else(
        || "—".to_string(),
        |l| match l.request.kind {
            quantpro_sources::trading::OrderKind::StopMarket { trigger }
            | quantpro_sources::trading::OrderKind::TakeProfitMarket { trigger } => {
                trigger.to_string()
            }
            _ => "—".to_string(),
        },
    )
}

/// Each leg's state at the venue, as last read: "entry filled 0.078 at
/// 64080.5 · stop open · target open".
fn legs_status(bracket: &Bracket) -> String {
    bracket
        .legs
        .iter()
        .map(|leg| {
            let name = match leg.request.leg {
                Leg::Entry => "entry",
                Leg::Stop => "stop",
                Leg::Target => "target",
                Leg::Close => "close",
            };
            let state = match (&leg.report, &leg.error) {
                (Some(report), _) => {
                    let state = match &report.state {
                        quantpro_sources::trading::OrderState::Open => "open".to_string(),
                        quantpro_sources::trading::OrderState::PartiallyFilled => {
                            "partly filled".to_string()
                        }
                        quantpro_sources::trading::OrderState::Filled => "filled".to_string(),
                        quantpro_sources::trading::OrderState::Canceled => "cancelled".to_string(),
                        quantpro_sources::trading::OrderState::Expired => "expired".to_string(),
                        quantpro_sources::trading::OrderState::Rejected(why) => {
                            format!("rejected ({why})")
                        }
                    };
                    match report.average_price.filter(|_| !report.filled.is_zero()) {
                        Some(price) => format!("{state} {} at {price}", report.filled),
                        None => state,
                    }
                }
                (None, Some(error)) => format!("not placed ({error})"),
                (None, None) => "being sent".to_string(),
            };
            format!("{name} {state}")
        })
        .collect::<Vec<_>>()
        .join(" · ")
}

fn positions_body(p: &Positions) -> String {
    let summary = format!(
        "Today (UTC): {} realised ({} R); {} R of loss left before new orders are refused.",
        p.realized_today.round_dp(2),
        p.realized_today_r.round_dp(2),
        p.headroom_r.round_dp(2)
    );
    let rows = p
        .open
        .iter()
        .map(|v| {
            let b = &v.bracket;
            let entry = b
                .leg(Leg::Entry)
                .and_then(|l| l.report.as_ref())
                .and_then(|r| r.average_price)
                .map_or_else(|| "pending".to_string(), |p| p.to_string());
            let mode = if b.live { "LIVE" } else { "PAPER" };
            let pnl = match (v.unrealized, v.unrealized_r) {
                (Some(u), Some(r)) => format!("{} ({r} R)", u.round_dp(2)),
                _ => "—".to_string(),
            };
            let body = serde_json::json!({ "exchange": b.exchange, "symbol": b.symbol }).to_string();
            let confirm = format!("Close {} {} {} at the market?", mode, b.exchange, b.symbol);
            let note = b.note.clone().unwrap_or_default();
            let legs = legs_status(b);
            let cells = [
                format!("{} {}", b.exchange, b.symbol),
                mode.to_string(),
                b.sizing.levels.direction().to_string(),
                v.quantity.to_string(),
                entry,
                v.mark.map_or_else(|| "—".to_string(), |m| m.to_string()),
                pnl,
                level(b, Leg::Stop),
                level(b, Leg::Target),
            ];
            view! {
                <tr data-testid="position-row">
                    {cells.into_iter().map(|c| view! { <td>{c}</td> }).collect_view()}
                    <td><button class="btn btn-small" data-post="/api/execution/close" data-body=body
                        data-confirm=confirm data-next="/positions">"Close"</button></td>
                    <td class="panel-note" data-testid="legs">{legs}</td>
                    <td class="panel-note">{note}</td>
                </tr>
            }
        })
        .collect_view();
    let empty = p.open.is_empty();
    to_html(view! {
        <section class="panel" data-testid="positions">
            <h2>"Positions"</h2>
            <p class="panel-note" data-testid="positions-summary">{summary}</p>
            {empty.then(|| view! { <p data-testid="no-positions">"No open position placed by QuantPro."</p> })}
            <table class="track-table"><thead><tr>
                <th>"Symbol"</th><th>"Mode"</th><th>"Side"</th><th>"Size"</th><th>"Entry"</th>
                <th>"Mark"</th><th>"Unrealised"</th><th>"Stop"</th><th>"Target"</th><th></th><th>"Orders at the venue"</th><th></th>
            </tr></thead><tbody>{rows}</tbody></table>
            <button class="btn btn-danger" data-testid="kill-switch" data-post="/api/execution/flatten"
                data-confirm="Cancel every order and close every position QuantPro opened, on every venue?"
                data-done="Everything QuantPro opened is closed." data-next="/positions">"Kill switch: flatten all"</button>
            <p id="trade-result" data-testid="trade-result" role="status"></p>
        </section>
    })
}

/// The Track Record page's section of executed trades (the owner's), newest
/// first: the setup's entry against the fill (slippage), the exit, and the
/// R realised against the R the sizing took (docs/TRADING.md).
pub fn executed_trades_section(brackets: &[Bracket]) -> String {
    let rows = brackets
        .iter()
        .filter(|b| b.leg(Leg::Entry).is_some_and(|l| !l.filled().is_zero()))
        .map(|b| {
            let levels = &b.sizing.levels;
            let fill = b
                .leg(Leg::Entry)
                .and_then(|l| l.report.as_ref())
                .and_then(|r| r.average_price);
            let slippage = fill.map_or_else(
                || "—".to_string(),
                |fill| format!("{} bp", levels.slippage_bps(fill)),
            );
            let exit = b
                .legs
                .iter()
                .filter(|l| l.request.reduce_only && !l.filled().is_zero())
                .filter_map(|l| l.report.as_ref().and_then(|r| r.average_price))
                .next_back()
                .map_or_else(|| "—".to_string(), |p| p.to_string());
            let cells = [
                quantpro_model::format::utc_datetime(b.opened_at),
                format!("{} {}", b.exchange, b.symbol),
                b.strategy.to_string(),
                if b.live { "LIVE" } else { "PAPER" }.to_string(),
                levels.direction().to_string(),
                format!("{} → {}", levels.entry, fill.map_or_else(|| "—".to_string(), |f| f.to_string())),
                slippage,
                exit,
                b.r.map_or_else(|| "open".to_string(), |r| format!("{r} R")),
                format!("{} R", b.sizing.risk_r),
            ];
            view! { <tr data-testid="executed-row">{cells.into_iter().map(|c| view! { <td>{c}</td> }).collect_view()}</tr> }
        })
        .collect_view();
    to_html(view! {
        <section class="panel" data-testid="executed-trades">
            <h2>"Executed trades (yours: paper and live)"</h2>
            <p class="panel-note">"Setup entry → fill, slippage against the setup's entry (positive: worse), the exit's average price, and the R realised after fees against the R the sizing took."</p>
            <table class="track-table"><thead><tr>
                <th>"Opened (UTC)"</th><th>"Symbol"</th><th>"Strategy"</th><th>"Mode"</th><th>"Side"</th>
                <th>"Entry → fill"</th><th>"Slippage"</th><th>"Exit"</th><th>"R realised"</th><th>"R sized"</th>
            </tr></thead><tbody>{rows}</tbody></table>
        </section>
    })
}

/// The section when the executions cannot be read.
pub fn executed_trades_error(reason: &str) -> String {
    let text = format!("Executed trades cannot be read: {reason}");
    to_html(view! { <p class="trade-error">{text}</p> })
}
