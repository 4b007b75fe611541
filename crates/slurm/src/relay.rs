//! The node's side of the progress relay: `pipe run-job` passes every update
//! of its stage's [`Progress`](pipe_engine::kind::progress::Progress) (a
//! torch kind's too: the worker's updates come through it) to a [`Relay`],
//! which appends them to the job's `progress.jsonl` as the worker
//! protocol's [`Event`]s, for the client's [`ProgressTail`](crate::progress::ProgressTail).
//!
//! A stage may call `inc(1)` per image: positions, increments and messages
//! are coalesced and written at most every [`RELAY_EVERY`] (the latest
//! message, the summed increments or the last position); totals and log
//! lines are written at once, in order, after what was pending. A writer
//! thread does the writing, so a slow shared filesystem never holds up the
//! stage, and each batch opens, appends and closes the file: NFS shows a
//! reader what a writer closed (close-to-open consistency). A write that
//! fails (a full disk) ends the relay, not the stage: the stage's log stays
//! the truth.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use pipe_engine::kind::progress::Update;
use pipe_engine::worker::Event;

/// How often at most positions and messages are written.
pub const RELAY_EVERY: Duration = Duration::from_millis(250);

/// Appends a stage's updates to its progress file until dropped, when it
/// writes what is pending and waits for the writer.
///
/// Positions, increments and messages are coalesced where the stage makes
/// them (in [`Pending`], under a lock), not queued for the writer: while
/// the shared filesystem stalls a write, a stage calling `inc(1)` per
/// image keeps one pending position, not a queue growing per image. The
/// channel carries only what must be written whole (totals, log lines,
/// measurements, each with what was pending before it) and one wake-up
/// per batch of coalesced updates.
pub struct Relay {
    tx: Sender<Message>,
    pending: Arc<Mutex<Pending>>,
    writer: Option<JoinHandle<()>>,
}

enum Message {
    /// Events to write now, in order.
    Batch(Vec<Event>),
    /// Coalesced updates are pending (sent when the first arrives).
    Wake,
    End,
}

impl Relay {
    /// A relay to `path` (appended to, created at the first write) that
    /// writes positions and messages at most every `every`.
    pub fn start(path: PathBuf, every: Duration) -> Relay {
        let (tx, rx) = mpsc::channel();
        let pending = Arc::new(Mutex::new(Pending::default()));
        let shared = pending.clone();
        let writer = std::thread::spawn(move || write_loop(&rx, &shared, Out::new(path), every));
        Relay {
            tx,
            pending,
            writer: Some(writer),
        }
    }

    /// What a `Progress` forwards its updates to.
    pub fn sender(&self) -> impl Fn(Update) + Send + Sync + 'static {
        let tx = self.tx.clone();
        let pending = self.pending.clone();
        move |update| {
            let event = Event::from_update(update);
            // Under the lock, so that a batch and what was pending before
            // it reach the file in the order the stage made them.
            let mut p = pending.lock().unwrap_or_else(PoisonError::into_inner);
            let was_empty = p.is_empty();
            // The writer gone (after an end) drops the update.
            let _ = match p.hold(event) {
                Some(event) => {
                    let mut batch = p.take();
                    batch.push(event);
                    tx.send(Message::Batch(batch))
                }
                None if was_empty => tx.send(Message::Wake),
                None => Ok(()),
            };
        }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        let _ = self.tx.send(Message::End);
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
    }
}

/// Positions, increments and messages not written yet.
#[derive(Default)]
struct Pending {
    position: Option<Position>,
    message: Option<String>,
}

enum Position {
    /// Increments since the last position written.
    By(u64),
    At(u64),
}

impl Pending {
    fn is_empty(&self) -> bool {
        self.position.is_none() && self.message.is_none()
    }

    /// Holds `event` if it can wait; gives it back if it must be written now.
    fn hold(&mut self, event: Event) -> Option<Event> {
        match event {
            Event::Inc { n } => {
                self.position = Some(match self.position {
                    None => Position::By(n),
                    Some(Position::By(k)) => Position::By(k.saturating_add(n)),
                    Some(Position::At(pos)) => Position::At(pos.saturating_add(n)),
                });
            }
            Event::Position { pos } => self.position = Some(Position::At(pos)),
            Event::Message { text } => self.message = Some(text),
            event => return Some(event),
        }
        None
    }

    fn take(&mut self) -> Vec<Event> {
        let position = self.position.take().map(|p| match p {
            Position::By(n) => Event::Inc { n },
            Position::At(pos) => Event::Position { pos },
        });
        let message = self.message.take().map(|text| Event::Message { text });
        position.into_iter().chain(message).collect()
    }
}

fn write_loop(rx: &Receiver<Message>, pending: &Mutex<Pending>, mut out: Out, every: Duration) {
    let take = || {
        pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    };
    // When what is pending is written; `None`: nothing is.
    let mut due: Option<Instant> = None;
    let mut last: Option<Instant> = None;
    loop {
        let now = Instant::now();
        if due.is_some_and(|d| now >= d) {
            out.write(&take());
            last = Some(now);
            due = None;
        }
        let message = match due {
            Some(d) => rx.recv_timeout(d - now),
            None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
        };
        match message {
            Ok(Message::Batch(batch)) => out.write(&batch),
            Ok(Message::Wake) => due = due.or(Some(last.map_or(now, |l| l + every))),
            Err(RecvTimeoutError::Timeout) => {}
            Ok(Message::End) | Err(RecvTimeoutError::Disconnected) => {
                out.write(&take());
                return;
            }
        }
    }
}

/// The progress file; `None` once a write failed.
struct Out(Option<PathBuf>);

impl Out {
    fn new(path: PathBuf) -> Out {
        Out(Some(path))
    }

    fn write(&mut self, events: &[Event]) {
        let Some(path) = &self.0 else { return };
        if events.is_empty() {
            return;
        }
        let mut text = String::new();
        for event in events {
            if let Ok(line) = serde_json::to_string(event) {
                text.push_str(&line);
                text.push('\n');
            }
        }
        let written = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .and_then(|mut f| f.write_all(text.as_bytes()));
        if let Err(e) = written {
            // stderr is the job's log.
            eprintln!(
                "pipe: progress no longer reaches `pipe run` ({}: {e}); the stage goes on",
                path.display()
            );
            self.0 = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::progress::ProgressTail;
    use pipe_engine::kind::progress::Progress;

    fn relayed(path: PathBuf, every: Duration, stage: impl FnOnce(&Progress)) {
        let relay = Relay::start(path, every);
        let progress = Progress::hidden().forward_to(relay.sender());
        stage(&progress);
        drop(relay);
    }

    #[test]
    fn many_small_updates_become_a_few_lines_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("progress.jsonl");
        relayed(path.clone(), Duration::from_millis(50), |p| {
            p.set_total(3000, false);
            for i in 0..3000 {
                p.inc(1);
                if i % 1000 == 0 {
                    p.log(format!("line {i}"));
                }
                if i % 100 == 0 {
                    p.message(format!("at {i}"));
                    std::thread::sleep(Duration::from_millis(2));
                }
            }
        });
        let events = ProgressTail::new(path).read();
        // About 60 ms of work at one batch per 50 ms, plus the totals, logs
        // and the final flush: far fewer than 3000 lines.
        assert!(events.len() < 40, "{} lines: {events:?}", events.len());
        assert!(
            matches!(events[0], Event::Total { total: 3000, .. }),
            "{events:?}"
        );
        let logs: Vec<&str> = events
            .iter()
            .filter_map(|e| match e {
                Event::Log { line } => Some(line.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(logs, ["line 0", "line 1000", "line 2000"]);
        let (mut position, mut message) = (0, "");
        for event in &events {
            match event {
                Event::Inc { n } => position += n,
                Event::Position { pos } => position = *pos,
                Event::Message { text } => message = text,
                _ => {}
            }
        }
        assert_eq!((position, message), (3000, "at 2900"));
    }

    #[test]
    fn updates_made_while_the_writer_waits_are_held_as_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("progress.jsonl");
        // The writer waits a long time between batches: everything the
        // stage does meanwhile is one pending position and message, and
        // the channel holds one wake-up, not 100,000 updates.
        let relay = Relay::start(path.clone(), Duration::from_secs(3600));
        let progress = Progress::hidden().forward_to(relay.sender());
        progress.message("first");
        std::thread::sleep(Duration::from_millis(100));
        for i in 0..100_000 {
            progress.inc(1);
            if i % 10_000 == 0 {
                progress.message(format!("at {i}"));
            }
        }
        assert!(
            matches!(
                *relay.pending.lock().unwrap(),
                Pending {
                    position: Some(Position::By(100_000)),
                    message: Some(_)
                }
            ),
            "not coalesced where the stage made them"
        );
        drop(relay);
        let events = ProgressTail::new(path).read();
        assert!(events.len() <= 3, "{events:?}");
        assert!(
            matches!(&events[..], [.., Event::Inc { n: 100_000 }, Event::Message { text }] if text == "at 90000"),
            "{events:?}"
        );
    }

    #[test]
    fn a_pending_update_is_written_without_waiting_for_the_next() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("progress.jsonl");
        let relay = Relay::start(path.clone(), Duration::from_millis(50));
        let progress = Progress::hidden().forward_to(relay.sender());
        progress.message("epoch 1");
        progress.message("epoch 2");
        std::thread::sleep(Duration::from_millis(500));
        let events = ProgressTail::new(path).read();
        assert!(
            matches!(events.last(), Some(Event::Message { text }) if text == "epoch 2"),
            "{events:?}"
        );
    }

    #[test]
    fn a_failed_write_ends_the_relay_not_the_stage() {
        let dir = tempfile::tempdir().unwrap();
        let gone = dir.path().join("gone");
        let path = gone.join("progress.jsonl");
        relayed(path.clone(), Duration::ZERO, |p| {
            // The file's dir is missing: the first write fails.
            p.log("first");
            std::thread::sleep(Duration::from_millis(200));
            std::fs::create_dir(&gone).unwrap();
            p.inc(1);
            p.log("second");
            assert_eq!(p.lines(), ["first", "second"]);
        });
        // Stopped, not resumed with a gap the client cannot see.
        assert!(!path.exists());
        // A full disk: the stage goes on.
        relayed("/dev/full".into(), Duration::ZERO, |p| {
            p.log("first");
            p.log("second");
            assert_eq!(p.lines(), ["first", "second"]);
        });
    }
}
