//! Link-time settings for everything that links libtorch: the `pipe-torch`
//! worker binary (with the `torch` feature) and `pipe-torch`'s tests and
//! examples, whose Cargo.toml points here. The `pipe` binary links no
//! libtorch at all (tests/linking.rs checks that too).
//!
//! Two things tch does not do by itself, both checked by `tests/linking.rs`:
//! - keep `libtorch_cuda.so` as a needed library: without `--no-as-needed` the
//!   linker drops it (nothing references its symbols directly) and CUDA is
//!   silently unavailable on a GPU machine;
//! - an rpath to torch's lib directory, so the binary runs without
//!   `LD_LIBRARY_PATH`.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    // For tests/architecture.rs (`cargo metadata --filter-platform`).
    if let Ok(target) = std::env::var("TARGET") {
        println!("cargo:rustc-env=PIPE_TARGET_TRIPLE={target}");
    }
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if os != "linux" {
        return;
    }
    // Set only for packages that depend on torch-sys directly, i.e. when
    // libtorch is linked at all.
    let Some(lib) = std::env::var_os("DEP_TCH_LIBTORCH_LIB") else {
        return;
    };
    let lib = std::path::PathBuf::from(lib);
    // In the `pipe` package only the worker links libtorch; in pipe-torch,
    // every test and example does.
    let directive = match std::env::var("CARGO_PKG_NAME").as_deref() {
        Ok("pipe") => "rustc-link-arg-bin=pipe-torch=",
        _ => "rustc-link-arg=",
    };
    let arg = |flag: &str| println!("cargo:{directive}{flag}");
    arg(&format!("-Wl,-rpath,{}", lib.display()));
    // rustc passes `--as-needed` before its own `-l` flags, so re-name the
    // libraries after switching it off; this is what keeps them in DT_NEEDED.
    arg("-Wl,--no-as-needed");
    if lib.join("libtorch_cuda.so").exists() {
        arg("-ltorch_cuda");
    }
    arg("-ltorch_cpu");
    arg("-ltorch");
}
