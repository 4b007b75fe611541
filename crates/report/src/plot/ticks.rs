//! Tick label formatting: one number of decimals per axis, the fewest that
//! tell every tick apart, so labels read `0.10 0.15 0.20`, not
//! `0.1 0.15 0.2` or `0.10000000000000002`.

/// The fewest decimals (0..=6) that print `v` exactly enough.
fn decimals_of(v: f64) -> usize {
    (0..=6)
        .find(|&d| {
            let scale = 10f64.powi(d as i32);
            ((v * scale).round() / scale - v).abs() <= 1e-9 * v.abs().max(1e-12)
        })
        .unwrap_or(6)
}

/// The decimals needed so that every tick prints exactly.
pub fn decimals(ticks: &[f64]) -> usize {
    ticks.iter().map(|&t| decimals_of(t)).max().unwrap_or(0)
}

/// Formats a tick with a fixed number of decimals; very large or very small
/// magnitudes switch to scientific notation.
pub fn format(v: f64, decimals: usize) -> String {
    if v != 0.0 && (v.abs() >= 1e6 || v.abs() < 1e-4) {
        return format!("{v:.1e}");
    }
    format!("{v:.decimals$}")
}

/// A value for annotations: four significant digits.
pub fn significant(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return format!("{v}");
    }
    let magnitude = v.abs().log10().floor() as i32;
    if !(-4..6).contains(&magnitude) {
        return format!("{v:.3e}");
    }
    let decimals = (3 - magnitude).max(0) as usize;
    format!("{v:.decimals$}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_decimal_count_per_axis() {
        let ticks = [0.1, 0.15, 0.2];
        let d = decimals(&ticks);
        let labels: Vec<String> = ticks.iter().map(|&t| format(t, d)).collect();
        assert_eq!(labels, ["0.10", "0.15", "0.20"]);
        assert_eq!(decimals(&[0.0, 5.0, 10.0]), 0);
        assert_eq!(format(0.1 + 0.2, 1), "0.3");
        assert_eq!(format(0.00002, 2), "2.0e-5");
    }

    #[test]
    fn significant_digits() {
        assert_eq!(significant(0.116_64), "0.1166");
        assert_eq!(significant(2.312_585), "2.313");
        assert_eq!(significant(1234.4), "1234");
        assert_eq!(significant(0.0), "0");
    }
}
