//! `pipe doctor`: what libtorch this binary runs on, whether CUDA and cuDNN
//! work, which GPUs there are, and what is wrong when they do not.

use std::ffi::CStr;
use std::fmt::Write as _;
use std::path::PathBuf;

use serde::Serialize;

/// Everything `pipe doctor` found.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub libtorch: Option<String>,
    pub libtorch_dir: Option<PathBuf>,
    /// The CUDA version libtorch was built for (`None`: a CPU-only build).
    pub cuda_build: Option<String>,
    pub cuda_library_loaded: bool,
    pub cuda_available: bool,
    pub cudnn_available: bool,
    pub cudnn_version: Option<i64>,
    pub device_count: i64,
    /// Name and total memory (MiB) per device, from `nvidia-smi`.
    pub devices: Vec<(String, u64)>,
    pub cpu_threads: i32,
    pub problems: Vec<String>,
}

/// Probes libtorch and the GPUs.
pub fn report() -> Report {
    let load_error = crate::device::load_cuda_library();
    let cuda_available = tch::Cuda::is_available();
    let cudnn_available = cuda_available && tch::Cuda::cudnn_is_available();
    let device_count = if cuda_available {
        tch::Cuda::device_count()
    } else {
        0
    };
    let devices = crate::device::gpu_names();
    let cuda_build = build_cuda_version();
    let mut problems = Vec::new();
    let driver =
        std::path::Path::new("/proc/driver/nvidia/version").exists() || !devices.is_empty();
    if !cuda_available {
        match (&cuda_build, &load_error, driver) {
            (None, _, _) => problems.push("this libtorch is a CPU-only build: install a CUDA build of torch and rebuild pipe against it".into()),
            (Some(_), Some(err), _) => problems.push(format!("`libtorch_cuda.so` could not be loaded: {err}")),
            (Some(_), None, false) => problems.push("no NVIDIA driver found (`/proc/driver/nvidia/version` is absent and `nvidia-smi` lists no GPU)".into()),
            (Some(v), None, true) => problems.push(format!(
                "a driver and libtorch's CUDA {v} library are present but CUDA is not usable: the driver may be older than CUDA {v} needs, or `CUDA_VISIBLE_DEVICES` hides every device"
            )),
        }
    } else if !cudnn_available {
        problems.push("CUDA works but cuDNN does not: convolutions will be slow or fail; check that torch's `nvidia-cudnn` libraries are installed".into());
    }
    Report {
        libtorch: libtorch_version(),
        libtorch_dir: libtorch_dir(),
        cuda_build,
        cuda_library_loaded: load_error.is_none(),
        cuda_available,
        cudnn_available,
        cudnn_version: if cudnn_available {
            Some(tch::utils::version_cudnn())
        } else {
            None
        },
        device_count,
        devices,
        cpu_threads: tch::get_num_threads(),
        problems,
    }
}

impl Report {
    /// The text `pipe doctor` prints.
    pub fn render(&self) -> String {
        let mut s = String::new();
        let or_unknown = |o: &Option<String>| o.clone().unwrap_or_else(|| "unknown".into());
        let _ = writeln!(s, "libtorch     {}", or_unknown(&self.libtorch));
        if let Some(dir) = &self.libtorch_dir {
            let _ = writeln!(s, "  from       {}", dir.display());
        }
        let _ = writeln!(
            s,
            "built for    {}",
            self.cuda_build
                .as_ref()
                .map_or("cpu only".to_string(), |v| format!("CUDA {v}"))
        );
        let _ = writeln!(s, "cpu threads  {}", self.cpu_threads);
        let _ = writeln!(s, "cuda         {}", yes_no(self.cuda_available));
        let cudnn = match self.cudnn_version {
            Some(v) => format!("yes ({v})"),
            None => yes_no(self.cudnn_available).to_string(),
        };
        let _ = writeln!(s, "cudnn        {cudnn}");
        let _ = writeln!(s, "devices      {}", self.device_count);
        for (i, (name, mib)) in self.devices.iter().enumerate() {
            let _ = writeln!(s, "  cuda:{i}     {name}, {:.1} GiB", *mib as f64 / 1024.0);
        }
        for p in &self.problems {
            let _ = writeln!(s, "problem: {p}");
        }
        if self.problems.is_empty() {
            let _ = writeln!(s, "ok");
        }
        s
    }
}

fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

/// The directory of the `libtorch_cpu` this process has loaded.
pub fn libtorch_dir() -> Option<PathBuf> {
    // Any exported libtorch_cpu symbol will do; this one is also used by
    // `device::autocast_bf16`.
    const SYMBOL: &CStr =
        c"_ZN2at8autocast18set_autocast_dtypeEN3c1010DeviceTypeENS1_10ScalarTypeE";
    // SAFETY: dlsym/dladdr only read the loader's tables; `info` is plain data.
    unsafe {
        let f = libc::dlsym(libc::RTLD_DEFAULT, SYMBOL.as_ptr());
        if f.is_null() {
            return None;
        }
        let mut info: libc::Dl_info = std::mem::zeroed();
        if libc::dladdr(f, &mut info) == 0 || info.dli_fname.is_null() {
            return None;
        }
        let file = PathBuf::from(
            CStr::from_ptr(info.dli_fname)
                .to_string_lossy()
                .into_owned(),
        );
        let file = std::fs::canonicalize(&file).unwrap_or(file);
        file.parent().map(PathBuf::from)
    }
}

/// A `key = 'value'` line of torch's `version.py` beside its lib directory.
fn version_py(key: &str) -> Option<Option<String>> {
    let text = std::fs::read_to_string(libtorch_dir()?.parent()?.join("version.py")).ok()?;
    let line = text
        .lines()
        .find(|l| l.starts_with(key) && l[key.len()..].trim_start().starts_with([':', '=']))?;
    let value = line.split_once('=')?.1.trim();
    Some(if value == "None" {
        None
    } else {
        Some(value.trim_matches(['\'', '"']).to_string())
    })
}

/// libtorch's version: from torch's `version.py` (a Python wheel) or the
/// `build-version` file of a libtorch archive.
pub fn libtorch_version() -> Option<String> {
    if let Some(Some(v)) = version_py("__version__") {
        return Some(v);
    }
    let root = libtorch_dir()?.parent()?.to_path_buf();
    std::fs::read_to_string(root.join("build-version"))
        .ok()
        .map(|s| s.trim().to_string())
}

/// The CUDA version libtorch was built for, if any.
fn build_cuda_version() -> Option<String> {
    if let Some(v) = version_py("cuda") {
        return v;
    }
    let dir = libtorch_dir()?;
    dir.join("libtorch_cuda.so")
        .exists()
        .then(|| "unknown".to_string())
}

/// The CUDA runtime version in use, or `None` without CUDA.
pub fn cuda_version() -> Option<String> {
    if !crate::device::cuda_available() {
        return None;
    }
    let v = tch::utils::version_cudart();
    if v > 0 {
        Some(format!("{}.{}", v / 1000, (v % 1000) / 10))
    } else {
        build_cuda_version()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_loaded_libtorch() {
        let r = report();
        assert!(
            r.libtorch_dir.is_some(),
            "libtorch_cpu not found among loaded libraries"
        );
        assert!(
            r.libtorch.as_deref().is_some_and(|v| v.starts_with("2.")),
            "{:?}",
            r.libtorch
        );
        assert!(r.render().contains("libtorch"));
    }
}
