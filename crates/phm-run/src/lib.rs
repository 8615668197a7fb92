//! The run: what a pipeline is, where its outputs go, and how they are committed.
//!
//! `phm-run` owns, once each: the pipeline definition an analyst edits ([`pipeline`]), the
//! layout of a run in both zones ([`layout`]: no other crate formats a run path), atomic
//! writes of files and folders ([`atomic`]: no other crate writes a file its own way), the run
//! manifest and stage descriptions ([`manifest`]), the fingerprint that says whether a run has
//! anything new to do ([`fingerprint`]), and the lock that keeps two runs apart ([`lock`]).
//! It is a leaf: no query engine, no dataframe library, no terminal.

pub mod atomic;
pub mod layout;

pub use atomic::{AtomicFile, PartialDir, Privacy};
pub use layout::{IdentifiableRoot, IdentifiableRun, RunLayout, RunsRoot};
pub mod pipeline;

pub use pipeline::{OnRejectedFile, Pipeline, PipelineError};
pub mod fingerprint;
pub mod lock;
pub mod manifest;
pub mod purge;
pub mod share;

pub use lock::{LockError, RunLock};
pub use manifest::{RunManifest, Stage, StageRecord};
