//! `[share]`: the ICS partners a run's pseudonymised data may be shared with (sub-licensing),
//! and what each may have.
//!
//! ```toml
//! [share.recipients.council-ph]            # the recipient id: never reuse or rename it
//! name = "Anytown Council public health"
//! purpose = "Joint strategic needs assessment"
//! retention_months = 12
//! key_epoch = 1                            # a new epoch rotates the recipient's pseudonyms
//! k = 5                                    # k-anonymity over quasi-identifiers
//! national_data_opt_out = false            # the notice's default for pseudonymised data
//!
//! [[share.recipients.council-ph.grants]]
//! table = "features"
//! columns = ["pseudonym", "age_band", "sex", "lsoa_code", "emergency_admissions_12m"]
//! rows = { lsoa_code = ["E01900015", "E01900016"] }   # only residents of these LSOAs
//! level = "rows"                           # or "aggregates": counts only
//! dates = "month"                          # or "day"
//! k = 10                                   # this grant's k, when not the recipient's
//! ```
//!
//! Columns that let a provider or anyone else find the person again are never shared, whatever
//! a grant says ([`NEVER_SHARED`]); a grant naming one is refused when the definition loads.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use crate::pipeline::PipelineError;

/// `[share]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Share {
    /// Recipient id → what it may have. The id is immutable: the recipient's pseudonyms are
    /// derived from it.
    pub recipients: BTreeMap<String, Recipient>,
}

/// One recipient of pseudonymised data under a data-sharing agreement.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recipient {
    /// Its display name.
    pub name: String,
    /// What the data is for (recorded in the manifest and the audit log).
    pub purpose: String,
    /// How many months the recipient may keep an extract.
    pub retention_months: u32,
    /// The key epoch: the recipient's pseudonyms change when it does.
    #[serde(default = "first_epoch")]
    pub key_epoch: u32,
    /// The k of k-anonymity over the quasi-identifiers of row-level extracts.
    #[serde(default = "default_k")]
    pub k: u64,
    /// Whether the national data opt-out applies to this purpose (the GP privacy notice: not
    /// for pseudonymised data; recorded either way).
    #[serde(default)]
    pub national_data_opt_out: bool,
    /// What it may have.
    #[serde(default)]
    pub grants: Vec<Grant>,
}

fn first_epoch() -> u32 {
    1
}

fn default_k() -> u64 {
    5
}

/// One table a recipient may have, and how much of it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grant {
    /// A published table (`spine`, `features`, `scores`, `risk`, an aggregate) or a
    /// pseudonymised extract (`apc`, `gp_events`, ...).
    pub table: String,
    /// The columns granted (`pseudonym` is re-keyed for the recipient).
    pub columns: Vec<String>,
    /// Row filters: column → the values a row may have (all must hold). A column the table
    /// lacks is looked up on the patient's `spine` row (a council's residents, by LSOA).
    #[serde(default)]
    pub rows: BTreeMap<String, Vec<String>>,
    /// Rows, or only counts under disclosure control.
    #[serde(default)]
    pub level: GrantLevel,
    /// How precise event dates are.
    #[serde(default)]
    pub dates: DatePrecision,
    /// The k of this grant's rows, when not the recipient's.
    #[serde(default)]
    pub k: Option<u64>,
}

/// Whether a grant gives rows or only aggregates.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantLevel {
    /// Row-level, pseudonymised, k-anonymous.
    #[default]
    Rows,
    /// Counts of patients by the granted columns, suppressed and rounded as `[publish]` says.
    Aggregates,
}

/// How precise the dates of a grant are.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DatePrecision {
    /// `YYYY-MM` (the default: a day and a place often single out one person).
    #[default]
    Month,
    /// The day, as held.
    Day,
}

/// Columns no recipient ever gets, and why: direct identifiers, and record numbers a provider
/// can look up in its own system.
pub const NEVER_SHARED: [(&str, &str); 9] = [
    ("nhs_number", "a direct identifier"),
    ("given_name", "a direct identifier"),
    ("family_name", "a direct identifier"),
    ("date_of_birth", "a direct identifier"),
    ("postcode", "a direct identifier"),
    ("local_patient_id", "the provider's local patient id"),
    ("spell_id", "a provider record number"),
    ("episode_id", "a provider record number"),
    ("attendance_id", "a provider record number"),
];

/// Why a column is never shared: one of [`NEVER_SHARED`], or a column any built-in contract
/// gives the role `direct_identifier` or `record_id`.
pub fn never_shared(column: &str) -> Option<&'static str> {
    static BY_ROLE: std::sync::OnceLock<Vec<(String, &'static str)>> = std::sync::OnceLock::new();
    let by_role = BY_ROLE.get_or_init(|| {
        phm_contract::Contracts::builtin()
            .iter()
            .flat_map(|c| c.columns.iter())
            .filter_map(|c| match c.role {
                phm_contract::PrivacyRole::DirectIdentifier => {
                    Some((c.name.clone(), "a direct identifier"))
                }
                phm_contract::PrivacyRole::RecordId => {
                    Some((c.name.clone(), "a provider record number"))
                }
                _ => None,
            })
            .collect()
    });
    NEVER_SHARED
        .iter()
        .map(|(c, why)| (*c, *why))
        .chain(by_role.iter().map(|(c, why)| (c.as_str(), *why)))
        .find(|(c, _)| c.eq_ignore_ascii_case(column))
        .map(|(_, why)| why)
}

/// Check `[share]`: recipient ids, names, k, and no grant of a column never shared.
pub(crate) fn check(share: &Share, text: &str, path: &Path) -> Result<(), PipelineError> {
    for (id, r) in &share.recipients {
        let invalid = |key: &str, problem: String, hint: &str| PipelineError::Invalid {
            path: path.to_owned(),
            line: line_of(text, id, key),
            key: Some(format!("share.recipients.{id}.{key}")),
            problem,
            hint: hint.to_owned(),
        };
        let well_formed = id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
            && id.chars().next().is_some_and(|c| c.is_ascii_alphanumeric());
        if !well_formed {
            return Err(invalid(
                "name",
                format!("`{id}` is not a recipient id"),
                "ids are lowercase letters, digits, `-` and `_` (they key the recipient's pseudonyms: never rename one)",
            ));
        }
        for (key, value) in [("name", &r.name), ("purpose", &r.purpose)] {
            if value.trim().is_empty() {
                return Err(invalid(
                    key,
                    format!("recipient `{id}` needs a {key}"),
                    "the data-sharing manifest and the audit log record it",
                ));
            }
        }
        if r.k < 2 {
            return Err(invalid(
                "k",
                format!("k = {} protects nobody", r.k),
                "write `k = 5` (the default) or more",
            ));
        }
        if r.retention_months == 0 {
            return Err(invalid(
                "retention_months",
                "a retention of 0 months".to_owned(),
                "write the months of the data-sharing agreement, like `retention_months = 12`",
            ));
        }
        if r.grants.is_empty() {
            return Err(invalid(
                "grants",
                format!("recipient `{id}` has no grants"),
                "add `[[share.recipients.<id>.grants]]` with `table` and `columns`",
            ));
        }
        for (n, g) in r.grants.iter().enumerate() {
            check_grant(g, (id, n), text, path)?;
        }
    }
    Ok(())
}

/// Check the `n`-th grant of recipient `id` (errors name a line of that grant's block).
fn check_grant(
    g: &Grant,
    (id, n): (&str, usize),
    text: &str,
    path: &Path,
) -> Result<(), PipelineError> {
    let invalid = |column: &str, problem: String, hint: String| PipelineError::Invalid {
        path: path.to_owned(),
        line: line_of_value(text, (id, n), column),
        key: Some(format!("share.recipients.{id}.grants")),
        problem,
        hint,
    };
    let named = g.columns.iter().chain(g.rows.keys());
    for c in named {
        if let Some(why) = never_shared(c) {
            return Err(invalid(
                c,
                format!(
                    "the grant of `{}` to `{id}` names `{c}`, {why}: it is never shared",
                    g.table
                ),
                format!("remove `{c}`; recipients get re-keyed pseudonyms and no record numbers"),
            ));
        }
    }
    if let Some(k) = g.k.filter(|k| *k < 2) {
        return Err(invalid(
            &g.table,
            format!(
                "the grant of `{}` to `{id}` has k = {k}, which protects nobody",
                g.table
            ),
            "write `k = 5` or more, or leave it out for the recipient's k".to_owned(),
        ));
    }
    if g.columns.is_empty() {
        return Err(invalid(
            &g.table,
            format!("the grant of `{}` to `{id}` names no columns", g.table),
            "list the columns granted, like `columns = [\"age_band\", \"sex\"]`".to_owned(),
        ));
    }
    if g.level == GrantLevel::Aggregates && g.columns.iter().any(|c| c == "pseudonym") {
        return Err(invalid(
            "pseudonym",
            format!(
                "the aggregates grant of `{}` to `{id}` names `pseudonym`",
                g.table
            ),
            "an aggregate counts patients by the columns granted; remove `pseudonym` or grant `level = \"rows\"`".to_owned(),
        ));
    }
    Ok(())
}

/// The line of `key = ...` under `[share.recipients.<id>]`.
fn line_of(text: &str, id: &str, key: &str) -> Option<usize> {
    let header = format!("share.recipients.{id}");
    let mut inside = false;
    for (i, l) in text.lines().enumerate() {
        let t = l.trim();
        if t.starts_with('[') {
            inside = t.trim_matches(|c| c == '[' || c == ']').trim() == header;
        } else if inside && t.split_once('=').is_some_and(|(k, _)| k.trim() == key) {
            return Some(i + 1);
        }
    }
    None
}

/// The first line naming `"value"` in the `n`-th `[[share.recipients.<id>.grants]]` block
/// (its inline `rows` table included).
fn line_of_value(text: &str, (id, n): (&str, usize), value: &str) -> Option<usize> {
    let header = format!("share.recipients.{id}.grants");
    let quoted = format!("\"{value}\"");
    let mut seen = 0;
    let mut inside = false;
    for (i, l) in text.lines().enumerate() {
        let t = l.trim();
        if t.starts_with('[') {
            let name = t.trim_matches(|c| c == '[' || c == ']').trim();
            inside = t.starts_with("[[") && name == header && {
                seen += 1;
                seen == n + 1
            };
        } else if inside
            && (t.contains(&quoted)
                || t.split_once('=')
                    .is_some_and(|(k, _)| k.trim() == value || k.trim().trim_matches('"') == value)
                || t.contains(&format!("{value} =")))
        {
            return Some(i + 1);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use crate::Pipeline;
    use std::path::Path;

    const COUNCIL: &str = r#"
[share.recipients.council-ph]
name = "Anytown Council public health"
purpose = "Joint strategic needs assessment"
retention_months = 12

[[share.recipients.council-ph.grants]]
table = "features"
columns = ["pseudonym", "age_band", "sex", "lsoa_code"]
rows = { lsoa_code = ["E01900015"] }
"#;

    fn err(text: &str) -> String {
        Pipeline::parse(text, Path::new("p.toml"))
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn a_recipient_reads_with_its_defaults() {
        let p = Pipeline::parse(COUNCIL, Path::new("p.toml")).unwrap();
        let r = &p.share.recipients["council-ph"];
        assert_eq!((r.key_epoch, r.k, r.national_data_opt_out), (1, 5, false));
        let g = &r.grants[0];
        assert_eq!(g.level, super::GrantLevel::Rows);
        assert_eq!(g.dates, super::DatePrecision::Month);
        assert_eq!(g.rows["lsoa_code"], ["E01900015"]);
    }

    #[test]
    fn a_grant_naming_a_record_id_or_identifier_is_refused_naming_it() {
        for (column, why) in [
            ("spell_id", "a provider record number"),
            ("local_patient_id", "local patient id"),
            ("nhs_number", "a direct identifier"),
            ("date_of_birth", "a direct identifier"),
            ("postcode", "a direct identifier"),
        ] {
            let text = COUNCIL.replace("\"lsoa_code\"]\n", &format!("\"{column}\"]\n"));
            let e = err(&text);
            assert!(e.contains(&format!("`{column}`")) && e.contains(why), "{e}");
            assert!(e.contains("p.toml:9"), "{e}");
        }
        // in a row filter too
        let e = err(&COUNCIL.replace("rows = { lsoa_code", "rows = { postcode"));
        assert!(e.contains("`postcode`"), "{e}");
    }

    #[test]
    fn unusable_recipients_are_refused() {
        let e = err(&COUNCIL.replace("retention_months = 12", "retention_months = 12\nk = 1"));
        assert!(e.contains("k = 1"), "{e}");
        let e = err(&COUNCIL.replace("council-ph", "Council"));
        assert!(e.contains("not a recipient id"), "{e}");
        let e = err(&COUNCIL.replace("rows = {", "level = \"aggregates\"\nrows = {"));
        assert!(e.contains("names `pseudonym`"), "{e}");
        // In a second grant, the error names the second grant's line, not the first's.
        let two = format!(
            "{COUNCIL}\n[[share.recipients.council-ph.grants]]\ntable = \"spine\"\ncolumns = [\"pseudonym\", \"sex\"]\nlevel = \"aggregates\"\n"
        );
        let e = err(&two);
        assert!(
            e.contains("p.toml:14") && e.contains("names `pseudonym`"),
            "{e}"
        );
        let e = err(&COUNCIL.replace(
            "purpose = \"Joint strategic needs assessment\"",
            "purpose = \" \"",
        ));
        assert!(e.contains("needs a purpose"), "{e}");
    }
}
