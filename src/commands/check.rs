//! `pipe check`: validate pipeline files and report every problem, as text
//! (stderr), JSON or GitHub Actions annotations (stdout).

use pipe_engine::{render, Diagnostic, Result, Severity};

use super::output::{err, out};
use super::Config;
use crate::cli::{CheckArgs, CheckFormat};

/// Exit 0 when every file is valid, 2 when any has an error.
pub fn check(config: &Config, args: CheckArgs) -> Result<u8> {
    let registry = crate::registry::registry();
    let mut all: Vec<Diagnostic> = Vec::new();
    let mut invalid = 0usize;
    for file in &args.files {
        let diagnostics = match pipe_engine::check(file, &registry, &args.set) {
            Ok(pipeline) => {
                if args.format == CheckFormat::Text && !config.quiet {
                    out(&format!(
                        "ok: {} ({} stages)\n",
                        file.display(),
                        pipeline.stages.len()
                    ))?;
                }
                Vec::new()
            }
            Err(d) => d,
        };
        if diagnostics.iter().any(|d| d.severity == Severity::Error) {
            invalid += 1;
        }
        if args.format == CheckFormat::Text && !diagnostics.is_empty() {
            err(&render::text(&diagnostics, config.color));
            let n = diagnostics.len();
            err(&format!(
                "\n{}: {n} problem{}\n\n",
                file.display(),
                if n == 1 { "" } else { "s" }
            ));
        }
        all.extend(diagnostics);
    }
    match args.format {
        CheckFormat::Text => {}
        CheckFormat::Json => out(&format!("{}\n", render::diagnostics_json(&all)))?,
        CheckFormat::Github => out(&render::github(&all))?,
    }
    Ok(if invalid > 0 { 2 } else { 0 })
}
