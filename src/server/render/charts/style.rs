//! The charts' dark theme (the colours of `style/main.css`) and the SVG
//! post-processing that makes a plotters document scale with its container.

use plotters::style::RGBColor;

pub const WIDTH: u32 = 760;
pub const PRICE_HEIGHT: u32 = 300;
pub const RSI_HEIGHT: u32 = 220;

pub const BACKGROUND: RGBColor = RGBColor(0x16, 0x1b, 0x22);
pub const GRID: RGBColor = RGBColor(0x23, 0x2b, 0x36);
pub const AXIS: RGBColor = RGBColor(0x3a, 0x45, 0x54);
pub const LABEL: RGBColor = RGBColor(0x85, 0x92, 0xa3);
pub const UP: RGBColor = RGBColor(0x26, 0xc2, 0x81);
pub const DOWN: RGBColor = RGBColor(0xf0, 0x50, 0x6e);

pub const EMA_FAST_COLOR: RGBColor = RGBColor(0xf5, 0xa5, 0x24);
pub const EMA_MID_COLOR: RGBColor = RGBColor(0x4c, 0x9a, 0xff);
pub const EMA_SLOW_COLOR: RGBColor = RGBColor(0xc0, 0x84, 0xfc);

/// Setup levels: entry, stop and target.
pub const ENTRY_COLOR: RGBColor = RGBColor(0xe6, 0xed, 0xf3);
pub const SL_COLOR: RGBColor = RGBColor(0xff, 0x4d, 0x6d);
pub const TP_COLOR: RGBColor = RGBColor(0x2e, 0xe5, 0x9d);

pub const RSI_COLOR: RGBColor = RGBColor(0xc0, 0x84, 0xfc);
pub const RESISTANCE_COLOR: RGBColor = RGBColor(0xff, 0x4d, 0x6d);
pub const SUPPORT_COLOR: RGBColor = RGBColor(0x2e, 0xe5, 0x9d);
pub const BREAK_COLOR: RGBColor = RGBColor(0xf5, 0xa5, 0x24);

pub const FONT: &str = "sans-serif";
/// Plotters writes this as a font size of `LABEL_SIZE / 1.24` (14.5 user
/// units): 10 px where a chart is 540 px wide (the DetailPanel beside the
/// table at 1440 px).
pub const LABEL_SIZE: u32 = 18;

/// The font size (user units) `style/main.css` gives the text of the price
/// and RSI charts on narrow screens, where a 760-unit chart is drawn ~350 px
/// wide (24 units are then ~10.7 px, 10 px down to 320 px). The charts leave room for text this
/// big at every width: label areas, label spacing and backing boxes.
pub const SMALL_SCREEN_FONT: f64 = 24.0;

/// Width (user units) a label of `chars` characters takes at
/// `SMALL_SCREEN_FONT`, the larger of the two sizes.
pub fn label_room(chars: usize) -> i32 {
    (chars as f64 * SMALL_SCREEN_FONT * 0.58).ceil() as i32
}

/// The `#RRGGBB` spelling plotters writes for a colour.
#[cfg(test)]
pub fn hex(color: RGBColor) -> String {
    format!("#{:02X}{:02X}{:02X}", color.0, color.1, color.2)
}

/// Replaces the root element's fixed pixel size by a class, keeping the
/// viewBox, so CSS sizes the chart to its column.
pub fn responsive(svg: String, class: &str) -> String {
    let Some(start) = svg.find("<svg") else {
        return svg;
    };
    let Some(end) = svg[start..].find('>').map(|i| start + i) else {
        return svg;
    };
    let head = &svg[start..end];
    let head = remove_attr(head, "width");
    let head = remove_attr(&head, "height");
    let head = head.replacen(
        "<svg",
        &format!("<svg class=\"{class}\" preserveAspectRatio=\"xMidYMid meet\" role=\"img\""),
        1,
    );
    format!("{}{}{}", &svg[..start], head, &svg[end..])
}

fn remove_attr(tag: &str, name: &str) -> String {
    let needle = format!(" {name}=\"");
    match tag.find(&needle) {
        Some(at) => {
            let value_start = at + needle.len();
            match tag[value_start..].find('"') {
                Some(len) => format!("{}{}", &tag[..at], &tag[value_start + len + 1..]),
                None => tag.to_string(),
            }
        }
        None => tag.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn responsive_svg_keeps_the_view_box_and_drops_the_pixel_size() {
        let svg = "<svg width=\"760\" height=\"300\" viewBox=\"0 0 760 300\" xmlns=\"http://www.w3.org/2000/svg\">\n<rect width=\"1\" height=\"1\"/></svg>".to_string();
        let out = responsive(svg, "chart-svg");
        assert!(out.starts_with("<svg class=\"chart-svg\" preserveAspectRatio=\"xMidYMid meet\" role=\"img\" viewBox=\"0 0 760 300\""), "{out}");
        assert!(
            out.contains("<rect width=\"1\" height=\"1\"/>"),
            "inner elements untouched"
        );
        assert_eq!(hex(SL_COLOR), "#FF4D6D");
    }
}
