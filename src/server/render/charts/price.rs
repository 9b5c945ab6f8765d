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
    // Auto-scale over everything drawn (candles, EMAs, levels), so no line
    // is pinned to the chart's edge.
    let ema_values = chart.emas.iter().flat_map(|ema| {
        ema.values
            .get(start..)
            .unwrap_or_default()
            .iter()
            .flatten()
            .copied()
    });
    let (y_min, y_max) = price_range(shown, levels.iter().map(|l| l.price).chain(ema_values));
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
            let points = ema.values[start.min(ema.values.len())..]
                .iter()
                .enumerate()
                .filter_map(|(i, v)| v.map(|v| (i as f64, v)));
            plot.draw_series(LineSeries::new(points, ema.color.stroke_width(2)))
                .map_err(draw_error)?;
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
        let bottom = plot.backend_coord(&(x_max, y_min)).1 - 9;
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
    let mut x = 80;
    for ema in emas {
        let label = format!("EMA{}", ema.period);
        let text_style =
            TextStyle::from((style::FONT, style::LABEL_SIZE).into_font()).color(&ema.color);
        root.draw(&PathElement::new(
            vec![(x, 11), (x + 14, 11)],
            ema.color.stroke_width(2),
        ))
        .map_err(draw_error)?;
        root.draw(&Text::new(label.clone(), (x + 18, 5), text_style))
            .map_err(draw_error)?;
        x += 28 + 8 * label.len() as i32;
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

/// Pixels between two level labels' centres, so close levels stay readable.
const LABEL_GAP: i32 = 17;

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
        let width = (label.len() as f64 * 7.6) as i32 + 8;
        let backing = Rectangle::new(
            [(right - width, y - 8), (right, y + 8)],
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

/// Low and high of the candles and the other drawn values, with 4% padding.
fn price_range(candles: &[Candle], others: impl Iterator<Item = f64> + Clone) -> (f64, f64) {
    let lows = candles.iter().map(|c| c.l).chain(others.clone());
    let highs = candles.iter().map(|c| c.h).chain(others);
    let low = lows.fold(f64::INFINITY, f64::min);
    let high = highs.fold(f64::NEG_INFINITY, f64::max);
    let span = if high > low {
        high - low
    } else {
        low.abs().max(1.0) * 0.01
    };
    (low - span * 0.04, high + span * 0.04)
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
