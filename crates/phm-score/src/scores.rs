//! The scores themselves: Charlson and Elixhauser (weights per condition, hierarchy rules),
//! the Hospital Frailty Risk Score, and the electronic Frailty Index. Each is built from the
//! code lists and weights in `codelists/` and works on sets of conditions or deficits, so
//! the components of every score are kept for the reasons a patient is flagged.

use std::collections::HashMap;

use crate::codes::{self, Conditions};
use crate::icd10::Icd10;

/// A comorbidity index: conditions from ICD-10 prefixes, weightings, and hierarchy rules
/// (when the severe form is present the mild one scores 0).
#[derive(Debug, Clone)]
pub struct Comorbidity {
    /// The conditions.
    pub conditions: Conditions,
    /// Weightings by name, weights in condition order.
    pub weightings: Vec<(String, Vec<i32>)>,
    hierarchy: Vec<(usize, usize)>,
    floor_at_zero: bool,
    weights_table: &'static str,
}

impl Comorbidity {
    /// Charlson, Quan 2005 ICD-10 coding; weightings `charlson_1987`, `quan_2011`, `shmi`,
    /// `shmi_modified`.
    /// A negative total (possible only with SHMI's weight of -1 for diabetes with
    /// complications) is 0, as in comorbidipy.
    pub fn charlson() -> Self {
        Self::new(
            CHARLSON_CODES,
            CHARLSON_WEIGHTS,
            &[("diabwc", "diab"), ("msld", "mld"), ("metacanc", "canc")],
            true,
        )
    }

    /// Elixhauser, Quan 2005 ICD-10 coding; weightings `van_walraven`, `swiss`. Totals may be negative,
    /// as van Walraven 2009 publishes them.
    pub fn elixhauser() -> Self {
        Self::new(
            ELIXHAUSER_CODES,
            ELIXHAUSER_WEIGHTS,
            &[
                ("hypc", "hypunc"),
                ("diabc", "diabunc"),
                ("metacanc", "solidtum"),
            ],
            false,
        )
    }

    fn new(
        codes: &str,
        weights: &'static str,
        hierarchy: &[(&str, &str)],
        floor_at_zero: bool,
    ) -> Self {
        let conditions = Conditions::from_csv(codes);
        let weightings = codes::weights(weights, &conditions);
        let hierarchy = hierarchy
            .iter()
            .map(|(severe, mild)| (conditions.index(severe), conditions.index(mild)))
            .collect();
        Comorbidity {
            conditions,
            weightings,
            hierarchy,
            floor_at_zero,
            weights_table: weights,
        }
    }

    /// Each condition's plain-English name from the weights table's `name` column (`chf` →
    /// `congestive heart failure`), in condition order; the code where the table has none.
    pub fn labels(&self) -> Vec<String> {
        let (_, rows) = codes::table(self.weights_table);
        self.conditions
            .names
            .iter()
            .map(|code| {
                rows.iter()
                    .find(|r| r.first() == Some(code))
                    .and_then(|r| r.get(1).cloned())
                    .unwrap_or_else(|| code.clone())
            })
            .collect()
    }

    /// The conditions a code counts for.
    pub fn of(&self, code: Icd10) -> u64 {
        self.conditions.of(code)
    }

    /// The score of a set of conditions under weighting `w`.
    pub fn score(&self, set: u64, w: usize) -> i32 {
        let mut scored = set;
        for &(severe, mild) in &self.hierarchy {
            if set & (1 << severe) != 0 {
                scored &= !(1 << mild);
            }
        }
        let weights = &self.weightings[w].1;
        let total: i32 = codes::members(scored.into(), weights.len())
            .map(|i| weights[i])
            .sum();
        if self.floor_at_zero {
            total.max(0)
        } else {
            total
        }
    }
}

/// The Hospital Frailty Risk Score (Gilbert 2018): weights of 109 ICD-10 categories, held in
/// tenths so that sums are exact.
#[derive(Debug, Clone)]
pub struct Hfrs {
    /// Categories in file order (bit `i` of a patient's set).
    pub categories: Vec<String>,
    tenths: Vec<u32>,
    index: HashMap<String, usize>,
}

impl Hfrs {
    /// The published categories and weights.
    pub fn builtin() -> Self {
        let (_, rows) = codes::table(HFRS_CODES);
        let categories: Vec<String> = rows.iter().map(|r| r[0].clone()).collect();
        let tenths = rows.iter().map(|r| tenths(&r[1])).collect();
        let index = categories
            .iter()
            .enumerate()
            .map(|(i, c)| (c.clone(), i))
            .collect();
        assert!(categories.len() <= 128, "categories fit a 128-bit set");
        Hfrs {
            categories,
            tenths,
            index,
        }
    }

    /// The category bit of a code, if its category scores.
    pub fn of(&self, code: Icd10) -> u128 {
        self.index.get(code.category()).map_or(0, |&i| 1 << i)
    }

    /// Score in tenths of a set of categories.
    pub fn tenths(&self, set: u128) -> u32 {
        codes::members(set, self.tenths.len())
            .map(|i| self.tenths[i])
            .sum()
    }

    /// Sum of every weight, in tenths (1732 when the table is Gilbert 2018's).
    pub fn total_tenths(&self) -> u32 {
        self.tenths.iter().sum()
    }

    /// Categories in a set.
    pub fn names_in(&self, set: u128) -> Vec<&str> {
        codes::members(set, self.categories.len())
            .map(|i| self.categories[i].as_str())
            .collect()
    }
}

/// `7.1` → 71.
fn tenths(s: &str) -> u32 {
    let (whole, frac) = s.trim().split_once('.').unwrap_or((s.trim(), "0"));
    let whole: u32 = whole.parse().expect("weight");
    let frac: u32 = frac.get(..1).unwrap_or("0").parse().expect("weight");
    whole * 10 + frac
}

/// HFRS band (Gilbert 2018): low < 5, intermediate 5 to 15, high > 15.
pub fn hfrs_band(tenths: u32) -> &'static str {
    match tenths {
        0..50 => "low",
        50..=150 => "intermediate",
        _ => "high",
    }
}

/// Named SNOMED CT code lists, with a lookup from a code to the lists that hold it (bit `i` of
/// a set is list `i`).
#[derive(Debug, Clone)]
pub struct SnomedLists {
    /// List names (file stems), in bit order.
    pub names: Vec<&'static str>,
    codes: HashMap<u64, u64>,
}

impl SnomedLists {
    fn new(lists: &[(&'static str, &'static str)]) -> Self {
        let mut codes: HashMap<u64, u64> = HashMap::new();
        for (i, (_, text)) in lists.iter().enumerate() {
            let (_, rows) = codes::table(text);
            for r in rows {
                let code: u64 = r[0].trim().parse().expect("SNOMED CT code");
                *codes.entry(code).or_default() |= 1 << i;
            }
        }
        SnomedLists {
            names: lists.iter().map(|(n, _)| *n).collect(),
            codes,
        }
    }

    /// The GP long-term condition lists of `codelists/ltc/`: a condition is recorded when any
    /// of its codes is in the GP record on or before the date.
    pub fn gp_conditions() -> Self {
        Self::new(&LTC_LISTS)
    }

    /// The lists a SNOMED CT code is in.
    pub fn of(&self, snomed: &str) -> u64 {
        snomed
            .parse::<u64>()
            .ok()
            .and_then(|c| self.codes.get(&c))
            .copied()
            .unwrap_or(0)
    }

    /// Names of the lists in a set, in list order.
    pub fn names_in(&self, set: u64) -> Vec<&'static str> {
        codes::members(set.into(), self.names.len())
            .map(|i| self.names[i])
            .collect()
    }
}

/// The electronic Frailty Index (Clegg 2016): 35 deficits from SNOMED CT code lists, and
/// polypharmacy.
#[derive(Debug, Clone)]
pub struct Efi {
    /// Deficit names (file names of `codelists/efi/`, then `polypharmacy`).
    pub deficits: Vec<&'static str>,
    lists: SnomedLists,
}

const CHARLSON_CODES: &str = include_str!("../../../codelists/charlson/icd10-quan2005.csv");
const CHARLSON_WEIGHTS: &str = include_str!("../../../codelists/charlson/weights.csv");
const ELIXHAUSER_CODES: &str = include_str!("../../../codelists/elixhauser/icd10-quan2005.csv");
const ELIXHAUSER_WEIGHTS: &str = include_str!("../../../codelists/elixhauser/weights.csv");
const HFRS_CODES: &str = include_str!("../../../codelists/hfrs/gilbert2018.csv");

/// Every code list and weights table scoring uses, as (`codelists/...` path, text): what a
/// run records it used.
pub fn sources() -> Vec<(String, &'static str)> {
    let mut out: Vec<(String, &'static str)> = [
        ("charlson/icd10-quan2005.csv", CHARLSON_CODES),
        ("charlson/weights.csv", CHARLSON_WEIGHTS),
        ("elixhauser/icd10-quan2005.csv", ELIXHAUSER_CODES),
        ("elixhauser/weights.csv", ELIXHAUSER_WEIGHTS),
        ("hfrs/gilbert2018.csv", HFRS_CODES),
    ]
    .iter()
    .map(|(path, text)| (format!("codelists/{path}"), *text))
    .collect();
    out.extend(
        EFI_LISTS
            .iter()
            .map(|(name, text)| (format!("codelists/efi/{name}.csv"), *text)),
    );
    out.extend(
        LTC_LISTS
            .iter()
            .map(|(name, text)| (format!("codelists/ltc/{name}.csv"), *text)),
    );
    out
}

/// Distinct medicines in 12 months that make polypharmacy.
pub const POLYPHARMACY_MEDICINES: i64 = 5;

/// Deficits in the eFI.
pub const EFI_DEFICITS: u32 = 36;

/// `(name, text)` of `codelists/<folder>/<name>.csv` for each name, built into the binary.
macro_rules! snomed_lists {
    ($folder:literal: $($name:literal),* $(,)?) => {
        [$(($name, include_str!(concat!("../../../codelists/", $folder, "/", $name, ".csv")))),*]
    };
}

const EFI_LISTS: [(&str, &str); 35] = snomed_lists![
    "efi":
    "activity-limitation",
    "anaemia",
    "arthritis",
    "atrial-fibrillation",
    "care-requirement",
    "chd",
    "ckd",
    "cognitive-problems",
    "diabetes",
    "dizziness",
    "dyspnoea",
    "falls",
    "foot-problems",
    "fragility-fracture",
    "hearing-loss",
    "heart-failure",
    "heart-valve-disease",
    "housebound",
    "hypertension",
    "hypotension",
    "mobility-problems",
    "osteoporosis",
    "parkinsons",
    "peptic-ulcer",
    "pvd",
    "respiratory-disease",
    "skin-ulcer",
    "sleep-disturbance",
    "social-vulnerability",
    "stroke-tia",
    "thyroid-disorders",
    "urinary-incontinence",
    "urinary-system-disease",
    "vision-problems",
    "weight-loss",
];

/// GP long-term condition lists (SNOMED CT), `codelists/ltc/`.
const LTC_LISTS: [(&str, &str); 7] = snomed_lists![
    "ltc":
    "alcohol-misuse",
    "cancer",
    "chronic-liver-disease",
    "depression",
    "hiv",
    "multiple-sclerosis",
    "severe-mental-illness",
];

impl Efi {
    /// The published code lists.
    pub fn builtin() -> Self {
        let lists = SnomedLists::new(&EFI_LISTS);
        let mut deficits = lists.names.clone();
        deficits.push("polypharmacy");
        Efi { deficits, lists }
    }

    /// The deficits a SNOMED CT code records.
    pub fn of(&self, snomed: &str) -> u64 {
        self.lists.of(snomed)
    }

    /// The polypharmacy deficit bit.
    pub fn polypharmacy(&self) -> u64 {
        1 << (self.deficits.len() - 1)
    }

    /// Deficits in a set.
    pub fn names_in(&self, set: u64) -> Vec<&'static str> {
        codes::members(set.into(), self.deficits.len())
            .map(|i| self.deficits[i])
            .collect()
    }
}

/// eFI value: deficits present / 36.
pub fn efi_value(deficits: u32) -> f64 {
    f64::from(deficits) / f64::from(EFI_DEFICITS)
}

/// eFI category (Clegg 2016): fit <= 0.12, mild > 0.12 to 0.24, moderate > 0.24 to 0.36,
/// severe > 0.36; compared exactly as deficits * 100 against 36 * the boundary * 100.
pub fn efi_category(deficits: u32) -> &'static str {
    let hundredths = deficits * 100;
    let n = EFI_DEFICITS;
    if hundredths <= 12 * n {
        "fit"
    } else if hundredths <= 24 * n {
        "mild"
    } else if hundredths <= 36 * n {
        "moderate"
    } else {
        "severe"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::icd10::normalise;

    fn set(c: &Comorbidity, names: &[&str]) -> u64 {
        names
            .iter()
            .map(|n| 1u64 << c.conditions.index(n))
            .fold(0, |a, b| a | b)
    }

    fn weighting(c: &Comorbidity, name: &str) -> usize {
        c.weightings.iter().position(|(n, _)| n == name).unwrap()
    }

    #[test]
    fn quan_2011_maximum_is_24_and_aids_weighs_4() {
        // Quan et al. 2011, Table 2: the maximum score is 24; AIDS/HIV weighs 4.
        let c = Comorbidity::charlson();
        let q = weighting(&c, "quan_2011");
        assert_eq!(c.score(u64::MAX >> (64 - c.conditions.names.len()), q), 24);
        assert_eq!(c.score(set(&c, &["aids"]), q), 4);
        assert_eq!(c.weightings.len(), 4);
    }

    #[test]
    fn charlson_1987_weights_and_hierarchy() {
        // Charlson 1987: metastatic solid tumour 6 replaces any malignancy 2; diabetes with
        // end-organ damage 2 replaces diabetes 1; moderate/severe liver disease 3 replaces
        // mild 1.
        let c = Comorbidity::charlson();
        let w = weighting(&c, "charlson_1987");
        assert_eq!(c.score(set(&c, &["canc", "metacanc"]), w), 6);
        assert_eq!(c.score(set(&c, &["diab", "diabwc"]), w), 2);
        assert_eq!(c.score(set(&c, &["mld", "msld"]), w), 3);
        assert_eq!(c.score(set(&c, &["ami", "chf", "aids"]), w), 8);
        let shmi = weighting(&c, "shmi");
        assert_eq!(c.score(set(&c, &["diabwc"]), shmi), 0, "-1 is floored at 0");
    }

    #[test]
    fn elixhauser_van_walraven_can_be_negative() {
        // van Walraven 2009: drug abuse -7, depression -3; the negative weights sum to -19.
        let e = Comorbidity::elixhauser();
        assert_eq!(e.score(set(&e, &["drug", "depre"]), 0), -10);
        assert_eq!(
            e.score(set(&e, &["solidtum", "metacanc"]), 0),
            12,
            "metastatic cancer 12; the solid tumour's 4 does not add"
        );
        let negatives: Vec<&str> = e
            .conditions
            .names
            .iter()
            .enumerate()
            .filter(|(i, _)| e.weightings[0].1[*i] < 0)
            .map(|(_, n)| n.as_str())
            .collect();
        assert_eq!(e.score(set(&e, &negatives), 0), -19);
    }

    #[test]
    fn hfrs_has_109_categories_summing_to_173_2() {
        let h = Hfrs::builtin();
        assert_eq!(h.categories.len(), 109);
        assert_eq!(h.total_tenths(), 1732);
        assert_eq!(h.tenths(h.of(normalise("F00.9*").unwrap())), 71);
        assert_eq!(
            (hfrs_band(49), hfrs_band(50), hfrs_band(150), hfrs_band(151)),
            ("low", "intermediate", "intermediate", "high")
        );
    }

    #[test]
    fn efi_every_deficit_is_one_and_categories_follow_clegg_2016() {
        let e = Efi::builtin();
        assert_eq!(e.deficits.len(), 36);
        let every = e.names_in(u64::MAX).len();
        assert_eq!(every, 36);
        assert!((efi_value(36) - 1.0).abs() < f64::EPSILON);
        // 4/36 = 0.111 fit, 5/36 = 0.139 mild, 8/36 = 0.222 mild, 9/36 = 0.25 moderate,
        // 12/36 = 0.333 moderate, 13/36 = 0.361 severe.
        let cats: Vec<&str> = [0, 4, 5, 8, 9, 12, 13, 36]
            .iter()
            .map(|&d| efi_category(d))
            .collect();
        assert_eq!(
            cats,
            [
                "fit", "fit", "mild", "mild", "moderate", "moderate", "severe", "severe"
            ]
        );
    }
}
