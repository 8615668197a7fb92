//! `phm run`: the whole pipeline as a scheduler runs it, and `phm verify`.
//!
//! ingest -> link -> score, built in `.partial` folders of both roots and committed in order:
//! the identifiable half first, the pseudonymised run folder (its manifest written last inside
//! it) next, then `latest`. A reader never sees a run without its manifest.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context as _, bail};
use phm_run::atomic::{self, PartialDir, Privacy};
use phm_run::fingerprint::{Fingerprint, run_id};
use phm_run::manifest::{
    self, Conservation, InputFile, OptOutSettings, RejectedFile, RunManifest, StageRecord, UsedFile,
};
use phm_run::{IdentifiableRoot, Pipeline, RunLock, RunsRoot};

use phm_contract::date::{Day, iso};

use crate::Outcome;

pub const HELP: &str = "\
Runs ingest -> link -> score for a pipeline definition and commits the run whole:
  <runs>/<run id>/                      pseudonymised/, ingest-manifest.json, linked/, scores/,
                                        manifest.json (written last)
  <runs>/latest -> <run id>             replaced only when a run is complete
  <identifiable>/runs/<run id>/         quarantine/ (private: folders 0700, files 0600)

The run id is the reference date and the first 12 hex digits of the run's fingerprint: BLAKE3
over phm's version, the pipeline definition, every input file, the contracts, SQL and code
lists, the key id, opt-out settings and the dates. When the fingerprint equals the latest run's
there is nothing to do (exit 0) unless --force.

One run at a time: a second `phm run` on the same roots refuses, naming the process that
holds them, or queues behind it with --wait. A run that is killed leaves no half-written
output: the next run cleans up and starts again.

Exit codes: 0 done, 1 error, 3 completed with rejected files (`[ingest] on_rejected_file =
\"skip\"`; they are listed in the manifest), 4 bad input, 5 refused, 6 locked (another run;
try --wait), 7 nothing to do (`phm --help` lists them all).

Examples:
  phm run pipeline/demo.toml --runs /data/runs --identifiable /secure/phm --key ~/.config/phm/icb.key
  phm run pipeline/icb.toml --reference-date 2025-07-01 --wait
  phm verify /data/runs/latest";

#[derive(clap::Args)]
pub struct RunArgs {
    /// The pipeline definition (TOML, see pipeline/demo.toml).
    pipeline: PathBuf,
    /// The pseudonymised zone's root (default: `[outputs] runs` of the definition).
    #[arg(long)]
    runs: Option<PathBuf>,
    /// The identifiable zone's root, private to you (default: `[outputs] identifiable`).
    #[arg(long)]
    identifiable: Option<PathBuf>,
    /// The pseudonymisation key file (default: `[inputs] key`).
    #[arg(long)]
    key: Option<PathBuf>,
    /// Reference date (YYYY-MM-DD); overrides the definition's, so a scheduler can move it.
    #[arg(long, value_parser = crate::parse_date)]
    reference_date: Option<chrono::NaiveDate>,
    /// Run even when the latest run had the same fingerprint.
    #[arg(long)]
    force: bool,
    /// Wait for another run on the same roots to finish instead of refusing.
    #[arg(long)]
    wait: bool,
    /// Ingest every file again, even those whose outputs the latest run already holds
    /// (by default a file is reused when it and everything its output depends on are
    /// unchanged, the ICB-wide opt-outs included).
    #[arg(long)]
    no_reuse: bool,
}

impl RunArgs {
    /// A run of `pipeline` into these roots with this key, as `phm demo` makes it.
    pub fn new(pipeline: PathBuf, runs: PathBuf, identifiable: PathBuf, key: PathBuf) -> Self {
        RunArgs {
            pipeline,
            runs: Some(runs),
            identifiable: Some(identifiable),
            key: Some(key),
            reference_date: None,
            force: false,
            wait: false,
            no_reuse: false,
        }
    }
}

#[derive(clap::Args)]
pub struct VerifyArgs {
    /// The run folder (e.g. `<runs>/latest`).
    run: PathBuf,
}

/// A spinner naming the stage while it runs, on a terminal only (schedulers get logs).
struct Spinner(Option<indicatif::ProgressBar>);

impl Spinner {
    fn start(stage: &str) -> Self {
        use std::io::IsTerminal as _;
        if !std::io::stderr().is_terminal() {
            return Spinner(None);
        }
        let bar = indicatif::ProgressBar::new_spinner();
        if let Ok(style) = indicatif::ProgressStyle::with_template("{spinner} {msg} ({elapsed})") {
            bar.set_style(style);
        }
        bar.set_message(stage.to_owned());
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        Spinner(Some(bar))
    }
}

impl Drop for Spinner {
    fn drop(&mut self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
}

/// Test hook: with `PHM_TEST_PAUSE_AT=<checkpoint>`, the run stops at that checkpoint (saying
/// so on stderr) and waits to be killed, so crash tests can kill it at a known moment.
fn checkpoint(name: &str) {
    if std::env::var("PHM_TEST_PAUSE_AT").is_ok_and(|v| v == name) {
        #[allow(clippy::print_stderr)]
        {
            eprintln!("phm: paused at {name}");
        }
        loop {
            std::thread::sleep(std::time::Duration::from_mins(1));
        }
    }
    tracing::info!(
        checkpoint = name,
        peak_rss_mib = peak_rss_mib(),
        "run checkpoint"
    );
}

/// The process's peak resident set so far (`VmHWM` in `/proc/self/status`), in MiB; 0 where
/// it cannot be read. Logged at each checkpoint, so a run's log shows which stage raised it.
fn peak_rss_mib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
            line.split_whitespace().nth(1)?.parse::<u64>().ok()
        })
        .map_or(0, |kib| kib / 1024)
}

struct Settings {
    pipeline_path: PathBuf,
    pipeline_bytes: Vec<u8>,
    p: Pipeline,
    runs: RunsRoot,
    identifiable: IdentifiableRoot,
    key_path: PathBuf,
    reference: Day,
    extract: Day,
    extracts: PathBuf,
    sql_dir: Option<PathBuf>,
}

/// A path from its flag, else from the pipeline definition's `key` (`outputs.runs`), else an
/// error saying how to give it.
pub(crate) fn flag_or_pipeline(
    flag: Option<&Path>,
    def: Option<&Path>,
    what: &str,
    key: &str,
    pipeline: &Path,
) -> anyhow::Result<PathBuf> {
    flag.or(def).map(Path::to_path_buf).ok_or_else(|| {
        anyhow::anyhow!(
            "no {what}\nhint: pass `--{}` or set `{key}` in `{}`",
            key.rsplit('.').next().unwrap_or(key),
            pipeline.display()
        )
    })
}

fn settings(args: &RunArgs) -> anyhow::Result<Settings> {
    let p = Pipeline::load(&args.pipeline)?;
    // Before anything is ingested: the engine must be in this build, and a cluster must
    // answer.
    let session = crate::link::session(&p);
    if !session.engine.available() {
        return Err(phm_sql::SqlError::EngineUnavailable(session.engine.name()).into());
    }
    if matches!(session.engine, phm_sql::Engine::Ballista { .. }) {
        phm_sql::block_on(async { phm_sql::connect(&session).await.map(drop) })?;
    }
    let pipeline_bytes = std::fs::read(&args.pipeline)
        .with_context(|| format!("cannot read `{}`", args.pipeline.display()))?;
    let need = |flag: &Option<PathBuf>, def: &Option<PathBuf>, what: &str, key: &str| {
        flag_or_pipeline(flag.as_deref(), def.as_deref(), what, key, &args.pipeline)
    };
    let runs = need(&args.runs, &p.outputs.runs, "runs root", "outputs.runs")?;
    let identifiable = need(
        &args.identifiable,
        &p.outputs.identifiable,
        "identifiable root",
        "outputs.identifiable",
    )?;
    let key_path = need(
        &args.key,
        &p.inputs.key,
        "pseudonymisation key",
        "inputs.key",
    )?;
    let extracts = need(
        &None,
        &p.inputs.extracts,
        "extracts folder",
        "inputs.extracts",
    )?;
    let reference = crate::link::reference_day(args.reference_date, &p)?;
    let extract = p
        .dates
        .extract_date
        .as_deref()
        .and_then(phm_contract::date::parse_iso)
        .unwrap_or_else(|| crate::ingest::day(chrono::Utc::now().date_naive()));
    Ok(Settings {
        pipeline_path: args.pipeline.clone(),
        pipeline_bytes,
        runs: RunsRoot::new(runs),
        identifiable: IdentifiableRoot::new(identifiable),
        key_path,
        reference,
        extract,
        extracts,
        sql_dir: Some(PathBuf::from("sql")).filter(|d| d.is_dir()),
        p,
    })
}

/// Texts built into the binary, as used files.
fn used_of(sources: Vec<(String, &'static str)>) -> impl Iterator<Item = UsedFile> {
    sources
        .into_iter()
        .map(|(path, text)| UsedFile::of(path, text.as_bytes()))
}

/// Every file a stage uses that is not an input: contracts, SQL, code lists.
fn used_files(s: &Settings) -> anyhow::Result<BTreeMap<&'static str, Vec<UsedFile>>> {
    let mut used = BTreeMap::new();
    let mut ingest: Vec<UsedFile> = used_of(phm_contract::Contracts::builtin_sources()).collect();
    ingest.extend(used_of(phm_ingest::sources()));
    used.insert("ingest", ingest);
    let sql = phm_sql::sql_steps(s.sql_dir.as_deref())?;
    used.insert(
        "link",
        sql.iter()
            .map(|(_, file, text)| UsedFile::of(format!("sql/{file}"), text.as_bytes()))
            .collect(),
    );
    used.insert("score", used_of(phm_score::scores::sources()).collect());
    used.insert(
        "risk",
        crate::risk::used(&s.p)?
            .into_iter()
            .map(|(path, bytes)| UsedFile::of(path, &bytes))
            .collect(),
    );
    Ok(used)
}

fn fingerprint(
    s: &Settings,
    key_id: &str,
    used: &BTreeMap<&'static str, Vec<UsedFile>>,
) -> anyhow::Result<String> {
    let mut f = Fingerprint::new();
    f.add("phm_version", env!("CARGO_PKG_VERSION").as_bytes())
        .add("pipeline", &s.pipeline_bytes)
        .add("reference_date", iso(s.reference).as_bytes())
        .add("extract_date", iso(s.extract).as_bytes())
        .add("key_id", key_id.as_bytes())
        .add(
            "opt_out",
            format!(
                "{:?} {}",
                s.p.opt_out.programme_codes, s.p.opt_out.national_data_opt_out
            )
            .as_bytes(),
        );
    f.add_tree("extracts", &s.extracts)
        .with_context(|| format!("cannot read the extracts under `{}`", s.extracts.display()))?;
    if let Some(lookup) = &s.p.inputs.postcode_lookup {
        let (hash, _) = manifest::hash_file(lookup)
            .with_context(|| format!("cannot read `{}`", lookup.display()))?;
        f.add("postcode_lookup", hash.as_bytes());
    }
    for (stage, files) in used {
        for u in files {
            f.add(&format!("{stage}:{}", u.path), u.blake3.as_bytes());
        }
    }
    Ok(f.finish())
}

/// The latest run, when both its zones' folders are still there: a file whose output it holds,
/// from the same inputs, is not ingested again.
fn earlier_runs(s: &Settings) -> Vec<phm_ingest::EarlierRun> {
    s.runs
        .latest()
        .map(|(id, out)| phm_ingest::EarlierRun {
            identifiable: s.identifiable.run(&id),
            id,
            out,
        })
        .filter(|e| e.out.path().is_dir() && e.identifiable.path().is_dir())
        .into_iter()
        .collect()
}

#[allow(clippy::print_stdout)]
pub fn run(args: &RunArgs) -> anyhow::Result<Outcome> {
    let s = settings(args)?;
    atomic::check_private_root(s.identifiable.path())?;
    atomic::create_dir_all(s.runs.path(), Privacy::Shared)
        .with_context(|| format!("cannot create `{}`", s.runs.path().display()))?;
    let _lock = RunLock::acquire(&[s.runs.lock_file(), s.identifiable.lock_file()], args.wait)?;
    checkpoint("locked");
    // Under the lock, anything half-written is an interrupted run's: clear it.
    atomic::remove_stale(s.runs.path())?;
    atomic::remove_stale(&s.identifiable.runs())?;
    let key = phm_ingest::PseudonymKey::load(&s.key_path)?;
    let used = used_files(&s)?;
    let fp = fingerprint(&s, &key.id(), &used)?;
    let reference = iso(s.reference);
    let id = run_id(&reference, &fp);
    if !args.force
        && let Some((latest, layout)) = s.runs.latest()
        && let Ok(m) = RunManifest::read(&layout.manifest())
        && m.fingerprint == fp
    {
        println!(
            "Nothing to do: run `{latest}` already has these inputs, settings and code (fingerprint {})\nhint: pass `--force` to run again",
            &fp[..12]
        );
        return Ok(Outcome::NothingToDo);
    }
    checkpoint("fingerprinted");
    let run_dir = PartialDir::create(s.runs.run(&id).path(), Privacy::Shared)?;
    atomic::create_dir_all(&s.identifiable.runs(), Privacy::Private)?;
    let id_dir = PartialDir::create(s.identifiable.run(&id).path(), Privacy::Private)?;
    let layout = phm_run::RunLayout::at(run_dir.path());
    let id_layout = phm_run::IdentifiableRun::at(id_dir.path());
    let mut timings = BTreeMap::new();
    let recipients = crate::pipeline::recipients(&s.p)?;

    let started = Instant::now();
    let ingest_cfg = phm_ingest::IngestConfig {
        extracts: s.extracts.clone(),
        postcode_lookup: s.p.inputs.postcode_lookup.clone(),
        reference_date: s.reference,
        extract_date: s.extract,
        out: layout.clone(),
        identifiable: id_layout.clone(),
        programme_opt_out_codes: s.p.opt_out.programme_codes.clone(),
        national_opt_out: s.p.opt_out.national_data_opt_out,
        on_rejected_file: s.p.ingest.on_rejected_file,
        vault_recipients: recipients.clone(),
        earlier: if args.no_reuse {
            Vec::new()
        } else {
            earlier_runs(&s)
        },
    };
    let bars = crate::ingest::progress_bars(&ingest_cfg);
    let ingested = phm_ingest::ingest(&ingest_cfg, &key, &|report| {
        if let Some((_, bars)) = &bars
            && let Some(bar) = bars.lock().expect("bars").get(&report.extract)
        {
            bar.inc(1);
        }
    })
    .context("`phm run` stopped in ingest; nothing was committed")?;
    if let Some((multi, _)) = bars {
        multi.clear().ok();
    }
    timings.insert("ingest_seconds".to_owned(), started.elapsed().as_secs_f64());
    checkpoint("ingested");

    let started = Instant::now();
    let spinner = Spinner::start("link");
    let link_cfg = crate::link::config(&s.p, s.reference, layout.path(), s.sql_dir.clone());
    std::fs::create_dir_all(layout.linked())?;
    let patients = phm_link::link(&link_cfg, &layout.linked())
        .context("`phm run` stopped in link; nothing was committed")?;
    timings.insert("link_seconds".to_owned(), started.elapsed().as_secs_f64());
    drop(spinner);
    checkpoint("linked");

    let started = Instant::now();
    let spinner = Spinner::start("score");
    let score_cfg = crate::score::config(&s.p, s.reference, layout.path());
    let scored = phm_score::score(&score_cfg, &layout.scores())
        .context("`phm run` stopped in score; nothing was committed")?;
    timings.insert("score_seconds".to_owned(), started.elapsed().as_secs_f64());
    drop(spinner);
    checkpoint("scored");

    let started = Instant::now();
    let spinner = Spinner::start("risk (model, back-test, tiers, segments, reasons)");
    let risk = crate::risk::stage(&s.p, s.reference, &layout, s.sql_dir.as_deref())
        .context("`phm run` stopped in risk; nothing was committed")?;
    let risk_seconds = started.elapsed().as_secs_f64();
    timings.insert("risk_seconds".to_owned(), risk_seconds);
    timings.insert("risk_model_seconds".to_owned(), risk.seconds);
    timings.insert(
        "risk_history_seconds".to_owned(),
        risk_seconds - risk.seconds,
    );
    drop(spinner);
    checkpoint("risked");

    let started = Instant::now();
    let spinner = Spinner::start("practice bundles");
    let bundled = phm_reid::bundle::write_bundles(
        &layout,
        &id_layout,
        &id,
        &reference,
        &recipients,
        &s.p.reid.bundle_tiers,
    )
    .context("`phm run` stopped writing practice bundles; nothing was committed")?;
    timings.insert("bundle_seconds".to_owned(), started.elapsed().as_secs_f64());
    drop(spinner);
    checkpoint("bundled");

    let started = Instant::now();
    let spinner = Spinner::start("publish (aggregates, report)");
    let published = phm_publish::publish(&phm_publish::PublishConfig {
        run: layout.clone(),
        run_id: id.clone(),
        reference_date: reference.clone(),
        extract_date: s.extract,
        publish: s.p.publish.clone(),
        schedule: s.p.schedule.clone(),
        submissions: Some(s.extracts.join("submissions.csv")).filter(|p| p.is_file()),
        tiers: s.p.risk.tiers.iter().map(|t| t.name.clone()).collect(),
        bundles: bundled.bundles.keys().cloned().collect(),
        practices_without_recipient: bundled.practices_without_recipient.clone(),
        session: link_cfg.session.clone(),
    })
    .context("`phm run` stopped in publish; nothing was committed")?;
    timings.insert(
        "publish_seconds".to_owned(),
        started.elapsed().as_secs_f64(),
    );
    drop(spinner);
    checkpoint("published");

    let rows = |p: &Path| phm_sql::parquet_rows(p);
    let outputs = manifest::hash_tree(layout.path(), &[manifest::MANIFEST], &rows)?;
    let identifiable_outputs = manifest::hash_tree(id_layout.path(), &[], &rows)?;
    let inputs = input_files(&ingested, &s.extracts);
    let rejected_files = ingested
        .rejected_files
        .iter()
        .map(|r| RejectedFile {
            file: r.file.clone(),
            problem: r.problem.clone(),
            bytes: r.bytes,
            lines: r.lines,
        })
        .collect::<Vec<_>>();
    let stage =
        |st: phm_run::Stage| StageRecord::new(st, used.get(st.name).cloned().unwrap_or_default());
    let pipeline_name = s.pipeline_path.file_name().map_or_else(
        || "pipeline.toml".into(),
        |n| n.to_string_lossy().into_owned(),
    );
    let m = RunManifest {
        run_id: id.clone(),
        phm_version: env!("CARGO_PKG_VERSION").to_owned(),
        fingerprint: fp,
        reference_date: reference,
        extract_date: iso(s.extract),
        pipeline: UsedFile::of(format!("pipeline/{pipeline_name}"), &s.pipeline_bytes),
        engine: crate::link::session(&s.p).engine.name().to_owned(),
        key_ids: BTreeMap::from([("pseudonymisation".to_owned(), key.id())]),
        opt_out: OptOutSettings {
            programme_codes: s.p.opt_out.programme_codes.clone(),
            national_data_opt_out: s.p.opt_out.national_data_opt_out,
        },
        conservation: Conservation::of(&inputs),
        inputs,
        rejected_files,
        stages: vec![
            stage(manifest::INGEST),
            stage(manifest::LINK),
            stage(manifest::SCORE),
            stage(manifest::RISK),
            stage(manifest::BUNDLE),
            stage(manifest::PUBLISH),
        ],
        bundles: manifest::Bundles {
            practices: bundled
                .bundles
                .iter()
                .map(|(p, n)| {
                    let record = manifest::BundleRecord {
                        key_id: recipients[p].key_id(),
                        flagged: *n,
                    };
                    (p.clone(), record)
                })
                .collect(),
            practices_without_recipient: bundled.practices_without_recipient.clone(),
            tiers: s.p.reid.bundle_tiers.clone(),
            randomised_outputs: manifest::RANDOMISED_OUTPUTS
                .iter()
                .map(|(f, why)| ((*f).to_owned(), (*why).to_owned()))
                .collect(),
        },
        outputs,
        identifiable_outputs,
        timings,
    };
    if !m.conservation.holds_for_every_file {
        bail!(
            "rows do not add up for an extract file; nothing was committed\nhint: this is a bug in phm; please report it with `ingest-manifest.json`"
        );
    }
    atomic::write_file(&layout.manifest(), m.to_json().as_bytes(), Privacy::Shared)?;
    checkpoint("manifest-written");
    id_dir.commit()?;
    checkpoint("identifiable-committed");
    run_dir.commit()?;
    checkpoint("run-committed");
    atomic::replace_symlink(Path::new(&id), &s.runs.latest_link())?;
    checkpoint("latest-updated");

    let c = &m.conservation;
    println!(
        "Run `{id}` as of {}: {} files, {} rows in = {} out + {} quarantined + {} opted out; {patients} patients linked, {} scored",
        m.reference_date,
        c.files,
        c.rows_in,
        c.rows_out,
        c.quarantined,
        c.opted_out,
        scored.patients
    );
    let reused: Vec<&str> = m
        .inputs
        .iter()
        .filter_map(|f| f.reused_from.as_deref())
        .collect();
    if let Some(from) = reused.first() {
        println!(
            "  reused: {} of {} files unchanged since run `{from}` (their outputs linked, not ingested again)",
            reused.len(),
            c.files
        );
    }
    println!(
        "  risk: {} model {}{}; tiers {}",
        if risk.approved { "approved" } else { "fitted" },
        &risk.model_id[..12],
        risk.auroc.map_or_else(String::new, |a| format!(
            ", AUROC {a:.3} on the latest outcome year"
        )),
        risk.tiers
            .iter()
            .map(|(t, n)| format!("{t} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "  bundles: {} practice(s){}",
        m.bundles.practices.len(),
        if m.bundles.practices_without_recipient.is_empty() {
            String::new()
        } else {
            format!(
                "; no recipient (no bundle) for {}",
                m.bundles.practices_without_recipient.join(", ")
            )
        }
    );
    println!(
        "  published: {} aggregate tables ({} of {} cells redacted); report {}{}",
        published.aggregates.len(),
        published.hidden_cells,
        published.cells,
        s.runs.run(&id).report_html().display(),
        if published.tables_under_k.is_empty() {
            String::new()
        } else {
            format!(
                "; tables with classes under k (see publish/k_anonymity.json): {}",
                published.tables_under_k.join(", ")
            )
        }
    );
    for r in &m.rejected_files {
        println!(
            "  rejected and skipped: `{}`: {} ({} bytes, {} lines)",
            r.file, r.problem, r.bytes, r.lines
        );
    }
    println!("Pseudonymised zone: {}", s.runs.run(&id).path().display());
    println!(
        "Identifiable zone:  {}",
        s.identifiable.run(&id).path().display()
    );
    Ok(if m.rejected_files.is_empty() {
        Outcome::Done
    } else {
        Outcome::CompletedWithRejectedFiles
    })
}

fn input_files(m: &phm_ingest::Manifest, extracts: &Path) -> Vec<InputFile> {
    m.files
        .iter()
        .map(|f| InputFile {
            file: f.file.clone(),
            blake3: f.input_blake3.clone(),
            bytes: std::fs::metadata(extracts.join(&f.file)).map_or(0, |m| m.len()),
            rows_in: f.rows_in,
            rows_out: f.rows_out,
            quarantined: f.quarantined_total(),
            opted_out: f.opted_out_total(),
            conservation_holds: f.conserves(),
            reused_from: f.reused_from.clone(),
        })
        .collect()
}

#[allow(clippy::print_stdout)]
pub fn verify(args: &VerifyArgs) -> anyhow::Result<()> {
    let path = args.run.join(manifest::MANIFEST);
    let m = RunManifest::read(&path)?;
    let diffs = manifest::verify(&args.run, &m)
        .with_context(|| format!("cannot read the run `{}`", args.run.display()))?;
    if diffs.is_empty() {
        println!(
            "Run `{}`: all {} files match its manifest",
            m.run_id,
            m.outputs.len()
        );
        return Ok(());
    }
    let list: Vec<String> = diffs.iter().map(|d| format!("  {d}")).collect();
    bail!(
        "run `{}` does not match its manifest ({} of {} files differ):\n{}\nhint: the run was changed after it was written; run it again with `phm run --force`",
        m.run_id,
        diffs.len(),
        m.outputs.len(),
        list.join("\n")
    )
}
