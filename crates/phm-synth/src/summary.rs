//! Counts gathered while generating, and the realism summary printed after every run.

use std::fmt::Write as _;

use crate::codes::CONDITIONS;
use crate::params;

/// Age groups of the summary.
pub const AGE_GROUPS: [(&str, i32, i32); 6] = [
    ("0-15", 0, 15),
    ("16-44", 16, 44),
    ("45-64", 45, 64),
    ("65-74", 65, 74),
    ("75-84", 75, 84),
    ("85+", 85, 200),
];

/// Share of England's population in each summary age group (ONS mid-2022, from
/// [`params::AGE_BAND_SHARE`]).
pub fn england_age_groups() -> [f64; 6] {
    let b = &params::AGE_BAND_SHARE;
    let sum = |r: std::ops::Range<usize>| b[r].iter().sum::<f64>();
    // 0-15 takes 0-14 and a fifth of 15-19; 16-44 the rest of 15-19 to 40-44.
    let total: f64 = b.iter().sum();
    let g = [
        sum(0..3) + b[3] * 0.2,
        b[3] * 0.8 + sum(4..9),
        sum(9..13),
        sum(13..15),
        sum(15..17),
        sum(17..19),
    ];
    g.map(|x| 100.0 * x / total)
}

/// Counts from generation.
#[derive(Default, Clone, Debug)]
pub struct Stats {
    /// Patients generated (ever registered in the window).
    pub patients: u64,
    /// Registered and alive on the reference date.
    pub registered_at_as_of: u64,
    /// Of those, by [`AGE_GROUPS`].
    pub age_groups: [u64; 6],
    /// Of those, male.
    pub males: u64,
    /// Of those, with each condition (by [`CONDITIONS`] index).
    pub conditions: Vec<u64>,
    /// Person-years registered before the reference date.
    pub person_years: f64,
    /// Emergency admissions before the reference date.
    pub emergency: u64,
    /// Person-years registered before the reference date by band of
    /// [`params::EMERGENCY_ADMISSIONS_BY_AGE`] (age on each day).
    pub person_years_by_age: [f64; 7],
    /// Emergency admissions before the reference date by the same bands (age on admission).
    pub emergency_by_age: [u64; 7],
    /// Elective admissions.
    pub elective: u64,
    /// A&E attendances.
    pub ae: u64,
    /// Ambulance incidents.
    pub ambulance: u64,
    /// Of which conveyed.
    pub conveyed: u64,
    /// Outpatient appointments.
    pub outpatients: u64,
    /// Of which not attended.
    pub dna: u64,
    /// Deaths.
    pub deaths: u64,
    /// GP contacts.
    pub gp_contacts: u64,
    /// Community contacts.
    pub community: u64,
    /// Mental health contacts.
    pub mental_health: u64,
    /// People aged 65+ on the reference date by eFI category.
    pub efi_65: [u64; 4],
}

impl Stats {
    /// Add another chunk's counts.
    pub fn merge(&mut self, o: &Stats) {
        self.patients += o.patients;
        self.registered_at_as_of += o.registered_at_as_of;
        for (a, b) in self.age_groups.iter_mut().zip(o.age_groups) {
            *a += b;
        }
        self.males += o.males;
        if self.conditions.len() < o.conditions.len() {
            self.conditions.resize(o.conditions.len(), 0);
        }
        for (a, b) in self.conditions.iter_mut().zip(&o.conditions) {
            *a += b;
        }
        self.person_years += o.person_years;
        self.emergency += o.emergency;
        for (a, b) in self
            .person_years_by_age
            .iter_mut()
            .zip(o.person_years_by_age)
        {
            *a += b;
        }
        for (a, b) in self.emergency_by_age.iter_mut().zip(o.emergency_by_age) {
            *a += b;
        }
        self.elective += o.elective;
        self.ae += o.ae;
        self.ambulance += o.ambulance;
        self.conveyed += o.conveyed;
        self.outpatients += o.outpatients;
        self.dna += o.dna;
        self.deaths += o.deaths;
        self.gp_contacts += o.gp_contacts;
        self.community += o.community;
        self.mental_health += o.mental_health;
        for (a, b) in self.efi_65.iter_mut().zip(o.efi_65) {
            *a += b;
        }
    }
}

/// Area under the ROC curve of scores against outcomes (ties share ranks), or `None` when
/// one class is empty.
pub fn auroc(pairs: &mut [(f32, bool)]) -> Option<f64> {
    pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
    let positives = pairs.iter().filter(|p| p.1).count() as f64;
    let negatives = pairs.len() as f64 - positives;
    if positives == 0.0 || negatives == 0.0 {
        return None;
    }
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < pairs.len() {
        let mut j = i;
        while j < pairs.len() && pairs[j].0.total_cmp(&pairs[i].0).is_eq() {
            j += 1;
        }
        let avg_rank = (i + j + 1) as f64 / 2.0;
        rank_sum += avg_rank * pairs[i..j].iter().filter(|p| p.1).count() as f64;
        i = j;
    }
    Some((rank_sum - positives * (positives + 1.0) / 2.0) / (positives * negatives))
}

/// What a run wrote and how the population compares with published figures.
#[derive(Debug, Clone)]
pub struct Summary {
    /// Counts.
    pub stats: Stats,
    /// Oracle AUROC for an emergency admission in the year after the reference date.
    pub oracle_auroc: Option<f64>,
    /// AUROC of the knowable probability ([`crate::model::Knowable`]): the truth with the
    /// propensity no record holds inferred from the records it shows in, a bound on any model.
    pub knowable_auroc: Option<f64>,
    /// Mean true probability and observed share for that year.
    pub outcome_year: (f64, f64),
    /// Rows per extract.
    pub rows: Vec<(String, u64)>,
    /// Defects per kind.
    pub defects: Vec<(String, u64)>,
    /// Files written.
    pub files: usize,
    /// Expected files not written (`SynthConfig::missing_files`).
    pub missing_files: usize,
    /// Files dated late in the delivery log (`SynthConfig::late_files`).
    pub late_files: usize,
}

impl Summary {
    /// The realism summary as a text table.
    pub fn render(&self) -> String {
        let s = &self.stats;
        let mut out = String::new();
        let n = s.registered_at_as_of.max(1) as f64;
        let _ = writeln!(
            out,
            "Population on the reference date: {} registered ({} generated)",
            s.registered_at_as_of, s.patients
        );
        let _ = writeln!(
            out,
            "\nAge structure          synthetic   England (ONS mid-2022)"
        );
        let england = england_age_groups();
        for (i, (name, _, _)) in AGE_GROUPS.iter().enumerate() {
            let _ = writeln!(
                out,
                "  {name:<20} {:>8.1}%   {:>8.1}%",
                100.0 * s.age_groups[i] as f64 / n,
                england[i]
            );
        }
        let _ = writeln!(
            out,
            "  {:<20} {:>8.1}%   {:>8.1}%",
            "male",
            100.0 * s.males as f64 / n,
            49.0
        );
        let _ = writeln!(out, "\nCondition prevalence   synthetic   published");
        for (i, c) in CONDITIONS.iter().enumerate() {
            let got = s.conditions.get(i).copied().unwrap_or(0) as f64 / n;
            let _ = writeln!(
                out,
                "  {:<20} {:>8.2}%   {:>8.2}%",
                c.name,
                100.0 * got,
                100.0 * c.prevalence
            );
        }
        let py = s.person_years.max(1e-9);
        let _ = writeln!(
            out,
            "\nPer person-year ({py:.0} person-years before the reference date)   synthetic   published"
        );
        let rates = [
            (
                "emergency admissions",
                s.emergency,
                params::EMERGENCY_ADMISSIONS_PER_PERSON_YEAR,
            ),
            (
                "elective admissions",
                s.elective,
                params::ELECTIVE_ADMISSIONS_PER_PERSON_YEAR,
            ),
            (
                "A&E attendances",
                s.ae,
                params::AE_ATTENDANCES_PER_PERSON_YEAR,
            ),
            (
                "ambulance incidents",
                s.ambulance,
                params::AMBULANCE_INCIDENTS_PER_PERSON_YEAR,
            ),
            (
                "outpatient appointments",
                s.outpatients,
                params::OUTPATIENT_APPOINTMENTS_PER_PERSON_YEAR,
            ),
            (
                "GP contacts",
                s.gp_contacts,
                params::GP_CONTACTS_PER_PERSON_YEAR,
            ),
            ("deaths", s.deaths, params::DEATHS_PER_PERSON_YEAR),
        ];
        for (name, count, published) in rates {
            let _ = writeln!(
                out,
                "  {name:<62} {:>9.4}   {published:>9.4}",
                count as f64 / py
            );
        }
        let _ = writeln!(
            out,
            "  emergency admissions by age     person-years   admissions   synthetic   published"
        );
        for (i, (band, _, _, published)) in params::EMERGENCY_ADMISSIONS_BY_AGE.iter().enumerate() {
            let py = s.person_years_by_age[i];
            let n = s.emergency_by_age[i];
            let _ = writeln!(
                out,
                "    {band:<29} {py:>12.0} {n:>12} {:>11.4} {published:>11.4}",
                n as f64 / py.max(1e-9)
            );
        }
        let _ = writeln!(
            out,
            "  {:<62} {:>8.1}%   {:>8.1}%",
            "ambulance incidents conveyed",
            100.0 * s.conveyed as f64 / s.ambulance.max(1) as f64,
            55.0
        );
        let _ = writeln!(
            out,
            "  {:<62} {:>8.1}%   {:>8.1}%",
            "outpatient appointments not attended",
            100.0 * s.dna as f64 / s.outpatients.max(1) as f64,
            7.0
        );
        let _ = writeln!(
            out,
            "  {:<62} {:>9.4}",
            "community contacts",
            s.community as f64 / py
        );
        let _ = writeln!(
            out,
            "  {:<62} {:>9.4}",
            "mental health contacts",
            s.mental_health as f64 / py
        );
        let older: u64 = s.efi_65.iter().sum();
        let _ = writeln!(out, "\neFI among people 65+    synthetic   Clegg 2016");
        for (i, name) in ["fit", "mild", "moderate", "severe"].iter().enumerate() {
            let _ = writeln!(
                out,
                "  {name:<20} {:>8.1}%   {:>8.1}%",
                100.0 * s.efi_65[i] as f64 / older.max(1) as f64,
                params::EFI_CATEGORY_SHARE_65_PLUS[i]
            );
        }
        let (mean_p, observed) = self.outcome_year;
        let _ = writeln!(
            out,
            "\nEmergency admission in the year after the reference date"
        );
        let _ = writeln!(
            out,
            "  mean true probability {mean_p:.4}, observed {observed:.4}"
        );
        match self.oracle_auroc {
            Some(a) => {
                let _ = writeln!(
                    out,
                    "  oracle AUROC {a:.3} (published emergency admission models: 0.70 to 0.85)"
                );
                if let Some(k) = self.knowable_auroc {
                    let _ = writeln!(
                        out,
                        "  knowable AUROC {k:.3} (the truth with each patient's unrecorded propensity \
                         integrated over what their earlier admissions and visits say)"
                    );
                }
            }
            None => {
                let _ = writeln!(
                    out,
                    "  oracle AUROC not defined (no admissions, or everyone admitted)"
                );
            }
        }
        let _ = writeln!(out, "\nRows written ({} files)", self.files);
        if self.missing_files + self.late_files > 0 {
            let _ = writeln!(
                out,
                "  submissions: {} files missing, {} late (truth/submissions.csv)",
                self.missing_files, self.late_files
            );
        }
        for (name, rows) in &self.rows {
            let _ = writeln!(out, "  {name:<20} {rows:>12}");
        }
        let total: u64 = self.defects.iter().map(|(_, n)| n).sum();
        let _ = writeln!(out, "\nDefects injected: {total}");
        for (kind, count) in &self.defects {
            let _ = writeln!(out, "  {kind:<32} {count:>8}");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auroc_matches_hand_computed_values() {
        let mut perfect = vec![(0.1, false), (0.2, false), (0.8, true), (0.9, true)];
        assert_eq!(auroc(&mut perfect), Some(1.0));
        let mut inverse = vec![(0.9, false), (0.1, true)];
        assert_eq!(auroc(&mut inverse), Some(0.0));
        // All tied: 0.5.
        let mut tied = vec![(0.5, false), (0.5, true), (0.5, false), (0.5, true)];
        assert_eq!(auroc(&mut tied), Some(0.5));
        // Positives at 0.4 and 0.8, negatives at 0.2, 0.6: pairs (0.4>0.2), (0.8>0.2), (0.8>0.6)
        // win, (0.4<0.6) loses: 3/4.
        let mut mixed = vec![(0.2, false), (0.4, true), (0.6, false), (0.8, true)];
        assert_eq!(auroc(&mut mixed), Some(0.75));
        assert_eq!(auroc(&mut [(0.3, true)]), None);
    }

    #[test]
    fn england_groups_sum_to_100() {
        let g = england_age_groups();
        assert!((g.iter().sum::<f64>() - 100.0).abs() < 1e-9);
    }
}
