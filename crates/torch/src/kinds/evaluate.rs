//! Runs `kind: evaluate` (declared in `pipe_torch_spec::kinds::evaluate`):
//! [`crate::evaluate::evaluate_run`] on the stage's inputs.

use pipe_engine::{Context, Kind, Result};
use pipe_torch_spec::evaluate::{self, EvaluateSpec};

use crate::evaluate::{evaluate_run, write_outputs, Request};

/// `kind: evaluate`, run in this process.
pub const KIND: Kind = Kind::in_process(evaluate::DECLARATION, run);

fn run(ctx: &Context) -> Result<()> {
    let spec = EvaluateSpec::from_params(ctx.params)?;
    let run = ctx.input("model")?;
    let weights = run.file(&format!("{}.safetensors", spec.checkpoint))?;
    let run_json = run.file("run.json")?;
    let data = ctx.input("data")?;
    let device = crate::device::resolve(&spec.device, ctx.gpus)?;
    let request = Request {
        run_json: run_json.to_path_buf(),
        weights: weights.to_path_buf(),
        test: data.file("test.safetensors")?.to_path_buf(),
        batch_size: spec.batch_size,
        device,
    };
    let tally = evaluate_run(&request, None)?;
    write_outputs(ctx.out, &tally)
}
