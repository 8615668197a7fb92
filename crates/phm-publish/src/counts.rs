//! The true counts a run publishes, read from its tables with SQL (`risk`, `spine`,
//! `scores`). Nothing here leaves the crate unprotected: every count goes through
//! [`crate::frame::Frame::protect`].

use datafusion::arrow::array::{Array, StringArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::prelude::{ParquetReadOptions, SessionContext};
use phm_run::RunLayout;
use phm_sql::SessionSettings;

use crate::PublishError;

/// Patients by practice, tier, segment, age band and sex (one row per combination present).
#[derive(Debug, Clone)]
pub struct PatientCount {
    /// Practice ODS code.
    pub practice: String,
    /// Risk tier.
    pub tier: String,
    /// Population segment.
    pub segment: String,
    /// Age band.
    pub age_band: String,
    /// The youngest age in the band (to order bands).
    pub min_age: i64,
    /// Sex.
    pub sex: String,
    /// Patients.
    pub n: u64,
}

/// One score's distribution: bin label and patients, in bin order.
#[derive(Debug, Clone)]
pub struct Distribution {
    /// The score (`charlson_1987`).
    pub score: String,
    /// Bins in order with their patients.
    pub bins: Vec<(String, u64)>,
}

/// Everything counted from the run's tables.
#[derive(Debug, Clone)]
pub struct RunCounts {
    /// Patients by practice, tier, segment, age band, sex.
    pub patients: Vec<PatientCount>,
    /// Score distributions.
    pub scores: Vec<Distribution>,
}

const PATIENTS: &str = "\
SELECT r.practice_code, r.tier, r.segment, s.age_band, MIN(s.age) AS min_age, s.sex, COUNT(*) AS n
FROM risk r JOIN spine s ON r.pseudonym = s.pseudonym
GROUP BY r.practice_code, r.tier, r.segment, s.age_band, s.sex
ORDER BY r.practice_code, r.tier, r.segment, min_age, s.sex";

/// Score distributions: (score, SQL giving `bin`, `ord`, `n`). Bins are the published
/// categories of each score (Charlson capped at 5+, van Walraven's Elixhauser in bands).
const SCORES: [(&str, &str); 4] = [
    (
        "charlson_1987",
        "SELECT CASE WHEN charlson_1987 >= 5 THEN '5+' ELSE CAST(charlson_1987 AS VARCHAR) END AS bin, LEAST(charlson_1987, 5) AS ord, COUNT(*) AS n FROM scores GROUP BY 1, 2 ORDER BY 2",
    ),
    (
        "elixhauser_van_walraven",
        "SELECT CASE WHEN elixhauser_van_walraven < 0 THEN '<0' WHEN elixhauser_van_walraven = 0 THEN '0' WHEN elixhauser_van_walraven < 5 THEN '1-4' WHEN elixhauser_van_walraven < 10 THEN '5-9' ELSE '10+' END AS bin, CASE WHEN elixhauser_van_walraven < 0 THEN 0 WHEN elixhauser_van_walraven = 0 THEN 1 WHEN elixhauser_van_walraven < 5 THEN 2 WHEN elixhauser_van_walraven < 10 THEN 3 ELSE 4 END AS ord, COUNT(*) AS n FROM scores GROUP BY 1, 2 ORDER BY 2",
    ),
    (
        "hfrs_band",
        "SELECT hfrs_band AS bin, CASE hfrs_band WHEN 'low' THEN 0 WHEN 'intermediate' THEN 1 ELSE 2 END AS ord, COUNT(*) AS n FROM scores GROUP BY 1, 2 ORDER BY 2",
    ),
    (
        "efi_category",
        "SELECT efi_category AS bin, CASE efi_category WHEN 'fit' THEN 0 WHEN 'mild' THEN 1 WHEN 'moderate' THEN 2 ELSE 3 END AS ord, COUNT(*) AS n FROM scores GROUP BY 1, 2 ORDER BY 2",
    ),
];

/// Count a run's patients and scores.
pub fn count(run: &RunLayout, settings: &SessionSettings) -> Result<RunCounts, PublishError> {
    phm_sql::block_on(count_async(run, settings))
}

async fn count_async(
    run: &RunLayout,
    settings: &SessionSettings,
) -> Result<RunCounts, PublishError> {
    let ctx = phm_sql::session(settings)?;
    for (table, path) in [
        ("risk", run.risk_file("risk.parquet")),
        ("spine", run.linked_table("spine")),
        ("scores", run.scores_file()),
    ] {
        ctx.register_parquet(
            table,
            path.to_string_lossy().as_ref(),
            ParquetReadOptions::default(),
        )
        .await
        .map_err(phm_sql::engine(table))?;
    }
    let patients = rows(&ctx, "patients", PATIENTS)
        .await?
        .into_iter()
        .map(|r| {
            Ok(PatientCount {
                practice: r[0].clone(),
                tier: r[1].clone(),
                segment: r[2].clone(),
                age_band: r[3].clone(),
                min_age: number(&r[4])?,
                sex: r[5].clone(),
                n: number(&r[6])?.try_into().unwrap_or(0),
            })
        })
        .collect::<Result<Vec<_>, PublishError>>()?;
    let mut scores = Vec::new();
    for (score, sql) in SCORES {
        let bins = rows(&ctx, score, sql)
            .await?
            .into_iter()
            .map(|r| Ok((r[0].clone(), number(&r[2])?.try_into().unwrap_or(0))))
            .collect::<Result<Vec<_>, PublishError>>()?;
        scores.push(Distribution {
            score: score.to_owned(),
            bins,
        });
    }
    Ok(RunCounts { patients, scores })
}

fn number(text: &str) -> Result<i64, PublishError> {
    text.parse()
        .map_err(|_| PublishError::Data(format!("`{text}` is not a whole number")))
}

/// Every row of a query's result, each value as text (`""` for null).
pub(crate) async fn rows(
    ctx: &SessionContext,
    step: &str,
    sql: &str,
) -> Result<Vec<Vec<String>>, PublishError> {
    let batches = ctx
        .sql(sql)
        .await
        .map_err(phm_sql::engine(step))?
        .collect()
        .await
        .map_err(phm_sql::engine(step))?;
    let mut out = Vec::new();
    for b in batches {
        let columns = b
            .columns()
            .iter()
            .map(|c| {
                let text = cast(c, &DataType::Utf8).map_err(|e| phm_sql::failed(step, &e))?;
                Ok(text
                    .as_any()
                    .downcast_ref::<StringArray>()
                    .expect("cast to Utf8 gives strings")
                    .clone())
            })
            .collect::<Result<Vec<StringArray>, PublishError>>()?;
        for i in 0..b.num_rows() {
            out.push(
                columns
                    .iter()
                    .map(|c| {
                        if c.is_null(i) {
                            String::new()
                        } else {
                            c.value(i).to_owned()
                        }
                    })
                    .collect(),
            );
        }
    }
    Ok(out)
}
