//! PNG text with even glyph spacing.
//!
//! plotters' `ab_glyph` text path places each glyph's bitmap at the pen
//! position without the glyph's left side bearing, so narrow glyphs drift
//! left and titles read "Vi T-B /32". [`Typeset`] wraps the bitmap backend
//! and draws text itself: the same layout box and anchor as plotters (so
//! the chart's layout does not change), each glyph placed at its true
//! position. Everything else is passed through.

use ab_glyph::{Font, FontRef, PxScale, ScaleFont};
use plotters::prelude::*;
use plotters_backend::{
    text_anchor::{HPos, VPos},
    BackendColor, BackendCoord, BackendStyle, BackendTextStyle, DrawingErrorKind,
};

use crate::font;

/// A backend whose text is typeset here; `B` draws everything else.
pub struct Typeset<B> {
    inner: B,
    font: Option<FontRef<'static>>,
}

impl<B: DrawingBackend> Typeset<B> {
    pub fn new(inner: B) -> Typeset<B> {
        Typeset {
            inner,
            font: font::parsed(),
        }
    }
}

impl<B: DrawingBackend> DrawingBackend for Typeset<B> {
    type ErrorType = B::ErrorType;

    fn get_size(&self) -> (u32, u32) {
        self.inner.get_size()
    }

    fn ensure_prepared(&mut self) -> Result<(), DrawingErrorKind<B::ErrorType>> {
        self.inner.ensure_prepared()
    }

    fn present(&mut self) -> Result<(), DrawingErrorKind<B::ErrorType>> {
        self.inner.present()
    }

    fn draw_pixel(
        &mut self,
        point: BackendCoord,
        color: BackendColor,
    ) -> Result<(), DrawingErrorKind<B::ErrorType>> {
        self.inner.draw_pixel(point, color)
    }

    fn draw_line<S: BackendStyle>(
        &mut self,
        from: BackendCoord,
        to: BackendCoord,
        style: &S,
    ) -> Result<(), DrawingErrorKind<B::ErrorType>> {
        self.inner.draw_line(from, to, style)
    }

    fn draw_rect<S: BackendStyle>(
        &mut self,
        upper_left: BackendCoord,
        bottom_right: BackendCoord,
        style: &S,
        fill: bool,
    ) -> Result<(), DrawingErrorKind<B::ErrorType>> {
        self.inner.draw_rect(upper_left, bottom_right, style, fill)
    }

    fn draw_path<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        path: I,
        style: &S,
    ) -> Result<(), DrawingErrorKind<B::ErrorType>> {
        self.inner.draw_path(path, style)
    }

    fn draw_circle<S: BackendStyle>(
        &mut self,
        center: BackendCoord,
        radius: u32,
        style: &S,
        fill: bool,
    ) -> Result<(), DrawingErrorKind<B::ErrorType>> {
        self.inner.draw_circle(center, radius, style, fill)
    }

    fn fill_polygon<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        vert: I,
        style: &S,
    ) -> Result<(), DrawingErrorKind<B::ErrorType>> {
        self.inner.fill_polygon(vert, style)
    }

    fn blit_bitmap(
        &mut self,
        pos: BackendCoord,
        size: (u32, u32),
        src: &[u8],
    ) -> Result<(), DrawingErrorKind<B::ErrorType>> {
        self.inner.blit_bitmap(pos, size, src)
    }

    fn draw_text<S: BackendTextStyle>(
        &mut self,
        text: &str,
        style: &S,
        pos: BackendCoord,
    ) -> Result<(), DrawingErrorKind<B::ErrorType>> {
        let color = style.color();
        if color.alpha == 0.0 {
            return Ok(());
        }
        let Some(font) = &self.font else {
            return self.inner.draw_text(text, style, pos);
        };
        // The box plotters lays the text out with, anchored as it would be.
        let ((min_x, min_y), (max_x, max_y)) = style
            .layout_box(text)
            .map_err(|e| DrawingErrorKind::FontError(Box::new(e)))?;
        let (width, height) = (max_x - min_x, max_y - min_y);
        let dx = match style.anchor().h_pos {
            HPos::Left => 0,
            HPos::Right => -width,
            HPos::Center => -width / 2,
        };
        let dy = match style.anchor().v_pos {
            VPos::Top => 0,
            VPos::Center => -height / 2,
            VPos::Bottom => -height,
        };
        let size = style.size() as f32;
        let scaled = font.as_scaled(PxScale::from(size));
        let trans = style.transform();
        let (w, h) = self.inner.get_size();
        let mut pen = 0f32;
        let mut prev = None;
        for c in text.chars() {
            let id = scaled.glyph_id(c);
            if let Some(p) = prev {
                pen += scaled.kern(p, id);
            }
            prev = Some(id);
            // Baseline at half the size below the box's top, as plotters has it.
            let glyph = id.with_scale_and_position(size, ab_glyph::point(pen, size / 2.0));
            pen += scaled.h_advance(id);
            let Some(outline) = font.outline_glyph(glyph) else {
                continue;
            };
            let bounds = outline.px_bounds();
            let mut pixels = Vec::new();
            outline.draw(|x, y, coverage| {
                let gx = bounds.min.x as i32 + x as i32;
                let gy = bounds.min.y as i32 + y as i32;
                pixels.push((gx, gy, coverage));
            });
            for (gx, gy, coverage) in pixels {
                let (x, y) = trans.transform(gx + dx - min_x, gy + dy - min_y);
                let (x, y) = (pos.0 + x, pos.1 + y);
                if x >= 0 && x < w as i32 && y >= 0 && y < h as i32 && coverage > 0.0 {
                    let c = BackendColor {
                        alpha: color.alpha * f64::from(coverage.min(1.0)),
                        rgb: color.rgb,
                    };
                    self.inner.draw_pixel((x, y), c)?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Columns of `rgb` (w x h) holding any dark pixel.
    fn inked(rgb: &[u8], w: usize) -> Vec<bool> {
        let mut cols = vec![false; w];
        for (i, px) in rgb.chunks(3).enumerate() {
            if px[0] < 128 {
                cols[i % w] = true;
            }
        }
        cols
    }

    #[test]
    fn a_glyph_sits_at_its_side_bearing() {
        // plotters' own path puts the `i` of "Vi" at the pen, against the V.
        font::ensure_registered();
        let font = font::parsed().unwrap();
        let size = 40.0;
        let scaled = font.as_scaled(PxScale::from(size as f32));
        let (v, i) = (scaled.glyph_id('V'), scaled.glyph_id('i'));
        let want = scaled.h_advance(v) + scaled.kern(v, i) + scaled.h_side_bearing(i);
        let (w, h) = (120usize, 60usize);
        let mut rgb = vec![255u8; w * h * 3];
        {
            let root = Typeset::new(BitMapBackend::with_buffer(&mut rgb, (w as u32, h as u32)))
                .into_drawing_area();
            let style = (font::FAMILY, size).into_font().color(&BLACK);
            root.draw(&Text::new("Vi", (0, 10), style)).unwrap();
        }
        let cols = inked(&rgb, w);
        // The first inked column after the first blank one after the V.
        let v_start = cols.iter().position(|&c| c).unwrap();
        let gap = v_start
            + cols[v_start..]
                .iter()
                .position(|&c| !c)
                .expect("no blank column after the V: the i touches it");
        let i_start = gap + cols[gap..].iter().position(|&c| c).expect("no i drawn");
        assert!(
            (i_start as f32 - want).abs() <= 1.0,
            "the i starts at {i_start}, its side bearing puts it at {want}"
        );
    }
}
