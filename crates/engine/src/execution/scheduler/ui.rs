//! What a run prints: a bar or spinner per running stage on a terminal,
//! plain lines otherwise, one line per finished stage and a summary.
//!
//! Outcome lines are stable and machine-checkable: `ran NAME 1.2s`,
//! `cached NAME`, `failed NAME`, `skipped NAME (...)`, `waiting for ...`.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::error::Error;
use crate::kind::progress::Progress;

pub struct Ui {
    multi: Option<MultiProgress>,
    quiet: bool,
    color: bool,
}

impl Ui {
    /// Bars only when stderr is a terminal and not `quiet`.
    pub fn new(quiet: bool, color: bool) -> Ui {
        let multi = (!quiet && std::io::stderr().is_terminal())
            .then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(10)));
        Ui {
            multi,
            quiet,
            color,
        }
    }

    /// A line about progress (suppressed by `--quiet`).
    pub fn line(&self, text: &str) {
        if !self.quiet {
            self.print(text);
        }
    }

    /// A line that is printed even with `--quiet`.
    pub fn always(&self, text: &str) {
        self.print(text);
    }

    fn print(&self, text: &str) {
        match &self.multi {
            Some(m) => {
                let _ = m.println(text);
            }
            None => {
                let mut err = std::io::stderr().lock();
                let _ = writeln!(err, "{text}");
            }
        }
    }

    /// Prints a stage's failure with its hint (always).
    pub fn error(&self, error: &Error) {
        let text = crate::render::error(error, self.color);
        self.print(text.trim_end());
    }

    /// A progress handle for a stage that starts now.
    pub fn start(&self, stage: &str) -> Progress {
        let Some(multi) = &self.multi else {
            return Progress::hidden();
        };
        let bar = multi.add(ProgressBar::new_spinner());
        let style = ProgressStyle::with_template("{spinner} {prefix:.bold} {elapsed} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner());
        bar.set_style(style);
        bar.set_prefix(stage.to_string());
        bar.enable_steady_tick(Duration::from_millis(120));
        Progress::new(Some(bar))
    }

    pub fn finish(&self, progress: &Progress) {
        if let (Some(multi), Some(bar)) = (&self.multi, progress.bar()) {
            bar.finish_and_clear();
            multi.remove(bar);
        }
    }
}

/// `1.2s`, `2m03s`, `1h02m`.
pub fn duration(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s < 60.0 {
        format!("{s:.1}s")
    } else if s < 3600.0 {
        format!("{}m{:02}s", (s / 60.0) as u64, (s % 60.0) as u64)
    } else {
        format!(
            "{}h{:02}m",
            (s / 3600.0) as u64,
            ((s % 3600.0) / 60.0) as u64
        )
    }
}
