//! The re-identification audit log: append-only, hash-chained JSON Lines.
//!
//! Every re-identification (and every refusal, subject access request, ...) appends one
//! [`Entry`] as one line of JSON. Each entry carries `seq`, its 1-based position in the log,
//! and `prev`, the BLAKE3 hash of the exact bytes of the line before it (64 zeros for the first
//! entry). The hash of the last line is the log's *head*: [`append`] returns it, and whoever
//! keeps it somewhere the log's writers cannot change (printed to the operator, sent to the
//! information governance lead, written into a run manifest) can later check the whole log
//! against it with [`verify`].
//!
//! What [`verify`] catches, and what it needs to catch it:
//!
//! - **an edited entry** (any byte of it): the next entry's `prev` no longer matches, so the
//!   log is broken at the line *after* the edited one. An edit of the last entry has no next
//!   line: it is caught only with a head.
//! - **a deleted, inserted or moved entry**: the `seq` of the line where the gap or move is
//!   no longer equals its line number, so the log is broken at that line.
//! - **a forged entry appended at the end**: anyone who can write the file can compute the
//!   hash of its last line (the hash is not keyed), so a forged entry with a correct `prev`
//!   and `seq` verifies without a head; it is caught only against a head recorded before the
//!   forgery. A forged entry with a wrong `prev` or `seq` is caught without a head.
//! - **truncation** (entries removed from the end): what is left is a valid chain, so it is
//!   caught only with a head.
//! - **a cut last line** (a crash or a full disk mid-write, no final newline), empty lines and
//!   lines that are not entries: broken at that line.
//!
//! A head is not a signature: someone who rewrites the whole log from the first entry gets a
//! valid chain with a new head, and only a head kept out of their reach shows it.
//!
//! Subjects are never written in the clear: `subjects` holds [`subject_hash`]es, keyed hashes
//! of the pseudonyms re-identified, so the log does not reveal who was re-identified to anyone
//! without the key, while a subject access request can still find every entry about a person.
//!
//! Appends take an exclusive OS file lock (`flock`, advisory: it keeps `phm` processes apart,
//! not other programs) for the whole read-last-entry and write; reads take a shared lock so
//! they never see half an entry.

use std::fs::{File, OpenOptions};
use std::io::{self, Read as _, Write as _};
use std::os::unix::fs::{FileExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// The head of an empty log, and the `prev` of the first entry: 64 zeros.
pub const EMPTY_HEAD: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The BLAKE3 key-derivation context of [`audit_key`]; never change it (old logs use it).
pub const SUBJECT_KEY_CONTEXT: &str = "phm 2026-12 audit subject hash v1";

/// How much of the file [`append`] reads at a time, from the end, to find the last line.
const TAIL_CHUNK: u64 = 64 * 1024;

/// One line of the log, fields in the order they are written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// The entry's position in the log, from 1.
    pub seq: u64,
    /// When it happened, RFC 3339 in UTC (`2026-12-01T09:30:00Z`).
    pub time: String,
    /// What was done: `reid`, `sar`, ...
    pub action: String,
    /// Who did it.
    pub user: String,
    /// The practice whose key was used, if any.
    pub practice: Option<String>,
    /// Why, as the user gave it.
    pub reason: String,
    /// The run the request was made against, if any.
    pub run_id: Option<String>,
    /// The BLAKE3 hash (hex) of the list of pseudonyms requested, if any.
    pub list_hash: Option<String>,
    /// [`subject_hash`] of every pseudonym re-identified (hex).
    pub subjects: Vec<String>,
    /// How many were re-identified.
    pub count: u64,
    /// What happened: `disclosed`, `refused: wrong identity`, ...
    pub outcome: String,
    /// For a `share`: the recipient and the hash of its data-sharing manifest (absent from
    /// other entries, and from entries written before it existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sharing: Option<Sharing>,
    /// The hash of the previous line ([`EMPTY_HEAD`] for the first entry).
    pub prev: String,
}

/// An entry as the caller gives it to [`append`], which adds `seq` and `prev`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEntry {
    /// What was done: `reid`, `sar`, ...
    pub action: String,
    /// Who did it.
    pub user: String,
    /// The practice whose key was used, if any.
    pub practice: Option<String>,
    /// Why, as the user gave it.
    pub reason: String,
    /// The run the request was made against, if any.
    pub run_id: Option<String>,
    /// The BLAKE3 hash (hex) of the list of pseudonyms requested, if any.
    pub list_hash: Option<String>,
    /// [`subject_hash`] of every pseudonym re-identified (hex).
    pub subjects: Vec<String>,
    /// How many were re-identified.
    pub count: u64,
    /// What happened: `disclosed`, `refused: wrong identity`, ...
    pub outcome: String,
    /// When it happened, RFC 3339 in UTC; [`now_utc`] in production.
    pub time: String,
    /// For a `share`: the recipient and the data-sharing manifest's hash.
    pub sharing: Option<Sharing>,
}

/// What a `share` entry records beyond the common fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sharing {
    /// The recipient id.
    pub recipient: String,
    /// The BLAKE3 hash (hex) of the data-sharing manifest's bytes.
    pub manifest_hash: String,
}

/// A log that [`verify`] found whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// How many entries it has.
    pub entries: u64,
    /// Its head: the hash of its last line ([`EMPTY_HEAD`] when empty).
    pub head: String,
}

/// Why the log could not be appended to, read or verified.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// The file (or its folder) could not be opened, locked, read, written or synced.
    #[error("cannot use audit log `{}`: {source}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
    /// A line is not what the chain says it should be; nothing is appended to such a log.
    #[error(
        "audit log `{}` is broken at line {line}: {why}\nhint: do not edit or append to it by hand; keep a copy as evidence and tell your information governance lead (phm will not append to a broken log)",
        path.display()
    )]
    Broken {
        /// The file.
        path: PathBuf,
        /// The first broken line, from 1.
        line: u64,
        /// What is wrong with it.
        why: String,
    },
    /// The log is a whole chain but does not end at the head given to [`verify`].
    #[error("audit log `{}` does not match the head you gave: {why}", path.display())]
    Head {
        /// The file.
        path: PathBuf,
        /// What differs, and what to do.
        why: String,
    },
}

impl Entry {
    /// One readable line for `phm audit show`: never the subjects, only how many there are.
    /// Control characters in free text are escaped so an entry cannot fake other lines.
    #[must_use]
    pub fn summary(&self) -> String {
        let practice = self.practice.as_deref().map_or("-".to_owned(), one_line);
        let run = self
            .run_id
            .as_deref()
            .map_or(String::new(), |run| format!(" run {}", one_line(run)));
        format!(
            "#{} {} {} by {} practice {}{} count {} ({} subject{}) {}: {:?}",
            self.seq,
            one_line(&self.time),
            one_line(&self.action),
            one_line(&self.user),
            practice,
            run,
            self.count,
            self.subjects.len(),
            if self.subjects.len() == 1 { "" } else { "s" },
            one_line(&self.outcome),
            self.reason,
        )
    }
}

/// Escape control characters (newlines, terminal escapes) so text stays on one line.
fn one_line(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            let escaped: Vec<char> = if c.is_control() {
                c.escape_default().collect()
            } else {
                vec![c]
            };
            escaped
        })
        .collect()
}

/// Append an entry under an exclusive lock and return the new head.
///
/// Creates the file (mode 0600) if needed, and then also syncs its folder. Refuses, naming
/// the line, to extend a log whose last line is cut, empty or not an entry; it does not check
/// the rest of the chain ([`verify`] does). On an error while writing or syncing, the file is
/// cut back to its length before the append, so an error means nothing was appended.
///
/// # Errors
///
/// [`AuditError::Io`] if the file or its folder cannot be opened, locked, read, written or
/// synced; [`AuditError::Broken`] if its last line is not a whole entry.
pub fn append(path: &Path, entry: NewEntry) -> Result<String, AuditError> {
    let io_err = |source| AuditError::Io {
        path: path.to_owned(),
        source,
    };
    let (mut file, created) = open_for_append(path).map_err(io_err)?;
    file.lock().map_err(io_err)?;
    let len = file.metadata().map_err(io_err)?.len();
    let (last_seq, prev) = last_entry(&file, len, path)?;
    let seq = last_seq.checked_add(1).ok_or_else(|| AuditError::Broken {
        path: path.to_owned(),
        line: last_seq,
        why: "its `seq` is the largest possible, so no entry can follow it".to_owned(),
    })?;
    let NewEntry {
        action,
        user,
        practice,
        reason,
        run_id,
        list_hash,
        subjects,
        count,
        outcome,
        time,
        sharing,
    } = entry;
    let entry = Entry {
        seq,
        time,
        action,
        user,
        practice,
        reason,
        run_id,
        list_hash,
        subjects,
        count,
        outcome,
        sharing,
        prev,
    };
    let mut line = serde_json::to_vec(&entry).map_err(|e| io_err(e.into()))?;
    let head = line_hash(&line);
    line.push(b'\n');
    if let Err(error) = file.write_all(&line).and_then(|()| file.sync_all()) {
        // Best effort: we hold the lock, so these bytes past `len` are ours alone.
        file.set_len(len).and_then(|()| file.sync_all()).ok();
        return Err(io_err(error));
    }
    if created {
        sync_parent(path)?;
    }
    Ok(head)
}

/// Open for appending, creating with mode 0600; says whether the file was created.
fn open_for_append(path: &Path) -> io::Result<(File, bool)> {
    let mut options = OpenOptions::new();
    options.read(true).append(true).mode(0o600);
    match options.clone().create_new(true).open(path) {
        Ok(file) => Ok((file, true)),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            options.open(path).map(|file| (file, false))
        }
        Err(e) => Err(e),
    }
}

/// Sync the folder holding a newly created file, so the file's name survives a crash.
fn sync_parent(path: &Path) -> Result<(), AuditError> {
    let parent = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    File::open(parent)
        .and_then(|dir| dir.sync_all())
        .map_err(|source| AuditError::Io {
            path: parent.to_owned(),
            source,
        })
}

/// The `seq` and hash of the last entry of a `len`-byte log, reading only its last line.
fn last_entry(file: &File, len: u64, path: &Path) -> Result<(u64, String), AuditError> {
    let io_err = |source| AuditError::Io {
        path: path.to_owned(),
        source,
    };
    let broken = |line, why: &str| AuditError::Broken {
        path: path.to_owned(),
        line,
        why: why.to_owned(),
    };
    if len == 0 {
        return Ok((0, EMPTY_HEAD.to_owned()));
    }
    let mut last_byte = [0u8; 1];
    file.read_exact_at(&mut last_byte, len - 1)
        .map_err(io_err)?;
    if last_byte[0] != b'\n' {
        let line = count_newlines(file, len).map_err(io_err)? + 1;
        return Err(broken(
            line,
            "it has no final newline: the last write was cut mid-way (a crash or a full disk?), or bytes were added after the last entry",
        ));
    }
    // Read backwards from just before the final newline to the newline before it.
    let mut chunks: Vec<Vec<u8>> = Vec::new();
    let mut end = len - 1;
    while end > 0 {
        let start = end.saturating_sub(TAIL_CHUNK);
        let size = usize::try_from(end - start)
            .map_err(io::Error::other)
            .map_err(io_err)?;
        let mut chunk = vec![0u8; size];
        file.read_exact_at(&mut chunk, start).map_err(io_err)?;
        if let Some(newline) = chunk.iter().rposition(|&b| b == b'\n') {
            chunks.push(chunk.split_off(newline + 1));
            break;
        }
        chunks.push(chunk);
        end = start;
    }
    let line: Vec<u8> = chunks.into_iter().rev().flatten().collect();
    if line.is_empty() {
        let at = count_newlines(file, len).map_err(io_err)?;
        return Err(broken(at, "it is empty: the log must end with an entry"));
    }
    match serde_json::from_slice::<Entry>(&line) {
        Ok(entry) => Ok((entry.seq, line_hash(&line))),
        Err(e) => {
            let at = count_newlines(file, len).map_err(io_err)?;
            Err(broken(at, &format!("it is not an audit entry ({e})")))
        }
    }
}

/// How many newlines the first `len` bytes of the file hold (only to name a broken line).
#[expect(
    clippy::naive_bytecount,
    reason = "runs only to name a broken line; not worth a `bytecount` dependency"
)]
fn count_newlines(file: &File, len: u64) -> io::Result<u64> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut count = 0u64;
    let mut offset = 0u64;
    while offset < len {
        let n = file.read_at(&mut buf, offset)?;
        if n == 0 {
            break;
        }
        let end = usize::try_from(len - offset).map_or(n, |left| left.min(n));
        count += buf[..end].iter().filter(|&&b| b == b'\n').count() as u64;
        offset += n as u64;
    }
    Ok(count)
}

/// Check the whole chain, and with `head`, that the log ends exactly at that head.
///
/// Names the first broken line and what is wrong with it; a log that is a whole chain but
/// does not end at `head` is an [`AuditError::Head`] saying whether entries were added after
/// the head or the head is not in the log at all (truncated, rewritten, or another log's).
///
/// # Errors
///
/// [`AuditError::Io`] if the file cannot be opened, locked or read; [`AuditError::Broken`]
/// naming the first line that breaks the chain; [`AuditError::Head`] if the chain is whole
/// but `head` is not its head (or not a hash).
pub fn verify(path: &Path, head: Option<&str>) -> Result<Verified, AuditError> {
    let lines = scan(path)?;
    let computed = lines
        .last()
        .map_or(EMPTY_HEAD, |(hash, _)| hash.as_str())
        .to_owned();
    // `scan` checked that every `seq` is its line number.
    let entries = lines.last().map_or(0, |(_, entry)| entry.seq);
    if let Some(given) = head {
        check_head(path, &lines, &computed, entries, given)?;
    }
    Ok(Verified {
        entries,
        head: computed,
    })
}

/// Compare a whole chain with the head the user kept.
fn check_head(
    path: &Path,
    lines: &[(String, Entry)],
    computed: &str,
    entries: u64,
    given: &str,
) -> Result<(), AuditError> {
    let head_err = |why: String| AuditError::Head {
        path: path.to_owned(),
        why,
    };
    let given = given.trim().to_ascii_lowercase();
    if !is_hash(&given) {
        return Err(head_err(format!(
            "`{given}` is not a head (64 hex digits)\nhint: pass the head printed when the last entry was appended"
        )));
    }
    if given == computed {
        return Ok(());
    }
    let found = if given == EMPTY_HEAD {
        Some(0)
    } else {
        lines
            .iter()
            .find(|(hash, _)| *hash == given)
            .map(|(_, entry)| entry.seq)
    };
    Err(head_err(match found {
        Some(at) => {
            let added = if at + 1 == entries {
                format!("entry {entries} was")
            } else {
                format!("entries {} to {entries} were", at + 1)
            };
            format!(
                "the head is the hash of entry {at}, but the log has {entries}: {added} added after this head was recorded\nhint: if this is the newest head you recorded, the entries after {at} were not written by phm and are forged; otherwise verify against the newest head"
            )
        }
        None if entries == 0 => "the log is empty: all its entries are missing, or this head is from another log\nhint: restore the log from a backup and verify it again".to_owned(),
        None => format!(
            "the log ends at entry {entries} and no entry in it has this hash: entries after {entries} are missing (the log was truncated), or entry {entries} was rewritten, or this head is from another log\nhint: check this is the newest head recorded for this log, then compare the log with a backup"
        ),
    }))
}

/// Every entry with its hash, in order, after the same checks as [`verify`] without a head.
///
/// For `phm audit show`: a broken log is an error rather than a listing that looks whole.
///
/// # Errors
///
/// [`AuditError::Io`] if the file cannot be opened, locked or read; [`AuditError::Broken`]
/// naming the first line that breaks the chain.
pub fn read(path: &Path) -> Result<Vec<(String, Entry)>, AuditError> {
    scan(path)
}

/// Read the log under a shared lock and check every line.
fn scan(path: &Path) -> Result<Vec<(String, Entry)>, AuditError> {
    let io_err = |source| AuditError::Io {
        path: path.to_owned(),
        source,
    };
    let mut file = File::open(path).map_err(io_err)?;
    file.lock_shared().map_err(io_err)?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).map_err(io_err)?;
    drop(file);

    let mut out: Vec<(String, Entry)> = Vec::new();
    let mut rest = bytes.as_slice();
    let mut number = 0u64;
    while !rest.is_empty() {
        number += 1;
        let broken = |why: String| AuditError::Broken {
            path: path.to_owned(),
            line: number,
            why,
        };
        let (line, cut) = match rest.iter().position(|&b| b == b'\n') {
            Some(newline) => {
                let line = &rest[..newline];
                rest = &rest[newline + 1..];
                (line, false)
            }
            None => (std::mem::take(&mut rest), true),
        };
        if line.is_empty() {
            return Err(broken(
                "it is empty (an entry was removed from it, or lines were added by hand)"
                    .to_owned(),
            ));
        }
        let parsed = serde_json::from_slice::<Entry>(line);
        if cut {
            return Err(broken(if parsed.is_ok() {
                "it has no final newline: the last write was cut just before its end, or the newline was removed".to_owned()
            } else {
                "it is not a whole entry and has no final newline: the last write was cut mid-way (a crash or a full disk?), or bytes were added after the last entry".to_owned()
            }));
        }
        let entry = parsed.map_err(|e| broken(format!("it is not an audit entry ({e})")))?;
        if entry.seq != number {
            return Err(broken(seq_why(entry.seq, number)));
        }
        let expected = out.last().map_or(EMPTY_HEAD, |(hash, _)| hash.as_str());
        if entry.prev != expected {
            return Err(broken(if number == 1 {
                "its `prev` is not 64 zeros although it is the first line (entries before it were deleted, or it was edited)".to_owned()
            } else {
                let before = number - 1;
                format!(
                    "its `prev` is not the hash of entry {before} (entry {before} was edited, deleted or moved)"
                )
            }));
        }
        out.push((line_hash(line), entry));
    }
    Ok(out)
}

/// Why an entry's `seq` does not match the line it is on.
fn seq_why(seq: u64, line: u64) -> String {
    if seq > line {
        let missing = if seq - line == 1 {
            format!("entry {line} is")
        } else {
            format!("entries {line} to {} are", seq - 1)
        };
        format!(
            "its `seq` is {seq} but it is line {line}: {missing} missing before it (deleted), or entries were moved"
        )
    } else {
        format!(
            "its `seq` is {seq} but it is line {line}: it was moved or copied here, or an entry was inserted before it"
        )
    }
}

/// The hash of a line (without its newline): BLAKE3, lowercase hex.
fn line_hash(line: &[u8]) -> String {
    blake3::hash(line).to_hex().to_string()
}

/// 64 lowercase hex digits.
fn is_hash(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// The keyed hash of a pseudonym written in `subjects` (keyed BLAKE3, lowercase hex).
///
/// `key` is [`audit_key`] of the master key, so the log names no pseudonym to anyone
/// without that key, and a subject access request can still find a person's entries.
#[must_use]
#[expect(
    clippy::disallowed_methods,
    reason = "hashes a pseudonym for the audit log under its own derived key; it makes no pseudonym"
)]
pub fn subject_hash(key: &[u8; 32], pseudonym: &str) -> String {
    blake3::keyed_hash(key, pseudonym.as_bytes())
        .to_hex()
        .to_string()
}

/// The key of [`subject_hash`], derived from a master key so it is never the master itself.
#[must_use]
pub fn audit_key(master: &[u8; 32]) -> [u8; 32] {
    blake3::derive_key(SUBJECT_KEY_CONTEXT, master)
}

/// The current time as `YYYY-MM-DDTHH:MM:SSZ` (UTC, whole seconds).
#[must_use]
pub fn now_utc() -> String {
    let secs = match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_secs()).unwrap_or(i64::MAX),
        Err(before) => i64::try_from(before.duration().as_secs()).map_or(i64::MIN, |s| -s),
    };
    format_utc(secs)
}

/// Seconds since 1970-01-01T00:00:00Z as `YYYY-MM-DDTHH:MM:SSZ`.
fn format_utc(unix_secs: i64) -> String {
    let days = unix_secs.div_euclid(86_400);
    let of_day = unix_secs.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        of_day / 3600,
        of_day % 3600 / 60,
        of_day % 60
    )
}

/// The proleptic Gregorian date of a day count from 1970-01-01 (Howard Hinnant's
/// `civil_from_days`, <https://howardhinnant.github.io/date_algorithms.html>).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days.saturating_add(719_468);
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097); // [0, 146096]
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365; // [0, 399]
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100); // [0, 365]
    let shifted_month = (5 * day_of_year + 2) / 153; // [0, 11], from March
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::PermissionsExt as _;

    fn new_entry(n: u64) -> NewEntry {
        NewEntry {
            action: "reid".to_owned(),
            user: format!("user{n}"),
            practice: Some("A81001".to_owned()),
            reason: format!("direct care review {n}"),
            run_id: Some("run-7".to_owned()),
            list_hash: Some(blake3::hash(b"list").to_hex().to_string()),
            subjects: vec![subject_hash(&audit_key(&[7; 32]), &format!("P{n}"))],
            count: 1,
            outcome: "disclosed".to_owned(),
            time: format!("2026-12-01T10:00:{n:02}Z"),
            sharing: None,
        }
    }

    /// A log of three entries; returns its folder, path and the three heads.
    fn three() -> (tempfile::TempDir, PathBuf, Vec<String>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let heads = (1..=3)
            .map(|n| append(&path, new_entry(n)).unwrap())
            .collect();
        (dir, path, heads)
    }

    fn lines(path: &Path) -> Vec<String> {
        fs::read_to_string(path)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    fn write_lines(path: &Path, lines: &[String]) {
        fs::write(
            path,
            lines
                .iter()
                .flat_map(|l| [l.as_str(), "\n"])
                .collect::<String>(),
        )
        .unwrap();
    }

    /// The line and reason of a [`AuditError::Broken`], or a panic.
    fn broken(result: Result<impl std::fmt::Debug, AuditError>) -> (u64, String) {
        match result {
            Err(AuditError::Broken { line, why, .. }) => (line, why),
            other => panic!("expected a broken log, got {other:?}"),
        }
    }

    fn head_why(result: Result<Verified, AuditError>) -> String {
        match result {
            Err(AuditError::Head { why, .. }) => why,
            other => panic!("expected a head mismatch, got {other:?}"),
        }
    }

    /// An entry's line as phm writes it (without the newline).
    fn forge(entry: &Entry) -> String {
        serde_json::to_string(entry).unwrap()
    }

    #[test]
    fn three_entries_verify_and_the_head_is_the_last_lines_hash() {
        let (_dir, path, heads) = three();
        let verified = verify(&path, Some(&heads[2])).unwrap();
        assert_eq!(
            verified,
            Verified {
                entries: 3,
                head: heads[2].clone()
            }
        );
        // Upper case and surrounding space are accepted as the same head.
        verify(&path, Some(&format!(" {} ", heads[2].to_uppercase()))).unwrap();

        let read = read(&path).unwrap();
        let text = lines(&path);
        assert_eq!(read.len(), 3);
        assert_eq!(read[0].1.prev, EMPTY_HEAD);
        for (i, (hash, entry)) in read.iter().enumerate() {
            assert_eq!(*hash, heads[i]);
            assert_eq!(*hash, line_hash(text[i].as_bytes()));
            assert_eq!(entry.seq, i as u64 + 1);
            assert_eq!(entry.user, format!("user{}", i + 1));
        }
        assert_eq!(read[1].1.prev, heads[0]);
        assert_eq!(read[2].1.prev, heads[1]);
        // Fields are written in the documented order.
        let keys = [
            "seq",
            "time",
            "action",
            "user",
            "practice",
            "reason",
            "run_id",
            "list_hash",
            "subjects",
            "count",
            "outcome",
            "prev",
        ];
        let positions: Vec<usize> = keys
            .iter()
            .map(|k| text[0].find(&format!("\"{k}\":")).unwrap())
            .collect();
        assert!(positions.is_sorted(), "{}", text[0]);
    }

    #[test]
    fn an_empty_log_verifies_with_the_zero_head() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        fs::write(&path, "").unwrap();
        let verified = verify(&path, Some(EMPTY_HEAD)).unwrap();
        assert_eq!(
            verified,
            Verified {
                entries: 0,
                head: EMPTY_HEAD.to_owned()
            }
        );
        assert!(matches!(
            verify(&dir.path().join("missing.jsonl"), None),
            Err(AuditError::Io { .. })
        ));
    }

    #[test]
    fn editing_entry_2_breaks_line_3() {
        let (_dir, path, heads) = three();
        let mut text = lines(&path);
        text[1] = text[1].replace("\"disclosed\"", "\"refused\"");
        write_lines(&path, &text);
        let (line, why) = broken(verify(&path, Some(&heads[2])));
        assert_eq!(line, 3);
        assert!(why.contains("`prev` is not the hash of entry 2"), "{why}");
        // `read` refuses it too, rather than listing an edited log as whole.
        assert_eq!(broken(read(&path)).0, 3);
    }

    #[test]
    fn editing_the_last_entry_is_caught_only_with_the_head() {
        let (_dir, path, heads) = three();
        let mut text = lines(&path);
        text[2] = text[2].replace("\"disclosed\"", "\"refused\"");
        write_lines(&path, &text);
        assert_eq!(verify(&path, None).unwrap().entries, 3);
        let why = head_why(verify(&path, Some(&heads[2])));
        assert!(why.contains("entry 3 was rewritten"), "{why}");
    }

    #[test]
    fn deleting_entry_2_breaks_line_2_by_its_seq() {
        let (_dir, path, _heads) = three();
        let mut text = lines(&path);
        text.remove(1);
        write_lines(&path, &text);
        let (line, why) = broken(verify(&path, None));
        assert_eq!(line, 2);
        assert!(why.contains("`seq` is 3 but it is line 2"), "{why}");
        assert!(why.contains("entry 2 is missing"), "{why}");
    }

    #[test]
    fn deleting_entry_1_and_renumbering_breaks_line_1_by_its_prev() {
        let (_dir, path, _heads) = three();
        let read = read(&path).unwrap();
        let renumbered: Vec<String> = read[1..]
            .iter()
            .enumerate()
            .map(|(i, (_, entry))| {
                forge(&Entry {
                    seq: i as u64 + 1,
                    ..entry.clone()
                })
            })
            .collect();
        write_lines(&path, &renumbered);
        let (line, why) = broken(verify(&path, None));
        assert_eq!(line, 1);
        assert!(why.contains("not 64 zeros"), "{why}");
    }

    #[test]
    fn swapping_entries_2_and_3_breaks_line_2_by_its_seq() {
        let (_dir, path, _heads) = three();
        let mut text = lines(&path);
        text.swap(1, 2);
        write_lines(&path, &text);
        let (line, why) = broken(verify(&path, None));
        assert_eq!(line, 2);
        assert!(why.contains("`seq` is 3 but it is line 2"), "{why}");
    }

    #[test]
    fn a_forged_entry_with_the_right_prev_is_caught_only_with_the_old_head() {
        let (_dir, path, heads) = three();
        let read = read(&path).unwrap();
        let forged = Entry {
            seq: 4,
            user: "mallory".to_owned(),
            prev: heads[2].clone(),
            ..read[2].1.clone()
        };
        let mut text = lines(&path);
        text.push(forge(&forged));
        write_lines(&path, &text);
        // The limit: without a head, a well-forged last entry is indistinguishable.
        assert_eq!(verify(&path, None).unwrap().entries, 4);
        let why = head_why(verify(&path, Some(&heads[2])));
        assert!(
            why.contains("the head is the hash of entry 3, but the log has 4"),
            "{why}"
        );
        assert!(why.contains("entry 4 was added after this head"), "{why}");
    }

    #[test]
    fn a_forged_entry_with_a_wrong_prev_or_seq_is_caught_without_a_head() {
        let (_dir, path, heads) = three();
        let last = read(&path).unwrap()[2].1.clone();
        let original = lines(&path);
        // `prev` copied from entry 3 instead of computed.
        let mut text = original.clone();
        text.push(forge(&Entry {
            seq: 4,
            ..last.clone()
        }));
        write_lines(&path, &text);
        let (line, why) = broken(verify(&path, None));
        assert_eq!(line, 4);
        assert!(why.contains("`prev` is not the hash of entry 3"), "{why}");
        // Right `prev`, `seq` skipping ahead.
        let mut text = original;
        text.push(forge(&Entry {
            seq: 9,
            prev: heads[2].clone(),
            ..last
        }));
        write_lines(&path, &text);
        let (line, why) = broken(verify(&path, None));
        assert_eq!(line, 4);
        assert!(why.contains("entries 4 to 8 are missing"), "{why}");
    }

    #[test]
    fn truncating_the_last_entry_is_caught_only_with_the_head() {
        let (_dir, path, heads) = three();
        let mut text = lines(&path);
        text.pop();
        write_lines(&path, &text);
        assert_eq!(
            verify(&path, None).unwrap(),
            Verified {
                entries: 2,
                head: heads[1].clone()
            }
        );
        let why = head_why(verify(&path, Some(&heads[2])));
        assert!(why.contains("entries after 2 are missing"), "{why}");
        // Emptied entirely.
        fs::write(&path, "").unwrap();
        let why = head_why(verify(&path, Some(&heads[2])));
        assert!(why.contains("the log is empty"), "{why}");
    }

    #[test]
    fn a_head_that_is_not_a_hash_is_refused() {
        let (_dir, path, _heads) = three();
        let why = head_why(verify(&path, Some("abc")));
        assert!(why.contains("is not a head"), "{why}");
    }

    #[test]
    fn a_last_line_without_its_newline_is_broken() {
        let (_dir, path, _heads) = three();
        let whole = fs::read(&path).unwrap();
        // Cut exactly before the newline: the entry still parses, but was not finished.
        fs::write(&path, &whole[..whole.len() - 1]).unwrap();
        let (line, why) = broken(verify(&path, None));
        assert_eq!(line, 3);
        assert!(why.contains("no final newline"), "{why}");
        // Cut mid-entry.
        fs::write(&path, &whole[..whole.len() - 20]).unwrap();
        let (line, why) = broken(verify(&path, None));
        assert_eq!(line, 3);
        assert!(why.contains("not a whole entry"), "{why}");
    }

    #[test]
    fn empty_lines_and_garbage_are_broken_at_their_line() {
        let (_dir, path, _heads) = three();
        let original = lines(&path);
        let mut text = original.clone();
        text.insert(1, String::new());
        write_lines(&path, &text);
        let (line, why) = broken(verify(&path, None));
        assert_eq!(line, 2);
        assert!(why.contains("it is empty"), "{why}");

        let mut text = original;
        text.push("{\"seq\": 4, garbage".to_owned());
        write_lines(&path, &text);
        let (line, why) = broken(verify(&path, None));
        assert_eq!(line, 4);
        assert!(why.contains("not an audit entry"), "{why}");
    }

    #[test]
    fn append_refuses_to_extend_a_broken_last_line() {
        let (_dir, path, _heads) = three();
        let whole = fs::read(&path).unwrap();
        let cases: [(&[u8], u64, &str); 4] = [
            (&whole[..whole.len() - 1], 3, "no final newline"),
            (&whole[..whole.len() - 20], 3, "no final newline"),
            (b"not json\n", 4, "not an audit entry"),
            (b"\n", 4, "it is empty"),
        ];
        for (i, (bytes, line, what)) in cases.into_iter().enumerate() {
            let damaged = if i < 2 {
                bytes.to_vec()
            } else {
                [whole.as_slice(), bytes].concat()
            };
            fs::write(&path, &damaged).unwrap();
            let (at, why) = broken(append(&path, new_entry(4)));
            assert_eq!((at, why.contains(what)), (line, true), "{why}");
            assert_eq!(fs::read(&path).unwrap(), damaged, "nothing may be appended");
        }
    }

    #[test]
    fn append_reads_a_last_line_longer_than_its_read_chunk() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let key = audit_key(&[1; 32]);
        let mut big = new_entry(1);
        big.subjects = (0..3000)
            .map(|n| subject_hash(&key, &format!("P{n}")))
            .collect();
        big.count = 3000;
        append(&path, new_entry(0)).unwrap();
        append(&path, big).unwrap();
        assert!(fs::metadata(&path).unwrap().len() > 2 * TAIL_CHUNK);
        let head = append(&path, new_entry(2)).unwrap();
        assert_eq!(verify(&path, Some(&head)).unwrap().entries, 3);
    }

    #[test]
    fn two_threads_appending_50_each_make_100_entries_that_verify() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let workers: Vec<_> = (0..2)
            .map(|t| {
                let path = path.clone();
                std::thread::spawn(move || {
                    for n in 0..50 {
                        let mut entry = new_entry(n);
                        entry.user = format!("thread{t}");
                        append(&path, entry).unwrap();
                    }
                })
            })
            .collect();
        for worker in workers {
            worker.join().unwrap();
        }
        let verified = verify(&path, None).unwrap();
        assert_eq!(verified.entries, 100);
        let entries = read(&path).unwrap();
        for t in 0..2 {
            let user = format!("thread{t}");
            assert_eq!(entries.iter().filter(|(_, e)| e.user == user).count(), 50);
        }
    }

    #[test]
    fn a_new_log_is_private_to_its_owner() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        append(&path, new_entry(1)).unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn summary_is_one_line_without_the_subjects() {
        let (_dir, path, _heads) = three();
        let mut entry = read(&path).unwrap().remove(1).1;
        entry.reason = "line one\nline two".to_owned();
        entry.user = "eve\u{1b}[2J".to_owned();
        let summary = entry.summary();
        assert_eq!(
            summary,
            "#2 2026-12-01T10:00:02Z reid by eve\\u{1b}[2J practice A81001 run run-7 count 1 (1 subject) disclosed: \"line one\\nline two\""
        );
        assert!(!summary.contains(&entry.subjects[0]));
    }

    #[test]
    fn subject_hashes_depend_on_the_key_and_the_pseudonym() {
        let master = [9; 32];
        let key = audit_key(&master);
        assert_ne!(key, master);
        assert_ne!(key, audit_key(&[8; 32]));
        let hash = subject_hash(&key, "P1");
        assert!(is_hash(&hash), "{hash}");
        assert_eq!(hash, subject_hash(&key, "P1"));
        assert_ne!(hash, subject_hash(&key, "P2"));
        assert_ne!(hash, subject_hash(&master, "P1"));
        assert_ne!(hash, blake3::hash(b"P1").to_hex().to_string());
        // Pinned: changing the context string would orphan every existing log's subjects.
        assert_eq!(
            blake3::Hasher::new_derive_key(SUBJECT_KEY_CONTEXT)
                .update(&master)
                .finalize()
                .as_bytes(),
            &key
        );
    }

    #[test]
    fn times_are_rfc3339_utc() {
        for (secs, text) in [
            (0, "1970-01-01T00:00:00Z"),
            (951_782_400, "2000-02-29T00:00:00Z"),
            (1_709_210_096, "2024-02-29T12:34:56Z"),
            (4_102_444_799, "2099-12-31T23:59:59Z"),
            (-1, "1969-12-31T23:59:59Z"),
            (-62_135_596_800, "0001-01-01T00:00:00Z"),
        ] {
            assert_eq!(format_utc(secs), text);
        }
        let now = now_utc();
        assert_eq!(now.len(), 20, "{now}");
        assert!(now.as_str() > "2026-01-01" && now.ends_with('Z'), "{now}");
        // Never panics at the extremes.
        format_utc(i64::MIN);
        format_utc(i64::MAX);
    }
}
