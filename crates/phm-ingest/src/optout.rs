//! Opt-outs: who is removed from every extract before anything is pseudonymised.
//!
//! - Type 1 (dissent from secondary use of GP data): the patient's latest dissent or
//!   withdrawal code in GP events on or before the extract date decides; a dissent and a
//!   withdrawal on the same day count as dissent.
//! - Programme opt-outs (population health management, risk stratification): codes from the
//!   pipeline definition; any such code on or before the extract date removes the patient.
//! - The national data opt-out list, when the pipeline definition says the flow needs it.
//!
//! Only valid GP event rows count: a code on a quarantined row decides nothing.
//!
//! The contracts opt-outs are read from ([`EVENTS`] and, when the flow applies it,
//! [`NATIONAL_LIST`]) are checked before any file is read: one that is absent, or lacks a
//! column opt-outs are read from, stops ingest with an error. Opt-outs are never skipped
//! because a contract changed.

use phm_contract::date::Day;
use phm_contract::{ColumnType, Contract, Contracts, NhsNumber};

use crate::IngestError;
use crate::fasthash::{FastMap, FastSet};
use crate::read;
use crate::validate::{Row, Validator};

/// The extract whose coded events carry type 1 and programme opt-out codes.
pub const EVENTS: &str = "gp_events";
/// The national data opt-out list.
pub const NATIONAL_LIST: &str = "national_opt_out";
/// The column of [`EVENTS`] holding the code.
const CODE_COLUMN: &str = "snomed_concept_id";
/// The column of [`EVENTS`] holding the day a code applies from.
const DATE_COLUMN: &str = "event_date";

/// Why a patient is opted out (the first that applies, in this order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum OptOutReason {
    /// Type 1 dissent in force.
    Type1,
    /// A programme opt-out code.
    Programme,
    /// On the national data opt-out list.
    National,
}

impl OptOutReason {
    /// Code in the manifest.
    pub fn code(self) -> &'static str {
        match self {
            OptOutReason::Type1 => "type1_opt_out",
            OptOutReason::Programme => "programme_opt_out",
            OptOutReason::National => "national_data_opt_out",
        }
    }
}

/// `codelists/opt-out-codes.csv`, built into the binary.
pub const OPT_OUT_CODES: &str = include_str!("../../../codelists/opt-out-codes.csv");

/// The SNOMED CT codes of type 1 dissent and withdrawal, from `codelists/opt-out-codes.csv`.
pub struct Type1Codes {
    /// Dissent codes.
    pub dissent: Vec<String>,
    /// Withdrawal codes.
    pub withdrawal: Vec<String>,
}

impl Type1Codes {
    /// The published codes, built into the binary.
    pub fn builtin() -> Self {
        let text = OPT_OUT_CODES;
        let mut codes = Type1Codes {
            dissent: Vec::new(),
            withdrawal: Vec::new(),
        };
        for line in text.lines().skip(1) {
            let code = line.split(',').next().unwrap_or_default().to_owned();
            if line.ends_with(",type1_dissent") {
                codes.dissent.push(code);
            } else if line.ends_with(",type1_withdrawal") {
                codes.withdrawal.push(code);
            }
        }
        codes
    }
}

/// How opt-out codes are read from GP events: the contract's code and date columns, found
/// once before any file is read, and the codes looked for.
pub struct EventScan<'a> {
    contract: &'a Contract,
    code: usize,
    date: usize,
    type1: &'a Type1Codes,
    programme: &'a [String],
    wanted: FastSet<&'a [u8]>,
    extract_date: Day,
}

impl<'a> EventScan<'a> {
    /// The scan of a GP events contract (`source(contracts, EVENTS)`): an error unless it has
    /// a `snomed_concept_id` column and a required date column `event_date`.
    pub fn new(
        contract: &'a Contract,
        type1: &'a Type1Codes,
        programme: &'a [String],
        extract_date: Day,
    ) -> Result<Self, IngestError> {
        let position = |name| contract.columns.iter().position(|c| c.name == name);
        let code = position(CODE_COLUMN);
        let date = position(DATE_COLUMN).filter(|&i| {
            contract.columns[i].kind == ColumnType::Date && contract.columns[i].required
        });
        let (Some(code), Some(date)) = (code, date) else {
            let mut missing = Vec::new();
            if code.is_none() {
                missing.push(format!("`{CODE_COLUMN}` (the code)"));
            }
            if date.is_none() {
                missing.push(format!("`{DATE_COLUMN}` (a required date)"));
            }
            return Err(IngestError::OptOutColumnsMissing {
                contract: contract.name.clone(),
                missing,
            });
        };
        let wanted = type1
            .dissent
            .iter()
            .chain(&type1.withdrawal)
            .chain(programme)
            .filter(|c| !c.is_empty())
            .map(String::as_bytes)
            .collect();
        Ok(EventScan {
            contract,
            code,
            date,
            type1,
            programme,
            wanted,
            extract_date,
        })
    }

    /// The extract scanned.
    pub fn extract(&self) -> &str {
        &self.contract.name
    }

    /// Read the opt-out codes in one GP events file into `found` (only records that mention
    /// a code are validated, so this pass is cheap). A file that is not CSV is left to the
    /// ingest pass, which rejects it.
    pub fn scan(
        &self,
        submitter: &str,
        file: impl std::io::Read,
        found: &mut OptOuts,
    ) -> std::io::Result<()> {
        let (code_col, date_col) = (self.code, self.date);
        // Only records whose code field is an opt-out code (or that are quoted, and so need
        // the full reader) are validated.
        let may_count = |raw: &[u8]| {
            memchr::memchr(b'"', raw).is_some()
                || raw
                    .split(|&b| b == b',')
                    .nth(code_col)
                    .is_some_and(|f| self.wanted.contains(f))
        };
        let validator = Validator::new(self.contract, submitter, self.extract_date);
        let mut row = Row::default();
        let needles: Vec<&[u8]> = self.wanted.iter().copied().collect();
        read::for_each_line_containing(file, &needles, |line| {
            if !may_count(line.raw) || validator.check_line(&line, &mut row).is_err() {
                return;
            }
            let code = row.field(code_col);
            let Some(day) = row.dates[date_col] else {
                return;
            };
            let digits = *row.nhs().expose_digits();
            if self.programme.iter().any(|c| c == code) {
                found.programme.insert(digits);
            }
            let dissent = self.type1.dissent.iter().any(|c| c == code);
            if dissent || self.type1.withdrawal.iter().any(|c| c == code) {
                found.record_type1(digits, day, dissent);
            }
        })
    }
}

/// The national data opt-out list's contract when the flow applies it; an error if it is
/// absent.
pub fn national_list(
    contracts: &Contracts,
    applies: bool,
) -> Result<Option<&Contract>, IngestError> {
    applies
        .then(|| source(contracts, NATIONAL_LIST))
        .transpose()
}

/// A contract opt-outs are read from ([`EVENTS`], [`NATIONAL_LIST`]); an error if it is absent.
pub fn source<'c>(contracts: &'c Contracts, name: &str) -> Result<&'c Contract, IngestError> {
    contracts
        .get(name)
        .map_err(|_| IngestError::OptOutContractAbsent {
            contract: name.to_owned(),
        })
}

/// Opted-out patients and why, decided once all scans are merged.
#[derive(Default)]
pub struct Decisions {
    reasons: FastMap<u64, OptOutReason>,
    /// One bit per slot of a bitmap, set for every opted-out patient: a clear bit answers
    /// "not opted out" (most rows) from a small table, without a lookup in the large map.
    filter: Vec<u64>,
}

/// Bits in [`Decisions::filter`] (2^20: 128 KiB).
const FILTER_BITS: u32 = 20;

fn filter_bit(key: u64) -> usize {
    (key.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> (64 - FILTER_BITS)) as usize
}

impl Decisions {
    fn insert(&mut self, key: u64, reason: OptOutReason) {
        if self.filter.is_empty() {
            self.filter = vec![0; 1 << (FILTER_BITS - 6)];
        }
        let bit = filter_bit(key);
        self.filter[bit / 64] |= 1 << (bit % 64);
        self.reasons.insert(key, reason);
    }

    /// A hash, keyed with `key`, of every opted-out patient and the reason that applies, in
    /// NHS number order: equal exactly when the decisions are. Keyed, so it cannot be tested
    /// against a guessed NHS number.
    // Not a pseudonym: one MAC over the whole decision set, under a key of its own (derived
    // from the pseudonymisation key with its own context), so keyed BLAKE3 is allowed here.
    #[allow(clippy::disallowed_methods)]
    pub fn digest(&self, key: &[u8; 32]) -> blake3::Hash {
        let mut decided: Vec<(u64, OptOutReason)> =
            self.reasons.iter().map(|(k, r)| (*k, *r)).collect();
        decided.sort_unstable();
        let mut h = blake3::Hasher::new_keyed(key);
        for (nhs, reason) in decided {
            h.update(&nhs.to_le_bytes());
            h.update(reason.code().as_bytes());
            h.update(b"\n");
        }
        h.finalize()
    }

    /// Why a patient is opted out, if they are.
    pub fn reason(&self, nhs: &NhsNumber) -> Option<OptOutReason> {
        if self.reasons.is_empty() {
            return None;
        }
        let key = crate::fasthash::nhs_key(nhs);
        let bit = filter_bit(key);
        if self.filter[bit / 64] & (1 << (bit % 64)) == 0 {
            return None;
        }
        self.reasons.get(&key).copied()
    }
}

/// Opted-out patients, keyed by NHS number digits.
#[derive(Default)]
pub struct OptOuts {
    type1: FastMap<[u8; 10], (Day, bool)>,
    programme: FastSet<[u8; 10]>,
    national: FastSet<[u8; 10]>,
}

impl OptOuts {
    /// Why a patient is opted out, if they are.
    pub fn reason(&self, nhs: &NhsNumber) -> Option<OptOutReason> {
        let d = nhs.expose_digits();
        if self.type1.get(d).is_some_and(|(_, dissent)| *dissent) {
            Some(OptOutReason::Type1)
        } else if self.programme.contains(d) {
            Some(OptOutReason::Programme)
        } else if self.national.contains(d) {
            Some(OptOutReason::National)
        } else {
            None
        }
    }

    /// Every opted-out patient with the reason that applies, for one lookup per row.
    pub fn decide(&self) -> Decisions {
        let mut d = Decisions::default();
        let key = crate::fasthash::digits_key;
        // Later inserts win: insert in reverse order of precedence.
        for digits in &self.national {
            d.insert(key(digits), OptOutReason::National);
        }
        for digits in &self.programme {
            d.insert(key(digits), OptOutReason::Programme);
        }
        for (digits, (_, dissent)) in &self.type1 {
            if *dissent {
                d.insert(key(digits), OptOutReason::Type1);
            }
        }
        d
    }

    /// Keep the latest type 1 code of a patient; on the same day a dissent wins.
    fn record_type1(&mut self, digits: [u8; 10], day: Day, dissent: bool) {
        let entry = self.type1.entry(digits).or_insert((day, dissent));
        if day > entry.0 || (day == entry.0 && dissent) {
            *entry = (day, dissent);
        }
    }

    /// Combine what two scans found (files can be scanned in parallel).
    #[must_use]
    pub fn merge(mut self, other: OptOuts) -> OptOuts {
        for (digits, (day, dissent)) in other.type1 {
            self.record_type1(digits, day, dissent);
        }
        self.programme.extend(other.programme);
        self.national.extend(other.national);
        self
    }

    /// Add a patient from the national data opt-out list.
    pub fn add_national(&mut self, nhs: &NhsNumber) {
        self.national.insert(*nhs.expose_digits());
    }

    /// How many patients are opted out for each reason.
    pub fn counts(&self) -> [(OptOutReason, usize); 3] {
        let type1 = self.type1.values().filter(|(_, d)| *d).count();
        [
            (OptOutReason::Type1, type1),
            (OptOutReason::Programme, self.programme.len()),
            (OptOutReason::National, self.national.len()),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use phm_contract::date::from_ymd;

    fn scan(rows: &[&str]) -> OptOuts {
        let contracts = Contracts::builtin();
        let mut file =
            String::from("nhs_number,practice_code,event_date,snomed_concept_id,numeric_value\n");
        for r in rows {
            file.push_str(r);
            file.push('\n');
        }
        let type1 = Type1Codes::builtin();
        let programme = ["999001000000101".to_owned()];
        let events = source(&contracts, EVENTS).unwrap();
        let scan = EventScan::new(events, &type1, &programme, from_ymd(2026, 4, 1)).unwrap();
        let mut o = OptOuts::default();
        scan.scan("A81001", file.as_bytes(), &mut o).unwrap();
        o
    }

    #[test]
    fn a_contract_without_the_opt_out_columns_is_an_error_naming_them() {
        // The published contract with its code column renamed and its date made text.
        let toml = include_str!("../../../schemas/gp_events.toml")
            .replace("name = \"snomed_concept_id\"", "name = \"concept\"")
            .replace("type = \"date\"\nformat = \"%Y-%m-%d\"", "type = \"text\"");
        let contract = Contract::from_toml(&toml).unwrap();
        let type1 = Type1Codes::builtin();
        let err = EventScan::new(&contract, &type1, &[], from_ymd(2026, 4, 1))
            .err()
            .expect("refused");
        assert!(
            matches!(&err, IngestError::OptOutColumnsMissing { contract, missing }
                if contract == "gp_events" && missing.len() == 2),
            "{err}"
        );
        let msg = err.to_string();
        assert!(
            msg.contains("`gp_events`")
                && msg.contains("`snomed_concept_id`")
                && msg.contains("`event_date`")
                && msg.contains("hint:"),
            "{msg}"
        );
        let builtin = Contracts::builtin();
        let events = source(&builtin, EVENTS).unwrap();
        assert!(EventScan::new(events, &type1, &[], from_ymd(2026, 4, 1)).is_ok());
    }

    #[test]
    fn an_absent_national_list_contract_is_an_error_only_when_the_flow_applies_it() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("gp_events.toml"),
            include_str!("../../../schemas/gp_events.toml"),
        )
        .unwrap();
        let only_events = Contracts::load_dir(dir.path()).unwrap();
        assert!(national_list(&only_events, false).unwrap().is_none());
        let err = national_list(&only_events, true).unwrap_err().to_string();
        assert!(
            err.contains("`national_opt_out`") && err.contains("hint:"),
            "{err}"
        );
        let builtin = Contracts::builtin();
        assert!(national_list(&builtin, true).unwrap().is_some());
    }

    #[test]
    fn the_published_type1_codes_are_read() {
        let codes = Type1Codes::builtin();
        assert!(!codes.dissent.is_empty() && !codes.withdrawal.is_empty());
    }

    const D: &str = "827241000000103";
    const W: &str = "827261000000102";

    #[test]
    fn decisions_find_every_opted_out_patient_and_no_other() {
        // Many patients, so the filter has set bits that other patients share.
        let mut o = OptOuts::default();
        let all: Vec<NhsNumber> = (0..400_000u64)
            .filter_map(|n| NhsNumber::from_u64(9_990_000_000 + n))
            .collect();
        for n in all.iter().step_by(7) {
            o.programme.insert(*n.expose_digits());
        }
        let d = o.decide();
        for (i, n) in all.iter().enumerate() {
            let expected = (i % 7 == 0).then_some(OptOutReason::Programme);
            assert_eq!(d.reason(n), expected, "patient {i}");
        }
        assert_eq!(Decisions::default().reason(&all[0]), None);
    }

    #[test]
    fn the_latest_code_decides() {
        let n = NhsNumber::parse("9990001235").unwrap();
        let o = scan(&[&format!("9990001235,A81001,2023-01-01,{D},")]);
        assert_eq!(o.reason(&n), Some(OptOutReason::Type1));
        let o = scan(&[
            &format!("9990001235,A81001,2023-01-01,{D},"),
            &format!("9990001235,A81001,2024-01-01,{W},"),
        ]);
        assert_eq!(
            o.reason(&n),
            None,
            "a withdrawal after a dissent re-includes"
        );
        let o = scan(&[
            &format!("9990001235,A81001,2025-01-01,{D},"),
            &format!("9990001235,A81001,2024-01-01,{W},"),
        ]);
        assert_eq!(
            o.reason(&n),
            Some(OptOutReason::Type1),
            "order in the file does not matter"
        );
        let o = scan(&[
            &format!("9990001235,A81001,2024-01-01,{W},"),
            &format!("9990001235,A81001,2024-01-01,{D},"),
        ]);
        assert_eq!(
            o.reason(&n),
            Some(OptOutReason::Type1),
            "same day: dissent wins"
        );
    }

    #[test]
    fn quoted_lines_are_read_whole() {
        let n = NhsNumber::parse("9990001235").unwrap();
        let o = scan(&[&format!(
            "\"9990001235\",\"A81001\",\"2023-01-01\",\"{D}\",\"\""
        )]);
        assert_eq!(o.reason(&n), Some(OptOutReason::Type1));
        let o = scan(&[&format!("9990001235,A81001,2023-01-01,271649006,{D}")]);
        assert_eq!(
            o.reason(&n),
            None,
            "a code in another column is not an opt-out"
        );
    }

    #[test]
    fn quarantined_and_future_codes_decide_nothing() {
        let n = NhsNumber::parse("9990001235").unwrap();
        let o = scan(&[
            &format!("9990001235,A81001,2027-01-01,{D},"),
            &format!("9990001235,B82005,2023-01-01,{D},"),
        ]);
        assert_eq!(o.reason(&n), None);
    }

    #[test]
    fn decisions_give_the_same_reason_in_the_same_order() {
        let n = NhsNumber::parse("9990001235").unwrap();
        let mut o = scan(&[
            &format!("9990001235,A81001,2023-01-01,{D},"),
            "9990001235,A81001,2023-01-01,999001000000101,",
        ]);
        o.add_national(&n);
        assert_eq!(o.decide().reason(&n), Some(OptOutReason::Type1));
        let mut o = scan(&["9990001235,A81001,2023-01-01,999001000000101,"]);
        o.add_national(&n);
        assert_eq!(o.decide().reason(&n), Some(OptOutReason::Programme));
        let other = NhsNumber::parse("9990001243").unwrap();
        assert_eq!(o.decide().reason(&other), o.reason(&other));
    }

    #[test]
    fn programme_codes_come_from_the_definition() {
        let n = NhsNumber::parse("9990001235").unwrap();
        let o = scan(&["9990001235,A81001,2023-01-01,999001000000101,"]);
        assert_eq!(o.reason(&n), Some(OptOutReason::Programme));
        let mut o = scan(&[]);
        assert_eq!(o.reason(&n), None);
        o.add_national(&n);
        assert_eq!(o.reason(&n), Some(OptOutReason::National));
    }
}
