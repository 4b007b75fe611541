//! Where a report's numbers come from: the pipeline file and its hash, the
//! git commit, pipe's version, the libtorch/CUDA versions and devices the
//! runs recorded, and when the report was made.

use std::path::Path;
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use super::summary::Summary;

/// Provenance facts, each already text for display.
#[derive(Clone, Debug)]
pub struct Provenance {
    pub pipeline_file: String,
    pub pipeline_hash: String,
    /// `None` outside a git work tree or without git.
    pub git_commit: Option<String>,
    pub pipe_version: String,
    pub libtorch: Vec<String>,
    pub cuda: Vec<String>,
    pub devices: Vec<String>,
    /// UTC, `YYYY-MM-DD HH:MM UTC`.
    pub date: String,
}

impl Provenance {
    pub fn collect(pipeline_file: &Path, pipeline_hash: String, runs: &[Summary]) -> Provenance {
        let distinct = |f: fn(&Summary) -> Option<&String>| {
            let mut v: Vec<String> = runs.iter().filter_map(|s| f(s).cloned()).collect();
            v.sort();
            v.dedup();
            v
        };
        Provenance {
            pipeline_file: pipeline_file.display().to_string(),
            pipeline_hash,
            git_commit: git_commit(pipeline_file),
            pipe_version: env!("CARGO_PKG_VERSION").to_string(),
            libtorch: distinct(|s| s.libtorch.as_ref()),
            cuda: distinct(|s| s.cuda.as_ref()),
            devices: distinct(|s| s.device.as_ref()),
            date: utc_now(),
        }
    }

    /// (label, value) rows for display, in a fixed order.
    pub fn rows(&self) -> Vec<(&'static str, String)> {
        let list = |v: &[String]| {
            if v.is_empty() {
                "not recorded".to_string()
            } else {
                v.join(", ")
            }
        };
        vec![
            ("pipeline file", self.pipeline_file.clone()),
            ("pipeline hash (blake3)", self.pipeline_hash.clone()),
            (
                "git commit",
                self.git_commit
                    .clone()
                    .unwrap_or_else(|| "none (not in a git work tree)".into()),
            ),
            ("pipe version", self.pipe_version.clone()),
            ("libtorch", list(&self.libtorch)),
            (
                "CUDA",
                if self.cuda.is_empty() {
                    "none recorded (CPU)".into()
                } else {
                    self.cuda.join(", ")
                },
            ),
            ("device", list(&self.devices)),
            ("date", self.date.clone()),
        ]
    }
}

/// The commit checked out where the pipeline file lives, if git knows one.
fn git_commit(pipeline_file: &Path) -> Option<String> {
    let dir = match pipeline_file.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["rev-parse", "HEAD"])
        .output()
        .ok()?;
    let commit = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (out.status.success() && !commit.is_empty()).then_some(commit)
}

fn utc_now() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (y, m, d) = civil_from_days((secs / 86_400) as i64);
    let rem = secs % 86_400;
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60
    )
}

/// Days since 1970-01-01 to (year, month, day), after Howard Hinnant's
/// `civil_from_days` (proleptic Gregorian calendar).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calendar() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(20_819), (2027, 1, 1));
    }
}
