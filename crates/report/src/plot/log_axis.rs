//! A logarithmic y axis whose ticks a reader can use.
//!
//! plotters' own log axis labels only powers of ten, so a range like
//! 0.2-5 shows the single tick `1`. This one adds 2 and 5 (or every digit
//! when the range is narrow) inside each decade, as far as room allows,
//! labels every decade of a wide range, and tenths of a digit when the
//! range holds fewer than two whole digits.

use std::ops::Range;

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};

/// A log10 axis over `lo..hi` (both positive).
#[derive(Clone, Debug)]
pub struct LogAxis {
    lo: f64,
    hi: f64,
}

impl LogAxis {
    pub fn new(lo: f64, hi: f64) -> LogAxis {
        LogAxis { lo, hi }
    }

    /// Ticks `m * 10^k` for the mantissas given, inside the range.
    fn ticks(&self, mantissas: &[f64]) -> Vec<f64> {
        let first = self.lo.log10().floor() as i32;
        let last = self.hi.log10().ceil() as i32;
        let mut out = Vec::new();
        for k in first..=last {
            for m in mantissas {
                // Built from the decimal digits so that 0.2 is 0.2, not
                // 0.20000000000000004, for the label formatter.
                let v: f64 = format!("{m}e{k}").parse().unwrap_or(f64::NAN);
                if v >= self.lo && v <= self.hi {
                    out.push(v);
                }
            }
        }
        out
    }
}

impl Ranged for LogAxis {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        let (l, h) = (self.lo.log10(), self.hi.log10());
        let t = (value.max(f64::MIN_POSITIVE).log10() - l) / (h - l);
        limit.0 + (t * f64::from(limit.1 - limit.0)).round() as i32
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        let max = hint.max_num_points();
        let choices: [&[f64]; 3] = [
            &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0],
            &[1.0, 2.0, 5.0],
            &[1.0],
        ];
        for mantissas in choices {
            let ticks = self.ticks(mantissas);
            if ticks.len() <= max && ticks.len() >= 2 {
                return ticks;
            }
        }
        let decades = self.ticks(&[1.0]);
        if decades.len() >= 2 {
            // Many decades: every one is labelled, so none is left blank.
            return decades;
        }
        // Narrower than two whole digits (0.42-0.61): tenths, thinned.
        let tenths: Vec<f64> = (10..100).map(|m| f64::from(m) / 10.0).collect();
        let fine = self.ticks(&tenths);
        let step = fine.len().div_ceil(max.max(2)).max(1);
        fine.into_iter().step_by(step).collect()
    }

    fn range(&self) -> Range<f64> {
        self.lo..self.hi
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_fill_narrow_ranges() {
        assert_eq!(
            LogAxis::new(0.15, 6.0).key_points(8usize),
            [0.2, 0.5, 1.0, 2.0, 5.0]
        );
        assert_eq!(
            LogAxis::new(0.3, 1.5).key_points(8usize),
            [0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]
        );
        assert_eq!(
            LogAxis::new(0.001, 50.0).key_points(8usize),
            [0.001, 0.01, 0.1, 1.0, 10.0]
        );
        // A labelled tick in every decade of a wide range.
        assert_eq!(LogAxis::new(1e-9, 1e3).key_points(8usize).len(), 13);
        // Within one digit: tenths.
        assert_eq!(
            LogAxis::new(0.42, 0.58).key_points(8usize),
            [0.42, 0.45, 0.48, 0.51, 0.54, 0.57]
        );
    }

    #[test]
    fn maps_decades_evenly() {
        let axis = LogAxis::new(0.01, 100.0);
        assert_eq!(axis.map(&0.01, (0, 400)), 0);
        assert_eq!(axis.map(&1.0, (0, 400)), 200);
        assert_eq!(axis.map(&100.0, (0, 400)), 400);
    }
}
