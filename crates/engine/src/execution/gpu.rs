//! Which GPUs stages may use, and handing out specific ones.
//!
//! A stage with `gpus: n` is handed n device ordinals that no other running
//! stage holds. Ordinals are as pipe itself sees devices (relative to an
//! outer `CUDA_VISIBLE_DEVICES`); the `cmd` kind maps them back for its child.

use std::collections::BTreeSet;

use crate::error::{Error, Result};

/// The device ordinals stages may use: `--gpus LIST` if given, else
/// `PIPE_FAKE_GPUS=N` (tests), else one per entry of `CUDA_VISIBLE_DEVICES`,
/// else one per line of `nvidia-smi -L`, else none.
pub fn detect(list: Option<&str>) -> Result<Vec<usize>> {
    if let Some(list) = list {
        return parse_list(list);
    }
    if let Ok(n) = std::env::var("PIPE_FAKE_GPUS") {
        let n: usize = n.trim().parse().map_err(|_| {
            Error::environment(format!(
                "`PIPE_FAKE_GPUS` must be a number of GPUs, not `{n}`"
            ))
        })?;
        return Ok((0..n).collect());
    }
    if let Ok(visible) = std::env::var("CUDA_VISIBLE_DEVICES") {
        let n = visible.split(',').filter(|s| !s.trim().is_empty()).count();
        return Ok((0..n).collect());
    }
    let listed = std::process::Command::new("nvidia-smi")
        .arg("-L")
        .stderr(std::process::Stdio::null())
        .output();
    match listed {
        Ok(out) if out.status.success() => {
            let text = String::from_utf8_lossy(&out.stdout);
            Ok((0..text.lines().filter(|l| l.starts_with("GPU ")).count()).collect())
        }
        _ => Ok(Vec::new()),
    }
}

/// `0,1` or `0, 2`; an empty string means none.
pub fn parse_list(list: &str) -> Result<Vec<usize>> {
    let mut out = BTreeSet::new();
    for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let i = item.parse::<usize>().map_err(|_| {
            Error::environment(format!(
                "`--gpus` takes device indices like `0,1`, not `{item}`"
            ))
        })?;
        out.insert(i);
    }
    Ok(out.into_iter().collect())
}

/// The GPUs not held by a running stage.
pub struct GpuPool {
    free: BTreeSet<usize>,
    total: usize,
}

impl GpuPool {
    pub fn new(gpus: &[usize]) -> GpuPool {
        GpuPool {
            free: gpus.iter().copied().collect(),
            total: gpus.len(),
        }
    }

    pub fn total(&self) -> usize {
        self.total
    }

    pub fn free(&self) -> usize {
        self.free.len()
    }

    /// Takes `n` free GPUs (lowest first), or none if fewer are free.
    pub fn take(&mut self, n: usize) -> Option<Vec<usize>> {
        if n > self.free.len() {
            return None;
        }
        let taken: Vec<usize> = self.free.iter().copied().take(n).collect();
        for i in &taken {
            self.free.remove(i);
        }
        Some(taken)
    }

    pub fn give_back(&mut self, gpus: &[usize]) {
        self.free.extend(gpus.iter().copied());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_hands_out_distinct_devices() {
        let mut pool = GpuPool::new(&parse_list("0, 1,3").unwrap());
        let a = pool.take(2).unwrap();
        assert_eq!(a, vec![0, 1]);
        assert!(pool.take(2).is_none());
        assert_eq!(pool.take(1).unwrap(), vec![3]);
        pool.give_back(&a);
        assert_eq!(pool.free(), 2);
        assert!(parse_list("0,x").is_err());
        assert_eq!(parse_list("").unwrap(), Vec::<usize>::new());
    }
}
