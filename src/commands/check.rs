//! `pipe check`: validate pipeline files and report every problem, as text
//! (stderr), JSON or GitHub Actions annotations (stdout).

use pipe_engine::{render, Diagnostic, Result, Severity};

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
                    println!("ok: {} ({} stages)", file.display(), pipeline.stages.len());
                }
                Vec::new()
            }
            Err(d) => d,
        };
        if diagnostics.iter().any(|d| d.severity == Severity::Error) {
            invalid += 1;
        }
        if args.format == CheckFormat::Text && !diagnostics.is_empty() {
            eprint!("{}", render::text(&diagnostics, config.color));
            let n = diagnostics.len();
            eprintln!(
                "\n{}: {n} problem{}\n",
                file.display(),
                if n == 1 { "" } else { "s" }
            );
        }
        all.extend(diagnostics);
    }
    match args.format {
        CheckFormat::Text => {}
        CheckFormat::Json => println!("{}", render::diagnostics_json(&all)),
        CheckFormat::Github => print!("{}", render::github(&all)),
    }
    Ok(if invalid > 0 { 2 } else { 0 })
}
