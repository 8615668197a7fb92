//! The NHS number: normalisation, Modulus 11 validation, and a type that cannot be logged.
//!
//! An NHS number is ten digits; the tenth is a check digit computed with Modulus 11 over the
//! first nine (weights 10 down to 2). Feeds write it with spaces (`999 123 4567`) or hyphens;
//! [`NhsNumber::parse`] removes those and checks what is left. The type has no `Display`
//! and its `Debug` prints a redaction, so a number cannot reach a log line or an error message
//! by accident; [`NhsNumber::expose_digits`] is the one, greppable, way to read it.

use std::fmt;

/// Why a string is not a valid NHS number. The messages never contain the number itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NhsNumberError {
    /// Nothing but separators, or nothing at all.
    #[error("NHS number is empty")]
    Empty,
    /// A character other than a digit, space or hyphen.
    #[error("NHS number contains a character other than digits, spaces and hyphens")]
    NotNumeric,
    /// After removing separators, not exactly ten digits.
    #[error("NHS number has {digits} digits after removing spaces and hyphens; it must have 10")]
    WrongLength {
        /// How many digits were found.
        digits: usize,
    },
    /// Ten digits whose last is not the Modulus 11 check digit of the first nine.
    #[error("NHS number fails the Modulus 11 check digit test")]
    InvalidCheckDigit,
}

/// A valid, normalised NHS number. No `Display`; `Debug` is redacted.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NhsNumber([u8; 10]);

impl NhsNumber {
    /// Normalise (remove spaces and hyphens, trim) and validate a raw field.
    pub fn parse(raw: &str) -> Result<Self, NhsNumberError> {
        // Most numbers arrive as exactly ten digits: checked without the general loop.
        if let Ok(ten) = <[u8; 10]>::try_from(raw.as_bytes())
            && ten.iter().all(u8::is_ascii_digit)
        {
            let sum: u32 = ten[..9]
                .iter()
                .zip((2..=10u32).rev())
                .map(|(&d, w)| u32::from(d - b'0') * w)
                .sum();
            let check = match 11 - (sum % 11) {
                11 => 0,
                c => c,
            };
            return if check == u32::from(ten[9] - b'0') {
                Ok(Self(ten))
            } else {
                Err(NhsNumberError::InvalidCheckDigit)
            };
        }
        let mut digits = [0u8; 10];
        let mut n = 0usize;
        for b in raw.bytes() {
            match b {
                b'0'..=b'9' => {
                    if n < 10 {
                        digits[n] = b;
                    }
                    n += 1;
                }
                b' ' | b'-' | b'\t' => {}
                _ => return Err(NhsNumberError::NotNumeric),
            }
        }
        match n {
            0 => Err(NhsNumberError::Empty),
            10 => {
                let mut nine = [0u8; 9];
                for (d, b) in nine.iter_mut().zip(&digits) {
                    *d = b - b'0';
                }
                if check_digit(&nine) == Some(digits[9] - b'0') {
                    Ok(Self(digits))
                } else {
                    Err(NhsNumberError::InvalidCheckDigit)
                }
            }
            other => Err(NhsNumberError::WrongLength { digits: other }),
        }
    }

    /// Build from a ten-digit integer (synthetic data); `None` unless valid.
    pub fn from_u64(value: u64) -> Option<Self> {
        if value > 9_999_999_999 {
            return None;
        }
        let text = format!("{value:010}");
        Self::parse(&text).ok()
    }

    /// The ten ASCII digits. Named so that every place reading a number is easy to find.
    pub fn expose_digits(&self) -> &[u8; 10] {
        &self.0
    }

    /// Whether the number is in the range reserved for testing (`999 000 0000` to `999 999 9999`).
    pub fn is_test_range(&self) -> bool {
        &self.0[..3] == b"999"
    }
}

impl fmt::Debug for NhsNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NhsNumber(<redacted>)")
    }
}

/// The Modulus 11 check digit of nine digits (each 0-9), or `None` when the remainder makes it
/// 10, which means no valid NHS number starts with those nine digits.
pub fn check_digit(nine: &[u8; 9]) -> Option<u8> {
    let sum: u32 = nine
        .iter()
        .zip((2..=10u32).rev())
        .map(|(&d, w)| u32::from(d) * w)
        .sum();
    match 11 - (sum % 11) {
        11 => Some(0),
        10 => None,
        c => Some(c as u8),
    }
}

/// The check digit for a nine-digit prefix given as an integer below 10^9.
pub fn check_digit_of_prefix(prefix: u32) -> Option<u8> {
    let mut nine = [0u8; 9];
    let mut p = prefix;
    for slot in nine.iter_mut().rev() {
        *slot = (p % 10) as u8;
        p /= 10;
    }
    check_digit(&nine)
}

/// Whether a raw field is a valid NHS number once spaces and hyphens are removed.
pub fn is_valid(raw: &str) -> bool {
    NhsNumber::parse(raw).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn published_example_is_valid() {
        // Worked by hand: 9x10 + 9x9 + 9x8 + 0 + 0 + 0 + 1x4 + 2x3 + 3x2 = 259; 259 % 11 = 6;
        // 11 - 6 = 5, so 999 000 1235 (a test-range number) is valid.
        assert_eq!(check_digit(&[9, 9, 9, 0, 0, 0, 1, 2, 3]), Some(5));
        assert!(is_valid("9990001235"));
        assert!(is_valid("999 000 1235"));
        assert!(is_valid("999-000-1235"));
        assert!(!is_valid("9990001234"));
    }

    #[test]
    fn errors_name_the_fault_not_the_number() {
        assert_eq!(NhsNumber::parse(""), Err(NhsNumberError::Empty));
        assert_eq!(NhsNumber::parse("  "), Err(NhsNumberError::Empty));
        assert_eq!(
            NhsNumber::parse("999123456"),
            Err(NhsNumberError::WrongLength { digits: 9 })
        );
        assert_eq!(
            NhsNumber::parse("99912345x7"),
            Err(NhsNumberError::NotNumeric)
        );
        let msg = NhsNumber::parse("9991234568").unwrap_err().to_string();
        assert!(!msg.contains("999"), "{msg}");
    }

    #[test]
    fn debug_is_redacted() {
        let n = NhsNumber::parse("9990001235").unwrap();
        let shown = format!("{n:?}");
        assert!(!shown.contains("999"), "{shown}");
        assert_eq!(n.expose_digits(), b"9990001235");
    }

    #[test]
    fn remainder_one_has_no_valid_number() {
        // 999 000 001: weights 10..2 give sum 9*10+9*9+9*8+1*2 = 245, 245 % 11 = 3 -> 8.
        assert_eq!(check_digit_of_prefix(999_000_001), Some(8));
        // A prefix whose remainder is 1 gives 11 - 1 = 10: invalid.
        let bad = (0..1_000u32)
            .find(|p| check_digit_of_prefix(999_000_000 + p).is_none())
            .unwrap();
        for last in 0..10 {
            let s = format!("{}{last}", 999_000_000 + bad);
            assert_eq!(NhsNumber::parse(&s), Err(NhsNumberError::InvalidCheckDigit));
        }
    }

    proptest! {
        #[test]
        fn ten_digits_read_alike_with_or_without_spaces(n in 0u64..10_000_000_000) {
            // Ten bare digits take the short path; spaced, the general one.
            let bare = format!("{n:010}");
            let spaced = format!("{} {} {}", &bare[..3], &bare[3..6], &bare[6..]);
            prop_assert_eq!(NhsNumber::parse(&bare), NhsNumber::parse(&spaced));
        }

        #[test]
        fn exactly_one_check_digit_per_prefix(prefix in 0u32..1_000_000_000) {
            let valid: Vec<u8> = (0..10u8)
                .filter(|last| is_valid(&format!("{prefix:09}{last}")))
                .collect();
            match check_digit_of_prefix(prefix) {
                Some(c) => prop_assert_eq!(valid, vec![c]),
                None => prop_assert!(valid.is_empty()),
            }
        }

        #[test]
        fn separators_do_not_change_the_verdict(prefix in 0u32..1_000_000_000, last in 0u8..10) {
            let plain = format!("{prefix:09}{last}");
            let spaced = format!("{} {} {}", &plain[..3], &plain[3..6], &plain[6..]);
            let hyphened = format!("{}-{}-{}", &plain[..3], &plain[3..6], &plain[6..]);
            prop_assert_eq!(is_valid(&plain), is_valid(&spaced));
            prop_assert_eq!(is_valid(&plain), is_valid(&hyphened));
            if let Ok(n) = NhsNumber::parse(&spaced) {
                prop_assert_eq!(n.expose_digits(), plain.as_bytes());
            }
        }

        #[test]
        fn a_single_digit_change_is_always_caught(prefix in 0u32..1_000_000_000, pos in 0usize..10, delta in 1u8..10) {
            prop_assume!(check_digit_of_prefix(prefix).is_some());
            let good = format!("{prefix:09}{}", check_digit_of_prefix(prefix).unwrap());
            let mut bytes = good.into_bytes();
            bytes[pos] = b'0' + (bytes[pos] - b'0' + delta) % 10;
            prop_assert!(!is_valid(std::str::from_utf8(&bytes).unwrap()));
        }

        #[test]
        fn wrong_lengths_are_rejected(digits in "[0-9]{0,20}") {
            prop_assume!(digits.len() != 10);
            prop_assert!(!is_valid(&digits));
        }
    }
}
