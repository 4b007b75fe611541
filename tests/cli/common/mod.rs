//! Helpers shared by the integration tests: each test drives the real
//! `pipe` binary in its own temporary project directory.
#![allow(dead_code)]

pub mod moto;
pub mod project;
