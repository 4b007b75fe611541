//! The JSON Schema (draft 2020-12) of pipeline files, generated from the
//! registry so that editors complete kinds, params and inputs with their
//! docs. Per-kind params and inputs are chosen by `if`/`then` on `kind`.
//! Any value may instead be a `${...}` interpolation, which the schema can
//! only accept as a string; `pipe check` does the real typing.

use serde_json::{json, Map, Value as Json};

use crate::kind::param::{Lit, ParamSpec, ParamType};
use crate::kind::{Kind, Registry};

const NAME_PATTERN: &str = "^[A-Za-z0-9_-]+$";

pub fn json_schema(registry: &Registry) -> Json {
    let kinds: Vec<&str> = registry.names().collect();
    let mut defs = Map::new();
    defs.insert(
        "interpolation".into(),
        json!({
            "type": "string",
            "pattern": "\\$\\{",
            "description": "A `${params.NAME}` or `${matrix.NAME}` reference; a whole-value reference keeps the referenced value's type."
        }),
    );
    defs.insert("stage".into(), stage_schema(registry, &kinds));
    defs.insert("matrix".into(), matrix_schema());
    defs.insert("resources".into(), resources_schema());
    defs.insert(
        "reference".into(),
        json!({
            "type": "string",
            "description": "A stage name (`resize`), an expanded matrix name (`train[resnet50,transfer]`), a matrix template's bare name (all its entries) or a glob with `*` and `?`."
        }),
    );
    for kind in registry.iter() {
        defs.insert(
            format!("params-{}", kind.name()),
            params_schema(kind.as_ref()),
        );
        defs.insert(
            format!("inputs-{}", kind.name()),
            inputs_schema(kind.as_ref()),
        );
    }
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "pipe pipeline file (version 1)",
        "description": "A declarative pipeline of typed stages; see docs/pipeline-format.md.",
        "type": "object",
        "additionalProperties": false,
        "required": ["version", "stages"],
        "properties": {
            "version": {"const": 1, "description": "The format version; always 1."},
            "resources": {"$ref": "#/$defs/resources"},
            "params": {
                "type": ["object", "null"],
                "description": "Top-level values, used as `${params.NAME}` anywhere below and overridden with `--set NAME=VALUE`.",
                "propertyNames": {"pattern": NAME_PATTERN}
            },
            "stages": {
                "type": "object",
                "description": "Stage name -> stage.",
                "propertyNames": {"pattern": NAME_PATTERN},
                "additionalProperties": {"$ref": "#/$defs/stage"}
            },
            "remote": {
                "type": "object",
                "description": "The shared remote cache (docs/remote.md); PIPE_REMOTE overrides it.",
                "additionalProperties": false,
                "properties": {
                    "url": {"type": "string", "pattern": "^s3://[^/]+", "description": "`s3://bucket/prefix`."},
                    "key_includes_environment": {"type": "boolean", "description": "Make the environment (pipe, libtorch and CUDA versions, platform) part of every stage key; default false."}
                }
            }
        },
        "$defs": defs
    })
}

fn stage_schema(registry: &Registry, kinds: &[&str]) -> Json {
    let kind_docs: Vec<Json> = registry
        .iter()
        .map(|k| json!({"const": k.name(), "description": k.summary()}))
        .collect();
    let branches: Vec<Json> = kinds
        .iter()
        .map(|name| {
            json!({
                "if": {"properties": {"kind": {"const": name}}, "required": ["kind"]},
                "then": {
                    "properties": {
                        "params": {"$ref": format!("#/$defs/params-{name}")},
                        "inputs": {"$ref": format!("#/$defs/inputs-{name}")}
                    }
                }
            })
        })
        .chain(
            registry
                .iter()
                .filter(|k| k.params().iter().any(|p| p.default.is_none()))
                .map(|k| {
                    json!({
                        "if": {"properties": {"kind": {"const": k.name()}}, "required": ["kind"]},
                        "then": {"required": ["params"]}
                    })
                }),
        )
        .chain(
            registry
                .iter()
                .filter(|k| k.inputs().iter().any(|i| i.required) && !k.any_inputs())
                .map(|k| {
                    json!({
                        "if": {"properties": {"kind": {"const": k.name()}}, "required": ["kind"]},
                        "then": {"required": ["inputs"]}
                    })
                }),
        )
        .collect();
    json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["kind"],
        "properties": {
            "kind": {"description": "The stage kind (`pipe kinds` lists them).", "oneOf": kind_docs},
            "doc": {"type": "string", "description": "Free text; not part of the cache key."},
            "gpus": {
                "description": "GPUs the stage needs at once; 0 for CPU-only stages.",
                "anyOf": [{"type": "integer", "minimum": 0}, {"$ref": "#/$defs/interpolation"}],
                "default": 0
            },
            "resources": {"$ref": "#/$defs/resources"},
            "matrix": {"$ref": "#/$defs/matrix"},
            "params": {"type": ["object", "null"], "description": "The kind's parameters."},
            "inputs": {"type": ["object", "null"], "description": "Input slot -> the stage(s) whose output it reads."}
        },
        "allOf": branches
    })
}

/// `resources:` (format/resources.rs): what a stage asks of a cluster.
fn resources_schema() -> Json {
    let interp = json!({"$ref": "#/$defs/interpolation"});
    json!({
        "type": ["object", "null"],
        "description": "What a stage asks of a cluster (`pipe run --executor slurm`); top-level: every stage's defaults. Not part of the cache key.",
        "additionalProperties": false,
        "properties": {
            "time": {"description": "Wall-time limit: minutes, `MM:SS`, `HH:MM:SS`, `D-HH`, `D-HH:MM` or `D-HH:MM:SS`.", "type": ["integer", "string"]},
            "mem": {"description": "Memory: `512M`, `16G`, `1T`; a bare number is megabytes.", "type": ["integer", "string"]},
            "cpus": {"description": "CPU cores.", "anyOf": [{"type": "integer", "minimum": 1}, interp]},
            "partition": {"type": "string", "description": "The partition (queue) to submit to."},
            "account": {"type": "string", "description": "The account to charge."},
            "extra": {"description": "Further scheduler flags, one per item.", "anyOf": [{"type": "array", "items": {"type": "string"}}, interp]}
        }
    })
}

fn matrix_schema() -> Json {
    let scalar = json!({"type": ["string", "number", "boolean", "null"]});
    let entry = json!({
        "type": "object",
        "propertyNames": {"pattern": NAME_PATTERN},
        "additionalProperties": scalar
    });
    json!({
        "type": "object",
        "description": "Expand the stage over combinations: a list is an axis (cartesian product), a scalar a default for every entry.",
        "propertyNames": {"pattern": NAME_PATTERN},
        "properties": {
            "include": {"type": "array", "items": entry, "description": "Each entry adds one combination."},
            "exclude": {"type": "array", "items": entry, "description": "Product entries matching all given keys are dropped (before `include`)."}
        },
        "additionalProperties": {
            "anyOf": [
                {"type": "array", "items": scalar, "minItems": 1},
                scalar
            ]
        }
    })
}

fn params_schema(kind: &Kind) -> Json {
    let mut properties = Map::new();
    for spec in kind.params() {
        properties.insert(spec.name.to_string(), param_schema(spec));
    }
    let required: Vec<&str> = kind
        .params()
        .iter()
        .filter(|p| p.default.is_none())
        .map(|p| p.name)
        .collect();
    json!({
        "type": ["object", "null"],
        "description": format!("Parameters of `{}`: {}", kind.name(), kind.summary()),
        "additionalProperties": false,
        "properties": properties,
        "required": required
    })
}

fn param_schema(spec: &ParamSpec) -> Json {
    let mut typed = type_schema(&spec.ty);
    if spec.default == Some(Lit::Null) {
        typed = json!({"anyOf": [typed, {"type": "null"}]});
    }
    let mut schema = json!({
        "description": spec.doc,
        "anyOf": [typed, {"$ref": "#/$defs/interpolation"}]
    });
    if let (Some(default), Some(obj)) = (spec.default, schema.as_object_mut()) {
        obj.insert("default".into(), default.to_value().to_json());
    }
    schema
}

fn type_schema(ty: &ParamType) -> Json {
    match ty {
        ParamType::Bool => json!({"type": "boolean"}),
        ParamType::Int => json!({"type": "integer"}),
        ParamType::Float => json!({"type": "number"}),
        ParamType::Str => json!({"type": "string"}),
        ParamType::Enum(options) => json!({"enum": options}),
        ParamType::List(item) => json!({
            "type": "array",
            "items": {"anyOf": [type_schema(item), {"$ref": "#/$defs/interpolation"}]}
        }),
        ParamType::Path => {
            json!({"type": "string", "description": "A path relative to the pipeline file."})
        }
        ParamType::Map => json!({"type": "object"}),
        ParamType::Any => json!({}),
    }
}

fn inputs_schema(kind: &Kind) -> Json {
    let reference = json!({"$ref": "#/$defs/reference"});
    let many = json!({"anyOf": [reference, {"type": "array", "items": reference}]});
    let mut properties = Map::new();
    // Only real slot names: a kind may document a placeholder like `<any>`.
    let named = kind.inputs().iter().filter(|i| is_name(i.name));
    for input in named {
        let mut s = if input.many {
            many.clone()
        } else {
            json!({"anyOf": [reference, {"type": "array", "items": reference, "maxItems": 1}]})
        };
        if let Some(obj) = s.as_object_mut() {
            obj.insert("description".into(), Json::String(input.doc.to_string()));
        }
        properties.insert(input.name.to_string(), s);
    }
    let required: Vec<&str> = kind
        .inputs()
        .iter()
        .filter(|i| i.required && is_name(i.name))
        .map(|i| i.name)
        .collect();
    let additional = if kind.any_inputs() {
        many
    } else {
        Json::Bool(false)
    };
    json!({
        "type": ["object", "null"],
        "properties": properties,
        "required": required,
        "additionalProperties": additional
    })
}

fn is_name(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema() -> Json {
        let mut registry = Registry::new();
        crate::kinds::register(&mut registry);
        json_schema(&registry)
    }

    fn as_json(yaml: &str) -> Json {
        crate::format::yaml::parse(yaml)
            .unwrap()
            .0
            .unwrap()
            .to_value()
            .to_json()
    }

    fn valid(yaml: &str) -> bool {
        let validator = jsonschema::draft202012::new(&schema()).expect("the schema compiles");
        validator.is_valid(&as_json(yaml))
    }

    const GOOD: &str = "version: 1
params: {n: 3}
stages:
  data:
    kind: cmd
    doc: text
    params: {run: 'seq ${params.n}', outs: [a.txt]}
  train:
    kind: cmd
    gpus: 1
    matrix:
      model: [a, b]
      lr: 0.1
      include: [{model: c, lr: 0.5}]
      exclude: [{model: b}]
    params: {run: 'echo ${matrix.model}'}
    inputs: {data: data, all: ['train[*]']}
";

    #[test]
    fn accepts_a_valid_file() {
        assert!(valid(GOOD));
    }

    #[test]
    fn rejects_what_check_rejects() {
        for (from, to) in [
            ("version: 1", "version: 2"),
            ("params: {n: 3}", "parms: {n: 3}"),
            ("    doc: text", "    dco: text"),
            ("kind: cmd\n    doc", "kind: cmdd\n    doc"),
            ("{run: 'seq ${params.n}', outs: [a.txt]}", "{outs: [a.txt]}"),
            ("outs: [a.txt]", "outs: [a.txt], rnu: x"),
            ("outs: [a.txt]", "outs: 3"),
            ("gpus: 1", "gpus: -1"),
            ("  train:", "  tr ain:"),
            ("      model: [a, b]", "      model: [[a], b]"),
        ] {
            assert!(GOOD.contains(from), "{from}");
            let bad = GOOD.replacen(from, to, 1);
            assert!(!valid(&bad), "accepted after `{from}` -> `{to}`");
        }
    }
}
