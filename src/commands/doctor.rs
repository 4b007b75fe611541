//! `pipe doctor`: prints what libtorch this binary uses, whether CUDA and
//! cuDNN work, the GPUs, and what is wrong when they do not (the probing
//! itself lives in `pipe_torch::doctor`).

use pipe_engine::Result;

use super::Config;

#[cfg(feature = "torch")]
pub fn doctor(_config: &Config) -> Result<u8> {
    let report = pipe_torch::doctor::report();
    print!("{}", report.render());
    Ok(0)
}

#[cfg(not(feature = "torch"))]
pub fn doctor(_config: &Config) -> Result<u8> {
    println!("this `pipe` was built without the `torch` feature: no libtorch, so no `train`, `evaluate` or `weights` kinds");
    println!("hint: rebuild with default features (`cargo build --release`) and a torch installation; see README.md");
    Ok(0)
}
