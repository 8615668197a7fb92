//! The k-anonymity report: for each published row-level table, the equivalence classes of
//! its quasi-identifiers (age band, sex, LSOA, practice) that it holds: how many, the smallest,
//! and how many are smaller than k. A report for the data engineers who share the run's
//! tables, not a guarantee: `phm share` (per recipient) is where k is enforced.

use datafusion::prelude::ParquetReadOptions;
use phm_run::RunLayout;
use phm_sql::SessionSettings;
use serde::Serialize;

use crate::PublishError;
use crate::counts::rows;

/// The quasi-identifier columns looked for in every published table.
pub const QUASI_IDENTIFIERS: [&str; 4] = ["age_band", "sex", "lsoa_code", "practice_code"];

/// The report.
#[derive(Debug, Clone, Serialize)]
pub struct KAnonymity {
    /// k.
    pub k: u64,
    /// The quasi-identifiers looked for.
    pub quasi_identifiers: Vec<String>,
    /// Per table.
    pub tables: Vec<TableClasses>,
}

/// One table's classes.
#[derive(Debug, Clone, Serialize)]
pub struct TableClasses {
    /// The table.
    pub table: String,
    /// The quasi-identifiers it has.
    pub quasi_identifiers: Vec<String>,
    /// Rows.
    pub rows: u64,
    /// Equivalence classes (distinct combinations of its quasi-identifiers).
    pub classes: u64,
    /// Rows in the smallest class.
    pub smallest_class: u64,
    /// Classes with fewer than k rows.
    pub classes_under_k: u64,
    /// Rows in those classes.
    pub rows_in_classes_under_k: u64,
    /// Every class has at least k rows.
    pub meets_k: bool,
}

/// Measure every published row-level table of the run (aggregates are counts, not rows, and
/// are left out).
pub fn report(
    run: &RunLayout,
    k: u64,
    settings: &SessionSettings,
) -> Result<KAnonymity, PublishError> {
    phm_sql::block_on(report_async(run, k, settings))
}

async fn report_async(
    run: &RunLayout,
    k: u64,
    settings: &SessionSettings,
) -> Result<KAnonymity, PublishError> {
    let ctx = phm_sql::session(settings)?;
    let aggregates = run.aggregates();
    let tables = run.published_tables().map_err(|e| PublishError::Io {
        path: run.path().to_owned(),
        source: e,
    })?;
    let mut out = Vec::new();
    for (name, path) in tables {
        if path.starts_with(&aggregates) {
            continue;
        }
        ctx.register_parquet(
            &name,
            path.to_string_lossy().as_ref(),
            ParquetReadOptions::default(),
        )
        .await
        .map_err(phm_sql::engine(&name))?;
        let schema = ctx
            .table(name.as_str())
            .await
            .map_err(phm_sql::engine(&name))?
            .schema()
            .clone();
        let present: Vec<String> = QUASI_IDENTIFIERS
            .iter()
            .filter(|q| schema.has_column_with_unqualified_name(q))
            .map(|q| (*q).to_owned())
            .collect();
        if present.is_empty() {
            continue;
        }
        let sql = format!(
            "SELECT COUNT(*), COALESCE(SUM(n), 0), COALESCE(MIN(n), 0), \
             COALESCE(SUM(CASE WHEN n < {k} THEN 1 ELSE 0 END), 0), \
             COALESCE(SUM(CASE WHEN n < {k} THEN n ELSE 0 END), 0) \
             FROM (SELECT COUNT(*) AS n FROM \"{name}\" GROUP BY {})",
            present
                .iter()
                .map(|q| format!("\"{q}\""))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let r = rows(&ctx, &name, &sql).await?;
        let v: Vec<u64> = r[0].iter().map(|x| x.parse().unwrap_or(0)).collect();
        out.push(TableClasses {
            table: name,
            quasi_identifiers: present,
            classes: v[0],
            rows: v[1],
            smallest_class: v[2],
            classes_under_k: v[3],
            rows_in_classes_under_k: v[4],
            meets_k: v[3] == 0,
        });
    }
    Ok(KAnonymity {
        k,
        quasi_identifiers: QUASI_IDENTIFIERS.iter().map(|q| (*q).to_owned()).collect(),
        tables: out,
    })
}
