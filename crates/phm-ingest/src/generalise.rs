//! Generalising quasi-identifiers: date of birth to age and 5-year age band at the reference
//! date; postcode to LSOA and IMD decile through the postcode lookup, or to the postcode
//! district when the lookup does not know it.

use std::collections::HashMap;
use std::path::Path;

use phm_contract::date::{self, Day};

/// Age in whole years at the reference date, or `None` for someone born after it.
pub fn age(dob: Day, reference: Day) -> Option<i32> {
    let a = date::age_on(dob, reference);
    (a >= 0).then_some(a)
}

/// The 5-year band of an age: `0-4`, `5-9`, ..., `85-89`, `90+`.
pub fn age_band(age: i32) -> String {
    if age >= 90 {
        "90+".to_owned()
    } else {
        let lo = age / 5 * 5;
        format!("{lo}-{}", lo + 4)
    }
}

/// A postcode as the lookup keys it: upper case, no spaces.
pub fn normalise_postcode(p: &str) -> String {
    p.chars()
        .filter(|c| !c.is_whitespace())
        .flat_map(char::to_uppercase)
        .collect()
}

/// The outward code (district) of a postcode: all but its last three characters.
pub fn district(p: &str) -> Option<String> {
    let n = normalise_postcode(p);
    (n.len() >= 5 && n.len() <= 7).then(|| n[..n.len() - 3].to_owned())
}

/// Postcode to (LSOA code, IMD decile).
pub struct PostcodeLookup(HashMap<String, (String, i32)>);

/// A lookup file that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error(
    "postcode lookup `{path}`: {problem}\nhint: give a CSV with columns postcode,lsoa_code,imd_decile (ONS postcode directory shape) with `--postcode-lookup`"
)]
pub struct LookupError {
    /// The file.
    pub path: std::path::PathBuf,
    /// What is wrong.
    pub problem: String,
}

impl PostcodeLookup {
    /// An empty lookup: every postcode generalises to its district.
    pub fn empty() -> Self {
        PostcodeLookup(HashMap::new())
    }

    /// Read `postcode,lsoa_code,imd_decile`.
    pub fn load(path: &Path) -> Result<Self, LookupError> {
        let err = |problem: String| LookupError {
            path: path.to_owned(),
            problem,
        };
        let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
        let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
        let mut lines = text.lines();
        let header = lines.next().unwrap_or_default().trim();
        if header != "postcode,lsoa_code,imd_decile" {
            return Err(err(format!("header is `{header}`")));
        }
        let mut map = HashMap::new();
        for (i, line) in lines.enumerate() {
            let f: Vec<&str> = line.split(',').collect();
            let decile = f
                .get(2)
                .and_then(|d| d.trim().parse::<i32>().ok())
                .filter(|d| (1..=10).contains(d));
            match (f.len(), decile) {
                (3, Some(d)) => {
                    map.insert(normalise_postcode(f[0]), (f[1].trim().to_owned(), d));
                }
                _ => {
                    return Err(err(format!(
                        "line {} is not postcode,lsoa_code,imd_decile(1-10)",
                        i + 2
                    )));
                }
            }
        }
        Ok(PostcodeLookup(map))
    }

    /// LSOA and IMD decile of a postcode.
    pub fn get(&self, postcode: &str) -> Option<&(String, i32)> {
        self.0.get(&normalise_postcode(postcode))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_and_bands() {
        let r = date::from_ymd(2025, 4, 1);
        assert_eq!(age(date::from_ymd(1950, 4, 1), r), Some(75));
        assert_eq!(age(date::from_ymd(1950, 4, 2), r), Some(74));
        assert_eq!(age(date::from_ymd(2025, 6, 1), r), None);
        assert_eq!(age_band(0), "0-4");
        assert_eq!(age_band(74), "70-74");
        assert_eq!(age_band(89), "85-89");
        assert_eq!(age_band(104), "90+");
    }

    #[test]
    fn postcodes() {
        assert_eq!(normalise_postcode("ls12 3ab"), "LS123AB");
        assert_eq!(district("LS12 3AB").as_deref(), Some("LS12"));
        assert_eq!(district("BD1 0TJ").as_deref(), Some("BD1"));
        assert_eq!(district("nonsense postcode"), None);
    }
}
