//! The pipeline file as written: the only types that mirror its YAML.
//!
//! [`read`] turns the spanned YAML tree into a [`FileSpec`], checking the
//! shape (which keys exist, what is a mapping or a list) strictly: an unknown
//! key anywhere is an error with a "did you mean". Nothing here knows stage
//! kinds, interpolation or the matrix; values stay as spanned nodes for
//! `validate` to resolve.

use crate::diagnostic::sink::{SetHint, Sink};
use crate::format::yaml::{Data, Node, Pos};

/// A value with where it was written.
#[derive(Clone, Debug, PartialEq)]
pub struct Spanned<T> {
    pub value: T,
    pub pos: Pos,
}

/// The whole file.
#[derive(Debug, Default)]
pub struct FileSpec {
    /// Top-level `params:`, in the order written.
    pub params: Vec<(Spanned<String>, Node)>,
    /// Top-level `resources:`: every stage's defaults.
    pub resources: Option<Node>,
    pub stages: Vec<StageSpec>,
    /// `remote:`, read by [`crate::format::remote`].
    pub remote: Option<Node>,
}

/// One entry under `stages:` (a template when it has a `matrix:`).
#[derive(Debug)]
pub struct StageSpec {
    pub name: Spanned<String>,
    pub kind: Option<Spanned<String>>,
    pub gpus: Option<Node>,
    /// `resources:`, what the stage asks of a cluster (`format::resources`).
    pub resources: Option<Node>,
    /// `matrix:`: variables in the order written; `include`/`exclude` apart.
    pub matrix: Option<MatrixSpec>,
    pub params: Vec<(Spanned<String>, Node)>,
    /// Where `params:` was written (for "missing required parameter").
    pub params_pos: Option<Pos>,
    pub inputs: Vec<Slot>,
    pub inputs_pos: Option<Pos>,
}

/// One input slot as written.
#[derive(Debug)]
pub struct Slot {
    pub name: Spanned<String>,
    /// The references (one scalar, or the items of a list).
    pub refs: Vec<Node>,
    /// Whether the value was written as a list.
    pub as_list: bool,
}

#[derive(Debug, Default)]
pub struct MatrixSpec {
    pub pos: Pos,
    pub vars: Vec<(Spanned<String>, Node)>,
    /// Each entry a mapping of variable -> value.
    pub include: Vec<Vec<(Spanned<String>, Node)>>,
    pub exclude: Vec<Vec<(Spanned<String>, Node)>>,
}

const TOP_KEYS: &[&str] = &["version", "params", "resources", "stages", "remote"];
const STAGE_KEYS: &[&str] = &[
    "kind",
    "doc",
    "gpus",
    "resources",
    "matrix",
    "params",
    "inputs",
];

/// Reads the file's shape. Returns what could be read even when problems
/// were reported, so that later checks still run on the valid parts.
pub fn read(root: Option<&Node>, sink: &mut Sink) -> FileSpec {
    let mut spec = FileSpec::default();
    let Some(root) = root else {
        sink.error(
            Pos {
                line: 1,
                column: 1,
                len: 0,
            },
            "the pipeline file is empty",
        )
        .set_hint("start with `version: 1` and a `stages:` mapping");
        return spec;
    };
    let Some(entries) = mapping(root, "the pipeline file", sink) else {
        return spec;
    };
    let mut version = None;
    let mut stages_seen = false;
    for (key, value) in entries {
        let Some(k) = key_name(key, sink) else {
            continue;
        };
        match k.value.as_str() {
            "version" => version = Some(value),
            "params" => {
                if let Some(params) = mapping_or_null(value, "`params`", sink) {
                    spec.params = keyed(params, sink);
                }
            }
            "resources" => spec.resources = Some(value.clone()),
            "remote" => spec.remote = Some(value.clone()),
            "stages" => {
                stages_seen = true;
                if let Some(stages) = mapping(value, "`stages`", sink) {
                    for (name, body) in stages {
                        if let Some(name) = key_name(name, sink) {
                            if let Some(stage) = read_stage(name, body, sink) {
                                spec.stages.push(stage);
                            }
                        }
                    }
                }
            }
            other => {
                sink.unknown(
                    k.pos,
                    format!("unknown top-level key `{other}`"),
                    other,
                    TOP_KEYS.iter().copied(),
                );
            }
        }
    }
    check_version(root, version, sink);
    if !stages_seen {
        sink.error(Pos { len: 0, ..root.pos }, "the pipeline has no `stages:`")
            .set_hint("add a `stages:` mapping of stage name -> stage");
    }
    spec
}

fn check_version(root: &Node, version: Option<&Node>, sink: &mut Sink) {
    const HINT: &str = "this version of pipe reads `version: 1`";
    match version {
        None => {
            let pos = Pos { len: 0, ..root.pos };
            sink.error(pos, "missing `version`")
                .set_hint("add `version: 1` at the top of the file");
        }
        Some(v)
            if v.as_scalar() == Some("1")
                && matches!(v.data, Data::Scalar { quoted: false, .. }) => {}
        Some(v) if v.as_scalar() == Some("1") => {
            sink.error(
                v.pos,
                "`version` must be the integer 1, found the string `1`",
            )
            .set_hint("write `version: 1` without quotes");
        }
        Some(v) => {
            let shown = v
                .as_scalar()
                .map_or_else(|| v.describe().to_string(), |s| format!("`{s}`"));
            sink.error(v.pos, format!("unsupported version {shown}"))
                .set_hint(HINT);
        }
    }
}

fn read_stage(name: Spanned<String>, body: &Node, sink: &mut Sink) -> Option<StageSpec> {
    if name.value.is_empty()
        || !name
            .value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        sink.error(name.pos, format!("invalid stage name `{}`", name.value))
            .set_hint("stage names use only letters, digits, `_` and `-`");
    }
    let entries = mapping(body, &format!("stage `{}`", name.value), sink)?;
    let mut stage = StageSpec {
        name,
        kind: None,
        gpus: None,
        resources: None,
        matrix: None,
        params: Vec::new(),
        params_pos: None,
        inputs: Vec::new(),
        inputs_pos: None,
    };
    for (key, value) in entries {
        let Some(k) = key_name(key, sink) else {
            continue;
        };
        match k.value.as_str() {
            "kind" => match value.as_scalar() {
                Some(s) if !s.is_empty() => {
                    stage.kind = Some(Spanned {
                        value: s.to_string(),
                        pos: value.pos,
                    })
                }
                _ => {
                    sink.error(
                        value.pos,
                        format!(
                            "`kind` must be a stage kind name, found {}",
                            value.describe()
                        ),
                    )
                    .set_hint("run `pipe kinds` to list the stage kinds");
                    stage.kind = Some(Spanned {
                        value: String::new(),
                        pos: value.pos,
                    });
                }
            },
            "doc" => {
                if value.as_scalar().is_none() {
                    sink.error(
                        value.pos,
                        format!("`doc` must be a string, found {}", value.describe()),
                    )
                    .set_hint("`doc:` is one line of text describing the stage");
                }
            }
            "gpus" => stage.gpus = Some(value.clone()),
            "resources" => stage.resources = Some(value.clone()),
            "matrix" => stage.matrix = read_matrix(value, sink),
            "params" => {
                stage.params_pos = Some(k.pos);
                if let Some(params) = mapping_or_null(value, "`params`", sink) {
                    stage.params = keyed(params, sink);
                }
            }
            "inputs" => {
                stage.inputs_pos = Some(k.pos);
                if let Some(inputs) = mapping_or_null(value, "`inputs`", sink) {
                    for (slot, refs) in keyed(inputs, sink) {
                        let (list, is_list) = match &refs.data {
                            Data::Seq(items) => (items.clone(), true),
                            Data::Map(_) => {
                                sink.error(
                                    refs.pos,
                                    format!(
                                        "input `{}` must name stages, found a mapping",
                                        slot.value
                                    ),
                                )
                                .set_hint(INPUT_HINT);
                                continue;
                            }
                            Data::Scalar { .. } => (vec![refs.clone()], false),
                        };
                        for item in &list {
                            if item.as_scalar().is_none() {
                                sink.error(
                                    item.pos,
                                    format!(
                                        "input `{}` must name stages, found {}",
                                        slot.value,
                                        item.describe()
                                    ),
                                )
                                .set_hint(INPUT_HINT);
                            }
                        }
                        stage.inputs.push(Slot {
                            name: slot,
                            refs: list,
                            as_list: is_list,
                        });
                    }
                }
            }
            other => {
                sink.error(
                    k.pos,
                    format!("unknown key `{other}` in stage `{}`", stage.name.value),
                )
                .set_hint(
                    match crate::diagnostic::suggest(other, STAGE_KEYS.iter().copied()) {
                        Some(s) => format!("did you mean `{s}`?"),
                        None => format!("a stage has the keys {}", list(STAGE_KEYS)),
                    },
                );
            }
        }
    }
    if stage.kind.is_none() {
        sink.error(
            stage.name.pos,
            format!("stage `{}` has no `kind`", stage.name.value),
        )
        .set_hint("add `kind: ...`; run `pipe kinds` to list the stage kinds");
    }
    Some(stage)
}

fn read_matrix(node: &Node, sink: &mut Sink) -> Option<MatrixSpec> {
    let entries = mapping(node, "`matrix`", sink)?;
    let mut matrix = MatrixSpec {
        pos: node.pos,
        ..MatrixSpec::default()
    };
    for (key, value) in entries {
        let Some(k) = key_name(key, sink) else {
            continue;
        };
        match k.value.as_str() {
            "include" | "exclude" => {
                let Some(items) = value.as_seq() else {
                    sink.error(
                        value.pos,
                        format!(
                            "`{}` must be a list of mappings, found {}",
                            k.value,
                            value.describe()
                        ),
                    )
                    .set_hint(ENTRY_HINT);
                    continue;
                };
                let mut maps = Vec::new();
                for item in items {
                    if let Some(m) = mapping(item, &format!("an entry of `{}`", k.value), sink) {
                        maps.push(keyed(m, sink));
                    }
                }
                if k.value == "include" {
                    matrix.include = maps;
                } else {
                    matrix.exclude = maps;
                }
            }
            _ => matrix.vars.push((k, value.clone())),
        }
    }
    Some(matrix)
}

fn list(keys: &[&str]) -> String {
    keys.iter()
        .map(|k| format!("`{k}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A mapping's entries, or an error naming what was found instead.
fn mapping<'a>(node: &'a Node, what: &str, sink: &mut Sink) -> Option<&'a [(Node, Node)]> {
    match &node.data {
        Data::Map(m) => Some(m),
        _ => {
            sink.error(
                node.pos,
                format!("{what} must be a mapping, found {}", node.describe()),
            )
            .set_hint(mapping_hint(what));
            None
        }
    }
}

const INPUT_HINT: &str = "write a stage name, a list of them, or a glob like `train[*]`";
const ENTRY_HINT: &str =
    "each entry maps matrix variables to values, e.g. `- {model: resnet50, mode: transfer}`";

/// How the mapping `what` is written.
fn mapping_hint(what: &str) -> String {
    match what {
        "the pipeline file" => "a pipeline file maps `version`, `params`, `resources` and `stages` to their values".into(),
        "`stages`" => "`stages:` maps each stage name to a stage, e.g. `train: {kind: cmd, params: {run: ...}}`".into(),
        "`matrix`" => "`matrix:` maps each variable to a list of values (an axis) or one value".into(),
        "`params`" | "`inputs`" => format!("write one `name: value` per line under {what}"),
        _ if what.starts_with("an entry of") => ENTRY_HINT.into(),
        _ => "a stage maps `kind`, `params`, `inputs` (and `matrix`, `gpus`, `resources`, `doc`) to their values".into(),
    }
}

/// Like [`mapping`], but an empty value (`params:` with nothing) is an
/// empty mapping.
fn mapping_or_null<'a>(node: &'a Node, what: &str, sink: &mut Sink) -> Option<&'a [(Node, Node)]> {
    match &node.data {
        Data::Scalar {
            text,
            quoted: false,
        } if text.is_empty() || text == "~" || text == "null" => Some(&[]),
        _ => mapping(node, what, sink),
    }
}

fn key_name(key: &Node, sink: &mut Sink) -> Option<Spanned<String>> {
    match key.as_scalar() {
        Some(s) => Some(Spanned {
            value: s.to_string(),
            pos: key.pos,
        }),
        None => {
            sink.error(
                key.pos,
                format!("a key must be a plain name, found {}", key.describe()),
            )
            .set_hint("write the key as a word, e.g. `name: value`");
            None
        }
    }
}

fn keyed(entries: &[(Node, Node)], sink: &mut Sink) -> Vec<(Spanned<String>, Node)> {
    entries
        .iter()
        .filter_map(|(k, v)| key_name(k, sink).map(|k| (k, v.clone())))
        .collect()
}
