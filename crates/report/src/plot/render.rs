//! Turning a [`Figure`] into file bytes: PNG (drawn into an RGB buffer,
//! encoded with the `png` crate) and SVG (text kept as `<text>` elements).

use plotters::prelude::*;

use super::chart::{self, Figure};
use super::typeset::Typeset;
use pipe_engine::{Error, Result};

fn failed(format: &str, e: impl std::fmt::Display) -> Error {
    Error::failed(format!("cannot draw the {format} figure: {e}"))
}

pub fn png(fig: &Figure) -> Result<Vec<u8>> {
    let (w, h) = (fig.width, fig.height);
    let mut rgb = vec![255u8; w as usize * h as usize * 3];
    {
        let root = Typeset::new(BitMapBackend::with_buffer(&mut rgb, (w, h))).into_drawing_area();
        chart::draw(&root, fig).map_err(|e| failed("PNG", e))?;
        root.present().map_err(|e| failed("PNG", e))?;
    }
    let mut bytes = Vec::new();
    let mut encoder = png::Encoder::new(&mut bytes, w, h);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().map_err(|e| failed("PNG", e))?;
    writer
        .write_image_data(&rgb)
        .map_err(|e| failed("PNG", e))?;
    writer.finish().map_err(|e| failed("PNG", e))?;
    Ok(bytes)
}

pub fn svg(fig: &Figure) -> Result<String> {
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (fig.width, fig.height)).into_drawing_area();
        chart::draw(&root, fig).map_err(|e| failed("SVG", e))?;
        root.present().map_err(|e| failed("SVG", e))?;
    }
    Ok(out)
}
