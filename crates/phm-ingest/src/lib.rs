//! The identifiable zone: the only code in phm that ever sees an NHS number.
//!
//! `phm-ingest` reads every extract file against its contract, quarantines each row that
//! breaks it with one reason code (in the identifiable zone), rejects files that cannot be
//! read as their contract says, checks rows belong to the organisation that submitted the
//! file, removes opted-out patients from every extract, drops direct identifiers, generalises
//! quasi-identifiers, replaces the NHS number with a keyed BLAKE3 pseudonym, and writes the
//! pseudonymised zone as Parquet (polars) with a manifest in which, for every file,
//! `rows_in == rows_out + quarantined + opted_out`. Both zones are built in `.partial` folders
//! and renamed into place only when complete. Logs carry counts and timings, never row
//! contents or identifiers.

mod fasthash;
mod frame;
pub mod generalise;
pub mod key;
pub mod manifest;
pub mod optout;
mod pool;
pub mod pseudo;
pub mod read;
mod seen;
pub mod validate;

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::{Arc, mpsc};
use std::time::Instant;

use phm_contract::date::Day;
use phm_contract::{Contract, Contracts, Reason};
use polars::prelude::*;
use polars_arrow::datatypes::ArrowSchema;
use polars_arrow::record_batch::RecordBatchT;
use polars_parquet::write::{
    CompressionOptions, FileWriter, StatisticsOptions, Version, WriteOptions, ZstdLevel,
    row_group_iter,
};

use crate::generalise::PostcodeLookup;
pub use crate::key::{KeyError, PseudonymKey};
pub use crate::manifest::{FileReport, Manifest};
use crate::optout::{OptOuts, Type1Codes};
use crate::validate::{Row, Validator};

/// What to ingest and where to put it.
#[derive(Debug, Clone)]
pub struct IngestConfig {
    /// Folder holding `<extract>/<submitter ODS code>.csv`.
    pub extracts: PathBuf,
    /// Postcode lookup (`postcode,lsoa_code,imd_decile`); without one, postcodes become
    /// districts.
    pub postcode_lookup: Option<PathBuf>,
    /// Reference date: ages are computed on it.
    pub reference_date: Day,
    /// The day the extracts were taken: later dates are quarantined as `date_in_future`.
    pub extract_date: Day,
    /// Pseudonymised zone output (`pseudonymised/<extract>/<submitter>.parquet`,
    /// `ingest-manifest.json`).
    pub out: PathBuf,
    /// Identifiable zone output (`quarantine/<extract>/<submitter>.parquet`).
    pub identifiable: PathBuf,
    /// Local programme opt-out codes (SNOMED CT) from the pipeline definition.
    pub programme_opt_out_codes: Vec<String>,
    /// Whether the flow applies the national data opt-out list.
    pub national_opt_out: bool,
    /// Replace existing outputs.
    pub force: bool,
}

/// A file that cannot be ingested at all; nothing of it is written.
#[derive(Debug, Clone)]
pub struct Rejection {
    /// The file, relative to the extracts folder.
    pub file: String,
    /// What is wrong.
    pub problem: String,
    /// What to do.
    pub hint: String,
}

/// Why ingest stopped.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// No extract files found.
    #[error(
        "no extract files under `{0}`\nhint: point `--extracts` at the folder that holds `<extract>/<ODS code>.csv` (e.g. `gp_events/A81001.csv`)"
    )]
    NoExtracts(PathBuf),
    /// Whole files rejected.
    #[error("{}", rejected_message(.0))]
    Rejected(Vec<Rejection>),
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
    /// Output exists.
    #[error(
        "`{0}` already exists\nhint: choose another `--out` (or `--identifiable`), or pass `--force` to replace it"
    )]
    OutExists(PathBuf),
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

fn rejected_message(r: &[Rejection]) -> String {
    use std::fmt::Write as _;
    let mut s = format!("{} extract file(s) rejected; nothing was written", r.len());
    for x in r {
        let _ = write!(
            s,
            "
  `{}`: {}
    hint: {}",
            x.file, x.problem, x.hint
        );
    }
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

fn discover(
    dir: &Path,
    contracts: &Contracts,
) -> Result<(Vec<Input>, Vec<Rejection>), IngestError> {
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
        if contracts.get(&extract).is_err() {
            if !files.is_empty() {
                rejected.push(Rejection {
                    file: format!("{extract}/"),
                    problem: format!("no contract in schemas/ for an extract named `{extract}`"),
                    hint: format!(
                        "known extracts are {}; move the files or add a contract",
                        contracts.names().join(", ")
                    ),
                });
            }
            continue;
        }
        for path in files {
            let name = path
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            let rel = format!("{extract}/{name}");
            match name.strip_suffix(".csv") {
                Some(stem) if !stem.is_empty() => inputs.push(Input {
                    extract: extract.clone(),
                    submitter: stem.to_owned(),
                    bytes: fs::metadata(&path).map_or(0, |m| m.len()),
                    path,
                    rel,
                }),
                _ => rejected.push(Rejection {
                    file: rel,
                    problem: "not a `.csv` file named after its submitter".to_owned(),
                    hint: "name each file `<ODS code of the submitter>.csv`".to_owned(),
                }),
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

/// Run ingest. `progress` is told about each file as it finishes.
pub fn ingest(
    cfg: &IngestConfig,
    key: &PseudonymKey,
    progress: &(dyn Fn(&FileReport) + Sync),
) -> Result<Manifest, IngestError> {
    let started = Instant::now();
    for out in [&cfg.out, &cfg.identifiable] {
        if out.exists() && !cfg.force {
            return Err(IngestError::OutExists(out.clone()));
        }
    }
    let contracts = Contracts::builtin();
    let (mut inputs, mut rejected) = discover(&cfg.extracts, &contracts)?;
    if inputs.is_empty() && rejected.is_empty() {
        return Err(IngestError::NoExtracts(cfg.extracts.clone()));
    }
    // Largest files first, so no worker is left with one big file at the end while the
    // others idle (reports are sorted by file afterwards).
    inputs.sort_by_key(|i| std::cmp::Reverse(i.bytes));
    let lookup = match &cfg.postcode_lookup {
        Some(p) => PostcodeLookup::load(p)?,
        None => PostcodeLookup::empty(),
    };
    let opt_outs = collect_opt_outs(cfg, &contracts, &inputs)?;
    let decisions = opt_outs.decide();
    tracing::info!(files = inputs.len(), "opt-outs collected");

    let out_tmp = partial(&cfg.out);
    let id_tmp = partial(&cfg.identifiable);
    for d in [&out_tmp, &id_tmp] {
        if d.exists() {
            fs::remove_dir_all(d).map_err(io(d))?;
        }
        fs::create_dir_all(d).map_err(io(d))?;
    }
    let (finish, finishing) = mpsc::channel();
    let (results, finished) = std::thread::scope(|s| {
        // Written files are made durable and renamed on a thread of their own, so the
        // workers do not wait for the disk.
        let finisher = s.spawn(move || finish_files(&finishing));
        let ctx = FileContext {
            cfg,
            key,
            lookup: &lookup,
            opt_outs: &decisions,
            out: &out_tmp,
            identifiable: &id_tmp,
            finish,
        };
        let results: Vec<Result<FileReport, FileFailure>> =
            pool::map(&inputs, pool::workers(), |input| {
                let contract = contracts
                    .get(&input.extract)
                    .expect("discovered extracts have contracts");
                let r = process_file(&ctx, contract, input);
                if let Ok(report) = &r {
                    progress(report);
                }
                r
            });
        drop(ctx);
        (results, finisher.join())
    });
    let finished = finished.unwrap_or_else(|panic| std::panic::resume_unwind(panic));
    let mut reports = Vec::new();
    let mut failure = None;
    for r in results {
        match r {
            Ok(report) => reports.push(report),
            Err(FileFailure::Rejected(x)) => rejected.push(x),
            Err(FileFailure::Fatal(e)) => failure = failure.or(Some(e)),
        }
    }
    let cleanup = || {
        let _ = fs::remove_dir_all(&out_tmp);
        let _ = fs::remove_dir_all(&id_tmp);
    };
    if let Some(e) = failure.or(finished.err()) {
        cleanup();
        return Err(e);
    }
    if !rejected.is_empty() {
        cleanup();
        rejected.sort_by(|a, b| a.file.cmp(&b.file));
        return Err(IngestError::Rejected(rejected));
    }
    if let Some(bad) = reports.iter().find(|r| !r.conserves()) {
        cleanup();
        return Err(IngestError::Conservation(bad.file.clone()));
    }
    reports.sort_by(|a, b| a.file.cmp(&b.file));
    let manifest = Manifest::new(cfg, key, &opt_outs, reports);
    manifest
        .write(&out_tmp.join("ingest-manifest.json"))
        .map_err(io(&out_tmp))?;
    for (tmp, dest) in [(&id_tmp, &cfg.identifiable), (&out_tmp, &cfg.out)] {
        if dest.exists() {
            fs::remove_dir_all(dest).map_err(io(dest))?;
        }
        fs::rename(tmp, dest).map_err(io(dest))?;
    }
    tracing::info!(
        seconds = started.elapsed().as_secs_f64(),
        rows_in = manifest.totals.rows_in,
        rows_out = manifest.totals.rows_out,
        "ingest finished"
    );
    Ok(manifest)
}

fn partial(dir: &Path) -> PathBuf {
    let name = dir
        .file_name()
        .map_or_else(|| "out".into(), |n| n.to_string_lossy().into_owned());
    dir.with_file_name(format!(".{name}.partial"))
}

fn collect_opt_outs(
    cfg: &IngestConfig,
    contracts: &Contracts,
    inputs: &[Input],
) -> Result<OptOuts, IngestError> {
    let type1 = Type1Codes::builtin();
    let scans: Vec<OptOuts> = pool::map(
        inputs,
        pool::workers(),
        |input| -> Result<OptOuts, IngestError> {
            let contract = contracts
                .get(&input.extract)
                .expect("discovered extracts have contracts");
            let mut found = OptOuts::default();
            match input.extract.as_str() {
                "gp_events" => {
                    let file = File::open(&input.path).map_err(io(&input.path))?;
                    found
                        .scan_gp_events(
                            contract,
                            &input.submitter,
                            cfg.extract_date,
                            file,
                            &type1,
                            &cfg.programme_opt_out_codes,
                        )
                        .map_err(io(&input.path))?;
                }
                "national_opt_out" if cfg.national_opt_out => {
                    let file = File::open(&input.path).map_err(io(&input.path))?;
                    scan_national(contract, input, cfg.extract_date, file, &mut found)
                        .map_err(io(&input.path))?;
                }
                _ => {}
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
    file: File,
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
    out: &'a Path,
    identifiable: &'a Path,
    /// Where finished files go to be made durable and renamed into place.
    finish: mpsc::Sender<Finish>,
}

/// A written file, to be made durable (fsync) and renamed from its temporary name.
struct Finish {
    file: File,
    tmp: PathBuf,
    dest: PathBuf,
}

/// Finish every file sent, in turn; the first failure is reported (and the run fails).
fn finish_files(files: &mpsc::Receiver<Finish>) -> Result<(), IngestError> {
    let mut result = Ok(());
    for f in files {
        let done = f
            .file
            .sync_all()
            .map_err(io(&f.tmp))
            .and_then(|()| fs::rename(&f.tmp, &f.dest).map_err(io(&f.dest)));
        result = result.and(done);
    }
    result
}

enum FileFailure {
    Rejected(Rejection),
    Fatal(IngestError),
}

impl From<IngestError> for FileFailure {
    fn from(e: IngestError) -> Self {
        FileFailure::Fatal(e)
    }
}

fn reject(input: &Input, problem: impl Into<String>, hint: impl Into<String>) -> FileFailure {
    FileFailure::Rejected(Rejection {
        file: input.rel.clone(),
        problem: problem.into(),
        hint: hint.into(),
    })
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
        reject(
            input,
            format!("cannot be read: {e}"),
            "check the file exists and phm may read it",
        )
    };
    let file = File::open(&input.path).map_err(unreadable)?;
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
    let batch_rows = usize::try_from(expected_rows).map_or(BATCH, |n| n.clamp(1024, BATCH));
    let mut frame = frame::Frame::new(
        contract,
        &input.submitter,
        ctx.cfg.reference_date,
        batch_rows,
    );
    let mut pseudonymiser = pseudo::Pseudonymiser::new(ctx.key);
    let out_path = ctx
        .out
        .join("pseudonymised")
        .join(&input.extract)
        .join(format!("{}.parquet", input.submitter));
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
                frame.push(&row, &mut pseudonymiser, ctx.lookup);
                report.rows_out += 1;
                if frame.len() >= BATCH {
                    write_batch(&mut writer, &out_path, &mut frame, &input.rel)?;
                }
            }
        }
        drop((chunk, lines));
        reader.recycle(block);
    }
    report.input_blake3 = reader.digest().to_hex().to_string();
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
    if !quarantine.is_empty() {
        let q_path = ctx
            .identifiable
            .join("quarantine")
            .join(&input.extract)
            .join(format!("{}.parquet", input.submitter));
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

/// A Parquet file being written batch by batch (one row group a batch), to a temporary
/// name until finished.
struct ParquetSink {
    tmp: PathBuf,
    dest: PathBuf,
    schema: Arc<ArrowSchema>,
    writer: FileWriter<BufWriter<File>>,
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
        let dir = dest.parent().expect("dataset files live in a folder");
        fs::create_dir_all(dir).map_err(io(dir))?;
        let tmp = dest.with_extension("parquet.tmp");
        let file = File::create(&tmp).map_err(io(&tmp))?;
        let options = WriteOptions {
            statistics: StatisticsOptions::default(),
            compression: CompressionOptions::Zstd(Some(
                ZstdLevel::try_new(1).map_err(polars_err(rel))?,
            )),
            version: Version::V1,
            data_page_size: None,
        };
        let writer = FileWriter::try_new(
            BufWriter::with_capacity(1 << 20, file),
            schema.as_ref().clone(),
            options,
        )
        .map_err(polars_err(rel))?;
        Ok(ParquetSink {
            tmp,
            dest: dest.to_owned(),
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

    fn finish(mut self, rel: &str, finish: &mpsc::Sender<Finish>) -> Result<(), IngestError> {
        self.writer.end(None).map_err(polars_err(rel))?;
        let file = self
            .writer
            .into_inner()
            .into_inner()
            .map_err(|e| IngestError::Io {
                path: self.tmp.clone(),
                source: e.into_error(),
            })?;
        send(
            finish,
            Finish {
                file,
                tmp: self.tmp,
                dest: self.dest,
            },
        )
    }
}

fn send(finish: &mpsc::Sender<Finish>, file: Finish) -> Result<(), IngestError> {
    finish.send(file).map_err(|unsent| IngestError::Io {
        path: unsent.0.tmp,
        source: std::io::Error::other("the thread finishing files has stopped"),
    })
}

/// Quarantined rows of one file (identifiable zone).
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
        finish: &mpsc::Sender<Finish>,
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
        let dir = dest.parent().expect("quarantine files live in a folder");
        fs::create_dir_all(dir).map_err(io(dir))?;
        let tmp = dest.with_extension("parquet.tmp");
        let file = File::create(&tmp).map_err(io(&tmp))?;
        ParquetWriter::new(file.try_clone().map_err(io(&tmp))?)
            .with_compression(ParquetCompression::Zstd(None))
            .finish(&mut df)
            .map_err(polars_err(rel))?;
        send(
            finish,
            Finish {
                file,
                tmp,
                dest: dest.to_owned(),
            },
        )
    }
}

/// Counts per key, sorted.
pub type Counts = BTreeMap<String, u64>;
