//! The frame both chart kinds share: the same margins (so the stacked charts
//! of a panel line up), the dark grid, and a time axis under the series.

use super::style;
use super::ChartError;
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use quantpro_model::format;
use std::ops::Range;

/// A chart's plotting area: x is the index of the shown candle, y the value.
pub type Plot<'a, 'b> =
    ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// Fills the background and builds the plotting area over `x` and `y`.
pub fn plot_area<'a, 'b>(
    root: &'a DrawingArea<SVGBackend<'b>, Shift>,
    x: Range<f64>,
    y: Range<f64>,
) -> Result<Plot<'a, 'b>, ChartError> {
    root.fill(&style::BACKGROUND).map_err(draw_error)?;
    ChartBuilder::on(root)
        // Room for text at `style::SMALL_SCREEN_FONT`: the legend above,
        // the time labels below, seven-digit prices on the left.
        .margin_top(32)
        .margin_right(10)
        .margin_left(4)
        .margin_bottom(4)
        .x_label_area_size(32)
        .y_label_area_size(110)
        .build_cartesian_2d(x, y)
        .map_err(draw_error)
}

/// Draws the grid with four time labels taken from `times` (open time of
/// each shown candle, Unix ms) and `y_labels` value labels.
pub fn draw_mesh(
    plot: &mut Plot,
    times: &[i64],
    y_labels: usize,
    value_label: &dyn Fn(&f64) -> String,
) -> Result<(), ChartError> {
    let time_label = |x: &f64| {
        let i = x.round();
        if i >= 0.0 && (i as usize) < times.len() {
            format::utc_short(times[i as usize])
        } else {
            String::new()
        }
    };
    // Four: "07-16 13:30" at `style::SMALL_SCREEN_FONT` takes ~155 units.
    draw_grid(plot, 4, y_labels, &time_label, value_label)
}

/// The dark grid with `x_labels` and `y_labels` labels written by the two
/// formatters: every chart's mesh.
pub fn draw_grid(
    plot: &mut Plot,
    x_labels: usize,
    y_labels: usize,
    x_label: &dyn Fn(&f64) -> String,
    y_label: &dyn Fn(&f64) -> String,
) -> Result<(), ChartError> {
    plot.configure_mesh()
        .bold_line_style(style::GRID)
        .light_line_style(TRANSPARENT)
        .axis_style(style::AXIS)
        .label_style(
            (style::FONT, style::LABEL_SIZE)
                .into_font()
                .color(&style::LABEL),
        )
        .x_labels(x_labels)
        .y_labels(y_labels)
        .x_label_formatter(x_label)
        .y_label_formatter(y_label)
        .draw()
        .map_err(draw_error)
}

/// Plotters' drawing errors carry their backend's error type; the panels
/// only need the message.
pub fn draw_error(err: impl std::fmt::Display) -> ChartError {
    ChartError::Draw(err.to_string())
}
