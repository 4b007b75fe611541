//! Progress of a transfer on stderr: a bar with bytes, rate and ETA on a
//! terminal, a plain line every few seconds off one (CI logs), nothing
//! with `--quiet`; and the summary line at the end.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How often a plain line is printed at most.
const PLAIN_EVERY: Duration = Duration::from_secs(5);

pub struct Progress {
    verb: &'static str,
    quiet: bool,
    bar: Option<ProgressBar>,
    started: Instant,
    total: AtomicU64,
    done: AtomicU64,
    objects: AtomicU64,
    last_line: Mutex<Instant>,
}

impl Progress {
    /// `verb`: `push` or `pull`.
    pub fn new(verb: &'static str, quiet: bool) -> Progress {
        let bar = (!quiet && std::io::stderr().is_terminal()).then(|| {
            let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template(
                    "{prefix} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} ETA {eta}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            bar.set_prefix(verb);
            bar
        });
        Progress {
            verb,
            quiet,
            bar,
            started: Instant::now(),
            total: AtomicU64::new(0),
            done: AtomicU64::new(0),
            objects: AtomicU64::new(0),
            last_line: Mutex::new(Instant::now()),
        }
    }

    /// Adds `bytes` to what is to be moved.
    pub fn add_total(&self, bytes: u64) {
        self.total.fetch_add(bytes, Ordering::Relaxed);
        if let Some(bar) = &self.bar {
            bar.inc_length(bytes);
        }
    }

    /// `bytes` more moved.
    pub fn advance(&self, bytes: u64) {
        let done = self.done.fetch_add(bytes, Ordering::Relaxed) + bytes;
        if let Some(bar) = &self.bar {
            bar.inc(bytes);
        } else if !self.quiet {
            let mut last = self.last_line.lock().unwrap_or_else(|p| p.into_inner());
            if last.elapsed() >= PLAIN_EVERY {
                *last = Instant::now();
                let total = self.total.load(Ordering::Relaxed);
                let secs = self.started.elapsed().as_secs_f64();
                let rate = done as f64 / secs.max(1e-3);
                let eta = total.saturating_sub(done) as f64 / rate.max(1.0);
                line(&format!(
                    "{}: {} of {}, {}/s, ETA {:.0} s",
                    self.verb,
                    bytes_text(done),
                    bytes_text(total),
                    bytes_text(rate as u64),
                    eta
                ));
            }
        }
    }

    /// One object done.
    pub fn object_done(&self) {
        self.objects.fetch_add(1, Ordering::Relaxed);
    }

    /// A line above the bar (or plain).
    pub fn note(&self, text: &str) {
        match &self.bar {
            Some(bar) => bar.suspend(|| line(text)),
            None => line(text),
        }
    }

    pub fn seconds(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// `1.50 MiB`.
pub fn bytes_text(n: u64) -> String {
    indicatif::HumanBytes(n).to_string()
}

fn line(text: &str) {
    let _ = writeln!(std::io::stderr(), "{text}");
}
