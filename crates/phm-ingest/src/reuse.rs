//! Monthly re-runs that cost what changed.
//!
//! A file needs ingesting again only when something its output depends on changed. Its
//! **reuse key** is a BLAKE3 hash of all of that: the file's bytes (their BLAKE3), its extract
//! and submitter, phm's version, the contracts and code lists ingest uses, the key (its id),
//! the reference and extract dates, the postcode lookup (its BLAKE3), the opt-out settings, the
//! ICB-wide opt-out decisions, and for GP registrations the practice's vault recipient. The
//! decisions are part of it because a new type-1 code in one practice's GP events removes that
//! patient from every other file's output; they enter as a hash keyed with a key derived from
//! the pseudonymisation key, so the key says nothing about who opted out.
//!
//! Every file's report carries its key (`reuse_key` in the ingest manifest). Given earlier
//! runs ([`EarlierRun`]), a file whose key matches one of theirs is not read again: its
//! dataset, quarantine and vault are linked from that run (`phm_run::atomic::link_file`) and
//! its report copied, marked `reused_from` that run.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::Path;

use crate::manifest::FileReport;
use crate::optout::Decisions;
use crate::{IdentifiableRun, IngestConfig, IngestError, Input, PseudonymKey, RunLayout, io};

/// Context of the keyed hash over the opt-out decisions.
const OPT_OUT_DIGEST_CONTEXT: &str = "phm 2026 ingest reuse: opt-out decisions";

/// An earlier run whose files a run may reuse.
#[derive(Debug, Clone)]
pub struct EarlierRun {
    /// The run's id (recorded as `reused_from`).
    pub id: String,
    /// Its pseudonymised run folder.
    pub out: RunLayout,
    /// Its identifiable run folder.
    pub identifiable: IdentifiableRun,
}

/// What every file of this run shares in its reuse key, and the earlier runs' files by key
/// (with the index of their run in [`IngestConfig::earlier`]).
pub(crate) struct Reuse {
    run: blake3::Hasher,
    earlier: BTreeMap<String, (usize, FileReport)>,
}

impl Reuse {
    /// The run's part of every key, and the earlier runs' reports (a run without a readable
    /// ingest manifest offers nothing).
    pub(crate) fn new(
        cfg: &IngestConfig,
        key: &PseudonymKey,
        decisions: &Decisions,
    ) -> Result<Self, IngestError> {
        let mut run = blake3::Hasher::new();
        let mut field = |name: &str, value: &[u8]| {
            run.update(&(name.len() as u64).to_le_bytes());
            run.update(name.as_bytes());
            run.update(&(value.len() as u64).to_le_bytes());
            run.update(value);
        };
        field("phm_version", env!("CARGO_PKG_VERSION").as_bytes());
        for (path, text) in phm_contract::Contracts::builtin_sources()
            .into_iter()
            .chain(crate::sources())
        {
            field(&path, blake3::hash(text.as_bytes()).as_bytes());
        }
        field("key_id", key.id().as_bytes());
        field("reference_date", &cfg.reference_date.to_le_bytes());
        field("extract_date", &cfg.extract_date.to_le_bytes());
        let lookup = match &cfg.postcode_lookup {
            Some(p) => hash_file(p)?.to_hex().to_string(),
            None => "none".to_owned(),
        };
        field("postcode_lookup", lookup.as_bytes());
        field(
            "programme_opt_out_codes",
            cfg.programme_opt_out_codes.join(",").as_bytes(),
        );
        field("national_opt_out", &[u8::from(cfg.national_opt_out)]);
        let digest = decisions.digest(&key.derive(OPT_OUT_DIGEST_CONTEXT));
        field("opt_out_decisions", digest.as_bytes());
        let mut earlier = BTreeMap::new();
        for (i, e) in cfg.earlier.iter().enumerate() {
            for report in earlier_reports(&e.out) {
                if !report.reuse_key.is_empty() {
                    earlier
                        .entry(report.reuse_key.clone())
                        .or_insert((i, report));
                }
            }
        }
        Ok(Reuse { run, earlier })
    }

    /// Whether any earlier file could be reused (if not, no file is hashed up front).
    pub(crate) fn offers_any(&self) -> bool {
        !self.earlier.is_empty()
    }

    /// The reuse key of a file with these bytes (BLAKE3, hex).
    pub(crate) fn key(&self, cfg: &IngestConfig, input: &Input, input_blake3: &str) -> String {
        let mut h = self.run.clone();
        for value in [&input.extract, &input.submitter, input_blake3] {
            h.update(&(value.len() as u64).to_le_bytes());
            h.update(value.as_bytes());
        }
        let recipient = (input.extract == "gp_registrations")
            .then(|| cfg.vault_recipients.get(&input.submitter))
            .flatten()
            .map_or_else(|| "none".to_owned(), phm_reid::PracticeRecipient::key_id);
        h.update(recipient.as_bytes());
        h.finalize().to_hex().to_string()
    }

    /// The file's outputs linked from the earlier run whose key matches, and its report
    /// there; `None` when no earlier run has it (or its outputs are gone).
    pub(crate) fn reuse(
        &self,
        cfg: &IngestConfig,
        input: &Input,
    ) -> Result<Option<FileReport>, IngestError> {
        let input_blake3 = hash_file(&input.path)?.to_hex().to_string();
        let key = self.key(cfg, input, &input_blake3);
        let Some((i, report)) = self.earlier.get(&key) else {
            return Ok(None);
        };
        let from = &cfg.earlier[*i];
        let links = outputs(cfg, from, input, report);
        if links.iter().any(|(src, _, _)| !src.exists()) {
            return Ok(None);
        }
        for (src, dest, privacy) in &links {
            phm_run::atomic::link_file(src, dest, *privacy).map_err(io(dest))?;
        }
        let mut report = report.clone();
        report.reused_from = Some(from.id.clone());
        Ok(Some(report))
    }
}

/// What ingesting a file wrote, as (in the earlier run, in this run, privacy): its dataset
/// (every file but the national opt-out list has one), its quarantine when rows were
/// quarantined, its rows kept as received when codes were left out, and its practice's vault when it is a registrations file with a recipient.
fn outputs(
    cfg: &IngestConfig,
    from: &EarlierRun,
    input: &Input,
    report: &FileReport,
) -> Vec<(std::path::PathBuf, std::path::PathBuf, phm_run::Privacy)> {
    use phm_run::Privacy::{Private, Shared};
    let (e, s) = (&input.extract, &input.submitter);
    let mut links = Vec::new();
    if e != crate::optout::NATIONAL_LIST {
        links.push((
            from.out.extract_file(e, s),
            cfg.out.extract_file(e, s),
            Shared,
        ));
    }
    if report.quarantined_total() > 0 {
        links.push((
            from.identifiable.quarantine_file(e, s),
            cfg.identifiable.quarantine_file(e, s),
            Private,
        ));
    }
    if report.codes_dropped > 0 {
        links.push((
            from.identifiable.amended_file(e, s),
            cfg.identifiable.amended_file(e, s),
            Private,
        ));
    }
    if e == "gp_registrations" && cfg.vault_recipients.contains_key(s) {
        links.push((
            from.identifiable.vault_file(s),
            cfg.identifiable.vault_file(s),
            Private,
        ));
    }
    links
}

/// The file reports of an earlier run's ingest manifest (none if it cannot be read).
fn earlier_reports(out: &RunLayout) -> Vec<FileReport> {
    #[derive(serde::Deserialize)]
    struct Files {
        files: Vec<FileReport>,
    }
    std::fs::read(out.ingest_manifest())
        .ok()
        .and_then(|bytes| serde_json::from_slice::<Files>(&bytes).ok())
        .map_or_else(Vec::new, |m| m.files)
}

fn hash_file(path: &Path) -> Result<blake3::Hash, IngestError> {
    let mut h = blake3::Hasher::new();
    let file = File::open(path).map_err(io(path))?;
    h.update_reader(file).map_err(io(path))?;
    Ok(h.finalize())
}
