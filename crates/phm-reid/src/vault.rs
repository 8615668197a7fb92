//! Practice vaults: who each pseudonym of a practice is, encrypted to that practice alone.
//!
//! The ingest stage (the only one that sees NHS numbers) writes one vault per practice with a
//! recipient: the pseudonym, NHS number, family name, given name, date of birth and sex of
//! every patient of that practice's own registrations extract that was ingested (quarantined
//! and opted-out rows are not in it). The plaintext is UTF-8 CSV (RFC 4180) after `#` lines:
//!
//! ```text
//! # phm vault 1
//! # practice: A81001
//! # audit key: <64 hex>   (keys the audit log's subject hashes; see `audit`)
//! pseudonym,nhs_number,family_name,given_name,date_of_birth,sex
//! ```
//!
//! encrypted with age to the practice's X25519 recipient, so `age -d -i IDENTITY vault.age`
//! reads it too. age encryption is randomised: the same vault encrypts to different bytes on
//! every run (the run manifest says so).

use std::fmt;

use phm_contract::NhsNumber;

use crate::ReidError;
use crate::keys::{PracticeIdentity, PracticeRecipient};

/// The CSV header of a vault.
pub const HEADER: &str = "pseudonym,nhs_number,family_name,given_name,date_of_birth,sex";

/// One patient of a vault. `Debug` shows the pseudonym only.
#[derive(Clone, PartialEq, Eq)]
pub struct VaultRecord {
    /// The pseudonym (hex).
    pub pseudonym: String,
    /// The NHS number.
    pub nhs_number: NhsNumber,
    /// Family name as registered.
    pub family_name: String,
    /// Given name as registered.
    pub given_name: String,
    /// Date of birth, `YYYY-MM-DD`.
    pub date_of_birth: String,
    /// Sex as registered (`M`, `F`, `I`, `U`).
    pub sex: String,
}

impl fmt::Debug for VaultRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VaultRecord({}, <identifiers redacted>)", self.pseudonym)
    }
}

/// A decrypted vault.
pub struct Vault {
    /// The practice.
    pub practice: String,
    /// The key of the audit log's subject hashes.
    pub audit_key: [u8; 32],
    /// Its patients, sorted by pseudonym.
    pub records: Vec<VaultRecord>,
}

impl fmt::Debug for Vault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Vault({}, {} patients)",
            self.practice,
            self.records.len()
        )
    }
}

impl Vault {
    /// The record of a pseudonym.
    pub fn get(&self, pseudonym: &str) -> Option<&VaultRecord> {
        self.records
            .binary_search_by(|r| r.pseudonym.as_str().cmp(pseudonym))
            .ok()
            .map(|i| &self.records[i])
    }
}

/// The plaintext of a vault (records sorted by pseudonym, one per pseudonym).
pub fn plaintext(practice: &str, audit_key: &[u8; 32], records: &mut Vec<VaultRecord>) -> Vec<u8> {
    records.sort_by(|a, b| a.pseudonym.cmp(&b.pseudonym));
    records.dedup_by(|a, b| a.pseudonym == b.pseudonym);
    let mut out = format!(
        "# phm vault 1\n# practice: {practice}\n# audit key: {}\n{HEADER}\n",
        hex(audit_key)
    )
    .into_bytes();
    for r in records.iter() {
        let digits = r.nhs_number.expose_digits();
        let fields: [&[u8]; 6] = [
            r.pseudonym.as_bytes(),
            digits,
            r.family_name.as_bytes(),
            r.given_name.as_bytes(),
            r.date_of_birth.as_bytes(),
            r.sex.as_bytes(),
        ];
        for (i, field) in fields.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_field(&mut out, field);
        }
        out.push(b'\n');
    }
    out
}

/// Encrypt a vault to a practice's recipient.
pub fn seal(
    practice: &str,
    audit_key: &[u8; 32],
    records: &mut Vec<VaultRecord>,
    recipient: &PracticeRecipient,
) -> Result<Vec<u8>, ReidError> {
    let text = plaintext(practice, audit_key, records);
    age::encrypt(recipient.age(), &text).map_err(|e| ReidError::Encrypt(e.to_string()))
}

/// Decrypt and read a vault; `None` when the identity does not open it (another practice's,
/// or a wrong one).
pub fn open(ciphertext: &[u8], identity: &PracticeIdentity) -> Result<Option<Vault>, ReidError> {
    let text = match age::decrypt(identity.age(), ciphertext) {
        Ok(t) => t,
        Err(age::DecryptError::NoMatchingKeys) => return Ok(None),
        Err(e) => return Err(ReidError::BadVault(e.to_string())),
    };
    parse(&text).map(Some)
}

/// Read a vault's plaintext.
pub fn parse(text: &[u8]) -> Result<Vault, ReidError> {
    let bad = |why: &str| ReidError::BadVault(why.to_owned());
    let text = std::str::from_utf8(text).map_err(|_| bad("not UTF-8"))?;
    let mut practice = None;
    let mut audit_key = None;
    let mut body = 0;
    for line in text.split_inclusive('\n') {
        let Some(comment) = line.strip_prefix('#') else {
            break;
        };
        body += line.len();
        let comment = comment.trim();
        if let Some(p) = comment.strip_prefix("practice:") {
            practice = Some(p.trim().to_owned());
        } else if let Some(k) = comment.strip_prefix("audit key:") {
            audit_key = unhex(k.trim());
        }
    }
    let practice = practice.ok_or_else(|| bad("no `# practice:` line"))?;
    let audit_key = audit_key.ok_or_else(|| bad("no `# audit key:` line"))?;
    let rows = read_csv(&text.as_bytes()[body..]);
    let mut rows = rows.into_iter();
    if rows.next().map(|h| h.join(",")) != Some(HEADER.to_owned()) {
        return Err(bad("its header is not the vault header"));
    }
    let mut records = Vec::new();
    for (i, row) in rows.enumerate() {
        let [pseudonym, nhs, family, given, dob, sex]: [String; 6] =
            row.try_into().map_err(|_| {
                ReidError::BadVault(format!("row {} has the wrong number of fields", i + 1))
            })?;
        let nhs_number = NhsNumber::parse(&nhs)
            .map_err(|_| ReidError::BadVault(format!("row {} has no valid NHS number", i + 1)))?;
        records.push(VaultRecord {
            pseudonym,
            nhs_number,
            family_name: family,
            given_name: given,
            date_of_birth: dob,
            sex,
        });
    }
    records.sort_by(|a, b| a.pseudonym.cmp(&b.pseudonym));
    Ok(Vault {
        practice,
        audit_key,
        records,
    })
}

/// One CSV field, quoted when it holds a comma, quote or line break (RFC 4180).
pub fn write_field(out: &mut Vec<u8>, field: &[u8]) {
    if field
        .iter()
        .any(|b| matches!(b, b',' | b'"' | b'\n' | b'\r'))
    {
        out.push(b'"');
        for &b in field {
            if b == b'"' {
                out.push(b'"');
            }
            out.push(b);
        }
        out.push(b'"');
    } else {
        out.extend_from_slice(field);
    }
}

/// Every record of an RFC 4180 text, with `csv-core`.
pub fn read_csv(text: &[u8]) -> Vec<Vec<String>> {
    let mut reader = csv_core::Reader::new();
    let mut rows = Vec::new();
    let mut row: Vec<String> = Vec::new();
    let mut field = vec![0u8; 1024];
    let mut used = 0;
    let mut input = text;
    loop {
        let (result, nin, nout) = reader.read_field(input, &mut field[used..]);
        input = &input[nin..];
        used += nout;
        match result {
            // The next call passes what is left, which is empty at the end: the reader's
            // signal to finish the last record.
            csv_core::ReadFieldResult::InputEmpty => {}
            csv_core::ReadFieldResult::OutputFull => field.resize(field.len() * 2, 0),
            csv_core::ReadFieldResult::Field { record_end } => {
                row.push(String::from_utf8_lossy(&field[..used]).into_owned());
                used = 0;
                if record_end {
                    rows.push(std::mem::take(&mut row));
                }
            }
            csv_core::ReadFieldResult::End => break,
        }
    }
    rows
}

/// Lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

fn unhex(text: &str) -> Option<[u8; 32]> {
    let b = text.as_bytes();
    if b.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in b.chunks(2).enumerate() {
        let hi = (pair[0] as char).to_digit(16)?;
        let lo = (pair[1] as char).to_digit(16)?;
        out[i] = (hi * 16 + lo) as u8;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(p: &str, nhs: &str, family: &str) -> VaultRecord {
        VaultRecord {
            pseudonym: p.to_owned(),
            nhs_number: NhsNumber::parse(nhs).unwrap(),
            family_name: family.to_owned(),
            given_name: "Sam".to_owned(),
            date_of_birth: "1940-03-03".to_owned(),
            sex: "F".to_owned(),
        }
    }

    #[test]
    fn a_vault_opens_with_its_practice_identity_only_and_reads_back_exactly() {
        let a = PracticeIdentity::generate();
        let b = PracticeIdentity::generate();
        let key = [7u8; 32];
        let mut records = vec![
            record("bb", "9990000026", "O'Brien, \"Jr\""),
            record("aa", "9990000018", "Jones"),
        ];
        let sealed = seal("A81001", &key, &mut records, &a.recipient()).unwrap();
        // Nothing identifying in the ciphertext.
        let raw = String::from_utf8_lossy(&sealed);
        assert!(!raw.contains("9990000026") && !raw.contains("Jones"));
        let vault = open(&sealed, &a).unwrap().expect("A opens A's vault");
        assert_eq!(vault.practice, "A81001");
        assert_eq!(vault.audit_key, key);
        assert_eq!(vault.records, records);
        assert_eq!(vault.get("bb").unwrap().family_name, "O'Brien, \"Jr\"");
        assert!(vault.get("cc").is_none());
        assert!(
            open(&sealed, &b).unwrap().is_none(),
            "B cannot open A's vault"
        );
        assert!(!format!("{:?}", vault.records[0]).contains("999"));
    }

    #[test]
    fn csv_reads_quotes_crlf_and_a_last_line_without_newline() {
        let rows = read_csv(b"a,b\r\n\"x, \"\"y\"\"\",2\nlast,3");
        assert_eq!(
            rows,
            vec![
                vec!["a".to_owned(), "b".to_owned()],
                vec!["x, \"y\"".to_owned(), "2".to_owned()],
                vec!["last".to_owned(), "3".to_owned()],
            ]
        );
        let mut out = Vec::new();
        write_field(&mut out, b"x, \"y\"");
        assert_eq!(out, b"\"x, \"\"y\"\"\"");
    }
}
