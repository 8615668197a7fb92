//! The model's features, named in one place, and a year's design matrix read from the linked
//! features and the scores as of one date.
//!
//! Every column of `linked/features.parquet` is either a feature (counts enter as
//! `ln(1 + count)`; the age band, sex and IMD quintile as indicators) or excluded for a stated
//! reason ([`EXCLUDED`]); the outcome `emergency_admission_next_12m` is never an input. From
//! `scores/scores.parquet` come the totals (Charlson, Elixhauser, HFRS, eFI) and one indicator
//! per condition (Charlson, Elixhauser), eFI deficit and GP long-term condition.

use std::collections::HashMap;
use std::path::Path;

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use rayon::prelude::*;
use serde::Serialize;

use crate::RiskError;
use crate::model::{Row, SparseMatrix};

/// The outcome column of `features`: never an input.
pub const OUTCOME: &str = "emergency_admission_next_12m";

/// Columns of `features` that are not inputs, and why.
pub const EXCLUDED: [(&str, &str); 5] = [
    ("pseudonym", "the patient's key"),
    (
        "practice_code",
        "a patient is not flagged for the practice they are registered with",
    ),
    ("lsoa_code", "area enters through its IMD quintile"),
    ("age", "enters through its 5-year band"),
    (OUTCOME, "the outcome"),
];

/// Count columns of `features`, with the words a reason uses (singular, plural).
pub const COUNTS: [(&str, &str, &str); 18] = [
    (
        "emergency_admissions_12m",
        "emergency admission in the last 12 months",
        "emergency admissions in the last 12 months",
    ),
    (
        "emergency_admissions_24m",
        "emergency admission in the last 24 months",
        "emergency admissions in the last 24 months",
    ),
    (
        "elective_admissions_12m",
        "planned admission in the last 12 months",
        "planned admissions in the last 12 months",
    ),
    (
        "elective_admissions_24m",
        "planned admission in the last 24 months",
        "planned admissions in the last 24 months",
    ),
    (
        "emergency_bed_days_12m",
        "day in hospital after emergency admission in the last 12 months",
        "days in hospital after emergency admissions in the last 12 months",
    ),
    (
        "emergency_bed_days_24m",
        "day in hospital after emergency admission in the last 24 months",
        "days in hospital after emergency admissions in the last 24 months",
    ),
    (
        "elective_bed_days_12m",
        "day in hospital after planned admission in the last 12 months",
        "days in hospital after planned admissions in the last 12 months",
    ),
    (
        "elective_bed_days_24m",
        "day in hospital after planned admission in the last 24 months",
        "days in hospital after planned admissions in the last 24 months",
    ),
    (
        "ae_attendances_12m",
        "A&E attendance in the last 12 months",
        "A&E attendances in the last 12 months",
    ),
    (
        "ambulance_incidents_12m",
        "ambulance call-out in the last 12 months",
        "ambulance call-outs in the last 12 months",
    ),
    (
        "ambulance_conveyances_12m",
        "ambulance conveyance to hospital in the last 12 months",
        "ambulance conveyances to hospital in the last 12 months",
    ),
    (
        "outpatient_attendances_12m",
        "outpatient appointment attended in the last 12 months",
        "outpatient appointments attended in the last 12 months",
    ),
    (
        "outpatient_dnas_12m",
        "missed outpatient appointment in the last 12 months",
        "missed outpatient appointments in the last 12 months",
    ),
    (
        "gp_contacts_12m",
        "GP contact in the last 12 months",
        "GP contacts in the last 12 months",
    ),
    (
        "distinct_medicines_12m",
        "different medicine issued in the last 12 months",
        "different medicines issued in the last 12 months",
    ),
    (
        "community_contacts_12m",
        "community health contact in the last 12 months",
        "community health contacts in the last 12 months",
    ),
    (
        "mental_health_contacts_12m",
        "mental health service contact in the last 12 months",
        "mental health service contacts in the last 12 months",
    ),
    ("months_since_last_emergency_admission", "", ""),
];

/// Score totals of `scores` used as features.
pub const SCORE_TOTALS: [(&str, &str); 4] = [
    ("charlson_quan_2011", "Charlson index (Quan 2011)"),
    ("elixhauser_van_walraven", "Elixhauser score (van Walraven)"),
    ("hfrs", "Hospital Frailty Risk Score"),
    ("efi", "electronic Frailty Index"),
];

/// The 5-year age bands of the spine.
pub const AGE_BANDS: [&str; 19] = [
    "0-4", "5-9", "10-14", "15-19", "20-24", "25-29", "30-34", "35-39", "40-44", "45-49", "50-54",
    "55-59", "60-64", "65-69", "70-74", "75-79", "80-84", "85-89", "90+",
];

/// Recency of the last emergency admission: a feature when within this many months.
pub const RECENT_EMERGENCY_MONTHS: i64 = 3;

/// Condition flags that name one clinical concept from different code lists: a reason names
/// the concept once (the largest of its contributions), not once per list.
pub const CONCEPTS: [(&str, &[&str]); 23] = [
    (
        "heart_failure",
        &["charlson_chf", "elixhauser_chf", "efi_heart_failure"],
    ),
    ("valve", &["elixhauser_valv", "efi_heart_valve_disease"]),
    ("pvd", &["charlson_pvd", "elixhauser_pvd", "efi_pvd"]),
    ("stroke", &["charlson_cevd", "efi_stroke_tia"]),
    ("dementia", &["charlson_dementia", "efi_cognitive_problems"]),
    (
        "lung",
        &["charlson_copd", "elixhauser_cpd", "efi_respiratory_disease"],
    ),
    ("rheumatoid", &["charlson_rheumd", "elixhauser_rheumd"]),
    (
        "ulcer",
        &["charlson_pud", "elixhauser_pud", "efi_peptic_ulcer"],
    ),
    (
        "liver",
        &[
            "charlson_mld",
            "charlson_msld",
            "elixhauser_ld",
            "gp_chronic_liver_disease",
        ],
    ),
    (
        "diabetes",
        &[
            "charlson_diab",
            "charlson_diabwc",
            "elixhauser_diabunc",
            "elixhauser_diabc",
            "efi_diabetes",
        ],
    ),
    ("paralysis", &["charlson_hp", "elixhauser_para"]),
    ("kidney", &["charlson_rend", "elixhauser_rf", "efi_ckd"]),
    (
        "cancer",
        &[
            "charlson_canc",
            "elixhauser_solidtum",
            "elixhauser_lymph",
            "gp_cancer",
        ],
    ),
    ("metastatic", &["charlson_metacanc", "elixhauser_metacanc"]),
    ("hiv", &["charlson_aids", "elixhauser_aids", "gp_hiv"]),
    (
        "hypertension",
        &["elixhauser_hypunc", "elixhauser_hypc", "efi_hypertension"],
    ),
    ("thyroid", &["elixhauser_hypothy", "efi_thyroid_disorders"]),
    ("weight_loss", &["elixhauser_wloss", "efi_weight_loss"]),
    (
        "anaemia",
        &["elixhauser_blane", "elixhauser_dane", "efi_anaemia"],
    ),
    ("depression", &["elixhauser_depre", "gp_depression"]),
    (
        "psychosis",
        &["elixhauser_psycho", "gp_severe_mental_illness"],
    ),
    ("alcohol", &["elixhauser_alcohol", "gp_alcohol_misuse"]),
    ("neurological", &["elixhauser_ond", "gp_multiple_sclerosis"]),
];

/// The concept a feature belongs to for reasons: its [`CONCEPTS`] entry, else itself.
pub fn concept(feature: &str) -> &str {
    CONCEPTS
        .iter()
        .find(|(_, members)| members.contains(&feature))
        .map_or(feature, |(c, _)| c)
}

/// Where a feature's value comes from.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Source {
    /// A count column of `features`, entered as `ln(1 + count)`.
    Count {
        /// The column.
        column: &'static str,
    },
    /// 1 when the last emergency admission was fewer than this many months before the date.
    RecentEmergency {
        /// Months.
        months: i64,
    },
    /// A score total of `scores`, as it is.
    Score {
        /// The column.
        column: &'static str,
    },
    /// 1 in this 5-year age band.
    AgeBand {
        /// The band.
        band: &'static str,
    },
    /// 1 for this recorded sex (`M`, `F`).
    Sex {
        /// The code.
        code: &'static str,
    },
    /// 1 in this IMD quintile (1 = most deprived fifth of England's areas).
    ImdQuintile {
        /// The quintile.
        quintile: i32,
    },
    /// 1 when the area's IMD decile is not known.
    ImdUnknown,
    /// 1 when a list column of `scores` holds this name (a condition or eFI deficit).
    Listed {
        /// The list column (`charlson_conditions`, `elixhauser_conditions`, `efi_deficits`,
        /// `gp_conditions`).
        column: &'static str,
        /// The entry.
        entry: String,
    },
}

/// One input of the model.
#[derive(Debug, Clone, Serialize)]
pub struct Feature {
    /// Its name in `model.json` and the model card.
    pub name: String,
    /// Where it comes from.
    pub source: Source,
    /// Plain English, as reasons and the model card say it.
    pub label: String,
}

/// The catalogue: every feature of the model, in design-matrix column order.
pub fn catalogue() -> Vec<Feature> {
    let mut out = Vec::new();
    for (column, _, plural) in COUNTS {
        if column == "months_since_last_emergency_admission" {
            out.push(Feature {
                name: format!("emergency_admission_last_{RECENT_EMERGENCY_MONTHS}m"),
                source: Source::RecentEmergency {
                    months: RECENT_EMERGENCY_MONTHS,
                },
                label: format!("emergency admission in the last {RECENT_EMERGENCY_MONTHS} months"),
            });
        } else {
            out.push(Feature {
                name: column.to_owned(),
                source: Source::Count { column },
                label: format!("{plural} (entered as ln(1 + n))"),
            });
        }
    }
    for (column, label) in SCORE_TOTALS {
        out.push(Feature {
            name: column.to_owned(),
            source: Source::Score { column },
            label: label.to_owned(),
        });
    }
    for band in AGE_BANDS {
        out.push(Feature {
            name: format!("age_{}", band.replace('-', "_").replace('+', "_plus")),
            source: Source::AgeBand { band },
            label: format!("aged {band}"),
        });
    }
    for (code, label) in [("M", "male"), ("F", "female")] {
        out.push(Feature {
            name: format!("sex_{label}"),
            source: Source::Sex { code },
            label: label.to_owned(),
        });
    }
    for quintile in 1..=5 {
        out.push(Feature {
            name: format!("imd_quintile_{quintile}"),
            source: Source::ImdQuintile { quintile },
            label: format!("lives in an IMD quintile {quintile} area (1 = most deprived)"),
        });
    }
    out.push(Feature {
        name: "imd_unknown".to_owned(),
        source: Source::ImdUnknown,
        label: "area deprivation not known".to_owned(),
    });
    let listed = [
        ("charlson", phm_score::scores::Comorbidity::charlson()),
        ("elixhauser", phm_score::scores::Comorbidity::elixhauser()),
    ];
    for (score, index) in listed {
        let column = if score == "charlson" {
            "charlson_conditions"
        } else {
            "elixhauser_conditions"
        };
        for (code, label) in index.conditions.names.iter().zip(index.labels()) {
            out.push(Feature {
                name: format!("{score}_{code}"),
                source: Source::Listed {
                    column,
                    entry: code.clone(),
                },
                label,
            });
        }
    }
    for deficit in phm_score::scores::Efi::builtin().deficits {
        out.push(Feature {
            name: format!("efi_{}", deficit.replace('-', "_")),
            source: Source::Listed {
                column: "efi_deficits",
                entry: deficit.to_owned(),
            },
            label: deficit.replace('-', " "),
        });
    }
    for condition in phm_score::scores::SnomedLists::gp_conditions().names {
        out.push(Feature {
            name: format!("gp_{}", condition.replace('-', "_")),
            source: Source::Listed {
                column: "gp_conditions",
                entry: condition.to_owned(),
            },
            label: format!("{} in the GP record", condition.replace('-', " ")),
        });
    }
    out
}

/// Who a year's rows are.
#[derive(Debug, Clone, Default)]
pub struct Patients {
    /// Pseudonyms, in the tables' order (sorted).
    pub pseudonym: Vec<String>,
    /// Registered practice.
    pub practice: Vec<String>,
    /// Age in whole years on the date.
    pub age: Vec<Option<i32>>,
    /// Age band.
    pub age_band: Vec<String>,
    /// Recorded sex.
    pub sex: Vec<String>,
    /// IMD decile (1 = most deprived).
    pub imd_decile: Vec<Option<i32>>,
}

impl Patients {
    /// Rows.
    pub fn len(&self) -> usize {
        self.pseudonym.len()
    }

    /// No rows.
    pub fn is_empty(&self) -> bool {
        self.pseudonym.is_empty()
    }

    /// IMD quintile, 1 = most deprived; `None` when unknown.
    pub fn imd_quintile(&self, row: usize) -> Option<i32> {
        self.imd_decile[row].map(|d| (d + 1) / 2)
    }
}

/// The baseline scores a model is compared with, per row.
#[derive(Debug, Clone, Default)]
pub struct Baselines {
    /// Emergency admissions in the last 12 months.
    pub emergency_admissions_12m: Vec<f64>,
    /// Charlson (Quan 2011).
    pub charlson: Vec<f64>,
    /// HFRS.
    pub hfrs: Vec<f64>,
    /// eFI.
    pub efi: Vec<f64>,
}

/// One date's rows: who, the design matrix, the values reasons quote, and the outcome.
#[derive(Debug, Clone)]
pub struct Year {
    /// The date (`YYYY-MM-DD`).
    pub as_of: String,
    /// Who.
    pub patients: Patients,
    /// The design matrix (values as the model takes them), columns as [`catalogue`].
    pub x: SparseMatrix,
    /// For each stored value of `x`, the patient's own value a reason quotes (the count, not
    /// its logarithm; the months since the last emergency admission; the score).
    pub quoted: Vec<f64>,
    /// An emergency admission in the 12 months after the date; `None` when the data do not
    /// reach past it.
    pub outcome: Option<Vec<bool>>,
    /// Baseline scores.
    pub baselines: Baselines,
}

impl Year {
    /// Each row's stored values with the values reasons quote for them, in row order.
    pub fn rows(&self) -> impl Iterator<Item = (Row<'_>, &[f64])> {
        let mut start = 0;
        (0..self.x.rows()).map(move |r| {
            let row = self.x.row(r);
            let quoted = &self.quoted[start..start + row.cols.len()];
            start += row.cols.len();
            (row, quoted)
        })
    }
}

/// Read one date's `features.parquet` and `scores.parquet` (both sorted by pseudonym) into a
/// year of rows. Only the columns the catalogue, the patients and the baselines use are read,
/// a batch of each file at a time, so the stage holds the year's design matrix and not the
/// tables it came from.
pub fn load(as_of: &str, features: &Path, scores: &Path) -> Result<Year, RiskError> {
    let catalogue = catalogue();
    let (f_columns, s_columns) = columns_read(&catalogue);
    let mut pairs = Paired::new(batches(features, &f_columns)?, batches(scores, &s_columns)?);
    let empty = || Year {
        as_of: as_of.to_owned(),
        patients: Patients::default(),
        x: SparseMatrix::new(catalogue.len()),
        quoted: Vec::new(),
        outcome: Some(Vec::new()),
        baselines: Baselines::default(),
    };
    let mut year = empty();
    // A few batches at a time are turned into rows in parallel and appended in file order.
    let mut group = Vec::new();
    loop {
        let next = pairs.next().transpose()?;
        let done = next.is_none();
        group.extend(next);
        if group.len() == 2 * phm_sql::cores() || (done && !group.is_empty()) {
            let parts = std::mem::take(&mut group)
                .into_par_iter()
                .map(|(f, s)| {
                    let mut part = empty();
                    part.push_batch(&catalogue, &f, &s, features, scores)?;
                    Ok(part)
                })
                .collect::<Result<Vec<_>, RiskError>>()?;
            for part in parts {
                year.append(part);
            }
        }
        if done {
            break;
        }
    }
    if pairs.unmatched {
        return Err(RiskError::Mismatch {
            features: features.to_path_buf(),
            scores: scores.to_path_buf(),
        });
    }
    Ok(year)
}

/// A file's batches of the given columns.
fn batches(
    path: &Path,
    columns: &[&str],
) -> Result<impl Iterator<Item = Result<RecordBatch, RiskError>> + use<>, RiskError> {
    let reader = phm_sql::read_columns(path, columns);
    let path = path.to_path_buf();
    let table = move |e: phm_sql::SqlError| RiskError::Table {
        path: path.clone(),
        message: e.to_string(),
    };
    let reader = reader.map_err(table.clone())?;
    Ok(reader.map(move |b| b.map_err(&table)))
}

/// The columns [`load`] reads: of `features`, then of `scores`.
fn columns_read(catalogue: &[Feature]) -> (Vec<&str>, Vec<&str>) {
    let mut f = vec![
        "pseudonym",
        "practice_code",
        "age",
        "age_band",
        "sex",
        "imd_decile",
        OUTCOME,
        "emergency_admissions_12m",
        "months_since_last_emergency_admission",
    ];
    let mut s = vec!["pseudonym", "charlson_quan_2011", "hfrs", "efi"];
    for feature in catalogue {
        match &feature.source {
            Source::Count { column } => f.push(column),
            Source::Score { column } | Source::Listed { column, .. } => s.push(column),
            _ => {}
        }
    }
    (f, s)
}

/// Two files' batches cut to the same rows: each pair is the next rows of both.
struct Paired<F, S> {
    f: F,
    s: S,
    left: [Option<RecordBatch>; 2],
    /// One file ran out of rows before the other.
    unmatched: bool,
}

impl<F, S> Paired<F, S>
where
    F: Iterator<Item = Result<RecordBatch, RiskError>>,
    S: Iterator<Item = Result<RecordBatch, RiskError>>,
{
    fn new(f: F, s: S) -> Self {
        Self {
            f,
            s,
            left: [None, None],
            unmatched: false,
        }
    }

    fn next(&mut self) -> Option<Result<(RecordBatch, RecordBatch), RiskError>> {
        let f = match next_rows(&mut self.left[0], &mut self.f) {
            Ok(f) => f,
            Err(e) => return Some(Err(e)),
        };
        let s = match next_rows(&mut self.left[1], &mut self.s) {
            Ok(s) => s,
            Err(e) => return Some(Err(e)),
        };
        match (f, s) {
            (Some(f), Some(s)) => {
                let n = f.num_rows().min(s.num_rows());
                self.left = [
                    (f.num_rows() > n).then(|| f.slice(n, f.num_rows() - n)),
                    (s.num_rows() > n).then(|| s.slice(n, s.num_rows() - n)),
                ];
                Some(Ok((f.slice(0, n), s.slice(0, n))))
            }
            (None, None) => None,
            _ => {
                self.unmatched = true;
                None
            }
        }
    }
}

/// The rows left over from the last pair, or else the next non-empty batch.
fn next_rows(
    left: &mut Option<RecordBatch>,
    batches: &mut impl Iterator<Item = Result<RecordBatch, RiskError>>,
) -> Result<Option<RecordBatch>, RiskError> {
    if let Some(b) = left.take() {
        return Ok(Some(b));
    }
    for b in batches {
        let b = b?;
        if b.num_rows() > 0 {
            return Ok(Some(b));
        }
    }
    Ok(None)
}

impl Year {
    /// Append the rows of a batch of `features` and the same rows of `scores`.
    fn push_batch(
        &mut self,
        catalogue: &[Feature],
        f: &RecordBatch,
        s: &RecordBatch,
        features: &Path,
        scores: &Path,
    ) -> Result<(), RiskError> {
        let pseudonym = cast_to(f, "pseudonym", features, &DataType::Utf8)?;
        if pseudonym
            .as_string::<i32>()
            .iter()
            .ne(cast_to(s, "pseudonym", scores, &DataType::Utf8)?
                .as_string::<i32>()
                .iter())
        {
            return Err(RiskError::Mismatch {
                features: features.to_path_buf(),
                scores: scores.to_path_buf(),
            });
        }
        let who = Patients {
            practice: strings(f, "practice_code", features)?,
            age: numbers(f, "age", features)?
                .into_iter()
                .map(|a| a.map(|a| a as i32))
                .collect(),
            age_band: strings(f, "age_band", features)?,
            sex: strings(f, "sex", features)?,
            imd_decile: numbers(f, "imd_decile", features)?
                .into_iter()
                .map(|d| d.map(|d| d as i32))
                .collect(),
            pseudonym: pseudonym
                .as_string::<i32>()
                .iter()
                .map(|p| p.unwrap_or_default().to_owned())
                .collect(),
        };
        let sources = sources(catalogue, &who, f, s, features, scores)?;
        let mut row: Vec<(u32, f64, f64)> = Vec::new();
        let mut entries: Vec<(u32, f64)> = Vec::new();
        for r in 0..who.len() {
            row.clear();
            for source in &sources {
                source.push(r, &mut row);
            }
            row.sort_unstable_by_key(|e| e.0);
            // A list naming an entry twice is one indicator.
            row.dedup_by_key(|e| e.0);
            entries.clear();
            entries.extend(row.iter().map(|&(j, value, _)| (j, value)));
            self.quoted.extend(row.iter().map(|e| e.2));
            self.x.push_row(&entries).map_err(RiskError::Model)?;
        }
        let outcome = numbers(f, OUTCOME, features)?;
        if outcome.iter().all(Option::is_some) {
            if let Some(o) = &mut self.outcome {
                o.extend(outcome.iter().map(|o| o.unwrap_or(0.0) > 0.0));
            }
        } else {
            self.outcome = None;
        }
        let zero = |v: Vec<Option<f64>>| v.into_iter().map(|x| x.unwrap_or(0.0));
        let b = &mut self.baselines;
        b.emergency_admissions_12m
            .extend(zero(numbers(f, "emergency_admissions_12m", features)?));
        b.charlson
            .extend(zero(numbers(s, "charlson_quan_2011", scores)?));
        b.hfrs.extend(zero(numbers(s, "hfrs", scores)?));
        b.efi.extend(zero(numbers(s, "efi", scores)?));
        self.patients.append(who);
        Ok(())
    }

    /// Append the rows of another part of the same date.
    fn append(&mut self, mut more: Year) {
        self.patients.append(more.patients);
        self.x.append(&more.x);
        self.quoted.append(&mut more.quoted);
        self.outcome = match (self.outcome.take(), more.outcome) {
            (Some(mut a), Some(b)) => {
                a.extend(b);
                Some(a)
            }
            _ => None,
        };
        let (a, b) = (&mut self.baselines, more.baselines);
        a.emergency_admissions_12m
            .extend(b.emergency_admissions_12m);
        a.charlson.extend(b.charlson);
        a.hfrs.extend(b.hfrs);
        a.efi.extend(b.efi);
    }
}

impl Patients {
    fn append(&mut self, mut more: Patients) {
        self.pseudonym.append(&mut more.pseudonym);
        self.practice.append(&mut more.practice);
        self.age.append(&mut more.age);
        self.age_band.append(&mut more.age_band);
        self.sex.append(&mut more.sex);
        self.imd_decile.append(&mut more.imd_decile);
    }
}

/// Where a batch's stored values come from: `(feature, value as the model takes it, value as
/// a reason quotes it)` per row, none stored for a zero.
enum Values {
    /// A number per row for one feature.
    Numbers(u32, Vec<(f64, f64)>),
    /// At most one of several indicators per row (age band, sex, IMD quintile).
    OneOf(Vec<Option<u32>>),
    /// A list column of `scores`: the indicators of the entries each row's list holds.
    Listed {
        /// Per row, where its values start in `features` (and, next, end); a null list has none.
        starts: Vec<usize>,
        /// Per value, its feature (`None`: not one of the catalogue's).
        features: Vec<Option<u32>>,
    },
}

impl Values {
    fn push(&self, r: usize, row: &mut Vec<(u32, f64, f64)>) {
        match self {
            Values::Numbers(j, v) => {
                let (value, quote) = v[r];
                if value != 0.0 {
                    row.push((*j, value, quote));
                }
            }
            Values::OneOf(v) => {
                if let Some(j) = v[r] {
                    row.push((j, 1.0, 1.0));
                }
            }
            Values::Listed { starts, features } => {
                for j in features[starts[r]..starts[r + 1]].iter().flatten() {
                    row.push((*j, 1.0, 1.0));
                }
            }
        }
    }
}

/// Every feature's values in a batch, by source.
fn sources(
    catalogue: &[Feature],
    who: &Patients,
    f: &RecordBatch,
    s: &RecordBatch,
    features: &Path,
    scores: &Path,
) -> Result<Vec<Values>, RiskError> {
    let mut out = Vec::new();
    let mut lists: Vec<(&'static str, HashMap<&str, u32>)> = Vec::new();
    let (mut band, mut sex, mut imd) = (HashMap::new(), HashMap::new(), HashMap::new());
    for (j, feature) in catalogue.iter().enumerate() {
        let j = j as u32;
        match &feature.source {
            Source::Count { column } => out.push(Values::Numbers(
                j,
                numbers(f, column, features)?
                    .into_iter()
                    .map(|v| {
                        let n = v.unwrap_or(0.0).max(0.0);
                        if n == 0.0 { (0.0, 0.0) } else { (n.ln_1p(), n) }
                    })
                    .collect(),
            )),
            Source::RecentEmergency { months } => out.push(Values::Numbers(
                j,
                numbers(f, "months_since_last_emergency_admission", features)?
                    .into_iter()
                    .map(|v| match v {
                        Some(m) if m < *months as f64 => (1.0, m),
                        _ => (0.0, 0.0),
                    })
                    .collect(),
            )),
            Source::Score { column } => out.push(Values::Numbers(
                j,
                numbers(s, column, scores)?
                    .into_iter()
                    .map(|v| {
                        let v = v.unwrap_or(0.0);
                        (v, v)
                    })
                    .collect(),
            )),
            Source::AgeBand { band: b } => {
                band.insert(*b, j);
            }
            Source::Sex { code } => {
                sex.insert(*code, j);
            }
            Source::ImdQuintile { quintile } => {
                imd.insert(Some(*quintile), j);
            }
            Source::ImdUnknown => {
                imd.insert(None, j);
            }
            Source::Listed { column, entry } => match lists.iter_mut().find(|(c, _)| c == column) {
                Some((_, entries)) => {
                    entries.insert(entry.as_str(), j);
                }
                None => lists.push((column, HashMap::from([(entry.as_str(), j)]))),
            },
        }
    }
    out.push(Values::OneOf(
        who.age_band
            .iter()
            .map(|b| band.get(b.as_str()).copied())
            .collect(),
    ));
    out.push(Values::OneOf(
        who.sex
            .iter()
            .map(|c| sex.get(c.as_str()).copied())
            .collect(),
    ));
    out.push(Values::OneOf(
        (0..who.len())
            .map(|r| imd.get(&who.imd_quintile(r)).copied())
            .collect(),
    ));
    for (column, entries) in lists {
        out.push(listed(s, column, &entries, scores)?);
    }
    Ok(out)
}

/// A list column of `scores`, each value matched to its feature once.
fn listed(
    batch: &RecordBatch,
    name: &str,
    entries: &HashMap<&str, u32>,
    path: &Path,
) -> Result<Values, RiskError> {
    let a = named(batch, name, path)?;
    let Some(list) = a.as_list_opt::<i32>() else {
        return Err(RiskError::Table {
            path: path.to_path_buf(),
            message: format!("column `{name}` is not a list"),
        });
    };
    // Only the values the rows' lists reach (a sliced batch shares its list's values).
    let offsets = list.value_offsets();
    let (first, last) = (offsets[0] as usize, offsets[list.len()] as usize);
    let values = cast(&list.values().slice(first, last - first), &DataType::Utf8).map_err(|e| {
        RiskError::Table {
            path: path.to_path_buf(),
            message: format!("column `{name}`: {e}"),
        }
    })?;
    let values = values.as_string::<i32>();
    let mut starts = Vec::with_capacity(list.len() + 1);
    let mut features = Vec::new();
    starts.push(0);
    for r in 0..list.len() {
        if list.is_valid(r) {
            let (a, b) = (offsets[r] as usize - first, offsets[r + 1] as usize - first);
            features.extend((a..b).map(|i| {
                values
                    .is_valid(i)
                    .then(|| entries.get(values.value(i)).copied())
                    .flatten()
            }));
        }
        starts.push(features.len());
    }
    Ok(Values::Listed { starts, features })
}

fn named<'a>(
    batch: &'a RecordBatch,
    name: &str,
    path: &Path,
) -> Result<&'a std::sync::Arc<dyn Array>, RiskError> {
    batch
        .column_by_name(name)
        .ok_or_else(|| RiskError::MissingColumn {
            path: path.to_path_buf(),
            column: name.to_owned(),
        })
}

fn cast_to(
    batch: &RecordBatch,
    name: &str,
    path: &Path,
    to: &DataType,
) -> Result<std::sync::Arc<dyn Array>, RiskError> {
    cast(named(batch, name, path)?, to).map_err(|e| RiskError::Table {
        path: path.to_path_buf(),
        message: format!("column `{name}`: {e}"),
    })
}

/// A text column, nulls as empty text.
pub(crate) fn strings(
    batch: &RecordBatch,
    name: &str,
    path: &Path,
) -> Result<Vec<String>, RiskError> {
    let a = cast_to(batch, name, path, &DataType::Utf8)?;
    Ok(a.as_string::<i32>()
        .iter()
        .map(|v| v.unwrap_or_default().to_owned())
        .collect())
}

/// A numeric column as `f64`.
pub(crate) fn numbers(
    batch: &RecordBatch,
    name: &str,
    path: &Path,
) -> Result<Vec<Option<f64>>, RiskError> {
    let a = cast_to(batch, name, path, &DataType::Float64)?;
    Ok(
        a.as_primitive::<datafusion::arrow::datatypes::Float64Type>()
            .iter()
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The columns `sql/05_features.sql` selects: `s.<name>` and `AS <name>`.
    fn feature_columns() -> Vec<String> {
        let sql = include_str!("../../../sql/05_features.sql");
        let select = &sql[sql
            .find("SELECT\n    s.pseudonym")
            .expect("the final SELECT")..];
        let select = &select[..select.find("FROM spine").expect("FROM")];
        select
            .lines()
            .filter_map(|l| {
                let l = l.trim().trim_end_matches(',');
                if let Some(i) = l.rfind(" AS ") {
                    Some(l[i + 4..].trim().to_owned())
                } else {
                    l.strip_prefix("s.").map(str::to_owned)
                }
            })
            .filter(|c| {
                !c.is_empty() && c.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '_')
            })
            .collect()
    }

    /// Batches of one column `n` holding `from..to`, cut at the given sizes.
    fn cut(from: i64, sizes: &[usize]) -> Vec<Result<RecordBatch, RiskError>> {
        let mut next = from;
        sizes
            .iter()
            .map(|&k| {
                let v: Vec<i64> = (next..next + k as i64).collect();
                next += k as i64;
                let a: datafusion::arrow::array::ArrayRef =
                    std::sync::Arc::new(datafusion::arrow::array::Int64Array::from(v));
                Ok(RecordBatch::try_from_iter([("n", a)]).unwrap())
            })
            .collect()
    }

    fn column(b: &RecordBatch) -> Vec<i64> {
        b.column(0)
            .as_primitive::<datafusion::arrow::datatypes::Int64Type>()
            .values()
            .to_vec()
    }

    #[test]
    fn two_files_cut_differently_are_paired_row_for_row() {
        let mut pairs = Paired::new(
            cut(0, &[5, 0, 3, 7]).into_iter(),
            cut(0, &[2, 9, 4]).into_iter(),
        );
        let (mut left, mut right) = (Vec::new(), Vec::new());
        while let Some((f, s)) = pairs.next().transpose().unwrap() {
            assert_eq!(f.num_rows(), s.num_rows());
            left.extend(column(&f));
            right.extend(column(&s));
        }
        assert!(!pairs.unmatched);
        assert_eq!(left, (0..15).collect::<Vec<_>>());
        assert_eq!(left, right);

        // One file a row longer: the pairing says so.
        let mut pairs = Paired::new(cut(0, &[4, 4]).into_iter(), cut(0, &[9]).into_iter());
        while pairs.next().transpose().unwrap().is_some() {}
        assert!(pairs.unmatched);
    }

    #[test]
    fn every_column_of_features_is_an_input_or_excluded_and_the_outcome_never_is() {
        let columns = feature_columns();
        assert!(columns.len() > 20, "{columns:?}");
        assert!(columns.iter().any(|c| c == OUTCOME));
        let c = catalogue();
        for column in &columns {
            let input = COUNTS.iter().any(|(n, _, _)| n == column)
                || matches!(column.as_str(), "age_band" | "sex" | "imd_decile");
            let excluded = EXCLUDED.iter().any(|(n, _)| n == column);
            assert!(
                input ^ excluded,
                "`{column}` is neither an input nor excluded (or both)"
            );
        }
        assert!(EXCLUDED.iter().any(|(n, _)| *n == OUTCOME));
        for f in &c {
            assert!(!f.name.contains("next_12m"), "{}", f.name);
            let reads_outcome = match &f.source {
                Source::Count { column } | Source::Score { column } => *column == OUTCOME,
                _ => false,
            };
            assert!(!reads_outcome, "{} reads the outcome", f.name);
        }
        for (concept, members) in CONCEPTS {
            for m in members {
                assert!(
                    c.iter().any(|f| f.name == *m),
                    "{concept}: `{m}` is not a feature"
                );
            }
        }
        let mut names: Vec<&str> = c.iter().map(|f| f.name.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), c.len(), "feature names are unique");
    }
}
