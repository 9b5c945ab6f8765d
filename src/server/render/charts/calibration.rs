//! The Track Record page's calibration chart: the win rate of the closed
//! trades in each score bucket (STRATEGIES.md §6), a bar per bucket labelled
//! with its trade count, so a trader sees whether a higher score did win
//! more often.

use super::frame::{draw_error, draw_grid, plot_area};
use super::style;
use super::ChartError;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use quantpro_model::{ScoreBucket, TradeStats};
use std::collections::BTreeMap;

/// The chart of `by_score_bucket` as a responsive SVG document; `None`
/// when no bucket has a closed trade.
pub fn calibration_chart_svg(
    by_bucket: &BTreeMap<ScoreBucket, TradeStats>,
) -> Result<Option<String>, ChartError> {
    if by_bucket.values().all(|s| s.trades == 0) {
        return Ok(None);
    }
    let n = ScoreBucket::ALL.len();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (style::WIDTH, style::RSI_HEIGHT))
            .into_drawing_area();
        let mut plot = plot_area(&root, -0.5..n as f64 - 0.5, 0.0..110.0)?;
        let bucket_label = |x: &f64| {
            let i = x.round();
            if (x - i).abs() < 0.01 && i >= 0.0 && (i as usize) < n {
                ScoreBucket::ALL[i as usize].as_str().to_string()
            } else {
                String::new()
            }
        };
        draw_grid(&mut plot, n, 6, &bucket_label, &|y: &f64| {
            format!("{y:.0}%")
        })?;
        let count_style = (style::FONT, style::LABEL_SIZE)
            .into_font()
            .color(&style::LABEL)
            .pos(Pos::new(HPos::Center, VPos::Bottom));
        for (i, bucket) in ScoreBucket::ALL.iter().enumerate() {
            let Some(stats) = by_bucket.get(bucket).filter(|s| s.trades > 0) else {
                continue;
            };
            let rate = stats.win_rate.unwrap_or(0.0) * 100.0;
            let x = i as f64;
            plot.draw_series(std::iter::once(Rectangle::new(
                [(x - 0.32, 0.0), (x + 0.32, rate)],
                style::EMA_MID_COLOR.filled(),
            )))
            .map_err(draw_error)?;
            plot.draw_series(std::iter::once(Text::new(
                format!("{rate:.0}% · {}", stats.trades),
                (x, rate + 2.0),
                count_style.clone(),
            )))
            .map_err(draw_error)?;
        }
        root.present().map_err(draw_error)?;
    }
    Ok(Some(style::responsive(svg, "chart-svg calibration-chart")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bar_per_bucket_with_trades_labelled_with_rate_and_count() {
        let mut buckets = BTreeMap::new();
        buckets.insert(
            ScoreBucket::From70,
            TradeStats {
                trades: 8,
                wins: 6,
                win_rate: Some(0.75),
                ..TradeStats::default()
            },
        );
        buckets.insert(
            ScoreBucket::From50,
            TradeStats {
                open: 2,
                ..TradeStats::default()
            },
        );
        let svg = calibration_chart_svg(&buckets).unwrap().unwrap();
        assert!(svg.contains("75% · 8"), "{svg}");
        assert_eq!(
            svg.matches(" · ").count(),
            1,
            "no bar for open-only buckets"
        );
        assert!(svg.contains("70-80"), "bucket labels on the axis");
        let open_only: BTreeMap<_, _> = buckets
            .into_iter()
            .filter(|(b, _)| *b == ScoreBucket::From50)
            .collect();
        assert_eq!(calibration_chart_svg(&open_only).unwrap(), None);
    }
}
