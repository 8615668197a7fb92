//! The code lists and weights, read from `codelists/` (built into the binary). Each file
//! starts with `#` lines naming its source; then a CSV header and rows without quoting.

use std::collections::HashMap;

use crate::icd10::Icd10;

/// Rows of a code-list CSV as (header, rows); `#` lines and blank lines are skipped. Quoted
/// fields (`"a, b"`) are read whole.
pub fn table(text: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let mut lines = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty());
    let header = lines.next().map(split).unwrap_or_default();
    (header, lines.map(split).collect())
}

fn split(line: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut quoted = false;
    for c in line.chars() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => out.push(String::new()),
            _ => out.last_mut().expect("one field at least").push(c),
        }
    }
    out
}

/// The positions of the bits set in `set` below `len`: the members of a condition, category
/// or deficit set, in list order.
pub fn members(set: u128, len: usize) -> impl Iterator<Item = usize> {
    (0..len).filter(move |i| set & (1 << i) != 0)
}

/// Conditions defined by ICD-10 prefixes, with a lookup from a code to its conditions.
#[derive(Debug, Clone)]
pub struct Conditions {
    /// Condition codes in file order (bit `i` of a patient's set is condition `i`).
    pub names: Vec<String>,
    /// Prefix → conditions, by prefix length.
    by_prefix: HashMap<String, Vec<usize>>,
    lengths: Vec<usize>,
}

impl Conditions {
    /// From a `condition,icd10_prefix` table.
    pub fn from_csv(text: &str) -> Self {
        let (_, rows) = table(text);
        let mut names: Vec<String> = Vec::new();
        let mut by_prefix: HashMap<String, Vec<usize>> = HashMap::new();
        for r in rows {
            let i = names.iter().position(|n| *n == r[0]).unwrap_or_else(|| {
                names.push(r[0].clone());
                names.len() - 1
            });
            let entry = by_prefix.entry(r[1].clone()).or_default();
            if !entry.contains(&i) {
                entry.push(i);
            }
        }
        let mut lengths: Vec<usize> = by_prefix.keys().map(String::len).collect();
        lengths.sort_unstable();
        lengths.dedup();
        assert!(names.len() <= 64, "conditions fit a 64-bit set");
        Conditions {
            names,
            by_prefix,
            lengths,
        }
    }

    /// The set (bit per condition) a code belongs to: every condition with a prefix the code
    /// starts with (a code can count for more than one condition, as in Quan 2005).
    pub fn of(&self, code: Icd10) -> u64 {
        let s = code.as_str();
        let mut set = 0;
        for &len in &self.lengths {
            if let Some(conds) = s.get(..len).and_then(|p| self.by_prefix.get(p)) {
                for &c in conds {
                    set |= 1 << c;
                }
            }
        }
        set
    }

    /// Index of a condition by name.
    pub fn index(&self, name: &str) -> usize {
        self.names
            .iter()
            .position(|n| n == name)
            .unwrap_or_else(|| panic!("no condition `{name}` in the code list"))
    }

    /// Names of the conditions in a set, in file order.
    pub fn names_in(&self, set: u64) -> Vec<&str> {
        members(set.into(), self.names.len())
            .map(|i| self.names[i].as_str())
            .collect()
    }
}

/// A weights table: `condition,name,<weighting>...`; returns weights per weighting in the
/// order of `conditions`.
pub fn weights(text: &str, conditions: &Conditions) -> Vec<(String, Vec<i32>)> {
    let (header, rows) = table(text);
    header[2..]
        .iter()
        .enumerate()
        .map(|(k, weighting)| {
            let w = conditions
                .names
                .iter()
                .map(|c| {
                    let row = rows
                        .iter()
                        .find(|r| r[0] == *c)
                        .unwrap_or_else(|| panic!("no weight for `{c}`"));
                    row[2 + k].trim().parse().expect("integer weight")
                })
                .collect();
            (weighting.clone(), w)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::icd10::normalise;

    #[test]
    fn a_code_counts_for_every_condition_whose_prefix_it_has() {
        let c = Conditions::from_csv(
            "# src\ncondition,icd10_prefix\nchf,I110\nchf,I50\nhypc,I11\nhypc,I12\n",
        );
        let set = |s: &str| c.names_in(c.of(normalise(s).unwrap()));
        assert_eq!(set("I11.0"), vec!["chf", "hypc"]);
        assert_eq!(set("I11.9"), vec!["hypc"]);
        assert_eq!(set("I50.9"), vec!["chf"]);
        assert!(set("I10").is_empty());
    }

    #[test]
    fn quoted_fields_and_comments() {
        let (h, rows) = table("# a, b\ncode,term\n1,\"x, y\"\n\n");
        assert_eq!(h, vec!["code", "term"]);
        assert_eq!(rows, vec![vec!["1".to_owned(), "x, y".to_owned()]]);
    }
}
