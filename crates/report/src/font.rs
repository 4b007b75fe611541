//! The one font figures are drawn with, embedded in the binary.
//!
//! plotters' default text path asks the system's fontconfig for fonts, which
//! a minimal machine or container may lack (text then silently disappears).
//! We register DejaVu Sans (fonts/, Bitstream Vera licence) with plotters'
//! `ab_glyph` backend instead, so PNG text renders the same everywhere. SVG
//! files name the family `sans-serif`; the viewer draws it.

use std::sync::Once;

use plotters::style::{register_font, FontStyle};

static DEJAVU_SANS: &[u8] = include_bytes!("../fonts/DejaVuSans.ttf");

/// The family name figures use for all text.
pub const FAMILY: &str = "sans-serif";

/// The embedded font, parsed (for PNG text typeset by `plot::typeset`).
/// Known-good bytes compiled in, so `None` is a build mistake that every
/// figure test would catch (text would then be drawn by plotters).
pub fn parsed() -> Option<ab_glyph::FontRef<'static>> {
    ab_glyph::FontRef::try_from_slice(DEJAVU_SANS).ok()
}

/// Registers the embedded font under [`FAMILY`]; cheap after the first call.
pub fn ensure_registered() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The bytes are a known-good TTF compiled in; failing to parse them
        // would be a build mistake that every figure test catches at once.
        for style in [FontStyle::Normal, FontStyle::Bold] {
            if register_font(FAMILY, style, DEJAVU_SANS).is_err() {
                return;
            }
        }
    });
}
