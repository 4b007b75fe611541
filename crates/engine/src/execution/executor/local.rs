//! The executor of this machine: each job on its own thread of the run's
//! scope, at most `jobs` CPU stages at once; a stage with `gpus: n` waits
//! for n free GPU tokens and takes no CPU slot.

use std::sync::mpsc::{self, Receiver, Sender};
use std::thread::Scope;
use std::time::Duration;

use crate::error::Error;
use crate::execution::executor::attempt::{self, Env};
use crate::execution::executor::{Executor, Finished, Start};
use crate::execution::gpu::GpuPool;
use crate::execution::job::Job;
use crate::format::pipeline::Pipeline;

pub struct Local<'scope, 'env: 'scope> {
    scope: &'scope Scope<'scope, 'env>,
    env: &'env Env<'env>,
    pipeline: &'env Pipeline,
    jobs: usize,
    cpu_running: usize,
    pool: GpuPool,
    in_flight: usize,
    tx: Sender<(Finished, Vec<usize>)>,
    rx: Receiver<(Finished, Vec<usize>)>,
}

impl<'scope, 'env> Local<'scope, 'env> {
    /// Runs jobs of `pipeline` on threads of `scope`; `gpus` are the device
    /// ordinals GPU stages may be handed.
    pub fn new(
        scope: &'scope Scope<'scope, 'env>,
        env: &'env Env<'env>,
        pipeline: &'env Pipeline,
        jobs: usize,
        gpus: &[usize],
    ) -> Self {
        let (tx, rx) = mpsc::channel();
        Local {
            scope,
            env,
            pipeline,
            jobs: jobs.max(1),
            cpu_running: 0,
            pool: GpuPool::new(gpus),
            in_flight: 0,
            tx,
            rx,
        }
    }
}

impl Executor for Local<'_, '_> {
    fn start(&mut self, job: Job) -> Start {
        let need = job.gpus as usize;
        let devices = if need > 0 {
            if need > self.pool.total() {
                let e = Error::environment(format!(
                    "stage `{}` needs {need} GPUs but {} are available",
                    job.stage,
                    self.pool.total()
                ))
                .with_hint("pass the devices with `--gpus 0,1`");
                return Start::Never(job, e);
            }
            match self.pool.take(need) {
                Some(devices) => devices,
                None => return Start::Later(job),
            }
        } else {
            if self.cpu_running >= self.jobs {
                return Start::Later(job);
            }
            self.cpu_running += 1;
            Vec::new()
        };
        self.in_flight += 1;
        let kind = self.pipeline.stage(job.stage_id()).kind.clone();
        let env = self.env;
        let tx = self.tx.clone();
        self.scope.spawn(move || {
            let result = attempt::run(&job, &*kind, &devices, env);
            let id = job.stage_id();
            let _ = tx.send((Finished { id, result }, devices));
        });
        Start::Started
    }

    fn wait(&mut self, timeout: Duration) -> Option<Finished> {
        let (finished, devices) = self.rx.recv_timeout(timeout).ok()?;
        self.in_flight -= 1;
        if devices.is_empty() {
            self.cpu_running -= 1;
        } else {
            self.pool.give_back(&devices);
        }
        Some(finished)
    }

    fn in_flight(&self) -> usize {
        self.in_flight
    }

    /// Kinds watch the run's cancel flag, which Ctrl-C has set already.
    fn cancel(&mut self) {}
}
