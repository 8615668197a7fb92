//! The model's features, named in one place, and a year's design matrix read from the linked
//! features and the scores as of one date.
//!
//! Every column of `linked/features.parquet` is either a feature (counts enter as
//! `ln(1 + count)`; the age band, sex and IMD quintile as indicators) or excluded for a stated
//! reason ([`EXCLUDED`]); the outcome `emergency_admission_next_12m` is never an input. From
//! `scores/scores.parquet` come the totals (Charlson, Elixhauser, HFRS, eFI) and one indicator
//! per condition (Charlson, Elixhauser), eFI deficit and GP long-term condition.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::path::Path;

use datafusion::arrow::array::{Array, AsArray, ListArray, RecordBatch, StringArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
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
/// year of rows.
pub fn load(as_of: &str, features: &Path, scores: &Path) -> Result<Year, RiskError> {
    let f = read_parquet(features)?;
    let s = read_parquet(scores)?;
    let pseudonym = strings(&f, "pseudonym", features)?;
    let score_pseudonyms = strings(&s, "pseudonym", scores)?;
    if pseudonym != score_pseudonyms {
        return Err(RiskError::Mismatch {
            features: features.to_path_buf(),
            scores: scores.to_path_buf(),
        });
    }
    let n = pseudonym.len();
    let patients = Patients {
        practice: strings(&f, "practice_code", features)?,
        age: numbers(&f, "age", features)?
            .into_iter()
            .map(|a| a.map(|a| a as i32))
            .collect(),
        age_band: strings(&f, "age_band", features)?,
        sex: strings(&f, "sex", features)?,
        imd_decile: numbers(&f, "imd_decile", features)?
            .into_iter()
            .map(|d| d.map(|d| d as i32))
            .collect(),
        pseudonym,
    };
    let catalogue = catalogue();
    let mut columns: Vec<Column> = Vec::with_capacity(catalogue.len());
    // Each list column of `scores`, read once for all its entries' features.
    let mut lists: HashMap<&'static str, ListColumn> = HashMap::new();
    for feature in &catalogue {
        columns.push(column(feature, &f, &s, &mut lists, features, scores)?);
    }
    let mut x = SparseMatrix::new(catalogue.len());
    let mut quoted = Vec::new();
    let mut row: Vec<(u32, f64)> = Vec::new();
    for r in 0..n {
        row.clear();
        for (j, c) in columns.iter().enumerate() {
            if let Some((value, quote)) = c.at(r, &patients) {
                row.push((j as u32, value));
                quoted.push(quote);
            }
        }
        x.push_row(&row).map_err(RiskError::Model)?;
    }
    let outcome = numbers(&f, OUTCOME, features)?;
    let outcome = outcome
        .iter()
        .all(Option::is_some)
        .then(|| outcome.iter().map(|o| o.unwrap_or(0.0) > 0.0).collect());
    let zero = |v: Vec<Option<f64>>| v.into_iter().map(|x| x.unwrap_or(0.0)).collect();
    let baselines = Baselines {
        emergency_admissions_12m: zero(numbers(&f, "emergency_admissions_12m", features)?),
        charlson: zero(numbers(&s, "charlson_quan_2011", scores)?),
        hfrs: zero(numbers(&s, "hfrs", scores)?),
        efi: zero(numbers(&s, "efi", scores)?),
    };
    Ok(Year {
        as_of: as_of.to_owned(),
        patients,
        x,
        quoted,
        outcome,
        baselines,
    })
}

/// A feature's values, ready to read per row.
enum Column {
    /// Numbers (value, quoted) per row; 0 is not stored.
    Numbers(Vec<(f64, f64)>),
    /// Indicators.
    Flags(Vec<bool>),
    /// Demographic indicators, read from [`Patients`].
    Who(Source),
}

impl Column {
    fn at(&self, r: usize, who: &Patients) -> Option<(f64, f64)> {
        match self {
            Column::Numbers(v) => Some(v[r]).filter(|(value, _)| *value != 0.0),
            Column::Flags(v) => v[r].then_some((1.0, 1.0)),
            Column::Who(source) => {
                let yes = match source {
                    Source::AgeBand { band } => who.age_band[r] == *band,
                    Source::Sex { code } => who.sex[r] == *code,
                    Source::ImdQuintile { quintile } => who.imd_quintile(r) == Some(*quintile),
                    Source::ImdUnknown => who.imd_decile[r].is_none(),
                    _ => false,
                };
                yes.then_some((1.0, 1.0))
            }
        }
    }
}

fn column(
    feature: &Feature,
    f: &RecordBatch,
    s: &RecordBatch,
    lists: &mut HashMap<&'static str, ListColumn>,
    features: &Path,
    scores: &Path,
) -> Result<Column, RiskError> {
    Ok(match &feature.source {
        Source::Count { column } => Column::Numbers(
            numbers(f, column, features)?
                .into_iter()
                .map(|v| {
                    let n = v.unwrap_or(0.0).max(0.0);
                    (n.ln_1p(), n)
                })
                .collect(),
        ),
        Source::RecentEmergency { months } => Column::Numbers(
            numbers(f, "months_since_last_emergency_admission", features)?
                .into_iter()
                .map(|v| match v {
                    Some(m) if m < *months as f64 => (1.0, m),
                    _ => (0.0, 0.0),
                })
                .collect(),
        ),
        Source::Score { column } => Column::Numbers(
            numbers(s, column, scores)?
                .into_iter()
                .map(|v| {
                    let v = v.unwrap_or(0.0);
                    (v, v)
                })
                .collect(),
        ),
        Source::Listed { column, entry } => {
            let list = match lists.entry(column) {
                Entry::Occupied(o) => o.into_mut(),
                Entry::Vacant(v) => v.insert(ListColumn::read(s, column, scores)?),
            };
            Column::Flags(list.contains(entry))
        }
        other => Column::Who(other.clone()),
    })
}

fn read_parquet(path: &Path) -> Result<RecordBatch, RiskError> {
    phm_sql::read_table(path).map_err(|e| RiskError::Table {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
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

/// A list-of-text column, its values read as text once.
struct ListColumn {
    list: ListArray,
    values: StringArray,
}

impl ListColumn {
    fn read(batch: &RecordBatch, name: &str, path: &Path) -> Result<Self, RiskError> {
        let a = named(batch, name, path)?;
        let Some(list) = a.as_list_opt::<i32>() else {
            return Err(RiskError::Table {
                path: path.to_path_buf(),
                message: format!("column `{name}` is not a list"),
            });
        };
        let values = cast(list.values(), &DataType::Utf8).map_err(|e| RiskError::Table {
            path: path.to_path_buf(),
            message: format!("column `{name}`: {e}"),
        })?;
        Ok(ListColumn {
            list: list.clone(),
            values: values.as_string::<i32>().clone(),
        })
    }

    /// Per row, whether the row's list holds `entry`.
    fn contains(&self, entry: &str) -> Vec<bool> {
        let offsets = self.list.value_offsets();
        (0..self.list.len())
            .map(|r| {
                self.list.is_valid(r)
                    && (offsets[r] as usize..offsets[r + 1] as usize)
                        .any(|i| self.values.value(i) == entry)
            })
            .collect()
    }
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
