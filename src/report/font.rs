//! The bundled font: DejaVu Sans (licence in `src/report/fonts/LICENSE-DejaVu.txt`),
//! embedded in the binary and registered with plotters' `ab_glyph` support as
//! the family `"sans-serif"`, so no system font is needed to draw text.

use std::sync::Once;

/// The font family every plot uses.
pub const FAMILY: &str = "sans-serif";

/// DejaVu Sans, embedded.
pub static DEJAVU_SANS: &[u8] = include_bytes!("fonts/DejaVuSans.ttf");

static REGISTER: Once = Once::new();

/// Register the bundled font for [`FAMILY`] (once per process; cheap after).
pub fn ensure_registered() {
    REGISTER.call_once(|| {
        plotters::style::register_font(FAMILY, plotters::style::FontStyle::Normal, DEJAVU_SANS)
            .unwrap_or_else(|_| panic!("the bundled DejaVu Sans font parses"));
    });
}
