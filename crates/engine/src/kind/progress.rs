//! Progress reporting for a running stage.
//!
//! A [`Progress`] is a handle kinds use without knowing whether a terminal,
//! a log file or nothing is on the other end (`--quiet`, not a TTY).
//!
//! Every logged line is appended to the stage's log file at once (so that
//! `tail -f` and `pipe logs -f` follow a running stage) and printed with the
//! stage's name: above the bars on a terminal, as a plain line otherwise
//! (`| tee`, nohup, CI), where status messages also become a line every
//! [`PLAIN_EVERY`] at most.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar};

/// How often at most a plain (not a terminal) run prints a stage's status
/// message, e.g. `train[a] epoch 3/50 loss 0.412`.
pub const PLAIN_EVERY: Duration = Duration::from_secs(10);

/// What a stage reports while it works.
pub struct Progress {
    bar: Option<ProgressBar>,
    /// Lines the stage logged, kept for the stage's log file.
    log: Mutex<Vec<String>>,
    /// Where every update also goes (a worker process's parent).
    forward: Option<Forward>,
    /// How lines reach the user, with the stage's name.
    echo: Echo,
    /// The stage's log file: created at the first line, appended to per line.
    file: Mutex<LogFile>,
    /// What the stage measured about its run (see [`Progress::measure`]).
    measured: Mutex<BTreeMap<String, f64>>,
}

/// How logged lines and messages are printed.
#[derive(Default)]
enum Echo {
    /// Not at all (`--quiet`, tests, a worker).
    #[default]
    Silent,
    /// Above the bars of `multi` (a terminal).
    Bars { name: String, multi: MultiProgress },
    /// Plain lines on stderr; messages at most every [`PLAIN_EVERY`].
    Plain {
        name: String,
        last_message: Mutex<Option<Instant>>,
    },
}

#[derive(Default)]
enum LogFile {
    #[default]
    None,
    Pending(PathBuf),
    Open(File, PathBuf),
    /// A write failed (a full disk): the partial log was deleted.
    Broken,
}

type Forward = Box<dyn Fn(Update) + Send + Sync>;

/// One call on a [`Progress`], for forwarding it to another process.
#[derive(Clone, Copy, Debug)]
pub enum Update<'a> {
    Total { total: u64, bytes: bool },
    Position(u64),
    Inc(u64),
    Message(&'a str),
    Log(&'a str),
    Measure(&'a str, f64),
}

impl Progress {
    /// A handle that displays nothing (tests, `--quiet`).
    pub fn hidden() -> Progress {
        Progress::new(None)
    }

    pub fn new(bar: Option<ProgressBar>) -> Progress {
        Progress {
            bar,
            log: Mutex::new(Vec::new()),
            forward: None,
            echo: Echo::Silent,
            file: Mutex::new(LogFile::None),
            measured: Mutex::new(BTreeMap::new()),
        }
    }

    /// A handle for stage `name` whose lines go above the bars of `multi`.
    pub fn on_terminal(name: &str, bar: ProgressBar, multi: MultiProgress) -> Progress {
        Progress {
            echo: Echo::Bars {
                name: name.to_string(),
                multi,
            },
            ..Progress::new(Some(bar))
        }
    }

    /// A handle for stage `name` that prints plain lines on stderr.
    pub fn plain(name: &str) -> Progress {
        Progress {
            echo: Echo::Plain {
                name: name.to_string(),
                last_message: Mutex::new(None),
            },
            ..Progress::new(None)
        }
    }

    /// Appends every logged line to `path` as it comes (truncated first).
    pub fn log_to(self, path: PathBuf) -> Progress {
        Progress {
            file: Mutex::new(LogFile::Pending(path)),
            ..self
        }
    }

    /// A handle that passes every update to `forward` (and displays nothing).
    pub fn forwarding(forward: impl Fn(Update) + Send + Sync + 'static) -> Progress {
        Progress {
            forward: Some(Box::new(forward)),
            ..Progress::new(None)
        }
    }

    /// Also passes every update to `forward` (a cluster node relaying its
    /// stage's progress to the client), displayed as before.
    pub fn forward_to(self, forward: impl Fn(Update) + Send + Sync + 'static) -> Progress {
        Progress {
            forward: Some(Box::new(forward)),
            ..self
        }
    }

    /// Applies an update forwarded from elsewhere.
    pub fn apply(&self, update: Update) {
        match update {
            Update::Total { total, bytes } => self.set_total(total, bytes),
            Update::Position(pos) => self.set_position(pos),
            Update::Inc(n) => self.inc(n),
            Update::Message(text) => self.message(text),
            Update::Log(line) => self.log(line),
            Update::Measure(name, value) => self.measure(name, value),
        }
    }

    fn send(&self, update: Update) {
        if let Some(forward) = &self.forward {
            forward(update);
        }
    }

    pub fn bar(&self) -> Option<&ProgressBar> {
        self.bar.as_ref()
    }

    /// Sets the amount of work; `bytes` switches to byte units with rate and ETA.
    pub fn set_total(&self, total: u64, bytes: bool) {
        self.send(Update::Total { total, bytes });
        if let Some(bar) = &self.bar {
            bar.set_length(total);
            bar.set_style(crate::kind::progress::style(bytes));
        }
    }

    pub fn set_position(&self, pos: u64) {
        self.send(Update::Position(pos));
        if let Some(bar) = &self.bar {
            let first = bar.position() == 0;
            bar.set_position(pos);
            if first {
                // A continued training starts at its resumed position: that
                // jump is not speed, or the ETA would be far too short.
                bar.reset_eta();
            }
        }
    }

    pub fn inc(&self, n: u64) {
        self.send(Update::Inc(n));
        if let Some(bar) = &self.bar {
            bar.inc(n);
        }
    }

    /// A short status after the bar, e.g. "epoch 3/50 loss 0.412".
    pub fn message(&self, msg: impl Into<String>) {
        let msg = msg.into();
        self.send(Update::Message(&msg));
        if let Echo::Plain { name, last_message } = &self.echo {
            let now = Instant::now();
            if let Ok(mut last) = last_message.lock() {
                if last.is_none_or(|t| now.duration_since(t) >= PLAIN_EVERY) {
                    *last = Some(now);
                    plain_line(name, &msg);
                }
            }
        }
        if let Some(bar) = &self.bar {
            bar.set_message(msg);
        }
    }

    /// A line for the stage's log (kept in the cache beside the result), also
    /// printed above the bars unless quiet.
    pub fn log(&self, line: impl Into<String>) {
        let line = line.into();
        self.send(Update::Log(&line));
        match &self.echo {
            Echo::Silent => {}
            // Not `bar.println`: with no bar left it pads lines with spaces.
            Echo::Bars { name, multi } => multi.suspend(|| plain_line(name, &line)),
            Echo::Plain { name, .. } => plain_line(name, &line),
        }
        self.append(&line);
        if let Ok(mut log) = self.log.lock() {
            log.push(line);
        }
    }

    /// Records a measurement of this run (`images_per_s`, `epoch_seconds`):
    /// how the run went, not what it produced. It goes into the result's
    /// manifest, which no key and no output hash includes, so that timings
    /// never make two runs of the same computation differ (`pipe exp show`
    /// shows them). A value that is not finite is not recorded.
    pub fn measure(&self, name: &str, value: f64) {
        if !value.is_finite() {
            return;
        }
        self.send(Update::Measure(name, value));
        if let Ok(mut m) = self.measured.lock() {
            m.insert(name.to_string(), value);
        }
    }

    /// The measurements recorded so far.
    pub fn measurements(&self) -> BTreeMap<String, f64> {
        self.measured.lock().map(|m| m.clone()).unwrap_or_default()
    }

    /// The lines logged so far.
    pub fn lines(&self) -> Vec<String> {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }
}

impl Progress {
    /// Appends `line` to the log file, creating it at the first line.
    fn append(&self, line: &str) {
        let Ok(mut file) = self.file.lock() else {
            return;
        };
        if let LogFile::Pending(path) = &*file {
            // Not atomic: a log is for humans and names no object.
            *file = match File::create(path) {
                Ok(f) => LogFile::Open(f, path.clone()),
                Err(_) => LogFile::Broken,
            };
        }
        if let LogFile::Open(f, path) = &mut *file {
            if writeln!(f, "{line}").is_err() {
                let _ = std::fs::remove_file(&*path);
                *file = LogFile::Broken;
            }
        }
    }

    /// False when the log file could not be written whole.
    pub fn log_intact(&self) -> bool {
        self.file
            .lock()
            .is_ok_and(|f| !matches!(*f, LogFile::Broken))
    }
}

/// `NAME line` on stderr, whole (one write under the lock).
fn plain_line(name: &str, line: &str) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{name} {line}");
}

/// The bar style for counted items or bytes.
pub fn style(bytes: bool) -> indicatif::ProgressStyle {
    let template = if bytes {
        "{prefix:.bold} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta} {msg}"
    } else {
        "{prefix:.bold} [{bar:30}] {pos}/{len} eta {eta} {msg}"
    };
    indicatif::ProgressStyle::with_template(template)
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
        .progress_chars("=> ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A continued training starts at its resumed position; the jump from 0
    /// must not count as speed, or "eta 3s" shows for 30 s of work.
    #[test]
    fn a_resumed_position_is_not_speed() {
        let bar = ProgressBar::hidden();
        let progress = Progress::new(Some(bar.clone()));
        progress.set_total(1000, false);
        std::thread::sleep(Duration::from_millis(200));
        progress.set_position(900);
        for _ in 0..4 {
            std::thread::sleep(Duration::from_millis(100));
            progress.inc(1);
        }
        // 4 steps in 0.4 s: about 10 per second, nowhere near 900 in 0.6 s.
        assert!(bar.per_sec() < 100.0, "{} steps/s", bar.per_sec());
    }
}
