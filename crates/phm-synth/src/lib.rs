//! A synthetic, linked ICB population for testing and benchmarking phm.
//!
//! `phm-synth` owns the generator behind `phm synth`: one CSV per extract and submitting
//! organisation shaped by the contracts in `schemas/`, a postcode lookup, the national data
//! opt-out list and, kept apart, `truth/` files that say what the pipeline should find (each
//! patient's conditions, true emergency admission risk, opt-outs and every injected defect).
//! It never reads real data and never prints; the model and its sources are in the crate's
//! README.
//!
//! Output is a function of the configuration alone: every patient has its own random stream
//! (`ChaCha8`, stream = patient index), patients are generated in parallel and written in order,
//! and the output folder appears only when complete.

pub mod codes;
pub use phm_contract::date;
pub mod model;
pub mod params;
pub mod rows;
pub mod submissions;
pub mod summary;
pub mod world;

use phm_run::{PartialDir, Privacy};
use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use crate::codes::{CONDITIONS, DEFICITS};
use crate::date::Day;
use crate::model::{Patient, Type1, emergency_age_band};
use crate::params::EMERGENCY_ADMISSIONS_BY_AGE;
use crate::rows::{ChunkRows, DefectKind, Extract, FileIndex, Layout, RowWriter};
use crate::submissions::Plan;
use crate::summary::{AGE_GROUPS, Stats, Summary};
use crate::world::World;

/// What to generate.
#[derive(Debug, Clone)]
pub struct SynthConfig {
    /// Patients ever registered during the window.
    pub patients: usize,
    /// GP practices.
    pub practices: usize,
    /// Random seed.
    pub seed: u64,
    /// Reference date: history runs `years_before` years before it and one year after.
    pub as_of: Day,
    /// Years of history before the reference date.
    pub years_before: u32,
    /// Share of rows with an injected defect (registrations get ten times this).
    pub defect_rate: f64,
    /// Output folder.
    pub out: PathBuf,
    /// Replace the output folder if it exists.
    pub force: bool,
    /// Expected files never delivered (chosen from the seed; never GP registrations nor the
    /// national opt-out list): not written, so their rows are absent from the extracts.
    pub missing_files: usize,
    /// Other expected files delivered late: written as usual, but the delivery log
    /// `extracts/submissions.csv` dates them 40-120 days before the extract date.
    pub late_files: usize,
    /// Write extracts gzip-compressed (`<ODS>.csv.gz`, about a fifth of the size) rather than
    /// as plain CSV; the lookups, truth and logs stay plain.
    pub gzip: bool,
}

impl SynthConfig {
    /// The name ending of the extract files written.
    pub fn extract_suffix(&self) -> &'static str {
        if self.gzip { ".csv.gz" } else { ".csv" }
    }
}

/// Why generation failed.
#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    /// A setting is out of range.
    #[error("{0}")]
    Config(String),
    /// The contracts in `schemas/` and the generator disagree.
    #[error(
        "{0}\nhint: update the generator's column list in crates/phm-synth/src/rows.rs with the contract"
    )]
    Contract(String),
    /// The output folder exists.
    #[error("`{0}` already exists\nhint: choose another `--out`, or pass `--force` to replace it")]
    OutExists(PathBuf),
    /// Writing failed.
    #[error("cannot write `{path}`: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> SynthError + '_ {
    move |source| SynthError::Io {
        path: path.to_owned(),
        source,
    }
}

const CHUNK: usize = 1024;

/// The outcome year of one patient at risk: true probability, knowable probability
/// ([`model::Knowable`]), and whether they were admitted.
type Outcome = (f32, f32, bool);

/// One chunk's output.
struct Chunk {
    rows: ChunkRows,
    truth: [Vec<u8>; 4],
    stats: Stats,
    outcomes: Vec<Outcome>,
}

/// Truth file names, in [`Chunk::truth`] order, with their headers.
const TRUTH_FILES: [(&str, &str); 4] = [
    (
        "patients.csv",
        "nhs_number,sex,date_of_birth,date_of_death,lsoa_code,imd_decile,practice_at_as_of,frailty,morbidity",
    ),
    (
        "risk.csv",
        "nhs_number,year_start,at_risk,p_emergency_admission,p_knowable,emergency_admissions",
    ),
    ("conditions.csv", "nhs_number,kind,name,onset_date"),
    ("opt_outs.csv", "nhs_number,type1,programme,national"),
];

/// Generate a population into `cfg.out`. `progress` is called with the number of patients
/// written so far.
pub fn generate(
    cfg: SynthConfig,
    progress: &(dyn Fn(usize) + Sync),
) -> Result<Summary, SynthError> {
    let out = cfg.out.clone();
    if out.exists() && !cfg.force {
        return Err(SynthError::OutExists(out));
    }
    let world = World::new(cfg)?;
    let contracts = phm_contract::Contracts::builtin();
    let layouts = Extract::ALL
        .iter()
        .map(|e| {
            let c = contracts
                .get(e.name())
                .map_err(|e| SynthError::Contract(e.to_string()))?;
            Layout::new(*e, c)
        })
        .collect::<Result<Vec<_>, _>>()?;
    let index = FileIndex::new(&world);
    let (orgs, others) = RowWriter::organisations(&world, &index);
    let plan = Plan::new(&world, &index);

    // Built as `.<name>.partial` and renamed into place whole (removed if generation fails).
    let partial = PartialDir::create(&out, Privacy::Shared).map_err(io_err(&out))?;
    let mut files = OutputFiles::create(&world, partial.path(), &index, &layouts, &plan)?;

    let n = world.cfg.patients;
    let chunks = n.div_ceil(CHUNK);
    let window = (rayon::current_num_threads() * 4).max(4);
    let mut stats = Stats::default();
    let mut outcomes: Vec<Outcome> = Vec::new();
    let (tx, rx) = mpsc::sync_channel::<Vec<Chunk>>(1);
    let result = std::thread::scope(|scope| -> Result<(), SynthError> {
        let world = &world;
        let layouts = &layouts;
        let index = &index;
        let orgs = &orgs;
        let others = &others;
        scope.spawn(move || {
            for first in (0..chunks).step_by(window) {
                let batch: Vec<Chunk> = (first..(first + window).min(chunks))
                    .into_par_iter()
                    .map(|c| {
                        generate_chunk(
                            world,
                            layouts,
                            index,
                            orgs,
                            others,
                            c * CHUNK..((c + 1) * CHUNK).min(n),
                        )
                    })
                    .collect();
                if tx.send(batch).is_err() {
                    return;
                }
            }
        });
        let mut done = 0;
        for batch in rx {
            for chunk in batch {
                files.write_chunk(&chunk)?;
                stats.merge(&chunk.stats);
                outcomes.extend_from_slice(&chunk.outcomes);
                done += chunk.stats.patients as usize;
            }
            progress(done);
        }
        Ok(())
    });
    result?;

    let mean_p =
        outcomes.iter().map(|o| f64::from(o.0)).sum::<f64>() / outcomes.len().max(1) as f64;
    let observed = outcomes.iter().filter(|o| o.2).count() as f64 / outcomes.len().max(1) as f64;
    let oracle_auroc = summary::auroc(&mut outcomes.iter().map(|o| (o.0, o.2)).collect::<Vec<_>>());
    let knowable_auroc =
        summary::auroc(&mut outcomes.iter().map(|o| (o.1, o.2)).collect::<Vec<_>>());
    let summary = files.finish(
        &world,
        &index,
        &plan,
        stats,
        (oracle_auroc, knowable_auroc),
        (mean_p, observed),
    )?;
    partial.commit().map_err(io_err(&out))?;
    Ok(summary)
}

fn patient_rng(seed: u64, index: usize) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(index as u64);
    rng
}

fn generate_chunk(
    world: &World,
    layouts: &[Layout],
    index: &FileIndex,
    orgs: &[String],
    others: &[Vec<String>],
    range: std::ops::Range<usize>,
) -> Chunk {
    let mut chunk = Chunk {
        rows: ChunkRows::new(index.len()),
        truth: Default::default(),
        stats: Stats {
            conditions: vec![0; CONDITIONS.len()],
            ..Stats::default()
        },
        outcomes: Vec::new(),
    };
    let mut writer = RowWriter::new(world, layouts, index, orgs, others);
    for i in range {
        let mut rng = patient_rng(world.cfg.seed, i);
        let p = model::simulate(world, i, &mut rng);
        writer.patient(&p, &mut rng, &mut chunk.rows);
        truth_rows(world, &p, &mut chunk.truth);
        count(world, &p, &mut chunk.stats, &mut chunk.outcomes);
    }
    chunk
}

fn truth_rows(world: &World, p: &Patient, truth: &mut [Vec<u8>; 4]) {
    use std::io::Write as _;
    let nhs = p.nhs;
    let death = p.death.map(date::iso).unwrap_or_default();
    let lsoa = &world.lsoas[p.lsoa];
    let practice = p
        .practice_on(world.as_of)
        .filter(|_| p.registered_on(world.as_of))
        .map_or("", |i| world.practices[i].code.as_str());
    let _ = writeln!(
        truth[0],
        "{nhs},{},{},{death},{},{},{practice},{:.4},{:.4}",
        p.sex as char,
        date::iso(p.dob),
        lsoa.code,
        lsoa.imd_decile,
        p.frailty,
        p.morbidity
    );
    for y in &p.years {
        let _ = writeln!(
            truth[1],
            "{nhs},{},{},{:.6},{:.6},{}",
            date::iso(y.start),
            u8::from(y.at_risk),
            y.probability,
            y.knowable,
            y.emergency_admissions
        );
    }
    for (c, onset) in &p.conditions {
        let _ = writeln!(
            truth[2],
            "{nhs},condition,{},{}",
            CONDITIONS[*c].name,
            date::iso(*onset)
        );
    }
    for (d, onset) in &p.deficits {
        let _ = writeln!(
            truth[2],
            "{nhs},deficit,{},{}",
            DEFICITS[*d].efi,
            date::iso(*onset)
        );
    }
    if p.type1 != Type1::None || p.programme_opt_out || p.national_opt_out {
        let t1 = match p.type1 {
            Type1::None => "none",
            Type1::Dissent => "dissent",
            Type1::Withdrawn => "withdrawn",
        };
        let _ = writeln!(
            truth[3],
            "{nhs},{t1},{},{}",
            u8::from(p.programme_opt_out),
            u8::from(p.national_opt_out)
        );
    }
}

fn count(world: &World, p: &Patient, s: &mut Stats, outcomes: &mut Vec<Outcome>) {
    let (w0, as_of) = (world.window_start, world.as_of);
    let before = |d: Day| d >= w0 && d < as_of;
    s.patients += 1;
    if p.registered_on(as_of) {
        s.registered_at_as_of += 1;
        let age = p.age_on(as_of);
        if let Some(g) = AGE_GROUPS
            .iter()
            .position(|(_, lo, hi)| (*lo..=*hi).contains(&age))
        {
            s.age_groups[g] += 1;
        }
        s.males += u64::from(p.sex == b'M');
        for (c, onset) in &p.conditions {
            if *onset <= as_of {
                s.conditions[*c] += 1;
            }
        }
        if age >= 65 {
            s.efi_65[efi_category(p, as_of)] += 1;
        }
    }
    for r in &p.registrations {
        let from = r.start.max(w0);
        let to = r.end.map_or(as_of, |(d, _)| d.min(as_of));
        if to > from {
            s.person_years += f64::from(to - from) / 365.25;
            // Split by age band: the band's days run from the birthday that opens it to the
            // one that opens the next.
            for (i, (_, lo, hi, _)) in EMERGENCY_ADMISSIONS_BY_AGE.iter().enumerate() {
                let a = date::add_years(p.dob, *lo).max(from);
                let b = date::add_years(p.dob, hi.saturating_add(1).min(150)).min(to);
                if b > a {
                    s.person_years_by_age[i] += f64::from(b - a) / 365.25;
                }
            }
        }
    }
    for sp in &p.spells {
        if before(sp.admitted) {
            match sp.method.as_bytes()[0] {
                b'2' => {
                    s.emergency += 1;
                    s.emergency_by_age[emergency_age_band(p.age_on(sp.admitted))] += 1;
                }
                b'1' => s.elective += 1,
                _ => {}
            }
        }
    }
    s.ae += p.attendances.iter().filter(|a| before(a.date)).count() as u64;
    for (d, _, conveyed) in &p.ambulance {
        if before(*d) {
            s.ambulance += 1;
            s.conveyed += u64::from(*conveyed);
        }
    }
    for (_, d, _, status) in &p.outpatients {
        if before(*d) {
            s.outpatients += 1;
            s.dna += u64::from(*status == "3" || *status == "7");
        }
    }
    s.deaths += u64::from(p.death.is_some_and(before));
    s.gp_contacts += p
        .gp_events
        .iter()
        .filter(|(_, e)| before(e.date) && codes::CONTACT_CODES.contains(&e.code))
        .count() as u64;
    s.community += p.community.iter().filter(|(d, _)| before(*d)).count() as u64;
    s.mental_health += p.mental_health.iter().filter(|(d, _)| before(*d)).count() as u64;
    if let Some(y) = p
        .years
        .get(world.cfg.years_before as usize)
        .filter(|y| y.at_risk)
    {
        outcomes.push((
            y.probability as f32,
            y.knowable as f32,
            y.emergency_admissions > 0,
        ));
    }
}

/// eFI category on a day from the patient's coded deficits and medicines: 0 fit, 1 mild,
/// 2 moderate, 3 severe (Clegg 2016 cut-offs 0.12, 0.24, 0.36).
fn efi_category(p: &Patient, day: Day) -> usize {
    let mut lists: Vec<&str> = p
        .conditions
        .iter()
        .filter(|(_, o)| *o <= day)
        .filter_map(|(c, _)| CONDITIONS[*c].efi)
        .chain(
            p.deficits
                .iter()
                .filter(|(_, o)| *o <= day)
                .map(|(d, _)| DEFICITS[*d].efi),
        )
        .collect();
    lists.sort_unstable();
    lists.dedup();
    let mut meds: Vec<usize> = p
        .medications
        .iter()
        .filter(|(_, d, _)| *d <= day && *d > day - 365)
        .map(|(_, _, m)| *m)
        .collect();
    meds.sort_unstable();
    meds.dedup();
    let deficits = lists.len() + usize::from(meds.len() >= 5);
    let efi = deficits as f64 / 36.0;
    match efi {
        e if e <= 0.12 => 0,
        e if e <= 0.24 => 1,
        e if e <= 0.36 => 2,
        _ => 3,
    }
}

/// The open output files of a run.
struct OutputFiles {
    root: PathBuf,
    /// Each file's path and writer (none for a missing file).
    extracts: Vec<(PathBuf, Option<BufWriter<Sink>>)>,
    crlf: Vec<bool>,
    lines: Vec<u64>,
    truth: Vec<BufWriter<File>>,
    defects: Vec<(usize, u64, DefectKind, Option<String>)>,
    layouts_columns: Vec<Vec<String>>,
    rows_per_extract: BTreeMap<&'static str, u64>,
    extract_of_file: Vec<Extract>,
}

impl OutputFiles {
    fn create(
        world: &World,
        root: &Path,
        index: &FileIndex,
        layouts: &[Layout],
        plan: &Plan,
    ) -> Result<Self, SynthError> {
        for e in Extract::ALL {
            let dir = root.join("extracts").join(e.name());
            fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        }
        for d in ["lookups", "truth"] {
            let dir = root.join(d);
            fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        }
        let mut files = OutputFiles {
            root: root.to_owned(),
            extracts: Vec::new(),
            crlf: Vec::new(),
            lines: Vec::new(),
            truth: Vec::new(),
            defects: Vec::new(),
            layouts_columns: layouts.iter().map(|l| l.columns.clone()).collect(),
            rows_per_extract: BTreeMap::new(),
            extract_of_file: Vec::new(),
        };
        for f in 0..index.len() {
            let (extract, org) = index.describe(world, f);
            let rel = PathBuf::from("extracts")
                .join(extract.name())
                .join(format!("{org}{}", world.cfg.extract_suffix()));
            let path = root.join(&rel);
            files.crlf.push(false);
            files.lines.push(1);
            files.extract_of_file.push(extract);
            if !plan.delivered(f) {
                files.extracts.push((rel, None));
                continue;
            }
            let file = File::create(&path).map_err(io_err(&path))?;
            let sink = if world.cfg.gzip {
                Sink::Gzip(Box::new(flate2::write::GzEncoder::new(
                    file,
                    flate2::Compression::fast(),
                )))
            } else {
                Sink::Plain(file)
            };
            let mut w = BufWriter::with_capacity(1 << 16, sink);
            let mut rng = ChaCha8Rng::seed_from_u64(world.cfg.seed);
            rng.set_stream(u64::MAX - 1 - f as u64);
            let defects = world.cfg.defect_rate > 0.0 && extract != Extract::NationalOptOut;
            let bom = defects && rng.random::<f64>() < 0.12;
            let crlf = defects && rng.random::<f64>() < 0.2;
            let eol: &[u8] = if crlf { b"\r\n" } else { b"\n" };
            if bom {
                w.write_all(b"\xEF\xBB\xBF").map_err(io_err(&path))?;
                files.defects.push((f, 1, DefectKind::Utf8Bom, None));
            }
            if crlf {
                files.defects.push((f, 0, DefectKind::CrlfLineEnds, None));
            }
            w.write_all(extract.columns().join(",").as_bytes())
                .map_err(io_err(&path))?;
            w.write_all(eol).map_err(io_err(&path))?;
            files.extracts.push((rel, Some(w)));
            files.crlf[f] = crlf;
        }
        for (name, header) in TRUTH_FILES {
            let path = root.join("truth").join(name);
            let mut w = BufWriter::new(File::create(&path).map_err(io_err(&path))?);
            writeln!(w, "{header}").map_err(io_err(&path))?;
            files.truth.push(w);
        }
        Ok(files)
    }

    fn write_chunk(&mut self, chunk: &Chunk) -> Result<(), SynthError> {
        for d in &chunk.rows.defects {
            if self.extracts[d.file].1.is_none() {
                continue;
            }
            let line = self.lines[d.file] + d.row + 1;
            let layout = Extract::ALL
                .iter()
                .position(|e| *e == self.extract_of_file[d.file])
                .unwrap_or(0);
            let column = d.column.map(|c| self.layouts_columns[layout][c].clone());
            self.defects.push((d.file, line, d.kind, column));
        }
        for (f, bytes) in chunk.rows.files.iter().enumerate() {
            let (rel, Some(w)) = &mut self.extracts[f] else {
                continue;
            };
            if bytes.is_empty() {
                continue;
            }
            let path = self.root.join(&*rel);
            if self.crlf[f] {
                let mut converted = Vec::with_capacity(bytes.len() + bytes.len() / 20);
                for &b in bytes {
                    if b == b'\n' {
                        converted.push(b'\r');
                    }
                    converted.push(b);
                }
                w.write_all(&converted).map_err(io_err(&path))?;
            } else {
                w.write_all(bytes).map_err(io_err(&path))?;
            }
            self.lines[f] += chunk.rows.rows[f];
            *self
                .rows_per_extract
                .entry(self.extract_of_file[f].name())
                .or_default() += chunk.rows.rows[f];
        }
        for (w, bytes) in self.truth.iter_mut().zip(&chunk.truth) {
            w.write_all(bytes).map_err(io_err(&self.root))?;
        }
        Ok(())
    }

    fn finish(
        mut self,
        world: &World,
        index: &FileIndex,
        plan: &Plan,
        stats: Stats,
        (oracle_auroc, knowable_auroc): (Option<f64>, Option<f64>),
        outcome_year: (f64, f64),
    ) -> Result<Summary, SynthError> {
        let delivered = self.extracts.iter().filter(|(_, w)| w.is_some()).count();
        for (rel, w) in &mut self.extracts {
            let Some(w) = w.take() else { continue };
            let path = self.root.join(&*rel);
            let sink = w.into_inner().map_err(|e| io_err(&path)(e.into_error()))?;
            sink.finish()
                .and_then(|file| file.sync_all())
                .map_err(io_err(&path))?;
        }
        for w in &mut self.truth {
            w.flush().map_err(io_err(&self.root))?;
        }
        // Defects, sorted by file and line.
        self.defects
            .sort_by(|a, b| (&self.extracts[a.0].0, a.1).cmp(&(&self.extracts[b.0].0, b.1)));
        let path = self.root.join("truth/defects.csv");
        let mut w = BufWriter::new(File::create(&path).map_err(io_err(&path))?);
        writeln!(w, "file,line,kind,column,expected_reason").map_err(io_err(&path))?;
        let mut by_kind: BTreeMap<&str, u64> = BTreeMap::new();
        for (f, line, kind, column) in &self.defects {
            let reason = kind.expected_reason().map_or("", |r| r.code());
            let file = self.extracts[*f].0.to_string_lossy().replace('\\', "/");
            writeln!(
                w,
                "{file},{line},{},{},{reason}",
                kind.code(),
                column.as_deref().unwrap_or("")
            )
            .map_err(io_err(&path))?;
            *by_kind.entry(kind.code()).or_default() += 1;
        }
        w.flush().map_err(io_err(&path))?;
        write_lookup(world, &self.root)?;
        plan.write(world, index, &self.root)?;
        let summary = Summary {
            stats,
            oracle_auroc,
            knowable_auroc,
            outcome_year,
            rows: self
                .rows_per_extract
                .iter()
                .map(|(k, v)| ((*k).to_owned(), *v))
                .collect(),
            defects: by_kind
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect(),
            files: delivered,
            missing_files: world.cfg.missing_files,
            late_files: world.cfg.late_files,
        };
        write_metadata(world, &self.root, &summary)?;
        Ok(summary)
    }
}

fn write_lookup(world: &World, root: &Path) -> Result<(), SynthError> {
    let path = root.join("lookups/postcode_lsoa.csv");
    let mut w = BufWriter::new(File::create(&path).map_err(io_err(&path))?);
    writeln!(w, "postcode,lsoa_code,imd_decile").map_err(io_err(&path))?;
    for (j, l) in world.lsoas.iter().enumerate() {
        for u in 0..world::UNITS_PER_LSOA {
            writeln!(w, "{},{},{}", l.postcode(j, u), l.code, l.imd_decile)
                .map_err(io_err(&path))?;
        }
    }
    w.flush().map_err(io_err(&path))
}

/// `synth.json`: how the set was made, the dates a pipeline needs, and what it holds.
fn write_metadata(world: &World, root: &Path, summary: &Summary) -> Result<(), SynthError> {
    let cfg = &world.cfg;
    let meta = serde_json::json!({
        "generator": "phm-synth",
        "version": env!("CARGO_PKG_VERSION"),
        "patients": cfg.patients,
        "practices": cfg.practices,
        "seed": cfg.seed,
        "defect_rate": cfg.defect_rate,
        "missing_files": cfg.missing_files,
        "late_files": cfg.late_files,
        "years_before": cfg.years_before,
        "as_of": date::iso(world.as_of),
        "window_start": date::iso(world.window_start),
        "extract_date": date::iso(world.extract_date),
        "programme_opt_out_codes": [params::PROGRAMME_OPT_OUT_CODE],
        "practices_codes": world.practices.iter().map(|p| p.code.clone()).collect::<Vec<_>>(),
        "acute_trusts": world::ACUTE_TRUSTS,
        "community_provider": world::COMMUNITY_PROVIDER,
        "mental_health_trust": world::MENTAL_HEALTH_TRUST,
        "ambulance_service": world::AMBULANCE_SERVICE,
        "rows": summary.rows.iter().cloned().collect::<BTreeMap<_, _>>(),
        "defects": summary.defects.iter().cloned().collect::<BTreeMap<_, _>>(),
        "oracle_auroc": summary.oracle_auroc.map(|a| (a * 10_000.0).round() / 10_000.0),
        "knowable_auroc": summary.knowable_auroc.map(|a| (a * 10_000.0).round() / 10_000.0),
    });
    let path = root.join("synth.json");
    let text = serde_json::to_string_pretty(&meta).expect("JSON of plain values");
    fs::write(&path, text + "\n").map_err(io_err(&path))
}

/// An extract file being written: plain, or through a gzip encoder.
enum Sink {
    Plain(File),
    Gzip(Box<flate2::write::GzEncoder<File>>),
}

impl Sink {
    /// Write what is left (a gzip trailer) and hand back the file.
    fn finish(self) -> std::io::Result<File> {
        match self {
            Sink::Plain(file) => Ok(file),
            Sink::Gzip(encoder) => encoder.finish(),
        }
    }
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Sink::Plain(file) => file.write(buf),
            Sink::Gzip(encoder) => encoder.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Sink::Plain(file) => file.flush(),
            Sink::Gzip(encoder) => encoder.flush(),
        }
    }
}
