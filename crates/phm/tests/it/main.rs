//! The `phm` binary from outside, as its users meet it. One test binary with a module per
//! concern: DataFusion and polars are linked once, not once per file.

mod cli;
#[cfg(feature = "ballista")]
mod cluster;
mod common;
mod publish;
mod reid;
mod risk;
mod run;
mod share;
mod zone;
