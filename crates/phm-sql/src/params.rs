//! The window dates the SQL files use, and binding them as typed literals.

use phm_contract::date::{self, Day};

/// The dates a linkage runs on.
#[derive(Debug, Clone, Copy)]
pub struct Dates {
    /// The reference date.
    pub reference_date: Day,
    /// Start of the short look-back (exclusive): reference date minus 12 months by default.
    pub start_12m: Day,
    /// Start of the long look-back (exclusive): reference date minus 24 months by default.
    pub start_24m: Day,
    /// End of the outcome window (inclusive): reference date plus 12 months by default.
    pub outcome_end: Day,
    /// The date ingest computed ages on (the run's reference date). When the linkage runs as
    /// of an earlier date (the risk model's training years), the spine takes the whole years
    /// between the two from each age.
    pub ages_as_of: Day,
}

impl Dates {
    /// Parameter names, as written in SQL after `$`.
    pub const NAMES: [&'static str; 5] = [
        "reference_date",
        "start_12m",
        "start_24m",
        "outcome_end",
        "ages_as_of",
    ];

    /// Windows of `short` and `long` months before the reference date and `outcome` months
    /// after it.
    pub fn new(reference_date: Day, short: u32, long: u32, outcome: u32) -> Self {
        Dates {
            reference_date,
            start_12m: add_months(reference_date, -(short as i32)),
            start_24m: add_months(reference_date, -(long as i32)),
            outcome_end: add_months(reference_date, outcome as i32),
            ages_as_of: reference_date,
        }
    }

    /// The same windows for a linkage as of `as_of`, whose ages were computed on
    /// `ages_as_of` (the run's reference date).
    #[must_use]
    pub fn with_ages_as_of(mut self, ages_as_of: Day) -> Self {
        self.ages_as_of = ages_as_of;
        self
    }

    fn value(&self, name: &str) -> Option<Day> {
        match name {
            "reference_date" => Some(self.reference_date),
            "start_12m" => Some(self.start_12m),
            "start_24m" => Some(self.start_24m),
            "outcome_end" => Some(self.outcome_end),
            "ages_as_of" => Some(self.ages_as_of),
            _ => None,
        }
    }
}

/// The same day `months` later, clamped to the month's last day.
pub fn add_months(day: Day, months: i32) -> Day {
    let (y, m, d) = date::to_ymd(day);
    let total = y * 12 + (m as i32 - 1) + months;
    let (ny, nm) = (total.div_euclid(12), total.rem_euclid(12) as u32 + 1);
    let mut nd = d;
    while !date::is_valid_ymd(ny, nm, nd) {
        nd -= 1;
    }
    date::from_ymd(ny, nm, nd)
}

/// A day as a typed SQL literal: `DATE 'YYYY-MM-DD'`.
pub fn date_literal(day: Day) -> String {
    format!("DATE '{}'", date::iso(day))
}

/// Replace each `$name` in SQL text with `DATE 'YYYY-MM-DD'`. Text inside `--` comments and
/// quotes is left alone. Returns the unknown name on error.
pub fn bind(sql: &str, dates: &Dates) -> Result<String, String> {
    let mut out = String::with_capacity(sql.len());
    let bytes = sql.as_bytes();
    let mut i = 0;
    let mut in_quote = false;
    while i < bytes.len() {
        let c = bytes[i];
        if !in_quote && c == b'-' && bytes.get(i + 1) == Some(&b'-') {
            let end = sql[i..].find('\n').map_or(sql.len(), |n| i + n);
            out.push_str(&sql[i..end]);
            i = end;
            continue;
        }
        if c == b'\'' {
            in_quote = !in_quote;
        }
        if !in_quote && c == b'$' {
            let end = sql[i + 1..]
                .find(|ch: char| !(ch.is_ascii_alphanumeric() || ch == '_'))
                .map_or(sql.len(), |n| i + 1 + n);
            let name = &sql[i + 1..end];
            let day = dates.value(name).ok_or_else(|| name.to_owned())?;
            out.push_str(&date_literal(day));
            i = end;
            continue;
        }
        let ch = sql[i..].chars().next().expect("in bounds");
        out.push(ch);
        i += ch.len_utf8();
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_clamp_to_the_end_of_the_month() {
        assert_eq!(
            date::iso(add_months(date::from_ymd(2025, 3, 31), -1)),
            "2025-02-28"
        );
        assert_eq!(
            date::iso(add_months(date::from_ymd(2024, 3, 31), -1)),
            "2024-02-29"
        );
        assert_eq!(
            date::iso(add_months(date::from_ymd(2025, 4, 1), -24)),
            "2023-04-01"
        );
        assert_eq!(
            date::iso(add_months(date::from_ymd(2025, 4, 1), 12)),
            "2026-04-01"
        );
    }

    #[test]
    fn binds_parameters_not_comments_or_strings() {
        let d = Dates::new(date::from_ymd(2025, 4, 1), 12, 24, 12);
        let sql = "-- uses $reference_date\nSELECT '$x', a > $start_12m AND a <= $reference_date";
        assert_eq!(
            bind(sql, &d).unwrap(),
            "-- uses $reference_date\nSELECT '$x', a > DATE '2024-04-01' AND a <= DATE '2025-04-01'"
        );
        assert_eq!(bind("SELECT $nope", &d), Err("nope".to_owned()));
    }
}
