//! For tests that need the real SLURM (this crate's and the `pipe`
//! binary's `tests/cli/slurm.rs`): whether one answers. Without one they
//! skip with a note, except under `CI=true`, where they fail.

use std::process::Command;

/// Whether `sinfo` lists a node; panics under CI when it does not.
pub fn slurm_or_skip() -> bool {
    let ok = Command::new("sinfo")
        .args(["--noheader", "--format=%T"])
        .output()
        .is_ok_and(|o| o.status.success() && !o.stdout.is_empty());
    if !ok {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "SLURM is not reachable (`sinfo` failed); CI must run scripts/slurm-up.sh first"
        );
        eprintln!("note: SLURM is not reachable; run scripts/slurm-up.sh as root to run this test");
    }
    ok
}
