//! Sub-licensing (`phm share`): one recipient's extract of a run, outside every zone.
//!
//! The GP privacy notice lets the ICB share pseudonymised data with ICS partners under rules:
//! no provider local patient id, segregated from other datasets, no further linkage, no
//! onward sharing. What can be enforced in the data is enforced here:
//!
//! - only the tables, columns and rows the recipient's grants name ([`phm_run::share`]);
//! - pseudonyms re-keyed for the recipient (keyed BLAKE3 of the run's pseudonym under a key
//!   derived from the master key, the recipient id and a key epoch:
//!   [`phm_ingest::pseudo::RecipientPseudonyms`]), so two recipients' extracts cannot be joined
//!   with each other or with the ICB's zone, and rows are ordered by the recipient's pseudonym,
//!   never by the run's;
//! - direct identifiers and provider record numbers never, whatever a grant says; event dates
//!   as `YYYY-MM` unless the grant keeps days;
//! - k-anonymity over quasi-identifiers (age, age band, sex, LSOA, postcode district, practice)
//!   in row-level extracts ([`kanon`]); aggregates under the run's disclosure control;
//! - a data-sharing manifest (recipient, purpose, tables, columns, filters, rows, file hashes,
//!   key id and epoch, retention date) and an entry in the audit log naming the recipient,
//!   purpose and manifest hash, appended before the extract is put in place.
//!
//! [`overlap`] checks that two extracts (or an extract and a run) share no pseudonym.

pub mod grant;
pub mod kanon;
mod overlap;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, RecordBatch, StringArray};
use datafusion::arrow::compute::{cast, concat_batches, take_record_batch};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use phm_ingest::PseudonymKey;
use phm_ingest::pseudo::RecipientPseudonyms;
use phm_publish::frame::{Frame, Grid};
use phm_publish::sdc::Rule;
use phm_reid::audit::{self, NewEntry, Sharing};
use phm_run::manifest::RunManifest;
use phm_run::share::{DatePrecision, GrantLevel, NEVER_SHARED, Recipient};
use phm_run::{PartialDir, Privacy, RunLayout};
use phm_sql::SessionSettings;
use phm_sql::query::QuerySession;
use serde::{Deserialize, Serialize};

pub use crate::kanon::KReport;
pub use crate::overlap::{Overlap, overlap};

/// The data-sharing manifest's file name in an extract.
pub const MANIFEST: &str = "share-manifest.json";
/// The format of [`ShareManifest`].
pub const FORMAT: &str = "phm-share-manifest/1";

/// Why an extract could not be made. Messages name the recipient, table or path, never a
/// value of the data.
#[derive(Debug, thiserror::Error)]
pub enum ShareError {
    /// The pipeline definition has no such recipient.
    #[error("no recipient `{0}` in `[share.recipients]`\nhint: the recipients are {1}")]
    UnknownRecipient(String, String),
    /// A grant cannot be carried out on this run.
    #[error("the grant of `{table}` to `{recipient}` cannot be shared: {problem}")]
    Grant {
        /// The recipient.
        recipient: String,
        /// The table.
        table: String,
        /// What is wrong.
        problem: String,
    },
    /// The output is inside a zone, or exists.
    #[error("cannot write the extract to `{path}`: {why}\nhint: {hint}")]
    Output {
        /// The output folder.
        path: PathBuf,
        /// Why not.
        why: String,
        /// What to do.
        hint: String,
    },
    /// The key given is not the run's.
    #[error(
        "the key given (id {given}) is not the one run `{run}` was pseudonymised with (id {run_key})\nhint: pass the ICB's pseudonymisation key with `--key`"
    )]
    WrongKey {
        /// The run.
        run: String,
        /// The given key's id.
        given: String,
        /// The run's key id.
        run_key: String,
    },
    /// The recipient's purpose needs the national data opt-out and the run did not apply it.
    #[error(
        "recipient `{0}`'s purpose needs the national data opt-out applied, and run `{1}` did not apply it\nhint: set `[opt_out] national_data_opt_out = true` and run again, or share a run that applied it"
    )]
    NationalOptOut(String, String),
    /// The run folder has no manifest, or it cannot be read.
    #[error(transparent)]
    Manifest(#[from] phm_run::manifest::ManifestError),
    /// The query engine failed.
    #[error(transparent)]
    Query(#[from] phm_sql::query::QueryError),
    /// Writing Parquet failed.
    #[error(transparent)]
    Sql(#[from] phm_sql::SqlError),
    /// Disclosure control or writing an aggregate failed.
    #[error(transparent)]
    Publish(#[from] phm_publish::PublishError),
    /// Arrow failed.
    #[error("cannot prepare `{table}`: {source}")]
    Arrow {
        /// The table.
        table: String,
        /// The error.
        source: datafusion::arrow::error::ArrowError,
    },
    /// The audit log refused the entry (nothing is shared then).
    #[error(transparent)]
    Audit(#[from] audit::AuditError),
    /// A file could not be read or written.
    #[error("cannot use `{path}`: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ShareError + '_ {
    move |source| ShareError::Io {
        path: path.to_owned(),
        source,
    }
}

/// One recipient's extract of one run.
#[derive(Debug)]
pub struct ShareRequest<'a> {
    /// The run folder.
    pub run: RunLayout,
    /// The recipient's id.
    pub recipient_id: &'a str,
    /// The recipient.
    pub recipient: &'a Recipient,
    /// The ICB's pseudonymisation (master) key.
    pub key: &'a PseudonymKey,
    /// Disclosure control for aggregates (`[publish]`).
    pub rule: Rule,
    /// Where the extract goes: a new folder outside every zone.
    pub out: PathBuf,
    /// The audit log to append to.
    pub audit_log: PathBuf,
    /// Who is sharing.
    pub user: String,
    /// Today, `YYYY-MM-DD` (the manifest's date and the start of retention).
    pub today: String,
    /// The query engine's settings.
    pub settings: SessionSettings,
}

/// The data-sharing manifest (`share-manifest.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShareManifest {
    /// [`FORMAT`].
    pub format: String,
    /// The recipient id.
    pub recipient: String,
    /// Its display name.
    pub recipient_name: String,
    /// What the data is for.
    pub purpose: String,
    /// The run shared.
    pub run_id: String,
    /// The run's reference date.
    pub reference_date: String,
    /// When it was shared.
    pub shared_on: String,
    /// Months the recipient may keep it.
    pub retention_months: u32,
    /// The day by which the recipient destroys it.
    pub retain_until: String,
    /// The id of the ICB's key the recipient's key is derived from.
    pub key_id: String,
    /// The recipient's key epoch.
    pub key_epoch: u32,
    /// The id of the recipient's own key (changes with the epoch).
    pub recipient_key_id: String,
    /// Whether the national data opt-out applies to this purpose.
    pub national_data_opt_out: bool,
    /// Whether the run applied it (patients with one are absent from every table).
    pub national_data_opt_out_applied: bool,
    /// The k of row-level extracts (a grant may set its own: see its `k_anonymity`).
    pub k: u64,
    /// Disclosure control of aggregates, as stated in each CSV.
    pub disclosure_control: String,
    /// Columns never shared, whatever a grant says.
    pub never_shared: Vec<String>,
    /// Each grant as carried out.
    pub tables: Vec<SharedTable>,
    /// Each file of the extract (but this manifest): name, rows, BLAKE3.
    pub files: Vec<SharedFile>,
}

/// One grant as carried out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SharedTable {
    /// The run's table.
    pub table: String,
    /// `rows` or `aggregates`.
    pub level: String,
    /// The columns granted.
    pub columns: Vec<String>,
    /// The row filters.
    pub rows_filter: BTreeMap<String, Vec<String>>,
    /// `month` or `day`.
    pub dates: String,
    /// The file(s) written.
    pub files: Vec<String>,
    /// Rows written.
    pub rows: u64,
    /// What k-anonymity did (row-level extracts of tables with rows about patients).
    pub k_anonymity: Option<KReport>,
}

/// One file of an extract.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SharedFile {
    /// Its name in the extract folder.
    pub name: String,
    /// Its BLAKE3 hash (hex).
    pub blake3: String,
}

/// What [`share`] did.
#[derive(Debug)]
pub struct Shared {
    /// The manifest written.
    pub manifest: ShareManifest,
    /// The BLAKE3 hash of its bytes.
    pub manifest_hash: String,
    /// The audit log's new head.
    pub audit_head: String,
}

/// Make one recipient's extract: see the crate's documentation.
pub fn share(req: &ShareRequest<'_>) -> Result<Shared, ShareError> {
    phm_sql::block_on(share_async(req))
}

fn check_output(out: &Path) -> Result<(), ShareError> {
    if let Some(zone) = phm_run::layout::zone_containing(out) {
        return Err(ShareError::Output {
            path: out.to_owned(),
            why: format!("it is inside the zone at `{}`", zone.display()),
            hint: "write the extract outside both zones: it leaves the ICB".to_owned(),
        });
    }
    if out.exists() {
        return Err(ShareError::Output {
            path: out.to_owned(),
            why: "it exists".to_owned(),
            hint: "name a new folder; phm never writes over an extract".to_owned(),
        });
    }
    Ok(())
}

async fn share_async(req: &ShareRequest<'_>) -> Result<Shared, ShareError> {
    check_output(&req.out)?;
    let run = RunManifest::read(&req.run.manifest())?;
    let run_key = run
        .key_ids
        .get("pseudonymisation")
        .cloned()
        .unwrap_or_default();
    if run_key != req.key.id() {
        return Err(ShareError::WrongKey {
            run: run.run_id,
            given: req.key.id(),
            run_key,
        });
    }
    let r = req.recipient;
    if r.national_data_opt_out && !run.opt_out.national_data_opt_out {
        return Err(ShareError::NationalOptOut(
            req.recipient_id.to_owned(),
            run.run_id,
        ));
    }
    let pseudonyms = RecipientPseudonyms::new(req.key, req.recipient_id, r.key_epoch);
    let session = QuerySession::open(&req.run, &req.settings).await?;
    let aggregates = aggregate_tables(&req.run)?;
    let spine = match session.sql("SELECT * FROM \"spine\" LIMIT 0").await {
        Ok(df) => Some(df.schema().as_arrow().clone()),
        Err(_) => None,
    };
    let partial = PartialDir::create(&req.out, Privacy::Private).map_err(io(&req.out))?;
    let mut tables = Vec::new();
    let mut pending: Vec<Pending> = Vec::new();
    let mut names = std::collections::BTreeSet::new();
    for g in &r.grants {
        let grant_error = |problem: String| ShareError::Grant {
            recipient: req.recipient_id.to_owned(),
            table: g.table.clone(),
            problem,
        };
        if !session.tables().iter().any(|t| t == &g.table) {
            return Err(grant_error(format!(
                "run `{}` has no table `{}`; it has {}",
                run.run_id,
                g.table,
                session.tables().join(", ")
            )));
        }
        let schema = session
            .sql(&format!("SELECT * FROM {} LIMIT 0", grant::ident(&g.table)))
            .await?
            .schema()
            .as_arrow()
            .clone();
        let source = grant::Source {
            name: &g.table,
            schema: &schema,
            spine: spine.as_ref(),
        };
        if g.level == GrantLevel::Rows
            && !aggregates.contains(&g.table)
            && schema.field_with_name("pseudonym").is_err()
        {
            return Err(grant_error(
                "it holds counts no disclosure control has touched (a back-test's calibration); share the model card, or a table of `publish/aggregates/`".to_owned(),
            ));
        }
        let name = match g.level {
            GrantLevel::Rows => g.table.clone(),
            GrantLevel::Aggregates => format!("{}_counts", g.table),
        };
        if !names.insert(name.clone()) {
            return Err(grant_error(
                "it is granted twice at the same level; merge the two grants".to_owned(),
            ));
        }
        let sql = match g.level {
            GrantLevel::Rows => grant::rows_sql(g, &source, req.recipient_id)?,
            GrantLevel::Aggregates => grant::counts_sql(g, &source, req.recipient_id)?,
        };
        let df = session.sql(&sql).await?;
        let sql_schema = df.schema().as_arrow().clone();
        let batches = df
            .collect()
            .await
            .map_err(|e| phm_sql::failed(&g.table, &e))?;
        let record = match g.level {
            GrantLevel::Rows => {
                let k = (!aggregates.contains(&g.table)).then_some(g.k.unwrap_or(r.k));
                let (table, patients) =
                    prepare_rows(&name, &Arc::new(sql_schema), &batches, &pseudonyms)?;
                pending.push(Pending {
                    at: tables.len(),
                    name: name.clone(),
                    table,
                    patients,
                    k,
                });
                (Vec::new(), 0, None)
            }
            GrantLevel::Aggregates => {
                write_counts(partial.path(), &name, &g.columns, &batches, req.rule)?
            }
        };
        tables.push(SharedTable {
            table: g.table.clone(),
            level: match g.level {
                GrantLevel::Rows => "rows",
                GrantLevel::Aggregates => "aggregates",
            }
            .to_owned(),
            columns: g.columns.clone(),
            rows_filter: g.rows.clone(),
            dates: match g.dates {
                DatePrecision::Month => "month",
                DatePrecision::Day => "day",
            }
            .to_owned(),
            files: record.0,
            rows: record.1,
            k_anonymity: record.2,
        });
    }
    for (at, written) in write_pending(partial.path(), pending)? {
        let t: &mut SharedTable = &mut tables[at];
        (t.files, t.rows, t.k_anonymity) = written;
    }
    let manifest = ShareManifest {
        format: FORMAT.to_owned(),
        recipient: req.recipient_id.to_owned(),
        recipient_name: r.name.clone(),
        purpose: r.purpose.clone(),
        run_id: run.run_id.clone(),
        reference_date: run.reference_date.clone(),
        shared_on: req.today.clone(),
        retention_months: r.retention_months,
        retain_until: retain_until(&req.today, r.retention_months),
        key_id: run_key,
        key_epoch: r.key_epoch,
        recipient_key_id: pseudonyms.key_id(),
        national_data_opt_out: r.national_data_opt_out,
        national_data_opt_out_applied: run.opt_out.national_data_opt_out,
        k: r.k,
        disclosure_control: phm_publish::aggregates::statement(req.rule),
        never_shared: NEVER_SHARED.iter().map(|(c, _)| (*c).to_owned()).collect(),
        tables,
        files: hash_files(partial.path())?,
    };
    let mut bytes = serde_json::to_vec_pretty(&manifest).map_err(|e| io(&req.out)(e.into()))?;
    bytes.push(b'\n');
    let manifest_path = partial.path().join(MANIFEST);
    phm_run::atomic::write_file(&manifest_path, &bytes, Privacy::Private)
        .map_err(io(&manifest_path))?;
    let manifest_hash = blake3::hash(&bytes).to_hex().to_string();
    let rows: u64 = manifest.tables.iter().map(|t| t.rows).sum();
    let audit_head = audit::append(
        &req.audit_log,
        NewEntry {
            action: "share".to_owned(),
            user: req.user.clone(),
            practice: None,
            reason: r.purpose.clone(),
            run_id: Some(run.run_id.clone()),
            list_hash: None,
            subjects: Vec::new(),
            count: rows,
            outcome: format!(
                "shared {} table(s), {rows} row(s), to `{}`",
                manifest.tables.len(),
                req.recipient_id
            ),
            time: audit::now_utc(),
            sharing: Some(Sharing {
                recipient: req.recipient_id.to_owned(),
                manifest_hash: manifest_hash.clone(),
            }),
        },
    )?;
    partial.commit().map_err(io(&req.out))?;
    tracing::info!(
        recipient = req.recipient_id,
        tables = manifest.tables.len(),
        rows,
        "extract shared"
    );
    Ok(Shared {
        manifest,
        manifest_hash,
        audit_head,
    })
}

/// The names of the run's aggregate tables (counts already under disclosure control).
fn aggregate_tables(run: &RunLayout) -> Result<Vec<String>, ShareError> {
    let dir = run.aggregates();
    let tables = run.published_tables().map_err(io(run.path()))?;
    Ok(tables
        .into_iter()
        .filter(|(_, p)| p.starts_with(&dir))
        .map(|(n, _)| n)
        .collect())
}

/// `today` plus `months` (the same day of the month, or the month's last).
fn retain_until(today: &str, months: u32) -> String {
    phm_contract::date::parse_iso(today).map_or_else(
        || today.to_owned(),
        |d| {
            phm_contract::date::iso(phm_sql::add_months(
                d,
                i32::try_from(months).unwrap_or(i32::MAX),
            ))
        },
    )
}

/// `(file names, rows, k report)` of a grant written.
type Written = (Vec<String>, u64, Option<KReport>);

/// A row-level grant read and re-keyed, waiting for k-anonymity over the whole extract.
struct Pending {
    /// Its place among the manifest's tables.
    at: usize,
    /// Its file name without `.parquet`.
    name: String,
    /// The granted columns, the pseudonym re-keyed.
    table: RecordBatch,
    /// The run's pseudonym of each row, when the table has patients.
    patients: Option<ArrayRef>,
    /// Its k (`None`: an aggregate of the run, already under disclosure control).
    k: Option<u64>,
}

/// The grant's rows as one batch: the granted columns, the pseudonym re-keyed; and the run's
/// pseudonym of each row, apart.
fn prepare_rows(
    name: &str,
    schema: &Arc<Schema>,
    batches: &[RecordBatch],
    pseudonyms: &RecipientPseudonyms,
) -> Result<(RecordBatch, Option<ArrayRef>), ShareError> {
    let arrow = |source| ShareError::Arrow {
        table: name.to_owned(),
        source,
    };
    let table = concat_batches(schema, batches).map_err(arrow)?;
    let patients = table.column_by_name(grant::PATIENT).cloned();
    let granted: Vec<usize> = (0..table.num_columns())
        .filter(|&i| table.schema().field(i).name() != grant::PATIENT)
        .collect();
    let mut table = table.project(&granted).map_err(arrow)?;
    if let Ok(i) = table.schema().index_of("pseudonym") {
        table = rekey(&table, i, pseudonyms).map_err(arrow)?;
    }
    Ok((table, patients))
}

/// Enforce k and write every row-level grant: tables that show the recipient's pseudonym
/// together (they can be joined on it), the others each alone.
fn write_pending(dir: &Path, pending: Vec<Pending>) -> Result<Vec<(usize, Written)>, ShareError> {
    let arrow = |name: &str| {
        let name = name.to_owned();
        move |source| ShareError::Arrow {
            table: name,
            source,
        }
    };
    let linked = |p: &Pending| {
        p.k.is_some() && p.patients.is_some() && p.table.schema().index_of("pseudonym").is_ok()
    };
    let (joint, alone): (Vec<Pending>, Vec<Pending>) = pending.into_iter().partition(linked);
    let mut ready: Vec<(usize, String, RecordBatch, Option<KReport>)> = Vec::new();
    if let Some(k) = joint.iter().filter_map(|p| p.k).max() {
        let tables: Vec<RecordBatch> = joint.iter().map(|p| p.table.clone()).collect();
        let owners: Vec<ArrayRef> = joint.iter().filter_map(|p| p.patients.clone()).collect();
        let (out, reports) =
            kanon::enforce_joint(&tables, &owners, k).map_err(arrow("the extract"))?;
        for ((p, t), r) in joint.into_iter().zip(out).zip(reports) {
            ready.push((p.at, p.name, t, Some(r)));
        }
    }
    for p in alone {
        let (table, report) = match p.k {
            Some(k) => {
                let (t, r) =
                    kanon::enforce(&p.table, p.patients.as_ref(), k).map_err(arrow(&p.name))?;
                (t, Some(r))
            }
            None => (p.table, None),
        };
        ready.push((p.at, p.name, table, report));
    }
    ready
        .into_iter()
        .map(|(at, name, table, report)| {
            let table = sorted(&table).map_err(arrow(&name))?;
            let file = format!("{name}.parquet");
            let rows = phm_sql::write_batches(
                table.schema(),
                [table],
                &dir.join(&file),
                &name,
                phm_sql::published_compression(),
            )?;
            Ok((at, (vec![file], rows as u64, report)))
        })
        .collect()
}

/// The batch with column `i` (run pseudonyms) replaced by the recipient's pseudonyms.
fn rekey(
    table: &RecordBatch,
    i: usize,
    pseudonyms: &RecipientPseudonyms,
) -> Result<RecordBatch, datafusion::arrow::error::ArrowError> {
    let run = cast(table.column(i), &DataType::Utf8)?;
    let run = run
        .as_any()
        .downcast_ref::<StringArray>()
        .ok_or_else(|| datafusion::arrow::error::ArrowError::CastError("pseudonym".to_owned()))?;
    let recipient: StringArray = run
        .iter()
        .map(|p| p.map(|p| pseudonyms.pseudonym(p).as_str().to_owned()))
        .collect();
    let mut columns = table.columns().to_vec();
    columns[i] = Arc::new(recipient);
    let mut fields: Vec<Field> = table
        .schema()
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    fields[i] = Field::new("pseudonym", DataType::Utf8, run.null_count() > 0);
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)
}

/// Rows in the order of their values, column by column (the recipient's pseudonym first), in
/// Arrow's row format so any column type sorts: a stable order that owes nothing to the run's
/// pseudonyms (which would let two recipients' rows be paired).
fn sorted(table: &RecordBatch) -> Result<RecordBatch, datafusion::arrow::error::ArrowError> {
    use datafusion::arrow::array::UInt32Array;
    use datafusion::arrow::row::{RowConverter, SortField};
    let mut order: Vec<usize> = (0..table.num_columns()).collect();
    if let Ok(p) = table.schema().index_of("pseudonym") {
        order.retain(|&i| i != p);
        order.insert(0, p);
    }
    if order.is_empty() || table.num_rows() == 0 {
        return Ok(table.clone());
    }
    let converter = RowConverter::new(
        order
            .iter()
            .map(|&i| SortField::new(table.schema().field(i).data_type().clone()))
            .collect(),
    )?;
    let columns: Vec<ArrayRef> = order.iter().map(|&i| table.column(i).clone()).collect();
    let rows = converter.convert_columns(&columns)?;
    let mut indices: Vec<u32> = (0..u32::try_from(table.num_rows()).unwrap_or(u32::MAX)).collect();
    indices.sort_by(|&a, &b| rows.row(a as usize).cmp(&rows.row(b as usize)));
    take_record_batch(table, &UInt32Array::from(indices))
}

/// Counts of patients by the granted columns, under the run's disclosure control, written as
/// `<name>.csv` and `<name>.parquet`.
fn write_counts(
    dir: &Path,
    name: &str,
    keys: &[String],
    batches: &[RecordBatch],
    rule: Rule,
) -> Result<Written, ShareError> {
    let key_refs: Vec<&str> = keys.iter().map(String::as_str).collect();
    let mut grid = Grid::new(name, &key_refs, vec!["patients".to_owned()]);
    for b in batches {
        let text = |i: usize| -> Result<ArrayRef, ShareError> {
            cast(b.column(i), &DataType::Utf8).map_err(|source| ShareError::Arrow {
                table: name.to_owned(),
                source,
            })
        };
        let cols: Vec<ArrayRef> = (0..keys.len()).map(text).collect::<Result<_, _>>()?;
        let counts =
            cast(b.column(keys.len()), &DataType::UInt64).map_err(|source| ShareError::Arrow {
                table: name.to_owned(),
                source,
            })?;
        let counts = counts
            .as_any()
            .downcast_ref::<datafusion::arrow::array::UInt64Array>()
            .map(|c| c.values().to_vec())
            .unwrap_or_default();
        for (row, n) in counts.iter().enumerate() {
            let key: Vec<String> = cols
                .iter()
                .map(|c| {
                    c.as_any()
                        .downcast_ref::<StringArray>()
                        .filter(|s| !s.is_null(row))
                        .map_or_else(|| "unknown".to_owned(), |s| s.value(row).to_owned())
                })
                .collect();
            let key: Vec<&str> = key.iter().map(String::as_str).collect();
            grid.add(&key, "patients", *n)
                .map_err(|problem| ShareError::Grant {
                    recipient: String::new(),
                    table: name.to_owned(),
                    problem,
                })?;
        }
    }
    let mut frame = Frame::default();
    let id = frame.add(grid);
    let protected = frame
        .protect(rule)
        .map_err(phm_publish::PublishError::from)?;
    let table = protected.table(id);
    phm_publish::aggregates::write_in(dir, table, rule, Privacy::Private)?;
    Ok((
        vec![format!("{name}.csv"), format!("{name}.parquet")],
        table.rows.len() as u64,
        None,
    ))
}

/// Every file of a folder (name order) and its BLAKE3.
fn hash_files(dir: &Path) -> Result<Vec<SharedFile>, ShareError> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map_err(io(dir))?
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.'))
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|name| {
            let path = dir.join(&name);
            let bytes = std::fs::read(&path).map_err(io(&path))?;
            Ok(SharedFile {
                blake3: blake3::hash(&bytes).to_hex().to_string(),
                name,
            })
        })
        .collect()
}
