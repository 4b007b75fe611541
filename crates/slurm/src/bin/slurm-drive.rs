//! `slurm-drive`: submits N trivial stages through [`pipe_slurm::Run`] and
//! follows them to their results, printing one line per event.
//!
//! It is the pipe side of `benches/slurm.sh` until `pipe run --executor
//! slurm` drives the same client, and the client process that the
//! re-attach test kills with SIGKILL and starts again. SIGINT and SIGTERM
//! cancel every job of the run (one scancel) and exit 130.
//!
//! ```text
//! slurm-drive --state DIR --work DIR [--jobs N] [--name NAME]
//!             [--command SHELL] [--time T] [--mem M] [--gpus N] [--gpu-flag gpus|gres]
//!             [--first-poll-ms MS] [--max-poll-ms MS] [--grace-ms MS]
//! ```
//!
//! `--probe DIR` instead runs the shared-filesystem check on DIR (exit 0 if
//! the nodes see it, 3 if not); `--status` lists the jobs of the run in
//! `--state` with their squeue states (`<key> <job> <STATE|gone>`).
//!
//! Stage `i` runs `bash -c SHELL` (default `true`) with `STAGE=i`, in work
//! dir `DIR/s<i>`, under stage key `s<i>`. Output lines: `submitted|reattached
//! <key> <job>`, `state <key> <job> <STATE>`, `progress <key> <event>`, `done
//! <key> <job>`, `failed <key> <job>` followed by the error, and at the end
//! `calls sbatch=.. squeue=.. sacct=.. scancel=..` and `wall_ms=..` (first
//! submission to last result).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use pipe_engine::Error;
use pipe_slurm::{Config, Event, JobSpec, Resources, Run, Submitted, Tools};

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::Relaxed);
}

struct Args {
    state: PathBuf,
    work: PathBuf,
    jobs: usize,
    name: String,
    command: String,
    resources: serde_json::Map<String, serde_json::Value>,
    gpus: u32,
    config: Config,
    probe: Option<PathBuf>,
    status: bool,
}

fn parse() -> Result<Args, String> {
    let mut args = Args {
        state: PathBuf::new(),
        work: PathBuf::new(),
        jobs: 1,
        name: format!("pipe-drive-{}", std::process::id()),
        command: "true".into(),
        resources: serde_json::Map::new(),
        gpus: 0,
        config: Config::default(),
        probe: None,
        status: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--status" {
            args.status = true;
            continue;
        }
        let value = it.next().ok_or_else(|| format!("`{flag}` needs a value"))?;
        let ms = || {
            value
                .parse()
                .map(Duration::from_millis)
                .map_err(|e| format!("{flag}: {e}"))
        };
        match flag.as_str() {
            "--state" => args.state = value.into(),
            "--work" => args.work = value.into(),
            "--probe" => args.probe = Some(value.into()),
            "--jobs" => args.jobs = value.parse().map_err(|e| format!("--jobs: {e}"))?,
            "--name" => args.name = value,
            "--command" => args.command = value,
            "--gpus" => args.gpus = value.parse().map_err(|e| format!("--gpus: {e}"))?,
            "--time" | "--mem" => {
                let v = value
                    .parse::<u64>()
                    .map_or(value.clone().into(), Into::into);
                args.resources.insert(flag[2..].to_string(), v);
            }
            "--gpu-flag" => args.config.gpu_flag = value.parse()?,
            "--first-poll-ms" => args.config.first_poll = ms()?,
            "--max-poll-ms" => args.config.max_poll = ms()?,
            "--grace-ms" => args.config.nfs_grace = ms()?,
            _ => return Err(format!("unknown flag `{flag}`")),
        }
    }
    if args.probe.is_none()
        && (args.state.as_os_str().is_empty() || (!args.status && args.work.as_os_str().is_empty()))
    {
        return Err("--state and --work (or --probe) are required".into());
    }
    Ok(args)
}

fn main() -> ExitCode {
    let args = match parse() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    // SAFETY: the handler only stores to an atomic.
    unsafe {
        libc::signal(libc::SIGINT, on_signal as *const () as libc::sighandler_t);
        libc::signal(libc::SIGTERM, on_signal as *const () as libc::sighandler_t);
    }
    match drive(args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("error: {e}");
            if let Some(hint) = e.hint() {
                eprintln!("hint: {hint}");
            }
            ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(1))
        }
    }
}

fn drive(args: Args) -> Result<bool, Error> {
    if let Some(dir) = &args.probe {
        let place = pipe_slurm::Resources::default();
        pipe_slurm::probe::check_shared(Tools::default(), args.config, dir, &place, None, &STOP)?;
        println!("shared {}", dir.display());
        return Ok(true);
    }
    if args.status {
        for (key, r, state) in pipe_slurm::status::jobs(&Tools::default(), &args.state)? {
            let state = state.map_or_else(|| "gone".to_string(), |s| s.to_string());
            println!("{key} {} {state}", r.job);
        }
        return Ok(true);
    }
    let resources =
        Resources::from_value(&pipe_engine::Value::from_json(&args.resources.into()))
            .map_err(|problems| Error::failed(format!("bad resources: {}", problems[0].message)))?;
    let mut run = Run::open(Tools::default(), args.config, &args.state, &args.name)?;
    println!("name {}", run.name());
    let start = Instant::now();
    for i in 0..args.jobs {
        let spec = JobSpec {
            key: format!("s{i}"),
            stage: format!("stage {i}"),
            work: args.work.join(format!("s{i}")),
            cwd: args.work.clone(),
            command: vec!["bash".into(), "-c".into(), args.command.clone()],
            env: vec![("STAGE".into(), i.to_string())],
            resources: resources.clone(),
            gpus: args.gpus,
        };
        match run.submit(&spec) {
            Ok(Submitted::New(job)) => println!("submitted s{i} {job}"),
            Ok(Submitted::Reattached(job)) => println!("reattached s{i} {job}"),
            Err(e) => {
                // Leave nothing of a half-submitted run in the queue.
                run.cancel_all()?;
                return Err(e);
            }
        }
    }
    let mut all_ok = true;
    let mut done = Vec::new();
    run.wait(&STOP, |event| match event {
        Event::State { key, job, state } => println!("state {key} {job} {state}"),
        Event::Progress { key, event } => {
            println!(
                "progress {key} {}",
                serde_json::to_string(&event).unwrap_or_default()
            )
        }
        Event::Finished { key, job, outcome } => {
            match outcome {
                Ok(()) => println!("done {key} {job}"),
                Err(e) => {
                    all_ok = false;
                    println!("failed {key} {job}\n{e}");
                    if let Some(hint) = e.hint() {
                        println!("hint: {hint}");
                    }
                }
            }
            done.push(key);
        }
    })?;
    let wall = start.elapsed();
    run.forget(done.iter().map(String::as_str))?;
    let c = run.tools().calls();
    println!(
        "calls sbatch={} squeue={} sacct={} scancel={}",
        c.sbatch, c.squeue, c.sacct, c.scancel
    );
    println!("wall_ms={}", wall.as_millis());
    Ok(all_ok)
}
