//! Why a patient was flagged: the largest positive contributions (coefficient × value) to the
//! patient's risk, in plain English, each quoting the patient's own value.

use serde::Serialize;

use crate::features::{COUNTS, Feature, Source};

/// Reasons given per patient, at most.
pub const MAX_REASONS: usize = 3;

/// One reason.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reason {
    /// The feature (`emergency_admissions_12m`).
    pub feature: String,
    /// The patient's own value (the count, the score; 1 for a condition).
    pub value: f64,
    /// What it says (`2 emergency admissions in the last 12 months`).
    pub text: String,
    /// Its contribution to the log-odds of the patient's risk.
    pub contribution: f64,
}

/// Up to [`MAX_REASONS`] reasons from a row's stored values: `(column, value as the model takes
/// it, value as quoted)`, with the model's coefficients on the original scale. Only positive
/// contributions count; the largest first (ties by catalogue order); features of one clinical
/// concept ([`crate::features::CONCEPTS`], such as heart failure coded in admitted care and in
/// the GP record) or that would say the same words give one reason.
pub fn reasons(
    catalogue: &[Feature],
    coefficients: &[f64],
    row: impl Iterator<Item = (u32, f64, f64)>,
) -> Vec<Reason> {
    let mut candidates: Vec<(f64, usize, f64)> = row
        .map(|(j, x, quoted)| (coefficients[j as usize] * x, j as usize, quoted))
        .filter(|(c, _, _)| *c > 0.0)
        .collect();
    candidates.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    let mut out: Vec<Reason> = Vec::with_capacity(MAX_REASONS);
    for (contribution, j, quoted) in candidates {
        let feature = &catalogue[j];
        let text = say(feature, quoted);
        let group = crate::features::concept(&feature.name);
        if out.iter().any(|r| {
            r.text.eq_ignore_ascii_case(&text) || crate::features::concept(&r.feature) == group
        }) {
            continue;
        }
        out.push(Reason {
            feature: feature.name.clone(),
            value: quoted,
            text,
            contribution,
        });
        if out.len() == MAX_REASONS {
            break;
        }
    }
    out
}

/// A feature with the patient's value, in words.
pub fn say(feature: &Feature, value: f64) -> String {
    match &feature.source {
        Source::Count { column } => {
            let (_, one, many) = COUNTS
                .iter()
                .find(|(c, _, _)| c == column)
                .copied()
                .unwrap_or((column, column, column));
            let n = value.round() as i64;
            format!("{n} {}", if n == 1 { one } else { many })
        }
        Source::RecentEmergency { .. } => {
            let m = value.round() as i64;
            match m {
                0 => "an emergency admission in the last month".to_owned(),
                1 => "an emergency admission 1 month ago".to_owned(),
                _ => format!("an emergency admission {m} months ago"),
            }
        }
        Source::Score { column } => match *column {
            "efi" => {
                let deficits = (value * f64::from(phm_score::scores::EFI_DEFICITS)).round() as u32;
                match phm_score::scores::efi_category(deficits) {
                    "fit" => format!("eFI {value:.2}"),
                    category => format!("{category} frailty (eFI {value:.2})"),
                }
            }
            "hfrs" => format!("Hospital Frailty Risk Score {value:.1}"),
            "charlson_quan_2011" => format!("Charlson index {value}"),
            _ => format!("{} {value}", feature.label),
        },
        _ => feature.label.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::catalogue;

    fn index(c: &[Feature], name: &str) -> u32 {
        c.iter().position(|f| f.name == name).unwrap() as u32
    }

    #[test]
    fn the_largest_positive_contributions_quote_the_patients_values() {
        let c = catalogue();
        let mut beta = vec![0.0; c.len()];
        let em = index(&c, "emergency_admissions_12m");
        let efi = index(&c, "efi");
        let chf = index(&c, "charlson_chf");
        let male = index(&c, "sex_male");
        let gp = index(&c, "gp_contacts_12m");
        beta[em as usize] = 0.8;
        beta[efi as usize] = 2.0;
        beta[chf as usize] = 0.5;
        beta[male as usize] = 0.1;
        beta[gp as usize] = -0.3;
        let row = [
            (em, 2f64.ln_1p(), 2.0),
            (efi, 14.0 / 36.0, 14.0 / 36.0),
            (chf, 1.0, 1.0),
            (male, 1.0, 1.0),
            (gp, 9f64.ln_1p(), 9.0),
        ];
        let r = reasons(&c, &beta, row.into_iter());
        let texts: Vec<&str> = r.iter().map(|r| r.text.as_str()).collect();
        assert_eq!(
            texts,
            [
                "2 emergency admissions in the last 12 months",
                "severe frailty (eFI 0.39)",
                "congestive heart failure"
            ]
        );
        assert!((r[0].value - 2.0).abs() < f64::EPSILON);
        assert!(r.iter().all(|r| r.contribution > 0.0));
    }

    #[test]
    fn one_concept_coded_in_several_lists_gives_one_reason() {
        let c = catalogue();
        let mut beta = vec![0.0; c.len()];
        let names = [
            "charlson_chf",
            "elixhauser_chf",
            "efi_heart_failure",
            "efi_falls",
        ];
        let row: Vec<(u32, f64, f64)> = names
            .iter()
            .enumerate()
            .map(|(k, n)| {
                let j = index(&c, n);
                beta[j as usize] = 1.0 - 0.1 * k as f64;
                (j, 1.0, 1.0)
            })
            .collect();
        let r = reasons(&c, &beta, row.into_iter());
        let features: Vec<&str> = r.iter().map(|r| r.feature.as_str()).collect();
        assert_eq!(features, ["charlson_chf", "efi_falls"]);
    }

    #[test]
    fn no_positive_contribution_no_reason() {
        let c = catalogue();
        let beta = vec![-1.0; c.len()];
        assert!(reasons(&c, &beta, [(0, 1.0, 1.0)].into_iter()).is_empty());
    }
}
