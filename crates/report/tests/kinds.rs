//! Behaviour tests of the `plot` and `report` kinds, run through hand-built
//! [`pipe_engine::Context`]s over temporary directories.

mod kinds {
    pub mod evaluations;
    pub mod plot;
    pub mod report;
    pub mod support;
}
