//! k-anonymity enforced on a recipient's row-level extract: every combination of
//! quasi-identifiers a row shows is shared by at least k patients, or the cells that make it
//! rarer are suppressed (set to null), or, last, the rows are left out.

use std::collections::{BTreeMap, HashMap, HashSet};

use datafusion::arrow::array::{Array, ArrayRef, BooleanArray, RecordBatch, StringArray};
use datafusion::arrow::compute::{cast, filter_record_batch, nullif};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::error::ArrowError;
use serde::{Deserialize, Serialize};

/// The quasi-identifiers looked for, in the order their cells are suppressed: the most
/// identifying and least useful first (the IMD decile right after the LSOA it narrows to).
pub const QUASI_IDENTIFIERS: [&str; 7] = [
    "lsoa_code",
    "imd_decile",
    "postcode_district",
    "practice_code",
    "age",
    "age_band",
    "sex",
];

/// What enforcing k did to one extract.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KReport {
    /// k.
    pub k: u64,
    /// The quasi-identifiers the extract has.
    pub quasi_identifiers: Vec<String>,
    /// Cells set to null, per column.
    pub cells_suppressed: BTreeMap<String, u64>,
    /// Rows left out because no suppression of cells made their class large enough.
    pub rows_suppressed: u64,
    /// Equivalence classes after suppression.
    pub classes: u64,
    /// Patients (rows, for a table without patients) in the smallest class (0: no rows).
    pub smallest_class: u64,
}

/// Values of one column as text (null stays null).
fn texts(column: &ArrayRef) -> Result<Vec<Option<String>>, ArrowError> {
    let text = cast(column, &DataType::Utf8)?;
    let text = text
        .as_any()
        .downcast_ref::<StringArray>()
        .ok_or_else(|| ArrowError::CastError("not text after a cast to text".to_owned()))?;
    Ok(text.iter().map(|v| v.map(str::to_owned)).collect())
}

/// Class sizes over the kept rows: patients (distinct `patients[i]`) or, without patients,
/// rows; each row's class size.
fn class_sizes(
    qi: &[Vec<Option<String>>],
    patients: Option<&[Option<String>]>,
    keep: &[bool],
) -> (Vec<u64>, u64, u64) {
    let key = |row: usize| -> Vec<Option<&str>> { qi.iter().map(|c| c[row].as_deref()).collect() };
    let mut members: HashMap<Vec<Option<&str>>, HashSet<Option<&str>>> = HashMap::new();
    let mut rows: HashMap<Vec<Option<&str>>, u64> = HashMap::new();
    for row in (0..keep.len()).filter(|&r| keep[r]) {
        match patients {
            Some(p) => {
                members
                    .entry(key(row))
                    .or_default()
                    .insert(p[row].as_deref());
            }
            None => *rows.entry(key(row)).or_default() += 1,
        }
    }
    let size = |k: &Vec<Option<&str>>| -> u64 {
        match patients {
            Some(_) => members.get(k).map_or(0, |m| m.len() as u64),
            None => rows.get(k).copied().unwrap_or(0),
        }
    };
    let sizes: Vec<u64> = (0..keep.len())
        .map(|r| if keep[r] { size(&key(r)) } else { 0 })
        .collect();
    let all: Vec<u64> = match patients {
        Some(_) => members.values().map(|m| m.len() as u64).collect(),
        None => rows.values().copied().collect(),
    };
    (
        sizes,
        all.len() as u64,
        all.iter().copied().min().unwrap_or(0),
    )
}

/// `batch` with the cells `nulled` marks (per quasi-identifier in `present`) set to null,
/// those columns made nullable, and only the rows `keep` marks.
fn suppressed(
    batch: &RecordBatch,
    present: &[(&str, usize)],
    nulled: &[Vec<bool>],
    keep: Vec<bool>,
) -> Result<RecordBatch, ArrowError> {
    let mut columns: Vec<ArrayRef> = batch.columns().to_vec();
    let mut fields: Vec<Field> = batch
        .schema()
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    for ((_, i), mask) in present.iter().zip(nulled) {
        if mask.iter().any(|m| *m) {
            columns[*i] = nullif(&columns[*i], &BooleanArray::from(mask.clone()))?;
            fields[*i] = fields[*i].clone().with_nullable(true);
        }
    }
    let out = RecordBatch::try_new(std::sync::Arc::new(Schema::new(fields)), columns)?;
    filter_record_batch(&out, &BooleanArray::from(keep))
}

/// Enforce k on `batch`: `patients` (the run's pseudonym of each row, when the table has
/// patients) says whose each row is, so a class counts patients, not events.
pub fn enforce(
    batch: &RecordBatch,
    patients: Option<&ArrayRef>,
    k: u64,
) -> Result<(RecordBatch, KReport), ArrowError> {
    let schema = batch.schema();
    let present: Vec<(&str, usize)> = QUASI_IDENTIFIERS
        .iter()
        .filter_map(|q| schema.index_of(q).ok().map(|i| (*q, i)))
        .collect();
    let mut qi: Vec<Vec<Option<String>>> = present
        .iter()
        .map(|(_, i)| texts(batch.column(*i)))
        .collect::<Result<_, _>>()?;
    let patients = patients.map(texts).transpose()?;
    let rows = batch.num_rows();
    let mut keep = vec![true; rows];
    let mut nulled = vec![vec![false; rows]; present.len()];
    let mut report = KReport {
        k,
        quasi_identifiers: present.iter().map(|(q, _)| (*q).to_owned()).collect(),
        cells_suppressed: BTreeMap::new(),
        rows_suppressed: 0,
        classes: 0,
        smallest_class: 0,
    };
    // Suppress one quasi-identifier at a time in the rows of classes under k, then rows.
    for step in 0..=present.len() {
        let (sizes, _, _) = class_sizes(&qi, patients.as_deref(), &keep);
        let under: Vec<usize> = (0..rows).filter(|&r| keep[r] && sizes[r] < k).collect();
        if under.is_empty() {
            break;
        }
        if step == present.len() {
            for r in under {
                keep[r] = false;
                report.rows_suppressed += 1;
            }
            break;
        }
        let mut count = 0;
        for r in under {
            if qi[step][r].is_some() {
                qi[step][r] = None;
                nulled[step][r] = true;
                count += 1;
            }
        }
        if count > 0 {
            report
                .cells_suppressed
                .insert(present[step].0.to_owned(), count);
        }
    }
    let (_, classes, smallest) = class_sizes(&qi, patients.as_deref(), &keep);
    report.classes = classes;
    report.smallest_class = smallest;
    let out = suppressed(batch, &present, &nulled, keep)?;
    Ok((out, report))
}

/// Enforce k over the tables of one extract that show the recipient's pseudonym, together:
/// the recipient can join them on it, so what counts is each patient's *profile*, every value
/// of every quasi-identifier any of its rows in any of these tables shows. Patients whose
/// profile fewer than k patients share have one quasi-identifier after another suppressed in
/// all their rows of all the tables (a value nulled in one row and shown in another would be no
/// suppression), and last their rows are left out. `patients[t]` says whose each row of
/// `tables[t]` is. One report per table (classes and the smallest are the extract's).
pub fn enforce_joint(
    tables: &[RecordBatch],
    patients: &[ArrayRef],
    k: u64,
) -> Result<(Vec<RecordBatch>, Vec<KReport>), ArrowError> {
    // Per table: the quasi-identifiers it has (name, column) and their texts; whose rows.
    let present: Vec<Vec<(&str, usize)>> = tables
        .iter()
        .map(|t| {
            QUASI_IDENTIFIERS
                .iter()
                .filter_map(|q| t.schema().index_of(q).ok().map(|i| (*q, i)))
                .collect()
        })
        .collect();
    let mut values: Vec<Vec<Vec<Option<String>>>> = tables
        .iter()
        .zip(&present)
        .map(|(t, p)| p.iter().map(|(_, i)| texts(t.column(*i))).collect())
        .collect::<Result<_, _>>()?;
    let owners: Vec<Vec<String>> = patients
        .iter()
        .map(|p| {
            Ok(texts(p)?
                .into_iter()
                .map(Option::unwrap_or_default)
                .collect())
        })
        .collect::<Result<_, ArrowError>>()?;
    let mut dropped: HashSet<String> = HashSet::new();
    let mut nulled: Vec<Vec<Vec<bool>>> = tables
        .iter()
        .zip(&present)
        .map(|(t, p)| vec![vec![false; t.num_rows()]; p.len()])
        .collect();
    let profiles = |values: &Vec<Vec<Vec<Option<String>>>>, dropped: &HashSet<String>| {
        let mut profile: HashMap<&str, BTreeMap<&str, std::collections::BTreeSet<&str>>> =
            HashMap::new();
        for (t, rows) in owners.iter().enumerate() {
            for (r, owner) in rows.iter().enumerate() {
                if dropped.contains(owner) {
                    continue;
                }
                let entry = profile.entry(owner.as_str()).or_default();
                for (q, (name, _)) in present[t].iter().enumerate() {
                    let set = entry.entry(*name).or_default();
                    if let Some(v) = values[t][q][r].as_deref() {
                        set.insert(v);
                    }
                }
            }
        }
        let mut sizes: HashMap<Vec<(&str, Vec<&str>)>, u64> = HashMap::new();
        let keyed: HashMap<&str, Vec<(&str, Vec<&str>)>> = profile
            .into_iter()
            .map(|(p, m)| {
                let key: Vec<(&str, Vec<&str>)> = m
                    .into_iter()
                    .map(|(q, s)| (q, s.into_iter().collect()))
                    .collect();
                *sizes.entry(key.clone()).or_default() += 1;
                (p, key)
            })
            .collect();
        let small: HashSet<String> = keyed
            .iter()
            .filter(|(_, key)| sizes[*key] < k)
            .map(|(p, _)| (*p).to_owned())
            .collect();
        let smallest = sizes.values().copied().min().unwrap_or(0);
        (small, sizes.len() as u64, smallest)
    };
    let mut cells: Vec<BTreeMap<String, u64>> = vec![BTreeMap::new(); tables.len()];
    for q in QUASI_IDENTIFIERS {
        let (small, _, _) = profiles(&values, &dropped);
        if small.is_empty() {
            break;
        }
        for (t, p) in present.iter().enumerate() {
            let Some(c) = p.iter().position(|(name, _)| *name == q) else {
                continue;
            };
            for r in 0..owners[t].len() {
                if small.contains(&owners[t][r]) && values[t][c][r].is_some() {
                    values[t][c][r] = None;
                    nulled[t][c][r] = true;
                    *cells[t].entry(q.to_owned()).or_default() += 1;
                }
            }
        }
    }
    let (small, _, _) = profiles(&values, &dropped);
    dropped.extend(small);
    let (_, classes, smallest) = profiles(&values, &dropped);
    let mut out = Vec::new();
    let mut reports = Vec::new();
    for (t, table) in tables.iter().enumerate() {
        let keep: Vec<bool> = owners[t].iter().map(|o| !dropped.contains(o)).collect();
        let rows_suppressed = keep.iter().filter(|k| !**k).count() as u64;
        out.push(suppressed(table, &present[t], &nulled[t], keep)?);
        reports.push(KReport {
            k,
            quasi_identifiers: present[t].iter().map(|(q, _)| (*q).to_owned()).collect(),
            cells_suppressed: std::mem::take(&mut cells[t]),
            rows_suppressed,
            classes,
            smallest_class: smallest,
        });
    }
    Ok((out, reports))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn batch(lsoa: &[&str], sex: &[&str]) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![
            Field::new("lsoa_code", DataType::Utf8, true),
            Field::new("sex", DataType::Utf8, true),
        ]));
        RecordBatch::try_new(
            schema,
            vec![
                Arc::new(StringArray::from(lsoa.to_vec())),
                Arc::new(StringArray::from(sex.to_vec())),
            ],
        )
        .unwrap()
    }

    fn patients(ids: &[&str]) -> ArrayRef {
        Arc::new(StringArray::from(ids.to_vec()))
    }

    #[test]
    fn a_table_meeting_k_is_untouched() {
        let b = batch(&["A", "A", "B", "B"], &["F", "F", "M", "M"]);
        let (out, r) = enforce(&b, Some(&patients(&["1", "2", "3", "4"])), 2).unwrap();
        assert_eq!(out, b);
        assert_eq!((r.rows_suppressed, r.classes, r.smallest_class), (0, 2, 2));
        assert!(r.cells_suppressed.is_empty());
    }

    #[test]
    fn the_lsoa_of_a_rare_class_is_suppressed_first() {
        // (A,F) x2 patients, (B,F) x1: B's LSOA goes, which makes (null,F) of 1 patient...
        // still under k = 2, so its sex goes next; (null,null) of 1 is left out.
        let b = batch(&["A", "A", "B"], &["F", "F", "F"]);
        let (out, r) = enforce(&b, Some(&patients(&["1", "2", "3"])), 2).unwrap();
        assert_eq!(r.cells_suppressed["lsoa_code"], 1);
        assert_eq!(r.cells_suppressed["sex"], 1);
        assert_eq!(r.rows_suppressed, 1);
        assert_eq!(out.num_rows(), 2);
        assert_eq!(r.smallest_class, 2);
    }

    #[test]
    fn classes_count_patients_not_events() {
        // One patient with three events in LSOA B is one patient, not three.
        let b = batch(&["A", "A", "B", "B", "B"], &["F", "F", "F", "F", "F"]);
        let (_, r) = enforce(&b, Some(&patients(&["1", "2", "3", "3", "3"])), 2).unwrap();
        assert_eq!(r.cells_suppressed["lsoa_code"], 3);
        // (null, F): patient 3 alone, so its sex goes too and then its rows.
        assert_eq!(r.rows_suppressed, 3);
        // Without patients, rows count: three events make a class of 3.
        let (_, r) = enforce(&b, None, 2).unwrap();
        assert!(r.cells_suppressed.is_empty());
    }

    #[test]
    fn a_value_suppressed_in_one_row_is_suppressed_in_the_patients_other_rows_and_tables() {
        // Patient 3 shows LSOA B in two rows of one table and sex M in another table: its
        // profile (B, M) is unique, so its LSOA goes from both rows, then its sex, then it.
        let events = batch(
            &["A", "A", "A", "A", "B", "B"],
            &["F", "F", "F", "F", "F", "F"],
        );
        let events_of = patients(&["1", "1", "2", "4", "3", "3"]);
        let schema = Arc::new(Schema::new(vec![Field::new("sex", DataType::Utf8, true)]));
        let people = RecordBatch::try_new(
            schema,
            vec![Arc::new(StringArray::from(vec!["F", "F", "M", "F"]))],
        )
        .unwrap();
        let people_of = patients(&["1", "2", "3", "4"]);
        let (out, reports) = enforce_joint(&[events, people], &[events_of, people_of], 2).unwrap();
        assert_eq!(
            reports[0].cells_suppressed["lsoa_code"], 2,
            "both of patient 3's rows"
        );
        assert_eq!(out[0].num_rows(), 4);
        assert_eq!(out[1].num_rows(), 3);
        assert_eq!(reports[1].rows_suppressed, 1);
        // Patients 1, 2 and 4 share (A, F): one class of 3.
        assert_eq!((reports[0].classes, reports[0].smallest_class), (1, 3));
    }

    #[test]
    fn suppressed_cells_merge_into_a_class_that_meets_k() {
        let b = batch(&["A", "B", "C", "D"], &["F", "F", "F", "F"]);
        let (out, r) = enforce(&b, Some(&patients(&["1", "2", "3", "4"])), 3).unwrap();
        assert_eq!(r.cells_suppressed["lsoa_code"], 4);
        assert_eq!(r.rows_suppressed, 0);
        assert_eq!(out.column(0).null_count(), 4);
        assert_eq!((r.classes, r.smallest_class), (1, 4));
    }
}
