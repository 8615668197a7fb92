//! Extract contracts: what each extract's columns are, how to read them, and what they reveal.
//!
//! One TOML file per extract lives in `schemas/`. A contract names its columns in file order
//! with a type, whether they are required, and their privacy role; it says which column holds
//! the submitting organisation. [`Contract::from_toml`] checks a contract is coherent (one NHS
//! number column, a submitter column of the organisation role, known date formats, ...), so
//! that a mistake in `schemas/` is found when the contract is loaded, not halfway through a run.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// A column's data type, which decides how ingest validates it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ColumnType {
    /// An NHS number; normalised and Modulus 11 checked.
    NhsNumber,
    /// Free text.
    Text,
    /// A calendar date in the column's `format`.
    Date,
    /// A whole number, optionally within `min` and `max`.
    Integer,
    /// A decimal number.
    Decimal,
    /// A code from a fixed list (`allowed`), or any short code when no list is given.
    Code,
    /// A SNOMED CT concept id (or dm+d code): 6 to 18 digits ending in a Verhoeff check digit.
    Snomed,
    /// An ICD-10 code as feeds write it (normalised by the scoring stage).
    Icd10,
    /// Several ICD-10 codes in one field, split on `separator`.
    Icd10List,
    /// An ODS organisation code.
    OdsCode,
    /// A UK postcode.
    Postcode,
}

/// What a column reveals about a person, which decides what ingest does with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PrivacyRole {
    /// Identifies a person on its own (NHS number, name, local patient id). Dropped by ingest;
    /// the NHS number becomes the pseudonym.
    DirectIdentifier,
    /// Identifies a person in combination (date of birth, postcode, sex). Generalised.
    QuasiIdentifier,
    /// Names an organisation (practice, provider).
    Organisation,
    /// A provider's record number (a spell id) that the provider can resolve to a person.
    /// Ingest writes it as a keyed hash (its own key, derived from the pseudonymisation key),
    /// so it still groups and joins within the ICB's data but means nothing to the provider.
    RecordId,
    /// Clinical or activity content.
    Clinical,
}

/// How ingest generalises a quasi-identifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Generalise {
    /// Date of birth becomes age in years at the reference date and a 5-year age band.
    Age,
    /// Postcode becomes LSOA and IMD decile, or postcode district when not in the lookup.
    Lsoa,
    /// Kept as it is (a coarse value such as sex), by an explicit decision in the contract.
    Keep,
}

/// The text encoding an extract is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
pub enum Encoding {
    /// UTF-8 (a byte order mark is allowed and ignored). Rows that are not valid UTF-8 are
    /// quarantined as `encoding`.
    #[default]
    #[serde(rename = "utf-8")]
    Utf8,
    /// ISO 8859-1, transcoded to UTF-8 on read.
    #[serde(rename = "latin-1")]
    Latin1,
}

/// The kind of organisation that submits an extract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubmitterKind {
    /// A GP practice (ODS code like `A81001`).
    GpPractice,
    /// An acute hospital trust.
    AcuteTrust,
    /// A community services provider.
    CommunityProvider,
    /// A mental health trust.
    MentalHealthTrust,
    /// An ambulance service.
    AmbulanceService,
    /// A national body (NHS England) for national lists such as the data opt-out.
    National,
}

/// One column of an extract.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Column {
    /// The header name, exactly as in the file.
    pub name: String,
    /// Data type.
    #[serde(rename = "type")]
    pub kind: ColumnType,
    /// Whether an empty value quarantines the row.
    #[serde(default)]
    pub required: bool,
    /// Privacy role.
    pub role: PrivacyRole,
    /// Date format (chrono `strftime` syntax) for `date` columns.
    #[serde(default)]
    pub format: Option<String>,
    /// Allowed values for `code` columns.
    #[serde(default)]
    pub allowed: Option<Vec<String>>,
    /// Inclusive bounds for `integer` columns.
    #[serde(default)]
    pub min: Option<i64>,
    /// Inclusive upper bound for `integer` columns.
    #[serde(default)]
    pub max: Option<i64>,
    /// Separator for `icd10_list` columns.
    #[serde(default)]
    pub separator: Option<String>,
    /// Generalisation for quasi-identifiers.
    #[serde(default)]
    pub generalise: Option<Generalise>,
    /// What the column holds, for people.
    pub description: String,
}

/// The contract of one extract.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Contract {
    /// Extract name; also the folder under `extracts/` and the table name downstream.
    pub name: String,
    /// One line for people.
    pub description: String,
    /// Which kind of organisation submits it.
    pub submitted_by: SubmitterKind,
    /// The column naming the organisation a row belongs to; absent for national lists.
    #[serde(default)]
    pub submitter_column: Option<String>,
    /// Text encoding of the file.
    #[serde(default)]
    pub encoding: Encoding,
    /// Columns in file order.
    pub columns: Vec<Column>,
    /// Columns whose values together identify a row of one file (a patient's registration at
    /// a practice from a date, a spell's episode); ingest quarantines a later row that repeats
    /// them as `duplicate_key`. Empty: rows have no key beyond being distinct.
    #[serde(default)]
    pub unique_key: Vec<String>,
}

/// A contract that does not hold together. Messages say which file and what to change.
#[derive(Debug, thiserror::Error)]
pub enum ContractError {
    /// The file could not be read.
    #[error("cannot read contract `{path}`: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The TOML does not parse or has unknown keys.
    #[error("contract `{name}` is not valid TOML for a contract: {message}")]
    Toml {
        /// Contract file or name.
        name: String,
        /// Parser message.
        message: String,
    },
    /// The TOML parses but breaks a rule.
    #[error("contract `{name}`: {problem}\nhint: {hint}")]
    Invalid {
        /// Contract name.
        name: String,
        /// What is wrong.
        problem: String,
        /// What to do.
        hint: String,
    },
    /// No contract with that name.
    #[error("no contract named `{name}`; known contracts are {known}")]
    Unknown {
        /// The name asked for.
        name: String,
        /// The names that exist, comma separated.
        known: String,
    },
}

/// The date formats ingest understands.
pub const DATE_FORMATS: [&str; 3] = ["%Y-%m-%d", "%d/%m/%Y", "%Y%m%d"];

impl Contract {
    /// Parse and check a contract from TOML text.
    pub fn from_toml(text: &str) -> Result<Self, ContractError> {
        let contract: Contract = toml::from_str(text).map_err(|e| ContractError::Toml {
            name: first_name(text),
            message: e.message().to_owned(),
        })?;
        contract.check()?;
        Ok(contract)
    }

    /// Read a contract file.
    pub fn from_path(path: &Path) -> Result<Self, ContractError> {
        let text = std::fs::read_to_string(path).map_err(|source| ContractError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::from_toml(&text).map_err(|e| match e {
            ContractError::Toml { message, .. } => ContractError::Toml {
                name: path.display().to_string(),
                message,
            },
            other => other,
        })
    }

    /// The column names in file order.
    pub fn column_names(&self) -> Vec<&str> {
        self.columns.iter().map(|c| c.name.as_str()).collect()
    }

    /// The column with this name.
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// The position of the NHS number column.
    pub fn nhs_number_index(&self) -> usize {
        self.columns
            .iter()
            .position(|c| c.kind == ColumnType::NhsNumber)
            .expect("checked on load: every contract has one NHS number column")
    }

    /// The position of the submitter column, if the extract has one.
    pub fn submitter_index(&self) -> Option<usize> {
        let name = self.submitter_column.as_deref()?;
        self.columns.iter().position(|c| c.name == name)
    }

    fn invalid(&self, problem: String, hint: &str) -> ContractError {
        ContractError::Invalid {
            name: self.name.clone(),
            problem,
            hint: hint.to_owned(),
        }
    }

    fn check(&self) -> Result<(), ContractError> {
        if self.name.is_empty()
            || !self
                .name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        {
            return Err(self.invalid(
                format!("name `{}` is not snake_case", self.name),
                "use lowercase letters, digits and `_`; the name is a folder and a table name",
            ));
        }
        let mut seen = BTreeSet::new();
        for c in &self.columns {
            if !seen.insert(c.name.as_str()) {
                return Err(self.invalid(
                    format!("column `{}` appears twice", c.name),
                    "give every column a distinct name",
                ));
            }
            self.check_column(c)?;
        }
        self.check_unique_key()?;
        let nhs: Vec<&str> = self
            .columns
            .iter()
            .filter(|c| c.kind == ColumnType::NhsNumber)
            .map(|c| c.name.as_str())
            .collect();
        if nhs.len() != 1 {
            return Err(self.invalid(
                format!("has {} NHS number columns ({})", nhs.len(), nhs.join(", ")),
                "every extract has exactly one column of type `nhs_number`",
            ));
        }
        self.check_submitter()
    }

    /// The positions of the unique key's columns, in the key's order.
    pub fn unique_key_indices(&self) -> Vec<usize> {
        self.unique_key
            .iter()
            .filter_map(|k| self.columns.iter().position(|c| &c.name == k))
            .collect()
    }

    fn check_unique_key(&self) -> Result<(), ContractError> {
        let mut seen = BTreeSet::new();
        for name in &self.unique_key {
            match self.column(name) {
                None => {
                    return Err(self.invalid(
                        format!(
                            "`unique_key` names `{name}`, which is not a column; columns are {}",
                            self.column_names().join(", ")
                        ),
                        "name columns listed in the contract",
                    ));
                }
                Some(c) if !c.required => {
                    return Err(self.invalid(
                        format!("`unique_key` column `{name}` is not `required`"),
                        "a key is made of columns every row has: mark it `required = true`",
                    ));
                }
                Some(_) if !seen.insert(name.as_str()) => {
                    return Err(self.invalid(
                        format!("`unique_key` names `{name}` twice"),
                        "name each key column once",
                    ));
                }
                Some(_) => {}
            }
        }
        Ok(())
    }

    fn check_submitter(&self) -> Result<(), ContractError> {
        match (&self.submitter_column, self.submitted_by) {
            (None, SubmitterKind::National) => Ok(()),
            (None, _) => Err(self.invalid(
                "has no `submitter_column`".to_owned(),
                "name the column that holds the submitting organisation's ODS code",
            )),
            (Some(name), _) => match self.column(name) {
                None => Err(self.invalid(
                    format!(
                        "`submitter_column = \"{name}\"` is not a column; columns are {}",
                        self.column_names().join(", ")
                    ),
                    "name one of the columns listed",
                )),
                Some(c) if c.role != PrivacyRole::Organisation || c.kind != ColumnType::OdsCode => {
                    Err(self.invalid(
                        format!("submitter column `{name}` must have type `ods_code` and role `organisation`"),
                        "fix the column's `type` and `role`",
                    ))
                }
                Some(_) => Ok(()),
            },
        }
    }

    fn check_column(&self, c: &Column) -> Result<(), ContractError> {
        let name = &c.name;
        match (c.kind, c.format.as_deref()) {
            (ColumnType::Date, None) => {
                return Err(self.invalid(
                    format!("date column `{name}` has no `format`"),
                    &format!("add `format = ` one of {}", DATE_FORMATS.join(", ")),
                ));
            }
            (ColumnType::Date, Some(f)) if !DATE_FORMATS.contains(&f) => {
                return Err(self.invalid(
                    format!("date column `{name}` has format `{f}`, which ingest does not read"),
                    &format!("use one of {}", DATE_FORMATS.join(", ")),
                ));
            }
            (ColumnType::Date, Some(_)) | (_, None) => {}
            (_, Some(_)) => {
                return Err(self.invalid(
                    format!("column `{name}` has a `format` but is not a date"),
                    "remove `format` or make the column `type = \"date\"`",
                ));
            }
        }
        if c.allowed.is_some() && c.kind != ColumnType::Code {
            return Err(self.invalid(
                format!("column `{name}` has `allowed` values but is not a code"),
                "remove `allowed` or make the column `type = \"code\"`",
            ));
        }
        if (c.min.is_some() || c.max.is_some()) && c.kind != ColumnType::Integer {
            return Err(self.invalid(
                format!("column `{name}` has `min`/`max` but is not an integer"),
                "remove the bounds or make the column `type = \"integer\"`",
            ));
        }
        if (c.kind == ColumnType::Icd10List) != c.separator.is_some() {
            return Err(self.invalid(
                format!("column `{name}`: `separator` goes with `type = \"icd10_list\"` and only with it"),
                "add or remove `separator`",
            ));
        }
        if c.kind == ColumnType::NhsNumber
            && (c.role != PrivacyRole::DirectIdentifier || !c.required)
        {
            return Err(self.invalid(
                format!("NHS number column `{name}` must be required and a `direct_identifier`"),
                "set `required = true` and `role = \"direct_identifier\"`",
            ));
        }
        match (c.role, c.generalise) {
            (PrivacyRole::QuasiIdentifier, None) => Err(self.invalid(
                format!("quasi-identifier `{name}` does not say how to generalise it"),
                "add `generalise = \"age\"`, `\"lsoa\"` or, for a coarse value, `\"keep\"`",
            )),
            (PrivacyRole::QuasiIdentifier, Some(Generalise::Age)) if c.kind != ColumnType::Date => {
                Err(self.invalid(
                    format!("`generalise = \"age\"` on `{name}`, which is not a date"),
                    "age generalisation applies to a date of birth",
                ))
            }
            (PrivacyRole::QuasiIdentifier, Some(Generalise::Lsoa))
                if c.kind != ColumnType::Postcode =>
            {
                Err(self.invalid(
                    format!("`generalise = \"lsoa\"` on `{name}`, which is not a postcode"),
                    "LSOA generalisation applies to a postcode",
                ))
            }
            (PrivacyRole::QuasiIdentifier, Some(_)) | (_, None) => Ok(()),
            (_, Some(_)) => Err(self.invalid(
                format!("column `{name}` has `generalise` but is not a quasi-identifier"),
                "only `role = \"quasi_identifier\"` columns are generalised",
            )),
        }
    }
}

fn first_name(text: &str) -> String {
    text.lines()
        .find_map(|l| l.trim().strip_prefix("name"))
        .and_then(|rest| rest.split('"').nth(1))
        .unwrap_or("<unnamed>")
        .to_owned()
}

/// Every extract contract, in a fixed order.
#[derive(Debug, Clone)]
pub struct Contracts(Vec<Contract>);

/// The contracts committed in `schemas/`, built into the binary so that it runs anywhere.
const BUILTIN: [(&str, &str); 10] = [
    (
        "gp_registrations",
        include_str!("../../../schemas/gp_registrations.toml"),
    ),
    ("gp_events", include_str!("../../../schemas/gp_events.toml")),
    (
        "gp_medications",
        include_str!("../../../schemas/gp_medications.toml"),
    ),
    ("apc", include_str!("../../../schemas/apc.toml")),
    ("op", include_str!("../../../schemas/op.toml")),
    ("ecds", include_str!("../../../schemas/ecds.toml")),
    ("ambulance", include_str!("../../../schemas/ambulance.toml")),
    ("community", include_str!("../../../schemas/community.toml")),
    (
        "mental_health",
        include_str!("../../../schemas/mental_health.toml"),
    ),
    (
        "national_opt_out",
        include_str!("../../../schemas/national_opt_out.toml"),
    ),
];

impl Contracts {
    /// The text of every built-in contract, as (`schemas/<name>.toml`, text): what a run
    /// records it used.
    pub fn builtin_sources() -> Vec<(String, &'static str)> {
        BUILTIN
            .iter()
            .map(|(name, text)| (format!("schemas/{name}.toml"), *text))
            .collect()
    }

    /// The contracts in the repository's `schemas/`, as built into this binary.
    pub fn builtin() -> Self {
        let all = BUILTIN
            .iter()
            .map(|(name, text)| {
                let c = Contract::from_toml(text)
                    .unwrap_or_else(|e| panic!("built-in contract {name} is invalid: {e}"));
                assert_eq!(
                    &c.name, name,
                    "schemas/{name}.toml names itself `{}`",
                    c.name
                );
                c
            })
            .collect();
        Contracts(all)
    }

    /// Load every `*.toml` in a folder, sorted by file name.
    pub fn load_dir(dir: &Path) -> Result<Self, ContractError> {
        let entries = std::fs::read_dir(dir).map_err(|source| ContractError::Read {
            path: dir.to_owned(),
            source,
        })?;
        let mut paths: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        paths.sort();
        let all = paths
            .iter()
            .map(|p| Contract::from_path(p))
            .collect::<Result<_, _>>()?;
        Ok(Contracts(all))
    }

    /// The contract of an extract.
    pub fn get(&self, name: &str) -> Result<&Contract, ContractError> {
        self.0
            .iter()
            .find(|c| c.name == name)
            .ok_or_else(|| ContractError::Unknown {
                name: name.to_owned(),
                known: self.names().join(", "),
            })
    }

    /// Extract names.
    pub fn names(&self) -> Vec<&str> {
        self.0.iter().map(|c| c.name.as_str()).collect()
    }

    /// Iterate over the contracts.
    pub fn iter(&self) -> impl Iterator<Item = &Contract> {
        self.0.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
name = "t"
description = "test"
submitted_by = "gp_practice"
submitter_column = "practice_code"
[[columns]]
name = "nhs_number"
type = "nhs_number"
required = true
role = "direct_identifier"
description = "n"
[[columns]]
name = "practice_code"
type = "ods_code"
required = true
role = "organisation"
description = "p"
"#;

    fn with_extra(extra: &str) -> Result<Contract, ContractError> {
        Contract::from_toml(&format!("{MINIMAL}{extra}"))
    }

    fn problem(r: Result<Contract, ContractError>) -> String {
        r.expect_err("contract should be refused").to_string()
    }

    #[test]
    fn builtin_contracts_match_schemas_folder() {
        let builtin = Contracts::builtin();
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schemas");
        let loaded = Contracts::load_dir(&dir).unwrap();
        let mut a = builtin.names();
        let mut b = loaded.names();
        a.sort_unstable();
        b.sort_unstable();
        assert_eq!(a, b);
        assert_eq!(a.len(), 10);
        for c in builtin.iter() {
            assert_eq!(
                c.column_names(),
                loaded.get(&c.name).unwrap().column_names()
            );
        }
    }

    #[test]
    fn every_extract_with_a_submitter_names_an_organisation_column() {
        for c in Contracts::builtin().iter() {
            match c.submitter_index() {
                Some(i) => assert_eq!(c.columns[i].role, PrivacyRole::Organisation),
                None => assert_eq!(c.submitted_by, SubmitterKind::National, "{}", c.name),
            }
            assert_eq!(c.columns[c.nhs_number_index()].kind, ColumnType::NhsNumber);
        }
    }

    #[test]
    fn identifiers_are_marked_for_dropping_or_generalising() {
        let c = Contracts::builtin();
        let reg = c.get("gp_registrations").unwrap();
        for name in ["given_name", "family_name", "nhs_number"] {
            assert_eq!(
                reg.column(name).unwrap().role,
                PrivacyRole::DirectIdentifier
            );
        }
        assert_eq!(
            reg.column("date_of_birth").unwrap().generalise,
            Some(Generalise::Age)
        );
        assert_eq!(
            reg.column("postcode").unwrap().generalise,
            Some(Generalise::Lsoa)
        );
        let apc = c.get("apc").unwrap();
        assert_eq!(
            apc.column("local_patient_id").unwrap().role,
            PrivacyRole::DirectIdentifier
        );
    }

    #[test]
    fn minimal_contract_loads() {
        let c = with_extra("").unwrap();
        assert_eq!(c.submitter_index(), Some(1));
        assert_eq!(c.encoding, Encoding::Utf8);
    }

    #[test]
    fn date_without_known_format_is_refused() {
        let base = "[[columns]]\nname = \"d\"\ntype = \"date\"\nrole = \"clinical\"\ndescription = \"d\"\n";
        assert!(problem(with_extra(base)).contains("has no `format`"));
        let odd = format!("{base}format = \"%m-%d-%Y\"\n");
        assert!(problem(with_extra(&odd)).contains("does not read"));
    }

    #[test]
    fn unique_key_names_required_columns_once() {
        let c = with_extra("").unwrap();
        assert!(c.unique_key_indices().is_empty());
        let keyed = Contract::from_toml(&MINIMAL.replace(
            "submitter_column = \"practice_code\"\n",
            "submitter_column = \"practice_code\"\nunique_key = [\"practice_code\", \"nhs_number\"]\n",
        ))
        .unwrap();
        assert_eq!(keyed.unique_key_indices(), [1, 0], "in the key's order");
        let with_key = |key: &str| {
            Contract::from_toml(&MINIMAL.replace(
                "submitter_column = \"practice_code\"\n",
                &format!("submitter_column = \"practice_code\"\nunique_key = {key}\n"),
            ))
        };
        assert!(problem(with_key("[\"spell\"]")).contains("not a column"));
        assert!(problem(with_key("[\"nhs_number\", \"nhs_number\"]")).contains("twice"));
        let optional = "[[columns]]\nname = \"note\"\ntype = \"text\"\nrole = \"clinical\"\ndescription = \"n\"\n";
        let r = Contract::from_toml(&format!(
            "{}{optional}",
            MINIMAL.replace(
                "submitter_column = \"practice_code\"\n",
                "submitter_column = \"practice_code\"\nunique_key = [\"note\"]\n",
            )
        ));
        assert!(problem(r).contains("not `required`"));
    }

    #[test]
    fn second_nhs_number_column_is_refused() {
        let extra = "[[columns]]\nname = \"other\"\ntype = \"nhs_number\"\nrequired = true\nrole = \"direct_identifier\"\ndescription = \"x\"\n";
        assert!(problem(with_extra(extra)).contains("2 NHS number columns"));
    }

    #[test]
    fn quasi_identifier_must_say_how_to_generalise() {
        let extra = "[[columns]]\nname = \"pc\"\ntype = \"postcode\"\nrole = \"quasi_identifier\"\ndescription = \"x\"\n";
        let msg = problem(with_extra(extra));
        assert!(msg.contains("does not say how to generalise"), "{msg}");
        assert!(msg.contains("hint:"), "{msg}");
    }

    #[test]
    fn unknown_submitter_column_lists_the_columns() {
        let text = MINIMAL.replace(
            "submitter_column = \"practice_code\"",
            "submitter_column = \"org\"",
        );
        let msg = problem(Contract::from_toml(&text));
        assert!(msg.contains("nhs_number, practice_code"), "{msg}");
    }

    #[test]
    fn unknown_keys_are_refused() {
        let msg = problem(with_extra(
            "[[columns]]\nname = \"x\"\ntype = \"text\"\nrole = \"clinical\"\ndescription = \"x\"\nrequird = true\n",
        ));
        assert!(msg.contains("requird"), "{msg}");
    }

    #[test]
    fn unknown_contract_lists_known_ones() {
        let err = Contracts::builtin()
            .get("gp_event")
            .unwrap_err()
            .to_string();
        assert!(err.contains("gp_events"), "{err}");
    }
}
