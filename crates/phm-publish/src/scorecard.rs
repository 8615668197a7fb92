//! The data-quality scorecard per submitting organisation, in the spirit of NHS England's Data
//! Quality Maturity Index (validity, completeness, uniqueness, timeliness) but per local feed
//! and per run: from the ingest manifest's rows and quarantine reasons, the run's rejected
//! files, and the delivery log (`extracts/submissions.csv`) against `[schedule]`.
//!
//! Figures are percentages of the organisation's rows (three decimals), never counts, so the
//! report can show them beside suppressed counts.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use phm_contract::Reason;
use phm_contract::date::{Day, parse_iso};
use phm_run::pipeline::Schedule;
use serde::{Deserialize, Serialize};

use crate::PublishError;
use crate::frame::{Count, Grid, Table};

/// The ingest manifest, as much of it as the scorecard reads.
#[derive(Debug, Clone, Deserialize)]
pub struct IngestManifest {
    /// Every file ingested.
    pub files: Vec<IngestFile>,
    /// Files rejected whole.
    #[serde(default)]
    pub rejected_files: Vec<RejectedFile>,
}

/// One ingested file.
#[derive(Debug, Clone, Deserialize)]
pub struct IngestFile {
    /// `apc/RAJ.csv`.
    pub file: String,
    /// The extract.
    pub extract: String,
    /// The submitting organisation.
    pub submitter: String,
    /// Rows read.
    pub rows_in: u64,
    /// Rows written to the pseudonymised zone.
    pub rows_out: u64,
    /// Rows quarantined, by reason.
    pub quarantined: BTreeMap<String, u64>,
    /// Rows removed by opt-outs, by reason.
    pub opted_out: BTreeMap<String, u64>,
}

/// A file rejected whole.
#[derive(Debug, Clone, Deserialize)]
pub struct RejectedFile {
    /// The file.
    pub file: String,
    /// The extract.
    pub extract: String,
    /// The submitter.
    pub submitter: String,
    /// Why.
    pub problem: String,
}

impl IngestManifest {
    /// Read `ingest-manifest.json`.
    pub fn read(path: &Path) -> Result<Self, PublishError> {
        let text = std::fs::read_to_string(path).map_err(|e| PublishError::Io {
            path: path.to_owned(),
            source: e,
        })?;
        serde_json::from_str(&text).map_err(|e| {
            PublishError::Data(format!(
                "`{}` is not an ingest manifest: {e}",
                path.display()
            ))
        })
    }
}

/// One line of the delivery log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submission {
    /// The extract.
    pub extract: String,
    /// The organisation.
    pub submitter: String,
    /// The date the extract was taken.
    pub extract_date: Day,
}

/// Read `extracts/submissions.csv` (`extract,submitter,file,extract_date`); a missing log is
/// an empty one (no file can then be called late).
pub fn read_submissions(path: &Path) -> Result<Vec<Submission>, PublishError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(PublishError::Io {
                path: path.to_owned(),
                source: e,
            });
        }
    };
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate().skip(1) {
        if line.trim().is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split(',').map(str::trim).collect();
        let bad = || {
            PublishError::Data(format!(
                "`{}` line {}: expected `extract,submitter,file,extract_date` with a YYYY-MM-DD date",
                path.display(),
                i + 1
            ))
        };
        if f.len() != 4 || line.contains('"') {
            return Err(bad());
        }
        out.push(Submission {
            extract: f[0].to_owned(),
            submitter: f[1].to_owned(),
            extract_date: parse_iso(f[3]).ok_or_else(bad)?,
        });
    }
    Ok(out)
}

/// One organisation's scorecard. Counts are published cells of the protected frame (`null`:
/// redacted); percentages are worked out from them (`null` when a count they need is hidden).
#[derive(Debug, Clone, Serialize)]
pub struct OrganisationCard {
    /// ODS code.
    pub organisation: String,
    /// Extracts received (ingested or rejected whole).
    pub received: Vec<String>,
    /// Rows received in its ingested files.
    pub rows: Count,
    /// Rows quarantined, all reasons.
    pub quarantined: Count,
    /// Rows quarantined, by reason.
    pub quarantine_reasons: BTreeMap<String, Count>,
    /// Percent of rows that passed every check.
    pub validity_percent: Option<f64>,
    /// Percent of rows with every required field present.
    pub completeness_percent: Option<f64>,
    /// Percent of rows that repeated an earlier row.
    pub duplicate_percent: Option<f64>,
    /// Percent of rows that belong to another organisation.
    pub wrong_submitter_percent: Option<f64>,
    /// Files rejected whole, by extract.
    pub rejected_files: Vec<String>,
    /// Expected extracts not received.
    pub missing: Vec<String>,
    /// Extracts received with an extract date older than the schedule allows.
    pub late: Vec<LateFile>,
    /// Percent of expected extracts received on time (`null` when nothing was expected).
    pub timeliness_percent: Option<f64>,
    /// The mean of validity, completeness, uniqueness (100 - duplicates), right submitter
    /// (100 - wrong submitter) and timeliness, over those known.
    pub score: Option<f64>,
}

/// A late file.
#[derive(Debug, Clone, Serialize)]
pub struct LateFile {
    /// The extract.
    pub extract: String,
    /// Its extract date.
    pub extract_date: String,
    /// Days before the run's extract date.
    pub days_old: i64,
}

/// Columns of the scorecard grid besides the reasons.
pub const ROWS: &str = "rows";
/// The column of all quarantined rows.
pub const QUARANTINED: &str = "quarantined";

/// Rows and quarantined rows by reason per organisation, true counts, for the frame.
pub fn grid(ingest: &IngestManifest) -> Grid {
    let reasons: BTreeSet<&String> = ingest
        .files
        .iter()
        .flat_map(|f| f.quarantined.keys())
        .collect();
    let mut columns = vec![ROWS.to_owned(), QUARANTINED.to_owned()];
    columns.extend(reasons.into_iter().cloned());
    let mut g = Grid::new("scorecard", &["organisation"], columns);
    let mut orgs: Vec<&str> = ingest.files.iter().map(|f| f.submitter.as_str()).collect();
    orgs.sort_unstable();
    orgs.dedup();
    for org in orgs {
        g.row(&[org]);
    }
    for f in &ingest.files {
        let key = [f.submitter.as_str()];
        g.add(&key, ROWS, f.rows_in).expect("a rows column");
        for (r, n) in &f.quarantined {
            g.add(&key, QUARANTINED, *n).expect("a quarantined column");
            g.add(&key, r, *n).expect("a reason column");
        }
    }
    g
}

fn percent(part: Count, whole: Count) -> Option<f64> {
    let (part, whole) = (part?, whole?);
    if whole == 0 {
        return None;
    }
    Some((part as f64 * 100_000.0 / whole as f64).round() / 1000.0)
}

/// Every organisation that submitted or was expected to, from the protected scorecard grid.
pub fn scorecard(
    ingest: &IngestManifest,
    counts: &Table,
    submissions: &[Submission],
    schedule: &Schedule,
    extract_date: Day,
) -> Vec<OrganisationCard> {
    let mut orgs: BTreeSet<&str> = ingest.files.iter().map(|f| f.submitter.as_str()).collect();
    orgs.extend(ingest.rejected_files.iter().map(|f| f.submitter.as_str()));
    orgs.extend(schedule.expected.values().flatten().map(String::as_str));
    orgs.into_iter()
        .map(|org| organisation(org, ingest, counts, submissions, schedule, extract_date))
        .collect()
}

fn organisation(
    org: &str,
    ingest: &IngestManifest,
    counts: &Table,
    submissions: &[Submission],
    schedule: &Schedule,
    extract_date: Day,
) -> OrganisationCard {
    let rejected: Vec<String> = ingest
        .rejected_files
        .iter()
        .filter(|f| f.submitter == org)
        .map(|f| f.extract.clone())
        .collect();
    let mut received: Vec<String> = ingest
        .files
        .iter()
        .filter(|f| f.submitter == org)
        .map(|f| f.extract.clone())
        .collect();
    received.extend(rejected.iter().cloned());
    received.sort();
    received.dedup();
    // A count of this organisation: published, hidden (None), or 0 when it has no such cell
    // (no rows ingested, or no row quarantined for that reason by anyone).
    let count = |column: &str| -> Count {
        match counts.get(&[org], column) {
            Some(c) => c,
            None => Some(0),
        }
    };
    let rows = count(ROWS);
    let quarantined = count(QUARANTINED);
    let quarantine_reasons: BTreeMap<String, Count> = counts
        .columns
        .iter()
        .skip(2)
        .map(|r| (r.clone(), count(r)))
        .filter(|(_, c)| *c != Some(0))
        .collect();
    let of = |r: Reason| count(r.code());
    let expected: Vec<&String> = schedule
        .expected
        .iter()
        .filter(|(_, orgs)| orgs.iter().any(|o| o == org))
        .map(|(extract, _)| extract)
        .collect();
    let missing: Vec<String> = expected
        .iter()
        .filter(|e| !received.contains(e))
        .map(|e| (*e).clone())
        .collect();
    let late: Vec<LateFile> = submissions
        .iter()
        .filter(|s| s.submitter == org && received.contains(&s.extract))
        .filter_map(|s| {
            let days_old = i64::from(extract_date) - i64::from(s.extract_date);
            (days_old > i64::from(schedule.max_extract_age_days)).then(|| LateFile {
                extract: s.extract.clone(),
                extract_date: phm_contract::date::iso(s.extract_date),
                days_old,
            })
        })
        .collect();
    let timeliness_percent = (!expected.is_empty()).then(|| {
        let on_time = expected
            .iter()
            .filter(|e| {
                received.contains(e) && !late.iter().any(|l| l.extract.as_str() == e.as_str())
            })
            .count() as u64;
        percent(Some(on_time), Some(expected.len() as u64)).unwrap_or(0.0)
    });
    let complement = |p: Option<f64>| p.map(|p| round3(100.0 - p));
    let validity_percent = complement(percent(quarantined, rows));
    let completeness_percent = complement(percent(of(Reason::MissingRequired), rows));
    let duplicate_percent = percent(of(Reason::DuplicateRow), rows);
    let wrong_submitter_percent = percent(of(Reason::WrongSubmitter), rows);
    let parts: Vec<f64> = [
        validity_percent,
        completeness_percent,
        complement(duplicate_percent),
        complement(wrong_submitter_percent),
        timeliness_percent,
    ]
    .into_iter()
    .flatten()
    .collect();
    let score = (!parts.is_empty())
        .then(|| (parts.iter().sum::<f64>() / parts.len() as f64 * 10.0).round() / 10.0);
    OrganisationCard {
        organisation: org.to_owned(),
        received,
        rows,
        quarantined,
        quarantine_reasons,
        validity_percent,
        completeness_percent,
        duplicate_percent,
        wrong_submitter_percent,
        rejected_files: rejected,
        missing,
        late,
        timeliness_percent,
        score,
    }
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::Frame;
    use crate::sdc::Rule;

    fn file(extract: &str, org: &str, rows: u64, q: &[(&str, u64)]) -> IngestFile {
        IngestFile {
            file: format!("{extract}/{org}.csv"),
            extract: extract.to_owned(),
            submitter: org.to_owned(),
            rows_in: rows,
            rows_out: rows - q.iter().map(|(_, n)| n).sum::<u64>(),
            quarantined: q.iter().map(|(r, n)| ((*r).to_owned(), *n)).collect(),
            opted_out: BTreeMap::new(),
        }
    }

    #[test]
    fn figures_come_from_protected_counts_and_the_schedule() {
        let ingest = IngestManifest {
            files: vec![
                file(
                    "apc",
                    "RAJ",
                    1000,
                    &[("missing_required", 10), ("duplicate_row", 5)],
                ),
                file("op", "RAJ", 1000, &[("wrong_submitter", 20)]),
            ],
            rejected_files: vec![],
        };
        let schedule = Schedule {
            expected: [
                ("apc".to_owned(), vec!["RAJ".to_owned()]),
                ("op".to_owned(), vec!["RAJ".to_owned()]),
                ("ecds".to_owned(), vec!["RAJ".to_owned()]),
            ]
            .into(),
            max_extract_age_days: 35,
        };
        let day = |s| parse_iso(s).unwrap();
        let subs = vec![
            Submission {
                extract: "apc".into(),
                submitter: "RAJ".into(),
                extract_date: day("2026-04-01"),
            },
            Submission {
                extract: "op".into(),
                submitter: "RAJ".into(),
                extract_date: day("2026-01-01"),
            },
        ];
        let mut frame = Frame::default();
        let id = frame.add(grid(&ingest));
        let protected = frame.protect(Rule::default()).unwrap();
        let cards = scorecard(
            &ingest,
            protected.table(id),
            &subs,
            &schedule,
            day("2026-04-01"),
        );
        assert_eq!(cards.len(), 1);
        let c = &cards[0];
        assert_eq!(c.rows, Some(2000));
        assert_eq!(c.quarantined, Some(35));
        // 5 duplicates are redacted, so their share is not shown.
        assert_eq!(c.quarantine_reasons["duplicate_row"], None);
        assert_eq!(c.duplicate_percent, None);
        assert_eq!(c.quarantine_reasons["missing_required"], Some(10));
        assert_eq!(c.validity_percent, Some(98.25));
        assert_eq!(c.completeness_percent, Some(99.5));
        assert_eq!(c.wrong_submitter_percent, Some(1.0));
        assert_eq!(c.missing, vec!["ecds".to_owned()]);
        assert_eq!(c.late.len(), 1);
        assert_eq!(c.late[0].extract, "op");
        assert_eq!(c.late[0].days_old, 90);
        // One of three expected extracts on time.
        assert_eq!(c.timeliness_percent, Some(33.333));
        let mean = (98.25 + 99.5 + 99.0 + 33.333) / 4.0;
        assert!(
            (c.score.unwrap() - mean).abs() < 0.06,
            "{:?} vs {mean}",
            c.score
        );
    }
}
