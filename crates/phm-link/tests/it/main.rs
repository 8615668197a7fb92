//! Integration tests of `phm-link`: DuckDB running the same SQL, the published tables' order,
//! failures that leave the previous tables whole, and `phm query`'s outputs read by other
//! tools. The hand-built fixture's expected feature table is in `sql/test/fixture.slt`.

#[path = "../common/mod.rs"]
mod common;
mod duckdb;
mod query;

pub use common::{config, ingest, link_committed};

/// Link a run as of 2025-04-01 with the repository's `sql/`, as `phm link` does: built in a
/// partial folder, committed as `linked/` when whole.
pub fn link(run: &std::path::Path) -> usize {
    link_committed(&config(run, Some(phm_testkit::repo_root().join("sql")))).unwrap()
}
