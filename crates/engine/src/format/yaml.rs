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

/// Parses one YAML document. `Ok(None)` for an empty file. Duplicate keys are
/// reported in the error list but the tree is still returned (first wins).
pub fn parse(source: &str) -> Result<(Option<Node>, Vec<SyntaxError>), SyntaxError> {
    let mut builder = Builder {
        source: source.chars().collect(),
        stack: Vec::new(),
        anchors: HashMap::new(),
        root: None,
        errors: Vec::new(),
        documents: 0,
    };
    let mut parser = Parser::new_from_str(source);
    parser.load(&mut builder, true).map_err(|e| {
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
            hint: None,
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
    Seq(Pos, Vec<Node>, Option<usize>),
    /// Start, entries, pending key, anchor, written in flow style (`{...}`).
    Map(Pos, Vec<(Node, Node)>, Option<Node>, Option<usize>, bool),
}

struct Builder {
    source: Vec<char>,
    stack: Vec<Open>,
    anchors: HashMap<usize, Node>,
    root: Option<Node>,
    errors: Vec<SyntaxError>,
    documents: usize,
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

    fn finish(&mut self, node: Node, anchor: usize) {
        if anchor > 0 {
            self.anchors.insert(anchor, node.clone());
        }
        match self.stack.last_mut() {
            None => self.root = Some(node),
            Some(Open::Seq(_, items, _)) => items.push(node),
            Some(Open::Map(_, entries, key, _, _)) => match key.take() {
                None => *key = Some(node),
                Some(k) => {
                    let duplicate = entries.iter().find(|(old, _)| {
                        old.as_scalar().is_some() && old.as_scalar() == k.as_scalar()
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
                        entries.push((k, node));
                    }
                }
            },
        }
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, event: Event, mark: Marker) {
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
                self.finish(node, anchor);
            }
            Event::SequenceStart(anchor, _) => {
                self.stack
                    .push(Open::Seq(pos_of(&mark, 0), Vec::new(), Some(anchor)));
            }
            Event::MappingStart(anchor, _) => {
                let flow = self.source.get(mark.index()) == Some(&'{');
                self.stack.push(Open::Map(
                    pos_of(&mark, 0),
                    Vec::new(),
                    None,
                    Some(anchor),
                    flow,
                ));
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let (node, anchor) = match self.stack.pop() {
                    Some(Open::Seq(pos, items, anchor)) => (
                        Node {
                            pos,
                            data: Data::Seq(items),
                        },
                        anchor,
                    ),
                    Some(Open::Map(pos, entries, _, anchor, flow)) => {
                        // A block mapping's start mark lies after its first
                        // key; its first key is where a reader looks.
                        let pos = match entries.first() {
                            Some((k, _)) if !flow => Pos { len: 0, ..k.pos },
                            _ => pos,
                        };
                        (
                            Node {
                                pos,
                                data: Data::Map(entries),
                            },
                            anchor,
                        )
                    }
                    None => return,
                };
                self.finish(node, anchor.unwrap_or(0));
            }
            Event::Alias(id) => {
                let node = match self.anchors.get(&id) {
                    Some(n) => Node {
                        pos: pos_of(&mark, 1),
                        data: n.data.clone(),
                    },
                    None => Node {
                        pos: pos_of(&mark, 1),
                        data: Data::Scalar {
                            text: String::new(),
                            quoted: false,
                        },
                    },
                };
                self.finish(node, 0);
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
    fn syntax_errors_are_errors_not_panics() {
        let e = parse("a: 'unclosed\nb: 2\n").unwrap_err();
        assert!(e.message.starts_with("invalid YAML"), "{}", e.message);
        assert!(parse("a: [1, 2\n").is_err());
        assert!(parse("").unwrap().0.is_none());
    }
}
