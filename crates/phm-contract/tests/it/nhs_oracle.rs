//! phm's NHS number check against the independent `nhs-number` Python package.

use std::fmt::Write as _;
use std::io::Write as _;

use phm_contract::nhs::{self, NhsNumber};

/// A small deterministic generator (`SplitMix64`), so the test needs no RNG crate.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// 120,000 inputs in the formats `nhs-number` accepts (plain, `3 3 4` with spaces or
/// hyphens, surrounding white space): half built valid, the rest random digits, wrong check
/// digits, wrong lengths and stray characters.
fn inputs() -> Vec<String> {
    let mut rng = SplitMix(20_261_124);
    let mut out = Vec::with_capacity(120_000);
    while out.len() < 120_000 {
        let prefix = rng.below(1_000_000_000) as u32;
        let digits = match rng.below(6) {
            0..=2 => match nhs::check_digit_of_prefix(prefix) {
                Some(c) => format!("{prefix:09}{c}"),
                None => format!("{prefix:09}{}", rng.below(10)),
            },
            3 => format!("{prefix:09}{}", rng.below(10)),
            4 => {
                let len = [8, 9, 11, 12][rng.below(4) as usize];
                (0..len)
                    .map(|_| char::from(b'0' + rng.below(10) as u8))
                    .collect()
            }
            _ => {
                let mut s = format!("{prefix:09}{}", rng.below(10));
                let at = rng.below(10) as usize;
                s.replace_range(at..=at, ["x", "O", ".", "/"][rng.below(4) as usize]);
                s
            }
        };
        let shaped = if digits.len() == 10 && digits.is_ascii() {
            match rng.below(5) {
                0 => format!("{} {} {}", &digits[..3], &digits[3..6], &digits[6..]),
                1 => format!("{}-{}-{}", &digits[..3], &digits[3..6], &digits[6..]),
                2 => format!("  {digits} "),
                _ => digits,
            }
        } else {
            digits
        };
        out.push(shaped);
    }
    out
}

/// `nhs-number` also rejects Scottish CHI-range numbers (010 000 0000 to 311 299 9999) whose
/// first six digits are not a date (DDMMYY). phm checks Modulus 11 only, as NHS numbers in
/// English extracts are; for those numbers the comparison is with the package's checksum.
const ORACLE: &str = r#"
import sys, nhs_number
from nhs_number import standardise_format, calculate_checksum
from nhs_number.constants import REGION_SCOTLAND
bad = 0
with open(sys.argv[1]) as f:
    for line in f:
        raw, phm_valid, phm_digits = line.rstrip("\n").split("\t")
        digits = standardise_format(raw)
        if digits and REGION_SCOTLAND.contains_number(digits):
            valid = calculate_checksum(digits[:-1]) == int(digits[-1])
        else:
            valid = nhs_number.is_valid(raw)
        if str(valid) != phm_valid or (valid and digits != phm_digits):
            bad += 1
            if bad <= 5:
                print("disagree on an input of length", len(raw), "phm", phm_valid, "oracle", valid)
print("checked", sum(1 for _ in open(sys.argv[1])), "disagreements", bad)
"#;

#[test]
fn agrees_with_the_nhs_number_package_on_120k_inputs() {
    let inputs = inputs();
    let mut text = String::new();
    let mut valid = 0;
    for raw in &inputs {
        let parsed = NhsNumber::parse(raw);
        let digits = parsed.map_or(String::new(), |n| {
            String::from_utf8(n.expose_digits().to_vec()).unwrap()
        });
        valid += usize::from(parsed.is_ok());
        writeln!(
            text,
            "{raw}\t{}\t{digits}",
            if parsed.is_ok() { "True" } else { "False" }
        )
        .unwrap();
    }
    assert!(
        valid > 40_000 && valid < 80_000,
        "a useful mix of valid and invalid: {valid}"
    );
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(text.as_bytes()).unwrap();
    let report = phm_testkit::run_oracle(ORACLE, &[file.path()]);
    assert!(
        report.contains("checked 120000 disagreements 0"),
        "{report}"
    );
}
