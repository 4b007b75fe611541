//! `${namespace.name}` interpolation in pipeline files.
//!
//! This module owns the syntax only: splitting a string into literal text and
//! references, and joining resolved values back. What a namespace means
//! (`params`, `matrix`) is decided by the caller through a lookup function.
//! `$${` is a literal `${`, so shell commands can still write `$${HOME}`.

use crate::kind::value::Value;

/// A piece of an interpolated string.
#[derive(Clone, Debug, PartialEq)]
pub enum Piece {
    Text(String),
    /// `${namespace.key}`; `offset`/`len` locate the whole `${...}` in the
    /// string, in characters.
    Ref {
        namespace: String,
        key: String,
        offset: usize,
        len: usize,
    },
}

/// A malformed reference, located within the string (in characters).
#[derive(Clone, Debug, PartialEq)]
pub struct SyntaxError {
    pub message: String,
    pub offset: usize,
    pub len: usize,
}

/// Whether `s` contains anything to interpolate or unescape.
pub fn has_dollar_brace(s: &str) -> bool {
    s.contains("${")
}

/// Splits `s` into text and references.
pub fn parse(s: &str) -> Result<Vec<Piece>, SyntaxError> {
    let chars: Vec<char> = s.chars().collect();
    let mut pieces = Vec::new();
    let mut text = String::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '$' && chars.get(i + 1) == Some(&'$') && chars.get(i + 2) == Some(&'{') {
            text.push_str("${");
            i += 3;
            continue;
        }
        if chars[i] == '$' && chars.get(i + 1) == Some(&'{') {
            let Some(close) = chars[i..].iter().position(|c| *c == '}') else {
                return Err(SyntaxError {
                    message: "unclosed `${` in interpolation".into(),
                    offset: i,
                    len: chars.len() - i,
                });
            };
            let inner: String = chars[i + 2..i + close].iter().collect();
            let len = close + 1;
            let (namespace, key) = match inner.trim().split_once('.') {
                Some((ns, key)) if is_ident(ns) && is_ident(key) => (ns.to_string(), key.to_string()),
                _ => {
                    return Err(SyntaxError {
                        message: format!(
                            "malformed interpolation `${{{inner}}}`: expected `${{params.NAME}}` or `${{matrix.NAME}}`"
                        ),
                        offset: i,
                        len,
                    })
                }
            };
            if !text.is_empty() {
                pieces.push(Piece::Text(std::mem::take(&mut text)));
            }
            pieces.push(Piece::Ref {
                namespace,
                key,
                offset: i,
                len,
            });
            i += len;
            continue;
        }
        text.push(chars[i]);
        i += 1;
    }
    if !text.is_empty() || pieces.is_empty() {
        pieces.push(Piece::Text(text));
    }
    Ok(pieces)
}

fn is_ident(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Interpolates `s`. A string that is exactly one reference takes the
/// referenced value with its type; otherwise references are spliced into the
/// text. `lookup` returns `None` for references it already reported.
pub fn expand(
    pieces: &[Piece],
    mut lookup: impl FnMut(&str, &str, usize, usize) -> Option<Value>,
) -> Option<Value> {
    if let [Piece::Ref {
        namespace,
        key,
        offset,
        len,
    }] = pieces
    {
        return lookup(namespace, key, *offset, *len);
    }
    let mut out = String::new();
    let mut ok = true;
    for piece in pieces {
        match piece {
            Piece::Text(t) => out.push_str(t),
            Piece::Ref {
                namespace,
                key,
                offset,
                len,
            } => match lookup(namespace, key, *offset, *len) {
                Some(v) => out.push_str(&v.to_string()),
                None => ok = false,
            },
        }
    }
    ok.then_some(Value::Str(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(s: &str) -> Option<Value> {
        let pieces = parse(s).unwrap();
        expand(&pieces, |ns, key, _, _| match (ns, key) {
            ("params", "epochs") => Some(Value::Int(50)),
            ("matrix", "model") => Some(Value::Str("resnet50".into())),
            _ => None,
        })
    }

    #[test]
    fn whole_references_keep_their_type() {
        assert_eq!(run("${params.epochs}"), Some(Value::Int(50)));
        assert_eq!(run("${ params.epochs }"), Some(Value::Int(50)));
    }

    #[test]
    fn embedded_references_make_strings() {
        assert_eq!(
            run("e${params.epochs}-${matrix.model}"),
            Some(Value::Str("e50-resnet50".into()))
        );
        assert_eq!(
            run("weights[${matrix.model}]"),
            Some(Value::Str("weights[resnet50]".into()))
        );
    }

    #[test]
    fn double_dollar_escapes() {
        assert_eq!(
            run("echo $${HOME} $HOME"),
            Some(Value::Str("echo ${HOME} $HOME".into()))
        );
        assert_eq!(run("$$"), Some(Value::Str("$$".into())));
    }

    #[test]
    fn unknown_references_fail() {
        assert_eq!(run("${params.nope}"), None);
        assert_eq!(run("a ${params.nope}"), None);
    }

    #[test]
    fn malformed_references_are_located() {
        let e = parse("ab ${params}").unwrap_err();
        assert_eq!((e.offset, e.len), (3, 9));
        let e = parse("x ${params.a").unwrap_err();
        assert!(e.message.contains("unclosed"));
        assert_eq!(parse("${a.b}${c.d}").unwrap().len(), 2);
    }
}
