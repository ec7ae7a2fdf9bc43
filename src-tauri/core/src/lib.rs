//! Slipway's capabilities, shared by the CLI and the GUI.
//!
//! Nothing here prints or knows about a front end: long operations are step tables run by
//! [`pipeline`] and report through a [`pipeline::ProgressSink`]; every error says what happened
//! and what to do, and its [`error::ErrorKind`] tells front ends which action helps.

pub mod backstage;
pub mod bundle;
pub mod cluster;
pub mod config;
pub mod error;
pub mod forward;
pub mod github;
pub mod helm;
pub mod hosts;
pub mod k8s;
pub mod lock;
pub mod pipeline;
pub mod platform;
pub mod redact;
pub mod sealing;
pub mod secrets;
pub mod service;
pub mod teams;
pub mod trust;
