//! Turning a spanned YAML node into a [`Value`], interpolating `${...}`
//! against the top-level params and the current matrix entry, with every
//! bad reference reported at its own column.

use std::collections::BTreeMap;

use crate::diagnostic::sink::{SetHint, Sink};
use crate::format::interp::{self, Piece};
use crate::format::yaml::{resolve_plain, Data, Node, Pos};
use crate::kind::value::Value;

/// What `${...}` can see at one place of the file.
pub struct Scope<'a> {
    pub params: &'a BTreeMap<String, Value>,
    /// The current matrix entry's variables; `None` outside a matrix stage.
    pub matrix: Option<&'a BTreeMap<String, Value>>,
    /// Every variable of the template's matrix (set in some entry or not).
    pub matrix_vars: &'a [String],
    /// The expanded stage name, for messages.
    pub stage: &'a str,
    /// Inside `matrix:` itself, where only `${params...}` is allowed.
    pub in_matrix: bool,
}

const NAMESPACES: &[&str] = &["params", "matrix"];

/// How much `${...}` may copy in one file: value nodes, a string counting
/// one per 16 bytes. A whole-value reference copies its value, a reference
/// inside a string its text; a large param used by every entry of a large
/// matrix would otherwise multiply into more than any memory holds.
pub const MAX_COPIED: usize = 5_000_000;

/// The cost of copying `value`, counted up to just past `limit` (so that
/// counting costs no more than the copy it guards).
fn weight(value: &Value, limit: usize) -> usize {
    match value {
        Value::Str(s) => 1 + s.len() / 16,
        Value::List(items) => {
            let mut total = 1;
            for item in items {
                if total > limit {
                    break;
                }
                total += weight(item, limit - total);
            }
            total
        }
        Value::Map(entries) => {
            let mut total = 1;
            for (key, item) in entries {
                if total > limit {
                    break;
                }
                total += 1 + key.len() / 16 + weight(item, limit.saturating_sub(total));
            }
            total
        }
        _ => 1,
    }
}

/// `value` if copying it stays within [`MAX_COPIED`]; reported once when not.
fn copy(value: &Value, pos: Pos, sink: &mut Sink) -> Option<Value> {
    let left = MAX_COPIED.saturating_sub(sink.copied);
    let cost = weight(value, left);
    let first = sink.copied <= MAX_COPIED;
    sink.copied = sink.copied.saturating_add(cost);
    if cost <= left {
        return Some(value.clone());
    }
    if first {
        sink.error(
            pos,
            format!("`${{...}}` copies more than {MAX_COPIED} values in this file"),
        )
        .set_hint("a large param is copied into every stage that uses it; pass it in fewer places or make it smaller");
    }
    None
}

/// The node's value with interpolation done; `None` after reporting errors.
pub fn resolve(node: &Node, scope: &Scope, sink: &mut Sink) -> Option<Value> {
    match &node.data {
        Data::Scalar { text, quoted } => {
            if !interp::has_dollar_brace(text) {
                return Some(if *quoted {
                    Value::Str(text.clone())
                } else {
                    resolve_plain(text)
                });
            }
            string(text, node.pos, *quoted, scope, sink)
        }
        Data::Seq(items) => {
            let mut out = Vec::with_capacity(items.len());
            let mut ok = true;
            for item in items {
                match resolve(item, scope, sink) {
                    Some(v) => out.push(v),
                    None => ok = false,
                }
            }
            ok.then_some(Value::List(out))
        }
        Data::Map(entries) => {
            let mut out = BTreeMap::new();
            let mut ok = true;
            for (k, v) in entries {
                let key = k.as_scalar().unwrap_or_default().to_string();
                match resolve(v, scope, sink) {
                    Some(v) => {
                        out.insert(key, v);
                    }
                    None => ok = false,
                }
            }
            ok.then_some(Value::Map(out))
        }
    }
}

/// Interpolates one string written at `pos`.
fn string(text: &str, pos: Pos, quoted: bool, scope: &Scope, sink: &mut Sink) -> Option<Value> {
    // Columns inside a multi-line scalar are not known; point at its start.
    let single_line = !text.contains('\n');
    let at = |offset: usize, len: usize| {
        if single_line {
            Pos {
                line: pos.line,
                column: pos.column + offset + usize::from(quoted),
                len,
            }
        } else {
            pos
        }
    };
    let pieces = match interp::parse(text) {
        Ok(p) => p,
        Err(e) => {
            sink.error(at(e.offset, e.len), e.message)
                .set_hint("write `$${` for a literal `${`");
            return None;
        }
    };
    if pieces.iter().all(|p| matches!(p, Piece::Text(_))) {
        return interp::expand(&pieces, |_, _, _, _| None);
    }
    interp::expand(&pieces, |namespace, key, offset, len| {
        lookup(namespace, key, at(offset, len), scope, sink)
    })
}

fn lookup(namespace: &str, key: &str, pos: Pos, scope: &Scope, sink: &mut Sink) -> Option<Value> {
    match namespace {
        "params" => match scope.params.get(key) {
            Some(v) => copy(v, pos, sink),
            None => {
                let d = sink.error(
                    pos,
                    format!("unknown parameter `{key}` in `${{params.{key}}}`"),
                );
                match crate::diagnostic::suggest(key, scope.params.keys().map(String::as_str)) {
                    Some(s) => d.set_hint(format!("did you mean `{s}`?")),
                    None => d.set_hint(format!("declare `{key}` under the top-level `params:`")),
                }
                None
            }
        },
        "matrix" => {
            if scope.in_matrix {
                sink.error(
                    pos,
                    format!("`${{matrix.{key}}}` cannot be used inside `matrix:`"),
                )
                .set_hint("matrix values may only use `${params.NAME}`");
                return None;
            }
            let Some(vars) = scope.matrix else {
                sink.error(
                    pos,
                    format!(
                        "`${{matrix.{key}}}` used in stage `{}`, which has no `matrix:`",
                        scope.stage
                    ),
                )
                .set_hint("add a `matrix:` to the stage, or use `${params.NAME}`");
                return None;
            };
            if let Some(v) = vars.get(key) {
                return copy(v, pos, sink);
            }
            if scope.matrix_vars.iter().any(|v| v == key) {
                sink.error(pos, format!("matrix variable `{key}` is not set for `{}`", scope.stage))
                    .set_hint(format!(
                        "add a scalar default under `matrix:` (e.g. `{key}: VALUE`), or set it in this `include` entry"
                    ));
            } else {
                let d = sink.error(pos, format!("unknown matrix variable `{key}`"));
                match crate::diagnostic::suggest(key, scope.matrix_vars.iter().map(String::as_str))
                {
                    Some(s) => d.set_hint(format!("did you mean `{s}`?")),
                    None => d.set_hint(format!("add `{key}` under the stage's `matrix:`")),
                }
            }
            None
        }
        other => {
            let d = sink.error(pos, format!("unknown interpolation namespace `{other}`"));
            match crate::diagnostic::suggest(other, NAMESPACES.iter().copied()) {
                Some(s) => d.set_hint(format!("did you mean `{s}`?")),
                None => d.set_hint("write `${params.NAME}` or `${matrix.NAME}`"),
            }
            None
        }
    }
}
