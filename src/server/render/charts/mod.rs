//! Server-rendered charts of one signal: 4h and 15m candles with their EMAs
//! and the setup's entry/SL/TP levels, and the 15m RSI with its trendlines.
//!
//! Flow: candle store -> **charts** -> `app::api::get_signal_panels` -> the
//! DetailPanel, ObservabilityPanel and share page inject the SVG text. The
//! charts are drawn with plotters' SVG backend on the server so the share
//! page shows them with JavaScript off; the browser never draws.

mod calibration;
mod equity;
mod frame;
mod price;
mod rsi;
mod series;
mod style;

pub use calibration::calibration_chart_svg;
pub use equity::{equity_chart_svg, equity_points};
pub use price::{price_chart_svg, EmaOverlay, PriceChart};
pub use rsi::{rsi_chart_svg, RsiChart};
pub use series::{load_signal_series, SignalSeries};

use quantpro_core::candles::CandleFileError;
use quantpro_core::indicators::{ema, rsi, EMA_FAST, EMA_MID, EMA_SLOW, RSI_PERIOD};
use quantpro_model::Interval;
use quantpro_model::Signal;
use std::path::Path;

/// Candles shown in the LTF (15m) chart: 24 hours.
pub const LTF_WINDOW: usize = 96;
/// Candles shown in the HTF (4h) chart: 20 days.
pub const HTF_WINDOW: usize = 120;
/// At least this many RSI values are shown (more when a trendline starts earlier).
pub const RSI_WINDOW: usize = 120;

/// The three charts of a signal, as SVG documents.
#[derive(Debug, Clone, PartialEq)]
pub struct ChartSvgs {
    /// 4h candles, EMA50/EMA200, entry/SL/TP levels.
    pub htf: String,
    /// 15m candles, EMA20/EMA50, entry/SL/TP levels.
    pub ltf: String,
    /// 15m RSI(14) with the resistance/support trendlines and the break point.
    pub rsi: String,
}

/// Why a signal's charts cannot be drawn.
#[derive(Debug, thiserror::Error)]
pub enum ChartError {
    #[error("no {interval} candle file for {symbol} on {exchange} in the data directory")]
    MissingFile {
        symbol: String,
        exchange: quantpro_model::Exchange,
        interval: Interval,
    },
    #[error("{0}")]
    Candles(#[from] CandleFileError),
    #[error("the candle files changed since the scan (the signal's last 15m candle is gone); run a new scan")]
    OutOfDate,
    #[error("drawing the chart failed: {0}")]
    Draw(String),
}

/// Draws the three charts of `signal` from the candle files in `data_dir`.
pub fn render_signal_charts(data_dir: &Path, signal: &Signal) -> Result<ChartSvgs, ChartError> {
    let series = load_signal_series(data_dir, signal)?;
    let ltf_closes: Vec<f64> = series.ltf.iter().map(|c| c.c).collect();
    let htf_closes: Vec<f64> = series.htf.iter().map(|c| c.c).collect();
    let setup = signal.setup.as_ref();

    let ltf = price_chart_svg(&PriceChart {
        candles: &series.ltf,
        emas: vec![
            EmaOverlay::new(EMA_FAST, ema(&ltf_closes, EMA_FAST), style::EMA_FAST_COLOR),
            EmaOverlay::new(EMA_MID, ema(&ltf_closes, EMA_MID), style::EMA_MID_COLOR),
        ],
        setup,
        window: LTF_WINDOW,
    })?;
    let htf = price_chart_svg(&PriceChart {
        candles: &series.htf,
        emas: vec![
            EmaOverlay::new(EMA_MID, ema(&htf_closes, EMA_MID), style::EMA_MID_COLOR),
            EmaOverlay::new(EMA_SLOW, ema(&htf_closes, EMA_SLOW), style::EMA_SLOW_COLOR),
        ],
        setup,
        window: HTF_WINDOW,
    })?;
    let rsi = rsi_chart_svg(&RsiChart {
        rsi: &rsi(&ltf_closes, RSI_PERIOD),
        times: &series.ltf.iter().map(|c| c.t).collect::<Vec<_>>(),
        visuals: &signal.observability.rsi_visuals,
        index_offset: series.index_offset,
        window: RSI_WINDOW,
    })?;
    Ok(ChartSvgs { htf, ltf, rsi })
}
