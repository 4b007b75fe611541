//! `report.html`: one self-contained page (inline CSS, figures and
//! confusion matrices as inline SVG) that opens anywhere without the cache
//! beside it. Free text (`notes`, the reference legend) is Markdown,
//! rendered by pulldown-cmark with raw HTML shown as text.

use base64::Engine as _;
use pulldown_cmark::{Event, Parser};

use super::document::{Document, Table};

/// The table fits a 1280 px window: headers and text cells wrap, long run
/// names break after commas, and the page is as wide as the window allows.
const STYLE: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;max-width:78rem;margin:1.5rem auto;padding:0 1rem;color:#222;line-height:1.45}\
h1{font-size:1.8rem;margin-bottom:.5rem}h2{margin-top:2rem;border-bottom:1px solid #ddd;padding-bottom:.2rem}\
table{border-collapse:collapse;font-size:.8rem;width:100%}th,td{padding:.25rem .3rem;border-bottom:1px solid #e4e4e4;text-align:right}\
th{vertical-align:bottom;font-weight:600}td{overflow-wrap:break-word}td.n{white-space:nowrap}\
th:first-child,td:first-child{text-align:left}td:first-child{min-width:9rem}\
thead th{background:#f4f4f4;border-bottom:2px solid #ccc}tbody tr:hover{background:#fafafa}\
code{font-family:ui-monospace,monospace;font-size:.95em}\
figure{margin:1.5rem 0}figure svg{max-width:100%;height:auto;border:1px solid #eee}figure img{max-width:100%;border:1px solid #eee}figcaption{color:#555;font-size:.9rem}\
.grid{display:flex;flex-wrap:wrap;gap:.5rem 1.5rem}.grid figure{margin:.5rem 0}.grid svg{border:none}\
dl{display:grid;grid-template-columns:max-content auto;gap:.2rem 1rem}dt{color:#555}dd{margin:0;font-family:ui-monospace,monospace;overflow-wrap:anywhere}\
.note{color:#555;font-size:.9rem}.warn{color:#a40}";

pub fn render(doc: &Document) -> String {
    let mut out =
        String::from("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str(&format!(
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
        esc(&doc.title)
    ));
    out.push_str(&format!("<h1>{}</h1>\n", esc(&doc.title)));
    if !doc.notes.trim().is_empty() {
        out.push_str(&markdown(&doc.notes));
    }
    out.push_str("<h2>Results</h2>\n");
    out.push_str(&table(&doc.table));
    if let Some(note) = &doc.reference_note {
        out.push_str(&format!("<div class=\"note\">{}</div>\n", markdown(note)));
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
    if let Some(per_class) = &doc.per_class {
        out.push_str("<h2>Test accuracy per class</h2>\n");
        out.push_str(&table(per_class));
    }
    if !doc.confusions.is_empty() {
        out.push_str("<h2>Confusion matrices</h2>\n<p class=\"note\">Rows: true class; columns: predicted class; shade: share of the row.</p>\n<div class=\"grid\">\n");
        for c in &doc.confusions {
            out.push_str(&format!(
                "<figure>{}<figcaption><code>{}</code></figcaption></figure>\n",
                c.svg,
                breakable(&c.stage)
            ));
        }
        out.push_str("</div>\n");
    }
    if !doc.figures.is_empty() {
        out.push_str("<h2>Figures</h2>\n");
        for f in &doc.figures {
            let picture = match &f.svg {
                Some(svg) => inline_svg(svg),
                None => format!(
                    "<img alt=\"{}\" src=\"data:image/png;base64,{}\">",
                    esc(&f.caption),
                    base64::engine::general_purpose::STANDARD.encode(&f.png)
                ),
            };
            out.push_str(&format!(
                "<figure>{picture}<figcaption>{} (stage <code>{}</code>)</figcaption></figure>\n",
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

fn table(t: &Table) -> String {
    let mut out = String::from("<table>\n<thead><tr>");
    for h in &t.header {
        out.push_str(&format!("<th>{}</th>", esc(h)));
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for row in &t.rows {
        out.push_str("<tr>");
        for (i, c) in row.iter().enumerate() {
            if i == 0 {
                out.push_str(&format!("<td><code>{}</code></td>", breakable(c)));
            } else if c.chars().count() <= 12 {
                // A number with its epoch, a duration: kept on one line.
                out.push_str(&format!("<td class=\"n\">{}</td>", esc(c)));
            } else {
                out.push_str(&format!("<td>{}</td>", esc(c)));
            }
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table>\n");
    out
}

/// A stage name that may wrap after its commas and brackets.
fn breakable(name: &str) -> String {
    esc(name).replace(',', ",<wbr>").replace('[', "[<wbr>")
}

/// An SVG document as an element of the page: without its XML prolog.
fn inline_svg(svg: &str) -> String {
    match svg.find("<svg") {
        Some(i) => svg[i..].to_string(),
        None => String::new(),
    }
}

/// Markdown to HTML; raw HTML in the text is shown, not interpreted.
pub fn markdown(text: &str) -> String {
    let events = Parser::new(text).map(|e| match e {
        Event::Html(h) | Event::InlineHtml(h) => Event::Text(h),
        e => e,
    });
    let mut out = String::new();
    pulldown_cmark::html::push_html(&mut out, events);
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
