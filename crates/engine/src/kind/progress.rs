//! Progress reporting for a running stage.
//!
//! A [`Progress`] is a handle kinds use without knowing whether a terminal,
//! a log file or nothing is on the other end (`--quiet`, not a TTY).

use std::sync::Mutex;

use indicatif::ProgressBar;

/// What a stage reports while it works.
pub struct Progress {
    bar: Option<ProgressBar>,
    /// Lines the stage logged, kept for the stage's log file.
    log: Mutex<Vec<String>>,
    /// Where every update also goes (a worker process's parent).
    forward: Option<Forward>,
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
        }
    }

    /// A handle that passes every update to `forward` (and displays nothing).
    pub fn forwarding(forward: impl Fn(Update) + Send + Sync + 'static) -> Progress {
        Progress {
            forward: Some(Box::new(forward)),
            ..Progress::new(None)
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
            bar.set_position(pos);
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
        if let Some(bar) = &self.bar {
            bar.set_message(msg);
        }
    }

    /// A line for the stage's log (kept in the cache beside the result), also
    /// printed above the bars unless quiet.
    pub fn log(&self, line: impl Into<String>) {
        let line = line.into();
        self.send(Update::Log(&line));
        if let Some(bar) = &self.bar {
            bar.println(&line);
        }
        if let Ok(mut log) = self.log.lock() {
            log.push(line);
        }
    }

    /// The lines logged so far.
    pub fn lines(&self) -> Vec<String> {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }
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
