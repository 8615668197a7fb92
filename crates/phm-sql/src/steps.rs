//! The SQL files of `sql/`: built in, or read from a folder, in name order.

use std::path::{Path, PathBuf};

use crate::{SqlError, io};

/// The SQL files of `sql/` as built into this binary, used when no folder is given.
pub const BUILTIN_SQL: [(&str, &str); 5] = [
    ("01_spine.sql", include_str!("../../../sql/01_spine.sql")),
    ("02_spells.sql", include_str!("../../../sql/02_spells.sql")),
    (
        "03_activity.sql",
        include_str!("../../../sql/03_activity.sql"),
    ),
    (
        "04_outcome.sql",
        include_str!("../../../sql/04_outcome.sql"),
    ),
    (
        "05_features.sql",
        include_str!("../../../sql/05_features.sql"),
    ),
];

/// The table a SQL file makes: its name without the leading number (`01_spine` → `spine`).
pub fn table_name(stem: &str) -> String {
    stem.split_once('_')
        .filter(|(n, _)| n.chars().all(|c| c.is_ascii_digit()))
        .map_or(stem.to_owned(), |(_, rest)| rest.to_owned())
}

/// The SQL steps to run: from a folder (name order), or the built-in ones; as (table name,
/// file name, text).
pub fn sql_steps(dir: Option<&Path>) -> Result<Vec<(String, String, String)>, SqlError> {
    match dir {
        Some(d) => sql_files(d),
        None => Ok(BUILTIN_SQL
            .iter()
            .map(|(f, t)| {
                (
                    table_name(f.trim_end_matches(".sql")),
                    (*f).to_owned(),
                    (*t).to_owned(),
                )
            })
            .collect()),
    }
}

/// The SQL files of a folder, in name order, as (table name, file name, text).
pub fn sql_files(dir: &Path) -> Result<Vec<(String, String, String)>, SqlError> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(io(dir))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "sql"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let file = p
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            let stem = p
                .file_stem()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            let text = std::fs::read_to_string(&p).map_err(io(&p))?;
            Ok((table_name(&stem), file, text))
        })
        .collect()
}

/// SQL text without its `--` comments.
pub fn strip_comments(sql: &str) -> String {
    sql.lines()
        .map(|l| l.split_once("--").map_or(l, |(code, _)| code))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Whether SQL text names a table (as a whole word, outside `--` comments).
pub fn mentions(sql: &str, table: &str) -> bool {
    let sql = strip_comments(sql);
    sql.match_indices(table).any(|(i, _)| {
        let before = sql[..i].chars().next_back();
        let after = sql[i + table.len()..].chars().next();
        let word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
        !word(before) && !word(after)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_is_mentioned_as_a_whole_word() {
        assert!(mentions("SELECT * FROM spells AS s", "spells"));
        assert!(mentions("JOIN spine\nON", "spine"));
        assert!(!mentions("SELECT spine_id FROM x", "spine"));
        assert!(!mentions("FROM my_spells", "spells"));
        assert!(!mentions("-- reads spells\nSELECT 1", "spells"));
    }

    #[test]
    fn the_built_in_steps_are_the_files_of_sql() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../sql");
        let on_disk = sql_files(&root).unwrap();
        let built_in = sql_steps(None).unwrap();
        assert_eq!(on_disk, built_in);
        let names: Vec<&str> = built_in.iter().map(|(t, _, _)| t.as_str()).collect();
        assert_eq!(
            names,
            ["spine", "spells", "activity", "outcome", "features"]
        );
    }
}
