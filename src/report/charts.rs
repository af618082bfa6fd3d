//! Charts with plotters, as PNG or SVG bytes (no file I/O here). Text is drawn with the
//! DejaVu Sans font compiled into the binary (`dejavu` crate, `ab_glyph` renderer), so
//! charts render identically on a fresh machine with no system fonts or fontconfig.
//!
//! One chart description, [`LineChart`], covers every chart mqsim draws: percentile curves
//! (x on a "nines" axis: 50%, 90%, 99%, 99.9%), time series (with the warm-up shaded),
//! and sizing curves (with a target line). Several charts can be stacked in one image.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::FontStyle;
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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XAxis {
    /// Plain numbers.
    Linear,
    /// Quantiles q drawn at −log10(1 − q), labelled as percentiles.
    Nines,
}

/// One line, optionally with a shaded band (e.g. a 95% confidence interval).
#[derive(Debug, Clone)]
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
}

/// A chart: axes, lines, and optional decorations.
#[derive(Debug, Clone)]
pub struct LineChart {
    /// Title above the plot.
    pub title: String,
    /// X axis label, with unit.
    pub x_label: String,
    /// Y axis label, with unit.
    pub y_label: String,
    /// X mapping.
    pub x_axis: XAxis,
    /// Logarithmic y axis (used only when every value is positive).
    pub log_y: bool,
    /// Y values are seconds: tick labels get units (ms, s).
    pub y_seconds: bool,
    /// X values are whole numbers (consumer counts): ticks only at integers.
    pub x_integer: bool,
    /// The lines.
    pub lines: Vec<Line>,
    /// A shaded x range with a label (the warm-up).
    pub shade_x: Option<(f64, f64, String)>,
    /// A horizontal reference line with a label (a target).
    pub hline: Option<(f64, String)>,
}

/// Why a chart could not be drawn.
#[derive(Debug, thiserror::Error)]
#[error("cannot draw chart \"{title}\": {message}")]
pub struct ChartError {
    title: String,
    message: String,
}

const PALETTE: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(255, 127, 14),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
];

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

fn fmt_tick(v: f64, seconds: bool) -> String {
    if seconds {
        crate::dist::fmt_secs(v)
    } else if v.abs() >= 1e4 || (v != 0.0 && v.abs() < 1e-2) {
        format!("{v:.1e}")
    } else {
        let s = format!("{v:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

fn ranges(c: &LineChart) -> ((f64, f64), (f64, f64), bool) {
    let tx = |x: f64| if c.x_axis == XAxis::Nines { nines(x) } else { x };
    let (mut x0, mut x1, mut y0, mut y1) =
        (f64::INFINITY, f64::NEG_INFINITY, f64::INFINITY, f64::NEG_INFINITY);
    let mut all_positive = true;
    for l in &c.lines {
        for &(x, y) in &l.points {
            x0 = x0.min(tx(x));
            x1 = x1.max(tx(x));
            y0 = y0.min(y);
            y1 = y1.max(y);
            all_positive &= y > 0.0;
        }
        for &(_, lo, hi) in &l.band {
            y0 = y0.min(lo);
            y1 = y1.max(hi);
            all_positive &= lo > 0.0;
        }
    }
    if let Some((y, _)) = c.hline {
        y0 = y0.min(y);
        y1 = y1.max(y);
    }
    if !x0.is_finite() {
        (x0, x1) = (0.0, 1.0);
    }
    if !y0.is_finite() {
        (y0, y1) = (0.0, 1.0);
    }
    let log = c.log_y && all_positive && y0 > 0.0 && y1 / y0 > 20.0;
    if x1 <= x0 {
        x1 = x0 + 1.0;
    }
    if c.x_axis == XAxis::Nines {
        x0 -= 0.03;
        x1 += 0.05;
    }
    // Head-room above the data for the legend in the upper-left corner, so it does not
    // cover the lines: about 7% of the height per legend entry.
    let entries = c.lines.len() + usize::from(c.shade_x.is_some()) + usize::from(c.hline.is_some());
    let room = (0.08 + 0.07 * entries as f64).min(0.8);
    if log {
        let decades = (y1 / y0).log10().max(1.0);
        ((x0, x1), (y0 / 1.5, y1 * 10f64.powf(decades * room)), true)
    } else {
        let y0 = if y0 >= 0.0 { 0.0 } else { y0 * 1.1 };
        let y1 = if y1 <= y0 { y0 + 1.0 } else { y0 + (y1 - y0) * (1.0 + room) };
        ((x0, x1), (y0, y1), false)
    }
}

fn draw_on<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, c: &LineChart) -> Result<(), String> {
    let ((x0, x1), (y0, y1), log) = ranges(c);
    let tx = |x: f64| if c.x_axis == XAxis::Nines { nines(x) } else { x };
    let mut builder = ChartBuilder::on(area);
    builder
        .caption(&c.title, ("sans-serif", 22).into_font().style(FontStyle::Bold))
        .margin(12)
        .x_label_area_size(48)
        .y_label_area_size(78);
    macro_rules! body {
        ($chart:expr) => {{
            let mut chart = $chart;
            let seconds = c.y_seconds;
            let nines_axis = c.x_axis == XAxis::Nines;
            chart
                .configure_mesh()
                .x_desc(c.x_label.as_str())
                .y_desc(c.y_label.as_str())
                .label_style(("sans-serif", 14))
                .axis_desc_style(("sans-serif", 16))
                .x_labels(if nines_axis {
                    0
                } else if c.x_integer {
                    ((x1 - x0).round() as usize + 1).min(12)
                } else {
                    8
                })
                .y_labels(if log { 0 } else { 8 })
                .x_label_formatter(&|x: &f64| {
                    if nines_axis { nines_label(*x) } else { fmt_tick(*x, false) }
                })
                .y_label_formatter(&|y: &f64| {
                    if log { String::new() } else { fmt_tick(*y, seconds) }
                })
                .bold_line_style(RGBColor(225, 225, 225))
                .light_line_style(TRANSPARENT)
                .draw()
                .map_err(|e| e.to_string())?;
            // backend_coord is in root pixels; labels are drawn on this panel's area.
            let (bx, by) = area.get_base_pixel();
            if log {
                // Ticks at 1, 2 and 5 × 10^k: plotters' own log ticks skip whole decades.
                let mut ticks = Vec::new();
                let mut decade = 10f64.powf(y0.log10().floor());
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
                    area.draw(&Text::new(
                        fmt_tick(t, seconds),
                        (px - bx - 6, py - by),
                        ("sans-serif", 14).into_font().color(&BLACK).pos(
                            plotters::style::text_anchor::Pos::new(
                                plotters::style::text_anchor::HPos::Right,
                                plotters::style::text_anchor::VPos::Center,
                            ),
                        ),
                    ))
                    .map_err(|e| e.to_string())?;
                }
            }
            if nines_axis {
                // Ticks exactly at 50%, 90%, 99%, 99.9%, … rather than at round x values.
                let keys = std::iter::once(nines(0.5))
                    .chain((1..=6).map(f64::from))
                    .filter(|k| *k >= x0 && *k <= x1);
                for k in keys {
                    chart
                        .draw_series(std::iter::once(PathElement::new(
                            vec![(k, y0), (k, y1)],
                            RGBColor(215, 215, 215),
                        )))
                        .map_err(|e| e.to_string())?;
                    let (px, py) = chart.backend_coord(&(k, y0));
                    let (px, py) = (px - bx, py - by);
                    area.draw(&Text::new(
                        nines_label(k),
                        (px, py + 8),
                        ("sans-serif", 14).into_font().color(&BLACK).pos(
                            plotters::style::text_anchor::Pos::new(
                                plotters::style::text_anchor::HPos::Center,
                                plotters::style::text_anchor::VPos::Top,
                            ),
                        ),
                    ))
                    .map_err(|e| e.to_string())?;
                }
            }
            if let Some((a, b, label)) = &c.shade_x {
                let (a, b) = (a.max(x0), b.min(x1));
                if b > a {
                    chart
                        .draw_series(std::iter::once(Rectangle::new(
                            [(a, y0), (b, y1)],
                            RGBColor(225, 225, 225).filled(),
                        )))
                        .map_err(|e| e.to_string())?
                        .label(label.as_str())
                        .legend(|(x, y)| {
                            Rectangle::new(
                                [(x, y - 6), (x + 18, y + 6)],
                                RGBColor(225, 225, 225).filled(),
                            )
                        });
                }
            }
            for l in &c.lines {
                let color = PALETTE[l.color % PALETTE.len()];
                if l.band.len() >= 2 {
                    let mut poly: Vec<(f64, f64)> =
                        l.band.iter().map(|&(x, lo, _)| (tx(x), lo)).collect();
                    poly.extend(l.band.iter().rev().map(|&(x, _, hi)| (tx(x), hi)));
                    chart
                        .draw_series(std::iter::once(Polygon::new(poly, color.mix(0.18).filled())))
                        .map_err(|e| e.to_string())?;
                }
                let pts: Vec<(f64, f64)> = l.points.iter().map(|&(x, y)| (tx(x), y)).collect();
                let style = ShapeStyle::from(&color).stroke_width(2);
                let series = if l.dashed {
                    chart
                        .draw_series(DashedLineSeries::new(pts, 8, 5, style))
                        .map_err(|e| e.to_string())?
                } else {
                    chart.draw_series(LineSeries::new(pts, style)).map_err(|e| e.to_string())?
                };
                let dashed = l.dashed;
                series.label(l.name.as_str()).legend(move |(x, y)| {
                    let s = ShapeStyle::from(&color).stroke_width(2);
                    if dashed {
                        PathElement::new(vec![(x, y), (x + 7, y)], s)
                    } else {
                        PathElement::new(vec![(x, y), (x + 18, y)], s)
                    }
                });
            }
            if let Some((y, label)) = &c.hline {
                chart
                    .draw_series(DashedLineSeries::new(
                        vec![(x0, *y), (x1, *y)],
                        4,
                        4,
                        ShapeStyle::from(&BLACK).stroke_width(1),
                    ))
                    .map_err(|e| e.to_string())?
                    .label(label.as_str())
                    .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], BLACK));
            }
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperLeft)
                .background_style(WHITE.mix(0.85))
                .border_style(RGBColor(200, 200, 200))
                .label_font(("sans-serif", 14))
                .draw()
                .map_err(|e| e.to_string())?;
        }};
    }
    if log {
        body!(builder.build_cartesian_2d(x0..x1, (y0..y1).log_scale()).map_err(|e| e.to_string())?);
    } else {
        body!(builder.build_cartesian_2d(x0..x1, y0..y1).map_err(|e| e.to_string())?);
    }
    Ok(())
}

fn draw_all<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    charts: &[LineChart],
) -> Result<(), String> {
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let panels = root.split_evenly((charts.len().max(1), 1));
    for (area, c) in panels.iter().zip(charts) {
        draw_on(area, c)?;
    }
    root.present().map_err(|e| e.to_string())
}

/// Renders charts stacked vertically, each `width × panel_height` pixels.
pub fn render(
    charts: &[LineChart],
    format: ImageFormat,
    width: u32,
    panel_height: u32,
) -> Result<Vec<u8>, ChartError> {
    register_fonts();
    let title = charts.first().map_or_else(String::new, |c| c.title.clone());
    let err = |message: String| ChartError { title: title.clone(), message };
    let height = panel_height * charts.len().max(1) as u32;
    match format {
        ImageFormat::Svg => {
            let mut s = String::new();
            draw_all(SVGBackend::with_string(&mut s, (width, height)).into_drawing_area(), charts)
                .map_err(err)?;
            Ok(s.into_bytes())
        }
        ImageFormat::Png => {
            let mut rgb = vec![0u8; (width * height * 3) as usize];
            draw_all(
                BitMapBackend::with_buffer(&mut rgb, (width, height)).into_drawing_area(),
                charts,
            )
            .map_err(&err)?;
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
            x_integer: false,
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
                    dashed: false,
                    color: 0,
                },
                Line {
                    name: "theory".into(),
                    points: vec![(0.5, 0.01), (0.99, 0.24)],
                    band: vec![],
                    dashed: true,
                    color: 1,
                },
            ],
            shade_x: None,
            hline: Some((0.25, "target 250ms".into())),
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
    }

    #[test]
    fn nines_labels() {
        assert_eq!(nines_label(nines(0.5)), "50%");
        assert_eq!(nines_label(2.0), "99%");
        assert_eq!(nines_label(3.0), "99.9%");
    }
}
