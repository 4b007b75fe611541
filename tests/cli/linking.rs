//! The `pipe-torch` worker must find libtorch without LD_LIBRARY_PATH and
//! keep `libtorch_cuda.so`, or CUDA is silently unavailable on a GPU
//! machine (see build.rs); `pipe` itself must not load libtorch at all (it
//! costs most of a second at every start). Checked with `readelf -d` on
//! the built binaries.
#![cfg(feature = "torch")]

use std::process::Command;

fn dynamic_section_of(binary: &str) -> String {
    let out = Command::new("readelf")
        .args(["-d", binary])
        .output()
        .expect("readelf (binutils) must be installed");
    assert!(
        out.status.success(),
        "readelf failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("readelf prints text")
}

fn dynamic_section() -> String {
    dynamic_section_of(env!("CARGO_BIN_EXE_pipe-torch"))
}

#[test]
fn pipe_itself_needs_no_libtorch() {
    let dynamic = dynamic_section_of(env!("CARGO_BIN_EXE_pipe"));
    for lib in ["libtorch", "libc10"] {
        assert!(
            !dynamic.contains(&format!("Shared library: [{lib}")),
            "pipe must not link {lib}:\n{dynamic}"
        );
    }
}

fn torch_lib_dir() -> std::path::PathBuf {
    let python = std::env::var("PIPE_PYTHON").unwrap_or_else(|_| "python3".into());
    let out = Command::new(python)
        .args([
            "-c",
            "import torch, os; print(os.path.join(os.path.dirname(torch.__file__), 'lib'))",
        ])
        .output()
        .expect("the torch venv's python must run");
    assert!(out.status.success(), "python could not import torch");
    String::from_utf8(out.stdout).unwrap().trim().into()
}

#[test]
fn keeps_libtorch_cuda_as_needed_library() {
    let dynamic = dynamic_section();
    let lib = torch_lib_dir();
    if lib.join("libtorch_cuda.so").exists() {
        assert!(
            dynamic.contains("Shared library: [libtorch_cuda.so]"),
            "libtorch_cuda.so is not NEEDED by pipe-torch:\n{dynamic}"
        );
    }
    assert!(
        dynamic.contains("Shared library: [libtorch_cpu.so]"),
        "{dynamic}"
    );
}

#[test]
fn has_an_rpath_to_torch_lib_dir() {
    let dynamic = dynamic_section();
    let lib = torch_lib_dir();
    let line = dynamic
        .lines()
        .find(|l| l.contains("(RUNPATH)") || l.contains("(RPATH)"))
        .unwrap_or_else(|| panic!("no RUNPATH/RPATH in pipe-torch:\n{dynamic}"));
    assert!(
        line.contains(&*lib.to_string_lossy()),
        "rpath {line} does not name {}",
        lib.display()
    );
}
