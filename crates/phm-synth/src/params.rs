//! The population model's parameters, each with where it comes from.
//!
//! Figures are rounded published values for England; the crate README says how each is used.
//! They are targets the generator is calibrated to, and the realism summary printed after
//! every run compares the generated population with them.

/// ONS mid-year population estimates for England (2021 Census based, mid-2022), share of the
/// population in each 5-year age band, 0-4 to 90+ (percent, rounded).
pub const AGE_BAND_SHARE: [f64; 19] = [
    5.4, 5.9, 6.0, 5.7, 6.0, 6.7, 6.9, 6.7, 6.3, 6.2, 6.8, 6.7, 5.9, 5.0, 4.9, 3.7, 2.5, 1.5, 0.9,
];

/// Share of males in each 5-year band (ONS mid-2022): about even to age 60, then women
/// outnumber men, two to one at 90+.
pub const MALE_SHARE: [f64; 19] = [
    0.512, 0.512, 0.512, 0.513, 0.505, 0.497, 0.494, 0.495, 0.497, 0.495, 0.494, 0.493, 0.490,
    0.483, 0.475, 0.462, 0.440, 0.400, 0.330,
];

/// Emergency admissions per person-year, all ages: about 6.3 million emergency finished
/// admission episodes' spells a year (NHS Digital, Hospital Admitted Patient Care Activity
/// 2022-23) over 57 million people.
pub const EMERGENCY_ADMISSIONS_PER_PERSON_YEAR: f64 = 0.11;

/// Emergency admissions per person-year by age band: `(band, first age, last age, rate)`.
///
/// The generator is calibrated to these (`model::EMERGENCY_AGE_CORRECTION`). They are derived,
/// not copied from one table: the NHS Digital table of HES APC emergency admissions by age
/// could not be consulted when they were set, so each is built from what could be, and should
/// be replaced by HES APC 2022-23 emergency admissions by age over ONS mid-2022 population
/// when that table is to hand (the crate README shows the working).
/// - 0-4: infants 0.338 a year (Nath et al. 2022, BMC Health Serv Res 22:936, HES births in
///   England 2013-2019: 337.8 emergency admissions per 1,000 infant-years), ages 1-4 at
///   0.0895 (Saxena et al. 2009, `PLoS ONE` 4:e7484, HES unplanned admissions of children under
///   10 in 2006: 89.5 per 1,000 child-years): (0.338 + 4 x 0.0895) / 5 = 0.14.
/// - 5-19 to 60-74: the age profile of an all-age English population (Pereira Gray et al.
///   2017, BMJ Open 7:e014045, NEW Devon CCG, 765,861 patients, emergency admissions per
///   1,000 in 12 months: 48.8 at 0-19, 46.3 at 20-37, 49.9 at 38-52, 70.8 at 53-66, 211 at
///   67+), times 1.4, the factor that brings that profile over England's age structure to the
///   national 0.11; 5-19 with the 0-4 share taken out of 0-19, 60-74 and the bands above on
///   the exponential rise the same profile shows from 53-66 to 67+ (about 6% a year of age).
/// - 75-84 and 85+: the 67+ figure (211 x 1.4 = 0.295) split over 67-74, 75-84 and 85+ in
///   England's population on that rise.
///
/// Over England's age structure ([`AGE_BAND_SHARE`]) they give 0.111 a person-year, the
/// all-age figure above.
pub const EMERGENCY_ADMISSIONS_BY_AGE: [(&str, i32, i32, f64); 7] = [
    ("0-4", 0, 4, 0.14),
    ("5-19", 5, 19, 0.045),
    ("20-39", 20, 39, 0.065),
    ("40-59", 40, 59, 0.075),
    ("60-74", 60, 74, 0.155),
    ("75-84", 75, 84, 0.33),
    ("85+", 85, 200, 0.56),
];
/// Elective admissions (ordinary and day case) per person-year: about 8.5 million a year
/// (HES APC 2022-23).
pub const ELECTIVE_ADMISSIONS_PER_PERSON_YEAR: f64 = 0.15;
/// Emergency department (type 1) attendances per person-year: about 16 million a year
/// (ECDS 2022-23).
pub const AE_ATTENDANCES_PER_PERSON_YEAR: f64 = 0.29;
/// Ambulance incidents per person-year: about 8.9 million a year (NHS England Ambulance
/// Quality Indicators 2022-23); a little over half conveyed to an emergency department.
pub const AMBULANCE_INCIDENTS_PER_PERSON_YEAR: f64 = 0.16;
/// Outpatient appointments per person-year: about 124 million a year (HES Outpatients
/// 2022-23), about 7% not attended.
pub const OUTPATIENT_APPOINTMENTS_PER_PERSON_YEAR: f64 = 2.2;
/// Deaths per person-year: about 577,000 deaths in England in 2022 (ONS).
pub const DEATHS_PER_PERSON_YEAR: f64 = 0.0101;
/// GP appointments per person-year: about 5 with a GP or practice nurse (NHS Digital,
/// Appointments in General Practice, 2023).
pub const GP_CONTACTS_PER_PERSON_YEAR: f64 = 5.0;

/// eFI categories among people aged 65 and over in the development cohort (Clegg 2016):
/// fit, mild, moderate, severe (percent).
pub const EFI_CATEGORY_SHARE_65_PLUS: [f64; 4] = [50.0, 35.0, 12.0, 3.0];

/// Type 1 opt-outs (dissent from secondary use of GP data): a few percent of registered
/// patients (NHS Digital, Type 1 opt-out figures 2021-2023, about 2-3%).
pub const TYPE1_OPT_OUT_RATE: f64 = 0.025;
/// Share of type 1 dissents later withdrawn.
pub const TYPE1_WITHDRAWAL_SHARE: f64 = 0.12;
/// National data opt-out: about 5.4% of patients (NHS Digital, National Data Opt-out, 2023).
pub const NATIONAL_OPT_OUT_RATE: f64 = 0.054;
/// Local programme (population health management) opt-outs: no national figure; 1%.
pub const PROGRAMME_OPT_OUT_RATE: f64 = 0.01;

/// A synthetic SNOMED-shaped code standing in for an ICB's local programme opt-out code.
/// Real codes differ per ICB and belong in the pipeline definition; this one is written to
/// `synth.json` so the pipeline definition for a synthetic set can name it.
pub const PROGRAMME_OPT_OUT_CODE: &str = "999001000000101";
/// Type 1 dissent (from `shared/reference/opt-out-codes.csv`).
pub const TYPE1_DISSENT_CODE: &str = "827241000000103";
/// Withdrawal of type 1 dissent.
pub const TYPE1_WITHDRAWAL_CODE: &str = "827261000000102";

/// Default share of rows given an injected defect.
pub const DEFAULT_DEFECT_RATE: f64 = 0.002;
