//! Drawing the stage graph of a resolved [`Pipeline`] as plain text,
//! Graphviz dot or Mermaid (`pipe dag`). Edges point the way data flows:
//! from a stage to the stages that use its output.

use std::fmt::Write as _;

use crate::format::pipeline::Pipeline;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DagFormat {
    /// One stage per line in run order, with its inputs under it.
    Text,
    /// Graphviz (`pipe dag p.yaml --format dot | dot -Tsvg`).
    Dot,
    /// A Mermaid flowchart (renders in GitHub Markdown).
    Mermaid,
}

pub fn render(pipeline: &Pipeline, format: DagFormat) -> String {
    match format {
        DagFormat::Text => text(pipeline),
        DagFormat::Dot => dot(pipeline),
        DagFormat::Mermaid => mermaid(pipeline),
    }
}

fn text(p: &Pipeline) -> String {
    let mut out = String::new();
    for stage in &p.stages {
        let gpus = if stage.gpus > 0 {
            format!(", {} gpu", stage.gpus)
        } else {
            String::new()
        };
        let _ = writeln!(out, "{} ({}{gpus})", stage.name, stage.kind.name());
        for (slot, ups) in &stage.inputs {
            let names: Vec<&str> = ups.iter().map(|id| p.stage(*id).name.as_str()).collect();
            let _ = writeln!(out, "    {slot} <- {}", names.join(", "));
        }
    }
    out
}

fn dot(p: &Pipeline) -> String {
    let escape = |s: &str| s.replace('\\', "\\\\").replace('"', "\\\"");
    let quote = |s: &str| format!("\"{}\"", escape(s));
    let mut out = String::from(
        "digraph pipeline {\n    rankdir=LR;\n    node [shape=box, fontname=\"Helvetica\"];\n",
    );
    for stage in &p.stages {
        let label = format!("\"{}\\n{}\"", escape(&stage.name), stage.kind.name());
        let _ = writeln!(out, "    {} [label={label}];", quote(&stage.name));
    }
    for stage in &p.stages {
        for (slot, ups) in &stage.inputs {
            for up in ups {
                let _ = writeln!(
                    out,
                    "    {} -> {} [label={}];",
                    quote(&p.stage(*up).name),
                    quote(&stage.name),
                    quote(slot)
                );
            }
        }
    }
    out.push_str("}\n");
    out
}

fn mermaid(p: &Pipeline) -> String {
    // Mermaid ids cannot hold brackets or commas, so nodes are `s<index>`
    // with the real name as the label.
    let label = |s: &str| s.replace('"', "#quot;");
    let mut out = String::from("flowchart LR\n");
    for stage in &p.stages {
        let _ = writeln!(
            out,
            "    s{}[\"{}<br/><i>{}</i>\"]",
            stage.id.0,
            label(&stage.name),
            stage.kind.name()
        );
    }
    for stage in &p.stages {
        for (slot, ups) in &stage.inputs {
            for up in ups {
                let _ = writeln!(out, "    s{} -->|{}| s{}", up.0, label(slot), stage.id.0);
            }
        }
    }
    out
}
