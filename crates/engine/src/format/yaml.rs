//! A small YAML tree that remembers where every node was written.
//!
//! serde_yaml gives no node positions, and every diagnostic must point at the
//! offending key or value, so pipeline files are read with yaml-rust2's event
//! parser into [`Node`]s carrying 1-based line/column and length. This module
//! knows YAML only: nothing about stages or kinds. It also resolves plain
//! scalars to typed [`Value`]s (YAML 1.2 core schema), so that `1e-3` and
//! `0.001` become the same value however the file is written.

use std::collections::HashMap;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

use crate::kind::value::Value;

// Where a node was written; diagnostics turn it into a `Span`.
pub use crate::diagnostic::Pos;

/// One node of the tree.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub pos: Pos,
    pub data: Data,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Data {
    /// A scalar as written; `quoted` scalars are always strings.
    Scalar {
        text: String,
        quoted: bool,
    },
    Seq(Vec<Node>),
    /// Keys in the order written (duplicates are reported while parsing).
    Map(Vec<(Node, Node)>),
}

/// A problem found while reading YAML, before anything about pipelines.
#[derive(Clone, Debug, PartialEq)]
pub struct SyntaxError {
    pub message: String,
    pub pos: Pos,
    pub hint: Option<String>,
}

impl Node {
    /// The scalar's text, if this is a scalar.
    pub fn as_scalar(&self) -> Option<&str> {
        match &self.data {
            Data::Scalar { text, .. } => Some(text),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&[(Node, Node)]> {
        match &self.data {
            Data::Map(m) => Some(m),
            _ => None,
        }
    }

    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.data {
            Data::Seq(s) => Some(s),
            _ => None,
        }
    }

    /// What kind of node this is, for messages ("a mapping", "a string").
    pub fn describe(&self) -> &'static str {
        match &self.data {
            Data::Seq(_) => "a list",
            Data::Map(_) => "a mapping",
            Data::Scalar { .. } => scalar_value(self).type_name(),
        }
    }

    /// The typed value of this node (scalars resolved, no interpolation).
    pub fn to_value(&self) -> Value {
        match &self.data {
            Data::Scalar { .. } => scalar_value(self),
            Data::Seq(items) => Value::List(items.iter().map(Node::to_value).collect()),
            Data::Map(entries) => Value::Map(
                entries
                    .iter()
                    .map(|(k, v)| (k.as_scalar().unwrap_or_default().to_string(), v.to_value()))
                    .collect(),
            ),
        }
    }
}

fn scalar_value(node: &Node) -> Value {
    match &node.data {
        Data::Scalar { text, quoted: true } => Value::Str(text.clone()),
        Data::Scalar {
            text,
            quoted: false,
        } => resolve_plain(text),
        _ => Value::Null,
    }
}

/// Resolves a plain (unquoted) scalar by the YAML 1.2 core schema.
pub fn resolve_plain(text: &str) -> Value {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Value::Float(f64::INFINITY)
        }
        "-.inf" | "-.Inf" | "-.INF" => return Value::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Value::Float(f64::NAN),
        _ => {}
    }
    if let Some(hex) = text.strip_prefix("0x") {
        if let Ok(i) = i64::from_str_radix(hex, 16) {
            return Value::Int(i);
        }
    }
    if let Some(oct) = text.strip_prefix("0o") {
        if let Ok(i) = i64::from_str_radix(oct, 8) {
            return Value::Int(i);
        }
    }
    let numeric = |c: char| c.is_ascii_digit() || matches!(c, '-' | '+' | '.' | 'e' | 'E');
    if text.chars().any(|c| c.is_ascii_digit()) && text.chars().all(numeric) {
        let digits = text.trim_start_matches(['-', '+']);
        if !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit()) {
            if let Ok(i) = text.parse::<i64>() {
                return Value::Int(i);
            }
        }
        if let Ok(f) = text.parse::<f64>() {
            return Value::Float(f);
        }
    }
    Value::Str(text.to_string())
}

/// How many nodes aliases may add to a document, in all. Each alias is
/// expanded into a copy of its anchor's tree; without a bound, a few hundred
/// bytes of nested aliases ("billion laughs") expand to billions of nodes.
pub const MAX_ALIAS_NODES: usize = 1_000_000;

/// How deeply collections may nest. The tree is walked recursively (clone,
/// drop, interpolation), so depth must stay far from the stack's limit; a
/// pipeline file needs a handful of levels.
pub const MAX_DEPTH: usize = 128;

/// Parses one YAML document. `Ok(None)` for an empty file. Duplicate keys are
/// reported in the error list but the tree is still returned (first wins).
/// A leading byte-order mark is skipped, as YAML allows.
pub fn parse(source: &str) -> Result<(Option<Node>, Vec<SyntaxError>), SyntaxError> {
    let source = source.strip_prefix('\u{feff}').unwrap_or(source);
    if let Some(e) = forbidden_char(source) {
        return Err(e);
    }
    let mut builder = Builder {
        source: source.chars().collect(),
        stack: Vec::new(),
        anchors: HashMap::new(),
        root: None,
        errors: Vec::new(),
        documents: 0,
        nodes: 0,
        alias_nodes: 0,
        fatal: None,
    };
    // Events are pulled one by one: `Parser::load` recurses once per level
    // of nesting, which overflows the stack on a deeply nested file before
    // the builder can refuse it.
    let mut parser = Parser::new_from_str(source);
    let loaded = loop {
        match parser.next_token() {
            Ok((Event::StreamEnd, _)) => break Ok(()),
            Ok((event, mark)) => builder.on_event(event, mark),
            Err(e) => break Err(e),
        }
        if let Some(e) = builder.fatal.take() {
            return Err(e);
        }
    };
    loaded.map_err(|e| {
        // The scanner's words for a tab are unhelpful, and tabs are the most
        // common mistake; tabs inside block scalars are fine and never get here.
        if let Some((line, column)) = tab_indent(source, e.marker().line() + 1) {
            return SyntaxError {
                message: "tab character in indentation".into(),
                pos: Pos {
                    line,
                    column,
                    len: 1,
                },
                hint: Some("YAML indents with spaces only; replace the tab with spaces".into()),
            };
        }
        SyntaxError {
            message: syntax_message(e.info()),
            pos: pos_of(e.marker(), 1),
            hint: Some(
                "look here and just above for a wrong indentation, an unclosed quote or bracket, or a `: ` in an unquoted value (quote it)"
                    .into(),
            ),
        }
    })?;
    if let Some(e) = builder
        .errors
        .iter()
        .find(|e| e.message.starts_with("more than one"))
    {
        return Err(e.clone());
    }
    Ok((builder.root, builder.errors))
}

/// The first character YAML does not allow in a stream (NUL and the other
/// C0 controls but tab and line breaks, DEL, C1 controls, U+FFFE/U+FFFF).
/// The scanner takes NUL for the end of the input, so a NUL would silently
/// drop everything after it.
fn forbidden_char(source: &str) -> Option<SyntaxError> {
    let printable = |c: char| {
        matches!(c, '\t' | '\n' | '\r' | ' '..='~' | '\u{85}')
            || ('\u{a0}'..='\u{d7ff}').contains(&c)
            || ('\u{e000}'..='\u{fffd}').contains(&c)
            || c >= '\u{10000}'
    };
    let (index, c) = source.char_indices().find(|(_, c)| !printable(*c))?;
    let before = &source[..index];
    let line = before.matches('\n').count() + 1;
    let column = before[before.rfind('\n').map_or(0, |i| i + 1)..]
        .chars()
        .count()
        + 1;
    let what = if c == '\0' {
        "a NUL byte".to_string()
    } else {
        format!("the control character U+{:04X}", u32::from(c))
    };
    Some(SyntaxError {
        message: format!("{what} in the file"),
        pos: Pos {
            line,
            column,
            len: 1,
        },
        hint: Some(
            "a pipeline file is text; remove the character (was the file saved as binary or UTF-16?)"
                .into(),
        ),
    })
}

/// The first tab used as indentation up to line `last`.
fn tab_indent(source: &str, last: usize) -> Option<(usize, usize)> {
    for (i, line) in source.lines().take(last).enumerate() {
        let indent: String = line
            .chars()
            .take_while(|c| *c == ' ' || *c == '\t')
            .collect();
        if let Some(col) = indent.find('\t') {
            let rest = line[indent.len()..].trim_start();
            if !rest.is_empty() && !rest.starts_with('#') {
                return Some((i + 1, col + 1));
            }
        }
    }
    None
}

fn syntax_message(info: &str) -> String {
    let info = info.trim_end_matches('.');
    format!("invalid YAML: {info}")
}

fn pos_of(mark: &Marker, len: usize) -> Pos {
    Pos {
        line: mark.line(),
        column: mark.col() + 1,
        len,
    }
}

enum Open {
    /// Start, items, anchor, nodes made before it started.
    Seq(Pos, Vec<Node>, Option<usize>, usize),
    /// A mapping being built.
    Map(OpenMap),
}

/// Mappings up to this many keys are scanned for duplicates.
const SCAN_KEYS: usize = 8;

struct OpenMap {
    pos: Pos,
    entries: Vec<(Node, Node)>,
    /// Scalar key -> its index in `entries`, once there are more than
    /// [`SCAN_KEYS`]: duplicates are found in O(1) per key (a scan made a
    /// mapping of n keys cost O(n^2)); small mappings, nearly all of them,
    /// are scanned and spared the allocations.
    keys: HashMap<String, usize>,
    key: Option<Node>,
    anchor: Option<usize>,
    /// Written in flow style (`{...}`).
    flow: bool,
    /// Nodes made before it started.
    start: usize,
}

struct Builder {
    source: Vec<char>,
    stack: Vec<Open>,
    /// Anchor id -> its node and how many nodes it holds.
    anchors: HashMap<usize, (Node, usize)>,
    root: Option<Node>,
    errors: Vec<SyntaxError>,
    documents: usize,
    /// Nodes made so far, aliases counted by what they expand to.
    nodes: usize,
    /// Nodes added by aliases so far (bounded by [`MAX_ALIAS_NODES`]).
    alias_nodes: usize,
    /// A problem that stops building; later events are ignored.
    fatal: Option<SyntaxError>,
}

impl Builder {
    /// Length on the source line of a scalar starting at `mark`.
    fn scalar_len(&self, mark: &Marker, text: &str, style: TScalarStyle) -> usize {
        let start = mark.index();
        match style {
            TScalarStyle::SingleQuoted | TScalarStyle::DoubleQuoted => {
                let quote = if style == TScalarStyle::SingleQuoted {
                    '\''
                } else {
                    '"'
                };
                let mut i = start + 1;
                while i < self.source.len() && self.source[i] != '\n' {
                    let c = self.source[i];
                    if c == '\\' && quote == '"' {
                        i += 2;
                        continue;
                    }
                    if c == quote {
                        if quote == '\'' && self.source.get(i + 1) == Some(&'\'') {
                            i += 2;
                            continue;
                        }
                        return i + 1 - start;
                    }
                    i += 1;
                }
                i - start
            }
            TScalarStyle::Plain => {
                let first = text.lines().next().unwrap_or("");
                first.chars().count()
            }
            _ => 1,
        }
    }

    /// Adds a finished node holding `size` nodes to its parent.
    fn finish(&mut self, node: Node, anchor: usize, size: usize) {
        // Anchored trees are copied too (nested anchors copy a tree once per
        // level), so the copy counts against the alias budget.
        if anchor > 0 && self.charge(size, node.pos) {
            self.anchors.insert(anchor, (node.clone(), size));
        }
        match self.stack.last_mut() {
            None => self.root = Some(node),
            Some(Open::Seq(_, items, _, _)) => items.push(node),
            Some(Open::Map(map)) => match map.key.take() {
                None => map.key = Some(node),
                Some(k) => {
                    let duplicate = k.as_scalar().and_then(|text| {
                        if map.entries.len() <= SCAN_KEYS {
                            map.entries
                                .iter()
                                .find(|(old, _)| old.as_scalar() == Some(text))
                        } else {
                            map.keys.get(text).map(|i| &map.entries[*i])
                        }
                    });
                    if let Some((old, _)) = duplicate {
                        self.errors.push(SyntaxError {
                            message: format!(
                                "duplicate key `{}`",
                                k.as_scalar().unwrap_or_default()
                            ),
                            pos: k.pos,
                            hint: Some(format!(
                                "`{}` is already set on line {}; remove one of them",
                                old.as_scalar().unwrap_or_default(),
                                old.pos.line
                            )),
                        });
                    } else {
                        map.entries.push((k, node));
                        // The index starts when scanning stops, with every key so far.
                        let from = match map.entries.len() {
                            n if n <= SCAN_KEYS => n,
                            n if n == SCAN_KEYS + 1 => 0,
                            n => n - 1,
                        };
                        for (i, (key, _)) in map.entries.iter().enumerate().skip(from) {
                            if let Some(text) = key.as_scalar() {
                                map.keys.insert(text.to_string(), i);
                            }
                        }
                    }
                }
            },
        }
    }

    /// Opens a collection, unless that nests too deeply.
    fn open(&mut self, open: Open, mark: &Marker) {
        if self.stack.len() >= MAX_DEPTH {
            self.fatal = Some(SyntaxError {
                message: format!("YAML nested more than {MAX_DEPTH} levels deep"),
                pos: pos_of(mark, 1),
                hint: Some("a pipeline file needs a few levels; flatten the structure".into()),
            });
            return;
        }
        self.stack.push(open);
    }

    /// A copy of anchor `id`'s tree, within the alias budget.
    fn alias(&mut self, id: usize, mark: &Marker) -> Option<(Node, usize)> {
        let pos = pos_of(mark, 1);
        let Some((_, size)) = self.anchors.get(&id) else {
            let empty = Data::Scalar {
                text: String::new(),
                quoted: false,
            };
            return Some((Node { pos, data: empty }, 1));
        };
        let size = *size;
        if !self.charge(size, pos) {
            return None;
        }
        let data = self.anchors[&id].0.data.clone();
        Some((Node { pos, data }, size))
    }

    /// Counts `size` copied nodes against [`MAX_ALIAS_NODES`]; false (and
    /// building stops) once it is spent.
    fn charge(&mut self, size: usize, pos: Pos) -> bool {
        self.alias_nodes = self.alias_nodes.saturating_add(size);
        if self.alias_nodes <= MAX_ALIAS_NODES {
            return true;
        }
        self.fatal = Some(SyntaxError {
            message: format!("YAML aliases expand to more than {MAX_ALIAS_NODES} nodes"),
            pos,
            hint: Some(
                "each `*alias` is a full copy of its anchor, and nested aliases multiply (an \"alias bomb\"); write the values out or use fewer aliases"
                    .into(),
            ),
        });
        false
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, event: Event, mark: Marker) {
        if self.fatal.is_some() {
            return;
        }
        match event {
            Event::DocumentStart => {
                self.documents += 1;
                if self.documents > 1 {
                    self.errors.push(SyntaxError {
                        message: "more than one YAML document in the file".into(),
                        pos: pos_of(&mark, 3),
                        hint: Some("a pipeline file holds one document; remove the `---`".into()),
                    });
                }
            }
            Event::Scalar(text, style, anchor, _tag) => {
                let len = self.scalar_len(&mark, &text, style);
                let quoted = style != TScalarStyle::Plain;
                let node = Node {
                    pos: pos_of(&mark, len),
                    data: Data::Scalar { text, quoted },
                };
                self.nodes += 1;
                self.finish(node, anchor, 1);
            }
            Event::SequenceStart(anchor, _) => {
                let open = Open::Seq(pos_of(&mark, 0), Vec::new(), Some(anchor), self.nodes);
                self.open(open, &mark);
            }
            Event::MappingStart(anchor, _) => {
                let open = Open::Map(OpenMap {
                    pos: pos_of(&mark, 0),
                    entries: Vec::new(),
                    keys: HashMap::new(),
                    key: None,
                    anchor: Some(anchor),
                    flow: self.source.get(mark.index()) == Some(&'{'),
                    start: self.nodes,
                });
                self.open(open, &mark);
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let (node, anchor, start) = match self.stack.pop() {
                    Some(Open::Seq(pos, items, anchor, start)) => (
                        Node {
                            pos,
                            data: Data::Seq(items),
                        },
                        anchor,
                        start,
                    ),
                    Some(Open::Map(map)) => {
                        // A block mapping's start mark lies after its first
                        // key; its first key is where a reader looks.
                        let pos = match map.entries.first() {
                            Some((k, _)) if !map.flow => Pos { len: 0, ..k.pos },
                            _ => map.pos,
                        };
                        (
                            Node {
                                pos,
                                data: Data::Map(map.entries),
                            },
                            map.anchor,
                            map.start,
                        )
                    }
                    None => return,
                };
                self.nodes += 1;
                let size = self.nodes - start;
                self.finish(node, anchor.unwrap_or(0), size);
            }
            Event::Alias(id) => {
                if let Some((node, size)) = self.alias(id, &mark) {
                    self.nodes += size;
                    self.finish(node, 0, size);
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root(src: &str) -> Node {
        parse(src).unwrap().0.unwrap()
    }

    #[test]
    fn positions_are_one_based_and_point_at_values() {
        let n = root("a: 1\nstages:\n  train:\n    kind: 'trian'\n");
        let stages = &n.as_map().unwrap()[1];
        assert_eq!(
            stages.0.pos,
            Pos {
                line: 2,
                column: 1,
                len: 6
            }
        );
        let train = &stages.1.as_map().unwrap()[0].1;
        let kind = &train.as_map().unwrap()[0].1;
        assert_eq!(
            kind.pos,
            Pos {
                line: 4,
                column: 11,
                len: 7
            }
        );
        assert_eq!(kind.to_value(), Value::Str("trian".into()));
    }

    #[test]
    fn plain_scalars_resolve_by_the_core_schema() {
        assert_eq!(resolve_plain("1e-3"), Value::Float(0.001));
        assert_eq!(resolve_plain("0.001"), Value::Float(0.001));
        assert_eq!(resolve_plain("-12"), Value::Int(-12));
        assert_eq!(resolve_plain("0x10"), Value::Int(16));
        assert_eq!(resolve_plain("~"), Value::Null);
        assert_eq!(resolve_plain("yes"), Value::Str("yes".into()));
        assert_eq!(resolve_plain("1.2.3"), Value::Str("1.2.3".into()));
        assert_eq!(resolve_plain("e"), Value::Str("e".into()));
        assert_eq!(root("'12'").to_value(), Value::Str("12".into()));
    }

    #[test]
    fn duplicate_keys_and_tabs_are_located() {
        let (_, errors) = parse("a: 1\nb: 2\na: 3\n").unwrap();
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].message, "duplicate key `a`");
        assert_eq!(errors[0].pos.line, 3);
        let e = parse("a:\n\tb: 1\n").unwrap_err();
        assert_eq!((e.pos.line, e.pos.column), (2, 1));
        assert_eq!(e.message, "tab character in indentation");
        let e = parse("a:\n  - 1\n\t- 2\n").unwrap_err();
        assert_eq!(
            (e.message.as_str(), e.pos.line),
            ("tab character in indentation", 3)
        );
        let block = parse("a: |\n    x\n    \ty\n").unwrap().0.unwrap();
        assert_eq!(
            block.to_value(),
            Value::Map([("a".to_string(), Value::Str("x\n\ty\n".into()))].into())
        );
    }

    #[test]
    fn a_bom_is_skipped_and_control_characters_are_located() {
        let n = root("\u{feff}version: 1\n");
        assert_eq!(n.as_map().unwrap()[0].0.as_scalar(), Some("version"));
        // The scanner reads NUL as the end of the input: everything after
        // it would be silently dropped.
        let e = parse("a: 1\nb: 2\0\nc: 3\n").unwrap_err();
        assert_eq!(e.message, "a NUL byte in the file");
        assert_eq!((e.pos.line, e.pos.column), (2, 5));
        let e = parse("a: é\u{7}\n").unwrap_err();
        assert_eq!(e.message, "the control character U+0007 in the file");
        assert_eq!((e.pos.line, e.pos.column), (1, 5));
        assert!(parse("a: \"tab\there\"\r\nb: \u{e9}\u{1F600}\n").is_ok());
    }

    #[test]
    fn aliases_expand_within_a_budget() {
        let ok = root("a: &x [1, 2]\nb: *x\nc: *x\n");
        assert_eq!(
            ok.as_map().unwrap()[2].1.to_value(),
            root("[1, 2]").to_value()
        );
        let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        for (prev, name) in "abcdefgh".chars().zip("bcdefghi".chars()) {
            let refs = vec![format!("*{prev}"); 10].join(", ");
            bomb.push_str(&format!("{name}: &{name} [{refs}]\n"));
        }
        let e = parse(&bomb).unwrap_err();
        assert_eq!(
            e.message,
            format!("YAML aliases expand to more than {MAX_ALIAS_NODES} nodes")
        );
        assert_eq!(e.pos.line, 6);
    }

    #[test]
    fn nesting_is_bounded() {
        let deep = |n: usize| format!("a: {}{}\n", "[".repeat(n), "]".repeat(n));
        assert!(parse(&deep(MAX_DEPTH - 1)).is_ok());
        let e = parse(&deep(MAX_DEPTH + 1)).unwrap_err();
        assert!(e.message.contains("nested more than"), "{}", e.message);
        // Block collections have no nesting limit of their own.
        let block = format!("{}x\n", "- ".repeat(10_000));
        assert!(parse(&block).is_err());
    }

    #[test]
    fn duplicates_are_found_among_many_keys() {
        let mut src: String = (0..50_000).map(|i| format!("k{i}: {i}\n")).collect();
        src.push_str("k49999: again\nk7: again\n");
        let (node, errors) = parse(&src).unwrap();
        assert_eq!(node.unwrap().as_map().unwrap().len(), 50_000);
        let lines: Vec<usize> = errors.iter().map(|e| e.pos.line).collect();
        assert_eq!(lines, [50_001, 50_002]);
        assert_eq!(
            errors[1].hint.as_deref(),
            Some("`k7` is already set on line 8; remove one of them")
        );
    }

    #[test]
    fn syntax_errors_are_errors_not_panics() {
        let e = parse("a: 'unclosed\nb: 2\n").unwrap_err();
        assert!(e.message.starts_with("invalid YAML"), "{}", e.message);
        assert!(parse("a: [1, 2\n").is_err());
        assert!(parse("").unwrap().0.is_none());
    }
}
