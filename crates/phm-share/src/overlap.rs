//! `phm share --check`: how many pseudonyms two extracts (or an extract and a run) share.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use datafusion::arrow::array::{Array, StringArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;

use crate::ShareError;

/// The pseudonyms of two folders and how many they share.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Overlap {
    /// Distinct pseudonyms in the first.
    pub first: u64,
    /// Distinct pseudonyms in the second.
    pub second: u64,
    /// Pseudonyms in both.
    pub shared: u64,
    /// Parquet files read with a `pseudonym` column, in both.
    pub files: u64,
}

/// Compare the `pseudonym` columns of every Parquet file under `a` and under `b` (folders read
/// recursively: an extract, or a whole run folder).
pub fn overlap(a: &Path, b: &Path) -> Result<Overlap, ShareError> {
    let (first, n) = pseudonyms(a)?;
    let (second, m) = pseudonyms(b)?;
    Ok(Overlap {
        first: first.len() as u64,
        second: second.len() as u64,
        shared: first.intersection(&second).count() as u64,
        files: n + m,
    })
}

fn parquet_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), ShareError> {
    let io = |source| ShareError::Io {
        path: dir.to_owned(),
        source,
    };
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        if path.is_dir() {
            parquet_files(&path, out)?;
        } else if path.extension().is_some_and(|x| x == "parquet") {
            out.push(path);
        }
    }
    Ok(())
}

fn pseudonyms(dir: &Path) -> Result<(HashSet<String>, u64), ShareError> {
    let mut files = Vec::new();
    parquet_files(dir, &mut files)?;
    let mut seen = HashSet::new();
    let mut read = 0;
    for f in files {
        let mut any = false;
        for batch in phm_sql::read_columns(&f, &["pseudonym"])? {
            let batch = batch?;
            let Some(column) = batch.column_by_name("pseudonym") else {
                continue;
            };
            any = true;
            let text = cast(column, &DataType::Utf8).map_err(|source| ShareError::Arrow {
                table: f.display().to_string(),
                source,
            })?;
            if let Some(text) = text.as_any().downcast_ref::<StringArray>() {
                seen.extend(text.iter().flatten().map(str::to_owned));
            }
        }
        read += u64::from(any);
    }
    Ok((seen, read))
}
