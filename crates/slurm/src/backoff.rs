//! When to ask the controller again.
//!
//! squeue is called first [`Backoff::first`] after the start (1 s by
//! default), then at intervals doubling while nothing that only the
//! controller can tell has happened, up to [`Backoff::cap`] (60 s by
//! default). Snakemake's SLURM executor starts at 40 s and caps at 180 s;
//! Nextflow polls every 5 s. Stages ending normally are seen through their
//! result files, which cost the controller nothing, so the backoff only
//! bounds how late a job killed by SLURM (time limit, memory, node failure)
//! is noticed.

use std::time::Duration;

#[derive(Clone, Debug)]
pub struct Backoff {
    pub first: Duration,
    pub cap: Duration,
    current: Duration,
}

impl Backoff {
    pub fn new(first: Duration, cap: Duration) -> Backoff {
        Backoff {
            first,
            cap: cap.max(first),
            current: first,
        }
    }

    /// The wait before the next call, growing the one after.
    pub fn wait(&mut self) -> Duration {
        let now = self.current;
        self.current = (self.current * 2).min(self.cap);
        now
    }

    /// Something changed: ask again soon.
    pub fn reset(&mut self) {
        self.current = self.first;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_to_the_cap_and_resets() {
        let s = Duration::from_secs;
        let mut b = Backoff::new(s(1), s(10));
        let waits: Vec<u64> = (0..6).map(|_| b.wait().as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 10, 10]);
        b.reset();
        assert_eq!(b.wait(), s(1));
    }
}
