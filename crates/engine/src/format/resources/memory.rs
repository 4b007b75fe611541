//! A stage's memory request, in the units cluster schedulers take (SLURM's
//! `--mem`, the most common).
//!
//! sbatch's `--mem` takes a whole number with an optional unit `K`, `M`
//! (the default), `G` or `T`, powers of 1024. A pipeline file may also write
//! `16GB` or `16GiB`, which mean the same; anything else is rejected at
//! `pipe check` time rather than at submission.

use std::fmt;

/// A memory amount in KiB (never zero); serialized as KiB.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(try_from = "u64", into = "u64")]
pub struct Memory {
    kib: u64,
}

pub const MEMORY_HINT: &str =
    "write a whole number with a unit, like `512M`, `16G` or `1T` (a bare number is megabytes, as in sbatch's --mem)";

impl Memory {
    pub fn kib(self) -> u64 {
        self.kib
    }

    /// A bare number from the pipeline file: megabytes, as sbatch reads it.
    pub fn from_megabytes(mb: u64) -> Option<Memory> {
        mb.checked_mul(1024)
            .filter(|&kib| kib > 0)
            .map(|kib| Memory { kib })
    }

    pub fn parse(text: &str) -> Result<Memory, String> {
        let text = text.trim();
        let bad = || format!("`{text}` is not a memory amount");
        let digits = text.bytes().take_while(u8::is_ascii_digit).count();
        let (number, unit) = text.split_at(digits);
        let number: u64 = number.parse().map_err(|_| bad())?;
        let unit = unit.trim_start().to_ascii_uppercase();
        let unit = unit
            .strip_suffix("IB")
            .or_else(|| unit.strip_suffix('B').filter(|u| !u.is_empty()))
            .unwrap_or(&unit);
        let scale: u64 = match unit {
            "K" => 1,
            "" | "M" => 1 << 10,
            "G" => 1 << 20,
            "T" => 1 << 30,
            _ => return Err(bad()),
        };
        match number.checked_mul(scale) {
            Some(0) => Err("a memory request of zero".to_string()),
            Some(kib) => Ok(Memory { kib }),
            None => Err(bad()),
        }
    }
}

impl TryFrom<u64> for Memory {
    type Error = String;
    fn try_from(kib: u64) -> Result<Memory, String> {
        (kib > 0)
            .then_some(Memory { kib })
            .ok_or_else(|| "a memory request of zero".to_string())
    }
}

impl From<Memory> for u64 {
    fn from(m: Memory) -> u64 {
        m.kib
    }
}

/// The largest unit that states the amount exactly, as `--mem` reads it.
impl fmt::Display for Memory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let k = self.kib;
        for (scale, unit) in [(1u64 << 30, 'T'), (1 << 20, 'G'), (1 << 10, 'M')] {
            if k.is_multiple_of(scale) {
                return write!(f, "{}{unit}", k / scale);
            }
        }
        write!(f, "{k}K")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, rendered: Option<&str>) {
        assert_eq!(
            Memory::parse(input).ok().map(|m| m.to_string()).as_deref(),
            rendered,
            "{input}"
        );
    }

    #[test]
    fn units() {
        check("512", Some("512M"));
        check("512M", Some("512M"));
        check("2048M", Some("2G"));
        check("16G", Some("16G"));
        check("16gb", Some("16G"));
        check("16GiB", Some("16G"));
        check("1T", Some("1T"));
        check("1536K", Some("1536K"));
        check("1024K", Some("1M"));
        check("4 G", Some("4G"));
    }

    #[test]
    fn rejected() {
        check("", None);
        check("0", None);
        check("0G", None);
        check("G", None);
        check("1.5G", None);
        check("-1G", None);
        check("16X", None);
        check("B", None);
        check("99999999999999999999T", None);
    }
}
