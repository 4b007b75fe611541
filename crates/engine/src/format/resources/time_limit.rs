//! A stage's wall-time limit, in the formats cluster schedulers take
//! (SLURM's `--time`, the most common).
//!
//! sbatch accepts `minutes`, `minutes:seconds`, `hours:minutes:seconds`,
//! `days-hours`, `days-hours:minutes` and `days-hours:minutes:seconds`; a
//! pipeline file may also give a whole number of minutes. Parsing here
//! rejects at `pipe check` time what sbatch would reject at submission.

use std::fmt;

/// A wall-time limit, in whole seconds (never zero); serialized as seconds.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(try_from = "u64", into = "u64")]
pub struct TimeLimit {
    seconds: u64,
}

/// Why a time limit did not parse: the message, and a hint with the forms.
pub const TIME_HINT: &str = "write minutes (`90`), `MM:SS`, `HH:MM:SS`, `D-HH`, `D-HH:MM` or `D-HH:MM:SS`, as sbatch's --time";

impl TimeLimit {
    pub fn from_seconds(seconds: u64) -> Option<TimeLimit> {
        (seconds > 0).then_some(TimeLimit { seconds })
    }

    pub fn from_minutes(minutes: u64) -> Option<TimeLimit> {
        minutes.checked_mul(60).and_then(TimeLimit::from_seconds)
    }

    pub fn seconds(self) -> u64 {
        self.seconds
    }

    /// Parses one of sbatch's `--time` formats.
    pub fn parse(text: &str) -> Result<TimeLimit, String> {
        let text = text.trim();
        let bad = || format!("`{text}` is not a time limit");
        let (days, rest) = match text.split_once('-') {
            Some((d, rest)) => (Some(number(d).ok_or_else(bad)?), rest),
            None => (None, text),
        };
        let parts: Vec<u64> = rest
            .split(':')
            .map(number)
            .collect::<Option<_>>()
            .ok_or_else(bad)?;
        let seconds = match (days, parts.as_slice()) {
            (None, [m]) => m * 60,
            (None, [m, s]) if *s < 60 => m * 60 + s,
            (None, [h, m, s]) if *m < 60 && *s < 60 => h * 3600 + m * 60 + s,
            (Some(d), [h]) if *h < 24 => d * 86400 + h * 3600,
            (Some(d), [h, m]) if *h < 24 && *m < 60 => d * 86400 + h * 3600 + m * 60,
            (Some(d), [h, m, s]) if *h < 24 && *m < 60 && *s < 60 => {
                d * 86400 + h * 3600 + m * 60 + s
            }
            _ => return Err(bad()),
        };
        TimeLimit::from_seconds(seconds).ok_or_else(|| "a time limit of zero".to_string())
    }
}

impl TryFrom<u64> for TimeLimit {
    type Error = String;
    fn try_from(seconds: u64) -> Result<TimeLimit, String> {
        TimeLimit::from_seconds(seconds).ok_or_else(|| "a time limit of zero".to_string())
    }
}

impl From<TimeLimit> for u64 {
    fn from(t: TimeLimit) -> u64 {
        t.seconds
    }
}

fn number(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// `D-HH:MM:SS`, which every SLURM version accepts.
impl fmt::Display for TimeLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.seconds;
        let (d, h, m, s) = (s / 86400, s / 3600 % 24, s / 60 % 60, s % 60);
        write!(f, "{d}-{h:02}:{m:02}:{s:02}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, seconds: Option<u64>) {
        assert_eq!(
            TimeLimit::parse(input).ok().map(TimeLimit::seconds),
            seconds,
            "{input}"
        );
    }

    #[test]
    fn sbatch_formats() {
        check("90", Some(5400));
        check("1:30", Some(90));
        check("2:00:00", Some(7200));
        check("1-0", Some(86400));
        check("1-2:30", Some(86400 + 2 * 3600 + 1800));
        check("2-00:00:01", Some(2 * 86400 + 1));
        check(" 5 ", Some(300));
    }

    #[test]
    fn rejected() {
        check("", None);
        check("0", None);
        check("1h", None);
        check("1:60", None);
        check("1:00:60", None);
        check("1:60:00", None);
        check("1-24", None);
        check("-1", None);
        check("1:2:3:4", None);
        check("1-", None);
        check("+5", None);
    }

    #[test]
    fn renders_what_parses_back() {
        for s in ["1", "59:59", "25:00:00", "3-04:05:06"] {
            let t = TimeLimit::parse(s).unwrap();
            assert_eq!(TimeLimit::parse(&t.to_string()), Ok(t));
        }
        assert_eq!(TimeLimit::parse("90").unwrap().to_string(), "0-01:30:00");
    }
}
