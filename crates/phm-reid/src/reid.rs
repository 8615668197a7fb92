//! `phm reid`: a practice turns its bundle's flagged patients back into NHS numbers.
//!
//! In order: the output folder is checked to be outside both zones; `bundle.json`'s hashes
//! are checked; the identity (private to its owner) must open the vault; the patients asked
//! for (by tier, or a list of pseudonyms) are matched against the vault, so only that
//! practice's patients can appear; an entry goes into the audit log and is fsynced; only then
//! is the GP list written, as one folder renamed into place (a list is complete or absent).
//! Every refusal after the request is known is audited too.

use std::path::{Path, PathBuf};

use phm_run::{PartialDir, Privacy};

use crate::ReidError;
use crate::audit::{self, NewEntry};
use crate::bundle::{self, BundleJson};
use crate::keys::PracticeIdentity;
use crate::vault::{self, Vault, VaultRecord};

/// Which patients of the bundle to re-identify.
#[derive(Debug, Clone)]
pub enum Selection {
    /// The flagged patients in these tiers.
    Tiers(Vec<String>),
    /// The flagged patients of every tier the bundle holds (its `bundle.json`, read once
    /// its hashes are checked).
    BundleTiers,
    /// The patients of a CSV file with a `pseudonym` column (flagged or not, but of this
    /// practice).
    List(PathBuf),
}

/// A re-identification request.
#[derive(Debug, Clone)]
pub struct Request {
    /// The bundle folder (`outbox/<ODS>/` of a run, wherever it was copied to).
    pub bundle: PathBuf,
    /// The practice's identity file.
    pub identity: PathBuf,
    /// Who asks (recorded in the audit log).
    pub user: String,
    /// Why (recorded in the audit log).
    pub reason: String,
    /// Which patients.
    pub selection: Selection,
    /// Where the GP list folder goes (outside both zones).
    pub out: PathBuf,
    /// The audit log.
    pub audit: PathBuf,
    /// The time recorded (RFC 3339 UTC).
    pub time: String,
}

/// A completed re-identification.
#[derive(Debug, Clone)]
pub struct Disclosure {
    /// The practice.
    pub practice: String,
    /// The run.
    pub run_id: String,
    /// Patients re-identified.
    pub patients: usize,
    /// Pseudonyms asked for that are not this practice's (not re-identified).
    pub not_this_practice: usize,
    /// The audit log's new head hash.
    pub head: String,
    /// The GP list folder.
    pub folder: PathBuf,
}

/// One line of a GP list.
struct Line<'a> {
    who: &'a VaultRecord,
    /// `risk, tier, segment, reason 1..3` of the flagged row, when the patient is flagged.
    flagged: Option<[String; 6]>,
}

/// Re-identify, audit, write the GP list.
pub fn reidentify(req: &Request) -> Result<Disclosure, ReidError> {
    let mut ctx = Audited {
        req,
        practice: None,
        run_id: None,
        list_hash: None,
    };
    if let Some(zone) = phm_run::layout::zone_containing(&req.out) {
        return Err(ctx.refuse(ReidError::OutputInZone {
            out: req.out.clone(),
            zone,
        }));
    }
    ctx.list_hash = match &req.selection {
        Selection::Tiers(t) => Some(tiers_hash(t)),
        Selection::BundleTiers => None,
        Selection::List(path) => match bundle::file_hash(path) {
            Ok(h) => Some(h),
            Err(e) => return Err(ctx.refuse(e)),
        },
    };
    let json = match bundle::check(&req.bundle) {
        Ok(j) => j,
        Err(e) => return Err(ctx.refuse(e)),
    };
    if let Selection::BundleTiers = req.selection {
        ctx.list_hash = Some(tiers_hash(&json.tiers));
    }
    ctx.practice = Some(json.practice.clone());
    ctx.run_id = Some(json.run_id.clone());
    let identity = match PracticeIdentity::load(&req.identity) {
        Ok(i) => i,
        Err(e) => return Err(ctx.refuse(e)),
    };
    let vault = match open_vault(&req.bundle, &json, &identity) {
        Ok(v) => v,
        Err(e) => return Err(ctx.refuse(e)),
    };
    let (lines, not_this_practice) = match select(req, &json, &vault) {
        Ok(x) => x,
        Err(e) => return Err(ctx.refuse(e)),
    };
    let subjects = lines
        .iter()
        .map(|l| audit::subject_hash(&vault.audit_key, &l.who.pseudonym))
        .collect::<Vec<_>>();
    let head = audit::append(
        &req.audit,
        ctx.entry(
            subjects,
            format!("disclosed ({not_this_practice} asked for not of this practice)"),
        ),
    )?;
    let folder = write_list(req, &json, &lines, &head)?;
    Ok(Disclosure {
        practice: json.practice,
        run_id: json.run_id,
        patients: lines.len(),
        not_this_practice,
        head,
        folder,
    })
}

/// The audit log's `list_hash` of a request by tiers.
fn tiers_hash(tiers: &[String]) -> String {
    blake3::hash(format!("tiers:{}", tiers.join(",")).as_bytes())
        .to_hex()
        .to_string()
}

/// What a refusal's audit entry knows.
struct Audited<'r> {
    req: &'r Request,
    practice: Option<String>,
    run_id: Option<String>,
    list_hash: Option<String>,
}

impl Audited<'_> {
    fn entry(&self, subjects: Vec<String>, outcome: String) -> NewEntry {
        NewEntry {
            action: "reid".to_owned(),
            user: self.req.user.clone(),
            practice: self.practice.clone(),
            reason: self.req.reason.clone(),
            run_id: self.run_id.clone(),
            list_hash: self.list_hash.clone(),
            count: subjects.len() as u64,
            subjects,
            outcome,
            time: self.req.time.clone(),
            sharing: None,
        }
    }

    /// Audit a refusal and hand back its error (or the audit log's own, if it cannot be
    /// appended to: a refusal that cannot be recorded is reported as that).
    fn refuse(&self, e: ReidError) -> ReidError {
        let outcome = format!("refused: {}", e.short());
        match audit::append(&self.req.audit, self.entry(Vec::new(), outcome)) {
            Ok(_) => e,
            Err(a) => a.into(),
        }
    }
}

fn open_vault(
    dir: &Path,
    json: &BundleJson,
    identity: &PracticeIdentity,
) -> Result<Vault, ReidError> {
    let path = dir.join(bundle::VAULT);
    let sealed = std::fs::read(&path).map_err(|e| ReidError::io(&path, e))?;
    let vault = vault::open(&sealed, identity)?.ok_or_else(|| ReidError::NotThisPractice {
        practice: json.practice.clone(),
    })?;
    if vault.practice != json.practice {
        return Err(ReidError::BundleAltered {
            dir: dir.to_path_buf(),
            why: format!("its vault is practice `{}`'s", vault.practice),
        });
    }
    Ok(vault)
}

/// The lines of the GP list, and how many pseudonyms asked for are not this practice's.
fn select<'v>(
    req: &Request,
    json: &BundleJson,
    vault: &'v Vault,
) -> Result<(Vec<Line<'v>>, usize), ReidError> {
    let flagged = bundle::read(&req.bundle.join(bundle::FLAGGED))?;
    let column = |n: &str| bundle::text_column(&flagged, n);
    let (pseudonyms, tiers) = (column("pseudonym")?, column("tier")?);
    let risk = column("risk")?;
    let (segment, r1, r2, r3) = (
        column("segment")?,
        column("reason_1")?,
        column("reason_2")?,
        column("reason_3")?,
    );
    let row_of = |i: usize| -> [String; 6] {
        let percent = risk[i]
            .parse::<f64>()
            .map_or_else(|_| String::new(), |r| format!("{:.1}", r * 100.0));
        [
            percent,
            tiers[i].clone(),
            segment[i].clone(),
            r1[i].clone(),
            r2[i].clone(),
            r3[i].clone(),
        ]
    };
    let mut lines = Vec::new();
    let mut missing = 0;
    match &req.selection {
        Selection::Tiers(_) | Selection::BundleTiers => {
            let wanted = match &req.selection {
                Selection::Tiers(t) => t,
                _ => &json.tiers,
            };
            for (i, p) in pseudonyms.iter().enumerate() {
                if !wanted.contains(&tiers[i]) {
                    continue;
                }
                match vault.get(p) {
                    Some(who) => lines.push(Line {
                        who,
                        flagged: Some(row_of(i)),
                    }),
                    None => missing += 1,
                }
            }
        }
        Selection::List(path) => {
            for p in list_pseudonyms(path)? {
                match vault.get(&p) {
                    Some(who) => lines.push(Line {
                        who,
                        flagged: pseudonyms.iter().position(|q| *q == p).map(row_of),
                    }),
                    None => missing += 1,
                }
            }
        }
    }
    Ok((lines, missing))
}

/// The `pseudonym` column of a list file, distinct, in file order.
fn list_pseudonyms(path: &Path) -> Result<Vec<String>, ReidError> {
    let bytes = std::fs::read(path).map_err(|e| ReidError::io(path, e))?;
    let rows = vault::read_csv(&bytes);
    let mut rows = rows.into_iter();
    let header = rows.next().unwrap_or_default();
    let Some(at) = header.iter().position(|h| h.trim() == "pseudonym") else {
        return Err(ReidError::List {
            path: path.to_path_buf(),
            why: "has no `pseudonym` column".to_owned(),
        });
    };
    let mut seen = std::collections::BTreeSet::new();
    Ok(rows
        .filter_map(|r| r.get(at).map(|p| p.trim().to_owned()))
        .filter(|p| !p.is_empty() && seen.insert(p.clone()))
        .collect())
}

/// The GP list's columns.
pub const COLUMNS: [&str; 12] = [
    "nhs_number",
    "family_name",
    "given_name",
    "date_of_birth",
    "sex",
    "age",
    "risk_percent",
    "tier",
    "segment",
    "reason_1",
    "reason_2",
    "reason_3",
];

fn write_list(
    req: &Request,
    json: &BundleJson,
    lines: &[Line<'_>],
    head: &str,
) -> Result<PathBuf, ReidError> {
    let dest = req
        .out
        .join(format!("gp-list-{}-{}", json.practice, &head[..12]));
    phm_run::atomic::create_dir_all(&req.out, Privacy::Private)
        .map_err(|e| ReidError::io(&req.out, e))?;
    // What a killed request left half-written (hidden `.partial` folders) goes first.
    phm_run::atomic::remove_stale(&req.out).map_err(|e| ReidError::io(&req.out, e))?;
    let partial =
        PartialDir::create(&dest, Privacy::Private).map_err(|e| ReidError::io(&dest, e))?;
    let reference = phm_contract::date::parse_iso(&json.reference_date);
    let cells: Vec<[String; 12]> = lines
        .iter()
        .map(|l| {
            let w = l.who;
            let age = phm_contract::date::parse_iso(&w.date_of_birth)
                .zip(reference)
                .map_or_else(String::new, |(b, r)| {
                    phm_contract::date::age_on(b, r).to_string()
                });
            let [risk, tier, segment, r1, r2, r3] = l.flagged.clone().unwrap_or_default();
            [
                digits(w),
                w.family_name.clone(),
                w.given_name.clone(),
                w.date_of_birth.clone(),
                w.sex.clone(),
                age,
                risk,
                tier,
                segment,
                r1,
                r2,
                r3,
            ]
        })
        .collect();
    let mut csv = Vec::new();
    csv.extend_from_slice(COLUMNS.join(",").as_bytes());
    csv.push(b'\n');
    for row in &cells {
        for (i, c) in row.iter().enumerate() {
            if i > 0 {
                csv.push(b',');
            }
            vault::write_field(&mut csv, c.as_bytes());
        }
        csv.push(b'\n');
    }
    let numbers: String = cells.iter().fold(String::new(), |mut s, r| {
        s.push_str(&r[0]);
        s.push('\n');
        s
    });
    let html = crate::page::gp_list(json, &req.user, &req.reason, &req.time, head, &cells);
    for (name, bytes) in [
        ("gp-list.csv", csv),
        ("nhs-numbers.txt", numbers.into_bytes()),
        ("gp-list.html", html.into_bytes()),
    ] {
        let path = partial.path().join(name);
        phm_run::atomic::write_file(&path, &bytes, Privacy::Private)
            .map_err(|e| ReidError::io(&path, e))?;
    }
    partial.commit().map_err(|e| ReidError::io(&dest, e))?;
    Ok(dest)
}

fn digits(w: &VaultRecord) -> String {
    String::from_utf8_lossy(w.nhs_number.expose_digits()).into_owned()
}
