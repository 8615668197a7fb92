//! Pipeline definitions: the TOML files in `pipeline/` an analyst edits.
//!
//! Every key is typed and unknown keys are refused; an error names the file, the line and the
//! key, with a `hint:` saying what to write instead. Relative paths are resolved against the
//! file's folder.

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// A pipeline definition.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pipeline {
    /// `[dates]`.
    #[serde(default)]
    pub dates: Dates,
    /// `[inputs]`.
    #[serde(default)]
    pub inputs: Inputs,
    /// `[outputs]`: where `phm run` writes.
    #[serde(default)]
    pub outputs: Outputs,
    /// `[ingest]`.
    #[serde(default)]
    pub ingest: Ingest,
    /// `[opt_out]`.
    #[serde(default)]
    pub opt_out: OptOut,
    /// `[link]`.
    #[serde(default)]
    pub link: Link,
    /// `[score]`.
    #[serde(default)]
    pub score: Score,
    /// `[risk]`.
    #[serde(default)]
    pub risk: Risk,
    /// `[reid]`: practice bundles and re-identification.
    #[serde(default)]
    pub reid: Reid,
    /// `[publish]`: aggregates, disclosure control, PCNs, retention.
    #[serde(default)]
    pub publish: Publish,
    /// `[schedule]`: who is expected to submit which extract, and how old an extract may be.
    #[serde(default)]
    pub schedule: Schedule,
    /// `[share]`: the recipients of per-recipient extracts (`phm share`) and their grants.
    #[serde(default)]
    pub share: crate::share::Share,
}

/// `[publish]`: the aggregates for analysts and the statistical disclosure control they get.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Publish {
    /// Counts of this many or fewer (but more than 0) are redacted (`OpenSAFELY`: 7).
    pub suppression_threshold: u64,
    /// Every other count is rounded to the nearest multiple of this (`OpenSAFELY`: 5).
    pub rounding_base: u64,
    /// The k of the k-anonymity report over published tables' quasi-identifiers.
    pub k_anonymity: u64,
    /// Primary care networks: PCN name → its practices' ODS codes. A practice in none is
    /// counted under `unassigned`.
    pub pcns: std::collections::BTreeMap<String, Vec<String>>,
    /// `phm purge` removes runs and quarantine older than this many months.
    pub retention_months: u32,
}

impl Default for Publish {
    fn default() -> Self {
        Publish {
            suppression_threshold: 7,
            rounding_base: 5,
            k_anonymity: 5,
            pcns: std::collections::BTreeMap::new(),
            retention_months: 12,
        }
    }
}

/// `[schedule]`: the submissions a run expects, for the data-quality scorecard.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Schedule {
    /// Extract → the ODS codes expected to submit it each run. Empty: no schedule (files are
    /// not checked for missing or late).
    pub expected: std::collections::BTreeMap<String, Vec<String>>,
    /// A file whose extract date (from `extracts/submissions.csv`) is more than this many days
    /// before the run's extract date is late.
    pub max_extract_age_days: u32,
}

impl Default for Schedule {
    fn default() -> Self {
        Schedule {
            expected: std::collections::BTreeMap::new(),
            max_extract_age_days: 35,
        }
    }
}

/// `[reid]`: which practices get a bundle (those with a recipient), what it holds, and where
/// `phm reid` and `phm sar` audit by default.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Reid {
    /// Practice ODS code → the practice's age recipient (`age1...`, public), from
    /// `phm key practice`. A practice without one gets no vault and no bundle.
    pub recipients: std::collections::BTreeMap<String, String>,
    /// The tiers whose patients a bundle lists as flagged.
    pub bundle_tiers: Vec<String>,
    /// The audit log `phm reid` and `phm sar` append to unless `--audit` is given.
    pub audit: Option<PathBuf>,
}

impl Default for Reid {
    fn default() -> Self {
        Reid {
            recipients: std::collections::BTreeMap::new(),
            bundle_tiers: vec!["very_high".to_owned(), "high".to_owned()],
            audit: None,
        }
    }
}

/// `[risk]`: the emergency-admission model, the pyramid and the segment rules.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Risk {
    /// An approved model (`phm risk approve`) to apply instead of fitting one.
    pub model: Option<PathBuf>,
    /// The pyramid, highest tier first: each tier's name and the cumulative share of
    /// patients from the top it reaches (the last reaches 1.0).
    pub tiers: Vec<RiskTier>,
    /// Segment rules (SQL over `patients`; default: the built-in `sql/risk/segments.sql`).
    pub segments_sql: Option<PathBuf>,
    /// Folds of the cross-validation that chooses the penalty.
    pub cv_folds: usize,
}

/// One tier of `[risk] tiers`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RiskTier {
    /// Its name.
    pub name: String,
    /// Cumulative share from the top, in (0, 1].
    pub top: f64,
}

impl Default for Risk {
    fn default() -> Self {
        Risk {
            model: None,
            tiers: [
                ("very_high", 0.005),
                ("high", 0.05),
                ("moderate", 0.20),
                ("low", 1.0),
            ]
            .into_iter()
            .map(|(name, top)| RiskTier {
                name: name.to_owned(),
                top,
            })
            .collect(),
            segments_sql: None,
            cv_folds: 5,
        }
    }
}

/// `[score]`: look-back windows. Field names are the keys analysts write; each says what it
/// is on its own.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[allow(clippy::struct_field_names)]
pub struct Score {
    /// Charlson and Elixhauser look-back (months).
    pub comorbidity_lookback_months: u32,
    /// HFRS look-back (months).
    pub hfrs_lookback_months: u32,
    /// eFI polypharmacy look-back (months).
    pub medicines_lookback_months: u32,
}

impl Default for Score {
    fn default() -> Self {
        Score {
            comorbidity_lookback_months: 60,
            hfrs_lookback_months: 24,
            medicines_lookback_months: 12,
        }
    }
}

/// `[link]`: windows and the engine's memory.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Link {
    /// Short look-back (months).
    pub lookback_short_months: u32,
    /// Long look-back (months).
    pub lookback_long_months: u32,
    /// Outcome window after the reference date (months).
    pub outcome_months: u32,
    /// Memory for the query engine (MiB); sorts and aggregations spill beyond it.
    pub memory_limit_mb: usize,
    /// Where spills go (default: the system temporary folder).
    pub spill_dir: Option<PathBuf>,
    /// The engine that runs the SQL of link, score and risk.
    pub engine: SqlEngine,
    /// The Ballista scheduler (`df://host:50050`) when `engine = "ballista"`.
    pub scheduler: Option<String>,
}

/// `[link] engine`: where the SQL runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SqlEngine {
    /// DataFusion inside phm (the default).
    #[default]
    Datafusion,
    /// An Apache Ballista cluster, through `[link] scheduler`.
    Ballista,
    /// A Ballista scheduler and executor inside phm (tests, trying it out).
    BallistaStandalone,
}

impl Default for Link {
    fn default() -> Self {
        Link {
            lookback_short_months: 12,
            lookback_long_months: 24,
            outcome_months: 12,
            memory_limit_mb: 1536,
            spill_dir: None,
            engine: SqlEngine::Datafusion,
            scheduler: None,
        }
    }
}

/// `[dates]`, as `YYYY-MM-DD` text.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dates {
    /// Ages and features are as of this day.
    pub reference_date: Option<String>,
    /// The day the extracts were taken.
    pub extract_date: Option<String>,
}

/// `[inputs]`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Inputs {
    /// Folder holding `<extract>/<ODS code>.csv`.
    pub extracts: Option<PathBuf>,
    /// Postcode lookup CSV.
    pub postcode_lookup: Option<PathBuf>,
    /// The pseudonymisation key file.
    pub key: Option<PathBuf>,
}

/// `[outputs]`: the roots `phm run` writes.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Outputs {
    /// The pseudonymised zone's root (a folder per run, and `latest`).
    pub runs: Option<PathBuf>,
    /// The identifiable zone's root (private: 0700).
    pub identifiable: Option<PathBuf>,
}

/// `[ingest]`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ingest {
    /// What to do with a file that cannot be ingested at all.
    #[serde(default)]
    pub on_rejected_file: OnRejectedFile,
}

/// What ingest does with a file that cannot be ingested at all (empty, binary, wrong header,
/// another organisation's rows).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OnRejectedFile {
    /// Stop the whole ingest; nothing is written.
    #[default]
    Stop,
    /// Ingest the rest; the rejected file is listed in the manifest with its reason.
    Skip,
}

/// `[opt_out]`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptOut {
    /// Local programme opt-out codes (SNOMED CT).
    #[serde(default)]
    pub programme_codes: Vec<String>,
    /// Whether the national data opt-out applies to this flow.
    #[serde(default)]
    pub national_data_opt_out: bool,
}

/// A definition that cannot be used. Messages name the file, line and key.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// The file cannot be read.
    #[error("cannot read pipeline definition `{path}`: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The TOML is malformed, has an unknown key or a value of the wrong type.
    #[error("{}", located(path, *line, key.as_deref(), problem, hint))]
    Invalid {
        /// The file.
        path: PathBuf,
        /// 1-based line, when known.
        line: Option<usize>,
        /// The key, as `table.key`, when known.
        key: Option<String>,
        /// What is wrong.
        problem: String,
        /// What to write instead.
        hint: String,
    },
}

fn located(
    path: &Path,
    line: Option<usize>,
    key: Option<&str>,
    problem: &str,
    hint: &str,
) -> String {
    let at = match line {
        Some(l) => format!("{}:{l}", path.display()),
        None => path.display().to_string(),
    };
    let key = key.map_or_else(String::new, |k| format!(" `{k}`"));
    format!("pipeline definition `{at}`{key}: {problem}\nhint: {hint}")
}

impl Pipeline {
    /// The definition at `path`, or the defaults when no definition is given.
    pub fn load_or_default(path: Option<&Path>) -> Result<Self, PipelineError> {
        path.map_or_else(|| Ok(Pipeline::default()), Pipeline::load)
    }

    /// Read a definition; relative paths are resolved against its folder, and every path
    /// named under `[inputs]` must exist.
    pub fn load(path: &Path) -> Result<Self, PipelineError> {
        let text = std::fs::read_to_string(path).map_err(|source| PipelineError::Read {
            path: path.to_owned(),
            source,
        })?;
        let mut p = Self::parse(&text, path)?;
        let base = path.parent().unwrap_or(Path::new("."));
        let resolve = |slot: &mut Option<PathBuf>| {
            if let Some(rel) = slot.as_ref().filter(|r| r.is_relative()) {
                *slot = Some(base.join(rel));
            }
        };
        resolve(&mut p.inputs.extracts);
        resolve(&mut p.inputs.postcode_lookup);
        resolve(&mut p.inputs.key);
        resolve(&mut p.outputs.runs);
        resolve(&mut p.outputs.identifiable);
        resolve(&mut p.link.spill_dir);
        resolve(&mut p.risk.model);
        resolve(&mut p.risk.segments_sql);
        resolve(&mut p.reid.audit);
        if let Some(tier) = p
            .reid
            .bundle_tiers
            .iter()
            .find(|t| !p.risk.tiers.iter().any(|r| &r.name == *t))
        {
            return Err(PipelineError::Invalid {
                path: path.to_owned(),
                line: line_of_key(&text, "reid", "bundle_tiers"),
                key: Some("reid.bundle_tiers".to_owned()),
                problem: format!("`{tier}` is not a tier of `[risk] tiers`"),
                hint: format!(
                    "name tiers of the pyramid: {}",
                    p.risk
                        .tiers
                        .iter()
                        .map(|t| format!("`{}`", t.name))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            });
        }
        for (key, slot) in [
            ("model", &p.risk.model),
            ("segments_sql", &p.risk.segments_sql),
        ] {
            if let Some(file) = slot
                && !file.is_file()
            {
                return Err(PipelineError::Invalid {
                    path: path.to_owned(),
                    line: line_of_key(&text, "risk", key),
                    key: Some(format!("risk.{key}")),
                    problem: format!("`{}` is not a file", file.display()),
                    hint: if key == "model" {
                        "name a model file written by `phm risk approve RUN` (relative paths are relative to the definition's folder)".to_owned()
                    } else {
                        "name a SQL file of segment rules, like sql/risk/segments.sql".to_owned()
                    },
                });
            }
        }
        for (key, slot, folder) in [
            ("extracts", &p.inputs.extracts, true),
            ("postcode_lookup", &p.inputs.postcode_lookup, false),
        ] {
            if let Some(dir) = slot
                && !(if folder { dir.is_dir() } else { dir.is_file() })
            {
                return Err(PipelineError::Invalid {
                    path: path.to_owned(),
                    line: line_of_key(&text, "inputs", key),
                    key: Some(format!("inputs.{key}")),
                    problem: format!(
                        "`{}` is not {}",
                        dir.display(),
                        if folder { "a folder" } else { "a file" }
                    ),
                    hint: format!(
                        "write the path of the {} (relative paths are relative to the definition's folder)",
                        if folder {
                            "folder that holds `<extract>/<ODS code>.csv`"
                        } else {
                            "postcode lookup CSV"
                        }
                    ),
                });
            }
        }
        for (key, value) in [
            ("reference_date", &p.dates.reference_date),
            ("extract_date", &p.dates.extract_date),
        ] {
            if let Some(v) = value
                && phm_contract::date::parse_iso(v).is_none()
            {
                return Err(PipelineError::Invalid {
                    path: path.to_owned(),
                    line: line_of_key(&text, "dates", key),
                    key: Some(format!("dates.{key}")),
                    problem: format!("`{v}` is not a date"),
                    hint: format!("write `{key} = \"YYYY-MM-DD\"`"),
                });
            }
        }
        check_publish(&p.publish, &text, path)?;
        Ok(p)
    }

    /// Parse definition text (`path` names it in errors).
    pub fn parse(text: &str, path: &Path) -> Result<Self, PipelineError> {
        let p: Self = toml::from_str(text).map_err(|e| invalid(text, path, &e))?;
        check_engine(&p.link, text, path)?;
        if let Some(code) = p
            .opt_out
            .programme_codes
            .iter()
            .find(|c| !phm_contract::snomed::sctid_ok(c))
        {
            return Err(PipelineError::Invalid {
                path: path.to_owned(),
                line: line_of_key(text, "opt_out", "programme_codes"),
                key: Some("opt_out.programme_codes".to_owned()),
                problem: format!("`{code}` is not a SNOMED CT identifier (6 to 18 digits ending in a Verhoeff check digit)"),
                hint: "copy the code again from its source: ingest quarantines a code with a wrong check digit, so this one could never opt anyone out".to_owned(),
            });
        }
        crate::share::check(&p.share, text, path)?;
        Ok(p)
    }
}

/// `[link] engine` and `scheduler` go together.
fn check_engine(link: &Link, text: &str, path: &Path) -> Result<(), PipelineError> {
    let invalid = |key: &str, problem: &str, hint: &str| PipelineError::Invalid {
        path: path.to_owned(),
        line: line_of_key(text, "link", key),
        key: Some(format!("link.{key}")),
        problem: problem.to_owned(),
        hint: hint.to_owned(),
    };
    match (link.engine, &link.scheduler) {
        (SqlEngine::Ballista, None) => Err(invalid(
            "engine",
            "the `ballista` engine needs the scheduler's address",
            "add `scheduler = \"df://host:50050\"` under `[link]`, or use `engine = \"ballista-standalone\"` for a cluster inside phm",
        )),
        (SqlEngine::Ballista, Some(s)) if !s.starts_with("df://") => Err(invalid(
            "scheduler",
            "a Ballista scheduler's address starts with `df://`",
            "write `scheduler = \"df://host:50050\"`",
        )),
        (SqlEngine::Datafusion | SqlEngine::BallistaStandalone, Some(_)) => Err(invalid(
            "scheduler",
            "a scheduler is only used by `engine = \"ballista\"`",
            "set `engine = \"ballista\"` under `[link]`, or remove `scheduler`",
        )),
        _ => Ok(()),
    }
}

/// `[publish]` settings that parse but cannot be used.
fn check_publish(publish: &Publish, text: &str, path: &Path) -> Result<(), PipelineError> {
    let invalid = |key: &str, problem: String, hint: &str| PipelineError::Invalid {
        path: path.to_owned(),
        line: line_of_key(text, "publish", key),
        key: Some(format!("publish.{key}")),
        problem,
        hint: hint.to_owned(),
    };
    if publish.rounding_base == 0 {
        return Err(invalid(
            "rounding_base",
            "0 is not a rounding base".to_owned(),
            "write `rounding_base = 5` (`OpenSAFELY`'s) or another whole number of at least 1",
        ));
    }
    if publish.suppression_threshold == 0 {
        return Err(invalid(
            "suppression_threshold",
            "0 would publish every small count".to_owned(),
            "write `suppression_threshold = 7` (`OpenSAFELY`'s) or more",
        ));
    }
    let mut seen = std::collections::BTreeMap::new();
    for (pcn, practices) in &publish.pcns {
        for practice in practices {
            if let Some(other) = seen.insert(practice, pcn) {
                return Err(invalid(
                    "pcns",
                    format!("practice `{practice}` is in PCN `{other}` and in `{pcn}`"),
                    "list each practice under one PCN",
                ));
            }
        }
    }
    Ok(())
}

/// The keys each table accepts, for hints.
const KEYS: [(&str, &[&str]); 12] = [
    ("dates", &["reference_date", "extract_date"]),
    ("inputs", &["extracts", "postcode_lookup", "key"]),
    ("outputs", &["runs", "identifiable"]),
    ("ingest", &["on_rejected_file"]),
    ("opt_out", &["programme_codes", "national_data_opt_out"]),
    (
        "link",
        &[
            "lookback_short_months",
            "lookback_long_months",
            "outcome_months",
            "memory_limit_mb",
            "spill_dir",
            "engine",
            "scheduler",
        ],
    ),
    (
        "score",
        &[
            "comorbidity_lookback_months",
            "hfrs_lookback_months",
            "medicines_lookback_months",
        ],
    ),
    ("risk", &["model", "tiers", "segments_sql", "cv_folds"]),
    ("reid", &["recipients", "bundle_tiers", "audit"]),
    (
        "publish",
        &[
            "suppression_threshold",
            "rounding_base",
            "k_anonymity",
            "pcns",
            "retention_months",
        ],
    ),
    ("schedule", &["expected", "max_extract_age_days"]),
    ("share", &["recipients"]),
];

fn invalid(text: &str, path: &Path, e: &toml::de::Error) -> PipelineError {
    let line = e
        .span()
        .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
    let table = line.and_then(|l| table_at(text, l));
    let message = e.message().trim().to_owned();
    let (key, hint) = if let Some(unknown) = between(&message, "unknown field `", "`") {
        let known = KEYS
            .iter()
            .find(|(t, _)| Some(*t) == table.as_deref())
            .map(|(_, k)| *k);
        let hint = match (table.as_deref(), known) {
            (Some(t), Some(k)) => format!(
                "`[{t}]` takes {}; remove `{unknown}` or correct its spelling",
                k.iter()
                    .map(|k| format!("`{k}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            _ => format!(
                "the tables are {}; remove `{unknown}` or correct its spelling",
                KEYS.iter()
                    .map(|(t, _)| format!("`[{t}]`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        (Some(qualify(table.as_deref(), unknown)), hint)
    } else {
        let key = line.and_then(|l| key_at(text, l));
        let hint = if message.contains("invalid type") || message.contains("invalid value") {
            "see `pipeline/demo.toml` for every key with a value of the right type".to_owned()
        } else {
            "check the TOML syntax: `key = value`, text in double quotes, tables as `[name]`"
                .to_owned()
        };
        (key.map(|k| qualify(table.as_deref(), &k)), hint)
    };
    PipelineError::Invalid {
        path: path.to_owned(),
        line,
        key,
        problem: message,
        hint,
    }
}

fn qualify(table: Option<&str>, key: &str) -> String {
    match table {
        Some(t) if !t.is_empty() => format!("{t}.{key}"),
        _ => key.to_owned(),
    }
}

fn between<'a>(s: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let from = s.find(start)? + start.len();
    let to = s[from..].find(end)? + from;
    Some(&s[from..to])
}

/// The `[table]` a 1-based line is in.
fn table_at(text: &str, line: usize) -> Option<String> {
    text.lines()
        .take(line)
        .filter_map(|l| {
            let l = l.trim();
            (l.starts_with('[') && l.ends_with(']'))
                .then(|| l.trim_matches(|c| c == '[' || c == ']').trim().to_owned())
        })
        .last()
}

/// The key written on a 1-based line (`key = ...`).
fn key_at(text: &str, line: usize) -> Option<String> {
    let l = text.lines().nth(line - 1)?;
    let (k, _) = l.split_once('=')?;
    let k = k.trim();
    (!k.is_empty() && !k.starts_with('[')).then(|| k.to_owned())
}

/// The 1-based line where `key` is written inside `[table]`.
fn line_of_key(text: &str, table: &str, key: &str) -> Option<usize> {
    let mut current = String::new();
    for (i, l) in text.lines().enumerate() {
        let t = l.trim();
        if t.starts_with('[') && t.ends_with(']') {
            t.trim_matches(|c| c == '[' || c == ']')
                .trim()
                .clone_into(&mut current);
        } else if current == table && t.split_once('=').is_some_and(|(k, _)| k.trim() == key) {
            return Some(i + 1);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        Pipeline::parse(text, Path::new("p.toml"))
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn a_programme_code_without_its_check_digit_is_refused() {
        let e = err("[opt_out]\nprogramme_codes = [\"999001000000100\"]\n");
        assert!(
            e.contains("p.toml:2") && e.contains("`999001000000100`") && e.contains("Verhoeff"),
            "{e}"
        );
        let ok = "[opt_out]\nprogramme_codes = [\"999001000000101\"]\n";
        assert!(Pipeline::parse(ok, Path::new("p.toml")).is_ok());
    }

    #[test]
    fn an_unknown_key_names_line_table_and_the_keys_it_takes() {
        let e = err("[dates]\nreference_date = \"2025-04-01\"\n\n[link]\nlookback_months = 3\n");
        assert!(
            e.contains("p.toml:5") && e.contains("`link.lookback_months`"),
            "{e}"
        );
        assert!(
            e.contains("hint:") && e.contains("`lookback_short_months`"),
            "{e}"
        );
    }

    #[test]
    fn a_wrong_type_names_line_and_key() {
        let e = err("[link]\nmemory_limit_mb = \"lots\"\n");
        assert!(
            e.contains("p.toml:2") && e.contains("`link.memory_limit_mb`"),
            "{e}"
        );
        assert!(e.contains("hint:"), "{e}");
    }

    #[test]
    fn the_engine_is_one_of_three_and_ballista_needs_a_scheduler() {
        let parse = |t: &str| Pipeline::parse(t, Path::new("p")).unwrap().link;
        assert_eq!(parse("").engine, SqlEngine::Datafusion);
        assert_eq!(
            parse("[link]\nengine = \"ballista-standalone\"\n").engine,
            SqlEngine::BallistaStandalone
        );
        let cluster = parse("[link]\nengine = \"ballista\"\nscheduler = \"df://10.0.0.5:50050\"\n");
        assert_eq!(cluster.engine, SqlEngine::Ballista);
        assert_eq!(cluster.scheduler.as_deref(), Some("df://10.0.0.5:50050"));
        for (text, line, key, says) in [
            (
                "[link]\nengine = \"spark\"\n",
                2,
                "link.engine",
                "ballista-standalone",
            ),
            (
                "[link]\nengine = \"ballista\"\n",
                2,
                "link.engine",
                "scheduler = ",
            ),
            (
                "[link]\nengine = \"ballista\"\nscheduler = \"10.0.0.5:50050\"\n",
                3,
                "link.scheduler",
                "df://",
            ),
            (
                "[link]\nscheduler = \"df://h:1\"\n",
                2,
                "link.scheduler",
                "engine = ",
            ),
        ] {
            let e = err(text);
            assert!(
                e.contains(&format!("p.toml:{line}")) && e.contains(key) && e.contains(says),
                "{text}: {e}"
            );
        }
    }

    #[test]
    fn on_rejected_file_takes_stop_or_skip() {
        let p = Pipeline::parse("[ingest]\non_rejected_file = \"skip\"\n", Path::new("p")).unwrap();
        assert_eq!(p.ingest.on_rejected_file, OnRejectedFile::Skip);
        let e = err("[ingest]\non_rejected_file = \"ignore\"\n");
        assert!(
            e.contains("p.toml:2") && e.contains("ingest.on_rejected_file"),
            "{e}"
        );
    }
}
