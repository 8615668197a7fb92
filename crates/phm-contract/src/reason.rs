//! The closed list of reasons a row can be quarantined for.
//!
//! Every quarantined row carries exactly one of these codes. The list is closed so that
//! counts in manifests and reports can be compared across runs and ICBs; adding a reason is a
//! change to this file, its documentation and its tests.

use std::fmt;
use std::str::FromStr;

/// Why a row was quarantined. Written as the snake-case code returned by [`Reason::code`].
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// The NHS number has ten digits but fails the Modulus 11 check.
    NhsNumberInvalidCheckDigit,
    /// The NHS number does not have ten digits after removing spaces and hyphens.
    NhsNumberWrongLength,
    /// The NHS number contains characters other than digits, spaces and hyphens.
    NhsNumberNotNumeric,
    /// A column the contract marks `required` is empty.
    MissingRequired,
    /// A date does not match the contract's format or is not a calendar date.
    DateUnparseable,
    /// A date is after the date the extract was taken.
    DateInFuture,
    /// A value is not of the column's type or not in its allowed list.
    ValueInvalid,
    /// The organisation column names an organisation other than the submitter.
    WrongSubmitter,
    /// The row is byte-for-byte identical to an earlier row of the same file.
    DuplicateRow,
    /// The row repeats the contract's unique key (for example a spell's episode number) of an
    /// earlier row of the same file, with other values that differ.
    DuplicateKey,
    /// The row is not valid text in the contract's encoding.
    Encoding,
    /// The row has more or fewer fields than the header.
    FieldCount,
    /// A quoted field is never closed: not before the end of the file, or not within the
    /// longest record a reader accepts. The row is its first physical line; reading goes on
    /// with the next line.
    UnterminatedQuote,
}

impl Reason {
    /// Every reason, in a fixed order.
    pub const ALL: [Reason; 13] = [
        Reason::NhsNumberInvalidCheckDigit,
        Reason::NhsNumberWrongLength,
        Reason::NhsNumberNotNumeric,
        Reason::MissingRequired,
        Reason::DateUnparseable,
        Reason::DateInFuture,
        Reason::ValueInvalid,
        Reason::WrongSubmitter,
        Reason::DuplicateRow,
        Reason::DuplicateKey,
        Reason::Encoding,
        Reason::FieldCount,
        Reason::UnterminatedQuote,
    ];

    /// The stable snake-case code written to quarantine files and manifests.
    pub fn code(self) -> &'static str {
        match self {
            Reason::NhsNumberInvalidCheckDigit => "nhs_number_invalid_check_digit",
            Reason::NhsNumberWrongLength => "nhs_number_wrong_length",
            Reason::NhsNumberNotNumeric => "nhs_number_not_numeric",
            Reason::MissingRequired => "missing_required",
            Reason::DateUnparseable => "date_unparseable",
            Reason::DateInFuture => "date_in_future",
            Reason::ValueInvalid => "value_invalid",
            Reason::WrongSubmitter => "wrong_submitter",
            Reason::DuplicateRow => "duplicate_row",
            Reason::DuplicateKey => "duplicate_key",
            Reason::Encoding => "encoding",
            Reason::FieldCount => "field_count",
            Reason::UnterminatedQuote => "unterminated_quote",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A string that is not one of the reason codes.
#[derive(Debug, thiserror::Error)]
#[error("unknown quarantine reason `{0}`")]
pub struct UnknownReason(String);

impl FromStr for Reason {
    type Err = UnknownReason;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Reason::ALL
            .into_iter()
            .find(|r| r.code() == s)
            .ok_or_else(|| UnknownReason(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_are_unique() {
        let mut seen = std::collections::BTreeSet::new();
        for r in Reason::ALL {
            assert!(seen.insert(r.code()));
            assert_eq!(r.code().parse::<Reason>().unwrap(), r);
        }
        assert!("no_such_reason".parse::<Reason>().is_err());
    }

    #[test]
    fn serde_uses_the_codes() {
        #[derive(serde::Deserialize)]
        struct Row {
            reason: Reason,
        }
        let row: Row = toml::from_str("reason = \"date_in_future\"").unwrap();
        assert_eq!(row.reason, Reason::DateInFuture);
    }
}
