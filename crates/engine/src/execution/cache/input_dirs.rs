//! `inputs/<output hash>/`: a cached output as a directory of hard links to
//! its objects, for kinds that read inputs as directories (`cmd`). Made the
//! first time a stage asks for it and kept across runs, so rerunning a stage
//! with 1,000 inputs checks 1,000 directories instead of making them.
//! Derived data: `pipe gc` removes them all, and one that no longer holds
//! exactly its output's objects is made anew.

use std::path::{Path, PathBuf};

use crate::error::Result;
use crate::execution::cache::Cache;
use crate::kind::input_dir::linked_dir;
use crate::kind::{Artifact, InputDirs};

pub struct CacheDirs {
    pub cache: Cache,
}

impl InputDirs for CacheDirs {
    fn dir(&self, artifact: &Artifact, _work: &Path) -> Result<PathBuf> {
        linked_dir(&self.cache.dir("inputs"), artifact)
    }
}
