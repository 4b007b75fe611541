//! What a run prints: a bar or spinner per running stage on a terminal,
//! plain lines otherwise, one line per finished stage and a summary.
//! Lines a stage logs (epochs, a `cmd`'s output) carry its name either way
//! (see [`Progress`]).
//!
//! Outcome lines are stable and machine-checkable: `ran NAME 1.2s`,
//! `cached NAME`, `failed NAME`, `skipped NAME (...)`, `waiting for ...`.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::error::Error;
use crate::kind::progress::{Progress, Update};

/// Where every update of every stage also goes (see [`Ui::relaying`]).
type Relay = Arc<dyn Fn(Update) + Send + Sync>;

pub struct Ui {
    multi: Option<MultiProgress>,
    quiet: bool,
    color: bool,
    /// `cached NAME` lines held back on a terminal: a run that only hits
    /// the cache prints `45 stages cached` instead of 45 lines.
    held: Mutex<Vec<String>>,
    relay: Option<Relay>,
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
            held: Mutex::new(Vec::new()),
            relay: None,
        }
    }

    /// Passes every update of the stages it starts to `relay` too (`pipe
    /// run-job` on a cluster node, for the client's display).
    pub fn relaying(self, relay: impl Fn(Update) + Send + Sync + 'static) -> Ui {
        Ui {
            relay: Some(Arc::new(relay)),
            ..self
        }
    }

    /// A stage found in the cache: `cached NAME`, held back on a terminal
    /// until something else happens (see [`Ui::end_cached`]).
    pub fn cached(&self, stage: &str) {
        if self.multi.is_some() {
            if let Ok(mut held) = self.held.lock() {
                held.push(stage.to_string());
                return;
            }
        }
        self.line(&format!("cached {stage}"));
    }

    /// Prints the held `cached` lines: one line `N stages cached` when
    /// `only` (nothing else ran or failed), else one line each.
    pub fn end_cached(&self, only: bool) {
        let held = self.held.lock().map(|mut h| std::mem::take(&mut *h));
        let held = held.unwrap_or_default();
        if only && held.len() > 1 {
            self.line(&format!("{} stages cached", held.len()));
        } else {
            for stage in held {
                self.line(&format!("cached {stage}"));
            }
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

    /// Whether bars are drawn (stderr is a terminal, not quiet).
    pub fn on_terminal(&self) -> bool {
        self.multi.is_some()
    }

    fn print(&self, text: &str) {
        let write = || {
            let mut err = std::io::stderr().lock();
            let _ = writeln!(err, "{text}");
        };
        match &self.multi {
            // Not `println`: with no bar left it pads lines with spaces.
            Some(m) => m.suspend(write),
            None => write(),
        }
    }

    /// Prints a stage's failure with its hint (always).
    pub fn error(&self, error: &Error) {
        let text = crate::render::error(error, self.color);
        self.print(text.trim_end());
    }

    /// A progress handle for a stage that starts now, whose lines are
    /// appended to `log` as they come.
    pub fn start(&self, stage: &str, log: PathBuf) -> Progress {
        let progress = self.show(stage).log_to(log);
        match &self.relay {
            Some(relay) => {
                let relay = relay.clone();
                progress.forward_to(move |update| relay(update))
            }
            None => progress,
        }
    }

    /// A progress handle for a stage that starts now and runs elsewhere (a
    /// cluster node, which writes its log): displayed as [`Ui::start`]'s,
    /// logged nowhere.
    pub fn show(&self, stage: &str) -> Progress {
        self.end_cached(false);
        let Some(multi) = &self.multi else {
            return if self.quiet {
                Progress::hidden()
            } else {
                Progress::plain(stage)
            };
        };
        let bar = multi.add(ProgressBar::new_spinner());
        let style = ProgressStyle::with_template("{spinner} {prefix:.bold} {elapsed} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner());
        bar.set_style(style);
        bar.set_prefix(stage.to_string());
        bar.enable_steady_tick(Duration::from_millis(120));
        Progress::on_terminal(stage, bar, multi.clone())
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
