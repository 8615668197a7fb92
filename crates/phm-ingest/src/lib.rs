//! The identifiable zone: the only code in phm that ever sees an NHS number.
//!
//! `phm-ingest` reads every extract file against its contract, quarantines each row that
//! breaks it with one reason code (in the identifiable zone), rejects files that cannot be
//! read as their contract says, checks rows belong to the organisation that submitted the
//! file, removes opted-out patients from every extract, drops direct identifiers, generalises
//! quasi-identifiers, replaces the NHS number with a keyed BLAKE3 pseudonym, and writes the
//! pseudonymised zone as Parquet (polars) with a manifest in which, for every file,
//! `rows_in == rows_out + quarantined + opted_out`. A file that cannot be ingested at all
//! stops the ingest, or with [`OnRejectedFile::Skip`] is left out and listed in the manifest.
//!
//! Paths come from the run layout of `phm-run` ([`RunLayout`], [`IdentifiableRun`]), and every
//! file is written with its atomic writes: the identifiable zone private (folders 0700, files
//! 0600), the pseudonymised zone shared. Ingest writes straight into the two run folders it is
//! given; a caller that wants all or nothing builds them as `phm_run::PartialDir`s and commits
//! them (identifiable first) only when ingest returns `Ok`, as `phm ingest` and `phm run` do.
//! Logs carry counts and timings, never row contents or identifiers.

mod fasthash;
mod frame;
pub mod generalise;
pub mod key;
pub mod manifest;
pub mod optout;
mod pool;
pub mod pseudo;
pub mod read;
pub mod reuse;
mod seen;
pub mod source;
pub mod validate;

use std::collections::BTreeMap;
use std::fs;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, mpsc};
use std::time::Instant;

use phm_contract::date::Day;
use phm_contract::{Contract, Contracts, Reason};
use phm_run::{AtomicFile, Privacy};
use polars::prelude::*;
use polars_arrow::datatypes::ArrowSchema;
use polars_arrow::record_batch::RecordBatchT;
use polars_parquet::write::{
    CompressionOptions, FileWriter, StatisticsOptions, Version, WriteOptions, ZstdLevel,
    row_group_iter,
};

use crate::generalise::PostcodeLookup;
pub use crate::key::{KeyError, PseudonymKey};
pub use crate::manifest::{FileReport, Manifest, RejectedFile};
use crate::optout::{EventScan, OptOuts, Type1Codes};
pub use crate::reuse::EarlierRun;
use crate::validate::{Row, Validator};
pub use phm_run::{IdentifiableRun, OnRejectedFile, RunLayout};

/// What to ingest and where to put it.
#[derive(Debug, Clone)]
pub struct IngestConfig {
    /// Folder holding `<extract>/<submitter ODS code>.csv` (or `.csv.gz`, gzip-compressed).
    pub extracts: PathBuf,
    /// Postcode lookup (`postcode,lsoa_code,imd_decile`); without one, postcodes become
    /// districts.
    pub postcode_lookup: Option<PathBuf>,
    /// Reference date: ages are computed on it.
    pub reference_date: Day,
    /// The day the extracts were taken: later dates are quarantined as `date_in_future`.
    pub extract_date: Day,
    /// The pseudonymised zone's run folder: ingest writes `pseudonymised/<extract>/<ODS>.parquet`
    /// and `ingest-manifest.json` into it.
    pub out: RunLayout,
    /// The identifiable zone's run folder: ingest writes `quarantine/<extract>/<ODS>.parquet`
    /// into it, folders 0700 and files 0600.
    pub identifiable: IdentifiableRun,
    /// Local programme opt-out codes (SNOMED CT) from the pipeline definition.
    pub programme_opt_out_codes: Vec<String>,
    /// Whether the flow applies the national data opt-out list.
    pub national_opt_out: bool,
    /// What to do with a file that cannot be ingested at all: stop (the default), or leave it
    /// out, ingest the rest and list it in [`Manifest::rejected_files`].
    pub on_rejected_file: OnRejectedFile,
    /// Practices' public recipients (ODS code → recipient): each practice's registrations
    /// become its vault (`vault/<ODS>.age` in the identifiable zone), encrypted to it alone.
    /// A practice without one gets no vault.
    pub vault_recipients: BTreeMap<String, phm_reid::PracticeRecipient>,
    /// Earlier runs whose outputs a file may reuse when nothing it depends on changed
    /// ([`reuse`]); empty reads every file.
    pub earlier: Vec<EarlierRun>,
}

/// Why ingest stopped.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// A practice's vault could not be sealed.
    #[error("cannot seal the vault of `{file}`: {message}")]
    Vault {
        /// The registrations file.
        file: String,
        /// Why.
        message: String,
    },
    /// No extract files found.
    #[error(
        "no extract files under `{0}`\nhint: point `--extracts` at the folder that holds `<extract>/<ODS code>.csv` (e.g. `gp_events/A81001.csv`)"
    )]
    NoExtracts(PathBuf),
    /// Whole files rejected (with [`OnRejectedFile::Stop`], or when no file is left to ingest).
    #[error("{}", rejected_message(
        "extract file(s) rejected; nothing was ingested",
        .0,
        "fix or remove the file(s), or set `on_rejected_file = \"skip\"` (`--on-rejected-file skip`) to ingest the rest and list them",
    ))]
    Rejected(Vec<RejectedFile>),
    /// With [`OnRejectedFile::Skip`], a rejected file is one opt-outs are read from: skipping
    /// it could let patients who opted out through it into the pseudonymised zone.
    #[error("{}", rejected_message(
        "file(s) that opt-outs are read from rejected; they are never skipped, as patients who opted out in them could then be ingested from other extracts; nothing was ingested",
        .0,
        "fix or replace the file(s): `on_rejected_file = \"skip\"` skips other extracts' files only",
    ))]
    OptOutSourceRejected(Vec<RejectedFile>),
    /// A contract opt-outs are read from is not among the contracts.
    #[error(
        "no contract `{contract}` in schemas/, and opt-outs are read from its files; patients who opted out could be ingested, so nothing was ingested\nhint: restore `schemas/{contract}.toml`"
    )]
    OptOutContractAbsent {
        /// The contract.
        contract: String,
    },
    /// A contract opt-outs are read from lacks the columns they are read from.
    #[error(
        "contract `{contract}` lacks {}, which opt-outs are read from; patients who opted out could be ingested, so nothing was ingested\nhint: restore the column(s) in `schemas/{contract}.toml`, or change `crates/phm-ingest/src/optout.rs` with the contract",
        missing.join(" and ")
    )]
    OptOutColumnsMissing {
        /// The contract.
        contract: String,
        /// The columns, each with what it must be.
        missing: Vec<String>,
    },
    /// The flow applies the national data opt-out, but no list was sent.
    #[error(
        "the national data opt-out applies to this flow, but there is no `{}/<ODS code>.csv` under `{extracts}`; nothing was ingested\nhint: add the list NHS England sent (for example `{}/X26.csv`), or set `national_data_opt_out = false` if the flow does not need it",
        optout::NATIONAL_LIST,
        optout::NATIONAL_LIST
    )]
    NoOptOutList {
        /// The extracts folder.
        extracts: PathBuf,
    },
    /// Reading or writing failed.
    #[error("cannot use `{path}`: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The postcode lookup is unusable.
    #[error(transparent)]
    Lookup(#[from] generalise::LookupError),
    /// polars failed while building or writing a dataset.
    #[error("writing `{file}` failed: {message}")]
    Polars {
        /// The dataset being written.
        file: String,
        /// polars' message (it never contains row values).
        message: String,
    },
    /// Counts do not add up.
    #[error(
        "rows do not add up for `{0}`: rows_in != rows_out + quarantined + opted_out; nothing was written\nhint: this is a bug in phm; please report it with the manifest counts"
    )]
    Conservation(String),
}

fn rejected_message(what: &str, r: &[RejectedFile], hint: &str) -> String {
    use std::fmt::Write as _;
    let mut s = format!("{} {what}", r.len());
    for x in r {
        let _ = write!(
            s,
            "
  `{}`: {}
    hint: {}",
            x.file, x.problem, x.hint
        );
    }
    let _ = write!(s, "\nhint: {hint}");
    s
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> IngestError + '_ {
    move |source| IngestError::Io {
        path: path.to_owned(),
        source,
    }
}

/// One extract file found.
#[derive(Debug, Clone)]
struct Input {
    extract: String,
    submitter: String,
    path: PathBuf,
    rel: String,
    /// Size in bytes when discovered (for scheduling and sizing; 0 if unknown).
    bytes: u64,
}

/// A rejected file (its size and lines are measured at the end, once).
fn rejection(
    rel: String,
    extract: &str,
    name: &str,
    problem: impl Into<String>,
    hint: impl Into<String>,
) -> RejectedFile {
    RejectedFile {
        file: rel,
        extract: extract.to_owned(),
        submitter: source::submitter(name).unwrap_or(name).to_owned(),
        problem: problem.into(),
        hint: hint.into(),
        bytes: 0,
        lines: 0,
    }
}

fn discover(
    dir: &Path,
    contracts: &Contracts,
) -> Result<(Vec<Input>, Vec<RejectedFile>), IngestError> {
    let mut inputs = Vec::new();
    let mut rejected = Vec::new();
    let entries = fs::read_dir(dir).map_err(io(dir))?;
    let mut folders: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    folders.sort();
    for folder in folders {
        let extract = folder
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let mut files: Vec<PathBuf> = fs::read_dir(&folder)
            .map_err(io(&folder))?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        let known = contracts.get(&extract).is_ok();
        let names: Vec<String> = files
            .iter()
            .map(|p| {
                p.file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        let twice = |stem: &str| {
            names
                .iter()
                .filter(|n| source::submitter(n) == Some(stem))
                .count()
                > 1
        };
        for (path, name) in files.into_iter().zip(&names) {
            let rel = format!("{extract}/{name}");
            match source::submitter(name) {
                _ if !known => rejected.push(rejection(
                    rel,
                    &extract,
                    name,
                    format!("no contract in schemas/ for an extract named `{extract}`"),
                    format!(
                        "known extracts are {}; move the file or add a contract",
                        contracts.names().join(", ")
                    ),
                )),
                Some(stem) if known && twice(stem) => rejected.push(rejection(
                    rel,
                    &extract,
                    name,
                    format!("`{stem}` sent this extract twice (as `{stem}.csv` and `{stem}.csv.gz`)"),
                    "keep the one file the submitter means and move the other out",
                )),
                Some(stem) => inputs.push(Input {
                    extract: extract.clone(),
                    submitter: stem.to_owned(),
                    bytes: fs::metadata(&path).map_or(0, |m| m.len()),
                    path,
                    rel,
                }),
                _ => rejected.push(rejection(
                    rel,
                    &extract,
                    name,
                    "not a `.csv` (or gzip-compressed `.csv.gz`) file named after its submitter",
                    "name each file `<ODS code of the submitter>.csv`, or `.csv.gz` when compressed",
                )),
            }
        }
    }
    Ok((inputs, rejected))
}

/// How many files of each extract are under `extracts` (for progress reporting).
pub fn plan(extracts: &Path) -> Result<BTreeMap<String, usize>, IngestError> {
    let (inputs, _) = discover(extracts, &Contracts::builtin())?;
    let mut counts = BTreeMap::new();
    for i in inputs {
        *counts.entry(i.extract).or_default() += 1;
    }
    Ok(counts)
}

/// Run ingest into `cfg.out` and `cfg.identifiable`. `progress` is told about each file as
/// it finishes.
///
/// On an error, files already finished stay in the two run folders: build them as
/// `phm_run::PartialDir`s, dropped on an error, for all or nothing.
pub fn ingest(
    cfg: &IngestConfig,
    key: &PseudonymKey,
    progress: &(dyn Fn(&FileReport) + Sync),
) -> Result<Manifest, IngestError> {
    let started = Instant::now();
    let contracts = Contracts::builtin();
    // The contracts opt-outs are read from are checked before any file is read.
    let type1 = Type1Codes::builtin();
    let events = EventScan::new(
        optout::source(&contracts, optout::EVENTS)?,
        &type1,
        &cfg.programme_opt_out_codes,
        cfg.extract_date,
    )?;
    let national = optout::national_list(&contracts, cfg.national_opt_out)?;
    let opt_out_source =
        |extract: &str| extract == events.extract() || national.is_some_and(|c| c.name == extract);
    let (mut inputs, mut rejected) = discover(&cfg.extracts, &contracts)?;
    if inputs.is_empty() && rejected.is_empty() {
        return Err(IngestError::NoExtracts(cfg.extracts.clone()));
    }
    if let Some(list) = national
        && !inputs.iter().any(|i| i.extract == list.name)
        && !rejected.iter().any(|r| r.extract == list.name)
    {
        return Err(IngestError::NoOptOutList {
            extracts: cfg.extracts.clone(),
        });
    }
    // Largest files first, so no worker is left with one big file at the end while the
    // others idle (reports are sorted by file afterwards).
    inputs.sort_by_key(|i| std::cmp::Reverse(i.bytes));
    let lookup = match &cfg.postcode_lookup {
        Some(p) => PostcodeLookup::load(p)?,
        None => PostcodeLookup::empty(),
    };
    let opt_outs = collect_opt_outs(&events, national, cfg.extract_date, &inputs)?;
    let decisions = opt_outs.decide();
    tracing::info!(files = inputs.len(), "opt-outs collected");
    let reuse = reuse::Reuse::new(cfg, key, &decisions)?;
    let (reused, inputs) = reuse_files(cfg, &reuse, inputs)?;
    for report in &reused {
        progress(report);
    }

    let (finish, finishing) = mpsc::channel();
    let (results, finished) = std::thread::scope(|s| {
        // Written files are made durable and renamed into place on a thread of their own,
        // so the workers do not wait for the disk.
        let finisher = s.spawn(move || finish_files(&finishing));
        let ctx = FileContext {
            cfg,
            key,
            lookup: &lookup,
            opt_outs: &decisions,
            finish,
        };
        let results: Vec<Result<FileReport, FileFailure>> =
            pool::map(&inputs, pool::workers(), |input| {
                let contract = contracts
                    .get(&input.extract)
                    .expect("discovered extracts have contracts");
                let mut r = process_file(&ctx, contract, input);
                if let Ok(report) = &mut r {
                    report.reuse_key = reuse.key(cfg, input, &report.input_blake3);
                    progress(report);
                }
                r
            });
        drop(ctx);
        (results, finisher.join())
    });
    let finished = finished.unwrap_or_else(|panic| std::panic::resume_unwind(panic));
    let mut reports = reused;
    let mut failure = None;
    for r in results {
        match r {
            Ok(report) => reports.push(report),
            Err(FileFailure::Rejected(x)) => rejected.push(*x),
            Err(FileFailure::Fatal(e)) => failure = failure.or(Some(e)),
        }
    }
    if let Some(e) = failure.or(finished.err()) {
        return Err(e);
    }
    if !rejected.is_empty() {
        for r in &mut rejected {
            (r.bytes, r.lines) = measure(&cfg.extracts.join(&r.file));
            // A rejected file's dataset was never finished; its extract's folder goes too
            // when nothing else is in it (every worker has stopped, so nothing races this).
            let _ = fs::remove_dir(cfg.out.extract_dir(&r.extract));
        }
        rejected.sort_by(|a, b| a.file.cmp(&b.file));
        let sources: Vec<RejectedFile> = rejected
            .iter()
            .filter(|r| opt_out_source(&r.extract))
            .cloned()
            .collect();
        match cfg.on_rejected_file {
            OnRejectedFile::Skip if !sources.is_empty() => {
                return Err(IngestError::OptOutSourceRejected(sources));
            }
            OnRejectedFile::Skip if !reports.is_empty() => {
                tracing::warn!(files = rejected.len(), "files rejected and left out");
            }
            OnRejectedFile::Stop | OnRejectedFile::Skip => {
                return Err(IngestError::Rejected(rejected));
            }
        }
    }
    if let Some(bad) = reports.iter().find(|r| !r.conserves()) {
        return Err(IngestError::Conservation(bad.file.clone()));
    }
    reports.sort_by(|a, b| a.file.cmp(&b.file));
    let manifest = Manifest::new(cfg, key, &opt_outs, reports, rejected);
    let path = cfg.out.ingest_manifest();
    manifest.write(&path).map_err(io(&path))?;
    tracing::info!(
        seconds = started.elapsed().as_secs_f64(),
        rows_in = manifest.totals.rows_in,
        rows_out = manifest.totals.rows_out,
        rejected_files = manifest.rejected_files.len(),
        "ingest finished"
    );
    Ok(manifest)
}

/// The files whose outputs an earlier run already holds, linked into this run with their
/// reports, and the files left to ingest (each file hashed in parallel; nothing is hashed
/// when no earlier run offers a file).
fn reuse_files(
    cfg: &IngestConfig,
    reuse: &reuse::Reuse,
    inputs: Vec<Input>,
) -> Result<(Vec<FileReport>, Vec<Input>), IngestError> {
    if !reuse.offers_any() {
        return Ok((Vec::new(), inputs));
    }
    let found = pool::map(&inputs, pool::workers(), |input| reuse.reuse(cfg, input));
    let mut reused = Vec::new();
    let mut rest = Vec::new();
    for (input, found) in inputs.into_iter().zip(found) {
        match found? {
            Some(report) => reused.push(report),
            None => rest.push(input),
        }
    }
    tracing::info!(
        reused = reused.len(),
        to_ingest = rest.len(),
        "earlier outputs reused"
    );
    Ok((reused, rest))
}

/// A file's size and physical lines (line ends, and one more for a last line without one),
/// of its CSV text (decompressed, for a `.csv.gz`); what cannot be read counts as nothing.
fn measure(path: &Path) -> (u64, u64) {
    let Ok(mut file) = source::Source::open_unhashed(path) else {
        return (0, 0);
    };
    let mut buf = vec![0; 1 << 16];
    let (mut bytes, mut lines, mut last) = (0, 0, b'\n');
    loop {
        match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                bytes += n as u64;
                lines += memchr::memchr_iter(b'\n', &buf[..n]).count() as u64;
                last = buf[n - 1];
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    (bytes, lines + u64::from(last != b'\n'))
}

fn collect_opt_outs(
    events: &EventScan<'_>,
    national: Option<&Contract>,
    extract_date: Day,
    inputs: &[Input],
) -> Result<OptOuts, IngestError> {
    let scans: Vec<OptOuts> = pool::map(
        inputs,
        pool::workers(),
        |input| -> Result<OptOuts, IngestError> {
            let mut found = OptOuts::default();
            if input.extract == events.extract() {
                let file = source::Source::open_unhashed(&input.path).map_err(io(&input.path))?;
                events
                    .scan(&input.submitter, file, &mut found)
                    .map_err(io(&input.path))?;
            } else if let Some(list) = national.filter(|c| c.name == input.extract) {
                let file = source::Source::open_unhashed(&input.path).map_err(io(&input.path))?;
                scan_national(list, input, extract_date, file, &mut found)
                    .map_err(io(&input.path))?;
            }
            Ok(found)
        },
    )
    .into_iter()
    .collect::<Result<_, _>>()?;
    Ok(scans.into_iter().fold(OptOuts::default(), OptOuts::merge))
}

/// Add every valid row of the national data opt-out list (a file that is not CSV is left to
/// the ingest pass, which rejects it).
fn scan_national(
    contract: &Contract,
    input: &Input,
    extract_date: Day,
    file: source::Source,
    found: &mut OptOuts,
) -> std::io::Result<()> {
    let validator = Validator::new(contract, &input.submitter, extract_date);
    let mut row = Row::default();
    read::for_each_line(file, |line| {
        if validator.check_line(&line, &mut row).is_ok() {
            found.add_national(row.nhs());
        }
    })
}

struct FileContext<'a> {
    cfg: &'a IngestConfig,
    key: &'a PseudonymKey,
    lookup: &'a PostcodeLookup,
    opt_outs: &'a optout::Decisions,
    /// Where written files go to be committed (made durable and renamed into place).
    finish: mpsc::Sender<AtomicFile>,
}

/// Commit every file sent, in turn; the first failure is reported (and the run fails).
fn finish_files(files: &mpsc::Receiver<AtomicFile>) -> Result<(), IngestError> {
    let mut result = Ok(());
    for file in files {
        let dest = file.dest().to_owned();
        result = result.and(file.commit().map_err(io(&dest)));
    }
    result
}

enum FileFailure {
    Rejected(Box<RejectedFile>),
    Fatal(IngestError),
}

impl From<IngestError> for FileFailure {
    fn from(e: IngestError) -> Self {
        FileFailure::Fatal(e)
    }
}

fn reject(input: &Input, problem: impl Into<String>, hint: impl Into<String>) -> FileFailure {
    FileFailure::Rejected(Box::new(RejectedFile {
        file: input.rel.clone(),
        extract: input.extract.clone(),
        submitter: input.submitter.clone(),
        problem: problem.into(),
        hint: hint.into(),
        bytes: 0,
        lines: 0,
    }))
}

/// 128-bit hashes (xxh3) of the lines kept so far in a file, to find duplicate rows without
/// keeping the lines. Two different lines share a hash with probability about 2^-128 per
/// pair; were it ever to happen, the later row would be quarantined, not lost.
type LineHashes = seen::SeenHashes;

/// Hashes (xxh3, 128 bits) of the unique keys of the rows kept so far in a file, when its
/// contract has a key. The NHS number counts in its normalised form, so `999 000 1235` and
/// `9990001235` are one key.
struct UniqueKeys {
    columns: Vec<usize>,
    nhs: usize,
    seen: LineHashes,
    buffer: Vec<u8>,
}

impl UniqueKeys {
    fn new(contract: &Contract) -> Option<Self> {
        let columns = contract.unique_key_indices();
        (!columns.is_empty()).then(|| UniqueKeys {
            columns,
            nhs: contract.nhs_number_index(),
            seen: LineHashes::with_capacity(1024),
            buffer: Vec::new(),
        })
    }

    /// Whether the row's key is new (and now seen).
    fn insert(&mut self, row: &Row) -> bool {
        self.buffer.clear();
        for &i in &self.columns {
            let value: &[u8] = if i == self.nhs {
                row.nhs().expose_digits()
            } else {
                row.field(i).as_bytes()
            };
            // Each value after its length, so two keys cannot run together into one.
            self.buffer.extend_from_slice(&value.len().to_le_bytes());
            self.buffer.extend_from_slice(value);
        }
        self.seen.insert(xxhash_rust::xxh3::xxh3_128(&self.buffer))
    }
}

/// Rows per Parquet batch (one row group each). A GP practice's file of a year's events
/// fits in one, so each patient's pseudonym goes into its dictionary once.
const BATCH: usize = 262_144;

/// Lines whose duplicate-set slots are loaded together.
const CHUNK: usize = 256;

fn process_file(
    ctx: &FileContext<'_>,
    contract: &Contract,
    input: &Input,
) -> Result<FileReport, FileFailure> {
    let started = Instant::now();
    let span = tracing::info_span!("ingest_file", file = %input.rel);
    let _enter = span.enter();
    let unreadable = |e: std::io::Error| {
        let hint = if e.kind() == std::io::ErrorKind::InvalidData {
            "ask the submitter to send the extract again"
        } else {
            "check the file exists and phm may read it"
        };
        reject(input, format!("cannot be read: {e}"), hint)
    };
    let file = source::Source::open(&input.path).map_err(unreadable)?;
    let (mut reader, header) = read::LineReader::open(file).map_err(|e| match e {
        read::OpenError::Io(e) => unreadable(e),
        read::OpenError::Fault(read::FileFault::Empty) => reject(
            input,
            "is empty (no header line)",
            "ask the submitter to send the extract again",
        ),
        read::OpenError::Fault(read::FileFault::HeaderNotText) => reject(
            input,
            "does not start with a text header; it may be binary or corrupt",
            "check the file is the CSV extract the contract describes",
        ),
    })?;
    check_header(contract, &header).map_err(|(problem, hint)| reject(input, problem, hint))?;

    let control_list = contract.submitter_index().is_none();
    let validator = Validator::new(contract, &input.submitter, ctx.cfg.extract_date);
    let mut report = FileReport::new(
        input.rel.clone(),
        input.extract.clone(),
        input.submitter.clone(),
        String::new(),
        0,
    );
    let mut row = Row::default();
    // About 40 bytes a row: sized once, not regrown.
    let expected_rows = input.bytes / 40;
    let mut seen = LineHashes::with_capacity(usize::try_from(expected_rows).unwrap_or(0));
    let mut keys = UniqueKeys::new(contract);
    let mut quarantine = Quarantine::default();
    let mut amended = Quarantine::default();
    let batch_rows = usize::try_from(expected_rows).map_or(BATCH, |n| n.clamp(1024, BATCH));
    let mut frame = frame::Frame::new(
        contract,
        &input.submitter,
        ctx.cfg.reference_date,
        batch_rows,
    );
    let mut pseudonymiser = pseudo::Pseudonymiser::new(ctx.key);
    let mut vault = VaultRows::new(ctx, contract, &input.submitter);
    let out_path = ctx.cfg.out.extract_file(&input.extract, &input.submitter);
    let mut writer: Option<ParquetSink> = None;
    while let Some(block) = reader.next_block().map_err(unreadable)? {
        // A few hundred lines at a time: their hashes first, and the duplicate set's slots
        // for them loaded together (the loads overlap), then each line in turn.
        let mut lines = block.lines().peekable();
        let mut chunk = Vec::with_capacity(CHUNK);
        while lines.peek().is_some() {
            chunk.clear();
            chunk.extend(lines.by_ref().take(CHUNK).map(|line| {
                let hash = xxhash_rust::xxh3::xxh3_128(line.raw);
                (line, hash)
            }));
            seen.warm(chunk.iter().map(|(_, hash)| *hash));
            for (line, hash) in &chunk {
                report.rows_in += 1;
                if let Err(fault) = validator.check_line(line, &mut row) {
                    quarantine.push(
                        line.number,
                        fault.reason,
                        fault.column.map(|c| contract.columns[c].name.as_str()),
                        line.raw,
                    );
                    report.quarantine(fault.reason);
                    continue;
                }
                if !seen.insert(*hash) {
                    quarantine.push(line.number, Reason::DuplicateRow, None, line.raw);
                    report.quarantine(Reason::DuplicateRow);
                    continue;
                }
                if let Some(keys) = keys.as_mut()
                    && !keys.insert(&row)
                {
                    quarantine.push(line.number, Reason::DuplicateKey, None, line.raw);
                    report.quarantine(Reason::DuplicateKey);
                    continue;
                }
                if control_list {
                    report.opt_out("opt_out_list_entry");
                    continue;
                }
                if let Some(reason) = ctx.opt_outs.reason(row.nhs()) {
                    report.opt_out(reason.code());
                    continue;
                }
                if let Some(v) = vault.as_mut() {
                    v.push(&row, &mut pseudonymiser);
                }
                if let Some((column, n)) = frame.push(&row, &mut pseudonymiser, ctx.lookup) {
                    report.codes_dropped += n;
                    let name = contract.columns[column].name.as_str();
                    amended.push(line.number, Reason::ValueInvalid, Some(name), line.raw);
                }
                report.rows_out += 1;
                if frame.len() >= BATCH {
                    write_batch(&mut writer, &out_path, &mut frame, &input.rel)?;
                }
            }
        }
        drop((chunk, lines));
        reader.recycle(block);
    }
    report.input_blake3 = reader
        .get_ref()
        .digest()
        .expect("extracts are opened hashed")
        .to_hex()
        .to_string();
    if let Some(wrong) = report
        .quarantined
        .get(Reason::WrongSubmitter.code())
        .filter(|n| **n * 2 > report.rows_in)
    {
        return Err(reject(
            input,
            format!(
                "{wrong} of {} rows name an organisation other than `{}`",
                report.rows_in, input.submitter
            ),
            format!(
                "check the file is in the right folder and named after its submitter (`{}/<ODS code>.csv`)",
                input.extract
            ),
        ));
    }
    if !control_list {
        // Every file gets a dataset, even when every row was quarantined or opted out.
        if writer.is_none() || !frame.is_empty() {
            write_batch(&mut writer, &out_path, &mut frame, &input.rel)?;
        }
        if let Some(w) = writer.take() {
            w.finish(&input.rel, &ctx.finish)?;
        }
    }
    if let Some(v) = vault {
        v.seal(ctx, &input.rel)?;
    }
    if !amended.is_empty() {
        let path = ctx
            .cfg
            .identifiable
            .amended_file(&input.extract, &input.submitter);
        amended.write(&path, &input.rel, &ctx.finish)?;
    }
    if !quarantine.is_empty() {
        let q_path = ctx
            .cfg
            .identifiable
            .quarantine_file(&input.extract, &input.submitter);
        quarantine.write(&q_path, &input.rel, &ctx.finish)?;
    }
    tracing::info!(
        rows_in = report.rows_in,
        rows_out = report.rows_out,
        quarantined = report.quarantined_total(),
        opted_out = report.opted_out_total(),
        seconds = started.elapsed().as_secs_f64(),
        "file ingested"
    );
    Ok(report)
}

/// A practice's registrations, gathered for its vault while the file is read.
struct VaultRows<'a> {
    recipient: &'a phm_reid::PracticeRecipient,
    practice: String,
    /// Columns: given name, family name, date of birth, sex.
    columns: [usize; 4],
    records: Vec<phm_reid::vault::VaultRecord>,
}

impl<'a> VaultRows<'a> {
    /// Only for a registrations extract whose practice has a recipient.
    fn new(ctx: &FileContext<'a>, contract: &Contract, submitter: &str) -> Option<Self> {
        if contract.name != "gp_registrations" {
            return None;
        }
        let recipient = ctx.cfg.vault_recipients.get(submitter)?;
        let at = |name: &str| contract.columns.iter().position(|c| c.name == name);
        let columns = [
            at("given_name")?,
            at("family_name")?,
            at("date_of_birth")?,
            at("sex")?,
        ];
        Some(VaultRows {
            recipient,
            practice: submitter.to_owned(),
            columns,
            records: Vec::new(),
        })
    }

    fn push(&mut self, row: &Row, pseudonymiser: &mut pseudo::Pseudonymiser<'_>) {
        let [given, family, dob, sex] = self.columns.map(|c| row.field(c).trim().to_owned());
        self.records.push(phm_reid::vault::VaultRecord {
            pseudonym: pseudonymiser.pseudonym(row.nhs()).as_str().to_owned(),
            nhs_number: *row.nhs(),
            family_name: family,
            given_name: given,
            date_of_birth: dob,
            sex,
        });
    }

    /// Encrypt and hand the vault to the committer.
    fn seal(mut self, ctx: &FileContext<'_>, rel: &str) -> Result<(), FileFailure> {
        // The audit log's subject-hash key, derived from the pseudonymisation key: the practice
        // hashes whom it re-identified with it; `phm sar` finds them with the same key.
        let audit_key = ctx.key.derive(phm_reid::audit::SUBJECT_KEY_CONTEXT);
        let sealed = phm_reid::vault::seal(
            &self.practice,
            &audit_key,
            &mut self.records,
            self.recipient,
        )
        .map_err(|e| IngestError::Vault {
            file: rel.to_owned(),
            message: e.to_string(),
        })?;
        let dest = ctx.cfg.identifiable.vault_file(&self.practice);
        let write = || -> std::io::Result<AtomicFile> {
            phm_run::atomic::create_dir_all(&ctx.cfg.identifiable.vaults(), Privacy::Private)?;
            let mut file = AtomicFile::create(&dest, Privacy::Private)?;
            std::io::Write::write_all(&mut file, &sealed)?;
            Ok(file)
        };
        let file = write().map_err(io(&dest))?;
        send(&ctx.finish, file)?;
        Ok(())
    }
}

fn check_header(contract: &Contract, header: &[String]) -> Result<(), (String, String)> {
    let expected = contract.column_names();
    if header
        .iter()
        .map(String::as_str)
        .eq(expected.iter().copied())
    {
        return Ok(());
    }
    let missing: Vec<&str> = expected
        .iter()
        .copied()
        .filter(|c| !header.iter().any(|h| h == c))
        .collect();
    let problem = if missing.is_empty() {
        format!(
            "header is `{}`, but the contract has `{}`",
            header.join(","),
            expected.join(",")
        )
    } else {
        format!(
            "header lacks column(s) {} that the `{}` contract requires",
            missing
                .iter()
                .map(|m| format!("`{m}`"))
                .collect::<Vec<_>>()
                .join(", "),
            contract.name
        )
    };
    Err((
        problem,
        format!(
            "ask the submitter for the columns in schemas/{}.toml, in that order",
            contract.name
        ),
    ))
}

/// A Parquet file of the pseudonymised zone being written batch by batch (one row group a
/// batch), under a temporary name until committed; dropped unfinished (a file rejected late),
/// it leaves nothing.
struct ParquetSink {
    schema: Arc<ArrowSchema>,
    writer: FileWriter<AtomicFile>,
    options: WriteOptions,
}

fn polars_err(file: &str) -> impl FnOnce(PolarsError) -> IngestError + '_ {
    move |e| IngestError::Polars {
        file: file.to_owned(),
        message: e.to_string(),
    }
}

fn write_batch(
    writer: &mut Option<ParquetSink>,
    dest: &Path,
    frame: &mut frame::Frame,
    rel: &str,
) -> Result<(), IngestError> {
    if writer.is_none() {
        *writer = Some(ParquetSink::create(dest, frame.schema().clone(), rel)?);
    }
    let sink = writer.as_mut().expect("created above");
    sink.write(frame.take()).map_err(polars_err(rel))
}

impl ParquetSink {
    fn create(dest: &Path, schema: Arc<ArrowSchema>, rel: &str) -> Result<Self, IngestError> {
        let file = AtomicFile::create(dest, Privacy::Shared).map_err(io(dest))?;
        let options = WriteOptions {
            statistics: StatisticsOptions::default(),
            compression: CompressionOptions::Zstd(Some(
                ZstdLevel::try_new(1).map_err(polars_err(rel))?,
            )),
            version: Version::V1,
            data_page_size: None,
        };
        let writer =
            FileWriter::try_new(file, schema.as_ref().clone(), options).map_err(polars_err(rel))?;
        Ok(ParquetSink {
            schema,
            writer,
            options,
        })
    }

    fn write(&mut self, batch: frame::Batch) -> PolarsResult<()> {
        if batch.len == 0 {
            // A file with no rows out is its schema and no row group (an empty row group
            // would have column chunks without pages, which some readers refuse).
            return Ok(());
        }
        let fields = self.writer.parquet_schema().fields().to_vec();
        let encodings = batch.encodings.into_iter().map(|e| vec![e]).collect();
        let chunk = RecordBatchT::try_new(batch.len, self.schema.clone(), batch.arrays)?;
        let group = row_group_iter(chunk, encodings, fields, self.options);
        self.writer.write(batch.len as u64, group)
    }

    fn finish(mut self, rel: &str, finish: &mpsc::Sender<AtomicFile>) -> Result<(), IngestError> {
        self.writer.end(None).map_err(polars_err(rel))?;
        send(finish, self.writer.into_inner())
    }
}

fn send(finish: &mpsc::Sender<AtomicFile>, file: AtomicFile) -> Result<(), IngestError> {
    finish.send(file).map_err(|unsent| IngestError::Io {
        path: unsent.0.dest().to_owned(),
        source: std::io::Error::other("the thread finishing files has stopped"),
    })
}

/// Quarantined rows of one file (identifiable zone: written private, 0600 in 0700 folders).
#[derive(Default)]
struct Quarantine {
    lines: Vec<u64>,
    reasons: Vec<&'static str>,
    columns: Vec<Option<String>>,
    raw: Vec<Vec<u8>>,
}

impl Quarantine {
    fn push(&mut self, line: u64, reason: Reason, column: Option<&str>, raw: &[u8]) {
        self.lines.push(line);
        self.reasons.push(reason.code());
        self.columns.push(column.map(str::to_owned));
        self.raw.push(raw.to_vec());
    }

    fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    fn write(
        self,
        dest: &Path,
        rel: &str,
        finish: &mpsc::Sender<AtomicFile>,
    ) -> Result<(), IngestError> {
        let n = self.lines.len();
        let mut raw = BinaryChunkedBuilder::new("raw".into(), n);
        for r in &self.raw {
            raw.append_value(r.as_slice());
        }
        let columns = vec![
            Series::new("file".into(), vec![rel; n]).into_column(),
            Series::new("line".into(), self.lines).into_column(),
            Series::new("reason".into(), self.reasons).into_column(),
            Series::new("column".into(), self.columns).into_column(),
            raw.finish().into_series().into_column(),
        ];
        let mut df = DataFrame::new(n, columns).map_err(polars_err(rel))?;
        let mut file = AtomicFile::create(dest, Privacy::Private).map_err(io(dest))?;
        ParquetWriter::new(&mut file)
            .with_compression(ParquetCompression::Zstd(None))
            .finish(&mut df)
            .map_err(polars_err(rel))?;
        send(finish, file)
    }
}

/// Counts per key, sorted.
pub type Counts = BTreeMap<String, u64>;

/// Every code list ingest uses, as (`codelists/...` path, text): what a run records it used.
pub fn sources() -> Vec<(String, &'static str)> {
    vec![(
        "codelists/opt-out-codes.csv".to_owned(),
        optout::OPT_OUT_CODES,
    )]
}
