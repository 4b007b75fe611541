//! `report.html`: one self-contained page (inline CSS, figures as base64
//! PNG data URIs) that opens anywhere without the cache beside it.

use base64::Engine as _;

use super::document::Document;

const STYLE: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;max-width:72rem;margin:2rem auto;padding:0 1rem;color:#222;line-height:1.45}\
h1{font-size:1.8rem;margin-bottom:.5rem}h2{margin-top:2rem;border-bottom:1px solid #ddd;padding-bottom:.2rem}\
table{border-collapse:collapse;font-size:.92rem}th,td{padding:.3rem .6rem;border-bottom:1px solid #e4e4e4;text-align:right;white-space:nowrap}\
th:first-child,td:first-child{text-align:left}thead th{background:#f4f4f4;border-bottom:2px solid #ccc}tbody tr:hover{background:#fafafa}\
figure{margin:1.5rem 0}figure img{max-width:100%;border:1px solid #eee}figcaption{color:#555;font-size:.9rem}\
dl{display:grid;grid-template-columns:max-content auto;gap:.2rem 1rem}dt{color:#555}dd{margin:0;font-family:ui-monospace,monospace;overflow-wrap:anywhere}\
.scroll{overflow-x:auto}.note{color:#555;font-size:.9rem}.warn{color:#a40}";

pub fn render(doc: &Document) -> String {
    let mut out =
        String::from("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str(&format!(
        "<title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
        esc(&doc.title)
    ));
    out.push_str(&format!("<h1>{}</h1>\n", esc(&doc.title)));
    if !doc.notes.trim().is_empty() {
        for para in doc.notes.split("\n\n").filter(|p| !p.trim().is_empty()) {
            out.push_str(&format!("<p>{}</p>\n", esc(para.trim())));
        }
    }
    out.push_str("<h2>Results</h2>\n<div class=\"scroll\"><table>\n<thead><tr>");
    for h in &doc.table.header {
        out.push_str(&format!("<th>{}</th>", esc(h)));
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for row in &doc.table.rows {
        out.push_str("<tr>");
        for (i, c) in row.iter().enumerate() {
            if i == 0 {
                out.push_str(&format!("<td><code>{}</code></td>", esc(c)));
            } else {
                out.push_str(&format!("<td>{}</td>", esc(c)));
            }
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table></div>\n");
    if let Some(note) = &doc.reference_note {
        out.push_str(&format!("<p class=\"note\">{}</p>\n", esc(note)));
    }
    if !doc.unused_references.is_empty() {
        let list: Vec<String> = doc
            .unused_references
            .iter()
            .map(|r| format!("<code>{}</code>", esc(r)))
            .collect();
        out.push_str(&format!(
            "<p class=\"warn\">These <code>reference</code> entries match no run: {}.</p>\n",
            list.join(", ")
        ));
    }
    if !doc.figures.is_empty() {
        out.push_str("<h2>Figures</h2>\n");
        for f in &doc.figures {
            let data = base64::engine::general_purpose::STANDARD.encode(&f.png);
            out.push_str(&format!(
                "<figure><img alt=\"{0}\" src=\"data:image/png;base64,{data}\"><figcaption>{0} (stage <code>{1}</code>)</figcaption></figure>\n",
                esc(&f.caption),
                esc(&f.stage)
            ));
        }
    }
    out.push_str("<h2>Provenance</h2>\n<dl>\n");
    for (label, value) in doc.provenance.rows() {
        out.push_str(&format!(
            "<dt>{}</dt><dd>{}</dd>\n",
            esc(label),
            esc(&value)
        ));
    }
    out.push_str("</dl>\n</body>\n</html>\n");
    out
}

/// Escapes text for HTML element content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}
