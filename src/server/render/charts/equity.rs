//! The Track Record page's equity curve: cumulative R of the closed trades,
//! one line per strategy, stepping at each resolution candle (the same
//! cumulative R whose running peak defines `max_drawdown_r`, STRATEGIES.md §6).

use super::frame::{draw_error, draw_mesh, plot_area};
use super::style;
use super::ChartError;
use plotters::prelude::*;
use quantpro_model::{Strategy, Trade};
use std::collections::BTreeMap;

/// Cumulative R of `strategy`'s closed trades after each resolution candle:
/// `(closed_at, cumulative R)`, starting with `(first, 0)` so a line begins
/// on the zero axis.
pub fn equity_points(trades: &[Trade], strategy: Strategy) -> Vec<(i64, f64)> {
    let mut by_close: BTreeMap<i64, f64> = BTreeMap::new();
    for trade in trades.iter().filter(|t| t.strategy == strategy) {
        if let (Some(closed_at), Some(r)) = (trade.closed_at, trade.r) {
            *by_close.entry(closed_at).or_default() += r;
        }
    }
    let Some(&first) = by_close.keys().next() else {
        return Vec::new();
    };
    let mut total = 0.0;
    std::iter::once((first, 0.0))
        .chain(by_close.into_iter().map(|(t, r)| {
            total += r;
            (t, total)
        }))
        .collect()
}

fn strategy_color(strategy: Strategy) -> RGBColor {
    match strategy {
        Strategy::Legacy => style::EMA_FAST_COLOR,
        Strategy::Breakout => style::EMA_MID_COLOR,
        Strategy::BreakoutV2 => style::EMA_SLOW_COLOR,
    }
}

/// The equity curves of `trades` as a responsive SVG document; `None`
/// when no trade has closed yet.
pub fn equity_chart_svg(trades: &[Trade]) -> Result<Option<String>, ChartError> {
    let lines: Vec<(Strategy, Vec<(i64, f64)>)> = Strategy::ALL
        .iter()
        .map(|&s| (s, equity_points(trades, s)))
        .filter(|(_, points)| !points.is_empty())
        .collect();
    let all = || lines.iter().flat_map(|(_, points)| points.iter());
    let (Some(t0), Some(t1)) = (all().map(|p| p.0).min(), all().map(|p| p.0).max()) else {
        return Ok(None);
    };
    let low = all().map(|p| p.1).fold(0.0, f64::min);
    let high = all().map(|p| p.1).fold(0.0, f64::max);
    let pad = ((high - low) * 0.08).max(0.5);
    // x is the position in [t0, t1] on a grid of 200 steps; the time axis
    // labels come from the same grid.
    const STEPS: usize = 200;
    let span = (t1 - t0).max(1) as f64;
    let x_of = |t: i64| (t - t0) as f64 / span * STEPS as f64;
    let times: Vec<i64> = (0..=STEPS)
        .map(|i| t0 + (span * i as f64 / STEPS as f64) as i64)
        .collect();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (style::WIDTH, style::PRICE_HEIGHT))
            .into_drawing_area();
        let mut plot = plot_area(&root, -1.0..STEPS as f64 + 1.0, low - pad..high + pad)?;
        draw_mesh(&mut plot, &times, 6, &|y: &f64| format!("{y:+.1} R"))?;
        plot.draw_series(std::iter::once(PathElement::new(
            vec![(0.0, 0.0), (STEPS as f64, 0.0)],
            style::AXIS.stroke_width(1),
        )))
        .map_err(draw_error)?;
        for (strategy, points) in &lines {
            let color = strategy_color(*strategy);
            // A step line: the level holds until the next resolution.
            let mut path = Vec::with_capacity(points.len() * 2);
            for (i, &(t, r)) in points.iter().enumerate() {
                if i > 0 {
                    path.push((x_of(t), points[i - 1].1));
                }
                path.push((x_of(t), r));
            }
            plot.draw_series(std::iter::once(PathElement::new(
                path,
                color.stroke_width(2),
            )))
            .map_err(draw_error)?
            .label(strategy.as_str())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(3))
            });
        }
        plot.configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(style::BACKGROUND.mix(0.85))
            .border_style(style::AXIS)
            .label_font(
                (style::FONT, style::LABEL_SIZE)
                    .into_font()
                    .color(&style::LABEL),
            )
            .draw()
            .map_err(draw_error)?;
        root.present().map_err(draw_error)?;
    }
    Ok(Some(style::responsive(svg, "chart-svg equity-chart")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use quantpro_model::fixtures::sample_trade;
    use quantpro_model::Outcome;

    fn closed(strategy: Strategy, closed_at: i64, r: f64) -> Trade {
        Trade {
            strategy,
            outcome: if r > 0.0 { Outcome::Win } else { Outcome::Loss },
            opened_at: closed_at - 900_000,
            closed_at: Some(closed_at),
            r: Some(r),
            bars: Some(1),
            ..sample_trade()
        }
    }

    #[test]
    fn equity_steps_at_each_resolution_candle_per_strategy() {
        let trades = vec![
            closed(Strategy::Breakout, 3_000, -1.0),
            closed(Strategy::Breakout, 1_000, 2.0),
            closed(Strategy::Breakout, 3_000, 0.5),
            closed(Strategy::Legacy, 2_000, 1.0),
            sample_trade(), // open: not on the curve
        ];
        assert_eq!(
            equity_points(&trades, Strategy::Breakout),
            vec![(1_000, 0.0), (1_000, 2.0), (3_000, 1.5)]
        );
        assert_eq!(
            equity_points(&trades, Strategy::Legacy),
            vec![(2_000, 0.0), (2_000, 1.0)]
        );
        assert!(equity_points(&trades, Strategy::BreakoutV2).is_empty());
        let svg = equity_chart_svg(&trades).unwrap().unwrap();
        // The legend names the strategies that have a line.
        assert!(svg.contains("Breakout") && svg.contains("Legacy"), "legend");
        assert!(!svg.contains("BreakoutV2"), "no line without trades");
        assert!(svg.contains(&style::hex(style::EMA_MID_COLOR)));
        assert_eq!(equity_chart_svg(&[sample_trade()]).unwrap(), None);
    }
}
