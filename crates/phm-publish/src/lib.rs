//! Publish: what leaves the run for people.
//!
//! - Aggregates for analysts (`publish/aggregates/<table>.{csv,parquet}`): practice x tier,
//!   practice x segment, PCN x segment, age band x sex x tier, population by age band and sex,
//!   with row and column totals, under statistical disclosure control ([`sdc`]): `OpenSAFELY`'s
//!   rule (redact 1 to 7, round to 5, totals from the rounded cells) and secondary suppression
//!   across everything published together, so that no redacted count can be narrowed.
//! - The k-anonymity report of the run's row-level tables (`publish/k_anonymity.json`).
//! - The run report: `report.json` (every number) and `report.html` (one self-contained page).
//! - The data-quality scorecard per submitting organisation (in the report).
//!
//! It reads the run's published tables and manifests, never the identifiable zone; every
//! count in the aggregates and the report has been through disclosure control (the
//! k-anonymity report, for data engineers, describes row-level tables of the same zone with
//! their class sizes, as the manifest gives their row counts); it writes through
//! `phm_run::atomic` only.

pub mod aggregates;
pub mod counts;
pub mod frame;
pub mod kanon;
pub mod report;
pub mod scorecard;
pub mod sdc;
pub mod svg;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use phm_contract::date::Day;
use phm_run::RunLayout;
use phm_run::atomic::{self, Privacy};
use phm_run::pipeline::{Publish, Schedule};
use phm_sql::SessionSettings;

use crate::frame::{Frame, Grid, GridId};
use crate::report::{Disclosure, Rejected, Report, RunInfo};
use crate::sdc::Rule;

/// Why publishing failed.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// A file could not be read or written.
    #[error("cannot use `{path}`: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The engine failed.
    #[error(transparent)]
    Sql(#[from] phm_sql::SqlError),
    /// A run file did not hold what publishing expects.
    #[error(
        "{0}\nhint: this run's outputs are not what phm wrote; run it again with `phm run --force`"
    )]
    Data(String),
    /// Disclosure control failed.
    #[error("disclosure control: {0}")]
    Sdc(#[from] sdc::SdcError),
    /// The report page could not be rendered.
    #[error("cannot render the report: {0}")]
    Render(#[from] askama::Error),
}

/// What publishing needs beyond the run folder.
#[derive(Debug, Clone)]
pub struct PublishConfig {
    /// The run (stages before publish have written it).
    pub run: RunLayout,
    /// Run id.
    pub run_id: String,
    /// Reference date, ISO.
    pub reference_date: String,
    /// Extract date.
    pub extract_date: Day,
    /// `[publish]`.
    pub publish: Publish,
    /// `[schedule]`.
    pub schedule: Schedule,
    /// The delivery log (`extracts/submissions.csv`), if the extracts have one.
    pub submissions: Option<PathBuf>,
    /// Tier names, highest first.
    pub tiers: Vec<String>,
    /// Practices with a bundle this run.
    pub bundles: Vec<String>,
    /// Practices without a recipient.
    pub practices_without_recipient: Vec<String>,
    /// The engine's settings.
    pub session: SessionSettings,
}

/// What was published.
#[derive(Debug, Clone)]
pub struct Published {
    /// Aggregate tables written.
    pub aggregates: Vec<String>,
    /// Cells published across report and aggregates.
    pub cells: usize,
    /// Of which hidden.
    pub hidden_cells: usize,
    /// Share of practice x tier cells hidden.
    pub practice_tier_hidden_share: f64,
    /// Published tables that do not meet k.
    pub tables_under_k: Vec<String>,
}

/// The rule of a `[publish]` section.
pub fn rule(p: &Publish) -> Rule {
    Rule {
        threshold: p.suppression_threshold,
        base: p.rounding_base,
    }
}

/// Publish a run: aggregates, the k-anonymity report, `report.json` and `report.html`.
pub fn publish(cfg: &PublishConfig) -> Result<Published, PublishError> {
    let rule = rule(&cfg.publish);
    let counts = counts::count(&cfg.run, &cfg.session)?;
    let ingest = scorecard::IngestManifest::read(&cfg.run.ingest_manifest())?;
    let card_path = cfg.run.risk_file("model_card.json");
    let card: serde_json::Value = std::fs::read_to_string(&card_path)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(serde_json::Value::Null);

    let mut frame = Frame::default();
    let (grids, scores) = aggregates::place(&mut frame, &counts, &cfg.tiers, &cfg.publish.pcns)?;
    let ingest_grids = place_ingest(&mut frame, &ingest);
    let scorecard_grid = place_scorecard(&mut frame, &ingest, ingest_grids);
    let subgroups = place_subgroups(&mut frame, &card);
    let protected = frame.protect(rule)?;

    for id in [
        grids.practice_tier,
        grids.practice_segment,
        grids.pcn_segment,
        grids.age_sex_tier,
        grids.population,
    ] {
        aggregates::write(&cfg.run, protected.table(id), rule)?;
    }
    let k = kanon::report(&cfg.run, cfg.publish.k_anonymity, &cfg.session)?;
    write(&cfg.run.k_anonymity(), &json(&k))?;

    let submissions = match &cfg.submissions {
        Some(p) => scorecard::read_submissions(p)?,
        None => Vec::new(),
    };
    let report = Report {
        run: RunInfo {
            run_id: cfg.run_id.clone(),
            reference_date: cfg.reference_date.clone(),
            extract_date: phm_contract::date::iso(cfg.extract_date),
            phm_version: env!("CARGO_PKG_VERSION").to_owned(),
        },
        disclosure_control: Disclosure {
            threshold: rule.threshold,
            rounding_base: rule.base,
            statement: aggregates::statement(rule),
            cell_count: protected.cells,
            hidden_cells: protected.hidden,
        },
        population: protected.table(grids.population).clone(),
        practice_tier: protected.table(grids.practice_tier).clone(),
        practice_segment: protected.table(grids.practice_segment).clone(),
        pcn_segment: protected.table(grids.pcn_segment).clone(),
        age_sex_tier: protected.table(grids.age_sex_tier).clone(),
        scores: scores.iter().map(|g| protected.table(*g).clone()).collect(),
        model: report::model_section(&card, protected.table(subgroups).clone()),
        extracts: protected.table(ingest_grids[0]).clone(),
        quarantine_reasons: protected.table(ingest_grids[1]).clone(),
        opt_outs: protected.table(ingest_grids[2]).clone(),
        rejected_files: ingest
            .rejected_files
            .iter()
            .map(|f| Rejected {
                file: f.file.clone(),
            })
            .collect(),
        bundles: cfg.bundles.clone(),
        practices_without_recipient: cfg.practices_without_recipient.clone(),
        scorecard: scorecard::scorecard(
            &ingest,
            protected.table(scorecard_grid),
            &submissions,
            &cfg.schedule,
            cfg.extract_date,
        ),
        k: k.k,
        k_anonymity: Report::k_summary(&k),
    };
    write(&cfg.run.report_json(), &report.to_json())?;
    write(&cfg.run.report_html(), &report.to_html()?)?;
    let pt = protected.table(grids.practice_tier);
    Ok(Published {
        aggregates: aggregates::TABLES.iter().map(|t| (*t).to_owned()).collect(),
        cells: protected.cells,
        hidden_cells: protected.hidden,
        practice_tier_hidden_share: pt.hidden_cells as f64 / pt.cell_count.max(1) as f64,
        tables_under_k: k
            .tables
            .iter()
            .filter(|t| !t.meets_k)
            .map(|t| t.table.clone())
            .collect(),
    })
}

fn json(value: &impl serde::Serialize) -> String {
    let mut s = serde_json::to_string_pretty(value).expect("serialises");
    s.push('\n');
    s
}

fn write(path: &std::path::Path, text: &str) -> Result<(), PublishError> {
    if let Some(dir) = path.parent() {
        atomic::create_dir_all(dir, Privacy::Shared).map_err(|e| PublishError::Io {
            path: dir.to_owned(),
            source: e,
        })?;
    }
    atomic::write_file(path, text.as_bytes(), Privacy::Shared).map_err(|e| PublishError::Io {
        path: path.to_owned(),
        source: e,
    })
}

/// Rows per extract (in = out + quarantined + opted out), quarantine reasons and opt-out
/// reasons per extract, with the relations between them.
fn place_ingest(frame: &mut Frame, ingest: &scorecard::IngestManifest) -> [GridId; 3] {
    const FLOW: [&str; 4] = ["rows_in", "rows_out", "quarantined", "opted_out"];
    let reasons = |f: fn(&scorecard::IngestFile) -> &BTreeMap<String, u64>| -> Vec<String> {
        ingest
            .files
            .iter()
            .flat_map(|x| f(x).keys().cloned())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect()
    };
    let mut flow = Grid::new("extracts", &["extract"], FLOW.map(String::from).to_vec());
    let mut quarantine = Grid::new(
        "quarantine_reasons",
        &["extract"],
        reasons(|f| &f.quarantined),
    );
    let mut opt_outs = Grid::new("opt_outs", &["extract"], reasons(|f| &f.opted_out));
    for f in &ingest.files {
        let key = [f.extract.as_str()];
        let q: u64 = f.quarantined.values().sum();
        let o: u64 = f.opted_out.values().sum();
        for (column, n) in FLOW.iter().zip([f.rows_in, f.rows_out, q, o]) {
            flow.add(&key, column, n).expect("a flow column");
        }
        quarantine.row(&key);
        opt_outs.row(&key);
        for (r, n) in &f.quarantined {
            quarantine.add(&key, r, *n).expect("a reason column");
        }
        for (r, n) in &f.opted_out {
            opt_outs.add(&key, r, *n).expect("a reason column");
        }
    }
    let (fl, qu, op) = (frame.add(flow), frame.add(quarantine), frame.add(opt_outs));
    for r in 0..frame.grid(fl).rows.len() {
        let cells = frame.row_cells(fl, r);
        frame.relate(vec![cells[0]], cells[1..].to_vec());
        let reasons = frame.row_cells(qu, r);
        frame.relate(vec![cells[2]], reasons);
        let reasons = frame.row_cells(op, r);
        frame.relate(vec![cells[3]], reasons);
    }
    [fl, qu, op]
}

/// Rows and quarantine reasons per organisation, tied to the same counts per extract.
fn place_scorecard(
    frame: &mut Frame,
    ingest: &scorecard::IngestManifest,
    [flow, quarantine, _]: [GridId; 3],
) -> GridId {
    let id = frame.add(scorecard::grid(ingest));
    let columns = frame.grid(id).columns.clone();
    for (c, column) in columns.iter().enumerate() {
        let by_org = frame.column_cells(id, c);
        let by_extract = match column.as_str() {
            scorecard::ROWS => frame.column_cells(flow, 0),
            scorecard::QUARANTINED => frame.column_cells(flow, 2),
            reason => frame.cells_where(quarantine, |_, col| col == reason),
        };
        frame.relate(by_org, by_extract);
    }
    for r in 0..frame.grid(id).rows.len() {
        let cells = frame.row_cells(id, r);
        frame.relate(vec![cells[1]], cells[2..].to_vec());
    }
    id
}

/// The model card's subgroups (patients, events), each grouping adding up to the same test
/// population.
fn place_subgroups(frame: &mut Frame, card: &serde_json::Value) -> GridId {
    let mut g = Grid::new(
        "subgroups",
        &["by", "group"],
        vec!["patients".to_owned(), "events".to_owned()],
    );
    let subgroups = card
        .pointer("/test/subgroups")
        .and_then(serde_json::Value::as_array)
        .cloned()
        .unwrap_or_default();
    for s in &subgroups {
        let text = |k: &str| s.get(k).and_then(serde_json::Value::as_str).unwrap_or("");
        let n = |k: &str| s.get(k).and_then(serde_json::Value::as_u64).unwrap_or(0);
        let key = [text("by"), text("group")];
        g.row(&key);
        g.add(&key, "patients", n("patients")).expect("a column");
        g.add(&key, "events", n("events")).expect("a column");
    }
    let bys: Vec<String> = g
        .rows
        .iter()
        .map(|r| r[0].clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let id = frame.add(g);
    for pair in bys.windows(2) {
        for column in ["patients", "events"] {
            let a = frame.cells_where(id, |k, c| k[0] == pair[0] && c == column);
            let b = frame.cells_where(id, |k, c| k[0] == pair[1] && c == column);
            frame.relate(a, b);
        }
    }
    id
}
