//! Slipway's capabilities, shared by the CLI and the GUI.
//!
//! Nothing here prints or knows about a front end: long operations report through a
//! [`progress::ProgressSink`], and every error says what happened and what to do.

pub mod backstage;
pub mod bundle;
pub mod cluster;
pub mod config;
pub mod forward;
pub mod github;
pub mod helm;
pub mod hosts;
pub mod k8s;
pub mod platform;
pub mod progress;
pub mod sealing;
pub mod secrets;
pub mod service;
