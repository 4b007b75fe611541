//! Resolving input references to stages: an expanded name
//! (`train[resnet50,transfer]`), a matrix template's bare name (all its
//! entries), or a glob with `*` and `?` over expanded names.

use std::cell::RefCell;
use std::collections::HashMap;

use crate::diagnostic::sink::{SetHint, Sink};
use crate::format::pattern::glob;
use crate::format::yaml::Pos;

/// The names references can use.
pub struct Names<'a> {
    /// Expanded stage names, by declaration index.
    pub stages: &'a [String],
    pub by_name: HashMap<&'a str, usize>,
    /// Matrix template -> its entries, in expansion order.
    pub templates: HashMap<&'a str, Vec<usize>>,
    /// Glob pattern -> its sorted matches. Matrix stages repeat the same
    /// glob once per entry (1,000 times in a large sweep); matching it
    /// against every name each time made loading quadratic.
    globs: RefCell<HashMap<String, Vec<usize>>>,
    /// Stage indices sorted by name: a glob is matched only against the
    /// names that start with its literal prefix (`train[7,*]` against the
    /// `train[7,` entries), so that a glob per matrix entry, each different,
    /// does not cost the whole name list each.
    sorted: Vec<usize>,
    /// Unknown references given a "did you mean" so far: each search costs
    /// the whole name list, so only the first [`SUGGESTED`] get one.
    suggested: RefCell<usize>,
}

/// How many unknown references get a "did you mean" searched for.
const SUGGESTED: usize = 100;

impl<'a> Names<'a> {
    pub fn new(
        stages: &'a [String],
        templates: impl IntoIterator<Item = (&'a str, usize)>,
    ) -> Names<'a> {
        let mut by_name = HashMap::with_capacity(stages.len());
        for (i, name) in stages.iter().enumerate() {
            by_name.entry(name.as_str()).or_insert(i);
        }
        let mut map: HashMap<&str, Vec<usize>> = HashMap::new();
        for (template, i) in templates {
            map.entry(template).or_default().push(i);
        }
        let mut sorted: Vec<usize> = (0..stages.len()).collect();
        sorted.sort_by(|a, b| stages[*a].cmp(&stages[*b]));
        Names {
            stages,
            by_name,
            templates: map,
            globs: RefCell::new(HashMap::new()),
            sorted,
            suggested: RefCell::new(0),
        }
    }

    /// The stages one reference names; `None` after reporting.
    pub fn resolve(&self, reference: &str, pos: Pos, sink: &mut Sink) -> Option<Vec<usize>> {
        if reference.contains(['*', '?']) {
            if let Some(hits) = self.globs.borrow().get(reference) {
                return Some(hits.clone());
            }
            let prefix = &reference[..reference.find(['*', '?']).unwrap_or(reference.len())];
            let from = self
                .sorted
                .partition_point(|i| self.stages[*i].as_str() < prefix);
            let hits: Vec<usize> = self.sorted[from..]
                .iter()
                .take_while(|i| self.stages[**i].starts_with(prefix))
                .filter(|i| glob(reference, &self.stages[**i]))
                .copied()
                .collect();
            if hits.is_empty() {
                sink.error(pos, format!("`{reference}` matches no stage"))
                    .set_hint("globs match expanded stage names such as `train[resnet50,transfer]`; `pipe dag` lists them");
                return None;
            }
            self.globs
                .borrow_mut()
                .insert(reference.to_string(), hits.clone());
            return Some(hits);
        }
        if let Some(i) = self.by_name.get(reference) {
            return Some(vec![*i]);
        }
        if let Some(entries) = self.templates.get(reference) {
            return Some(entries.clone());
        }
        let candidates = self
            .stages
            .iter()
            .map(String::as_str)
            .chain(self.templates.keys().copied());
        let d = sink.error(pos, format!("unknown stage `{reference}`"));
        let mut suggested = self.suggested.borrow_mut();
        *suggested += 1;
        let close = if *suggested <= SUGGESTED {
            crate::diagnostic::suggest(reference, candidates)
        } else {
            None
        };
        match close {
            Some(s) => d.set_hint(format!("did you mean `{s}`?")),
            None => d.set_hint("an input names another stage of this file"),
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_resolve_by_name_template_and_glob() {
        let stages: Vec<String> = ["data", "t[b]", "t[a]", "eval"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let names = Names::new(&stages, [("data", 0), ("t", 1), ("t", 2), ("eval", 3)]);
        let mut sink = Sink::new(std::path::Path::new("p.yaml"));
        assert_eq!(
            names.resolve("t", Pos::default(), &mut sink),
            Some(vec![1, 2])
        );
        assert_eq!(
            names.resolve("t[*]", Pos::default(), &mut sink),
            Some(vec![2, 1])
        );
        assert_eq!(
            names.resolve("t[a]", Pos::default(), &mut sink),
            Some(vec![2])
        );
        assert_eq!(names.resolve("dta", Pos::default(), &mut sink), None);
        assert_eq!(names.resolve("x*", Pos::default(), &mut sink), None);
        let messages: Vec<&str> = sink
            .diagnostics
            .iter()
            .map(|d| d.message.as_str())
            .collect();
        assert_eq!(messages, ["unknown stage `dta`", "`x*` matches no stage"]);
        assert_eq!(
            sink.diagnostics[0].hint.as_deref(),
            Some("did you mean `data`?")
        );
    }
}
