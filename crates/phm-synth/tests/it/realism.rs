//! The population is realistic where it can be checked, and its NHS numbers are valid test
//! numbers by an independent implementation.

use std::io::Write as _;

use crate::check;

/// AUROC by pairwise comparison (no shared code with the generator's rank formula).
fn auroc_pairwise(scores: &[(f64, bool)]) -> f64 {
    let pos: Vec<f64> = scores.iter().filter(|s| s.1).map(|s| s.0).collect();
    let neg: Vec<f64> = scores.iter().filter(|s| !s.1).map(|s| s.0).collect();
    let mut wins = 0.0;
    for p in &pos {
        for n in &neg {
            wins += match p.total_cmp(n) {
                std::cmp::Ordering::Greater => 1.0,
                std::cmp::Ordering::Equal => 0.5,
                std::cmp::Ordering::Less => 0.0,
            };
        }
    }
    wins / (pos.len() * neg.len()) as f64
}

#[test]
fn oracle_auroc_is_like_published_models() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("s");
    let summary = phm_testkit::synth(&out, 12_000, 6, 3, 0.0);
    // Recompute from truth/risk.csv: the year starting on the reference date.
    let risk = std::fs::read_to_string(out.join("truth/risk.csv")).unwrap();
    let year: Vec<Vec<&str>> = risk
        .lines()
        .skip(1)
        .filter(|l| l.contains(",2025-04-01,1,"))
        .map(|l| l.split(',').collect())
        .collect();
    // nhs_number, year_start, at_risk, p_emergency_admission, p_knowable, emergency_admissions
    let scores: Vec<(f64, bool)> = year
        .iter()
        .map(|f| (f[3].parse().unwrap(), f[5] != "0"))
        .collect();
    let knowable: Vec<(f64, bool)> = year
        .iter()
        .map(|f| (f[4].parse().unwrap(), f[5] != "0"))
        .collect();
    let admitted = scores.iter().filter(|s| s.1).count();
    assert!(
        scores.len() > 9_000 && admitted > 300,
        "{} at risk, {admitted} admitted",
        scores.len()
    );
    let auroc = auroc_pairwise(&scores);
    assert!((0.70..=0.85).contains(&auroc), "oracle AUROC {auroc}");
    let printed = summary.oracle_auroc.unwrap();
    assert!(
        (printed - auroc).abs() < 1e-3,
        "printed {printed}, recomputed {auroc}"
    );
    assert!(summary.render().contains("oracle AUROC"));
    // The knowable probability lacks the propensity no record shows: it discriminates less
    // than the truth, still better than chance, and is printed as recomputed.
    let known = auroc_pairwise(&knowable);
    assert!(
        (0.6..auroc).contains(&known),
        "knowable AUROC {known}, oracle {auroc}"
    );
    let printed = summary.knowable_auroc.unwrap();
    assert!(
        (printed - known).abs() < 1e-3,
        "printed {printed}, recomputed {known}"
    );
    assert!(summary.render().contains("knowable AUROC"));
    // Emergency admissions per person-year near England's 0.11.
    let s = &summary.stats;
    let rate = s.emergency as f64 / s.person_years;
    assert!((0.08..0.14).contains(&rate), "{rate}");
    let deaths = s.deaths as f64 / s.person_years;
    assert!((0.006..0.015).contains(&deaths), "{deaths}");
}

/// Emergency admissions per person-year in each age band within 15% of the published rate.
/// The rates scatter a lot between small worlds (an ICB of a few practices is more or less
/// deprived than England, and the oldest bands hold few people whose admissions cluster), so
/// this runs 100,000 patients over 40 practices at the sample's `--years-before 3`: one of the
/// four worlds the correction was fitted on, each band of which is within 10% (about 30 s).
#[test]
fn emergency_admissions_by_age_are_near_englands() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = phm_synth::SynthConfig {
        patients: 100_000,
        practices: 40,
        seed: 7,
        as_of: phm_synth::date::from_ymd(2025, 4, 1),
        years_before: 3,
        defect_rate: 0.0,
        out: tmp.path().join("s"),
        force: false,
        missing_files: 0,
        late_files: 0,
        gzip: false,
    };
    let summary = phm_synth::generate(cfg, &|_| {}).unwrap();
    let s = &summary.stats;
    // The bands cover every person-year and every emergency admission.
    let py: f64 = s.person_years_by_age.iter().sum();
    assert!(
        (py - s.person_years).abs() < 1e-6 * s.person_years,
        "{py} {}",
        s.person_years
    );
    assert_eq!(s.emergency_by_age.iter().sum::<u64>(), s.emergency);
    let mut off = Vec::new();
    for (i, (band, _, _, published)) in phm_synth::params::EMERGENCY_ADMISSIONS_BY_AGE
        .iter()
        .enumerate()
    {
        let rate = s.emergency_by_age[i] as f64 / s.person_years_by_age[i];
        if (rate / published - 1.0).abs() > 0.15 {
            off.push(format!("{band}: {rate:.4} against {published}"));
        }
    }
    assert!(off.is_empty(), "{off:?}");
    assert!(summary.render().contains("emergency admissions by age"));
}

#[test]
fn every_nhs_number_is_a_valid_test_number_by_the_nhs_number_package() {
    let set = crate::sample();
    let reading = check::read(set);
    let defective: std::collections::HashSet<(&str, u64)> = reading
        .found
        .iter()
        .filter(|(_, _, k)| {
            k.starts_with("nhs_number_") && k != "nhs_number_spaced" || k == "missing_required"
        })
        .map(|(f, l, _)| (f.as_str(), *l))
        .collect();
    let mut file = tempfile::NamedTempFile::new().unwrap();
    let mut n = 0;
    for r in &reading.rows {
        let f = &r.fields;
        if defective.contains(&(r.file.as_str(), r.line)) || f[0].is_empty() {
            continue;
        }
        writeln!(file, "{}", f[0]).unwrap();
        n += 1;
    }
    file.flush().unwrap();
    assert!(n > 100_000, "{n}");
    let script = r#"
import sys, nhs_number
from nhs_number import standardise_format
bad = not_test = total = 0
for line in open(sys.argv[1]):
    raw = line.rstrip("\n")
    total += 1
    if not nhs_number.is_valid(raw):
        bad += 1
    elif not standardise_format(raw).startswith("999"):
        not_test += 1
print(f"numbers {total} invalid {bad} outside_test_range {not_test}")
"#;
    let report = phm_testkit::run_oracle(script, &[file.path()]);
    assert!(
        report.contains(&format!("numbers {n} invalid 0 outside_test_range 0")),
        "{report}"
    );
}

/// The check the team's pre-stop hook runs on committed files: no ten-digit number (alone,
/// or written 3-3-4 with spaces or hyphens) that is Modulus 11 valid and outside `999`.
#[test]
#[allow(clippy::many_single_char_names)]
fn no_file_holds_a_valid_nhs_number_outside_the_test_range() {
    fn scan(path: &std::path::Path, hits: &mut Vec<String>) {
        for p in phm_testkit::files_under(path, None) {
            let b = std::fs::read(&p).unwrap();
            let mut i = 0;
            while i < b.len() {
                if !b[i].is_ascii_digit() || (i > 0 && b[i - 1].is_ascii_digit()) {
                    i += 1;
                    continue;
                }
                // Collect up to ten digits allowing one separator after the 3rd and 6th.
                let mut digits = Vec::new();
                let mut j = i;
                while j < b.len() && digits.len() < 10 {
                    if b[j].is_ascii_digit() {
                        digits.push(b[j]);
                    } else if (digits.len() == 3 || digits.len() == 6)
                        && (b[j] == b' ' || b[j] == b'-')
                        && j + 1 < b.len()
                        && b[j + 1].is_ascii_digit()
                    {
                    } else {
                        break;
                    }
                    j += 1;
                }
                let bounded = j >= b.len() || !b[j].is_ascii_digit();
                if digits.len() == 10 && bounded {
                    let s = String::from_utf8(digits).unwrap();
                    if !s.starts_with("999") && phm_contract::nhs::is_valid(&s) {
                        hits.push(format!("{}: {s}", p.display()));
                    }
                }
                i += 1;
            }
        }
    }
    let mut hits = Vec::new();
    scan(crate::sample(), &mut hits);
    scan(&phm_testkit::repo_root().join("data-samples"), &mut hits);
    assert!(hits.is_empty(), "{:?}", &hits[..hits.len().min(5)]);
}
