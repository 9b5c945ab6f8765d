//! The ObservabilityPanel's RSI chart: RSI(14) of the 15m candles with the
//! resistance and support trendlines through their pivots (STRATEGIES.md §1)
//! and the candle where a line was broken.

use super::frame::{draw_error, draw_mesh, plot_area};
use super::style;
use super::ChartError;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use quantpro_model::{RsiTrendline, RsiVisuals};

/// Never more RSI values than this, however old a pivot is.
const MAX_SHOWN: usize = 400;
/// Candles shown before a trendline's first pivot.
const LEAD: usize = 5;

/// What to draw: the RSI series aligned with `times` (candle open times),
/// the signal's trendlines, and how the signal's indices map onto the series.
pub struct RsiChart<'a> {
    pub rsi: &'a [Option<f64>],
    pub times: &'a [i64],
    pub visuals: &'a RsiVisuals,
    /// Added to a trendline index to get an index into `rsi`.
    pub index_offset: isize,
    /// At least this many of the newest values are shown.
    pub window: usize,
}

impl RsiChart<'_> {
    fn series_index(&self, signal_index: usize) -> Option<usize> {
        usize::try_from(signal_index as isize + self.index_offset)
            .ok()
            .filter(|&i| i < self.rsi.len())
    }

    fn lines(&self) -> impl Iterator<Item = (&RsiTrendline, RGBColor, &'static str)> {
        let resistance = self
            .visuals
            .resistance
            .as_ref()
            .map(|l| (l, style::RESISTANCE_COLOR, "Resistance"));
        let support = self
            .visuals
            .support
            .as_ref()
            .map(|l| (l, style::SUPPORT_COLOR, "Support"));
        resistance.into_iter().chain(support)
    }

    /// First series index shown: the window, widened to the earliest pivot.
    fn first_shown(&self) -> usize {
        let n = self.rsi.len();
        let earliest_pivot = self
            .lines()
            .filter_map(|(line, _, _)| self.series_index(line.start_index))
            .min()
            .map(|i| i.saturating_sub(LEAD));
        let start = n.saturating_sub(self.window.max(1));
        let start = earliest_pivot.map_or(start, |p| p.min(start));
        start.max(n.saturating_sub(MAX_SHOWN))
    }
}

/// Renders the chart as a responsive SVG document.
pub fn rsi_chart_svg(chart: &RsiChart) -> Result<String, ChartError> {
    let n = chart.rsi.len();
    if n == 0 || chart.times.len() != n {
        return Err(ChartError::Draw("no RSI values to draw".into()));
    }
    let start = chart.first_shown();
    let shown = n - start;
    let x_of = |series_index: usize| series_index as f64 - start as f64;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (style::WIDTH, style::RSI_HEIGHT))
            .into_drawing_area();
        let mut plot = plot_area(&root, -0.5f64..shown as f64 + 1.5, 0f64..100f64)?;
        draw_mesh(&mut plot, &chart.times[start..], 6, &|y: &f64| {
            format!("{y:.0}")
        })?;

        let values = chart.rsi[start..]
            .iter()
            .enumerate()
            .filter_map(|(i, v)| v.map(|v| (i as f64, v)));
        plot.draw_series(LineSeries::new(values, style::RSI_COLOR.stroke_width(2)))
            .map_err(draw_error)?;

        let last_signal_index = (n - 1) as isize - chart.index_offset;
        for (line, color, _) in chart.lines() {
            let (Some(p1), Some(p2)) = (
                chart.series_index(line.start_index),
                chart.series_index(line.end_index),
            ) else {
                continue;
            };
            let end_value = line.value_at(last_signal_index.max(0) as usize);
            let path = vec![(x_of(p1), line.start_rsi), (x_of(n - 1), end_value)];
            plot.draw_series(std::iter::once(PathElement::new(
                path,
                color.stroke_width(2),
            )))
            .map_err(draw_error)?;
            let pivots = [(x_of(p1), line.start_rsi), (x_of(p2), line.end_rsi)];
            plot.draw_series(
                pivots
                    .into_iter()
                    .map(|p| Circle::new(p, 4, color.stroke_width(2))),
            )
            .map_err(draw_error)?;
            if let Some(at) = line
                .break_index
                .filter(|_| line.broken)
                .and_then(|k| chart.series_index(k))
            {
                if let Some(value) = chart.rsi[at] {
                    let point = (x_of(at), value);
                    plot.draw_series(std::iter::once(Circle::new(
                        point,
                        6,
                        style::BREAK_COLOR.filled(),
                    )))
                    .map_err(draw_error)?;
                    let text_style = TextStyle::from((style::FONT, style::LABEL_SIZE).into_font())
                        .color(&style::BREAK_COLOR)
                        .pos(Pos::new(HPos::Right, VPos::Bottom));
                    let label = Text::new(
                        "break".to_string(),
                        (point.0 - 1.0, value + 4.0),
                        text_style,
                    );
                    plot.draw_series(std::iter::once(label))
                        .map_err(draw_error)?;
                }
            }
        }
        draw_legend(&root, chart)?;
        root.present().map_err(draw_error)?;
    }
    Ok(style::responsive(svg, "chart-svg rsi-chart"))
}

fn draw_legend(
    root: &DrawingArea<SVGBackend, plotters::coord::Shift>,
    chart: &RsiChart,
) -> Result<(), ChartError> {
    let mut entries = vec![("RSI(14)", style::RSI_COLOR)];
    entries.extend(chart.lines().map(|(_, color, name)| (name, color)));
    let mut x = 110;
    for (name, color) in entries {
        let text_style =
            TextStyle::from((style::FONT, style::LABEL_SIZE).into_font()).color(&color);
        root.draw(&PathElement::new(
            vec![(x, 13), (x + 14, 13)],
            color.stroke_width(2),
        ))
        .map_err(draw_error)?;
        root.draw(&Text::new(name.to_string(), (x + 18, 4), text_style))
            .map_err(draw_error)?;
        x += 28 + style::label_room(name.len());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::style::hex;
    use super::*;

    fn rsi_series(n: usize) -> Vec<Option<f64>> {
        (0..n)
            .map(|i| (i >= 14).then(|| 50.0 + 20.0 * (i as f64 * 0.3).sin()))
            .collect()
    }

    fn line(start: usize, end: usize, broken: bool) -> RsiTrendline {
        RsiTrendline {
            start_index: start,
            start_rsi: 70.0,
            end_index: end,
            end_rsi: 65.0,
            slope: -5.0 / (end - start) as f64,
            value_now: 60.0,
            broken,
            break_index: broken.then_some(197),
        }
    }

    fn render(visuals: &RsiVisuals, offset: isize) -> String {
        let rsi = rsi_series(200);
        let times: Vec<i64> = (0..200).map(|i| i * 900_000).collect();
        rsi_chart_svg(&RsiChart {
            rsi: &rsi,
            times: &times,
            visuals,
            index_offset: offset,
            window: 120,
        })
        .unwrap()
    }

    #[test]
    fn trendline_pivots_and_break_point_are_drawn() {
        let visuals = RsiVisuals {
            resistance: Some(line(40, 150, true)),
            support: None,
        };
        let svg = render(&visuals, 0);
        let red = hex(style::RESISTANCE_COLOR);
        let lines: Vec<&str> = svg
            .lines()
            .filter(|l| l.starts_with("<polyline") && l.contains(&red))
            .collect();
        assert_eq!(
            lines.len(),
            2,
            "the trendline and its legend swatch: {lines:?}"
        );
        let hollow_pivots = svg
            .lines()
            .filter(|l| l.starts_with("<circle") && l.contains(&format!("stroke=\"{red}\"")))
            .count();
        assert_eq!(hollow_pivots, 2);
        let break_marks = svg
            .lines()
            .filter(|l| {
                l.starts_with("<circle")
                    && l.contains(&format!("fill=\"{}\"", hex(style::BREAK_COLOR)))
            })
            .count();
        assert_eq!(break_marks, 1);
        assert!(svg.contains(">\nbreak\n</text>"));
        assert!(svg.contains(">\nResistance\n</text>"));
        assert!(!svg.contains(">\nSupport\n</text>"));
    }

    #[test]
    fn an_unbroken_line_has_no_break_mark_and_the_window_reaches_back_to_its_pivot() {
        let visuals = RsiVisuals {
            resistance: None,
            support: Some(line(40, 150, false)),
        };
        let svg = render(&visuals, 0);
        assert!(!svg.contains(">\nbreak\n</text>"));
        let chart = RsiChart {
            rsi: &rsi_series(200),
            times: &[0; 200],
            visuals: &visuals,
            index_offset: 0,
            window: 120,
        };
        assert_eq!(
            chart.first_shown(),
            35,
            "5 candles before the first pivot, earlier than the 120-candle window"
        );
        // With an offset, the signal's index 40 is series index 30.
        let shifted = RsiChart {
            index_offset: -10,
            ..chart
        };
        assert_eq!(shifted.first_shown(), 25);
    }
}
