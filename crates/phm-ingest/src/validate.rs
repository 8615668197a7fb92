//! Row validation against a contract: each row is either valid or has exactly one
//! quarantine reason, found in a fixed order (a quote never closed, encoding, field count,
//! NHS number, required fields, date formats, values, future dates, submitter). Duplicates are found by the
//! caller among rows that are otherwise valid.

use phm_contract::date::{self, Day};
use phm_contract::{ColumnType, Contract, NhsNumber, NhsNumberError, Reason};

use crate::read::{Fields, Line};

/// Why a row is quarantined, and the column at fault when there is one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fault {
    /// Reason code.
    pub reason: Reason,
    /// Column index.
    pub column: Option<usize>,
}

/// A row being checked: its fields, and once valid its NHS number and parsed dates. One
/// `Row` is reused for every line of a file, so checking a line allocates nothing.
#[derive(Default)]
pub struct Row {
    /// Field text.
    pub fields: Fields,
    /// The normalised NHS number (set when the row is valid).
    pub nhs: Option<NhsNumber>,
    /// Parsed date per column (`None` for non-dates and empty dates).
    pub dates: Vec<Option<Day>>,
    /// Parsed decimal per column (`None` for other columns and empty values).
    pub decimals: Vec<Option<f64>>,
}

impl Row {
    /// Field `i`.
    pub fn field(&self, i: usize) -> &str {
        self.fields.get(i)
    }

    /// The NHS number of a valid row.
    pub fn nhs(&self) -> &NhsNumber {
        self.nhs.as_ref().expect("only valid rows are used")
    }
}

/// What a non-empty value of a column is checked for, decided once per file.
#[derive(Clone, Copy)]
enum Check {
    /// Nothing beyond being present (text, and the NHS number, checked on its own).
    Present,
    /// A date in the column's format.
    Date(fn(&str) -> Option<Day>),
    /// A finite decimal number.
    Decimal,
    /// The column type's rule ([`value_ok`]).
    Value,
}

/// Checks rows of one file.
pub struct Validator<'c> {
    contract: &'c Contract,
    checks: Vec<Check>,
    submitter: String,
    extract_date: Day,
    nhs: usize,
    org: Option<usize>,
}

impl<'c> Validator<'c> {
    /// For a file of `contract` submitted by `submitter`, taken on `extract_date`.
    pub fn new(contract: &'c Contract, submitter: &str, extract_date: Day) -> Self {
        let checks = contract
            .columns
            .iter()
            .map(|c| match c.kind {
                ColumnType::Date => Check::Date(
                    date::parser(c.format.as_deref().unwrap_or_default()).unwrap_or(|_| None),
                ),
                ColumnType::Code if c.allowed.is_none() => Check::Present,
                ColumnType::Decimal => Check::Decimal,
                ColumnType::Code
                | ColumnType::Integer
                | ColumnType::Snomed
                | ColumnType::Icd10
                | ColumnType::OdsCode => Check::Value,
                _ => Check::Present,
            })
            .collect();
        Validator {
            contract,
            checks,
            submitter: submitter.to_owned(),
            extract_date,
            nhs: contract.nhs_number_index(),
            org: contract.submitter_index(),
        }
    }

    fn fault(reason: Reason, column: Option<usize>) -> Fault {
        Fault { reason, column }
    }

    /// Check one line, filling `row`.
    pub fn check(&self, raw: &[u8], row: &mut Row) -> Result<(), Fault> {
        let text = std::str::from_utf8(raw).map_err(|_| Self::fault(Reason::Encoding, None))?;
        row.fields.split(text);
        self.check_fields(row)
    }

    /// Check one record of a block, using what is known of the block (valid UTF-8, no
    /// quotes) to skip those checks record by record.
    pub fn check_line(&self, line: &Line<'_>, row: &mut Row) -> Result<(), Fault> {
        if line.open_quote {
            return Err(Self::fault(Reason::UnterminatedQuote, None));
        }
        match line.text {
            Some(text) if line.unquoted => row.fields.split_unquoted(text),
            Some(text) => row.fields.split(text),
            None => return self.check(line.raw, row),
        }
        self.check_fields(row)
    }

    fn check_fields(&self, row: &mut Row) -> Result<(), Fault> {
        row.nhs = None;
        // Almost every row is valid: one pass says so; a row it refuses is checked again
        // in the documented order, which names the first fault.
        if let Some(nhs) = self.valid(row) {
            row.nhs = Some(nhs);
            return Ok(());
        }
        let nhs = self.first_fault(row)?;
        row.nhs = Some(nhs);
        Ok(())
    }

    /// The NHS number, if the row breaks no rule (one pass over the columns); fills dates.
    fn valid(&self, row: &mut Row) -> Option<NhsNumber> {
        let fields = &row.fields;
        let columns = &self.contract.columns;
        if fields.len() != columns.len() {
            return None;
        }
        let nhs = NhsNumber::parse(fields.get(self.nhs)).ok()?;
        row.dates.clear();
        row.decimals.clear();
        for (i, (c, check)) in columns.iter().zip(&self.checks).enumerate() {
            let v = fields.get(i);
            let mut day = None;
            let mut decimal = None;
            if v.is_empty() {
                if c.required {
                    return None;
                }
            } else {
                match *check {
                    Check::Present => {}
                    Check::Date(parse) => {
                        let d = parse(v)?;
                        if d > self.extract_date {
                            return None;
                        }
                        day = Some(d);
                    }
                    Check::Decimal => decimal = Some(decimal_value(v)?),
                    Check::Value => {
                        if !value_ok(c, v) {
                            return None;
                        }
                    }
                }
            }
            row.dates.push(day);
            row.decimals.push(decimal);
        }
        match self.org {
            Some(i) if fields.get(i) != self.submitter => None,
            _ => Some(nhs),
        }
    }

    /// The first fault of a row, in the documented order (or its NHS number if none).
    fn first_fault(&self, row: &mut Row) -> Result<NhsNumber, Fault> {
        let fields = &row.fields;
        let columns = &self.contract.columns;
        if fields.len() != columns.len() {
            return Err(Self::fault(Reason::FieldCount, None));
        }
        let nhs = NhsNumber::parse(fields.get(self.nhs)).map_err(|e| {
            let reason = match e {
                NhsNumberError::Empty => Reason::MissingRequired,
                NhsNumberError::NotNumeric => Reason::NhsNumberNotNumeric,
                NhsNumberError::WrongLength { .. } => Reason::NhsNumberWrongLength,
                NhsNumberError::InvalidCheckDigit => Reason::NhsNumberInvalidCheckDigit,
            };
            Self::fault(reason, Some(self.nhs))
        })?;
        if let Some(i) =
            (0..columns.len()).find(|&i| columns[i].required && fields.get(i).is_empty())
        {
            return Err(Self::fault(Reason::MissingRequired, Some(i)));
        }
        row.dates.clear();
        row.dates.resize(columns.len(), None);
        for (i, c) in columns.iter().enumerate() {
            let v = fields.get(i);
            if c.kind == ColumnType::Date && !v.is_empty() {
                let format = c.format.as_deref().unwrap_or_default();
                row.dates[i] = Some(
                    date::parse(v, format)
                        .ok_or_else(|| Self::fault(Reason::DateUnparseable, Some(i)))?,
                );
            }
        }
        if let Some(i) = (0..columns.len()).find(|&i| {
            let v = fields.get(i);
            !v.is_empty() && !value_ok(&columns[i], v)
        }) {
            return Err(Self::fault(Reason::ValueInvalid, Some(i)));
        }
        if let Some(i) = row
            .dates
            .iter()
            .position(|d| d.is_some_and(|d| d > self.extract_date))
        {
            return Err(Self::fault(Reason::DateInFuture, Some(i)));
        }
        if let Some(i) = self.org.filter(|&i| fields.get(i) != self.submitter) {
            return Err(Self::fault(Reason::WrongSubmitter, Some(i)));
        }
        row.decimals.clear();
        row.decimals
            .extend(columns.iter().enumerate().map(|(i, c)| {
                (c.kind == ColumnType::Decimal)
                    .then(|| decimal_value(fields.get(i)))
                    .flatten()
            }));
        Ok(nhs)
    }
}

/// A decimal column's value: a finite number.
fn decimal_value(v: &str) -> Option<f64> {
    v.parse::<f64>().ok().filter(|x| x.is_finite())
}

/// Whether a non-empty value fits its column's type.
fn value_ok(c: &phm_contract::Column, v: &str) -> bool {
    match c.kind {
        ColumnType::Code => c.allowed.as_ref().is_none_or(|a| a.iter().any(|x| x == v)),
        ColumnType::Integer => v
            .parse::<i64>()
            .is_ok_and(|n| c.min.is_none_or(|m| n >= m) && c.max.is_none_or(|m| n <= m)),
        ColumnType::Decimal => decimal_value(v).is_some(),
        ColumnType::Snomed => phm_contract::snomed::sctid_ok(v),
        ColumnType::Icd10 => phm_contract::icd10::normalise(v).is_some(),
        ColumnType::OdsCode => {
            (3..=6).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_alphanumeric())
        }
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events() -> Contract {
        phm_contract::Contracts::builtin()
            .get("gp_events")
            .unwrap()
            .clone()
    }

    fn check(line: &str) -> Result<(), Reason> {
        let c = events();
        let v = Validator::new(&c, "A81001", date::from_ymd(2026, 4, 1));
        v.check(line.as_bytes(), &mut Row::default())
            .map_err(|f| f.reason)
    }

    #[test]
    fn one_pass_and_ordered_check_agree_on_every_mutation() {
        // Every single-byte change of a valid row: the one-pass check accepts exactly the
        // rows the ordered check finds no fault in.
        let c = events();
        let v = Validator::new(&c, "A81001", date::from_ymd(2026, 4, 1));
        let good = "9990001235,A81001,2024-01-02,271649006,14.5";
        let mut row = Row::default();
        let mut accepted = 0;
        for at in 0..good.len() {
            for b in [b'0', b'9', b',', b' ', b'.', b'-', b'x', b'A', b'2'] {
                let mut line = good.as_bytes().to_vec();
                line[at] = b;
                let text = std::str::from_utf8(&line).unwrap();
                row.fields.split(text);
                let parsed = |row: &Row| (row.dates.clone(), row.decimals.clone());
                let one_pass = v.valid(&mut row).map(|_| parsed(&row));
                let ordered = v.first_fault(&mut row).ok().map(|_| parsed(&row));
                assert_eq!(one_pass, ordered, "{text}");
                accepted += usize::from(one_pass.is_some());
            }
        }
        assert!(accepted > 20, "some mutations stay valid: {accepted}");
    }

    #[test]
    fn one_reason_per_fault() {
        assert_eq!(check("9990001235,A81001,2024-01-02,271649006,140"), Ok(()));
        assert_eq!(check("999 000 1235,A81001,2024-01-02,271649006,"), Ok(()));
        assert_eq!(
            check("9990001234,A81001,2024-01-02,271649006,"),
            Err(Reason::NhsNumberInvalidCheckDigit)
        );
        assert_eq!(
            check("999000123,A81001,2024-01-02,271649006,"),
            Err(Reason::NhsNumberWrongLength)
        );
        assert_eq!(
            check(",A81001,2024-01-02,271649006,"),
            Err(Reason::MissingRequired)
        );
        assert_eq!(
            check("9990001235,A81001,,271649006,"),
            Err(Reason::MissingRequired)
        );
        assert_eq!(
            check("9990001235,A81001,2024-02-30,271649006,"),
            Err(Reason::DateUnparseable)
        );
        assert_eq!(
            check("9990001235,A81001,02/01/2024,271649006,"),
            Err(Reason::DateUnparseable)
        );
        assert_eq!(
            check("9990001235,A81001,2027-01-02,271649006,"),
            Err(Reason::DateInFuture)
        );
        assert_eq!(
            check("9990001235,B82005,2024-01-02,271649006,"),
            Err(Reason::WrongSubmitter)
        );
        assert_eq!(
            check("9990001235,A81001,2024-01-02,27164x006,"),
            Err(Reason::ValueInvalid)
        );
        assert_eq!(
            check("9990001235,A81001,2024-01-02,271649006,abc"),
            Err(Reason::ValueInvalid)
        );
        assert_eq!(
            check("9990001235,A81001,2024-01-02"),
            Err(Reason::FieldCount)
        );
        let c = events();
        let v = Validator::new(&c, "A81001", date::from_ymd(2026, 4, 1));
        assert_eq!(
            v.check(b"9990001235,A81001,2024-01-02,\xe9,", &mut Row::default())
                .err()
                .map(|f| f.reason),
            Some(Reason::Encoding)
        );
    }
}
