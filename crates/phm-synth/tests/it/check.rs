//! An independent reading of a synthetic set: every extract file parsed against its contract,
//! every problem found listed as (file, line, kind), the way ingest will have to find them.

use std::collections::{BTreeSet, HashSet};
use std::path::Path;

use chrono::NaiveDate;
use phm_contract::{ColumnType, Contracts, NhsNumber, NhsNumberError};

/// One data row of an extract file.
pub struct Row {
    /// Path relative to the set, e.g. `extracts/apc/RAJ.csv`.
    pub file: String,
    /// Extract name.
    pub extract: String,
    /// 1-based line number (the header is line 1).
    pub line: u64,
    /// Fields (bytes that are not UTF-8 replaced).
    pub fields: Vec<String>,
}

/// Everything found in a set.
pub struct Reading {
    /// Problems and kept oddities found: (file, line, kind); line 0 is the whole file.
    pub found: BTreeSet<(String, u64, String)>,
    /// All rows.
    pub rows: Vec<Row>,
}

/// The extract date written in `synth.json`.
pub fn extract_date(set: &Path) -> NaiveDate {
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(set.join("synth.json")).unwrap()).unwrap();
    NaiveDate::parse_from_str(meta["extract_date"].as_str().unwrap(), "%Y-%m-%d").unwrap()
}

/// Read every extract file of a set.
pub fn read(set: &Path) -> Reading {
    let contracts = Contracts::builtin();
    let extract_date = extract_date(set);
    let mut found = BTreeSet::new();
    let mut rows = Vec::new();
    // Extract files sit in a folder per extract; the delivery log `extracts/submissions.csv`
    // at the top level is not one (ingest reads only the folders).
    let files = phm_testkit::files_under(&set.join("extracts"), Some("csv"));
    for path in files
        .into_iter()
        .filter(|p| p.parent() != Some(set.join("extracts").as_path()))
    {
        let extract = path
            .parent()
            .unwrap()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let org = path.file_stem().unwrap().to_string_lossy().into_owned();
        let rel = path
            .strip_prefix(set)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        let contract = contracts.get(&extract).unwrap();
        let mut bytes = std::fs::read(&path).unwrap();
        if bytes.starts_with(b"\xEF\xBB\xBF") {
            found.insert((rel.clone(), 1, "utf8_bom".to_owned()));
            bytes.drain(..3);
        }
        if bytes.windows(2).any(|w| w == b"\r\n") {
            found.insert((rel.clone(), 0, "crlf_line_ends".to_owned()));
        }
        let mut lines = bytes.split(|&b| b == b'\n');
        let header = String::from_utf8(lines.next().unwrap().to_vec()).unwrap();
        assert_eq!(
            header.trim_end_matches('\r'),
            contract.column_names().join(","),
            "{rel}"
        );
        let mut seen: HashSet<Vec<u8>> = HashSet::new();
        for (i, raw) in lines.enumerate() {
            let line = i as u64 + 2;
            let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
            if raw.is_empty() {
                continue;
            }
            let kind = problem(contract, &org, extract_date, raw);
            let fields = String::from_utf8_lossy(raw)
                .split(',')
                .map(str::to_owned)
                .collect();
            let kind = match kind {
                Some(k) => Some(k),
                None if !seen.insert(raw.to_vec()) => Some("duplicate_row"),
                None => None,
            };
            if let Some(k) = kind {
                found.insert((rel.clone(), line, k.to_owned()));
            }
            rows.push(Row {
                file: rel.clone(),
                extract: extract.clone(),
                line,
                fields,
            });
        }
    }
    Reading { found, rows }
}

/// The first problem of a row, in the order ingest checks them; `nhs_number_spaced` for a
/// valid number written with separators (kept, but listed).
fn problem(
    contract: &phm_contract::Contract,
    org: &str,
    extract_date: NaiveDate,
    raw: &[u8],
) -> Option<&'static str> {
    let Ok(text) = std::str::from_utf8(raw) else {
        return Some("encoding");
    };
    let fields: Vec<&str> = text.split(',').collect();
    if fields.len() != contract.columns.len() {
        return Some("field_count");
    }
    let nhs = fields[contract.nhs_number_index()];
    match NhsNumber::parse(nhs) {
        Err(NhsNumberError::Empty) => return Some("missing_required"),
        Err(NhsNumberError::NotNumeric) => return Some("nhs_number_not_numeric"),
        Err(NhsNumberError::WrongLength { .. }) => return Some("nhs_number_wrong_length"),
        Err(NhsNumberError::InvalidCheckDigit) => return Some("nhs_number_invalid_check_digit"),
        Ok(_) => {}
    }
    for (c, v) in contract.columns.iter().zip(&fields) {
        if c.required && v.is_empty() {
            return Some("missing_required");
        }
    }
    for (c, v) in contract.columns.iter().zip(&fields) {
        if c.kind == ColumnType::Date
            && !v.is_empty()
            && NaiveDate::parse_from_str(v, c.format.as_deref().unwrap()).is_err()
        {
            return Some("date_unparseable");
        }
    }
    for (c, v) in contract.columns.iter().zip(&fields) {
        if v.is_empty() {
            continue;
        }
        let bad = match c.kind {
            ColumnType::Code => c
                .allowed
                .as_ref()
                .is_some_and(|a| !a.iter().any(|x| x == v)),
            ColumnType::Integer => v.parse::<i64>().map_or(true, |n| {
                c.min.is_some_and(|m| n < m) || c.max.is_some_and(|m| n > m)
            }),
            ColumnType::Decimal => v.parse::<f64>().is_err(),
            ColumnType::Icd10 => {
                // A letter and two digits once dots and spaces are gone.
                let bare: Vec<char> = v
                    .chars()
                    .filter(|c| *c != '.' && !c.is_whitespace())
                    .collect();
                !(bare.len() >= 3
                    && bare[0].is_ascii_alphabetic()
                    && bare[1].is_ascii_digit()
                    && bare[2].is_ascii_digit())
            }
            ColumnType::Snomed => {
                !(6..=18).contains(&v.len())
                    || !v.bytes().all(|b| b.is_ascii_digit())
                    || v.starts_with('0')
                    || !verhoeff(v)
            }
            _ => false,
        };
        if bad {
            return Some("value_invalid");
        }
    }
    for (c, v) in contract.columns.iter().zip(&fields) {
        if c.kind == ColumnType::Date
            && !v.is_empty()
            && NaiveDate::parse_from_str(v, c.format.as_deref().unwrap()).unwrap() > extract_date
        {
            return Some("date_in_future");
        }
    }
    if contract.submitter_index().is_some_and(|i| fields[i] != org) {
        return Some("wrong_submitter");
    }
    if nhs.len() != 10 {
        return Some("nhs_number_spaced");
    }
    None
}

/// Verhoeff's check over a string of digits (SNOMED CT Release File Specification 6.4.2),
/// written here apart from phm's own: the position permutations derived from their second
/// row, the D5 products from the right.
fn verhoeff(v: &str) -> bool {
    const D: [[usize; 10]; 10] = [
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
        [1, 2, 3, 4, 0, 6, 7, 8, 9, 5],
        [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
        [3, 4, 0, 1, 2, 8, 9, 5, 6, 7],
        [4, 0, 1, 2, 3, 9, 5, 6, 7, 8],
        [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
        [6, 5, 9, 8, 7, 1, 0, 4, 3, 2],
        [7, 6, 5, 9, 8, 2, 1, 0, 4, 3],
        [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
        [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
    ];
    let mut f = vec![
        (0..10).collect::<Vec<usize>>(),
        vec![1, 5, 7, 6, 2, 8, 3, 0, 9, 4],
    ];
    for i in 2..8 {
        let row = (0..10).map(|j| f[i - 1][f[1][j]]).collect();
        f.push(row);
    }
    let mut c = 0;
    for (i, b) in v.bytes().rev().enumerate() {
        c = D[c][f[i % 8][usize::from(b - b'0')]];
    }
    c == 0
}
