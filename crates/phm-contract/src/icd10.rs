//! ICD-10 codes as feeds write them, made comparable.
//!
//! Normalisation keeps the code itself and drops everything a feed adds around it:
//! - surrounding and inner spaces, and dots (`I50.0`, ` I500 `, `I50 0` → `I500`);
//! - lower case (`i500` → `I500`);
//! - the filler that pads a three-character code to four (`I10X`, `I10.X`, `I10x`, `I10-`
//!   → `I10`);
//! - dagger and asterisk marks of dual coding, written as `†`, `*`, or the letters `D` and `A`
//!   after the code (`G30.9†`, `E11.4D`, `F00.9*`, `F00.9A` → `G309`, `E114`, `F009`).
//!
//! What remains is a letter, two digits and up to two more digits (the UK's fifth character).
//! Anything that does not start that way is not an ICD-10 code and scores nothing.

/// A normalised ICD-10 code (`E114`): a letter, then 2 to 4 digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Icd10 {
    bytes: [u8; 5],
    len: u8,
}

impl Icd10 {
    /// The code as text.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.bytes[..usize::from(self.len)]).expect("ASCII")
    }

    /// Its three-character category (`E11`).
    pub fn category(&self) -> &str {
        &self.as_str()[..3]
    }
}

/// Normalise a code as written by a feed; `None` when it is not an ICD-10 code.
pub fn normalise(raw: &str) -> Option<Icd10> {
    let mut chars = raw
        .chars()
        .filter(|c| *c != '.' && !c.is_whitespace())
        .peekable();
    let mut bytes = [0u8; 5];
    let letter = chars.next()?.to_ascii_uppercase();
    if !letter.is_ascii_uppercase() {
        return None;
    }
    bytes[0] = letter as u8;
    let mut len = 1;
    while len < 5 {
        match chars.peek() {
            Some(c) if c.is_ascii_digit() => {
                bytes[len] = *c as u8;
                len += 1;
                chars.next();
            }
            _ => break,
        }
    }
    (len >= 3).then_some(Icd10 {
        bytes,
        len: u8::try_from(len).expect("at most 5"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(raw: &str) -> Option<String> {
        normalise(raw).map(|c| c.as_str().to_owned())
    }

    #[test]
    fn feed_forms_become_one_code() {
        for (raw, want) in [
            ("I50.0", "I500"),
            ("I500", "I500"),
            ("i500", "I500"),
            ("i50.0", "I500"),
            (" I500", "I500"),
            ("I500  ", "I500"),
            ("I50.0 ", "I500"),
            ("I50 0", "I500"),
            ("I10", "I10"),
            ("I10X", "I10"),
            ("I10x", "I10"),
            ("I10-", "I10"),
            ("I10.X", "I10"),
            ("I10 ", "I10"),
            ("G30.9\u{2020}", "G309"),
            ("G30.9D", "G309"),
            ("E11.4D", "E114"),
            ("E114\u{2020}", "E114"),
            ("F00.9*", "F009"),
            ("F00.9A", "F009"),
            ("F009A", "F009"),
            ("G63.2*", "G632"),
            ("S72.00", "S7200"),
            ("C34.12", "C3412"),
        ] {
            assert_eq!(n(raw).as_deref(), Some(want), "{raw:?}");
        }
    }

    #[test]
    fn non_codes_score_nothing() {
        for raw in [
            "",
            " ",
            "-",
            "X",
            "I5",
            "150.0",
            "I.",
            "*",
            "\u{2020}I50",
            "II50",
        ] {
            assert_eq!(n(raw), None, "{raw:?}");
        }
    }

    #[test]
    fn category_is_three_characters() {
        assert_eq!(normalise("e11.4d").unwrap().category(), "E11");
        assert_eq!(normalise("I10X").unwrap().category(), "I10");
    }
}
