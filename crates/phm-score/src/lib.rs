//! Published, checkable clinical scores per patient as of a reference date.
//!
//! `phm-score` reads the pseudonymised zone of a run (admitted care, GP events and
//! medications) and the linked spine, and writes `scores/scores.parquet`: for every patient
//! in the spine, Charlson (four weightings) and Elixhauser (two) from admitted care
//! diagnoses in a look-back (default 5 years), the Hospital Frailty Risk Score from the last
//! 2 years of admitted care, and the electronic Frailty Index from GP events on or before the
//! date and medicines in the last 12 months, each with its band or category and its
//! components; and `gp_conditions`, the GP long-term conditions (`codelists/ltc/`) recorded on
//! or before the date, which the risk model takes as features. Every code list and weight is data in `codelists/`, with its source.
//! The rows to score are selected with SQL on the engine of `phm-sql`; codes are matched in
//! Rust. These selections stay in Rust rather than in `sql/`: each is one filtered scan whose
//! rows are streamed into code matching (ICD-10 normalisation, bit sets of conditions), its
//! windows come from `[score]` look-backs rather than the linkage's `$parameters`, and the
//! scores themselves are checked against an independent implementation (comorbidipy), not
//! against DuckDB. The table is written into the folder the caller gives (a `phm_run::PartialDir` it
//! commits as the run's `scores/`).

mod codes;
pub mod icd10;
pub mod scores;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, Float64Array, Int32Array, Int64Array, ListBuilder, RecordBatch, StringArray,
    StringBuilder,
};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::prelude::*;
use futures::StreamExt as _;
use phm_contract::date::Day;
use phm_run::RunLayout;
use phm_sql::{SessionSettings, SqlError, add_months, date_literal};

use crate::scores::{Comorbidity, Efi, Hfrs, SnomedLists};

/// What to score.
#[derive(Debug, Clone)]
pub struct ScoreConfig {
    /// The run folder (`pseudonymised/`, `linked/spine.parquet`).
    pub run: PathBuf,
    /// The reference date.
    pub reference_date: Day,
    /// Look-back for Charlson and Elixhauser, in months (default 60).
    pub comorbidity_months: u32,
    /// Look-back for HFRS, in months (Gilbert 2018: 24).
    pub hfrs_months: u32,
    /// Look-back for the eFI's polypharmacy, in months (12).
    pub medicines_months: u32,
    /// The engine's memory, spill folder and partitions.
    pub session: SessionSettings,
    /// The spine to score (default: the run's `linked/spine.parquet`); the risk stage scores
    /// the spines of earlier dates kept under `history/`.
    pub spine: Option<PathBuf>,
}

impl ScoreConfig {
    /// The published defaults for a run and date.
    pub fn new(run: PathBuf, reference_date: Day) -> Self {
        ScoreConfig {
            run,
            reference_date,
            comorbidity_months: 60,
            hfrs_months: 24,
            medicines_months: 12,
            session: SessionSettings::default(),
            spine: None,
        }
    }
}

/// Why scoring failed.
#[derive(Debug, thiserror::Error)]
pub enum ScoreError {
    /// No spine to score.
    #[error(
        "no `linked/spine.parquet` under `{0}`\nhint: run `phm link` on this run first; scores are for the patients of its spine"
    )]
    NoSpine(PathBuf),
    /// The query engine or a file failed.
    #[error(transparent)]
    Sql(#[from] SqlError),
    /// `DataFusion` failed on a step.
    #[error("scoring step `{step}` failed: {message}")]
    Engine {
        /// The step.
        step: String,
        /// `DataFusion`'s message.
        message: String,
    },
}

fn engine(step: &str) -> impl FnOnce(datafusion::error::DataFusionError) -> ScoreError + '_ {
    move |e| ScoreError::Engine {
        step: step.to_owned(),
        message: e.to_string(),
    }
}

/// Counts for the run report.
#[derive(Debug, Clone, Default)]
pub struct ScoreSummary {
    /// Patients scored.
    pub patients: usize,
    /// Patients per eFI category.
    pub efi_categories: Vec<(&'static str, usize)>,
    /// Patients per HFRS band.
    pub hfrs_bands: Vec<(&'static str, usize)>,
}

/// What is found for one patient.
#[derive(Debug, Clone, Copy, Default)]
struct Found {
    charlson: u64,
    elixhauser: u64,
    hfrs: u128,
    efi: u64,
    /// GP long-term conditions (`codelists/ltc/`).
    gp: u64,
}

/// The code lists, loaded once.
struct Lists {
    charlson: Comorbidity,
    elixhauser: Comorbidity,
    hfrs: Hfrs,
    efi: Efi,
    gp: SnomedLists,
}

/// What is found for each patient of the spine, looked up by pseudonym.
struct Findings<'p> {
    index: HashMap<&'p str, usize>,
    found: Vec<Found>,
}

impl<'p> Findings<'p> {
    fn new(patients: &'p [String]) -> Self {
        Findings {
            index: patients
                .iter()
                .enumerate()
                .map(|(i, p)| (p.as_str(), i))
                .collect(),
            found: vec![Found::default(); patients.len()],
        }
    }

    /// The findings of a patient of the spine; `None` for anyone else.
    fn of(&mut self, pseudonym: &str) -> Option<&mut Found> {
        self.index.get(pseudonym).map(|&i| &mut self.found[i])
    }
}

/// What every scoring pass reads from.
#[derive(Clone, Copy)]
struct Sources<'a> {
    ctx: &'a SessionContext,
    cfg: &'a ScoreConfig,
    lists: &'a Lists,
}

/// Score the patients of a run's spine and write `scores.parquet` into `out` (the run's
/// `scores/` folder, or the partial folder the caller commits as it).
pub fn score(cfg: &ScoreConfig, out: &Path) -> Result<ScoreSummary, ScoreError> {
    phm_sql::block_on(score_async(cfg, out))
}

async fn score_async(cfg: &ScoreConfig, out: &Path) -> Result<ScoreSummary, ScoreError> {
    let started = std::time::Instant::now();
    let run = RunLayout::at(&cfg.run);
    let spine = cfg
        .spine
        .clone()
        .unwrap_or_else(|| run.linked_table("spine"));
    if !spine.is_file() {
        return Err(ScoreError::NoSpine(cfg.run.clone()));
    }
    let ctx = phm_sql::connect(&cfg.session).await?;
    let tables = phm_sql::register_extracts(&ctx, &run).await?;
    ctx.register_parquet(
        "spine",
        &spine.to_string_lossy(),
        ParquetReadOptions::default(),
    )
    .await
    .map_err(engine("spine"))?;
    let lists = Lists {
        charlson: Comorbidity::charlson(),
        elixhauser: Comorbidity::elixhauser(),
        hfrs: Hfrs::builtin(),
        efi: Efi::builtin(),
        gp: SnomedLists::gp_conditions(),
    };
    let patients = spine_patients(&ctx).await?;
    let mut findings = Findings::new(&patients);
    let sources = Sources {
        ctx: &ctx,
        cfg,
        lists: &lists,
    };
    let has = |t: &str| tables.iter().any(|x| x == t);
    if has("apc") {
        diagnoses(sources, &mut findings).await?;
    }
    if has("gp_events") {
        frailty_events(sources, &mut findings).await?;
    }
    if has("gp_medications") {
        polypharmacy(sources, &mut findings).await?;
    }
    let batch = output(&patients, &findings.found, &lists)?;
    let summary = summarise(&batch, patients.len());
    // Rows in spine order, written as they are: the same bytes whatever the partitions.
    let dest = out.join(
        run.scores_file()
            .file_name()
            .expect("the scores file has a name"),
    );
    phm_sql::write_batches(
        batch.schema(),
        [batch],
        &dest,
        "scores",
        phm_sql::published_compression(),
    )?;
    tracing::info!(
        patients = patients.len(),
        seconds = started.elapsed().as_secs_f64(),
        "scores written"
    );
    Ok(summary)
}

/// Text columns as plain `Utf8` whatever the file's string type.
fn text(batch: &RecordBatch, i: usize, step: &str) -> Result<StringArray, ScoreError> {
    let a = cast(batch.column(i), &DataType::Utf8).map_err(|e| ScoreError::Engine {
        step: step.to_owned(),
        message: e.to_string(),
    })?;
    Ok(a.as_any()
        .downcast_ref::<StringArray>()
        .expect("cast to Utf8")
        .clone())
}

async fn for_each_batch(
    ctx: &SessionContext,
    sql: &str,
    step: &str,
    mut f: impl FnMut(&RecordBatch) -> Result<(), ScoreError>,
) -> Result<(), ScoreError> {
    let df = ctx.sql(sql).await.map_err(engine(step))?;
    let mut stream = df.execute_stream().await.map_err(engine(step))?;
    while let Some(batch) = stream.next().await {
        f(&batch.map_err(engine(step))?)?;
    }
    Ok(())
}

async fn spine_patients(ctx: &SessionContext) -> Result<Vec<String>, ScoreError> {
    let mut out = Vec::new();
    for_each_batch(
        ctx,
        "SELECT pseudonym FROM spine ORDER BY pseudonym",
        "spine",
        |b| {
            let p = text(b, 0, "spine")?;
            out.extend(p.iter().flatten().map(str::to_owned));
            Ok(())
        },
    )
    .await?;
    Ok(out)
}

/// Charlson and Elixhauser conditions (look-back) and HFRS categories (last 2 years) from
/// every diagnosis, primary and secondary, of episodes admitted in the window.
async fn diagnoses(sources: Sources<'_>, findings: &mut Findings<'_>) -> Result<(), ScoreError> {
    let Sources { ctx, cfg, lists } = sources;
    let reference = cfg.reference_date;
    let start = add_months(reference, -months(cfg.comorbidity_months));
    let hfrs_start = add_months(reference, -months(cfg.hfrs_months));
    let sql = format!(
        "SELECT pseudonym, admission_date > {hfrs} AS recent, primary_diagnosis, \
         array_to_string(secondary_diagnoses, ';') AS secondary_diagnoses \
         FROM apc WHERE admission_date > {start} AND admission_date <= {reference}",
        hfrs = date_literal(hfrs_start),
        start = date_literal(start),
        reference = date_literal(reference),
    );
    for_each_batch(ctx, &sql, "diagnoses", |b| {
        let pseudonym = text(b, 0, "diagnoses")?;
        let recent = b
            .column(1)
            .as_any()
            .downcast_ref::<datafusion::arrow::array::BooleanArray>()
            .expect("a comparison is boolean")
            .clone();
        let primary = text(b, 2, "diagnoses")?;
        let secondary = text(b, 3, "diagnoses")?;
        for r in 0..b.num_rows() {
            let Some(f) = findings.of(pseudonym.value(r)) else {
                continue;
            };
            let codes = std::iter::once(primary.value(r)).chain(
                secondary
                    .is_valid(r)
                    .then(|| secondary.value(r).split(';'))
                    .into_iter()
                    .flatten(),
            );
            for code in codes.filter_map(icd10::normalise) {
                f.charlson |= lists.charlson.of(code);
                f.elixhauser |= lists.elixhauser.of(code);
                if recent.is_valid(r) && recent.value(r) {
                    f.hfrs |= lists.hfrs.of(code);
                }
            }
        }
        Ok(())
    })
    .await
}

fn months(m: u32) -> i32 {
    i32::try_from(m).unwrap_or(i32::MAX)
}

/// eFI deficits and GP long-term conditions from GP events on or before the reference date.
async fn frailty_events(
    sources: Sources<'_>,
    findings: &mut Findings<'_>,
) -> Result<(), ScoreError> {
    let Sources { ctx, cfg, lists } = sources;
    let sql = format!(
        "SELECT pseudonym, snomed_concept_id FROM gp_events WHERE event_date <= {}",
        date_literal(cfg.reference_date)
    );
    for_each_batch(ctx, &sql, "frailty events", |b| {
        let pseudonym = text(b, 0, "frailty events")?;
        let code = text(b, 1, "frailty events")?;
        for r in 0..b.num_rows() {
            let deficits = lists.efi.of(code.value(r));
            let conditions = lists.gp.of(code.value(r));
            if deficits | conditions != 0
                && let Some(f) = findings.of(pseudonym.value(r))
            {
                f.efi |= deficits;
                f.gp |= conditions;
            }
        }
        Ok(())
    })
    .await
}

/// The polypharmacy deficit: 5 or more distinct medicines issued in the last 12 months.
async fn polypharmacy(sources: Sources<'_>, findings: &mut Findings<'_>) -> Result<(), ScoreError> {
    let Sources { ctx, cfg, lists } = sources;
    let reference = cfg.reference_date;
    let start = add_months(reference, -months(cfg.medicines_months));
    let sql = format!(
        "SELECT pseudonym, COUNT(DISTINCT dmd_code) AS medicines FROM gp_medications \
         WHERE issue_date > {} AND issue_date <= {} GROUP BY pseudonym",
        date_literal(start),
        date_literal(reference)
    );
    let bit = lists.efi.polypharmacy();
    for_each_batch(ctx, &sql, "polypharmacy", |b| {
        let pseudonym = text(b, 0, "polypharmacy")?;
        let n = b
            .column(1)
            .as_any()
            .downcast_ref::<Int64Array>()
            .expect("COUNT is Int64")
            .clone();
        for r in 0..b.num_rows() {
            if n.value(r) >= scores::POLYPHARMACY_MEDICINES
                && let Some(f) = findings.of(pseudonym.value(r))
            {
                f.efi |= bit;
            }
        }
        Ok(())
    })
    .await
}

fn list_column<'a>(rows: impl Iterator<Item = Vec<&'a str>>) -> ArrayRef {
    let mut b = ListBuilder::new(StringBuilder::new());
    for names in rows {
        for n in names {
            b.values().append_value(n);
        }
        b.append(true);
    }
    Arc::new(b.finish())
}

/// `charlson` + `quan_2011` → `charlson_quan_2011`; `charlson` + `charlson_1987` →
/// `charlson_1987`.
fn column_name(score: &str, weighting: &str) -> String {
    if weighting.starts_with(score) {
        weighting.to_owned()
    } else {
        format!("{score}_{weighting}")
    }
}

fn output(patients: &[String], found: &[Found], lists: &Lists) -> Result<RecordBatch, ScoreError> {
    let mut columns: Vec<(String, ArrayRef)> = vec![(
        "pseudonym".to_owned(),
        Arc::new(StringArray::from_iter_values(patients)),
    )];
    let charlson: Vec<u64> = found.iter().map(|f| f.charlson).collect();
    comorbidity_columns(&mut columns, "charlson", &lists.charlson, &charlson);
    let elixhauser: Vec<u64> = found.iter().map(|f| f.elixhauser).collect();
    comorbidity_columns(&mut columns, "elixhauser", &lists.elixhauser, &elixhauser);
    let hfrs_tenths: Vec<u32> = found.iter().map(|f| lists.hfrs.tenths(f.hfrs)).collect();
    let hfrs = hfrs_tenths.iter().map(|&t| f64::from(t) / 10.0);
    let bands = hfrs_tenths.iter().map(|&t| scores::hfrs_band(t));
    let categories = found.iter().map(|f| lists.hfrs.names_in(f.hfrs));
    graded_columns(
        &mut columns,
        "hfrs",
        ("band", "categories"),
        hfrs,
        bands,
        categories,
    );
    let deficits: Vec<u32> = found.iter().map(|f| f.efi.count_ones()).collect();
    let efi = deficits.iter().map(|&d| scores::efi_value(d));
    let grades = deficits.iter().map(|&d| scores::efi_category(d));
    let names = found.iter().map(|f| lists.efi.names_in(f.efi));
    graded_columns(
        &mut columns,
        "efi",
        ("category", "deficits"),
        efi,
        grades,
        names,
    );
    columns.push((
        "gp_conditions".to_owned(),
        list_column(found.iter().map(|f| lists.gp.names_in(f.gp))),
    ));
    RecordBatch::try_from_iter(columns).map_err(|e| ScoreError::Engine {
        step: "output".to_owned(),
        message: e.to_string(),
    })
}

/// `<score>_<weighting>` per weighting, then `<score>_conditions`.
fn comorbidity_columns(
    columns: &mut Vec<(String, ArrayRef)>,
    score: &str,
    index: &Comorbidity,
    sets: &[u64],
) {
    for (w, (name, _)) in index.weightings.iter().enumerate() {
        let v: Int32Array = sets.iter().map(|&s| Some(index.score(s, w))).collect();
        columns.push((column_name(score, name), Arc::new(v)));
    }
    columns.push((
        format!("{score}_conditions"),
        list_column(sets.iter().map(|&s| index.conditions.names_in(s))),
    ));
}

/// `<score>`, `<score>_<grade>`, `<score>_<components>`.
fn graded_columns<'a>(
    columns: &mut Vec<(String, ArrayRef)>,
    score: &str,
    (grade, components): (&str, &str),
    values: impl Iterator<Item = f64>,
    grades: impl Iterator<Item = &'static str>,
    parts: impl Iterator<Item = Vec<&'a str>>,
) {
    let values: Float64Array = values.map(Some).collect();
    columns.push((score.to_owned(), Arc::new(values)));
    columns.push((
        format!("{score}_{grade}"),
        Arc::new(StringArray::from_iter_values(grades)),
    ));
    columns.push((format!("{score}_{components}"), list_column(parts)));
}

fn summarise(batch: &RecordBatch, patients: usize) -> ScoreSummary {
    let count = |name: &str, labels: &[&'static str]| -> Vec<(&'static str, usize)> {
        let col = batch
            .column_by_name(name)
            .and_then(|c| c.as_any().downcast_ref::<StringArray>())
            .expect("a text column");
        labels
            .iter()
            .map(|l| (*l, col.iter().filter(|v| *v == Some(*l)).count()))
            .collect()
    };
    ScoreSummary {
        patients,
        efi_categories: count("efi_category", &["fit", "mild", "moderate", "severe"]),
        hfrs_bands: count("hfrs_band", &["low", "intermediate", "high"]),
    }
}
