//! The clinical vocabulary of the generator: conditions, frailty deficits, medicines, and the
//! SNOMED CT and ICD-10 codes each is recorded with.
//!
//! Long-term conditions are coded in GP events with SNOMED CT concepts drawn from the eFI code
//! lists in `codelists/efi/` (or a named concept where eFI has no list), and in hospital
//! diagnoses with ICD-10 codes chosen so that every Charlson (Quan 2005), Elixhauser (Quan
//! 2005) and Hospital Frailty Risk Score (Gilbert 2018) category occurs in the data.

/// A long-term condition: how common it is, who has it, how it is coded and what it does.
pub struct Condition {
    /// Short name, used in truth files.
    pub name: &'static str,
    /// Target prevalence in the whole registered population (all ages).
    pub prevalence: f64,
    /// Youngest age at which it occurs.
    pub min_age: i32,
    /// Log-odds per decade of age.
    pub age_slope: f64,
    /// Log-odds between least and most deprived decile.
    pub deprivation: f64,
    /// eFI deficit code list (file stem in `codelists/efi/`) that codes it in primary care.
    pub efi: Option<&'static str>,
    /// SNOMED CT concepts used when no eFI list applies.
    pub snomed: &'static [&'static str],
    /// ICD-10 codes (canonical, with a dot) and their relative frequency in hospital coding.
    pub icd10: &'static [(&'static str, f64)],
    /// Log rate ratio on emergency admissions.
    pub emergency: f64,
    /// Log hazard ratio on death.
    pub mortality: f64,
    /// Indices into [`MEDICINES`] issued on repeat.
    pub medicines: &'static [usize],
    /// Primary diagnoses of emergency admissions this condition causes.
    pub acute: &'static [&'static str],
    /// Outpatient treatment function code.
    pub treatment_function: &'static str,
    /// Where the prevalence comes from.
    pub source: &'static str,
}

const QOF: &str = "QOF 2022-23 register prevalence (NHS Digital)";

/// The conditions, in a fixed order (their index is used in truth files and summaries).
pub const CONDITIONS: &[Condition] = &[
    Condition {
        name: "hypertension",
        prevalence: 0.146,
        min_age: 25,
        age_slope: 0.75,
        deprivation: 0.25,
        efi: Some("hypertension"),
        snomed: &[],
        icd10: &[
            ("I10", 0.8),
            ("I11.9", 0.1),
            ("I12.9", 0.05),
            ("I13.0", 0.05),
        ],
        emergency: 0.05,
        mortality: 0.05,
        medicines: &[0, 1, 2],
        acute: &["R55"],
        treatment_function: "320",
        source: QOF,
    },
    Condition {
        name: "diabetes",
        prevalence: 0.065,
        min_age: 10,
        age_slope: 0.5,
        deprivation: 0.7,
        efi: Some("diabetes"),
        snomed: &[],
        icd10: &[
            ("E11.9", 0.55),
            ("E11.2", 0.1),
            ("E11.3", 0.08),
            ("E11.4", 0.07),
            ("E11.5", 0.05),
            ("E10.9", 0.1),
            ("E10.6", 0.05),
        ],
        emergency: 0.25,
        mortality: 0.25,
        medicines: &[9, 10, 5],
        acute: &["E16.2", "E87.1"],
        treatment_function: "307",
        source: QOF,
    },
    Condition {
        name: "asthma",
        prevalence: 0.065,
        min_age: 5,
        age_slope: 0.0,
        deprivation: 0.3,
        efi: Some("respiratory-disease"),
        snomed: &[],
        icd10: &[("J45.9", 0.9), ("J46", 0.1)],
        emergency: 0.2,
        mortality: 0.0,
        medicines: &[11, 12],
        acute: &["J45.9", "J46"],
        treatment_function: "340",
        source: QOF,
    },
    Condition {
        name: "copd",
        prevalence: 0.019,
        min_age: 35,
        age_slope: 0.7,
        deprivation: 1.1,
        efi: Some("respiratory-disease"),
        snomed: &[],
        icd10: &[("J44.9", 0.6), ("J43.9", 0.2), ("J44.1", 0.2)],
        emergency: 0.65,
        mortality: 0.5,
        medicines: &[11, 13],
        acute: &["J44.1", "J44.0", "J18.9", "J22"],
        treatment_function: "340",
        source: QOF,
    },
    Condition {
        name: "chd",
        prevalence: 0.030,
        min_age: 30,
        age_slope: 0.9,
        deprivation: 0.6,
        efi: Some("chd"),
        snomed: &[],
        icd10: &[("I25.1", 0.6), ("I25.2", 0.3), ("I20.9", 0.1)],
        emergency: 0.3,
        mortality: 0.3,
        medicines: &[5, 6, 3],
        acute: &["I21.4", "I20.0", "R07.4"],
        treatment_function: "320",
        source: QOF,
    },
    Condition {
        name: "atrial_fibrillation",
        prevalence: 0.022,
        min_age: 30,
        age_slope: 1.1,
        deprivation: 0.0,
        efi: Some("atrial-fibrillation"),
        snomed: &[],
        icd10: &[("I48.9", 0.6), ("I48.0", 0.4)],
        emergency: 0.3,
        mortality: 0.3,
        medicines: &[8, 3],
        acute: &["I48.9", "R00.2"],
        treatment_function: "320",
        source: QOF,
    },
    Condition {
        name: "heart_failure",
        prevalence: 0.010,
        min_age: 35,
        age_slope: 1.1,
        deprivation: 0.5,
        efi: Some("heart-failure"),
        snomed: &[],
        icd10: &[
            ("I50.0", 0.5),
            ("I50.9", 0.3),
            ("I11.0", 0.1),
            ("I42.0", 0.1),
        ],
        emergency: 0.8,
        mortality: 0.8,
        medicines: &[1, 3, 4],
        acute: &["I50.0", "I50.9", "J81"],
        treatment_function: "320",
        source: QOF,
    },
    Condition {
        name: "stroke_tia",
        prevalence: 0.018,
        min_age: 30,
        age_slope: 0.95,
        deprivation: 0.5,
        efi: Some("stroke-tia"),
        snomed: &[],
        icd10: &[
            ("I63.9", 0.35),
            ("I69.3", 0.25),
            ("G45.9", 0.3),
            ("G81.9", 0.05),
            ("I67.9", 0.05),
        ],
        emergency: 0.35,
        mortality: 0.35,
        medicines: &[7, 5],
        acute: &["I63.9", "G45.9", "I61.9"],
        treatment_function: "328",
        source: QOF,
    },
    Condition {
        name: "ckd",
        prevalence: 0.032,
        min_age: 30,
        age_slope: 1.0,
        deprivation: 0.4,
        efi: Some("ckd"),
        snomed: &[],
        icd10: &[
            ("N18.3", 0.6),
            ("N18.4", 0.25),
            ("N18.5", 0.1),
            ("N19", 0.05),
        ],
        emergency: 0.35,
        mortality: 0.4,
        medicines: &[1],
        acute: &["N17.9", "E87.5"],
        treatment_function: "361",
        source: QOF,
    },
    Condition {
        name: "dementia",
        prevalence: 0.007,
        min_age: 55,
        age_slope: 1.6,
        deprivation: 0.3,
        efi: Some("cognitive-problems"),
        snomed: &[],
        icd10: &[
            ("F03", 0.45),
            ("F00.9", 0.25),
            ("F01.9", 0.2),
            ("F05.1", 0.1),
        ],
        emergency: 0.6,
        mortality: 0.9,
        medicines: &[20],
        acute: &["F05.1", "N39.0", "R41.0"],
        treatment_function: "430",
        source: QOF,
    },
    Condition {
        name: "cancer",
        prevalence: 0.036,
        min_age: 20,
        age_slope: 0.85,
        deprivation: 0.1,
        efi: None,
        snomed: &["363346000"],
        icd10: &[
            ("C50.9", 0.3),
            ("C61", 0.2),
            ("C18.9", 0.15),
            ("C34.9", 0.1),
            ("C83.3", 0.05),
            ("C90.0", 0.05),
            ("C79.5", 0.1),
            ("C78.7", 0.05),
        ],
        emergency: 0.5,
        mortality: 0.6,
        medicines: &[23],
        acute: &["R50.9", "D70", "R11"],
        treatment_function: "370",
        source: QOF,
    },
    Condition {
        name: "depression",
        prevalence: 0.105,
        min_age: 16,
        age_slope: 0.05,
        deprivation: 0.6,
        efi: None,
        snomed: &["35489007"],
        icd10: &[("F32.9", 0.6), ("F33.9", 0.3), ("F41.2", 0.1)],
        emergency: 0.2,
        mortality: 0.1,
        medicines: &[15, 16],
        acute: &["T43.2", "X61"],
        treatment_function: "710",
        source: QOF,
    },
    Condition {
        name: "osteoporosis",
        prevalence: 0.020,
        min_age: 45,
        age_slope: 1.2,
        deprivation: 0.1,
        efi: Some("osteoporosis"),
        snomed: &[],
        icd10: &[("M81.9", 0.8), ("M80.9", 0.2)],
        emergency: 0.2,
        mortality: 0.1,
        medicines: &[17, 18],
        acute: &["S72.0", "S32.0"],
        treatment_function: "410",
        source: "GP-recorded osteoporosis, CPRD studies (about 2%)",
    },
    Condition {
        name: "rheumatoid_arthritis",
        prevalence: 0.008,
        min_age: 18,
        age_slope: 0.4,
        deprivation: 0.2,
        efi: Some("arthritis"),
        snomed: &[],
        icd10: &[("M06.9", 0.8), ("M05.9", 0.2)],
        emergency: 0.15,
        mortality: 0.15,
        medicines: &[24],
        acute: &["M25.5"],
        treatment_function: "410",
        source: QOF,
    },
    Condition {
        name: "osteoarthritis",
        prevalence: 0.070,
        min_age: 35,
        age_slope: 0.9,
        deprivation: 0.2,
        efi: Some("arthritis"),
        snomed: &[],
        icd10: &[
            ("M19.9", 0.4),
            ("M17.9", 0.3),
            ("M16.9", 0.2),
            ("M15.9", 0.1),
        ],
        emergency: 0.05,
        mortality: 0.0,
        medicines: &[22, 23],
        acute: &["M25.5"],
        treatment_function: "110",
        source: "GP-recorded osteoarthritis, CPRD studies (about 7-10% of adults)",
    },
    Condition {
        name: "parkinsons",
        prevalence: 0.003,
        min_age: 45,
        age_slope: 1.3,
        deprivation: 0.0,
        efi: Some("parkinsons"),
        snomed: &[],
        icd10: &[("G20", 1.0)],
        emergency: 0.5,
        mortality: 0.5,
        medicines: &[19],
        acute: &["R29.6", "J69.0"],
        treatment_function: "400",
        source: "Parkinson's UK prevalence 2018 (about 0.25%)",
    },
    Condition {
        name: "hypothyroidism",
        prevalence: 0.035,
        min_age: 18,
        age_slope: 0.55,
        deprivation: 0.0,
        efi: Some("thyroid-disorders"),
        snomed: &[],
        icd10: &[("E03.9", 1.0)],
        emergency: 0.0,
        mortality: 0.0,
        medicines: &[14],
        acute: &["E03.9"],
        treatment_function: "302",
        source: "QOF 2022-23 hypothyroidism register (as reported to 2019)",
    },
    Condition {
        name: "peripheral_arterial_disease",
        prevalence: 0.006,
        min_age: 40,
        age_slope: 1.0,
        deprivation: 0.8,
        efi: Some("pvd"),
        snomed: &[],
        icd10: &[("I73.9", 0.7), ("I70.2", 0.3)],
        emergency: 0.3,
        mortality: 0.3,
        medicines: &[7, 5],
        acute: &["I74.3", "L97"],
        treatment_function: "107",
        source: QOF,
    },
    Condition {
        name: "peptic_ulcer",
        prevalence: 0.010,
        min_age: 25,
        age_slope: 0.5,
        deprivation: 0.4,
        efi: Some("peptic-ulcer"),
        snomed: &[],
        icd10: &[("K25.9", 0.5), ("K26.9", 0.4), ("K27.9", 0.1)],
        emergency: 0.2,
        mortality: 0.1,
        medicines: &[21],
        acute: &["K92.2", "K25.0"],
        treatment_function: "301",
        source: "Lifetime GP-recorded peptic ulcer, THIN studies (about 1%)",
    },
    Condition {
        name: "liver_disease",
        prevalence: 0.008,
        min_age: 25,
        age_slope: 0.4,
        deprivation: 0.9,
        efi: None,
        snomed: &["19943007"],
        icd10: &[
            ("K70.3", 0.35),
            ("K74.6", 0.35),
            ("B18.2", 0.15),
            ("K72.9", 0.1),
            ("I85.9", 0.05),
        ],
        emergency: 0.7,
        mortality: 0.9,
        medicines: &[31],
        acute: &["K72.9", "K70.4", "I85.0"],
        treatment_function: "301",
        source: "British Liver Trust / PHE liver profiles (about 0.8% recorded)",
    },
    Condition {
        name: "serious_mental_illness",
        prevalence: 0.010,
        min_age: 16,
        age_slope: 0.0,
        deprivation: 1.0,
        efi: None,
        snomed: &["58214004", "13746004"],
        icd10: &[
            ("F20.9", 0.5),
            ("F31.2", 0.2),
            ("F31.9", 0.2),
            ("F25.9", 0.1),
        ],
        emergency: 0.4,
        mortality: 0.5,
        medicines: &[25],
        acute: &["F20.0", "F31.2"],
        treatment_function: "710",
        source: QOF,
    },
    Condition {
        name: "alcohol_misuse",
        prevalence: 0.015,
        min_age: 18,
        age_slope: 0.0,
        deprivation: 1.0,
        efi: None,
        snomed: &["7200002"],
        icd10: &[("F10.2", 0.6), ("F10.1", 0.4)],
        emergency: 0.6,
        mortality: 0.6,
        medicines: &[31],
        acute: &["F10.0", "F10.3", "K70.1"],
        treatment_function: "300",
        source: "OHID alcohol dependence estimates (about 1.5% recorded)",
    },
    Condition {
        name: "drug_misuse",
        prevalence: 0.006,
        min_age: 16,
        age_slope: -0.2,
        deprivation: 1.4,
        efi: None,
        snomed: &["26416006"],
        icd10: &[("F11.2", 0.5), ("F19.2", 0.5)],
        emergency: 0.7,
        mortality: 0.6,
        medicines: &[],
        acute: &["T40.1", "F11.0"],
        treatment_function: "300",
        source: "OHID opiate and crack use estimates (about 0.6%)",
    },
    Condition {
        name: "obesity",
        prevalence: 0.080,
        min_age: 16,
        age_slope: 0.2,
        deprivation: 0.6,
        efi: None,
        snomed: &["414916001"],
        icd10: &[("E66.9", 1.0)],
        emergency: 0.05,
        mortality: 0.05,
        medicines: &[],
        acute: &["R07.4"],
        treatment_function: "300",
        source: "GP-coded obesity (QOF obesity register 18+, about 10%)",
    },
    Condition {
        name: "anaemia",
        prevalence: 0.030,
        min_age: 0,
        age_slope: 0.5,
        deprivation: 0.3,
        efi: Some("anaemia"),
        snomed: &[],
        icd10: &[
            ("D50.9", 0.5),
            ("D64.9", 0.35),
            ("D50.0", 0.1),
            ("D51.0", 0.05),
        ],
        emergency: 0.2,
        mortality: 0.2,
        medicines: &[26],
        acute: &["D50.0", "D64.9"],
        treatment_function: "303",
        source: "GP-recorded anaemia, CPRD studies (about 3%)",
    },
    Condition {
        name: "epilepsy",
        prevalence: 0.008,
        min_age: 0,
        age_slope: 0.0,
        deprivation: 0.5,
        efi: None,
        snomed: &["84757009"],
        icd10: &[("G40.9", 1.0)],
        emergency: 0.5,
        mortality: 0.3,
        medicines: &[27],
        acute: &["G40.9", "R56.8"],
        treatment_function: "400",
        source: QOF,
    },
    Condition {
        name: "heart_valve_disease",
        prevalence: 0.008,
        min_age: 30,
        age_slope: 1.0,
        deprivation: 0.0,
        efi: Some("heart-valve-disease"),
        snomed: &[],
        icd10: &[("I35.0", 0.6), ("I34.0", 0.4)],
        emergency: 0.3,
        mortality: 0.3,
        medicines: &[],
        acute: &["I35.0"],
        treatment_function: "320",
        source: "OxVALVE cohort (about 1% of adults recorded)",
    },
    Condition {
        name: "hiv",
        prevalence: 0.0015,
        min_age: 16,
        age_slope: 0.0,
        deprivation: 0.6,
        efi: None,
        snomed: &["86406008"],
        icd10: &[("B20.9", 0.5), ("B24", 0.5)],
        emergency: 0.3,
        mortality: 0.3,
        medicines: &[],
        acute: &["J18.9"],
        treatment_function: "350",
        source: "UKHSA HIV in the UK 2023 (about 0.15%)",
    },
    Condition {
        name: "pulmonary_hypertension",
        prevalence: 0.001,
        min_age: 30,
        age_slope: 0.8,
        deprivation: 0.2,
        efi: None,
        snomed: &["70995007"],
        icd10: &[("I27.0", 0.5), ("I26.9", 0.5)],
        emergency: 0.5,
        mortality: 0.6,
        medicines: &[],
        acute: &["I26.9"],
        treatment_function: "340",
        source: "NHS Digital pulmonary hypertension audit (about 0.1% recorded)",
    },
    Condition {
        name: "coagulopathy",
        prevalence: 0.002,
        min_age: 0,
        age_slope: 0.3,
        deprivation: 0.0,
        efi: None,
        snomed: &["64779008"],
        icd10: &[("D68.9", 0.7), ("D69.6", 0.3)],
        emergency: 0.3,
        mortality: 0.2,
        medicines: &[],
        acute: &["D68.9"],
        treatment_function: "303",
        source: "Haemophilia and other bleeding disorders, UKHCDO (about 0.2%)",
    },
    Condition {
        name: "multiple_sclerosis",
        prevalence: 0.002,
        min_age: 20,
        age_slope: 0.1,
        deprivation: 0.0,
        efi: None,
        snomed: &["24700007"],
        icd10: &[("G35", 0.9), ("G82.2", 0.1)],
        emergency: 0.4,
        mortality: 0.3,
        medicines: &[],
        acute: &["G35"],
        treatment_function: "400",
        source: "MS Society 2022 (about 0.2%)",
    },
];

/// A frailty deficit coded in primary care from an eFI list and in hospital with ICD-10.
pub struct Deficit {
    /// eFI code list (file stem in `codelists/efi/`).
    pub efi: &'static str,
    /// Prevalence among people aged 65 to 85 with average frailty.
    pub prevalence_older: f64,
    /// ICD-10 code(s) hospitals record it with.
    pub icd10: &'static [&'static str],
}

/// eFI deficits not already coded by a long-term condition; their presence follows the
/// patient's latent frailty.
pub const DEFICITS: &[Deficit] = &[
    Deficit {
        efi: "activity-limitation",
        prevalence_older: 0.08,
        icd10: &["Z73.6"],
    },
    Deficit {
        efi: "care-requirement",
        prevalence_older: 0.05,
        icd10: &["Z74.1", "Z75.1"],
    },
    Deficit {
        efi: "dizziness",
        prevalence_older: 0.12,
        icd10: &["R42"],
    },
    Deficit {
        efi: "dyspnoea",
        prevalence_older: 0.13,
        icd10: &["R06.0"],
    },
    Deficit {
        efi: "falls",
        prevalence_older: 0.12,
        icd10: &["W19", "R29.6", "W18", "W06", "W01", "W10"],
    },
    Deficit {
        efi: "foot-problems",
        prevalence_older: 0.12,
        icd10: &["M79.6"],
    },
    Deficit {
        efi: "fragility-fracture",
        prevalence_older: 0.05,
        icd10: &["S72.0", "S42.2", "S22.3", "S32.0"],
    },
    Deficit {
        efi: "hearing-loss",
        prevalence_older: 0.20,
        icd10: &["H91.9"],
    },
    Deficit {
        efi: "housebound",
        prevalence_older: 0.04,
        icd10: &["Z74.0"],
    },
    Deficit {
        efi: "hypotension",
        prevalence_older: 0.06,
        icd10: &["I95.1", "R55"],
    },
    Deficit {
        efi: "mobility-problems",
        prevalence_older: 0.09,
        icd10: &["R26.8", "Z99.3"],
    },
    Deficit {
        efi: "skin-ulcer",
        prevalence_older: 0.04,
        icd10: &["L89.9", "L97"],
    },
    Deficit {
        efi: "sleep-disturbance",
        prevalence_older: 0.11,
        icd10: &["G47.0"],
    },
    Deficit {
        efi: "social-vulnerability",
        prevalence_older: 0.05,
        icd10: &["Z60.2"],
    },
    Deficit {
        efi: "urinary-incontinence",
        prevalence_older: 0.11,
        icd10: &["R32", "R33"],
    },
    Deficit {
        efi: "urinary-system-disease",
        prevalence_older: 0.13,
        icd10: &["N39.0", "N28.9", "N20.0"],
    },
    Deficit {
        efi: "vision-problems",
        prevalence_older: 0.13,
        icd10: &["H54.7"],
    },
    Deficit {
        efi: "weight-loss",
        prevalence_older: 0.04,
        icd10: &["R63.4", "E44.0"],
    },
];

/// The 109 three-character ICD-10 categories of the Hospital Frailty Risk Score (Gilbert et
/// al. 2018, Lancet 391:1775-82), used as incidental hospital diagnoses of frail patients so
/// every category occurs. The weights are the scoring stage's business, not the generator's.
pub const HFRS_CATEGORIES: [&str; 109] = [
    "A04", "A09", "A41", "B95", "B96", "D64", "E05", "E16", "E53", "E55", "E83", "E86", "E87",
    "F00", "F01", "F03", "F05", "F10", "F32", "G20", "G30", "G31", "G40", "G45", "G81", "H54",
    "H91", "I63", "I67", "I69", "I95", "J18", "J22", "J69", "J96", "K26", "K52", "K59", "K92",
    "L03", "L08", "L89", "L97", "M15", "M19", "M25", "M41", "M48", "M79", "M80", "M81", "N17",
    "N18", "N19", "N20", "N28", "N39", "R00", "R02", "R11", "R13", "R26", "R29", "R31", "R32",
    "R33", "R40", "R41", "R44", "R45", "R47", "R50", "R54", "R55", "R56", "R63", "R69", "R79",
    "R94", "S00", "S01", "S06", "S09", "S22", "S32", "S42", "S51", "S72", "S80", "T83", "U80",
    "W01", "W06", "W10", "W18", "W19", "X59", "Y84", "Y95", "Z22", "Z50", "Z60", "Z73", "Z74",
    "Z75", "Z87", "Z91", "Z93", "Z99",
];

/// Primary diagnoses of emergency admissions not driven by a long-term condition, for adults.
pub const ACUTE_ADULT: &[&str] = &[
    "J18.9", "N39.0", "R07.4", "R10.4", "A41.9", "L03.1", "R55", "K59.0", "A09.9", "E87.1",
    "S06.0", "K80.2", "K35.8", "J22", "R51",
];
/// Primary diagnoses of emergency admissions for children.
pub const ACUTE_CHILD: &[&str] = &["J21.9", "J06.9", "R50.9", "A09.9", "S06.0", "J45.9", "R11"];
/// Primary diagnoses of elective admissions (procedures' indications).
pub const ELECTIVE: &[&str] = &[
    "K80.2", "H25.9", "M17.1", "M16.1", "K40.9", "N40", "Z51.1", "D12.6", "K57.3",
];
/// Maternity admissions.
pub const MATERNITY: &[&str] = &["O80.0", "O82.0", "O70.0", "O47.0"];

/// A medicine: name, a dm+d-shaped id and a BNF presentation code.
pub struct Medicine {
    /// Name and strength.
    pub name: &'static str,
    /// BNF presentation code (chemical substance codes are BNF's; the presentation suffix is
    /// illustrative).
    pub bnf: &'static str,
    /// Quantity issued each time.
    pub quantity: u32,
}

/// Medicines issued on repeat for conditions, and a few acute ones. The dm+d code written to
/// extracts is [`dmd_code`]: synthetic, shaped like a UK drug extension id and starting `99`,
/// so it cannot be mistaken for a real product.
pub const MEDICINES: &[Medicine] = &[
    Medicine {
        name: "Amlodipine 5mg tablets",
        bnf: "0206020A0AAAAAA",
        quantity: 56,
    },
    Medicine {
        name: "Ramipril 5mg capsules",
        bnf: "0205051R0AAAEAE",
        quantity: 56,
    },
    Medicine {
        name: "Indapamide 2.5mg tablets",
        bnf: "0202010P0AAAAAA",
        quantity: 56,
    },
    Medicine {
        name: "Bisoprolol 2.5mg tablets",
        bnf: "0204000H0AAAHAH",
        quantity: 56,
    },
    Medicine {
        name: "Furosemide 40mg tablets",
        bnf: "0202020L0AABDBD",
        quantity: 56,
    },
    Medicine {
        name: "Atorvastatin 20mg tablets",
        bnf: "0212000B0AAABAB",
        quantity: 56,
    },
    Medicine {
        name: "Aspirin 75mg dispersible tablets",
        bnf: "0209000A0AAABAB",
        quantity: 56,
    },
    Medicine {
        name: "Clopidogrel 75mg tablets",
        bnf: "0209000C0AAAAAA",
        quantity: 56,
    },
    Medicine {
        name: "Apixaban 5mg tablets",
        bnf: "0208020Z0AAABAB",
        quantity: 112,
    },
    Medicine {
        name: "Metformin 500mg tablets",
        bnf: "0601022B0AAABAB",
        quantity: 112,
    },
    Medicine {
        name: "Gliclazide 80mg tablets",
        bnf: "0601021M0AAAAAA",
        quantity: 112,
    },
    Medicine {
        name: "Salbutamol 100micrograms/dose inhaler",
        bnf: "0301011R0AAAPAP",
        quantity: 1,
    },
    Medicine {
        name: "Beclometasone 100micrograms/dose inhaler",
        bnf: "0302000C0AAAXAX",
        quantity: 1,
    },
    Medicine {
        name: "Tiotropium 18microgram inhalation powder capsules",
        bnf: "0301020Q0AAAAAA",
        quantity: 30,
    },
    Medicine {
        name: "Levothyroxine 50microgram tablets",
        bnf: "0602010V0AABXBX",
        quantity: 56,
    },
    Medicine {
        name: "Sertraline 50mg tablets",
        bnf: "0403030Q0AAAAAA",
        quantity: 56,
    },
    Medicine {
        name: "Citalopram 20mg tablets",
        bnf: "0403030E0AAAAAA",
        quantity: 56,
    },
    Medicine {
        name: "Alendronic acid 70mg tablets",
        bnf: "0606020A0AAADAD",
        quantity: 8,
    },
    Medicine {
        name: "Calcium carbonate and colecalciferol chewable tablets",
        bnf: "0906040G0AAAAAA",
        quantity: 112,
    },
    Medicine {
        name: "Co-careldopa 25mg/100mg tablets",
        bnf: "0409010N0AAAAAA",
        quantity: 168,
    },
    Medicine {
        name: "Donepezil 10mg tablets",
        bnf: "0411000D0AAABAB",
        quantity: 56,
    },
    Medicine {
        name: "Omeprazole 20mg gastro-resistant capsules",
        bnf: "0103050P0AAAAAA",
        quantity: 56,
    },
    Medicine {
        name: "Paracetamol 500mg tablets",
        bnf: "0407010H0AAAMAM",
        quantity: 200,
    },
    Medicine {
        name: "Co-codamol 30mg/500mg tablets",
        bnf: "0407010F0AAAHAH",
        quantity: 100,
    },
    Medicine {
        name: "Methotrexate 2.5mg tablets",
        bnf: "1001030U0AAABAB",
        quantity: 48,
    },
    Medicine {
        name: "Olanzapine 10mg tablets",
        bnf: "0402010D0AAADAD",
        quantity: 56,
    },
    Medicine {
        name: "Ferrous fumarate 210mg tablets",
        bnf: "0901011F0AAAAAA",
        quantity: 112,
    },
    Medicine {
        name: "Levetiracetam 500mg tablets",
        bnf: "0408010AHAAABAB",
        quantity: 112,
    },
    Medicine {
        name: "Amoxicillin 500mg capsules",
        bnf: "0501013B0AAABAB",
        quantity: 15,
    },
    Medicine {
        name: "Nitrofurantoin 100mg modified-release capsules",
        bnf: "0501130R0AAABAB",
        quantity: 6,
    },
    Medicine {
        name: "Prednisolone 5mg tablets",
        bnf: "0603020T0AAACAC",
        quantity: 30,
    },
    Medicine {
        name: "Thiamine 100mg tablets",
        bnf: "0906011W0AAAAAA",
        quantity: 56,
    },
];

/// Acute (one-off) medicines issued at some GP contacts.
pub const ACUTE_MEDICINES: [usize; 3] = [28, 29, 30];

/// The synthetic dm+d-shaped code of a medicine: an item id, the UK drug extension's namespace
/// (1000001), the partition of an extension concept (10) and a valid Verhoeff check digit.
pub fn dmd_code(index: usize) -> String {
    let body = format!("99{:05}100000110", index + 1);
    let check = phm_contract::snomed::verhoeff_digit(&body).expect("digits");
    format!("{body}{check}")
}

/// SNOMED CT concepts of GP contacts: face to face, telephone, home visit.
pub const CONTACT_CODES: [&str; 3] = ["308335008", "185317003", "439708006"];
/// Systolic and diastolic blood pressure.
pub const BP_CODES: [&str; 2] = ["271649006", "271650006"];
/// Body mass index.
pub const BMI_CODE: &str = "60621009";
/// `HbA1c` level (IFCC).
pub const HBA1C_CODE: &str = "999791000000106";
/// Smoker, ex-smoker, never smoked.
pub const SMOKING_CODES: [&str; 3] = ["77176002", "8517006", "266919005"];

/// ECDS arrival modes: emergency road ambulance, own transport, public transport.
pub const ARRIVAL_AMBULANCE: &str = "1048031000000100";
/// ECDS arrival by own transport.
pub const ARRIVAL_OWN: &str = "1048071000000103";
/// ECDS arrival by public transport.
pub const ARRIVAL_PUBLIC: &str = "1048061000000105";
/// ECDS chief complaints: chest pain, dyspnoea, abdominal pain, fall, headache, fever,
/// syncope, nausea, fracture.
pub const CHIEF_COMPLAINTS: [&str; 9] = [
    "29857009",
    "267036007",
    "21522001",
    "1912002",
    "25064002",
    "386661006",
    "271594007",
    "422587007",
    "125605004",
];
/// ECDS discharge destinations: home, admitted to ward, transferred, died.
pub const DISCHARGE_HOME: &str = "306689006";
/// Admitted to a ward.
pub const DISCHARGE_ADMITTED: &str = "306706006";
/// Transferred to another hospital.
pub const DISCHARGE_TRANSFER: &str = "19712007";

/// Treatment functions for outpatient appointments without a condition behind them.
pub const GENERAL_TREATMENT_FUNCTIONS: [&str; 8] =
    ["100", "101", "110", "120", "130", "330", "502", "300"];

/// Given names (UTF-8; a few with accents, which are valid and must be kept).
pub const GIVEN_NAMES_F: &[&str] = &[
    "Olivia",
    "Amelia",
    "Isla",
    "Ava",
    "Mia",
    "Sophia",
    "Grace",
    "Lily",
    "Freya",
    "Emily",
    "Margaret",
    "Susan",
    "Patricia",
    "Jean",
    "Christine",
    "Sarah",
    "Fatima",
    "Aisha",
    "Priya",
    "Siân",
    "Zoë",
    "Chloé",
    "Niamh",
    "Joan",
    "Helen",
    "Karen",
    "Amira",
    "Maria",
];
/// Given names for males.
pub const GIVEN_NAMES_M: &[&str] = &[
    "Oliver", "George", "Noah", "Arthur", "Harry", "Leo", "Muhammad", "Jack", "Charlie", "Oscar",
    "David", "John", "Michael", "Peter", "Robert", "James", "Mohammed", "Ali", "Arjun", "Seán",
    "José", "Rhys", "Dylan", "Brian", "Kevin", "Stephen", "Tomasz", "Kwame",
];
/// Family names.
pub const FAMILY_NAMES: &[&str] = &[
    "Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Patel",
    "Robinson", "Wright", "Thompson", "Evans", "Walker", "White", "Roberts", "Green", "Hall",
    "Khan", "Hussain", "Ahmed", "O'Brien", "Kowalski", "Nowak", "Singh", "Begum", "Clarke",
    "Jackson", "Wood", "Lewis", "Harris", "Martin", "Cooper", "Hill", "Ward", "Morris", "Okafor",
    "Müller", "Brontë", "Mensah",
];
/// Accented names written in ISO 8859-1 to inject `encoding` defects.
pub const LATIN1_NAMES: &[&[u8]] = &[
    b"Zo\xeb",
    b"Si\xe2n",
    b"Jos\xe9",
    b"M\xfcller",
    b"Bront\xeb",
    b"Se\xe1n",
];
