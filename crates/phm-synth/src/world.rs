//! The fixed parts of a synthetic ICB: practices, providers, neighbourhoods (LSOAs with
//! postcodes and deprivation), NHS numbers, code lists, and the calibrated condition model.

use std::collections::HashMap;

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, LogNormal, Normal};

use crate::codes::{CONDITIONS, DEFICITS};
use crate::date::{self, Day};
use crate::params::AGE_BAND_SHARE;
use crate::{SynthConfig, SynthError};

/// A GP practice.
pub struct Practice {
    /// ODS code.
    pub code: String,
    /// Relative list size.
    pub weight: f64,
    /// The LSOAs its patients live in.
    pub lsoas: std::ops::Range<usize>,
    /// Index of the acute trust most of its patients use.
    pub acute: usize,
}

/// A lower-layer super output area.
pub struct Lsoa {
    /// Synthetic LSOA code, `E019xxxxx` (no real LSOA has such a code).
    pub code: String,
    /// Index of Multiple Deprivation decile, 1 most deprived to 10 least.
    pub imd_decile: u8,
    /// Postcode sector, e.g. `LS12 3`.
    pub sector: String,
}

/// Units per LSOA that the postcode lookup lists.
pub const UNITS_PER_LSOA: usize = 30;
const UNIT_LETTERS: &[u8; 20] = b"ABDEFGHJLNPQRSTUWXYZ";
const AREAS: [&str; 5] = ["LS", "BD", "WF", "HX", "HD"];

impl Lsoa {
    /// The postcode of unit `u` (0 to 399; units below [`UNITS_PER_LSOA`] are in the lookup).
    pub fn postcode(&self, index: usize, u: usize) -> String {
        let pair = (u * 13 + index) % 400;
        let a = UNIT_LETTERS[pair / 20] as char;
        let b = UNIT_LETTERS[pair % 20] as char;
        format!("{}{a}{b}", self.sector)
    }
}

/// Acute trusts of the synthetic ICB.
pub const ACUTE_TRUSTS: [&str; 3] = ["RAJ", "RCF", "RXF"];
/// The community provider.
pub const COMMUNITY_PROVIDER: &str = "RY6";
/// The mental health trust.
pub const MENTAL_HEALTH_TRUST: &str = "RGD";
/// The ambulance service.
pub const AMBULANCE_SERVICE: &str = "RX8";
/// NHS England, submitter of the national data opt-out list.
pub const NHS_ENGLAND: &str = "X26";
/// Organisations outside the ICB whose codes appear in `wrong_submitter` defects.
pub const OUTSIDE_PRACTICE: &str = "B82005";
/// An acute trust outside the ICB.
pub const OUTSIDE_ACUTE: &str = "RR8";
/// A community provider outside the ICB.
pub const OUTSIDE_COMMUNITY: &str = "RY8";
/// A mental health trust outside the ICB.
pub const OUTSIDE_MENTAL_HEALTH: &str = "RXG";
/// An ambulance service outside the ICB.
pub const OUTSIDE_AMBULANCE: &str = "RYC";

/// Everything shared by all patients of one run.
pub struct World {
    /// The run's settings.
    pub cfg: SynthConfig,
    /// First day of the simulated history.
    pub window_start: Day,
    /// The reference date.
    pub as_of: Day,
    /// The day the extracts were taken: one year after the reference date. Nothing (but
    /// injected defects) is dated later.
    pub extract_date: Day,
    /// Practices.
    pub practices: Vec<Practice>,
    cumulative_practice: Vec<f64>,
    /// Neighbourhoods.
    pub lsoas: Vec<Lsoa>,
    /// NHS number of each patient, as a ten-digit integer.
    pub nhs_numbers: Vec<u64>,
    /// Calibrated log-odds intercept of each condition.
    pub condition_intercepts: Vec<f64>,
    /// SNOMED CT codes of each eFI deficit list, by file stem.
    pub efi_codes: HashMap<&'static str, Vec<&'static str>>,
    /// Cumulative distribution of age on the reference date for generated patients.
    pub age_cdf: Vec<f64>,
}

/// The eFI code lists, built into the binary.
pub const EFI_LISTS: [(&str, &str); 35] = [
    (
        "activity-limitation",
        include_str!("../../../codelists/efi/activity-limitation.csv"),
    ),
    (
        "anaemia",
        include_str!("../../../codelists/efi/anaemia.csv"),
    ),
    (
        "arthritis",
        include_str!("../../../codelists/efi/arthritis.csv"),
    ),
    (
        "atrial-fibrillation",
        include_str!("../../../codelists/efi/atrial-fibrillation.csv"),
    ),
    (
        "care-requirement",
        include_str!("../../../codelists/efi/care-requirement.csv"),
    ),
    ("chd", include_str!("../../../codelists/efi/chd.csv")),
    ("ckd", include_str!("../../../codelists/efi/ckd.csv")),
    (
        "cognitive-problems",
        include_str!("../../../codelists/efi/cognitive-problems.csv"),
    ),
    (
        "diabetes",
        include_str!("../../../codelists/efi/diabetes.csv"),
    ),
    (
        "dizziness",
        include_str!("../../../codelists/efi/dizziness.csv"),
    ),
    (
        "dyspnoea",
        include_str!("../../../codelists/efi/dyspnoea.csv"),
    ),
    ("falls", include_str!("../../../codelists/efi/falls.csv")),
    (
        "foot-problems",
        include_str!("../../../codelists/efi/foot-problems.csv"),
    ),
    (
        "fragility-fracture",
        include_str!("../../../codelists/efi/fragility-fracture.csv"),
    ),
    (
        "hearing-loss",
        include_str!("../../../codelists/efi/hearing-loss.csv"),
    ),
    (
        "heart-failure",
        include_str!("../../../codelists/efi/heart-failure.csv"),
    ),
    (
        "heart-valve-disease",
        include_str!("../../../codelists/efi/heart-valve-disease.csv"),
    ),
    (
        "housebound",
        include_str!("../../../codelists/efi/housebound.csv"),
    ),
    (
        "hypertension",
        include_str!("../../../codelists/efi/hypertension.csv"),
    ),
    (
        "hypotension",
        include_str!("../../../codelists/efi/hypotension.csv"),
    ),
    (
        "mobility-problems",
        include_str!("../../../codelists/efi/mobility-problems.csv"),
    ),
    (
        "osteoporosis",
        include_str!("../../../codelists/efi/osteoporosis.csv"),
    ),
    (
        "parkinsons",
        include_str!("../../../codelists/efi/parkinsons.csv"),
    ),
    (
        "peptic-ulcer",
        include_str!("../../../codelists/efi/peptic-ulcer.csv"),
    ),
    ("pvd", include_str!("../../../codelists/efi/pvd.csv")),
    (
        "respiratory-disease",
        include_str!("../../../codelists/efi/respiratory-disease.csv"),
    ),
    (
        "skin-ulcer",
        include_str!("../../../codelists/efi/skin-ulcer.csv"),
    ),
    (
        "sleep-disturbance",
        include_str!("../../../codelists/efi/sleep-disturbance.csv"),
    ),
    (
        "social-vulnerability",
        include_str!("../../../codelists/efi/social-vulnerability.csv"),
    ),
    (
        "stroke-tia",
        include_str!("../../../codelists/efi/stroke-tia.csv"),
    ),
    (
        "thyroid-disorders",
        include_str!("../../../codelists/efi/thyroid-disorders.csv"),
    ),
    (
        "urinary-incontinence",
        include_str!("../../../codelists/efi/urinary-incontinence.csv"),
    ),
    (
        "urinary-system-disease",
        include_str!("../../../codelists/efi/urinary-system-disease.csv"),
    ),
    (
        "vision-problems",
        include_str!("../../../codelists/efi/vision-problems.csv"),
    ),
    (
        "weight-loss",
        include_str!("../../../codelists/efi/weight-loss.csv"),
    ),
];

/// The codes of one eFI list (first column, header skipped).
pub fn parse_code_list(text: &'static str) -> Vec<&'static str> {
    text.lines()
        .skip(1)
        .filter_map(|l| l.split(',').next())
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect()
}

/// Largest population the 999 test range can number: 999 000 000 to 999 999 999 as nine-digit
/// prefixes, less those whose Modulus 11 check digit would be 10.
pub fn test_range_capacity() -> usize {
    (999_000_000u32..=999_999_999)
        .filter(|&p| phm_contract::nhs::check_digit_of_prefix(p).is_some())
        .count()
}

/// First three digits of the lowest prefix the generator numbers patients from when the 999
/// test range runs out (prefixes 998 down to this one, in that order).
pub const NEVER_ISSUED_FIRST: u32 = 989;

/// Largest population the generator can number: the test range and then prefixes 998 down to
/// [`NEVER_ISSUED_FIRST`].
pub fn capacity() -> usize {
    (NEVER_ISSUED_FIRST..=999)
        .map(|p| valid_numbers_with_prefix(p).len())
        .sum()
}

fn valid_numbers_with_prefix(first3: u32) -> Vec<u64> {
    let lo = first3 * 1_000_000;
    (lo..lo + 1_000_000)
        .filter_map(|p| {
            phm_contract::nhs::check_digit_of_prefix(p).map(|c| u64::from(p) * 10 + u64::from(c))
        })
        .collect()
}

impl World {
    /// Build the world for a configuration.
    pub fn new(cfg: SynthConfig) -> Result<Self, SynthError> {
        if cfg.patients == 0 {
            return Err(SynthError::Config("`--patients` must be at least 1".into()));
        }
        if cfg.practices == 0 || cfg.practices > 8999 {
            return Err(SynthError::Config(
                "`--practices` must be between 1 and 8999".into(),
            ));
        }
        if !(0.0..=0.2).contains(&cfg.defect_rate) {
            return Err(SynthError::Config(
                "`--defect-rate` must be between 0 and 0.2".into(),
            ));
        }
        if !(3..=10).contains(&cfg.years_before) {
            return Err(SynthError::Config(
                "`--years-before` must be between 3 and 10".into(),
            ));
        }
        let eligible = crate::submissions::eligible_files(cfg.practices);
        if cfg.missing_files.saturating_add(cfg.late_files) > eligible {
            return Err(SynthError::Config(format!(
                "`--missing-files` and `--late-files` together must be at most {eligible}, the \
                 files other than GP registrations and the national opt-out list"
            )));
        }
        let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
        rng.set_stream(u64::MAX);
        let as_of = cfg.as_of;
        let window_start = date::add_years(as_of, -(cfg.years_before as i32));
        let extract_date = date::add_years(as_of, 1);

        let nhs_numbers = Self::allocate_nhs_numbers(cfg.patients, &mut rng)?;
        let (practices, lsoas) = Self::geography(&cfg, &mut rng);
        let mut acc = 0.0;
        let cumulative_practice = practices
            .iter()
            .map(|p| {
                acc += p.weight;
                acc
            })
            .collect();
        let efi_codes = EFI_LISTS
            .iter()
            .map(|(k, t)| (*k, parse_code_list(t)))
            .collect();
        Ok(World {
            window_start,
            as_of,
            extract_date,
            practices,
            cumulative_practice,
            lsoas,
            nhs_numbers,
            condition_intercepts: calibrate_conditions(),
            efi_codes,
            age_cdf: generated_age_cdf(cfg.years_before),
            cfg,
        })
    }

    fn allocate_nhs_numbers(n: usize, rng: &mut ChaCha8Rng) -> Result<Vec<u64>, SynthError> {
        let mut pool = valid_numbers_with_prefix(999);
        pool.shuffle(rng);
        // Beyond the test range: 989 to 998 are also in the block never issued to patients
        // (900 000 0000 to 999 999 9999), so the numbers still belong to nobody. Each prefix
        // holds about 909,000 valid numbers; eleven prefixes number a little over 10 million.
        for prefix in (NEVER_ISSUED_FIRST..999).rev() {
            if n <= pool.len() {
                break;
            }
            let mut more = valid_numbers_with_prefix(prefix);
            more.shuffle(rng);
            pool.extend(more);
        }
        if n > pool.len() {
            return Err(SynthError::Config(format!(
                "`--patients {n}` is more than the {} synthetic NHS numbers available",
                pool.len()
            )));
        }
        pool.truncate(n);
        Ok(pool)
    }

    fn geography(cfg: &SynthConfig, rng: &mut ChaCha8Rng) -> (Vec<Practice>, Vec<Lsoa>) {
        let per_practice = (cfg.patients / 1200 / cfg.practices).clamp(2, 40);
        let size = LogNormal::new(0.0, 0.4).expect("valid");
        let spread = Normal::new(0.0, 1.6).expect("valid");
        let mut lsoas = Vec::new();
        let mut practices = Vec::new();
        for i in 0..cfg.practices {
            let centre: f64 = rng.random_range(1.0..10.99);
            let start = lsoas.len();
            for _ in 0..per_practice {
                let j = lsoas.len();
                let decile = (centre + spread.sample(rng)).round().clamp(1.0, 10.0) as u8;
                let district = 1 + (j / 5) % 30;
                let sector = (j / 150) % 10;
                lsoas.push(Lsoa {
                    code: format!("E019{:05}", j % 100_000),
                    imd_decile: decile,
                    sector: format!("{}{district} {sector}", AREAS[j % 5]),
                });
            }
            practices.push(Practice {
                code: format!("A8{:04}", 1001 + i),
                weight: size.sample(rng),
                lsoas: start..lsoas.len(),
                acute: i % ACUTE_TRUSTS.len(),
            });
        }
        (practices, lsoas)
    }

    /// A practice chosen in proportion to list size.
    pub fn pick_practice(&self, rng: &mut ChaCha8Rng) -> usize {
        let total = *self
            .cumulative_practice
            .last()
            .expect("at least one practice");
        let x = rng.random::<f64>() * total;
        self.cumulative_practice
            .partition_point(|&c| c <= x)
            .min(self.practices.len() - 1)
    }
}

/// The share of each single year of age 0 to 104, from the 5-year bands (90+ spread over
/// 90 to 104 with a geometric tail).
pub fn age_weights() -> Vec<f64> {
    let mut w = Vec::with_capacity(105);
    for (band, share) in AGE_BAND_SHARE.iter().enumerate().take(18) {
        let _ = band;
        w.extend(std::iter::repeat_n(share / 5.0, 5));
    }
    let tail: Vec<f64> = (0..15).map(|k| 0.78f64.powi(k)).collect();
    let sum: f64 = tail.iter().sum();
    w.extend(tail.iter().map(|t| AGE_BAND_SHARE[18] * t / sum));
    let total: f64 = w.iter().sum();
    w.iter().map(|x| x / total).collect()
}

/// The age distribution to generate so that the patients still registered on the reference
/// date have England's: each age is weighted up by the chance of dying or moving away during
/// the years before the reference date.
fn generated_age_cdf(years_before: u32) -> Vec<f64> {
    let yb = f64::from(years_before);
    let mut acc = 0.0;
    let weights: Vec<f64> = age_weights()
        .iter()
        .enumerate()
        .map(|(a, w)| {
            let mid = (a as f64 - yb / 2.0).max(0.0) as i32;
            let stay = (1.0 - crate::model::leave_rate(mid)).powf(yb.min(a as f64));
            let survive = (-crate::model::mortality(mid) * yb.min(a as f64)).exp();
            w / (stay * survive)
        })
        .collect();
    let total: f64 = weights.iter().sum();
    weights
        .iter()
        .map(|w| {
            acc += w / total;
            acc
        })
        .collect()
}

/// The log-odds of condition `c` before its intercept.
pub fn condition_logit(c: usize, age: f64, deprivation: f64, morbidity: f64) -> f64 {
    let spec = &CONDITIONS[c];
    spec.age_slope * (age - 50.0) / 10.0 + spec.deprivation * (deprivation - 0.5) + 0.9 * morbidity
}

/// Solve each condition's intercept so that its prevalence over England's age structure,
/// deprivation spread evenly and the shared morbidity factor, equals the published figure.
fn calibrate_conditions() -> Vec<f64> {
    let ages = age_weights();
    // Gauss-Hermite nodes and weights for a standard normal (5 points).
    let nodes = [-2.856_970, -1.355_626, 0.0, 1.355_626, 2.856_970];
    let weights = [0.011_257, 0.222_076, 0.533_333, 0.222_076, 0.011_257];
    (0..CONDITIONS.len())
        .map(|c| {
            let spec = &CONDITIONS[c];
            // Prevalence is counted among people registered on the reference date. Aim above
            // the target for what is lost by then: onsets in the year after it (about 5%),
            // and people with the condition who died or moved away before it (more for
            // conditions that shorten life).
            let target = spec.prevalence * (1.10 + 0.5 * spec.mortality);
            let prevalence = |b0: f64| -> f64 {
                let mut p = 0.0;
                for (age, wa) in ages.iter().enumerate() {
                    if (age as i32) < spec.min_age {
                        continue;
                    }
                    for dep in [0.1, 0.3, 0.5, 0.7, 0.9] {
                        for (z, wz) in nodes.iter().zip(weights) {
                            let l = b0 + condition_logit(c, age as f64, dep, *z);
                            p += wa * 0.2 * wz * sigmoid(l);
                        }
                    }
                }
                p
            };
            let (mut lo, mut hi) = (-20.0, 10.0);
            for _ in 0..60 {
                let mid = f64::midpoint(lo, hi);
                if prevalence(mid) < target {
                    lo = mid;
                } else {
                    hi = mid;
                }
            }
            f64::midpoint(lo, hi)
        })
        .collect()
}

/// The logistic function.
pub fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// The deficits' base log-odds (at average frailty).
pub fn deficit_intercepts() -> Vec<f64> {
    DEFICITS
        .iter()
        .map(|d| (d.prevalence_older / (1.0 - d.prevalence_older)).ln())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_range_holds_about_909_thousand_numbers() {
        let n = test_range_capacity();
        assert!((900_000..920_000).contains(&n), "{n}");
        let sample = valid_numbers_with_prefix(999);
        assert_eq!(sample.len(), n);
        for x in sample.iter().step_by(9973) {
            assert!(phm_contract::nhs::is_valid(&x.to_string()));
        }
    }

    #[test]
    fn never_issued_prefixes_number_ten_million() {
        assert!(capacity() >= 10_000_000, "{}", capacity());
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        // Past the test range the pool takes 998 first, and every number is still valid.
        let n = test_range_capacity() + 10;
        let numbers = World::allocate_nhs_numbers(n, &mut rng).unwrap();
        assert_eq!(numbers.len(), n);
        let beyond: Vec<u64> = numbers
            .iter()
            .copied()
            .filter(|x| *x < 9_990_000_000)
            .collect();
        assert_eq!(beyond.len(), 10);
        assert!(beyond.iter().all(|x| *x / 10_000_000 == 998));
        assert!(
            beyond
                .iter()
                .all(|x| phm_contract::nhs::is_valid(&x.to_string()))
        );
    }

    #[test]
    fn calibration_hits_each_target() {
        let b = calibrate_conditions();
        let ages = age_weights();
        assert!((ages.iter().sum::<f64>() - 1.0).abs() < 1e-9);
        assert_eq!(b.len(), CONDITIONS.len());
        assert!(
            b.iter().all(|x| x.is_finite() && *x > -19.9 && *x < 9.9),
            "{b:?}"
        );
    }

    #[test]
    fn every_efi_list_is_used_once() {
        let mut used: Vec<&str> = CONDITIONS.iter().filter_map(|c| c.efi).collect();
        used.extend(DEFICITS.iter().map(|d| d.efi));
        used.sort_unstable();
        used.dedup();
        let mut all: Vec<&str> = EFI_LISTS.iter().map(|(k, _)| *k).collect();
        all.sort_unstable();
        assert_eq!(used, all);
        for (k, t) in EFI_LISTS {
            assert!(!parse_code_list(t).is_empty(), "{k}");
        }
    }

    #[test]
    fn postcodes_are_distinct_within_an_lsoa() {
        let l = Lsoa {
            code: "E01900000".into(),
            imd_decile: 5,
            sector: "LS1 2".into(),
        };
        let mut all: Vec<String> = (0..60).map(|u| l.postcode(7, u)).collect();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), 60);
    }
}
