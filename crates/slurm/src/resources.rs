//! What a stage asks of the cluster as sbatch flags: the engine's generic
//! [`Resources`] (`resources:` in the pipeline file, validated by `pipe
//! check`) plus the stage's `gpus:`, in the form this cluster wants
//! ([`GpuFlag`]).
//!
//! `extra` flags that pipe sets itself on every job are refused here, at
//! submission, with the stage's name: the engine's format does not know
//! which flags a SLURM job script owns.

use std::str::FromStr;

use pipe_engine::format::resources::Resources;
use pipe_engine::{Error, Result};

/// How `gpus: N` is asked of SLURM: `--gpus=N` (SLURM 19.05 and later) or
/// `--gres=gpu:N` (older clusters, and sites that configure only GRES).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum GpuFlag {
    #[default]
    Gpus,
    Gres,
}

impl FromStr for GpuFlag {
    type Err = String;
    fn from_str(s: &str) -> Result<GpuFlag, String> {
        match s {
            "gpus" => Ok(GpuFlag::Gpus),
            "gres" => Ok(GpuFlag::Gres),
            _ => Err(format!(
                "`{s}` is not a way to ask for GPUs; use `gpus` (--gpus=N) or `gres` (--gres=gpu:N)"
            )),
        }
    }
}

/// Flags the client sets itself: a stage setting them would break how its
/// job is named, logged or found again.
const RESERVED: &[&str] = &[
    "-J",
    "--job-name",
    "-o",
    "--output",
    "-e",
    "--error",
    "--open-mode",
    "--comment",
    "--parsable",
    "--wrap",
    "-D",
    "--chdir",
];

/// The sbatch flags for `resources` and `gpus` GPUs, one per element, or
/// an error when an `extra` flag is one pipe sets itself.
pub fn sbatch_flags(resources: &Resources, gpus: u32, gpu_flag: GpuFlag) -> Result<Vec<String>> {
    let mut flags = Vec::new();
    if let Some(t) = resources.time {
        flags.push(format!("--time={t}"));
    }
    if let Some(m) = resources.mem {
        flags.push(format!("--mem={m}"));
    }
    if let Some(c) = resources.cpus {
        flags.push(format!("--cpus-per-task={c}"));
    }
    match (gpus, gpu_flag) {
        (0, _) => {}
        (n, GpuFlag::Gpus) => flags.push(format!("--gpus={n}")),
        (n, GpuFlag::Gres) => flags.push(format!("--gres=gpu:{n}")),
    }
    if let Some(p) = &resources.partition {
        flags.push(format!("--partition={p}"));
    }
    if let Some(a) = &resources.account {
        flags.push(format!("--account={a}"));
    }
    for flag in &resources.extra {
        let name = flag.split(['=', ' ']).next().unwrap_or(flag);
        let reserved = RESERVED.iter().any(|r| {
            *r == name || (r.len() == 2 && name.starts_with(r) && !name.starts_with("--"))
        });
        if reserved {
            return Err(Error::failed(format!(
                "`resources: {{extra: [...]}}` sets `{name}`, which pipe sets for every job"
            ))
            .with_hint(
                "pipe names each job after its run, logs into the stage's work dir and tags it \
                 with the stage's key; remove this flag",
            ));
        }
        flags.push(flag.clone());
    }
    Ok(flags)
}

/// Where to look when a job's request does not fit the cluster.
pub const SINFO_HINT: &str =
    "`sinfo -o \"%P %l %m %G\"` lists each partition's time limit, memory and GPUs";

/// The sbatch flags of a request, for a message: `` `--mem=2G` `--gpus=1` ``;
/// `None` when it asks for nothing beyond the cluster's defaults.
pub fn shown_flags(resources: &Resources, gpus: u32, gpu_flag: GpuFlag) -> Option<String> {
    let flags = sbatch_flags(resources, gpus, gpu_flag).unwrap_or_default();
    (!flags.is_empty()).then(|| {
        flags
            .iter()
            .map(|f| format!("`{f}`"))
            .collect::<Vec<_>>()
            .join(" ")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use pipe_engine::value::Value;
    use serde_json::json;

    fn flags(v: serde_json::Value, gpus: u32, gpu: GpuFlag) -> Result<Vec<String>> {
        let r = Resources::from_value(&Value::from_json(&v)).unwrap();
        sbatch_flags(&r, gpus, gpu)
    }

    #[test]
    fn every_field_becomes_its_flag() {
        let v = json!({"time": "1:30:00", "mem": "16G", "cpus": 4,
                       "partition": "gpu", "account": "lab-1", "extra": ["--qos=long"]});
        assert_eq!(
            flags(v.clone(), 2, GpuFlag::Gpus).unwrap(),
            [
                "--time=0-01:30:00",
                "--mem=16G",
                "--cpus-per-task=4",
                "--gpus=2",
                "--partition=gpu",
                "--account=lab-1",
                "--qos=long"
            ]
        );
        assert!(flags(v, 2, GpuFlag::Gres)
            .unwrap()
            .contains(&"--gres=gpu:2".to_string()));
        assert_eq!(
            flags(json!({"time": 5, "mem": 100}), 0, GpuFlag::Gpus).unwrap(),
            ["--time=0-00:05:00", "--mem=100M"]
        );
        assert!(flags(json!({}), 0, GpuFlag::Gpus).unwrap().is_empty());
    }

    #[test]
    fn flags_pipe_sets_are_refused() {
        for flag in ["--wrap=x", "-ofile", "-J x", "--output=y", "--comment=k"] {
            let e = flags(json!({"extra": [flag]}), 0, GpuFlag::Gpus).unwrap_err();
            assert!(e.to_string().contains("which pipe sets"), "{flag}: {e}");
        }
        assert!(flags(json!({"extra": ["--open-modex"]}), 0, GpuFlag::Gpus).is_ok());
    }

    #[test]
    fn gpu_flag_names() {
        assert_eq!("gres".parse(), Ok(GpuFlag::Gres));
        assert_eq!("gpus".parse(), Ok(GpuFlag::Gpus));
        assert!("gpu".parse::<GpuFlag>().is_err());
    }
}
