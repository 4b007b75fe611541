//! One way to declare a kind, in one layout, named in one place: each kind
//! crate's `kinds.rs` lists its `kinds/<kind>.rs` files, `src/registry.rs`
//! registers those lists, and no kind answers the engine through an
//! `impl Kind` of accessors. The sources are parsed (syn), so a comment
//! or a string naming these things proves nothing either way.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use syn::visit::Visit;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn parse(path: &Path) -> syn::File {
    let text = std::fs::read_to_string(path).unwrap();
    syn::parse_file(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The crates' `kinds/` folders that hold kind files.
fn kind_folders() -> Vec<PathBuf> {
    let mut folders: Vec<PathBuf> = std::fs::read_dir(root().join("crates"))
        .unwrap()
        .map(|e| e.unwrap().path().join("src/kinds"))
        .filter(|p| p.is_dir())
        .collect();
    folders.sort();
    folders
}

/// The file stems of the `.rs` files in `dir`.
fn stems(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect()
}

/// The `mod x;` items of a file, and the `x` of every `x::ITEM` path in
/// its `const KINDS` / `const DECLARATIONS` list.
fn modules_and_list(file: &syn::File) -> (BTreeSet<String>, Option<Vec<String>>) {
    let mut modules = BTreeSet::new();
    let mut list = None;
    for item in &file.items {
        match item {
            syn::Item::Mod(m) if m.content.is_none() => {
                modules.insert(m.ident.to_string());
            }
            syn::Item::Const(c) if c.ident == "KINDS" || c.ident == "DECLARATIONS" => {
                let mut paths = Paths::default();
                paths.visit_expr(&c.expr);
                list = Some(paths.0);
            }
            _ => {}
        }
    }
    (modules, list)
}

/// The first segment of every two-segment path (`resize::KIND` -> `resize`).
#[derive(Default)]
struct Paths(Vec<String>);

impl<'a> Visit<'a> for Paths {
    fn visit_path(&mut self, path: &'a syn::Path) {
        if path.segments.len() == 2 {
            self.0.push(path.segments[0].ident.to_string());
        }
    }
}

/// Every kind file is listed, once, by its crate's `kinds.rs`, and the
/// `pipe` binary knows exactly the kinds those files are named after.
#[test]
fn only_the_registry_names_every_kind() {
    let mut files = BTreeSet::new();
    for folder in kind_folders() {
        let kinds_rs = folder.with_extension("rs");
        let (modules, list) = modules_and_list(&parse(&kinds_rs));
        let stems = stems(&folder);
        assert_eq!(
            modules,
            stems,
            "{}: its `mod` items must be the files of kinds/",
            kinds_rs.display()
        );
        let list = list.unwrap_or_else(|| {
            panic!(
                "{}: no `const KINDS` (or `DECLARATIONS`) list",
                kinds_rs.display()
            )
        });
        let listed: BTreeSet<String> = list.iter().cloned().collect();
        assert_eq!(
            listed,
            stems,
            "{}: KINDS must list every kind file",
            kinds_rs.display()
        );
        assert_eq!(
            list.len(),
            listed.len(),
            "{}: a kind listed twice",
            kinds_rs.display()
        );
        files.extend(stems);
    }
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_pipe"))
        .args(["kinds", "--format", "json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let kinds: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let registered: BTreeSet<String> = kinds
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        registered, files,
        "`pipe kinds` must list exactly the kinds of the crates' kinds/<kind>.rs files"
    );
}

/// The methods a kind answers from its declaration.
const ACCESSORS: &[&str] = &[
    "name",
    "version",
    "summary",
    "params",
    "inputs",
    "any_inputs",
    "outputs",
];

/// Finds `impl Kind for X` and accessor-style declarations: a method of
/// [`ACCESSORS`] on `&self` whose body is one constant (a literal or a
/// path such as `PARAMS`).
#[derive(Default)]
struct Declarers(Vec<String>);

impl<'a> Visit<'a> for Declarers {
    fn visit_item_impl(&mut self, item: &'a syn::ItemImpl) {
        if let Some((_, path, _)) = &item.trait_ {
            if path.segments.last().is_some_and(|s| s.ident == "Kind") {
                self.0.push("`impl Kind for`".to_string());
            }
        }
        syn::visit::visit_item_impl(self, item);
    }

    fn visit_impl_item_fn(&mut self, f: &'a syn::ImplItemFn) {
        let name = f.sig.ident.to_string();
        let on_self = matches!(f.sig.inputs.first(), Some(syn::FnArg::Receiver(_)));
        let constant = match f.block.stmts.as_slice() {
            [syn::Stmt::Expr(e, None)] => matches!(e, syn::Expr::Lit(_) | syn::Expr::Path(_)),
            _ => false,
        };
        if on_self && constant && ACCESSORS.contains(&name.as_str()) {
            self.0
                .push(format!("`fn {name}(&self)` returning a constant"));
        }
        syn::visit::visit_impl_item_fn(self, f);
    }
}

fn declarers(source: &syn::File) -> Vec<String> {
    let mut found = Declarers::default();
    found.visit_file(source);
    found.0
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() && !path.ends_with("target") {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// A kind is a `Declaration` plus how it runs (`Kind::in_process`,
/// `Kind::in_worker`); only the engine's kind module answers the engine's
/// questions from it. No `impl Kind for` and no accessor-style declaration
/// anywhere else: not in the crates, the binary, their tests or the fuzzer.
#[test]
fn kinds_are_declared_as_data_not_by_accessors() {
    // The detector reads code, not text: a comment or a string is not a
    // declaration, an accessor impl is.
    let text = "// impl Kind for X { fn name(&self) -> &'static str { \"x\" } }\n\
                const S: &str = \"impl Kind for X\";";
    assert!(declarers(&syn::parse_file(text).unwrap()).is_empty());
    let code = "mod m { impl pipe_engine::Kind for X { \
                fn name(&self) -> &'static str { \"x\" } \
                fn params(&self) -> &'static [ParamSpec] { PARAMS } \
                fn run(&self, ctx: &Context) -> Result<()> { go(ctx) } } }";
    assert_eq!(declarers(&syn::parse_file(code).unwrap()).len(), 3);

    let engine_kind = root().join("crates/engine/src/kind");
    let mut files = Vec::new();
    for dir in ["src", "crates", "tests", "fuzz/fuzz_targets"] {
        rust_files(&root().join(dir), &mut files);
    }
    files.sort();
    let mut problems = Vec::new();
    for file in &files {
        if file.starts_with(&engine_kind) || file == &engine_kind.with_extension("rs") {
            continue;
        }
        for found in declarers(&parse(file)) {
            let rel = file.strip_prefix(root()).unwrap();
            problems.push(format!("{}: {found}", rel.display()));
        }
    }
    assert!(
        problems.is_empty(),
        "declare a kind as `Kind::in_process(Declaration {{ .. }}, run)` in kinds/<kind>.rs \
         (docs/stage-kinds.md, \"Adding a kind\"), not with an impl:\n{}",
        problems.join("\n")
    );
}
