//! The project root: where `cache/` and `results/` live, found the way
//! cargo and git find theirs, so that `cd pipelines && pipe status
//! quick.yaml` sees the same cache as `pipe status pipelines/quick.yaml`.
//!
//! From the pipeline file's directory (the current directory for commands
//! without a file) upwards, the first directory holding a pipe cache
//! (`cache/objects`) or a repository (`.git`) is the root. When there is
//! neither, the current directory is, as before a first run. `--cache-dir`
//! (or `PIPE_CACHE_DIR`) names the cache itself; results then stay beside
//! the found root.

use std::path::{Path, PathBuf};

/// The directory `cache/` and `results/` belong to, for a pipeline file
/// (`None`: a command without one).
pub fn find(file: Option<&Path>) -> PathBuf {
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let start = match file.and_then(Path::parent) {
        Some(p) if !p.as_os_str().is_empty() => cwd.join(p),
        _ => cwd.clone(),
    };
    let start = std::path::absolute(&start).unwrap_or(start);
    start
        .ancestors()
        .find(|dir| is_root(dir))
        .map_or(cwd, Path::to_path_buf)
}

fn is_root(dir: &Path) -> bool {
    dir.join("cache").join("objects").is_dir() || dir.join(".git").exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_cache_or_repository_upwards_wins() {
        let tmp = tempfile::tempdir().unwrap();
        let repo = tmp.path().join("repo");
        std::fs::create_dir_all(repo.join(".git")).unwrap();
        std::fs::create_dir_all(repo.join("a/b")).unwrap();
        assert_eq!(find(Some(&repo.join("a/b/p.yaml"))), repo);
        std::fs::create_dir_all(repo.join("a/cache/objects")).unwrap();
        assert_eq!(find(Some(&repo.join("a/b/p.yaml"))), repo.join("a"));
        // A directory merely named `cache` is not a pipe cache.
        std::fs::create_dir_all(repo.join("a/b/cache")).unwrap();
        assert_eq!(find(Some(&repo.join("a/b/p.yaml"))), repo.join("a"));
    }
}
