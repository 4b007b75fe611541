//! Validation: the file's [`FileSpec`] in, a resolved [`Pipeline`] out.
//!
//! Expands matrices, interpolates `${...}`, types params against the kinds'
//! declarations, resolves input references to stages, rejects duplicate
//! names and cycles, and orders the stages topologically. Every problem is
//! reported to the [`Sink`] and checking goes on, so a user sees all of them
//! at once; a [`Pipeline`] is built only when there were none.

pub mod graph;
pub mod inputs;
pub mod params;
pub mod resolve;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;

use crate::diagnostic::sink::{SetHint, Sink};
use crate::format::matrix::{self, Entry};
use crate::format::pipeline::{Pipeline, Stage, StageId};
use crate::format::resources::Resources;
use crate::format::spec::{FileSpec, StageSpec};
use crate::format::yaml::{self, Pos};
use crate::hash::ContentHash;
use crate::kind::value::Value;
use crate::kind::{Kind, Registry};
use resolve::{resolve, Scope};

/// What validation needs besides the file's content.
pub struct Input<'a> {
    pub file: &'a Path,
    /// Absolute directory of the file.
    pub dir: &'a Path,
    pub source_hash: ContentHash,
    pub registry: &'a Registry,
    pub overrides: &'a [String],
}

/// One expanded stage before its inputs are resolved.
struct Draft {
    name: String,
    template: String,
    matrix: BTreeMap<String, Value>,
    kind: Option<Arc<Kind>>,
    params: Option<crate::kind::param::Params>,
    param_spans: BTreeMap<String, crate::diagnostic::Span>,
    gpus: u32,
    resources: Resources,
    /// Where the stage is defined, and where this entry was written.
    pos: Pos,
    origin: Pos,
    refs: Vec<SlotRefs>,
    inputs_pos: Pos,
}

/// One input slot as written: its name and place, whether its value was a
/// list, and each reference (interpolated) with its place.
struct SlotRefs {
    slot: String,
    pos: Pos,
    as_list: bool,
    refs: Vec<(String, Pos)>,
}

/// A stage's inputs: slot -> upstream indices; and its edges with the place
/// of each reference.
type Resolved = (BTreeMap<String, Vec<usize>>, Vec<(usize, Pos)>);

/// Validates `spec`; `None` when anything was reported.
pub fn validate(spec: &FileSpec, input: &Input, sink: &mut Sink) -> Option<Pipeline> {
    let (params, written) = top_params(spec, input.overrides, sink);
    let resources = spec
        .resources
        .as_ref()
        .map_or_else(Resources::default, |node| {
            let scope = Scope {
                params: &params,
                matrix: None,
                matrix_vars: &[],
                stage: "",
                in_matrix: false,
            };
            Resources::read(node, &scope, sink)
        });
    let remote = spec
        .remote
        .as_ref()
        .map(|node| crate::format::remote::read(node, sink))
        .unwrap_or_default();
    let mut drafts = Vec::new();
    for stage in &spec.stages {
        let top = Top {
            values: &params,
            written: &written,
            resources: &resources,
        };
        expand_stage(stage, &top, input, sink, &mut drafts);
    }
    let names: Vec<String> = drafts.iter().map(|d| d.name.clone()).collect();
    check_duplicates(&drafts, sink);
    check_dir_names(&drafts, sink);
    let lookup = inputs::Names::new(
        &names,
        drafts
            .iter()
            .enumerate()
            .map(|(i, d)| (d.template.as_str(), i)),
    );
    let mut edges: graph::Edges<Pos> = Vec::with_capacity(drafts.len());
    let mut resolved_inputs = Vec::with_capacity(drafts.len());
    for draft in &drafts {
        let resolved = resolve_inputs(draft, &lookup, sink);
        edges.push(resolved.1.clone());
        resolved_inputs.push(resolved);
    }
    for (path, pos) in graph::cycles(&edges) {
        let shown: Vec<&str> = path.iter().map(|i| names[*i].as_str()).collect();
        let message = if path.len() == 2 {
            format!("stage `{}` names itself as an input", shown[0])
        } else {
            format!("stages form a cycle: {}", shown.join(" -> "))
        };
        sink.error(pos, message).set_hint(
            "each arrow points from a stage to one of its inputs; remove one of these references",
        );
    }
    if sink.has_errors() {
        return None;
    }
    let order = graph::topo_order(&edges)?;
    let mut new_id = vec![0usize; drafts.len()];
    for (new, old) in order.iter().enumerate() {
        new_id[*old] = new;
    }
    let mut slots: Vec<Option<(Draft, Resolved)>> =
        drafts.into_iter().zip(resolved_inputs).map(Some).collect();
    let mut stages = Vec::with_capacity(order.len());
    for (new, old) in order.iter().enumerate() {
        let (draft, (ins, _)) = slots[*old].take()?;
        stages.push(Stage {
            id: StageId(new),
            name: draft.name,
            template: draft.template,
            matrix: draft.matrix,
            kind: draft.kind?,
            params: draft.params?,
            inputs: ins
                .into_iter()
                .map(|(slot, ups)| (slot, ups.into_iter().map(|u| StageId(new_id[u])).collect()))
                .collect(),
            gpus: draft.gpus,
            resources: draft.resources,
            span: sink.span(draft.pos),
            param_spans: draft.param_spans,
        });
    }
    let by_name = stages.iter().map(|s| (s.name.clone(), s.id)).collect();
    Some(Pipeline {
        file: input.file.to_path_buf(),
        dir: input.dir.to_path_buf(),
        source_hash: input.source_hash,
        stages,
        by_name,
        remote: remote.url,
        key_environment: remote.key_includes_environment.then(|| {
            input
                .registry
                .environment()
                .unwrap_or("unknown")
                .to_string()
        }),
    })
}

/// The top-level params: their values, and the nodes of those whose value
/// is the one written in the file (not replaced by `--set`).
struct Top<'a> {
    values: &'a BTreeMap<String, Value>,
    written: &'a HashMap<&'a str, &'a yaml::Node>,
    /// The top-level `resources:`, every stage's defaults.
    resources: &'a Resources,
}

/// The top-level params with `--set` overrides applied, and the nodes of
/// those not overridden.
fn top_params<'a>(
    spec: &'a FileSpec,
    overrides: &[String],
    sink: &mut Sink,
) -> (BTreeMap<String, Value>, HashMap<&'a str, &'a yaml::Node>) {
    let mut params: BTreeMap<String, Value> = BTreeMap::new();
    let mut written: HashMap<&str, &yaml::Node> = HashMap::new();
    for (key, node) in &spec.params {
        params.insert(key.value.clone(), node.to_value());
        written.insert(&key.value, node);
    }
    for raw in overrides {
        let Some((key, text)) = raw.split_once('=') else {
            sink.error_unplaced(format!("`--set {raw}` is not of the form `KEY=VALUE`"))
                .set_hint("write e.g. `--set epochs=5`");
            continue;
        };
        let key = key.trim();
        let Some(old) = params.get(key) else {
            let d = sink.error_unplaced(format!("`--set {raw}`: unknown parameter `{key}`"));
            match crate::diagnostic::suggest(key, params.keys().map(String::as_str)) {
                Some(s) => d.set_hint(format!("did you mean `{s}`?")),
                None if params.is_empty() => d.set_hint("the file declares no top-level `params:`"),
                None => d.set_hint(format!(
                    "the file's top-level params are {}",
                    params
                        .keys()
                        .map(|k| format!("`{k}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            }
            continue;
        };
        let new = match yaml::parse(text) {
            Ok((Some(node), errors)) if errors.is_empty() => node.to_value(),
            Ok((None, _)) => Value::Null,
            _ => Value::Str(text.to_string()),
        };
        let new = match (old, new) {
            (Value::Float(_), Value::Int(i)) => Value::Float(i as f64),
            (Value::Str(_), Value::Int(_) | Value::Float(_) | Value::Bool(_) | Value::Null) => {
                Value::Str(text.to_string())
            }
            (Value::Null, new) => new,
            (old, new) if std::mem::discriminant(old) == std::mem::discriminant(&new) => new,
            (old, new) => {
                let found = match &new {
                    Value::Str(s) => format!("the string `{s}`"),
                    other => other.type_name().to_string(),
                };
                let d = sink.error_unplaced(format!(
                    "`--set {raw}`: expected {}, found {found}",
                    old.type_name()
                ));
                d.set_hint(format!(
                    "`{key}` is {} (`{old}`) in the file",
                    old.type_name()
                ));
                continue;
            }
        };
        params.insert(key.to_string(), new);
        written.remove(key);
    }
    (params, written)
}

/// `NAME` if `node` is exactly `${params.NAME}`.
fn whole_param_ref(node: &yaml::Node) -> Option<String> {
    let text = node.as_scalar()?;
    if !crate::format::interp::has_dollar_brace(text) {
        return None;
    }
    match crate::format::interp::parse(text).ok()?.as_slice() {
        [crate::format::interp::Piece::Ref { namespace, key, .. }] if namespace == "params" => {
            Some(key.clone())
        }
        _ => None,
    }
}

fn expand_stage(
    stage: &StageSpec,
    top: &Top,
    input: &Input,
    sink: &mut Sink,
    out: &mut Vec<Draft>,
) {
    let template = &stage.name.value;
    let kind = stage.kind.as_ref().and_then(|k| {
        if k.value.is_empty() {
            return None;
        }
        let found = input.registry.get(&k.value).cloned();
        if found.is_none() {
            let d = sink.error(k.pos, format!("unknown stage kind `{}`", k.value));
            match crate::diagnostic::suggest(&k.value, input.registry.names()) {
                Some(s) => d.set_hint(format!("did you mean `{s}`?")),
                None => d.set_hint("run `pipe kinds` to list the stage kinds"),
            }
        }
        found
    });
    let (entries, vars) = match &stage.matrix {
        None => (
            vec![Entry {
                name: template.clone(),
                vars: BTreeMap::new(),
                origin: None,
            }],
            Vec::new(),
        ),
        Some(spec) => {
            let Some(m) = matrix::read(spec, top.values, template, sink) else {
                return;
            };
            let room = matrix::MAX_STAGES.saturating_sub(out.len());
            let size = matrix::size(&m);
            if size > room as u128 {
                let shown = if size == u128::MAX {
                    "more than 10^38".to_string()
                } else {
                    size.to_string()
                };
                sink.error(
                    spec.pos,
                    format!(
                        "the matrix of stage `{template}` makes {shown} stages; a pipeline may have at most {}",
                        matrix::MAX_STAGES
                    ),
                )
                .set_hint(format!(
                    "its axes multiply ({}); narrow them, or split the sweep into several pipeline files",
                    matrix::shape(&m)
                ));
                return;
            }
            (matrix::expand(template, &m), m.var_names())
        }
    };
    if stage.matrix.is_some() && entries.is_empty() {
        sink.error(
            stage.name.pos,
            format!("the matrix of stage `{template}` has no entries"),
        )
        .set_hint("`exclude` removed every combination");
    }
    for entry in entries {
        let scope = Scope {
            params: top.values,
            matrix: stage.matrix.as_ref().map(|_| &entry.vars),
            matrix_vars: &vars,
            stage: &entry.name,
            in_matrix: false,
        };
        let gpus = stage
            .gpus
            .as_ref()
            .map_or(0, |node| match resolve(node, &scope, sink) {
                Some(Value::Int(g)) if g >= 0 => u32::try_from(g).unwrap_or(u32::MAX),
                Some(v) => {
                    let found = if let Value::Int(g) = v {
                        format!("`{g}`")
                    } else {
                        v.type_name().to_string()
                    };
                    sink.error(
                        node.pos,
                        format!("`gpus` must be an integer >= 0, found {found}"),
                    )
                    .set_hint("`gpus: 1` hands the stage one GPU; leave it out for CPU stages");
                    0
                }
                None => 0,
            });
        let resources = stage
            .resources
            .as_ref()
            .map_or_else(Resources::default, |node| {
                Resources::read(node, &scope, sink)
            })
            .over(top.resources);
        let mut written = Vec::new();
        let mut param_spans = BTreeMap::new();
        let mut ok = true;
        for (key, node) in &stage.params {
            let value = resolve(node, &scope, sink);
            ok &= value.is_some();
            param_spans.insert(key.value.clone(), sink.span(node.pos));
            let via = whole_param_ref(node)
                .and_then(|name| top.written.get_key_value(name.as_str()))
                .map(|(name, node)| (*name, *node));
            written.push(params::Written {
                name: &key.value,
                key_pos: key.pos,
                node: via.map_or(node, |(_, top_node)| top_node),
                via: via.map(|(name, _)| name),
                value,
            });
        }
        let typed = kind.as_ref().and_then(|k| {
            let missing_pos = stage.params_pos.unwrap_or(stage.name.pos);
            let typed = params::check(k.params(), written, missing_pos, k.name(), input.dir, sink)?;
            for (param, message) in k.check(&typed) {
                let pos = stage
                    .params
                    .iter()
                    .find(|(p, _)| p.value == param)
                    .map_or(missing_pos, |(_, n)| n.pos);
                let (message, hint) = match message.split_once("\nhint: ") {
                    Some((m, h)) => (m.to_string(), Some(h.to_string())),
                    None => (message, None),
                };
                let d = sink.error(pos, message);
                // Kinds word the problem, and may give a hint after
                // "\nhint: "; else what the param is for is the hint.
                if let Some(hint) = hint {
                    d.set_hint(hint);
                } else if let Some(spec) = k.params().iter().find(|s| s.name == param) {
                    let doc = spec.doc.split(". ").next().unwrap_or_default();
                    let doc = doc.trim_end_matches('.');
                    d.set_hint(format!("`{param}`: {doc}"));
                }
            }
            ok.then_some(typed)
        });
        let mut refs = Vec::new();
        for written in &stage.inputs {
            let slot = &written.name;
            let mut named = Vec::new();
            let mut as_list = written.as_list;
            for node in &written.refs {
                if node.as_scalar().is_none() {
                    continue;
                }
                match resolve(node, &scope, sink) {
                    // `runs: ${params.runs}` with a list-valued param.
                    Some(Value::List(items)) => {
                        as_list = true;
                        for item in items {
                            match item {
                                Value::Str(s) => named.push((s, node.pos)),
                                other => {
                                    sink.error(
                                        node.pos,
                                        format!(
                                            "input `{}` must name stages, found {} in the list",
                                            slot.value,
                                            other.type_name()
                                        ),
                                    )
                                    .set_hint("the list's items are stage names (strings), e.g. `[\"train[a]\", \"train[b]\"]`");
                                }
                            }
                        }
                    }
                    Some(Value::Map(_)) => {
                        sink.error(
                            node.pos,
                            format!("input `{}` must name stages, found a mapping", slot.value),
                        )
                        .set_hint(
                            "an input is a stage name, a list of them, or a glob like `train[*]`",
                        );
                    }
                    Some(v) => named.push((v.to_string(), node.pos)),
                    None => {}
                }
            }
            refs.push(SlotRefs {
                slot: slot.value.clone(),
                pos: slot.pos,
                as_list,
                refs: named,
            });
        }
        out.push(Draft {
            name: entry.name,
            template: template.clone(),
            matrix: entry.vars,
            kind: kind.clone(),
            params: typed,
            param_spans,
            gpus,
            resources,
            pos: stage.name.pos,
            origin: entry.origin.unwrap_or(stage.name.pos),
            refs,
            inputs_pos: stage.inputs_pos.unwrap_or(stage.name.pos),
        });
    }
}

/// Each stage's results go to a directory named after it
/// ([`crate::format::pipeline::results_dir_name`]); two stages must not share one,
/// and the name must be one a file system takes.
fn check_dir_names(drafts: &[Draft], sink: &mut Sink) {
    let mut first: HashMap<std::borrow::Cow<str>, usize> = HashMap::with_capacity(drafts.len());
    for (i, d) in drafts.iter().enumerate() {
        let dir = crate::format::pipeline::results_dir_name(&d.name);
        if dir.len() > 255 || dir.contains('\0') {
            sink.error(
                d.origin,
                format!("stage name `{}` cannot name a results directory", d.name.escape_debug()),
            )
            .set_hint("a stage's name is its results directory: at most 255 bytes, no NUL; shorten the matrix values");
            continue;
        }
        match first.get(&dir) {
            None => {
                first.insert(dir, i);
            }
            Some(&j) if drafts[j].name != d.name => {
                sink.error(
                    d.origin,
                    format!(
                        "stages `{}` and `{}` would share the results directory `{dir}`",
                        drafts[j].name, d.name
                    ),
                )
                .set_hint("`/` in a stage name becomes `_` in its results directory; change one of the matrix values");
            }
            Some(_) => {}
        }
    }
}

fn check_duplicates(drafts: &[Draft], sink: &mut Sink) {
    let mut first: HashMap<&str, usize> = HashMap::new();
    let mut reported: HashSet<usize> = HashSet::new();
    for (i, d) in drafts.iter().enumerate() {
        let Some(&j) = first.get(d.name.as_str()) else {
            first.insert(&d.name, i);
            continue;
        };
        let other = &drafts[j];
        if other.origin == d.origin {
            // Two product entries: one place to point at.
            if reported.insert(j) {
                sink.error(d.origin, format!("duplicate stage name `{}`", d.name))
                    .set_hint(
                        "the matrix makes this name more than once; is a value listed twice?",
                    );
            }
            continue;
        }
        if reported.insert(j) {
            sink.error(
                other.origin,
                format!("duplicate stage name `{}`", other.name),
            )
            .set_hint(format!("another definition is on line {}", d.origin.line));
        }
        sink.error(d.origin, format!("duplicate stage name `{}`", d.name))
            .set_hint(format!("first defined on line {}", other.origin.line));
    }
}

/// Resolves a stage's references: slot -> upstream indices, and the edges.
fn resolve_inputs(draft: &Draft, names: &inputs::Names, sink: &mut Sink) -> Resolved {
    let mut slots = BTreeMap::new();
    let mut edges = Vec::new();
    let declared = draft
        .kind
        .as_ref()
        .map(|k| (k.inputs(), k.any_inputs(), k.name()));
    for SlotRefs {
        slot,
        pos: slot_pos,
        as_list,
        refs,
    } in &draft.refs
    {
        let spec = declared.and_then(|(specs, _, _)| specs.iter().find(|s| s.name == slot));
        if let Some((specs, any, kind)) = declared {
            if spec.is_none() && !any {
                let d = sink.error(
                    *slot_pos,
                    format!("unknown input `{slot}` for kind `{kind}`"),
                );
                let names: Vec<&str> = specs.iter().map(|s| s.name).collect();
                d.set_hint(crate::diagnostic::unknown_name_hint(
                    slot,
                    &names,
                    &format!("kind `{kind}`"),
                    "inputs",
                ));
                continue;
            }
        }
        let single = spec.is_some_and(|s| !s.many);
        if single && *as_list && refs.len() != 1 {
            sink.error(
                *slot_pos,
                format!(
                    "input `{slot}` takes exactly one stage, found a list of {}",
                    refs.len()
                ),
            )
            .set_hint(format!("`{slot}` is not a list input; name one stage"));
            continue;
        }
        let mut ups = Vec::new();
        for (reference, pos) in refs {
            let Some(hits) = names.resolve(reference, *pos, sink) else {
                continue;
            };
            if single && hits.len() != 1 {
                sink.error(
                    *pos,
                    format!(
                        "input `{slot}` takes exactly one stage, but `{reference}` names {}",
                        hits.len()
                    ),
                )
                .set_hint(format!("name one entry, e.g. `{}`", names.stages[hits[0]]));
                continue;
            }
            for h in hits {
                edges.push((h, *pos));
                ups.push(h);
            }
        }
        slots.insert(slot.clone(), ups);
    }
    if let Some((specs, _, kind)) = declared {
        for spec in specs.iter().filter(|s| s.required) {
            if !draft.refs.iter().any(|r| r.slot == spec.name) {
                sink.error(
                    draft.inputs_pos,
                    format!("missing required input `{}` for kind `{kind}`", spec.name),
                )
                .set_hint(format!(
                    "add `{}: STAGE` under `inputs:` ({})",
                    spec.name, spec.doc
                ));
            }
        }
    }
    (slots, edges)
}
