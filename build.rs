//! Link-time settings for the `pipe` binary when it uses libtorch.
//!
//! Two things tch does not do by itself, both checked by `tests/linking.rs`:
//! - keep `libtorch_cuda.so` as a needed library: without `--no-as-needed` the
//!   linker drops it (nothing references its symbols directly) and CUDA is
//!   silently unavailable on a GPU machine;
//! - an rpath to torch's lib directory, so the binary runs without
//!   `LD_LIBRARY_PATH`.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    if std::env::var_os("CARGO_FEATURE_TORCH").is_none() {
        return;
    }
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if os != "linux" {
        return;
    }
    if let Some(lib) = std::env::var_os("DEP_TCH_LIBTORCH_LIB") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{}", lib.to_string_lossy());
    }
    println!("cargo:rustc-link-arg=-Wl,--no-as-needed");
    println!("cargo:rustc-link-arg=-Wl,--copy-dt-needed-entries");
    println!("cargo:rustc-link-arg=-ltorch");
}
