//! Calendar dates as days since 1970-01-01: strict parsing in the formats contracts allow,
//! and fast formatting.
//!
//! Ingest parses and the generator writes tens of millions of dates; doing it by hand on
//! bytes is several times faster than a general-purpose parser, and strict: `2023-1-5`,
//! `2023-02-30` and surrounding spaces are not dates.

/// Days since 1970-01-01 (negative before).
pub type Day = i32;

/// Days from a civil date (proleptic Gregorian), after H. Hinnant's `days_from_civil`.
pub fn from_ymd(y: i32, m: u32, d: u32) -> Day {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = m as i32;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i32 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date of a day, after H. Hinnant's `civil_from_days`.
pub fn to_ymd(day: Day) -> (i32, u32, u32) {
    let z = day + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Whether `y-m-d` is a real calendar date.
pub fn is_valid_ymd(y: i32, m: u32, d: u32) -> bool {
    let leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&d)
}

/// The same month and day `years` later (29 February becomes 28 February).
pub fn add_years(day: Day, years: i32) -> Day {
    let (y, m, d) = to_ymd(day);
    let d = if m == 2 && d == 29 && !is_valid_ymd(y + years, 2, 29) {
        28
    } else {
        d
    };
    from_ymd(y + years, m, d)
}

/// Whole years between `birth` and `at` (age on `at`).
pub fn age_on(birth: Day, at: Day) -> i32 {
    let (by, bm, bd) = to_ymd(birth);
    let (ay, am, ad) = to_ymd(at);
    let had_birthday = (am, ad) >= (bm, bd);
    ay - by - i32::from(!had_birthday)
}

/// Parse `YYYY-MM-DD`.
#[allow(clippy::many_single_char_names)]
pub fn parse_iso(s: &str) -> Option<Day> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        b[r].iter().try_fold(0u32, |acc, &c| {
            c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
        })
    };
    let (y, m, d) = (num(0..4)? as i32, num(5..7)?, num(8..10)?);
    is_valid_ymd(y, m, d).then(|| from_ymd(y, m, d))
}

/// Parse `DD/MM/YYYY`.
pub fn parse_dmy(s: &str) -> Option<Day> {
    let b = s.as_bytes();
    if b.len() != 10 || b[2] != b'/' || b[5] != b'/' {
        return None;
    }
    ymd(digits(&b[6..10])?, digits(&b[3..5])?, digits(&b[0..2])?)
}

/// Parse `YYYYMMDD`.
pub fn parse_compact(s: &str) -> Option<Day> {
    let b = s.as_bytes();
    if b.len() != 8 {
        return None;
    }
    ymd(digits(&b[0..4])?, digits(&b[4..6])?, digits(&b[6..8])?)
}

/// The parser for a contract format, chosen once for a column (`None` for an unknown
/// format).
pub fn parser(format: &str) -> Option<fn(&str) -> Option<Day>> {
    match format {
        "%Y-%m-%d" => Some(parse_iso),
        "%d/%m/%Y" => Some(parse_dmy),
        "%Y%m%d" => Some(parse_compact),
        _ => None,
    }
}

/// Parse a date in one of the contract formats ([`crate::DATE_FORMATS`]); `None` if the text
/// is not a real date in that format (or the format is unknown).
pub fn parse(s: &str, format: &str) -> Option<Day> {
    parser(format).and_then(|parse| parse(s))
}

fn digits(b: &[u8]) -> Option<u32> {
    b.iter().try_fold(0u32, |acc, &c| {
        c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
    })
}

fn ymd(y: u32, m: u32, d: u32) -> Option<Day> {
    let y = y as i32;
    is_valid_ymd(y, m, d).then(|| from_ymd(y, m, d))
}

fn push2(buf: &mut Vec<u8>, v: u32) {
    buf.push(b'0' + (v / 10) as u8);
    buf.push(b'0' + (v % 10) as u8);
}

fn push4(buf: &mut Vec<u8>, v: i32) {
    let v = v.clamp(0, 9999) as u32;
    push2(buf, v / 100);
    push2(buf, v % 100);
}

/// Append `YYYY-MM-DD`.
pub fn write_iso(buf: &mut Vec<u8>, day: Day) {
    let (y, m, d) = to_ymd(day);
    push4(buf, y);
    buf.push(b'-');
    push2(buf, m);
    buf.push(b'-');
    push2(buf, d);
}

/// Append `DD/MM/YYYY`.
pub fn write_dmy(buf: &mut Vec<u8>, day: Day) {
    let (y, m, d) = to_ymd(day);
    push2(buf, d);
    buf.push(b'/');
    push2(buf, m);
    buf.push(b'/');
    push4(buf, y);
}

/// `YYYY-MM-DD` as a `String`.
pub fn iso(day: Day) -> String {
    let mut b = Vec::with_capacity(10);
    write_iso(&mut b, day);
    String::from_utf8(b).expect("ASCII")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_against_chrono() {
        let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap();
        for day in (-60_000..60_000).step_by(7) {
            let c = epoch + chrono::Duration::days(i64::from(day));
            let text = c.format("%Y-%m-%d").to_string();
            assert_eq!(iso(day), text);
            assert_eq!(parse_iso(&text), Some(day));
            let mut dmy = Vec::new();
            write_dmy(&mut dmy, day);
            assert_eq!(
                String::from_utf8(dmy).unwrap(),
                c.format("%d/%m/%Y").to_string()
            );
        }
    }

    #[test]
    fn rejects_impossible_dates() {
        assert_eq!(parse_iso("2023-02-29"), None);
        assert!(parse_iso("2024-02-29").is_some());
        assert_eq!(parse_iso("2023-13-01"), None);
        assert_eq!(parse_iso("2023-1-05"), None);
        assert_eq!(parse_dmy("31/04/2023"), None);
        assert_eq!(parse_dmy("30/04/2023"), parse_iso("2023-04-30"));
        assert_eq!(parse("20230430", "%Y%m%d"), parse_iso("2023-04-30"));
        assert_eq!(parse(" 2023-04-30", "%Y-%m-%d"), None);
        assert_eq!(parse("2023-04-30", "%m/%d/%Y"), None);
    }

    #[test]
    fn ages_and_years() {
        let b = from_ymd(2000, 2, 29);
        assert_eq!(age_on(b, from_ymd(2001, 2, 28)), 0);
        assert_eq!(age_on(b, from_ymd(2001, 3, 1)), 1);
        assert_eq!(to_ymd(add_years(b, 1)), (2001, 2, 28));
        assert_eq!(to_ymd(add_years(from_ymd(2025, 4, 1), -4)), (2021, 4, 1));
    }
}
