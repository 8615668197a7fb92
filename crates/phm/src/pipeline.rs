//! Pipeline definitions live in `phm-run`; this re-export keeps the commands' imports short.

pub use phm_run::Pipeline;
