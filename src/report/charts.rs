//! Charts with plotters, as PNG or SVG bytes (no file I/O here). Text is drawn with the
//! DejaVu Sans font compiled into the binary (`dejavu` crate, `ab_glyph` renderer), so
//! charts render identically on a fresh machine with no system fonts or fontconfig.
//!
//! One chart description, [`LineChart`], covers every chart mqsim draws: percentile curves
//! (x on a "nines" axis: 50%, 90%, 99%, 99.9%), time series (with the warm-up shaded,
//! stacked areas, reference lines), sizing curves (with a target line and marked points),
//! and heatmaps ([`Heatmap`]). Several charts can be stacked in one image; they share one
//! y-scale rule (all logarithmic or all linear). The legend stands in its own column right
//! of the plot, so it never covers data. SVG output carries a `<title>` per data point, so
//! a browser shows the value under the pointer.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::FontStyle;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::sync::Once;

/// Image encodings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageFormat {
    /// Portable Network Graphics (raster).
    Png,
    /// Scalable Vector Graphics (text stays text).
    Svg,
}

impl ImageFormat {
    /// File extension.
    pub fn ext(self) -> &'static str {
        match self {
            ImageFormat::Png => "png",
            ImageFormat::Svg => "svg",
        }
    }
}

/// How the x axis maps values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum XAxis {
    /// Plain numbers.
    #[default]
    Linear,
    /// Quantiles q drawn at −log10(1 − q), labelled as percentiles.
    Nines,
    /// Positive numbers on a logarithmic scale (consumer counts).
    Log,
}

/// One line, optionally with a shaded band (e.g. a 95% confidence interval).
#[derive(Debug, Clone, Default)]
pub struct Line {
    /// Legend text.
    pub name: String,
    /// (x, y) points; for a [`XAxis::Nines`] axis x is the quantile q.
    pub points: Vec<(f64, f64)>,
    /// (x, low, high) band drawn under the line.
    pub band: Vec<(f64, f64, f64)>,
    /// Dashed (for theory) rather than solid (for measurements).
    pub dashed: bool,
    /// Palette index; lines sharing it share a colour.
    pub color: usize,
    /// A dot at every point (whole-number x such as consumer counts).
    pub markers: bool,
    /// Draw the band as an opaque filled area (a stacked area), the line thin on its top.
    pub area: bool,
}

/// A horizontal reference line.
#[derive(Debug, Clone, Default)]
pub struct RefLine {
    /// Its y value.
    pub y: f64,
    /// Legend text.
    pub label: String,
    /// Palette index, or `None` for black.
    pub color: Option<usize>,
}

/// A marked point with a label written beside it (a recommendation).
#[derive(Debug, Clone, Default)]
pub struct Mark {
    /// Position.
    pub x: f64,
    /// Position.
    pub y: f64,
    /// Text beside the point.
    pub label: String,
    /// Palette index.
    pub color: usize,
}

/// How y values that are seconds are shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum YUnit {
    /// Plain numbers; the label carries the unit.
    #[default]
    Plain,
    /// Seconds, shown in the unit (µs, ms, s, min) the largest value reads best in; the
    /// unit is added to the axis label.
    Seconds,
}

/// A chart: axes, lines, and optional decorations.
#[derive(Debug, Clone, Default)]
pub struct LineChart {
    /// Title above the plot.
    pub title: String,
    /// X axis label, with unit.
    pub x_label: String,
    /// Y axis label, with unit (for seconds, the unit is appended).
    pub y_label: String,
    /// X mapping.
    pub x_axis: XAxis,
    /// Logarithmic y axis (used only when every value of every such panel of the image is
    /// positive and one spans more than 20×).
    pub log_y: bool,
    /// Y values are seconds: the axis is in the unit that suits them.
    pub y_seconds: bool,
    /// X values are whole numbers (consumer counts): ticks only at integers.
    pub x_integer: bool,
    /// The lines.
    pub lines: Vec<Line>,
    /// A shaded x range with a label (the warm-up).
    pub shade_x: Option<(f64, f64, String)>,
    /// A horizontal target line with a label (black, dashed).
    pub hline: Option<(f64, String)>,
    /// Further horizontal reference lines (offered rate, max_length, theory's figure).
    pub refs: Vec<RefLine>,
    /// Marked, labelled points.
    pub marks: Vec<Mark>,
}

/// A grid of coloured cells with their value written in them (the validation matrix).
#[derive(Debug, Clone, Default)]
pub struct Heatmap {
    /// Title above the grid.
    pub title: String,
    /// Column labels (x), left to right.
    pub columns: Vec<String>,
    /// Row labels (y), top to bottom.
    pub rows: Vec<String>,
    /// `cells[row][column]`: the value (its colour), the text written in the cell and the
    /// hover text; `None` for an empty cell.
    pub cells: Vec<Vec<Option<(f64, String, String)>>>,
    /// Value at which the colour scale saturates.
    pub max: f64,
    /// Legend text of the colour scale.
    pub scale_label: String,
}

/// Why a chart could not be drawn.
#[derive(Debug, thiserror::Error)]
#[error("cannot draw chart \"{title}\": {message}")]
pub struct ChartError {
    title: String,
    message: String,
}

/// The palette: colour-blind-safe hues (Okabe–Ito order) after the two classic ones.
pub const PALETTE: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(255, 127, 14),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
];

/// Width of the legend column right of every plot, pixels.
const LEGEND_W: u32 = 250;
/// Characters per legend line before it wraps.
const LEGEND_CHARS: usize = 30;

fn register_fonts() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // Both calls only fail on a malformed font file, which the dejavu crate is not.
        let _ = plotters::style::register_font(
            "sans-serif",
            FontStyle::Normal,
            dejavu::sans::regular(),
        );
        let _ = plotters::style::register_font("sans-serif", FontStyle::Bold, dejavu::sans::bold());
    });
}

fn nines(q: f64) -> f64 {
    -(1.0 - q.min(0.999_999)).log10()
}

fn nines_label(x: f64) -> String {
    let q = 100.0 * (1.0 - 10f64.powf(-x));
    let s = format!("{q:.4}");
    format!("{}%", s.trim_end_matches('0').trim_end_matches('.'))
}

/// The display unit of seconds whose largest value is `max`: (seconds per unit, name).
pub fn seconds_unit(max: f64) -> (f64, &'static str) {
    if max >= 300.0 {
        (60.0, "min")
    } else if max >= 1.0 {
        (1.0, "s")
    } else if max >= 1e-3 {
        (1e-3, "ms")
    } else {
        (1e-6, "µs")
    }
}

/// A duration for a person: four significant digits at most, µs/ms/s/min/h.
pub fn fmt_duration(s: f64) -> String {
    if !s.is_finite() {
        return "-".into();
    }
    if s >= 3600.0 {
        return format!("{} h", trim_num(s / 3600.0, 3));
    }
    if s == 0.0 {
        return "0".into();
    }
    let (k, u) = seconds_unit(s.abs());
    format!("{} {u}", trim_num(s / k, 3))
}

/// `v` with `sig` significant digits (at least), trailing zeros removed.
pub fn trim_num(v: f64, sig: i32) -> String {
    if v == 0.0 || !v.is_finite() {
        return if v == 0.0 { "0".into() } else { "-".into() };
    }
    let mag = v.abs().log10().floor() as i32;
    let decimals = (sig - 1 - mag).clamp(0, 9) as usize;
    let s = format!("{v:.decimals$}");
    if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.').to_string() } else { s }
}

fn fmt_tick(v: f64) -> String {
    if v.abs() >= 1e5 || (v != 0.0 && v.abs() < 1e-3) { format!("{v:.1e}") } else { trim_num(v, 4) }
}

/// Per panel: data ranges in drawing coordinates and whether any y is not positive.
struct Extent {
    x: (f64, f64),
    y: (f64, f64),
    positive: bool,
}

fn tx(axis: XAxis, x: f64) -> f64 {
    match axis {
        XAxis::Nines => nines(x),
        XAxis::Log => x.max(1e-9).log10(),
        XAxis::Linear => x,
    }
}

fn extent(c: &LineChart) -> Extent {
    let (mut x0, mut x1, mut y0, mut y1) =
        (f64::INFINITY, f64::NEG_INFINITY, f64::INFINITY, f64::NEG_INFINITY);
    let mut positive = true;
    for l in &c.lines {
        for &(x, y) in &l.points {
            x0 = x0.min(tx(c.x_axis, x));
            x1 = x1.max(tx(c.x_axis, x));
            y0 = y0.min(y);
            y1 = y1.max(y);
            positive &= y > 0.0;
        }
        for &(x, lo, hi) in &l.band {
            x0 = x0.min(tx(c.x_axis, x));
            x1 = x1.max(tx(c.x_axis, x));
            y0 = y0.min(lo);
            y1 = y1.max(hi);
            positive &= lo > 0.0 || l.area;
        }
    }
    if !y0.is_finite() {
        (y0, y1) = (0.0, 1.0);
    }
    // A target always shows; a reference line far above the data would squash it, so it
    // stays off the chart (its legend says so).
    let data_max = y1;
    for y in c
        .hline
        .iter()
        .map(|h| h.0)
        .chain(c.refs.iter().map(|r| r.y).filter(|y| *y <= 3.0 * data_max.max(1e-12)))
    {
        y0 = y0.min(y);
        y1 = y1.max(y);
    }
    if !x0.is_finite() {
        (x0, x1) = (0.0, 1.0);
    }
    Extent { x: (x0, x1), y: (y0, y1), positive }
}

/// The image's y-scale rule: logarithmic for every `log_y` panel when all their values are
/// positive and one spans more than 20×, otherwise linear for all.
fn image_log(charts: &[LineChart]) -> bool {
    let logs: Vec<Extent> = charts.iter().filter(|c| c.log_y).map(extent).collect();
    !logs.is_empty()
        && logs.iter().all(|e| e.positive && e.y.0 > 0.0)
        && logs.iter().any(|e| e.y.1 / e.y.0 > 20.0)
}

fn ranges(c: &LineChart, log: bool) -> ((f64, f64), (f64, f64)) {
    let e = extent(c);
    let ((mut x0, mut x1), (y0, y1)) = (e.x, e.y);
    if x1 <= x0 {
        x1 = x0 + 1.0;
    }
    match c.x_axis {
        XAxis::Nines => {
            x0 -= 0.03;
            x1 += 0.05;
        }
        XAxis::Log => {
            let pad = (x1 - x0) * 0.04;
            x0 -= pad;
            x1 += pad;
        }
        XAxis::Linear if c.x_integer => {
            x0 -= 0.3;
            x1 += 0.3;
        }
        XAxis::Linear => {}
    }
    if log {
        ((x0, x1), (y0 / 1.5, y1 * 1.5))
    } else {
        let lo = if y0 >= 0.0 { 0.0 } else { y0 * 1.1 };
        let hi = if y1 <= lo { lo + 1.0 } else { lo + (y1 - lo) * 1.08 };
        ((x0, x1), (lo, hi))
    }
}

/// One legend entry: what its swatch looks like.
enum Swatch {
    Line { color: RGBColor, dashed: bool, markers: bool },
    Fill(RGBColor),
    Band(RGBColor),
}

fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = vec![String::new()];
    for word in text.split(' ') {
        let cur = lines.last_mut().expect("never empty");
        if !cur.is_empty() && cur.chars().count() + 1 + word.chars().count() > width {
            lines.push(word.to_string());
        } else {
            if !cur.is_empty() {
                cur.push(' ');
            }
            cur.push_str(word);
        }
    }
    lines
}

fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    entries: &[(Swatch, String)],
    top: i32,
) -> Result<(), String> {
    let font = ("sans-serif", 13).into_font().color(&BLACK);
    let mut y = top;
    for (sw, text) in entries {
        let cy = y + 8;
        match *sw {
            Swatch::Line { color, dashed, markers } => {
                let s = ShapeStyle::from(&color).stroke_width(2);
                if dashed {
                    // Three dashes over 34 px: long enough to read as dashed.
                    for k in 0..3 {
                        let x = 8 + k * 12;
                        area.draw(&PathElement::new(vec![(x, cy), (x + 7, cy)], s))
                            .map_err(|e| e.to_string())?;
                    }
                } else {
                    area.draw(&PathElement::new(vec![(8, cy), (42, cy)], s))
                        .map_err(|e| e.to_string())?;
                }
                if markers {
                    area.draw(&Circle::new((25, cy), 4, color.filled()))
                        .map_err(|e| e.to_string())?;
                }
            }
            Swatch::Fill(color) => {
                area.draw(&Rectangle::new([(8, cy - 7), (42, cy + 7)], color.filled()))
                    .map_err(|e| e.to_string())?;
            }
            Swatch::Band(color) => {
                area.draw(&Rectangle::new([(8, cy - 7), (42, cy + 7)], color.mix(0.25).filled()))
                    .map_err(|e| e.to_string())?;
                area.draw(&PathElement::new(
                    vec![(8, cy), (42, cy)],
                    ShapeStyle::from(&color).stroke_width(2),
                ))
                .map_err(|e| e.to_string())?;
            }
        }
        for l in wrap(text, LEGEND_CHARS) {
            area.draw(&Text::new(l, (50, y + 8), font.pos(Pos::new(HPos::Left, VPos::Center))))
                .map_err(|e| e.to_string())?;
            y += 16;
        }
        y += 6;
    }
    Ok(())
}

/// A point's hover text in an SVG: root pixel position and the text.
pub type Hover = (i32, i32, String);

fn y_text(v: f64, seconds: bool) -> String {
    if seconds { fmt_duration(v) } else { trim_num(v, 4) }
}

fn x_text(c: &LineChart, x: f64) -> String {
    match c.x_axis {
        XAxis::Nines => format!("p{}", nines_label(nines(x)).trim_end_matches('%')),
        _ => format!("{} = {}", c.x_label, trim_num(x, 4)),
    }
}

fn draw_on<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    c: &LineChart,
    log: bool,
    hovers: &mut Vec<Hover>,
) -> Result<(), String> {
    let ((x0, x1), (y0, y1)) = ranges(c, log);
    let (plot_area, legend_area) =
        area.split_horizontally(area.dim_in_pixel().0.saturating_sub(LEGEND_W));
    let (ymax_abs, _) = (y1.abs().max(y0.abs()), ());
    let (yk, yu) = if c.y_seconds { seconds_unit(ymax_abs / 1.1) } else { (1.0, "") };
    let y_label = if c.y_seconds {
        format!("{} ({yu}{})", c.y_label, if log { ", log scale" } else { "" })
    } else if log {
        format!("{} (log scale)", c.y_label)
    } else {
        c.y_label.clone()
    };
    let ax = c.x_axis;
    let txf = move |x: f64| tx(ax, x);
    let mut builder = ChartBuilder::on(&plot_area);
    builder
        .caption(&c.title, ("sans-serif", 20).into_font().style(FontStyle::Bold))
        .margin(12)
        .x_label_area_size(48)
        .y_label_area_size(78);
    let mut legend: Vec<(Swatch, String)> = Vec::new();
    if let Some((_, _, label)) = &c.shade_x {
        legend.push((Swatch::Fill(RGBColor(225, 225, 225)), label.clone()));
    }
    macro_rules! body {
        ($chart:expr) => {{
            let mut chart = $chart;
            let custom_x = matches!(c.x_axis, XAxis::Nines | XAxis::Log);
            chart
                .configure_mesh()
                .x_desc(c.x_label.as_str())
                .y_desc(y_label.as_str())
                .label_style(("sans-serif", 14))
                .axis_desc_style(("sans-serif", 15))
                .x_labels(if custom_x {
                    0
                } else if c.x_integer {
                    ((x1 - x0).round() as usize + 1).min(12)
                } else {
                    8
                })
                .y_labels(if log { 0 } else { 8 })
                .x_label_formatter(&|x: &f64| {
                    if c.x_integer && (x - x.round()).abs() > 1e-9 {
                        String::new()
                    } else {
                        fmt_tick(*x)
                    }
                })
                .y_label_formatter(&|y: &f64| if log { String::new() } else { fmt_tick(y / yk) })
                .bold_line_style(RGBColor(225, 225, 225))
                .light_line_style(TRANSPARENT)
                .draw()
                .map_err(|e| e.to_string())?;
            // backend_coord is in root pixels; labels are drawn on this panel's area.
            let (bx, by) = plot_area.get_base_pixel();
            let tick_font = ("sans-serif", 14).into_font().color(&BLACK);
            if log {
                // Ticks at 1, 2 and 5 × 10^k (of the display unit).
                let mut ticks = Vec::new();
                let mut decade = 10f64.powf((y0 / yk).log10().floor()) * yk;
                while decade <= y1 {
                    ticks.extend(
                        [1.0, 2.0, 5.0].iter().map(|m| m * decade).filter(|t| *t >= y0 && *t <= y1),
                    );
                    decade *= 10.0;
                }
                for t in ticks {
                    chart
                        .draw_series(std::iter::once(PathElement::new(
                            vec![(x0, t), (x1, t)],
                            RGBColor(225, 225, 225),
                        )))
                        .map_err(|e| e.to_string())?;
                    let (px, py) = chart.backend_coord(&(x0, t));
                    plot_area
                        .draw(&Text::new(
                            fmt_tick(t / yk),
                            (px - bx - 6, py - by),
                            tick_font.pos(Pos::new(HPos::Right, VPos::Center)),
                        ))
                        .map_err(|e| e.to_string())?;
                }
            }
            let x_ticks: Vec<(f64, String)> = match c.x_axis {
                // Ticks exactly at 50%, 90%, 99%, 99.9%, … rather than at round x values.
                XAxis::Nines => std::iter::once(nines(0.5))
                    .chain((1..=6).map(f64::from))
                    .filter(|k| *k >= x0 && *k <= x1)
                    .map(|k| (k, nines_label(k)))
                    .collect(),
                XAxis::Log => {
                    let (lo, hi) = (10f64.powf(x0), 10f64.powf(x1));
                    let mut v = Vec::new();
                    let mut decade = 10f64.powf(lo.log10().floor());
                    while decade <= hi {
                        for m in [1.0, 2.0, 3.0, 5.0, 7.0] {
                            let t = m * decade;
                            if t >= lo && t <= hi && (!c.x_integer || t >= 1.0) {
                                v.push((t.log10(), trim_num(t, 3)));
                            }
                        }
                        decade *= 10.0;
                    }
                    // Whole counts between: ticks at every integer when few.
                    if c.x_integer && hi - lo <= 30.0 {
                        v = (lo.ceil() as i64..=hi.floor() as i64)
                            .filter(|n| *n > 0)
                            .map(|n| ((n as f64).log10(), n.to_string()))
                            .collect();
                    }
                    v
                }
                XAxis::Linear => Vec::new(),
            };
            for (k, label) in x_ticks {
                chart
                    .draw_series(std::iter::once(PathElement::new(
                        vec![(k, y0), (k, y1)],
                        RGBColor(215, 215, 215),
                    )))
                    .map_err(|e| e.to_string())?;
                let (px, py) = chart.backend_coord(&(k, y0));
                plot_area
                    .draw(&Text::new(
                        label,
                        (px - bx, py - by + 8),
                        tick_font.pos(Pos::new(HPos::Center, VPos::Top)),
                    ))
                    .map_err(|e| e.to_string())?;
            }
            if let Some((a, b, _)) = &c.shade_x {
                let (a, b) = (txf(*a).max(x0), txf(*b).min(x1));
                if b > a {
                    chart
                        .draw_series(std::iter::once(Rectangle::new(
                            [(a, y0), (b, y1)],
                            RGBColor(225, 225, 225).filled(),
                        )))
                        .map_err(|e| e.to_string())?;
                }
            }
            let clamp = |y: f64| y.clamp(y0, y1);
            for l in &c.lines {
                let color = PALETTE[l.color % PALETTE.len()];
                if l.band.len() >= 2 {
                    let mut poly: Vec<(f64, f64)> =
                        l.band.iter().map(|&(x, lo, _)| (txf(x), clamp(lo))).collect();
                    poly.extend(l.band.iter().rev().map(|&(x, _, hi)| (txf(x), clamp(hi))));
                    let fill = if l.area { color.mix(0.55) } else { color.mix(0.2) };
                    chart
                        .draw_series(std::iter::once(Polygon::new(poly, fill.filled())))
                        .map_err(|e| e.to_string())?;
                }
                let pts: Vec<(f64, f64)> =
                    l.points.iter().map(|&(x, y)| (txf(x), clamp(y))).collect();
                let style = ShapeStyle::from(&color).stroke_width(if l.area { 1 } else { 2 });
                if l.dashed {
                    chart
                        .draw_series(DashedLineSeries::new(pts.clone(), 8, 5, style))
                        .map_err(|e| e.to_string())?;
                } else {
                    chart
                        .draw_series(LineSeries::new(pts.clone(), style))
                        .map_err(|e| e.to_string())?;
                }
                if l.markers {
                    chart
                        .draw_series(pts.iter().map(|&p| Circle::new(p, 4, color.filled())))
                        .map_err(|e| e.to_string())?;
                }
                let stride = (l.points.len() / 80).max(1);
                for (i, &(x, y)) in l.points.iter().enumerate() {
                    if i % stride != 0 {
                        continue;
                    }
                    let (px, py) = chart.backend_coord(&(txf(x), clamp(y)));
                    let band = l
                        .band
                        .iter()
                        .find(|b| (b.0 - x).abs() < 1e-12 && !l.area)
                        .map(|b| {
                            format!(
                                " (95%: {} – {})",
                                y_text(b.1, c.y_seconds),
                                y_text(b.2, c.y_seconds)
                            )
                        })
                        .unwrap_or_default();
                    hovers.push((
                        px,
                        py,
                        format!("{}: {}: {}{band}", l.name, x_text(c, x), y_text(y, c.y_seconds)),
                    ));
                }
                let sw = if l.area {
                    Swatch::Fill(tint(color, 0.55))
                } else if l.band.len() >= 2 {
                    Swatch::Band(color)
                } else {
                    Swatch::Line { color, dashed: l.dashed, markers: l.markers }
                };
                legend.push((sw, l.name.clone()));
            }
            let refs = c.hline.iter().map(|(y, label)| (*y, label.clone(), BLACK)).chain(
                c.refs.iter().map(|r| {
                    (r.y, r.label.clone(), r.color.map_or(BLACK, |k| PALETTE[k % PALETTE.len()]))
                }),
            );
            for (y, mut label, color) in refs {
                if y > y1 || y < y0 {
                    label.push_str(" (off scale)");
                    legend.push((Swatch::Line { color, dashed: true, markers: false }, label));
                    continue;
                }
                chart
                    .draw_series(DashedLineSeries::new(
                        vec![(x0, y), (x1, y)],
                        4,
                        4,
                        ShapeStyle::from(&color).stroke_width(1),
                    ))
                    .map_err(|e| e.to_string())?;
                let (px, py) = chart.backend_coord(&(x1, y));
                hovers.push((px - 4, py, format!("{label}: {}", y_text(y, c.y_seconds))));
                legend.push((Swatch::Line { color, dashed: true, markers: false }, label));
            }
            for m in &c.marks {
                let color = PALETTE[m.color % PALETTE.len()];
                let p = (txf(m.x), clamp(m.y));
                chart
                    .draw_series(std::iter::once(Circle::new(
                        p,
                        8,
                        ShapeStyle::from(&color).stroke_width(3),
                    )))
                    .map_err(|e| e.to_string())?;
                let (px, py) = chart.backend_coord(&p);
                hovers.push((px, py, m.label.clone()));
                // Left of the point in the plot's right half, so the label stays inside.
                let right_half = p.0 > (x0 + x1) / 2.0;
                let (dx, h) = if right_half { (-12, HPos::Right) } else { (12, HPos::Left) };
                plot_area
                    .draw(&Text::new(
                        m.label.clone(),
                        (px - bx + dx, py - by - 12),
                        ("sans-serif", 14)
                            .into_font()
                            .style(FontStyle::Bold)
                            .color(&color)
                            .pos(Pos::new(h, VPos::Bottom)),
                    ))
                    .map_err(|e| e.to_string())?;
            }
        }};
    }
    if log {
        body!(builder.build_cartesian_2d(x0..x1, (y0..y1).log_scale()).map_err(|e| e.to_string())?);
    } else {
        body!(builder.build_cartesian_2d(x0..x1, y0..y1).map_err(|e| e.to_string())?);
    }
    draw_legend(&legend_area, &legend, 44)
}

fn draw_heatmap<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    h: &Heatmap,
    hovers: &mut Vec<Hover>,
) -> Result<(), String> {
    let (w, ht) = area.dim_in_pixel();
    let (bx, by) = area.get_base_pixel();
    let bold = ("sans-serif", 20).into_font().style(FontStyle::Bold).color(&BLACK);
    area.draw(&Text::new(
        h.title.clone(),
        (w as i32 / 2, 10),
        bold.pos(Pos::new(HPos::Center, VPos::Top)),
    ))
    .map_err(|e| e.to_string())?;
    // Room for the longest row label (~7 px a character at 13 px), within reason.
    let longest = h.rows.iter().map(|r| r.chars().count()).max().unwrap_or(0) as i32;
    let left = (longest * 7 + 24).clamp(230, 420);
    let top = 80i32;
    let ncol = h.columns.len().max(1) as i32;
    let nrow = h.rows.len().max(1) as i32;
    let cw = ((w as i32 - left - 20) / ncol).max(20);
    let ch = ((ht as i32 - top - 70) / nrow).clamp(14, 40);
    let font = ("sans-serif", 13).into_font().color(&BLACK);
    for (j, col) in h.columns.iter().enumerate() {
        area.draw(&Text::new(
            col.clone(),
            (left + cw * j as i32 + cw / 2, top - 8),
            font.pos(Pos::new(HPos::Center, VPos::Bottom)),
        ))
        .map_err(|e| e.to_string())?;
    }
    for (i, row) in h.rows.iter().enumerate() {
        let y = top + ch * i as i32;
        area.draw(&Text::new(
            row.clone(),
            (left - 8, y + ch / 2),
            font.pos(Pos::new(HPos::Right, VPos::Center)),
        ))
        .map_err(|e| e.to_string())?;
        for j in 0..h.columns.len() {
            let x = left + cw * j as i32;
            let cell = h.cells.get(i).and_then(|r| r.get(j)).and_then(|c| c.as_ref());
            let fill = match cell {
                Some((v, _, _)) => heat(*v / h.max.max(1e-12)),
                None => RGBColor(245, 245, 245),
            };
            area.draw(&Rectangle::new([(x, y), (x + cw - 2, y + ch - 2)], fill.filled()))
                .map_err(|e| e.to_string())?;
            if let Some((_, text, hover)) = cell {
                area.draw(&Text::new(
                    text.clone(),
                    (x + cw / 2, y + ch / 2),
                    font.pos(Pos::new(HPos::Center, VPos::Center)),
                ))
                .map_err(|e| e.to_string())?;
                hovers.push((bx + x + cw / 2, by + y + ch / 2, hover.clone()));
            }
        }
    }
    // The colour scale.
    let sy = top + ch * nrow + 24;
    for k in 0..=100 {
        let x = left + k * 3;
        area.draw(&Rectangle::new(
            [(x, sy), (x + 3, sy + 14)],
            heat(f64::from(k) / 100.0).filled(),
        ))
        .map_err(|e| e.to_string())?;
    }
    area.draw(&Text::new(
        h.scale_label.clone(),
        (left + 320, sy + 7),
        font.pos(Pos::new(HPos::Left, VPos::Center)),
    ))
    .map_err(|e| e.to_string())?;
    Ok(())
}

/// `color` at opacity `a` over white.
fn tint(color: RGBColor, a: f64) -> RGBColor {
    let m = |c: u8| (f64::from(c) * a + 255.0 * (1.0 - a)).round() as u8;
    RGBColor(m(color.0), m(color.1), m(color.2))
}

/// White → orange → red as `t` goes 0 → 1 (clamped).
fn heat(t: f64) -> RGBColor {
    let t = t.clamp(0.0, 1.0);
    let lerp = |a: f64, b: f64, u: f64| (a + (b - a) * u).round() as u8;
    if t < 0.5 {
        let u = t * 2.0;
        RGBColor(lerp(255.0, 253.0, u), lerp(255.0, 174.0, u), lerp(255.0, 97.0, u))
    } else {
        let u = (t - 0.5) * 2.0;
        RGBColor(lerp(253.0, 215.0, u), lerp(174.0, 48.0, u), lerp(97.0, 39.0, u))
    }
}

fn draw_all<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    charts: &[LineChart],
    hovers: &mut Vec<Hover>,
) -> Result<(), String> {
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let log = image_log(charts);
    let panels = root.split_evenly((charts.len().max(1), 1));
    for (area, c) in panels.iter().zip(charts) {
        draw_on(area, c, log && c.log_y, hovers)?;
    }
    root.present().map_err(|e| e.to_string())
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// Adds an invisible circle with a `<title>` at every hover point, before `</svg>`.
fn with_hovers(svg: String, hovers: &[Hover]) -> String {
    let mut g = String::from("<g fill=\"#000\" fill-opacity=\"0\">\n");
    for (x, y, t) in hovers {
        g.push_str(&format!(
            "<circle cx=\"{x}\" cy=\"{y}\" r=\"6\"><title>{}</title></circle>\n",
            xml_escape(t)
        ));
    }
    g.push_str("</g>\n");
    match svg.rfind("</svg>") {
        Some(i) => format!("{}{g}{}", &svg[..i], &svg[i..]),
        None => svg,
    }
}

/// Draws with `$draw(root, &mut hovers)` on an SVG or a PNG canvas and encodes the result.
macro_rules! render_with {
    ($title:expr, $format:expr, $width:expr, $height:expr, $draw:expr) => {{
        let title: &str = $title;
        let (width, height): (u32, u32) = ($width, $height);
        let err = |message: String| ChartError { title: title.to_string(), message };
        let mut hovers: Vec<Hover> = Vec::new();
        match $format {
            ImageFormat::Svg => {
                let mut s = String::new();
                {
                    let root = SVGBackend::with_string(&mut s, (width, height)).into_drawing_area();
                    $draw(root, &mut hovers).map_err(err)?;
                }
                Ok(with_hovers(s, &hovers).into_bytes())
            }
            ImageFormat::Png => {
                let mut rgb = vec![0u8; (width * height * 3) as usize];
                {
                    let root =
                        BitMapBackend::with_buffer(&mut rgb, (width, height)).into_drawing_area();
                    $draw(root, &mut hovers).map_err(&err)?;
                }
                let mut out = Vec::new();
                let mut enc = png::Encoder::new(&mut out, width, height);
                enc.set_color(png::ColorType::Rgb);
                enc.set_depth(png::BitDepth::Eight);
                let mut w = enc.write_header().map_err(|e| err(e.to_string()))?;
                w.write_image_data(&rgb).map_err(|e| err(e.to_string()))?;
                w.finish().map_err(|e| err(e.to_string()))?;
                Ok(out)
            }
        }
    }};
}

/// Renders charts stacked vertically, each `width × panel_height` pixels (the legend column
/// included).
pub fn render(
    charts: &[LineChart],
    format: ImageFormat,
    width: u32,
    panel_height: u32,
) -> Result<Vec<u8>, ChartError> {
    register_fonts();
    let title = charts.first().map_or_else(String::new, |c| c.title.clone());
    let height = panel_height * charts.len().max(1) as u32;
    render_with!(&title, format, width, height, |root, hovers: &mut Vec<Hover>| draw_all(
        root, charts, hovers
    ))
}

/// Renders a heatmap, `width × height` pixels.
pub fn render_heatmap(
    h: &Heatmap,
    format: ImageFormat,
    width: u32,
    height: u32,
) -> Result<Vec<u8>, ChartError> {
    register_fonts();
    fn go<DB: DrawingBackend>(
        root: DrawingArea<DB, Shift>,
        h: &Heatmap,
        hovers: &mut Vec<Hover>,
    ) -> Result<(), String> {
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        draw_heatmap(&root, h, hovers)?;
        root.present().map_err(|e| e.to_string())
    }
    render_with!(&h.title, format, width, height, |root, hovers: &mut Vec<Hover>| go(
        root, h, hovers
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> LineChart {
        LineChart {
            title: "wait, queue orders".into(),
            x_label: "percentile".into(),
            y_label: "wait".into(),
            x_axis: XAxis::Nines,
            log_y: true,
            y_seconds: true,
            lines: vec![
                Line {
                    name: "simulated".into(),
                    points: vec![(0.5, 0.01), (0.9, 0.09), (0.99, 0.23), (0.999, 0.37)],
                    band: vec![
                        (0.5, 0.009, 0.011),
                        (0.9, 0.085, 0.095),
                        (0.99, 0.22, 0.24),
                        (0.999, 0.35, 0.39),
                    ],
                    ..Line::default()
                },
                Line {
                    name: "theory".into(),
                    points: vec![(0.5, 0.01), (0.99, 0.24)],
                    dashed: true,
                    color: 1,
                    ..Line::default()
                },
            ],
            hline: Some((0.25, "target 250ms".into())),
            ..LineChart::default()
        }
    }

    #[test]
    fn png_has_text_pixels_and_svg_has_text() {
        let png_bytes = render(&[sample()], ImageFormat::Png, 800, 500).unwrap();
        assert_eq!(&png_bytes[1..4], b"PNG");
        // Decode and check the title band (top 40 px) is not blank: glyphs were drawn.
        let dec = png::Decoder::new(std::io::Cursor::new(png_bytes));
        let mut reader = dec.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buf).unwrap();
        let row = info.line_size;
        let dark =
            buf[..row * 40].chunks(3).filter(|p| p[0] < 100 && p[1] < 100 && p[2] < 100).count();
        assert!(dark > 200, "title text should be drawn, found {dark} dark pixels");
        let svg =
            String::from_utf8(render(&[sample()], ImageFormat::Svg, 800, 500).unwrap()).unwrap();
        assert!(svg.contains("wait, queue orders") && svg.contains("99.9%"), "svg text missing");
        // Values on hover: a <title> per point, with the unit.
        assert!(
            svg.contains("<title>simulated: p99: 230 ms (95%: 220 ms – 240 ms)</title>"),
            "{svg}"
        );
        assert!(svg.contains("wait (ms, log scale)"), "the unit belongs in the axis label");
    }

    #[test]
    fn one_scale_rule_per_image() {
        let mut linear = sample();
        linear.lines[0].points[0].1 = 0.0;
        // One panel has a zero: neither panel may be logarithmic.
        assert!(!image_log(&[sample(), linear.clone()]));
        assert!(image_log(&[sample(), sample()]));
    }

    #[test]
    fn durations_read_in_micro_milli_seconds() {
        assert_eq!(fmt_duration(0.000_012_3), "12.3 µs");
        assert_eq!(fmt_duration(0.2341), "234 ms");
        assert_eq!(fmt_duration(2.187), "2.19 s");
        assert_eq!(fmt_duration(600.0), "10 min");
        assert_eq!(trim_num(0.79871, 2), "0.8");
    }

    #[test]
    fn nines_labels() {
        assert_eq!(nines_label(nines(0.5)), "50%");
        assert_eq!(nines_label(2.0), "99%");
        assert_eq!(nines_label(3.0), "99.9%");
    }

    #[test]
    fn heatmap_renders_cells_with_hover() {
        let h = Heatmap {
            title: "error".into(),
            columns: vec!["ρ 0.5".into(), "ρ 0.9".into()],
            rows: vec!["M/M/1".into()],
            cells: vec![vec![Some((0.01, "1%".into(), "M/M/1 at 0.5: 1%".into())), None]],
            max: 0.1,
            scale_label: "0 … 10%".into(),
        };
        let svg =
            String::from_utf8(render_heatmap(&h, ImageFormat::Svg, 600, 300).unwrap()).unwrap();
        assert!(svg.contains("<title>M/M/1 at 0.5: 1%</title>"));
        assert!(render_heatmap(&h, ImageFormat::Png, 600, 300).is_ok());
    }
}
