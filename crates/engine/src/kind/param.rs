//! Typed parameters: what a stage kind declares it accepts, and the resolved
//! values a stage receives.
//!
//! One declaration ([`ParamSpec`]) serves validation, `pipe schema` (JSON
//! Schema) and the generated reference docs.

use std::collections::BTreeMap;

use crate::error::{Error, Result};
use crate::kind::value::Value;

/// The type a parameter must have.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ParamType {
    Bool,
    Int,
    /// A number; integers are accepted and widened.
    Float,
    Str,
    /// One of the listed strings.
    Enum(&'static [&'static str]),
    /// A list whose items all have the given type.
    List(&'static ParamType),
    /// A file or directory in the project, relative to the pipeline file.
    /// Its content hash enters the stage's cache key.
    Path,
    /// A mapping from names to values of any type.
    Map,
    /// Anything (checked by the kind itself in [`crate::Kind::check`]).
    Any,
}

impl ParamType {
    /// A description for messages: "an integer", "one of `sgd`, `adam`".
    pub fn describe(&self) -> String {
        match self {
            ParamType::Bool => "a boolean (`true` or `false`)".into(),
            ParamType::Int => "an integer".into(),
            ParamType::Float => "a number".into(),
            ParamType::Str => "a string".into(),
            ParamType::Enum(options) => {
                let list: Vec<String> = options.iter().map(|o| format!("`{o}`")).collect();
                format!("one of {}", list.join(", "))
            }
            ParamType::List(item) => format!("a list of {}", item.plural()),
            ParamType::Path => "a path (relative to the pipeline file)".into(),
            ParamType::Map => "a mapping".into(),
            ParamType::Any => "any value".into(),
        }
    }
}

impl ParamType {
    /// The plural noun for items of this type: "integers", "paths".
    fn plural(&self) -> String {
        match self {
            ParamType::Bool => "booleans".into(),
            ParamType::Int => "integers".into(),
            ParamType::Float => "numbers".into(),
            ParamType::Str => "strings".into(),
            ParamType::Enum(_) => format!("values, each {}", self.describe()),
            ParamType::List(item) => format!("lists of {}", item.plural()),
            ParamType::Path => "paths (relative to the pipeline file)".into(),
            ParamType::Map => "mappings".into(),
            ParamType::Any => "values".into(),
        }
    }
}

/// A literal default value (const-constructible, unlike [`Value`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Lit {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(&'static str),
    /// An empty list.
    EmptyList,
}

impl Lit {
    pub fn to_value(self) -> Value {
        match self {
            Lit::Null => Value::Null,
            Lit::Bool(b) => Value::Bool(b),
            Lit::Int(i) => Value::Int(i),
            Lit::Float(f) => Value::Float(f),
            Lit::Str(s) => Value::Str(s.to_string()),
            Lit::EmptyList => Value::List(Vec::new()),
        }
    }
}

/// One parameter a stage kind accepts.
#[derive(Clone, Copy, Debug)]
pub struct ParamSpec {
    pub name: &'static str,
    pub ty: ParamType,
    /// `None`: the parameter is required.
    pub default: Option<Lit>,
    /// One or two sentences for `--help`, `pipe schema` and docs.
    pub doc: &'static str,
}

impl ParamSpec {
    pub const fn required(name: &'static str, ty: ParamType, doc: &'static str) -> ParamSpec {
        ParamSpec {
            name,
            ty,
            default: None,
            doc,
        }
    }

    pub const fn optional(
        name: &'static str,
        ty: ParamType,
        default: Lit,
        doc: &'static str,
    ) -> ParamSpec {
        ParamSpec {
            name,
            ty,
            default: Some(default),
            doc,
        }
    }
}

/// A stage's resolved parameters: every declared parameter is present
/// (defaults filled in) and has its declared type.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Params(pub BTreeMap<String, Value>);

impl Params {
    pub fn get(&self, name: &str) -> Result<&Value> {
        self.0
            .get(name)
            .ok_or_else(|| Error::internal(format!("parameter `{name}` was not resolved")))
    }

    fn typed<'a, T>(
        &'a self,
        name: &str,
        what: &str,
        f: impl Fn(&'a Value) -> Option<T>,
    ) -> Result<T> {
        let v = self.get(name)?;
        f(v).ok_or_else(|| {
            Error::internal(format!(
                "parameter `{name}` is {} where {what} was validated",
                v.type_name()
            ))
        })
    }

    pub fn str(&self, name: &str) -> Result<&str> {
        self.typed(name, "a string", Value::as_str)
    }

    pub fn i64(&self, name: &str) -> Result<i64> {
        self.typed(name, "an integer", Value::as_i64)
    }

    pub fn usize(&self, name: &str) -> Result<usize> {
        let i = self.i64(name)?;
        usize::try_from(i).map_err(|_| {
            Error::failed(format!("parameter `{name}` must not be negative (got {i})"))
        })
    }

    pub fn f64(&self, name: &str) -> Result<f64> {
        self.typed(name, "a number", Value::as_f64)
    }

    pub fn bool(&self, name: &str) -> Result<bool> {
        self.typed(name, "a boolean", Value::as_bool)
    }

    pub fn list(&self, name: &str) -> Result<&[Value]> {
        self.typed(name, "a list", Value::as_list)
    }

    /// `None` when the parameter is null.
    pub fn opt_str(&self, name: &str) -> Result<Option<&str>> {
        match self.get(name)? {
            Value::Null => Ok(None),
            v => v
                .as_str()
                .map(Some)
                .ok_or_else(|| Error::internal(format!("parameter `{name}` is not a string"))),
        }
    }

    /// `None` when the parameter is null.
    pub fn opt_f64(&self, name: &str) -> Result<Option<f64>> {
        match self.get(name)? {
            Value::Null => Ok(None),
            v => v
                .as_f64()
                .map(Some)
                .ok_or_else(|| Error::internal(format!("parameter `{name}` is not a number"))),
        }
    }

    /// `None` when the parameter is null.
    pub fn opt_i64(&self, name: &str) -> Result<Option<i64>> {
        match self.get(name)? {
            Value::Null => Ok(None),
            v => v
                .as_i64()
                .map(Some)
                .ok_or_else(|| Error::internal(format!("parameter `{name}` is not an integer"))),
        }
    }
}
