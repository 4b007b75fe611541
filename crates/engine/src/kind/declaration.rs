//! A kind's declaration as data, apart from the code that runs it.
//!
//! Most kinds implement [`Kind`] directly. A kind whose running needs a
//! heavy library (libtorch) is declared in a crate without it, as a
//! [`Declaration`]; `pipe` registers it as
//! [`OutOfProcess`](crate::kind::worker::OutOfProcess) and the worker program as
//! [`Defined`], with the function that really runs it. Both answer every
//! declaring question from the same value, so they cannot disagree about
//! parameters, checks or the cache version.

use crate::error::Result;
use crate::kind::param::{ParamSpec, Params};

use super::{Context, InputSpec, Kind, OutputSpec};

/// Everything [`Kind`] asks except `run`.
pub struct Declaration {
    pub name: &'static str,
    pub version: u32,
    pub summary: &'static str,
    pub params: &'static [ParamSpec],
    pub inputs: &'static [InputSpec],
    pub outputs: &'static [OutputSpec],
    /// [`Kind::check`].
    pub check: fn(&Params) -> Vec<(String, String)>,
    /// The parameters whose other cached values `run` asks
    /// [`Context::history`] about (a worker gets their answers up front).
    pub history: &'static [&'static str],
}

/// Answers [`Kind`]'s declaring methods from `self.declaration`.
macro_rules! declared_by_field {
    () => {
        fn name(&self) -> &'static str {
            self.declaration.name
        }
        fn version(&self) -> u32 {
            self.declaration.version
        }
        fn summary(&self) -> &'static str {
            self.declaration.summary
        }
        fn params(&self) -> &'static [$crate::kind::param::ParamSpec] {
            self.declaration.params
        }
        fn inputs(&self) -> &'static [$crate::kind::InputSpec] {
            self.declaration.inputs
        }
        fn outputs(&self) -> &'static [$crate::kind::OutputSpec] {
            self.declaration.outputs
        }
        fn check(&self, params: &$crate::kind::param::Params) -> Vec<(String, String)> {
            (self.declaration.check)(params)
        }
    };
}
pub(crate) use declared_by_field;

/// A kind made of its declaration and the function that runs it.
pub struct Defined {
    pub declaration: &'static Declaration,
    pub run: fn(&Context) -> Result<()>,
}

impl Kind for Defined {
    declared_by_field!();

    fn run(&self, ctx: &Context) -> Result<()> {
        (self.run)(ctx)
    }
}
