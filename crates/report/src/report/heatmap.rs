//! A small confusion-matrix heatmap as SVG: rows the true class, columns
//! the predicted one, each cell shaded by the share of its row and labelled
//! with its count; class names along both axes.

use super::html::esc;

const CELL: usize = 22;
const LEFT: usize = 78;
const TOP: usize = 8;
const BOTTOM: usize = 74;

/// The heatmap of `confusion` (square, `names.len()` classes).
pub fn svg(confusion: &[Vec<u64>], names: &[String]) -> String {
    let n = confusion.len();
    let (w, h) = (LEFT + n * CELL + 8, TOP + n * CELL + BOTTOM);
    let mut out = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" font-family=\"sans-serif\" font-size=\"9\" role=\"img\">\n"
    );
    for (i, row) in confusion.iter().enumerate() {
        let total: u64 = row.iter().sum::<u64>().max(1);
        let y = TOP + i * CELL;
        let name = names.get(i).map_or("", String::as_str);
        out.push_str(&format!(
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\" dominant-baseline=\"middle\">{}</text>\n",
            LEFT - 4,
            y + CELL / 2,
            esc(name)
        ));
        for (j, &count) in row.iter().enumerate() {
            let share = count as f64 / total as f64;
            // White to a dark blue; text turns white on dark cells.
            let shade = |full: f64, none: f64| (none + (full - none) * share).round() as u8;
            let fill = format!(
                "#{:02x}{:02x}{:02x}",
                shade(8.0, 255.0),
                shade(48.0, 255.0),
                shade(107.0, 255.0)
            );
            let x = LEFT + j * CELL;
            out.push_str(&format!(
                "<rect x=\"{x}\" y=\"{y}\" width=\"{CELL}\" height=\"{CELL}\" fill=\"{fill}\" stroke=\"#ddd\" stroke-width=\"0.5\"><title>true {} / predicted {}: {count}</title></rect>\n",
                esc(name),
                esc(names.get(j).map_or("", String::as_str)),
            ));
            if count > 0 {
                let colour = if share > 0.5 { "#fff" } else { "#222" };
                out.push_str(&format!(
                    "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" dominant-baseline=\"middle\" fill=\"{colour}\">{count}</text>\n",
                    x + CELL / 2,
                    y + CELL / 2
                ));
            }
        }
    }
    let base = TOP + n * CELL + 4;
    for (j, name) in names.iter().enumerate().take(n) {
        let x = LEFT + j * CELL + CELL / 2;
        out.push_str(&format!(
            "<text transform=\"translate({x},{base}) rotate(-50)\" text-anchor=\"end\" dominant-baseline=\"middle\">{}</text>\n",
            esc(name)
        ));
    }
    out.push_str("</svg>\n");
    out
}
