//! A candlestick chart with EMA overlays and the setup's entry, stop and
//! target as horizontal levels (the DetailPanel's 15m and 4h charts).

use super::frame::{draw_error, draw_mesh, plot_area, Plot};
use super::style;
#[cfg(test)]
use super::style::hex;
use super::ChartError;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use quantpro_model::format;
use quantpro_model::Candle;
use quantpro_model::TradeSetup;

/// One EMA line: its period (for the legend), its series aligned with the
/// chart's candles, and its colour.
pub struct EmaOverlay {
    pub period: usize,
    pub values: Vec<Option<f64>>,
    pub color: RGBColor,
}

impl EmaOverlay {
    pub fn new(period: usize, values: Vec<Option<f64>>, color: RGBColor) -> EmaOverlay {
        EmaOverlay {
            period,
            values,
            color,
        }
    }
}

/// What to draw: the whole series (EMAs are computed on all of it) and how
/// many of the newest candles to show.
pub struct PriceChart<'a> {
    pub candles: &'a [Candle],
    pub emas: Vec<EmaOverlay>,
    pub setup: Option<&'a TradeSetup>,
    pub window: usize,
}

/// A horizontal price level of the setup.
struct Level {
    name: &'static str,
    price: f64,
    color: RGBColor,
}

fn setup_levels(setup: &TradeSetup) -> [Level; 3] {
    [
        Level {
            name: "TP",
            price: setup.tp,
            color: style::TP_COLOR,
        },
        Level {
            name: "Entry",
            price: setup.entry,
            color: style::ENTRY_COLOR,
        },
        Level {
            name: "SL",
            price: setup.sl,
            color: style::SL_COLOR,
        },
    ]
}

/// Renders the chart as a responsive SVG document.
pub fn price_chart_svg(chart: &PriceChart) -> Result<String, ChartError> {
    let n = chart.candles.len();
    if n == 0 {
        return Err(ChartError::Draw("no candles to draw".into()));
    }
    let start = n.saturating_sub(chart.window.max(1));
    let shown = &chart.candles[start..];
    let levels: Vec<Level> = chart
        .setup
        .map(|s| setup_levels(s).into())
        .unwrap_or_default();
    // The candles and the levels decide the scale (an EMA far away would
    // squeeze them against an edge; its line is cut at the chart's edge).
    let (y_min, y_max) = price_range(shown, levels.iter().map(|l| l.price));
    // Room right of the last candle for the level labels.
    let x_max = shown.len() as f64 - 0.5 + (shown.len() as f64 * 0.16).max(6.0);

    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (style::WIDTH, style::PRICE_HEIGHT))
            .into_drawing_area();
        let mut plot = plot_area(&root, -0.5f64..x_max, y_min..y_max)?;
        let times: Vec<i64> = shown.iter().map(|c| c.t).collect();
        let decimals = axis_decimals(y_min, y_max, Y_LABELS);
        draw_mesh(&mut plot, &times, Y_LABELS, &|y: &f64| {
            format!("{y:.decimals$}")
        })?;

        draw_candles(&mut plot, shown)?;
        for ema in &chart.emas {
            let values = &ema.values[start.min(ema.values.len())..];
            for run in runs_within(values, y_min, y_max) {
                plot.draw_series(LineSeries::new(run, ema.color.stroke_width(2)))
                    .map_err(draw_error)?;
            }
        }
        for level in &levels {
            let line = PathElement::new(
                vec![(-0.5, level.price), (x_max, level.price)],
                level.color.stroke_width(1),
            );
            plot.draw_series(std::iter::once(line))
                .map_err(draw_error)?;
        }
        let anchors: Vec<(i32, i32)> = levels
            .iter()
            .map(|l| plot.backend_coord(&(x_max, l.price)))
            .collect();
        let bottom = plot.backend_coord(&(x_max, y_min)).1 - LABEL_GAP / 2;
        draw_level_labels(&root, &levels, &anchors, bottom)?;
        draw_legend(&root, &chart.emas)?;
        root.present().map_err(draw_error)?;
    }
    Ok(style::responsive(svg, "chart-svg price-chart"))
}

fn draw_candles(plot: &mut Plot, candles: &[Candle]) -> Result<(), ChartError> {
    let color = |c: &Candle| if c.c >= c.o { style::UP } else { style::DOWN };
    let wicks = candles.iter().enumerate().map(|(i, c)| {
        PathElement::new(
            vec![(i as f64, c.h), (i as f64, c.l)],
            color(c).stroke_width(1),
        )
    });
    plot.draw_series(wicks).map_err(draw_error)?;
    let bodies = candles.iter().enumerate().map(|(i, c)| {
        let x = i as f64;
        Rectangle::new(
            [(x - 0.32, c.o.max(c.c)), (x + 0.32, c.o.min(c.c))],
            color(c).filled(),
        )
    });
    plot.draw_series(bodies).map_err(draw_error)?;
    Ok(())
}

/// "EMA20 EMA50" in their colours, top left above the plot.
fn draw_legend(
    root: &DrawingArea<SVGBackend, plotters::coord::Shift>,
    emas: &[EmaOverlay],
) -> Result<(), ChartError> {
    let mut x = 110;
    for ema in emas {
        let label = format!("EMA{}", ema.period);
        let text_style =
            TextStyle::from((style::FONT, style::LABEL_SIZE).into_font()).color(&ema.color);
        root.draw(&PathElement::new(
            vec![(x, 13), (x + 14, 13)],
            ema.color.stroke_width(2),
        ))
        .map_err(draw_error)?;
        root.draw(&Text::new(label.clone(), (x + 18, 4), text_style))
            .map_err(draw_error)?;
        x += 28 + style::label_room(label.len());
    }
    Ok(())
}

/// Price labels on the y axis (plotters picks round values near this count).
const Y_LABELS: usize = 7;

/// Decimals that tell neighbouring axis labels apart: down to the magnitude
/// of the label step (plotters steps are 1, 2 or 5 times a power of ten, at
/// least the raw step), so 60000..66000 -> 0 decimals, 4.45..4.75 -> 2.
fn axis_decimals(low: f64, high: f64, labels: usize) -> usize {
    let step = (high - low) / labels.max(1) as f64;
    if !(step.is_finite() && step > 0.0) {
        return 2;
    }
    (-step.log10().floor()).clamp(0.0, 12.0) as usize
}

/// Pixels between two level labels' centres, so close levels stay readable
/// (at `style::SMALL_SCREEN_FONT` too).
const LABEL_GAP: i32 = 28;

/// "TP 65650.47" at the right end of each level line, on a backing box;
/// labels of nearby levels are pushed apart vertically (in price order),
/// and the group is moved up when it would pass `bottom` (pixels).
fn draw_level_labels(
    root: &DrawingArea<SVGBackend, plotters::coord::Shift>,
    levels: &[Level],
    anchors: &[(i32, i32)],
    bottom: i32,
) -> Result<(), ChartError> {
    let ys = spread_labels(
        &anchors.iter().map(|a| a.1).collect::<Vec<_>>(),
        LABEL_GAP,
        bottom,
    );
    for (i, y) in ys.into_iter().enumerate() {
        let level = &levels[i];
        let label = format!("{} {}", level.name, format::price(level.price));
        let right = anchors[i].0 + 1;
        let width = style::label_room(label.len()) + 8;
        let half = LABEL_GAP / 2;
        let backing = Rectangle::new(
            [(right - width, y - half), (right, y + half)],
            style::BACKGROUND.mix(0.85).filled(),
        );
        root.draw(&backing).map_err(draw_error)?;
        let text_style = TextStyle::from((style::FONT, style::LABEL_SIZE).into_font())
            .color(&level.color)
            .pos(Pos::new(HPos::Right, VPos::Center));
        root.draw(&Text::new(label, (right - 4, y), text_style))
            .map_err(draw_error)?;
    }
    Ok(())
}

/// Label centres for anchors at pixel rows `wanted`: in the same order, at
/// least `gap` apart, none below `bottom` (as long as they fit above it).
fn spread_labels(wanted: &[i32], gap: i32, bottom: i32) -> Vec<i32> {
    let mut order: Vec<usize> = (0..wanted.len()).collect();
    order.sort_by_key(|&i| wanted[i]);
    let mut ys = vec![0; wanted.len()];
    let mut previous: Option<i32> = None;
    for &i in &order {
        let y = previous.map_or(wanted[i], |p| wanted[i].max(p + gap));
        ys[i] = y;
        previous = Some(y);
    }
    if let Some(&last) = order.last() {
        let overflow = ys[last] - bottom;
        if overflow > 0 {
            // Move up only the labels packed against the bottom.
            let mut limit = bottom;
            for &i in order.iter().rev() {
                ys[i] = ys[i].min(limit);
                limit = ys[i] - gap;
            }
        }
    }
    ys
}

/// Room beyond the candles' low and high, as a share of the shown span.
const CANDLE_PAD: f64 = 0.04;
/// Room beyond the outermost setup level, as a share of the shown span:
/// a level line never sits on the chart's top or bottom edge, where its
/// label would meet the time axis.
const LEVEL_ROOM: f64 = 0.15;

/// The y range of a price chart: the union of the candles' low..high and
/// the setup's `levels`, with `CANDLE_PAD` of that span beyond the candles
/// and `LEVEL_ROOM` beyond the outermost levels.
fn price_range(candles: &[Candle], levels: impl Iterator<Item = f64> + Clone) -> (f64, f64) {
    let finite = |v: &f64| v.is_finite();
    let candle_low = candles
        .iter()
        .map(|c| c.l)
        .filter(finite)
        .fold(f64::INFINITY, f64::min);
    let candle_high = candles
        .iter()
        .map(|c| c.h)
        .filter(finite)
        .fold(f64::NEG_INFINITY, f64::max);
    let level_low = levels.clone().filter(finite).fold(f64::INFINITY, f64::min);
    let level_high = levels.filter(finite).fold(f64::NEG_INFINITY, f64::max);
    let low = candle_low.min(level_low);
    let high = candle_high.max(level_high);
    if !(low.is_finite() && high.is_finite()) {
        return (0.0, 1.0);
    }
    let span = if high > low {
        high - low
    } else {
        low.abs().max(1.0) * 0.01
    };
    // An empty side (no candle, no level) is infinite: `min`/`max` skip it.
    (
        (candle_low - span * CANDLE_PAD).min(level_low - span * LEVEL_ROOM),
        (candle_high + span * CANDLE_PAD).max(level_high + span * LEVEL_ROOM),
    )
}

/// The points of `values` (x = index) inside `low..=high`, as runs of
/// neighbours: a line that leaves the chart is cut at its edge, not drawn
/// over the frame.
fn runs_within(values: &[Option<f64>], low: f64, high: f64) -> Vec<Vec<(f64, f64)>> {
    let mut runs = Vec::new();
    let mut run = Vec::new();
    for (i, value) in values.iter().enumerate() {
        match value {
            Some(v) if (low..=high).contains(v) => run.push((i as f64, *v)),
            _ => {
                if !run.is_empty() {
                    runs.push(std::mem::take(&mut run));
                }
            }
        }
    }
    if !run.is_empty() {
        runs.push(run);
    }
    runs
}

/// Colours of the level lines, for tests that look for them in the SVG.
#[cfg(test)]
pub fn level_colors() -> [(&'static str, String); 3] {
    [
        ("TP", hex(style::TP_COLOR)),
        ("Entry", hex(style::ENTRY_COLOR)),
        ("SL", hex(style::SL_COLOR)),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use quantpro_model::Side;

    fn candles(n: usize) -> Vec<Candle> {
        (0..n)
            .map(|i| {
                let base = 100.0 + (i as f64 * 0.7).sin() * 3.0;
                Candle {
                    t: 1_721_088_000_000 + i as i64 * 900_000,
                    o: base,
                    h: base + 1.0,
                    l: base - 1.0,
                    c: base + 0.5,
                    v: 10.0,
                }
            })
            .collect()
    }

    /// The y pixel of every horizontal two-point polyline drawn in `color`.
    fn horizontal_lines(svg: &str, color: &str) -> Vec<i32> {
        svg.lines()
            .filter(|l| l.starts_with("<polyline") && l.contains(&format!("stroke=\"{color}\"")))
            .filter_map(|l| {
                let points = l.split("points=\"").nth(1)?.split('"').next()?;
                let ys: Vec<i32> = points
                    .split_whitespace()
                    .map(|p| p.split(',').nth(1).unwrap().parse().unwrap())
                    .collect();
                (ys.len() == 2 && ys[0] == ys[1]).then_some(ys[0])
            })
            .collect()
    }

    #[test]
    fn the_setup_levels_are_drawn_as_labelled_lines_in_price_order() {
        let series = candles(150);
        let setup = TradeSetup {
            side: Side::Long,
            entry: 100.5,
            sl: 95.0,
            tp: 112.0,
            rr: 2.09,
        };
        let svg = price_chart_svg(&PriceChart {
            candles: &series,
            emas: vec![EmaOverlay::new(
                20,
                quantpro_core::indicators::ema(&series.iter().map(|c| c.c).collect::<Vec<_>>(), 20),
                style::EMA_FAST_COLOR,
            )],
            setup: Some(&setup),
            window: 96,
        })
        .unwrap();
        std::fs::write(
            std::env::temp_dir().join("quantpro-price-chart-test.svg"),
            &svg,
        )
        .unwrap();
        assert!(svg.starts_with("<svg class=\"chart-svg price-chart\""));
        for label in ["TP 112.0000", "Entry 100.5000", "SL 95.0000", "EMA20"] {
            assert!(
                svg.contains(&format!(">\n{label}\n</text>")),
                "{label} missing"
            );
        }
        let y = |name: &str| {
            let (_, color) = level_colors()
                .into_iter()
                .find(|(n, _)| *n == name)
                .unwrap();
            let lines = horizontal_lines(&svg, &color);
            assert_eq!(lines.len(), 1, "one {name} line");
            lines[0]
        };
        // SVG y grows downwards: the target is above the entry, the stop below.
        assert!(
            y("TP") < y("Entry") && y("Entry") < y("SL"),
            "TP {} Entry {} SL {}",
            y("TP"),
            y("Entry"),
            y("SL")
        );
        // 96 bodies are shown, not all 150 candles.
        let bodies = svg
            .lines()
            .filter(|l| {
                l.starts_with("<rect")
                    && (l.contains(&format!("fill=\"{}\"", hex(style::UP)))
                        || l.contains(&format!("fill=\"{}\"", hex(style::DOWN))))
            })
            .count();
        assert_eq!(bodies, 96, "one body per shown candle");
    }

    #[test]
    fn axis_labels_have_as_many_decimals_as_their_step_needs() {
        assert_eq!(axis_decimals(60_000.0, 66_000.0, 7), 0);
        assert_eq!(axis_decimals(42.0, 50.0, 7), 0);
        // Step 0.043: labels 4.45, 4.50, ...
        assert_eq!(axis_decimals(4.45, 4.75, 7), 2);
        // Step 8.6e-8.
        assert_eq!(axis_decimals(0.0000085, 0.0000091, 7), 8);
        assert_eq!(axis_decimals(5.0, 5.0, 7), 2);
    }

    #[test]
    fn level_labels_keep_their_order_and_spacing_above_the_bottom() {
        // Far apart: unchanged.
        assert_eq!(spread_labels(&[50, 150, 100], 17, 280), vec![50, 150, 100]);
        // Close together: pushed down in price order.
        assert_eq!(spread_labels(&[100, 104, 96], 17, 280), vec![113, 130, 96]);
        // Packed at the bottom: moved up, still 17 apart and in order.
        assert_eq!(
            spread_labels(&[278, 280, 279], 17, 275),
            vec![241, 275, 258]
        );
    }

    /// Candles from `low` to `high` (one flat candle at each, then between).
    fn ranging(low: f64, high: f64) -> Vec<Candle> {
        [low, high, (low + high) / 2.0]
            .iter()
            .enumerate()
            .map(|(i, &p)| Candle {
                t: i as i64 * 900_000,
                o: p,
                h: p,
                l: p,
                c: p,
                v: 1.0,
            })
            .collect()
    }

    #[test]
    fn the_y_range_is_the_candles_and_the_levels_with_room_around_the_levels() {
        // The 4h case: a fall to the bottom of the range, the levels at the
        // last price (the target below every candle).
        let candles = ranging(4.45, 8.7);
        let (low, high) = price_range(&candles, [4.53, 4.49, 4.41].into_iter());
        let span = 8.7 - 4.41;
        assert!((low - (4.41 - span * LEVEL_ROOM)).abs() < 1e-9, "{low}");
        assert!((high - (8.7 + span * CANDLE_PAD)).abs() < 1e-9, "{high}");
        // Every level at least LEVEL_ROOM of the span above the bottom edge.
        let share = |price: f64| (price - low) / (high - low);
        assert!(share(4.41) > 0.12, "{}", share(4.41));
        // Levels above the candles: room above the top one.
        let (low, high) = price_range(&candles, [9.0, 8.8, 8.6].into_iter());
        assert!((high - (9.0 + (9.0 - 4.45) * LEVEL_ROOM)).abs() < 1e-9);
        assert!((low - (4.45 - (9.0 - 4.45) * CANDLE_PAD)).abs() < 1e-9);
        // Levels inside the candles' range, away from its edges: the candles
        // decide, with their 4%.
        let (low, high) = price_range(&candles, [6.5, 6.0, 5.5].into_iter());
        let span = 8.7 - 4.45;
        assert!((low - (4.45 - span * CANDLE_PAD)).abs() < 1e-9);
        assert!((high - (8.7 + span * CANDLE_PAD)).abs() < 1e-9);
        // No setup: the candles with 4%.
        let (low, high) = price_range(&candles, std::iter::empty());
        assert!((low - (4.45 - span * CANDLE_PAD)).abs() < 1e-9);
        assert!((high - (8.7 + span * CANDLE_PAD)).abs() < 1e-9);
        // A flat series still has a range.
        let (low, high) = price_range(&ranging(5.0, 5.0), std::iter::empty());
        assert!(low < 5.0 && high > 5.0);
    }

    #[test]
    fn a_far_ema_does_not_squeeze_the_levels_and_is_cut_at_the_edge() {
        let series = candles(150);
        let setup = TradeSetup {
            side: Side::Short,
            entry: 97.5,
            sl: 99.0,
            tp: 95.0,
            rr: 1.67,
        };
        // An EMA200 far above the candles (a market that fell).
        let far = vec![Some(300.0); series.len()];
        let svg = price_chart_svg(&PriceChart {
            candles: &series,
            emas: vec![EmaOverlay::new(200, far, style::EMA_SLOW_COLOR)],
            setup: Some(&setup),
            window: 120,
        })
        .unwrap();
        let ema_color = format!("stroke=\"{}\"", hex(style::EMA_SLOW_COLOR));
        let ema_lines: Vec<&str> = svg
            .lines()
            .filter(|l| l.starts_with("<polyline") && l.contains(&ema_color))
            .collect();
        // Only its legend's short line: nothing of the series.
        assert_eq!(
            ema_lines.len(),
            1,
            "the EMA outside the range is not drawn: {ema_lines:?}"
        );
        // The plot spans y 32..(300 - 36); the lowest level (TP) is well above
        // its bottom edge and the highest (SL) below its top.
        let (_, tp) = level_colors()
            .into_iter()
            .find(|(n, _)| *n == "TP")
            .unwrap();
        let (_, sl) = level_colors()
            .into_iter()
            .find(|(n, _)| *n == "SL")
            .unwrap();
        let tp_y = horizontal_lines(&svg, &tp)[0];
        let sl_y = horizontal_lines(&svg, &sl)[0];
        let (top, bottom) = (32, style::PRICE_HEIGHT as i32 - 36);
        assert!(bottom - tp_y > 25, "TP at {tp_y}, bottom {bottom}");
        assert!(sl_y - top > 25, "SL at {sl_y}, top {top}");

        let runs = runs_within(
            &[Some(1.0), Some(5.0), None, Some(2.0), Some(3.0)],
            0.0,
            4.0,
        );
        assert_eq!(runs, vec![vec![(0.0, 1.0)], vec![(3.0, 2.0), (4.0, 3.0)]]);
    }

    #[test]
    fn a_chart_without_setup_has_no_levels() {
        let series = candles(30);
        let svg = price_chart_svg(&PriceChart {
            candles: &series,
            emas: vec![],
            setup: None,
            window: 96,
        })
        .unwrap();
        for (_, color) in level_colors() {
            assert!(horizontal_lines(&svg, &color).is_empty());
        }
        assert!(price_chart_svg(&PriceChart {
            candles: &[],
            emas: vec![],
            setup: None,
            window: 96
        })
        .is_err());
    }
}
