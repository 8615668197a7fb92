//! The run's extract datasets as tables, named after their contracts.

use datafusion::prelude::{ParquetReadOptions, SessionContext};
use phm_contract::Contracts;
use phm_run::RunLayout;

use crate::{SqlError, engine};

/// The extracts that produce a dataset, from the contracts in `schemas/` alone: every contract
/// with a submitter column. A control list without one (the national data opt-out) is read
/// by ingest to drop rows and produces no dataset.
pub fn extract_tables() -> Vec<String> {
    Contracts::builtin()
        .iter()
        .filter(|c| c.submitter_index().is_some())
        .map(|c| c.name.clone())
        .collect()
}

/// Register every extract dataset present under the run's `pseudonymised/`; returns their
/// names.
pub async fn register_extracts(
    ctx: &SessionContext,
    run: &RunLayout,
) -> Result<Vec<String>, SqlError> {
    let mut registered = Vec::new();
    for table in extract_tables() {
        let dir = run.extract_dir(&table);
        if dir.is_dir() {
            // A trailing slash: the folder's files are one table.
            let path = format!("{}/", dir.display());
            ctx.register_parquet(table.as_str(), &path, ParquetReadOptions::default())
                .await
                .map_err(engine(&table))?;
            registered.push(table);
        }
    }
    Ok(registered)
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_extract_but_the_control_list_is_a_table() {
        let mut tables = super::extract_tables();
        tables.sort();
        assert_eq!(
            tables,
            [
                "ambulance",
                "apc",
                "community",
                "ecds",
                "gp_events",
                "gp_medications",
                "gp_registrations",
                "mental_health",
                "op"
            ]
        );
    }
}
