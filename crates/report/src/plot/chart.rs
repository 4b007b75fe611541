//! Drawing a line figure with plotters, the same way onto PNG and SVG.
//!
//! Layout, top to bottom: title; then the plot beside a legend drawn in its
//! own column on the right, so that it can never cover a curve. Colours are
//! matplotlib's `tab10` (distinct, familiar); each series also has its own
//! marker and dash pattern, so that curves stay apart printed in grey. The
//! x axis counts epochs in whole numbers. A value label goes at the first
//! place around its point that covers no curve and no other label.

use plotters::coord::ranged1d::{AsRangedCoord, KeyPointHint, Ranged, ValueFormatter};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::log_axis::LogAxis;
use super::ticks;
use crate::font;

/// One curve: a label and (epoch, value) points in epoch order.
#[derive(Clone, Debug)]
pub struct Series {
    pub label: String,
    pub points: Vec<(i64, f64)>,
}

/// Everything needed to draw a figure.
#[derive(Clone, Debug)]
pub struct Figure {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub series: Vec<Series>,
    pub log_y: bool,
    /// Mark each series' minimum (a dot and its value).
    pub mark_min: bool,
    /// Mark each series' maximum.
    pub mark_max: bool,
    pub width: u32,
    pub height: u32,
}

const PALETTE: [(u8, u8, u8); 10] = [
    (0x1f, 0x77, 0xb4),
    (0xff, 0x7f, 0x0e),
    (0x2c, 0xa0, 0x2c),
    (0xd6, 0x27, 0x28),
    (0x94, 0x67, 0xbd),
    (0x8c, 0x56, 0x4b),
    (0xe3, 0x77, 0xc2),
    (0x7f, 0x7f, 0x7f),
    (0xbc, 0xbd, 0x22),
    (0x17, 0xbe, 0xcf),
];

fn colour(i: usize) -> RGBColor {
    let (r, g, b) = PALETTE[i % PALETTE.len()];
    RGBColor(r, g, b)
}

/// The dash pattern of series `i` in stroke widths (on, off); `None`: solid.
fn dash(i: usize) -> Option<(u32, u32)> {
    [None, Some((6, 3)), Some((1, 2)), Some((8, 2)), Some((3, 3))][i % 5]
}

/// Series `i`'s marker at `at`: circle, square, triangle, diamond, cross.
fn marker<'a, DB: DrawingBackend + 'a, C: Clone + 'a>(
    i: usize,
    at: C,
    r: i32,
    stroke: u32,
) -> DynElement<'a, DB, C> {
    let c = colour(i);
    let filled = c.filled();
    let shape = EmptyElement::at(at);
    match i % 5 {
        0 => (shape + Circle::new((0, 0), r, filled)).into_dyn(),
        1 => (shape + Rectangle::new([(-r, -r), (r, r)], filled)).into_dyn(),
        2 => (shape + Polygon::new(vec![(0, -r - 1), (r + 1, r), (-r - 1, r)], filled)).into_dyn(),
        3 => (shape
            + Polygon::new(
                vec![(0, -r - 1), (r + 1, 0), (0, r + 1), (-r - 1, 0)],
                filled,
            ))
        .into_dyn(),
        _ => (shape
            + PathElement::new(vec![(-r, -r), (r, r)], c.stroke_width(stroke))
            + PathElement::new(vec![(-r, r), (r, -r)], c.stroke_width(stroke)))
        .into_dyn(),
    }
}

/// Text sizes scale with the figure so that a small thumbnail stays legible
/// and a large figure is not all whitespace.
struct Sizes {
    title: f64,
    axis: f64,
    tick: f64,
    legend: f64,
    note: f64,
}

impl Sizes {
    fn for_figure(width: u32, height: u32) -> Sizes {
        let s = (f64::from(width.min(height * 5 / 3)) / 1000.0).clamp(0.5, 3.0);
        Sizes {
            title: 26.0 * s,
            axis: 20.0 * s,
            tick: 16.0 * s,
            legend: 17.0 * s,
            note: 14.0 * s,
        }
    }
}

fn text(size: f64) -> TextStyle<'static> {
    (font::FAMILY, size).into_font().color(&BLACK)
}

/// Draws the figure onto any plotters backend; errors come back as text.
pub fn draw<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, fig: &Figure) -> Result<(), String> {
    font::ensure_registered();
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    root.fill(&WHITE).map_err(err)?;
    let sizes = Sizes::for_figure(fig.width, fig.height);
    let pad = (sizes.tick * 0.8) as i32;
    let root = root.margin(pad, pad, pad, pad);

    let body = if fig.title.is_empty() {
        root
    } else {
        // Regular weight: the PNG has no bold face to draw, and the SVG
        // must look the same.
        root.titled(&fig.title, text(sizes.title)).map_err(err)?
    };

    let legend_style = text(sizes.legend);
    let swatch = (sizes.legend * 2.2) as i32;
    let (body_w, _) = body.dim_in_pixel();
    // The legend takes at most 40% of the width: longer labels lose their
    // middle to an ellipsis (their ends usually tell them apart) rather
    // than squeezing the plot away.
    let room = (f64::from(body_w) * 0.4) as u32;
    let mut labels = Vec::with_capacity(fig.series.len());
    let mut widest = 0;
    for s in &fig.series {
        let mut label = s.label.clone();
        let chars: Vec<char> = s.label.chars().collect();
        let mut keep = chars.len();
        loop {
            let (w, _) = body
                .estimate_text_size(&label, &legend_style)
                .map_err(err)?;
            if w <= room || keep <= 4 {
                widest = widest.max(w as i32);
                break;
            }
            keep = keep * 9 / 10;
            let head: String = chars[..keep / 2].iter().collect();
            let tail: String = chars[chars.len() - keep / 2..].iter().collect();
            label = format!("{head}…{tail}");
        }
        labels.push(label);
    }
    let legend_width = widest + swatch + 3 * pad;
    let (plot_area, legend_area) = body.split_horizontally(body_w as i32 - legend_width);

    let (lo, hi) = y_bounds(fig);
    let (first, last) = x_bounds(fig);
    if fig.log_y {
        draw_chart(&plot_area, fig, &sizes, first..last, LogAxis::new(lo, hi)).map_err(err)?;
    } else {
        draw_chart(&plot_area, fig, &sizes, first..last, lo..hi).map_err(err)?;
    }
    draw_legend(&legend_area, &labels, &sizes, swatch, pad).map_err(err)?;
    Ok(())
}

/// The x range: whole epochs, widened so that a one-epoch run still has an axis.
fn x_bounds(fig: &Figure) -> (i32, i32) {
    let epochs = fig.series.iter().flat_map(|s| s.points.iter().map(|p| p.0));
    let first = epochs.clone().min().unwrap_or(1);
    let last = epochs.max().unwrap_or(1);
    let (first, last) = (
        first.clamp(-1_000_000, 1_000_000) as i32,
        last.clamp(-1_000_000, 1_000_000) as i32,
    );
    if first == last {
        (first - 1, last + 1)
    } else {
        (first, last)
    }
}

/// The y range with some air: more below when minima are annotated there.
fn y_bounds(fig: &Figure) -> (f64, f64) {
    let values = fig.series.iter().flat_map(|s| s.points.iter().map(|p| p.1));
    let lo = values.clone().fold(f64::INFINITY, f64::min);
    let hi = values.fold(f64::NEG_INFINITY, f64::max);
    if !lo.is_finite() || !hi.is_finite() {
        return if fig.log_y { (0.1, 1.0) } else { (0.0, 1.0) };
    }
    let below = if fig.mark_min { 0.12 } else { 0.05 };
    let above = if fig.mark_max { 0.12 } else { 0.05 };
    if fig.log_y {
        let (l, h) = (lo.log10(), hi.log10());
        let span = (h - l).max(0.3);
        (10f64.powf(l - below * span), 10f64.powf(h + above * span))
    } else {
        let span = if hi > lo {
            hi - lo
        } else {
            lo.abs().max(1.0) * 0.1
        };
        (lo - below * span, hi + above * span)
    }
}

fn draw_chart<DB, R>(
    area: &DrawingArea<DB, Shift>,
    fig: &Figure,
    sizes: &Sizes,
    x: std::ops::Range<i32>,
    y: R,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>>
where
    DB: DrawingBackend,
    R: AsRangedCoord<Value = f64>,
    R::CoordDescType: ValueFormatter<f64>,
{
    let y = R::CoordDescType::from(y);
    let y_ticks = y.key_points(8usize.max_num_points());
    let y_decimals = ticks::decimals(&y_ticks);
    let y_fmt = |v: &f64| {
        if fig.log_y {
            ticks::format(*v, ticks::decimals(&[*v]))
        } else {
            ticks::format(*v, y_decimals)
        }
    };
    let label_width = y_ticks
        .iter()
        .map(|v| {
            area.estimate_text_size(&y_fmt(v), &text(sizes.tick))
                .map_or(0, |(w, _)| w)
        })
        .max()
        .unwrap_or(0);
    let n_epochs = (x.end - x.start + 1).max(1) as usize;

    let mut chart = ChartBuilder::on(area)
        .margin_top((sizes.tick * 0.8) as i32)
        .margin_right((sizes.tick * 1.5) as i32)
        .x_label_area_size((sizes.tick + sizes.axis * 2.2) as i32)
        .y_label_area_size(label_width as i32 + (sizes.axis * 2.4) as i32)
        .build_cartesian_2d(x, y)?;
    chart
        .configure_mesh()
        .x_desc(fig.x_label.as_str())
        .y_desc(fig.y_label.as_str())
        .axis_desc_style(text(sizes.axis))
        .label_style(text(sizes.tick))
        .x_labels(n_epochs.min(11))
        .y_labels(8)
        .x_label_formatter(&|e| e.to_string())
        .y_label_formatter(&y_fmt)
        .bold_line_style(RGBColor(0xdd, 0xdd, 0xdd))
        .light_line_style(WHITE)
        .axis_style(RGBColor(0x55, 0x55, 0x55))
        .draw()?;

    let stroke = (sizes.tick / 6.0).max(1.5) as u32;
    for (i, s) in fig.series.iter().enumerate() {
        let style = colour(i).stroke_width(stroke);
        let points = s.points.iter().map(|&(e, v)| (e as i32, v));
        match dash(i) {
            None => {
                chart.draw_series(LineSeries::new(points, style))?;
            }
            Some((on, off)) => {
                let (on, off) = (on * stroke, off * stroke);
                chart.draw_series(DashedLineSeries::new(points, on, off, style))?;
            }
        }
        // Markers on every epoch only while they stay apart.
        if s.points.len() <= 25 {
            let r = stroke as i32 + 2;
            for &(e, v) in &s.points {
                chart
                    .plotting_area()
                    .draw(&marker(i, (e as i32, v), r, stroke))?;
            }
        }
    }

    // Extremes last, so they sit on top of every curve. Each value goes at
    // the first place around its point (under a minimum, over a maximum,
    // then beside it, then further away) that stays inside the axes and
    // covers no curve and no value placed before it.
    let note = text(sizes.note);
    let (px_range, py_range) = chart.plotting_area().get_pixel_range();
    let bounds = (px_range.start, py_range.start, px_range.end, py_range.end);
    let segments: Vec<Segment> = fig
        .series
        .iter()
        .flat_map(|s| {
            let pixels: Vec<(i32, i32)> = s
                .points
                .iter()
                .map(|&(e, v)| chart.backend_coord(&(e as i32, v)))
                .collect();
            pixels.windows(2).map(|w| (w[0], w[1])).collect::<Vec<_>>()
        })
        .collect();
    let mut placed: Vec<Rect> = Vec::new();
    for (i, s) in fig.series.iter().enumerate() {
        let marks = [
            (fig.mark_min, extreme(&s.points, true), true),
            (fig.mark_max, extreme(&s.points, false), false),
        ];
        for (wanted, point, below) in marks {
            let Some((e, v)) = point.filter(|_| wanted) else {
                continue;
            };
            let r = stroke as i32 + 5;
            let x = e as i32;
            let label = format!("{} @ {e}", ticks::significant(v));
            let c = colour(i);
            let (tw, _) = chart.plotting_area().estimate_text_size(&label, &note)?;
            let (tw, th) = (tw as i32 + 6, (sizes.note * 1.35) as i32);
            let at = chart.backend_coord(&(x, v));
            let (left, top) = place(at, (tw, th), r, below, bounds, &segments, &placed);
            placed.push(Rect {
                left: at.0 + left,
                top: at.1 + top,
                right: at.0 + left + tw,
                bottom: at.1 + top + th,
            });
            let backdrop = Rectangle::new(
                [(left, top), (left + tw, top + th)],
                WHITE.mix(0.85).filled(),
            );
            let mark = EmptyElement::at((x, v))
                + backdrop
                + Circle::new((0, 0), r, WHITE.filled())
                + Circle::new((0, 0), r, c.stroke_width(stroke + 1))
                + Circle::new((0, 0), r / 2, c.filled())
                + Text::new(
                    label,
                    (left + 3, top + th / 2),
                    note.clone()
                        .color(&c)
                        .pos(Pos::new(HPos::Left, VPos::Center)),
                );
            chart.plotting_area().draw(&mark)?;
        }
    }
    Ok(())
}

/// A straight piece of a curve, in pixels.
type Segment = ((i32, i32), (i32, i32));

/// A box in pixels.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Rect {
    left: i32,
    top: i32,
    right: i32,
    bottom: i32,
}

impl Rect {
    fn overlaps(&self, o: &Rect) -> bool {
        self.left < o.right && o.left < self.right && self.top < o.bottom && o.top < self.bottom
    }

    fn inside(&self, (l, t, r, b): (i32, i32, i32, i32)) -> bool {
        self.left >= l && self.top >= t && self.right <= r && self.bottom <= b
    }

    /// Whether the segment `a`-`b` passes through the box (Liang-Barsky).
    fn crosses(&self, a: (i32, i32), b: (i32, i32)) -> bool {
        let (x0, y0) = (f64::from(a.0), f64::from(a.1));
        let (dx, dy) = (f64::from(b.0) - x0, f64::from(b.1) - y0);
        let (mut t0, mut t1) = (0.0f64, 1.0f64);
        for (p, q) in [
            (-dx, x0 - f64::from(self.left)),
            (dx, f64::from(self.right) - x0),
            (-dy, y0 - f64::from(self.top)),
            (dy, f64::from(self.bottom) - y0),
        ] {
            if p == 0.0 {
                if q < 0.0 {
                    return false;
                }
            } else {
                let t = q / p;
                if p < 0.0 {
                    t0 = t0.max(t);
                } else {
                    t1 = t1.min(t);
                }
            }
        }
        t0 <= t1
    }
}

/// Where a value label of `size` goes, as (left, top) relative to its
/// point `at`: the first candidate inside `bounds` that crosses no segment
/// and overlaps no placed label; failing that, the first one inside that
/// overlaps no label; failing that, the first one.
fn place(
    at: (i32, i32),
    (w, h): (i32, i32),
    r: i32,
    below: bool,
    bounds: (i32, i32, i32, i32),
    segments: &[Segment],
    placed: &[Rect],
) -> (i32, i32) {
    let gap = r + 3;
    let (under, over) = ((gap, 0), (-gap - h, 0));
    let mut candidates = Vec::new();
    for step in 0..6 {
        let far = step * (h + 2);
        let (first, second) = if below { (under, over) } else { (over, under) };
        let rows = [
            if below { first.0 + far } else { first.0 - far },
            if below {
                second.0 - far
            } else {
                second.0 + far
            },
        ];
        for top in rows {
            for left in [-w / 2, 2, -w - 2, gap, -gap - w] {
                candidates.push((left, top));
            }
        }
        if step == 0 {
            candidates.push((gap, -h / 2));
            candidates.push((-gap - w, -h / 2));
        }
    }
    let rect = |&(left, top): &(i32, i32)| Rect {
        left: at.0 + left,
        top: at.1 + top,
        right: at.0 + left + w,
        bottom: at.1 + top + h,
    };
    let free_of_labels = |c: &(i32, i32)| {
        let b = rect(c);
        b.inside(bounds) && !placed.iter().any(|p| p.overlaps(&b))
    };
    candidates
        .iter()
        .find(|c| free_of_labels(c) && !segments.iter().any(|&(a, b)| rect(c).crosses(a, b)))
        .or_else(|| candidates.iter().find(|c| free_of_labels(c)))
        .copied()
        .unwrap_or(candidates[0])
}

/// The lowest (`min`) or highest point of a series; the first one on ties.
fn extreme(points: &[(i64, f64)], min: bool) -> Option<(i64, f64)> {
    points.iter().copied().reduce(|best, p| {
        let better = if min { p.1 < best.1 } else { p.1 > best.1 };
        if better {
            p
        } else {
            best
        }
    })
}

fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    labels: &[String],
    sizes: &Sizes,
    swatch: i32,
    pad: i32,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let line_h = (sizes.legend * 1.6) as i32;
    let stroke = (sizes.tick / 6.0).max(1.5) as u32;
    let top = (sizes.tick * 1.2) as i32;
    let left = pad;
    for (i, label) in labels.iter().enumerate() {
        let y = top + i as i32 * line_h + line_h / 2;
        let style = colour(i).stroke_width(stroke + 1);
        let line = vec![(left, y), (left + swatch - pad, y)];
        match dash(i) {
            None => area.draw(&PathElement::new(line, style))?,
            Some((on, off)) => area.draw(&plotters::element::DashedPathElement::new(
                line,
                on * stroke,
                off * stroke,
                style,
            ))?,
        }
        area.draw(&marker(
            i,
            (left + (swatch - pad) / 2, y),
            stroke as i32 + 2,
            stroke,
        ))?;
        let label_pos = Pos::new(HPos::Left, VPos::Center);
        area.draw(&Text::new(
            label.clone(),
            (left + swatch, y),
            text(sizes.legend).pos(label_pos),
        ))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOUNDS: (i32, i32, i32, i32) = (0, 0, 400, 300);

    #[test]
    fn segments_cross_boxes_they_pass_through() {
        let b = Rect {
            left: 10,
            top: 10,
            right: 20,
            bottom: 20,
        };
        assert!(b.crosses((0, 15), (30, 15)));
        assert!(b.crosses((12, 12), (13, 13)));
        assert!(b.crosses((0, 0), (30, 30)));
        assert!(!b.crosses((0, 25), (30, 25)));
        assert!(!b.crosses((0, 0), (30, 5)));
    }

    #[test]
    fn a_label_goes_where_no_curve_and_no_label_is() {
        let at = (200, 150);
        let size = (60, 16);
        // Nothing around: under the point, centred.
        assert_eq!(place(at, size, 5, true, BOUNDS, &[], &[]), (-30, 8));
        // A curve runs just under the point: the label avoids it.
        let under = [((0, 165), (400, 165))];
        let (left, top) = place(at, size, 5, true, BOUNDS, &under, &[]);
        let b = Rect {
            left: at.0 + left,
            top: at.1 + top,
            right: at.0 + left + size.0,
            bottom: at.1 + top + size.1,
        };
        assert!(!b.crosses(under[0].0, under[0].1), "{b:?}");
        // Another label already there: not on top of it.
        let placed = [Rect {
            left: 160,
            top: 150,
            right: 240,
            bottom: 180,
        }];
        let (left, top) = place(at, size, 5, true, BOUNDS, &[], &placed);
        let b = Rect {
            left: at.0 + left,
            top: at.1 + top,
            right: at.0 + left + size.0,
            bottom: at.1 + top + size.1,
        };
        assert!(!b.overlaps(&placed[0]) && b.inside(BOUNDS), "{b:?}");
        // At the bottom edge: moved inside, never cut off.
        let (_, top) = place((200, 295), size, 5, true, BOUNDS, &[], &[]);
        assert!(295 + top + size.1 <= 300);
    }
}
