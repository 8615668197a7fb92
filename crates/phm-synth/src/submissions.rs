//! Late and missing submissions: which expected (extract, submitter) files never arrive and
//! which arrive late, and the delivery log a MESH/DTS-style transfer would carry.
//!
//! The choice is made on a random stream of its own (`ChaCha8`, [`STREAM`]), so the number of
//! missing or late files changes nothing else the generator writes. Every eligible file draws
//! its delay first, in file order; the eligible files are then shuffled, the first
//! `missing_files` are missing and the next `late_files` late.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::date::{self, Day};
use crate::rows::{Extract, FileIndex};
use crate::world::{self, World};
use crate::{SynthError, io_err};

/// The random stream of the choice (patients use 0.., files and the world the top ones).
pub const STREAM: u64 = u64::MAX / 2;

/// Fewest and most days a late file's extract date lies before the run's.
pub const LATE_DAYS: (i32, i32) = (40, 120);

/// Header of `extracts/submissions.csv`, the delivery log.
pub const LOG_HEADER: &str = "extract,submitter,file,extract_date";

/// Header of `truth/submissions.csv`.
pub const TRUTH_HEADER: &str = "extract,submitter,file,status,extract_date";

/// How an expected file arrived.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Status {
    /// Delivered with the run's extract date.
    OnTime,
    /// Delivered, but its extract date is this many days before the run's.
    Late(i32),
    /// Never delivered.
    Missing,
}

impl Status {
    /// The status as written to `truth/submissions.csv`.
    pub fn code(self) -> &'static str {
        match self {
            Status::OnTime => "on_time",
            Status::Late(_) => "late",
            Status::Missing => "missing",
        }
    }
}

/// Whether an extract's files may be chosen missing or late: never GP registrations (the
/// whole pipeline needs them) nor the national opt-out list.
pub fn eligible(extract: Extract) -> bool {
    !matches!(extract, Extract::GpRegistrations | Extract::NationalOptOut)
}

/// How many files can be chosen for a number of practices.
pub fn eligible_files(practices: usize) -> usize {
    2 * practices + 3 * world::ACUTE_TRUSTS.len() + 3
}

/// The status of every expected file, by file index.
pub struct Plan {
    status: Vec<Status>,
}

impl Plan {
    /// Choose the missing and late files of a run.
    pub fn new(world: &World, index: &FileIndex) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(world.cfg.seed);
        rng.set_stream(STREAM);
        let delays: Vec<i32> = (0..index.len())
            .map(|_| rng.random_range(LATE_DAYS.0..=LATE_DAYS.1))
            .collect();
        let mut candidates: Vec<usize> = (0..index.len())
            .filter(|&f| eligible(index.describe(world, f).0))
            .collect();
        candidates.shuffle(&mut rng);
        let mut status = vec![Status::OnTime; index.len()];
        let (missing, late) = (world.cfg.missing_files, world.cfg.late_files);
        for &f in candidates.iter().take(missing) {
            status[f] = Status::Missing;
        }
        for &f in candidates.iter().skip(missing).take(late) {
            status[f] = Status::Late(delays[f]);
        }
        Plan { status }
    }

    /// The status of a file.
    pub fn status(&self, file: usize) -> Status {
        self.status[file]
    }

    /// Whether a file is written.
    pub fn delivered(&self, file: usize) -> bool {
        self.status[file] != Status::Missing
    }

    /// The extract date a delivered file carries.
    pub fn extract_date(&self, world: &World, file: usize) -> Option<Day> {
        match self.status[file] {
            Status::OnTime => Some(world.extract_date),
            Status::Late(days) => Some(world.extract_date - days),
            Status::Missing => None,
        }
    }

    /// Write `extracts/submissions.csv` (delivered files) and `truth/submissions.csv` (every
    /// expected file), both sorted by extract then submitter.
    pub fn write(&self, world: &World, index: &FileIndex, root: &Path) -> Result<(), SynthError> {
        let mut files: Vec<(&str, String, usize)> = (0..index.len())
            .map(|f| {
                let (extract, org) = index.describe(world, f);
                (extract.name(), org, f)
            })
            .collect();
        files.sort();
        let log_path = root.join("extracts/submissions.csv");
        let truth_path = root.join("truth/submissions.csv");
        let mut log = BufWriter::new(File::create(&log_path).map_err(io_err(&log_path))?);
        let mut truth = BufWriter::new(File::create(&truth_path).map_err(io_err(&truth_path))?);
        writeln!(log, "{LOG_HEADER}").map_err(io_err(&log_path))?;
        writeln!(truth, "{TRUTH_HEADER}").map_err(io_err(&truth_path))?;
        for (extract, org, f) in &files {
            let file = format!("{extract}/{org}{}", world.cfg.extract_suffix());
            let day = self.extract_date(world, *f).map(date::iso);
            if let Some(day) = &day {
                writeln!(log, "{extract},{org},{file},{day}").map_err(io_err(&log_path))?;
            }
            writeln!(
                truth,
                "{extract},{org},{file},{},{}",
                self.status[*f].code(),
                day.unwrap_or_default()
            )
            .map_err(io_err(&truth_path))?;
        }
        log.flush().map_err(io_err(&log_path))?;
        truth.flush().map_err(io_err(&truth_path))
    }
}
