//! The data dictionary of a run: every table and column with its type, where it comes from and
//! what it means. Extract tables take their columns from their contracts (`schemas/`); the
//! columns ingest makes from identifiers, and every other table, from `sql/dictionary.toml`.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use phm_contract::Contracts;
use serde::Deserialize;

/// `sql/dictionary.toml`, built into the binary.
pub const DICTIONARY: &str = include_str!("../../../sql/dictionary.toml");

/// What is written where a column has no entry (a test keeps it from ever being printed).
pub const UNDOCUMENTED: &str = "(not in the data dictionary)";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Source {
    derived: BTreeMap<String, (String, String)>,
    tables: BTreeMap<String, BTreeMap<String, String>>,
}

/// One column of a run's table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// Its name.
    pub name: String,
    /// Its Arrow type.
    pub data_type: String,
    /// Where it comes from.
    pub source: String,
    /// What it means ([`UNDOCUMENTED`] when nothing says).
    pub meaning: String,
}

/// One table of a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    /// Its name in `phm query`.
    pub name: String,
    /// Where it comes from.
    pub source: String,
    /// Its columns, in order.
    pub columns: Vec<Column>,
}

fn source() -> Source {
    toml::from_str(DICTIONARY).expect("sql/dictionary.toml is checked by a test")
}

/// Describe a table's columns (`(name, type)`, in order).
pub fn describe(table: &str, columns: &[(String, String)]) -> Table {
    let dictionary = source();
    let contracts = Contracts::builtin();
    if let Ok(contract) = contracts.get(table) {
        let file = format!("schemas/{table}.toml");
        let columns = columns
            .iter()
            .map(|(name, data_type)| {
                let (source, meaning) = match (
                    contract.columns.iter().find(|c| &c.name == name),
                    dictionary.derived.get(name),
                ) {
                    (Some(c), _) => ("contract".to_owned(), c.description.clone()),
                    (None, Some((s, m))) => (s.clone(), m.clone()),
                    (None, None) => (String::new(), UNDOCUMENTED.to_owned()),
                };
                Column {
                    name: name.clone(),
                    data_type: data_type.clone(),
                    source,
                    meaning,
                }
            })
            .collect();
        return Table {
            name: table.to_owned(),
            source: format!(
                "contract `{table}` ({file}), as ingest writes it: {}",
                contract.description
            ),
            columns,
        };
    }
    let entries = dictionary.tables.get(table);
    let get = |k: &str| entries.and_then(|e| e.get(k)).cloned();
    Table {
        name: table.to_owned(),
        source: get("source").unwrap_or_else(|| UNDOCUMENTED.to_owned()),
        columns: columns
            .iter()
            .map(|(name, data_type)| Column {
                name: name.clone(),
                data_type: data_type.clone(),
                source: String::new(),
                meaning: get(name)
                    .or_else(|| get("*"))
                    .unwrap_or_else(|| UNDOCUMENTED.to_owned()),
            })
            .collect(),
    }
}

/// The dictionary as Markdown: a section per table, a row per column.
pub fn markdown(tables: &[Table]) -> String {
    let mut out = String::new();
    for t in tables {
        let _ = writeln!(out, "## `{}`\n\n{}\n", t.name, t.source);
        let extract = t.columns.iter().any(|c| !c.source.is_empty());
        if extract {
            let _ = writeln!(out, "| column | type | from | meaning |\n|---|---|---|---|");
        } else {
            let _ = writeln!(out, "| column | type | meaning |\n|---|---|---|");
        }
        for c in &t.columns {
            let from = if extract {
                format!(" {} |", c.source)
            } else {
                String::new()
            };
            let _ = writeln!(
                out,
                "| `{}` | {} |{from} {} |",
                c.name,
                c.data_type,
                c.meaning.replace('|', "\\|")
            );
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dictionary_file_reads_and_names_a_source_for_every_table() {
        let d = source();
        assert!(d.derived.contains_key("pseudonym"));
        for (table, entries) in &d.tables {
            assert!(entries.contains_key("source"), "{table}");
        }
    }

    #[test]
    fn extract_columns_come_from_the_contract_and_derived_ones_from_the_file() {
        let t = describe(
            "apc",
            &[
                ("pseudonym".to_owned(), "Utf8".to_owned()),
                ("spell_id".to_owned(), "Utf8".to_owned()),
                ("mystery".to_owned(), "Utf8".to_owned()),
            ],
        );
        assert!(t.source.contains("schemas/apc.toml"));
        assert!(t.columns[0].meaning.contains("keyed BLAKE3"));
        assert!(t.columns[1].meaning.contains("spell number"));
        assert_eq!(t.columns[2].meaning, UNDOCUMENTED);
        let t = describe("practice_tier", &[("high".to_owned(), "Int64".to_owned())]);
        assert!(t.columns[0].meaning.contains("risk tier"));
    }
}
