//! SNOMED CT identifiers (and dm+d codes, which are SNOMED CT identifiers of the UK drug
//! extension): 6 to 18 digits, the last a Verhoeff check digit (SNOMED CT Release File
//! Specification 6.4, "Check-digit").

/// Verhoeff's dihedral group D5 multiplication table.
const D5: [[u8; 10]; 10] = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    [1, 2, 3, 4, 0, 6, 7, 8, 9, 5],
    [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
    [3, 4, 0, 1, 2, 8, 9, 5, 6, 7],
    [4, 0, 1, 2, 3, 9, 5, 6, 7, 8],
    [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
    [6, 5, 9, 8, 7, 1, 0, 4, 3, 2],
    [7, 6, 5, 9, 8, 2, 1, 0, 4, 3],
    [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
    [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
];

/// The inverse in D5.
const INVERSE: [u8; 10] = [0, 4, 3, 2, 1, 5, 6, 7, 8, 9];

/// The position permutations: row 1 is given, row i is row i-1 after row 1 (the
/// specification's `F(i, j) = F(i - 1, F(1, j))`), so no row is typed by hand.
const fn permutations() -> [[u8; 10]; 8] {
    let mut f = [[0u8; 10]; 8];
    let mut j = 0;
    while j < 10 {
        f[0][j] = j as u8;
        j += 1;
    }
    f[1] = [1, 5, 7, 6, 2, 8, 3, 0, 9, 4];
    let mut i = 2;
    while i < 8 {
        let mut j = 0;
        while j < 10 {
            f[i][j] = f[i - 1][f[1][j] as usize];
            j += 1;
        }
        i += 1;
    }
    f
}

const F: [[u8; 10]; 8] = permutations();

/// The D5 product over `digits` (ASCII), the last at position `first`.
fn product(digits: &[u8], first: usize) -> u8 {
    digits.iter().rev().enumerate().fold(0, |c, (i, d)| {
        D5[usize::from(c)][usize::from(F[(i + first) % 8][usize::from(d - b'0')])]
    })
}

/// Whether a string of digits ends in its Verhoeff check digit.
pub fn verhoeff_ok(digits: &str) -> bool {
    !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && product(digits.as_bytes(), 0) == 0
}

/// The Verhoeff check digit to append to `digits` (all ASCII digits).
pub fn verhoeff_digit(digits: &str) -> Option<char> {
    digits
        .bytes()
        .all(|b| b.is_ascii_digit())
        .then(|| char::from(b'0' + INVERSE[usize::from(product(digits.as_bytes(), 1))]))
}

/// Whether `v` has the form of a SNOMED CT identifier: 6 to 18 digits, no leading zero, a
/// valid check digit.
pub fn sctid_ok(v: &str) -> bool {
    (6..=18).contains(&v.len()) && !v.starts_with('0') && verhoeff_ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn published_identifiers_pass_and_every_single_digit_change_fails() {
        // SNOMED CT root, clinical finding, procedure, the core module, a dm+d VMP.
        for id in [
            "138875005",
            "404684003",
            "71388002",
            "900000000000207008",
            "22298006",
            "195967001",
            "322236009",
        ] {
            assert!(sctid_ok(id), "{id}");
            for at in 0..id.len() {
                for d in b'0'..=b'9' {
                    let mut changed = id.as_bytes().to_vec();
                    if changed[at] == d {
                        continue;
                    }
                    changed[at] = d;
                    let changed = String::from_utf8(changed).unwrap();
                    assert!(!verhoeff_ok(&changed), "{changed}");
                }
            }
        }
        assert!(!sctid_ok("12345") && !sctid_ok("0138875005") && !sctid_ok("13887500x"));
    }

    #[test]
    fn the_check_digit_completes_an_identifier() {
        assert_eq!(verhoeff_digit("13887500"), Some('5'));
        assert_eq!(verhoeff_digit("236"), Some('3'));
        assert_eq!(verhoeff_digit("12a"), None);
    }
}
