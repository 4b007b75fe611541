//! `pipe exp plot`: one figure over the cached results of the stages.

use std::path::PathBuf;

use pipe_engine::{Error, Result};
use pipe_report::experiments::figure;
use pipe_report::plot::{png, svg};

use super::Config;
use crate::cli::ExpPlotArgs;

pub fn exp_plot(config: &Config, args: &ExpPlotArgs) -> Result<u8> {
    let rows = super::exp_show::rows(config, &args.pipeline, &args.stages)?;
    let fig = figure(&rows, &args.metric, &args.title, args.log_y)?;
    let dir = args.out.clone().unwrap_or_else(|| {
        let stem = args.pipeline.file.file_stem().unwrap_or_default();
        PathBuf::from("results").join(stem).join("exp-plot")
    });
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, "create", e))?;
    let labels: Vec<&str> = fig.series.iter().map(|s| s.label.as_str()).collect();
    let json = serde_json::json!({
        "title": fig.title,
        "metric": args.metric,
        "series": labels,
    });
    for (name, bytes) in [
        ("figure.png", png(&fig)?),
        ("figure.svg", svg(&fig)?.into_bytes()),
        ("figure.json", json.to_string().into_bytes()),
    ] {
        let path = dir.join(name);
        std::fs::write(&path, bytes).map_err(|e| Error::io(&path, "write", e))?;
    }
    if !config.quiet {
        super::output::err(&format!(
            "drew {} curve{} of `{}` into {}\n",
            labels.len(),
            if labels.len() == 1 { "" } else { "s" },
            args.metric,
            dir.display()
        ));
    }
    Ok(0)
}
