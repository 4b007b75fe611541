//! `report.md`: GitHub-flavoured Markdown, figures linked as PNG files
//! written beside it.

use super::document::{Document, Table};

pub fn render(doc: &Document) -> String {
    let mut out = format!("# {}\n\n", doc.title);
    if !doc.notes.trim().is_empty() {
        out.push_str(doc.notes.trim());
        out.push_str("\n\n");
    }
    out.push_str("## Results\n\n");
    out.push_str(&table(&doc.table));
    if let Some(note) = &doc.reference_note {
        out.push_str(&format!("\n{note}\n"));
    }
    if !doc.unused_references.is_empty() {
        out.push_str(&format!(
            "\n**Note:** these `reference` entries match no run: {}.\n",
            doc.unused_references
                .iter()
                .map(|r| format!("`{r}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if let Some(per_class) = &doc.per_class {
        out.push_str("\n## Test accuracy per class\n\n");
        out.push_str(&table(per_class));
    }
    if !doc.confusions.is_empty() {
        out.push_str("\n## Confusion matrices\n\nRows: true class; columns: predicted class.\n");
        for c in &doc.confusions {
            out.push_str(&format!(
                "\n![confusion matrix of {0}]({1})\n\n*{0}* (stage `{2}`)\n",
                c.stage, c.file_name, c.evaluation
            ));
        }
    }
    if !doc.figures.is_empty() {
        out.push_str("\n## Figures\n");
        for f in &doc.figures {
            out.push_str(&format!(
                "\n![{}]({})\n\n*{}* (stage `{}`)\n",
                f.caption, f.file_name, f.caption, f.stage
            ));
        }
    }
    out.push_str("\n## Provenance\n\n");
    for (label, value) in doc.provenance.rows() {
        out.push_str(&format!("- {label}: `{value}`\n"));
    }
    out
}

fn table(t: &Table) -> String {
    let cell = |s: &str| s.replace('|', "\\|");
    let mut out = String::new();
    out.push_str(&format!(
        "| {} |\n",
        t.header
            .iter()
            .map(|h| cell(h))
            .collect::<Vec<_>>()
            .join(" | ")
    ));
    let align: Vec<&str> = (0..t.header.len())
        .map(|i| if i == 0 { ":--" } else { "--:" })
        .collect();
    out.push_str(&format!("| {} |\n", align.join(" | ")));
    for row in &t.rows {
        let cells: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(i, c)| if i == 0 { format!("`{c}`") } else { cell(c) })
            .collect();
        out.push_str(&format!("| {} |\n", cells.join(" | ")));
    }
    out
}
