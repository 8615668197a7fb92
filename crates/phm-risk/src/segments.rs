//! Population segments: an ordered rule set an analyst can read, reorder and change, written
//! in SQL (`sql/risk/segments.sql`) over a `patients` table of each patient's own values.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, Float64Array, Int32Array, RecordBatch, StringArray,
};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::datasource::MemTable;
use phm_sql::SessionSettings;

use crate::RiskError;
use crate::features::{Feature, Year};

/// The built-in rules: `sql/risk/segments.sql`.
pub const BUILTIN_SEGMENTS: &str = include_str!("../../../sql/risk/segments.sql");

/// The rules' text: from a file, or the built-in copy.
pub fn rules(file: Option<&Path>) -> Result<String, RiskError> {
    match file {
        Some(p) => std::fs::read_to_string(p).map_err(|e| RiskError::Io {
            path: p.to_path_buf(),
            source: e,
        }),
        None => Ok(BUILTIN_SEGMENTS.to_owned()),
    }
}

/// The `patients` table the rules read: who, risk and tier, and one column per feature with
/// the patient's own value (0 when absent). Only the features the rules name (as a word,
/// in any case, comments included) are filled in: a column the rules never read would only
/// take memory.
pub fn patients_table(
    year: &Year,
    catalogue: &[Feature],
    risk: &[f64],
    tiers: &[&str],
    rules: &str,
) -> Result<RecordBatch, RiskError> {
    let n = year.patients.len();
    // `--` blanked out so that a name in a comment counts too.
    let text = rules.to_lowercase().replace("--", "  ");
    let read: Vec<bool> = catalogue
        .iter()
        .map(|f| phm_sql::mentions(&text, &f.name))
        .collect();
    let mut values: Vec<Vec<f64>> = read
        .iter()
        .map(|&r| if r { vec![0.0; n] } else { Vec::new() })
        .collect();
    for (r, (row, quoted)) in year.rows().enumerate() {
        for (&j, &q) in row.cols.iter().zip(quoted) {
            if read[j as usize] {
                values[j as usize][r] = q;
            }
        }
    }
    let who = &year.patients;
    let mut columns: Vec<(String, ArrayRef)> = vec![
        (
            "pseudonym".into(),
            Arc::new(StringArray::from_iter_values(&who.pseudonym)),
        ),
        ("age".into(), Arc::new(Int32Array::from(who.age.clone()))),
        (
            "age_band".into(),
            Arc::new(StringArray::from_iter_values(&who.age_band)),
        ),
        (
            "sex".into(),
            Arc::new(StringArray::from_iter_values(&who.sex)),
        ),
        (
            "imd_decile".into(),
            Arc::new(Int32Array::from(who.imd_decile.clone())),
        ),
        ("risk".into(), Arc::new(Float64Array::from(risk.to_vec()))),
        (
            "tier".into(),
            Arc::new(StringArray::from_iter_values(tiers.iter().copied())),
        ),
    ];
    for ((feature, v), _) in catalogue.iter().zip(values).zip(&read).filter(|(_, r)| **r) {
        columns.push((feature.name.clone(), Arc::new(Float64Array::from(v))));
    }
    RecordBatch::try_from_iter(columns).map_err(|e| RiskError::Segments(e.to_string()))
}

/// Each row's segment, by the rules over `patients`. Every patient must come back exactly
/// once with a segment.
pub fn segments(
    patients: &RecordBatch,
    rules: &str,
    session: &SessionSettings,
) -> Result<Vec<String>, RiskError> {
    let pseudonyms = patients.column(0).clone();
    let pseudonyms = pseudonyms
        .as_any()
        .downcast_ref::<StringArray>()
        .expect("pseudonym is text");
    let row_of: HashMap<&str, usize> = pseudonyms.iter().flatten().zip(0..).collect();
    // The rules read a table held in memory here, so they run on DataFusion in this process
    // whatever the pipeline's engine (a cluster reads only files).
    let ctx = phm_sql::session(session).map_err(|e| RiskError::Segments(e.to_string()))?;
    ctx.register_table("patients", Arc::new(in_slices(patients)?))
        .map_err(|e| RiskError::Segments(e.to_string()))?;
    let batches = phm_sql::block_on(async {
        let df = ctx
            .sql(rules)
            .await
            .map_err(|e| RiskError::Segments(e.to_string()))?;
        df.collect()
            .await
            .map_err(|e| RiskError::Segments(e.to_string()))
    })?;
    let mut found: Vec<Option<String>> = vec![None; pseudonyms.len()];
    for b in &batches {
        if b.num_columns() < 2 {
            return Err(RiskError::Segments(
                "the rules must return two columns: pseudonym, segment".to_owned(),
            ));
        }
        let text = |i: usize| {
            cast(b.column(i), &DataType::Utf8).map_err(|e| RiskError::Segments(e.to_string()))
        };
        let (p, s) = (text(0)?, text(1)?);
        let p = p.as_any().downcast_ref::<StringArray>().expect("utf8");
        let s = s.as_any().downcast_ref::<StringArray>().expect("utf8");
        for r in 0..b.num_rows() {
            let (Some(p), Some(s)) = (
                p.is_valid(r).then(|| p.value(r)),
                s.is_valid(r).then(|| s.value(r)),
            ) else {
                return Err(RiskError::Segments(
                    "a rule gave a patient no segment (NULL): end the CASE with an ELSE".to_owned(),
                ));
            };
            let Some(&row) = row_of.get(p) else {
                return Err(RiskError::Segments(
                    "the rules gave a row that is not a patient: select `pseudonym` from `patients` as it is"
                        .to_owned(),
                ));
            };
            if found[row].replace(s.to_owned()).is_some() {
                return Err(RiskError::Segments(
                    "the rules gave a patient two rows: select each patient once".to_owned(),
                ));
            }
        }
    }
    found
        .into_iter()
        .map(|s| {
            s.ok_or_else(|| {
                RiskError::Segments(
                    "the rules left a patient out: select every row of `patients`".to_owned(),
                )
            })
        })
        .collect()
}

/// The table cut into slices of [`phm_sql::BATCH_ROWS`] rows (no copy), dealt over one
/// partition per core: the rules' intermediate columns are then a slice long, not a
/// population long, and every core works.
fn in_slices(patients: &RecordBatch) -> Result<MemTable, RiskError> {
    let n = patients.num_rows();
    let mut partitions = vec![Vec::new(); phm_sql::cores()];
    for (i, start) in (0..n).step_by(phm_sql::BATCH_ROWS).enumerate() {
        let rows = phm_sql::BATCH_ROWS.min(n - start);
        let slots = partitions.len();
        partitions[i % slots].push(patients.slice(start, rows));
    }
    MemTable::try_new(patients.schema(), partitions).map_err(|e| RiskError::Segments(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::{Baselines, Patients, catalogue};
    use crate::model::SparseMatrix;

    /// Hand-made patients: each a list of (feature, value).
    fn year(rows: &[&[(&str, f64)]]) -> (Year, Vec<Feature>) {
        let c = catalogue();
        let mut x = SparseMatrix::new(c.len());
        let mut quoted = Vec::new();
        for row in rows {
            let mut entries: Vec<(u32, f64)> = row
                .iter()
                .map(|(name, v)| {
                    let j = c.iter().position(|f| f.name == *name).expect(name);
                    (j as u32, *v)
                })
                .collect();
            entries.sort_by_key(|e| e.0);
            quoted.extend(entries.iter().map(|e| e.1));
            x.push_row(&entries).unwrap();
        }
        let n = rows.len();
        let patients = Patients {
            pseudonym: (0..n).map(|i| format!("p{i}")).collect(),
            practice: vec!["A81001".into(); n],
            age: vec![Some(70); n],
            age_band: vec!["70-74".into(); n],
            sex: vec!["F".into(); n],
            imd_decile: vec![Some(5); n],
        };
        let y = Year {
            as_of: "2025-04-01".into(),
            patients,
            x,
            quoted,
            outcome: None,
            baselines: Baselines::default(),
        };
        (y, c)
    }

    fn segment_of(rules: &str, rows: &[&[(&str, f64)]]) -> Vec<String> {
        let (y, c) = year(rows);
        let n = rows.len();
        let table = patients_table(&y, &c, &vec![0.1; n], &vec!["low"; n], rules).unwrap();
        segments(&table, rules, &SessionSettings::default()).unwrap()
    }

    const PATIENTS: [&[(&str, f64)]; 6] = [
        &[("charlson_metacanc", 1.0), ("efi", 0.4)],
        &[("efi", 0.3), ("efi_diabetes", 1.0)],
        &[("efi_diabetes", 1.0), ("mental_health_contacts_12m", 2.0)],
        &[("mental_health_contacts_12m", 1.0)],
        &[("ae_attendances_12m", 3.0)],
        &[],
    ];

    #[test]
    fn the_first_matching_rule_in_order_gives_the_segment() {
        assert_eq!(
            segment_of(BUILTIN_SEGMENTS, &PATIENTS),
            [
                "die_well",
                "age_well",
                "stay_well",
                "feel_well",
                "be_well",
                "live_well"
            ]
        );
    }

    #[test]
    fn reordered_rules_are_honoured() {
        // Feel well before stay well: the patient with diabetes and mental-health contacts moves.
        let stay = "        WHEN charlson_chf";
        let feel_start = BUILTIN_SEGMENTS.find("        -- Feel well").unwrap();
        let feel_end = BUILTIN_SEGMENTS.find("        -- Be well").unwrap();
        let stay_start = BUILTIN_SEGMENTS.find("        -- Stay well").unwrap();
        assert!(BUILTIN_SEGMENTS[stay_start..].contains(stay));
        let feel = &BUILTIN_SEGMENTS[feel_start..feel_end];
        let mut reordered = BUILTIN_SEGMENTS.replace(feel, "");
        reordered.insert_str(stay_start, feel);
        let got = segment_of(&reordered, &PATIENTS);
        assert_eq!(got[2], "feel_well");
        assert_eq!(got[3], "feel_well");
        assert_eq!(got[0], "die_well");
    }

    #[test]
    fn rules_that_lose_a_patient_or_give_no_segment_are_refused() {
        let (y, c) = year(&PATIENTS);
        let table = || patients_table(&y, &c, &[0.1; 6], &["low"; 6], "efi").unwrap();
        let s = SessionSettings::default();
        for (rules, refusal) in [
            (
                "SELECT pseudonym, 'x' FROM patients WHERE efi > 0",
                "left a patient out",
            ),
            (
                "SELECT pseudonym, CASE WHEN efi > 0 THEN 'x' END FROM patients",
                "ELSE",
            ),
            ("SELECT 'nobody', 'x' FROM patients", "not a patient"),
            (
                "SELECT pseudonym, 'x' FROM patients UNION ALL SELECT pseudonym, 'y' FROM patients",
                "two rows",
            ),
        ] {
            let e = segments(&table(), rules, &s).unwrap_err().to_string();
            assert!(e.contains(refusal), "{rules}: {e}");
        }
    }
}
