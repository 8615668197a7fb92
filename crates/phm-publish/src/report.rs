//! The run report: `report.json` holds every number, `report.html` shows them (one
//! self-contained page: inline styles and SVG, no script, no network, a Content-Security-Policy
//! of `default-src 'none'`). Counts come only from the protected frame; rates and percentages
//! are never counts.

use askama::Template;
use serde::Serialize;
use std::collections::BTreeMap;

use serde_json::Value;

use crate::frame::{Count, Table};
use crate::kanon::KAnonymity;
use crate::scorecard::OrganisationCard;
use crate::svg;

/// The run.
#[derive(Debug, Clone, Serialize)]
pub struct RunInfo {
    /// Run id.
    pub run_id: String,
    /// Reference date.
    pub reference_date: String,
    /// Extract date.
    pub extract_date: String,
    /// phm's version.
    pub phm_version: String,
}

/// The rule and how much it hid.
#[derive(Debug, Clone, Serialize)]
pub struct Disclosure {
    /// Counts of 1 to this are redacted.
    pub threshold: u64,
    /// Counts are rounded to a multiple of this.
    pub rounding_base: u64,
    /// The rule in words.
    pub statement: String,
    /// Cells published across the report and the aggregates.
    pub cell_count: usize,
    /// Of which hidden.
    pub hidden_cells: usize,
}

/// The risk model as the card reports it (rates, not counts; the subgroup counts protected).
#[derive(Debug, Clone, Serialize)]
pub struct ModelSection {
    /// Model id.
    pub model_id: String,
    /// Fitted here or approved.
    pub provenance: String,
    /// What the test was.
    pub test: String,
    /// AUROC with its 95% interval.
    pub auroc: [f64; 3],
    /// Observed / expected.
    pub observed_expected: f64,
    /// Calibration slope.
    pub calibration_slope: f64,
    /// ROC curve, `[FPR, TPR]`.
    pub roc: Vec<[f64; 2]>,
    /// Calibration by decile, `[mean predicted, observed rate]`.
    pub calibration: Vec<[f64; 2]>,
    /// The calibration chart's axes run from 0 to this.
    pub calibration_axis_max: f64,
    /// Subgroups: patients and events protected.
    pub subgroups: Table,
    /// AUROC, observed/expected and calibration slope per subgroup, in the table's row order;
    /// `null` where the subgroup's patients or events are redacted.
    pub subgroup_measures: Vec<[Option<f64>; 3]>,
}

/// One published table's k-anonymity in brief (details: `publish/k_anonymity.json`).
#[derive(Debug, Clone, Serialize)]
pub struct KSummary {
    /// Table.
    pub table: String,
    /// Its quasi-identifiers.
    pub quasi_identifiers: Vec<String>,
    /// Every class has at least k rows.
    pub meets_k: bool,
}

/// A file rejected whole (why, with its row counts, is in the run's manifest).
#[derive(Debug, Clone, Serialize)]
pub struct Rejected {
    /// The file.
    pub file: String,
}

/// `report.json`.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The run.
    pub run: RunInfo,
    /// Disclosure control.
    pub disclosure_control: Disclosure,
    /// Patients by age band and sex.
    pub population: Table,
    /// Patients by practice and tier.
    pub practice_tier: Table,
    /// Patients by practice and segment.
    pub practice_segment: Table,
    /// Patients by PCN and segment.
    pub pcn_segment: Table,
    /// Patients by age band, sex and tier.
    pub age_sex_tier: Table,
    /// Score distributions.
    pub scores: Vec<Table>,
    /// The model card's back-test.
    pub model: Option<ModelSection>,
    /// Rows per extract: in, out, quarantined, opted out.
    pub extracts: Table,
    /// Quarantined rows by reason per extract.
    pub quarantine_reasons: Table,
    /// Opted-out rows by reason per extract.
    pub opt_outs: Table,
    /// Files rejected whole.
    pub rejected_files: Vec<Rejected>,
    /// Practices with a bundle this run.
    pub bundles: Vec<String>,
    /// Practices without a recipient key (no bundle).
    pub practices_without_recipient: Vec<String>,
    /// Data quality per submitting organisation.
    pub scorecard: Vec<OrganisationCard>,
    /// k-anonymity of the published tables (k and details in `publish/k_anonymity.json`).
    pub k: u64,
    /// Per table.
    pub k_anonymity: Vec<KSummary>,
}

impl Report {
    /// The k-anonymity summary of a full report.
    pub fn k_summary(k: &KAnonymity) -> Vec<KSummary> {
        k.tables
            .iter()
            .map(|t| KSummary {
                table: t.table.clone(),
                quasi_identifiers: t.quasi_identifiers.clone(),
                meets_k: t.meets_k,
            })
            .collect()
    }

    /// `report.json`'s text.
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).expect("the report serialises");
        s.push('\n');
        s
    }

    /// `report.html`'s text.
    pub fn to_html(&self) -> Result<String, askama::Error> {
        Page::of(self).render()
    }
}

/// The model section from `risk/model_card.json` (`None` when it has no test).
pub fn model_section(card: &Value, subgroups: Table) -> Option<ModelSection> {
    let test = card.get("test")?.as_object()?;
    let e = test.get("evaluation")?;
    let f = |v: &Value, path: &[&str]| -> f64 {
        path.iter()
            .try_fold(v, |v, k| v.get(k))
            .and_then(Value::as_f64)
            .unwrap_or(f64::NAN)
    };
    let pairs = |v: Option<&Value>| -> Vec<[f64; 2]> {
        v.and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|p| {
                        Some([round3(p.get(0)?.as_f64()?), round3(p.get(1)?.as_f64()?)])
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let calibration = e
        .get("deciles")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|d| {
                    [
                        round3(f(d, &["mean_predicted"])),
                        round3(f(d, &["observed_rate"])),
                    ]
                })
                .collect()
        })
        .unwrap_or_default();
    let mut measures: BTreeMap<(String, String), [Option<f64>; 3]> = BTreeMap::new();
    for s in test
        .get("subgroups")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
    {
        let o = |path: &[&str]| Some(round3(f(s, path))).filter(|x| x.is_finite());
        let text = |k: &str| s.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
        measures.insert(
            (text("by"), text("group")),
            [
                o(&["auroc", "auc"]),
                o(&["observed_expected"]),
                o(&["calibration_slope"]),
            ],
        );
    }
    // Rates of a subgroup whose counts are hidden would give the counts back.
    let subgroup_measures = subgroups
        .rows
        .iter()
        .map(|row| {
            if row.cells.iter().any(Option::is_none) {
                return [None; 3];
            }
            measures
                .get(&(row.key[0].clone(), row.key[1].clone()))
                .copied()
                .unwrap_or([None; 3])
        })
        .collect();
    let calibration: Vec<[f64; 2]> = calibration;
    let calibration_axis_max = round3(
        calibration
            .iter()
            .flatten()
            .copied()
            .filter(|x| x.is_finite())
            .fold(0.0_f64, f64::max)
            .max(0.01),
    );
    Some(ModelSection {
        model_id: card.get("model_id")?.as_str()?.to_owned(),
        provenance: card
            .get("provenance")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        test: format!(
            "{}: fitted as of {}, tested as of {}",
            test.get("kind").and_then(Value::as_str).unwrap_or("test"),
            test.get("fitted_as_of")
                .and_then(Value::as_str)
                .unwrap_or("?"),
            test.get("tested_as_of")
                .and_then(Value::as_str)
                .unwrap_or("?"),
        ),
        auroc: [
            round3(f(e, &["auroc", "auc"])),
            round3(f(e, &["auroc", "lo95"])),
            round3(f(e, &["auroc", "hi95"])),
        ],
        observed_expected: round3(f(e, &["calibration", "observed_expected"])),
        calibration_slope: round3(f(e, &["calibration", "slope"])),
        roc: pairs(e.get("roc")),
        calibration,
        calibration_axis_max,
        subgroups,
        subgroup_measures,
    })
}

/// Rates and measures to three decimals: enough to read, too coarse to give counts back.
fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// A table as the page shows it: text cells, hidden ones marked.
pub struct HtmlTable {
    /// Caption.
    pub caption: String,
    /// Header.
    pub header: Vec<String>,
    /// Rows of text.
    pub rows: Vec<Vec<String>>,
}

fn cell(c: Count) -> String {
    c.map_or_else(|| "[REDACTED]".to_owned(), |n| n.to_string())
}

impl HtmlTable {
    fn of(caption: &str, t: &Table) -> Self {
        let header = t
            .keys
            .iter()
            .chain(&t.columns)
            .cloned()
            .chain(std::iter::once("total".to_owned()))
            .collect();
        let mut rows: Vec<Vec<String>> = t
            .rows
            .iter()
            .map(|r| {
                r.key
                    .iter()
                    .cloned()
                    .chain(r.cells.iter().map(|c| cell(*c)))
                    .chain(std::iter::once(r.total.to_string()))
                    .collect()
            })
            .collect();
        rows.push(
            t.keys
                .iter()
                .map(|_| "total".to_owned())
                .chain(t.column_totals.iter().map(u64::to_string))
                .chain(std::iter::once(t.total.to_string()))
                .collect(),
        );
        HtmlTable {
            caption: caption.to_owned(),
            header,
            rows,
        }
    }

    fn plain(caption: &str, header: &[&str], rows: Vec<Vec<String>>) -> Self {
        HtmlTable {
            caption: caption.to_owned(),
            header: header.iter().map(|h| (*h).to_owned()).collect(),
            rows,
        }
    }
}

/// A chart and its caption.
pub struct Chart {
    /// Caption.
    pub caption: String,
    /// Inline SVG, built by [`crate::svg`] with every label escaped.
    pub svg: String,
}

#[derive(Template)]
#[template(path = "report.html")]
struct Page<'a> {
    r: &'a Report,
    charts: Vec<Chart>,
    tables: Vec<HtmlTable>,
    dq: HtmlTable,
}

fn published(t: &Table, key: &str, column: &str) -> u64 {
    t.get(&[key], column).flatten().unwrap_or(0)
}

impl<'a> Page<'a> {
    fn of(r: &'a Report) -> Self {
        let mut charts = Vec::new();
        let sexes = &r.population.columns;
        if sexes.len() >= 2 {
            let rows: Vec<(String, u64, u64)> = r
                .population
                .rows
                .iter()
                .map(|row| {
                    (
                        row.key[0].clone(),
                        published(&r.population, &row.key[0], &sexes[0]),
                        published(&r.population, &row.key[0], &sexes[1]),
                    )
                })
                .collect();
            charts.push(Chart {
                caption: "Population pyramid (patients, after disclosure control)".to_owned(),
                svg: svg::pyramid("Population pyramid", &rows, &sexes[0], &sexes[1]),
            });
        }
        for (t, what) in [
            (&r.practice_tier, "Risk tiers by practice"),
            (&r.practice_segment, "Population segments by practice"),
        ] {
            let rows: Vec<(String, Vec<u64>)> = t
                .rows
                .iter()
                .map(|row| {
                    (
                        row.key[0].clone(),
                        row.cells.iter().map(|c| c.unwrap_or(0)).collect(),
                    )
                })
                .collect();
            charts.push(Chart {
                caption: format!("{what} (patients; redacted cells drawn as nothing)"),
                svg: svg::stacked(what, &rows, &t.columns),
            });
        }
        if let Some(m) = &r.model {
            charts.push(Chart {
                caption: format!("ROC curve ({}); AUROC {:.3}", m.test, m.auroc[0]),
                svg: svg::unit_lines(
                    "ROC curve",
                    "false positive rate",
                    "true positive rate",
                    &[("model", &m.roc)],
                ),
            });
            let top = m.calibration_axis_max;
            let scaled: Vec<[f64; 2]> = m
                .calibration
                .iter()
                .map(|[p, o]| [p / top, o / top])
                .collect();
            charts.push(Chart {
                caption: format!(
                    "Calibration by risk decile: observed rate against mean predicted risk (axes 0 to {top:.3}); observed / expected {:.3}, slope {:.3}",
                    m.observed_expected, m.calibration_slope
                ),
                svg: svg::unit_lines(
                    "Calibration",
                    "mean predicted risk",
                    "observed rate",
                    &[("deciles", &scaled)],
                ),
            });
        }
        for t in &r.scores {
            let rows: Vec<(String, u64)> = t
                .rows
                .iter()
                .map(|row| (row.key[0].clone(), row.cells[0].unwrap_or(0)))
                .collect();
            charts.push(Chart {
                caption: format!("Distribution of {} (patients)", t.name),
                svg: svg::bars(&t.name, &rows),
            });
        }
        let mut tables = vec![
            HtmlTable::of("Patients by practice and risk tier", &r.practice_tier),
            HtmlTable::of("Patients by practice and segment", &r.practice_segment),
            HtmlTable::of("Patients by PCN and segment", &r.pcn_segment),
            HtmlTable::of("Patients by age band, sex and tier", &r.age_sex_tier),
            HtmlTable::of(
                "Rows per extract: in = out + quarantined + opted out",
                &r.extracts,
            ),
            HtmlTable::of("Quarantined rows by reason", &r.quarantine_reasons),
            HtmlTable::of("Rows removed by opt-outs", &r.opt_outs),
        ];
        if let Some(m) = &r.model {
            let mut t = HtmlTable::of("Model performance by subgroup", &m.subgroups);
            t.header.pop();
            t.header
                .extend(["AUROC", "observed / expected", "calibration slope"].map(String::from));
            t.rows.pop();
            for (row, measures) in t.rows.iter_mut().zip(&m.subgroup_measures) {
                row.pop();
                row.extend(
                    measures
                        .iter()
                        .map(|x| x.map_or_else(|| "n/a".to_owned(), |v| format!("{v:.3}"))),
                );
            }
            tables.push(t);
        }
        let dq = HtmlTable::plain(
            "Data quality per submitting organisation (percent of its rows; schedule from [schedule])",
            &[
                "organisation",
                "score",
                "validity %",
                "completeness %",
                "duplicates %",
                "wrong submitter %",
                "timeliness %",
                "received",
                "missing",
                "late",
                "rejected files",
            ],
            r.scorecard
                .iter()
                .map(|c| {
                    let o = |x: Option<f64>, places: usize| {
                        x.map_or_else(|| "n/a".to_owned(), |v| format!("{v:.places$}"))
                    };
                    vec![
                        c.organisation.clone(),
                        o(c.score, 1),
                        o(c.validity_percent, 3),
                        o(c.completeness_percent, 3),
                        o(c.duplicate_percent, 3),
                        o(c.wrong_submitter_percent, 3),
                        o(c.timeliness_percent, 1),
                        c.received.join(", "),
                        c.missing.join(", "),
                        c.late
                            .iter()
                            .map(|l| {
                                format!(
                                    "{} ({}, {} days old)",
                                    l.extract, l.extract_date, l.days_old
                                )
                            })
                            .collect::<Vec<_>>()
                            .join(", "),
                        c.rejected_files.join(", "),
                    ]
                })
                .collect(),
        );
        Page {
            r,
            charts,
            tables,
            dq,
        }
    }
}
