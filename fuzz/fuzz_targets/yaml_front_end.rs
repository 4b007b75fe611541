//! The pipeline file's front end as `pipe check` runs it: bytes -> YAML
//! tree -> spec -> validated pipeline, with `--set` overrides. Any input
//! must give diagnostics or a pipeline: no panic, no hang, no unbounded
//! allocation (run with `-rss_limit_mb` and `-timeout`).
//!
//! A first line `#set K=V K=V` (a YAML comment) passes `--set` overrides.
//! The registry holds `cmd` and a kind with a param of every type, so that
//! typing, enums, lists, paths and kind checks are all reached.

#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use pipe_engine::kind::{Declaration, InputSpec, Kind, Registry};
use pipe_engine::param::{Lit, ParamSpec, ParamType, Params};

static INT: ParamType = ParamType::Int;
static FLOAT: ParamType = ParamType::Float;
const PARAMS: &[ParamSpec] = &[
    ParamSpec::required("model", ParamType::Enum(&["a", "b", "c"]), "The model."),
    ParamSpec::optional("epochs", ParamType::Int, Lit::Int(1), "Epochs."),
    ParamSpec::optional("lr", ParamType::Float, Lit::Float(0.1), "Learning rate."),
    ParamSpec::optional("title", ParamType::Str, Lit::Str(""), "A title."),
    ParamSpec::optional("sizes", ParamType::List(&INT), Lit::EmptyList, "Sizes."),
    ParamSpec::optional("rates", ParamType::List(&FLOAT), Lit::EmptyList, "Rates."),
    ParamSpec::optional("file", ParamType::Path, Lit::Null, "A file."),
    ParamSpec::optional("flag", ParamType::Bool, Lit::Bool(false), "A flag."),
    ParamSpec::optional("extra", ParamType::Map, Lit::Null, "Anything keyed."),
    ParamSpec::optional("any", ParamType::Any, Lit::Null, "Anything."),
];
const INPUTS: &[InputSpec] = &[
    InputSpec::optional("one", "One stage."),
    InputSpec {
        required: false,
        ..InputSpec::many("runs", "Many stages.")
    },
];

fn check(params: &Params) -> Vec<(String, String)> {
    match params.i64("epochs") {
        Ok(e) if e > 1000 => vec![("epochs".into(), format!("at most 1000, found {e}"))],
        _ => Vec::new(),
    }
}

/// A kind with a param of every type.
const TYPED: Kind = Kind::in_process(
    Declaration {
        name: "typed",
        summary: "a kind with a param of every type",
        params: PARAMS,
        inputs: INPUTS,
        check,
        ..Declaration::BASE
    },
    |_| Ok(()),
);

struct Setup {
    registry: Registry,
    file: PathBuf,
}

fn setup() -> &'static Setup {
    static SETUP: OnceLock<Setup> = OnceLock::new();
    SETUP.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("pipe-fuzz-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("data.csv"), "x").unwrap();
        let mut registry = Registry::new();
        pipe_engine::register(&mut registry);
        registry.add(TYPED);
        Setup {
            registry,
            file: dir.join("p.yaml"),
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let setup = setup();
    let overrides: Vec<String> = data
        .strip_prefix(b"#set ")
        .and_then(|rest| rest.split(|b| *b == b'\n').next())
        .map(|line| {
            String::from_utf8_lossy(line)
                .split_whitespace()
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    let _ = pipe_engine::load::load_bytes(&setup.file, data, &setup.registry, &overrides);
});
