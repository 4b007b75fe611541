//! Progress relay from a node: the stage appends JSON lines (the worker's
//! [`Event`]s: totals, positions, messages, log lines) to `progress.jsonl`
//! in its work dir on the shared filesystem, and the client tails the file
//! at each poll, handing new events to `pipe run`'s display.
//!
//! A line that is not an event is passed on as a log line; a line still
//! being written (no newline yet) waits for the next poll.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;

use pipe_engine::worker::Event;

/// Reads what was appended to a progress file since the last call.
#[derive(Debug)]
pub struct ProgressTail {
    path: PathBuf,
    offset: u64,
    partial: Vec<u8>,
    /// Log lines that end at or before this offset were shown by an earlier
    /// client of the run (see [`ProgressTail::after_restart`]).
    shown_until: u64,
}

impl ProgressTail {
    pub fn new(path: PathBuf) -> ProgressTail {
        ProgressTail {
            path,
            offset: 0,
            partial: Vec::new(),
            shown_until: 0,
        }
    }

    /// For a job re-attached to after the client died: the file is read
    /// from its start (the display gets its total, position and message)
    /// but the log lines already in it are not passed on again: the earlier
    /// client printed them, and they are in the stage's log.
    pub fn after_restart(path: PathBuf) -> ProgressTail {
        let shown_until = std::fs::metadata(&path).map_or(0, |m| m.len());
        ProgressTail {
            shown_until,
            ..ProgressTail::new(path)
        }
    }

    /// The events completed since the last call; nothing while the file
    /// does not exist (yet, or not visible through NFS yet).
    pub fn read(&mut self) -> Vec<Event> {
        let Ok(mut file) = File::open(&self.path) else {
            return Vec::new();
        };
        let mut bytes = Vec::new();
        if file.seek(SeekFrom::Start(self.offset)).is_err() || file.read_to_end(&mut bytes).is_err()
        {
            return Vec::new();
        }
        self.offset += bytes.len() as u64;
        self.partial.extend_from_slice(&bytes);
        let Some(end) = self.partial.iter().rposition(|&b| b == b'\n') else {
            return Vec::new();
        };
        // Where the completed lines start in the file.
        let mut at = self.offset - self.partial.len() as u64;
        let complete: Vec<u8> = self.partial.drain(..=end).collect();
        let mut events = Vec::new();
        for raw in complete.split_inclusive(|&b| b == b'\n') {
            at += raw.len() as u64;
            let line = String::from_utf8_lossy(raw);
            let line = line.trim_end_matches(['\n', '\r']);
            if line.trim().is_empty() {
                continue;
            }
            let event = serde_json::from_str(line).unwrap_or_else(|_| Event::Log {
                line: line.to_string(),
            });
            if at <= self.shown_until && matches!(event, Event::Log { .. }) {
                continue;
            }
            events.push(event);
        }
        events
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn follows_appends_and_waits_for_whole_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("progress.jsonl");
        let mut tail = ProgressTail::new(path.clone());
        assert!(tail.read().is_empty());
        let mut f = File::create(&path).unwrap();
        write!(
            f,
            "{{\"event\":\"total\",\"total\":5,\"bytes\":false}}\nnot json\n{{\"event\":\"posi"
        )
        .unwrap();
        let got = tail.read();
        assert!(
            matches!(
                got[0],
                Event::Total {
                    total: 5,
                    bytes: false
                }
            ),
            "{got:?}"
        );
        assert!(
            matches!(&got[1], Event::Log { line } if line == "not json"),
            "{got:?}"
        );
        assert_eq!(got.len(), 2);
        writeln!(f, "tion\",\"pos\":3}}").unwrap();
        let got = tail.read();
        assert!(matches!(got[..], [Event::Position { pos: 3 }]), "{got:?}");
        assert!(tail.read().is_empty());
    }

    #[test]
    fn after_a_restart_old_log_lines_are_not_passed_on_again() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("progress.jsonl");
        let mut f = File::create(&path).unwrap();
        writeln!(
            f,
            "{{\"event\":\"total\",\"total\":9,\"bytes\":false}}\n{{\"event\":\"log\",\"line\":\"epoch 1\"}}"
        )
        .unwrap();
        let mut tail = ProgressTail::after_restart(path.clone());
        writeln!(f, "{{\"event\":\"log\",\"line\":\"epoch 2\"}}").unwrap();
        let got = tail.read();
        assert!(
            matches!(&got[..], [Event::Total { total: 9, .. }, Event::Log { line }] if line == "epoch 2"),
            "{got:?}"
        );
        // A fresh client of a new job passes everything on.
        let got = ProgressTail::new(path).read();
        assert_eq!(got.len(), 3, "{got:?}");
    }
}
