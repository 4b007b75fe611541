//! Which device a stage computes on, and the libtorch switches that only
//! exist as C++ symbols (CUDA library loading, the autocast dtype).
//!
//! A stage's `device` parameter (`auto`, `cpu`, `cuda`, `cuda:N`) and the
//! GPUs the scheduler handed it resolve here into one [`tch::Device`].

use std::ffi::CStr;

use pipe_engine::{Error, Result};
use tch::Device;

/// Resolves a `device` parameter. `auto` takes the first GPU the scheduler
/// handed the stage, else CUDA device 0 when CUDA works, else the CPU;
/// `cuda` without an index also prefers the handed GPU.
pub fn resolve(spec: &str, gpus: &[usize]) -> Result<Device> {
    let spec = spec.trim();
    let handed = gpus.first().copied();
    match spec {
        "cpu" => Ok(Device::Cpu),
        "auto" => {
            if cuda_available() {
                Ok(Device::Cuda(handed.unwrap_or(0)))
            } else {
                Ok(Device::Cpu)
            }
        }
        "cuda" => {
            require_cuda(spec)?;
            Ok(Device::Cuda(handed.unwrap_or(0)))
        }
        _ => {
            let index = spec
                .strip_prefix("cuda:")
                .and_then(|i| i.parse::<usize>().ok())
                .ok_or_else(|| {
                    Error::failed(format!("unknown device `{spec}`"))
                        .with_hint("use `auto`, `cpu`, `cuda` or `cuda:N`")
                })?;
            require_cuda(spec)?;
            let count = usize::try_from(tch::Cuda::device_count()).unwrap_or(0);
            if index >= count {
                return Err(Error::environment(format!(
                    "device `{spec}` does not exist ({count} CUDA device{} visible)",
                    if count == 1 { "" } else { "s" }
                ))
                .with_hint("run `pipe doctor` to list the devices"));
            }
            Ok(Device::Cuda(index))
        }
    }
}

fn require_cuda(spec: &str) -> Result<()> {
    if cuda_available() {
        Ok(())
    } else {
        Err(Error::environment(format!(
            "device `{spec}` was asked for but CUDA is not usable"
        ))
        .with_hint("run `pipe doctor` to see why, or use `device: cpu`"))
    }
}

/// Whether CUDA works, after making sure libtorch's CUDA half is loaded.
pub fn cuda_available() -> bool {
    load_cuda_library();
    tch::Cuda::is_available()
}

/// Loads `libtorch_cuda.so` if it can be found and is not loaded yet.
///
/// Nothing references its symbols directly, so a linker using
/// `--as-needed` drops it (the `pipe` binary's build script prevents that;
/// example binaries and tests do not have one). Loading it registers
/// CUDA's hooks with libtorch through its static initialisers. Returns the
/// loader's complaint when it cannot be loaded.
pub fn load_cuda_library() -> Option<String> {
    static RESULT: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    RESULT
        .get_or_init(|| {
            // SAFETY: dlopen/dlerror with NUL-terminated names; the handle is
            // deliberately never closed (the library stays for the process).
            unsafe {
                let name = c"libtorch_cuda.so";
                let handle = libc::dlopen(name.as_ptr(), libc::RTLD_NOW | libc::RTLD_GLOBAL);
                if handle.is_null() {
                    let err = libc::dlerror();
                    Some(if err.is_null() {
                        "cannot load `libtorch_cuda.so`".to_string()
                    } else {
                        CStr::from_ptr(err).to_string_lossy().into_owned()
                    })
                } else {
                    None
                }
            }
        })
        .clone()
}

/// libtorch's autocast switches, looked up by their C++ names: tch's own
/// `autocast` goes through deprecated entry points that print a warning on
/// every call and cannot choose bfloat16 (CUDA autocast defaults to
/// float16).
struct Autocast {
    is_enabled: extern "C" fn(i8) -> bool,
    set_enabled: extern "C" fn(i8, bool),
    set_dtype: extern "C" fn(i8, i8),
    increment_nesting: extern "C" fn() -> i64,
    decrement_nesting: extern "C" fn() -> i64,
    clear_cache: extern "C" fn(),
}

/// c10::DeviceType::CUDA and c10::ScalarType::BFloat16 (both int8_t enums).
const DEVICE_CUDA: i8 = 1;
const SCALAR_BFLOAT16: i8 = 15;

fn autocast_fns() -> Result<&'static Autocast> {
    static FNS: std::sync::OnceLock<Option<Autocast>> = std::sync::OnceLock::new();
    FNS.get_or_init(|| {
        // SAFETY: each symbol, when present, has exactly the C++ signature
        // named beside it in libtorch 2.x; enums are 8-bit integers and
        // bool/int64_t returns come back in registers (Itanium ABI).
        unsafe {
            let sym = |name: &CStr| {
                let f = libc::dlsym(libc::RTLD_DEFAULT, name.as_ptr());
                (!f.is_null()).then_some(f)
            };
            Some(Autocast {
                // at::autocast::is_autocast_enabled(c10::DeviceType)
                is_enabled: std::mem::transmute::<*mut libc::c_void, extern "C" fn(i8) -> bool>(
                    sym(c"_ZN2at8autocast19is_autocast_enabledEN3c1010DeviceTypeE")?,
                ),
                // at::autocast::set_autocast_enabled(c10::DeviceType, bool)
                set_enabled: std::mem::transmute::<*mut libc::c_void, extern "C" fn(i8, bool)>(
                    sym(c"_ZN2at8autocast20set_autocast_enabledEN3c1010DeviceTypeEb")?,
                ),
                // at::autocast::set_autocast_dtype(c10::DeviceType, c10::ScalarType)
                set_dtype: std::mem::transmute::<*mut libc::c_void, extern "C" fn(i8, i8)>(sym(
                    c"_ZN2at8autocast18set_autocast_dtypeEN3c1010DeviceTypeENS1_10ScalarTypeE",
                )?),
                increment_nesting: std::mem::transmute::<*mut libc::c_void, extern "C" fn() -> i64>(
                    sym(c"_ZN2at8autocast17increment_nestingEv")?,
                ),
                decrement_nesting: std::mem::transmute::<*mut libc::c_void, extern "C" fn() -> i64>(
                    sym(c"_ZN2at8autocast17decrement_nestingEv")?,
                ),
                clear_cache: std::mem::transmute::<*mut libc::c_void, extern "C" fn()>(sym(
                    c"_ZN2at8autocast11clear_cacheEv",
                )?),
            })
        }
    })
    .as_ref()
    .ok_or_else(|| {
        Error::environment("this libtorch does not export the autocast functions `amp: bf16` needs")
            .with_hint("use `amp: none`, or a libtorch of version 2.4 or later")
    })
}

/// Checks that bfloat16 autocast can be used (before a run starts).
pub fn check_autocast() -> Result<()> {
    autocast_fns().map(|_| ())
}

/// Runs `f` under CUDA autocast to bfloat16, like
/// `torch.autocast("cuda", dtype=torch.bfloat16)`. Autocast state is per
/// thread, so it is set on the calling thread each time.
pub fn autocast_bf16<T>(f: impl FnOnce() -> T) -> Result<T> {
    let a = autocast_fns()?;
    let was_enabled = (a.is_enabled)(DEVICE_CUDA);
    (a.set_dtype)(DEVICE_CUDA, SCALAR_BFLOAT16);
    (a.set_enabled)(DEVICE_CUDA, true);
    (a.increment_nesting)();
    let out = f();
    if (a.decrement_nesting)() == 0 {
        (a.clear_cache)();
    }
    (a.set_enabled)(DEVICE_CUDA, was_enabled);
    Ok(out)
}

/// A human-readable name of `device` (for run.json and logs).
pub fn describe(device: Device) -> String {
    match device {
        Device::Cpu => format!("cpu ({} threads)", tch::get_num_threads()),
        Device::Cuda(i) => gpu_names()
            .get(i)
            .map(|(name, _)| format!("cuda:{i} ({name})"))
            .unwrap_or_else(|| format!("cuda:{i}")),
        other => format!("{other:?}").to_lowercase(),
    }
}

/// Names and memory (MiB) of the GPUs as `nvidia-smi` lists them; empty
/// when it is not installed. libtorch's C API does not expose names.
pub fn gpu_names() -> Vec<(String, u64)> {
    let Ok(out) = std::process::Command::new("nvidia-smi")
        .args([
            "--query-gpu=name,memory.total",
            "--format=csv,noheader,nounits",
        ])
        .output()
    else {
        return Vec::new();
    };
    if !out.status.success() {
        return Vec::new();
    }
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| {
            let (name, mem) = line.rsplit_once(',')?;
            Some((name.trim().to_string(), mem.trim().parse().unwrap_or(0)))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_and_bad_names() {
        assert_eq!(resolve("cpu", &[]).ok(), Some(Device::Cpu));
        assert!(resolve("gpu", &[]).is_err());
        assert!(resolve("cuda:x", &[]).is_err());
    }
}
