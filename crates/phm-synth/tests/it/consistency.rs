//! Cross-extract consistency: activity belongs to registered patients and happens between
//! birth and death.

use std::collections::{HashMap, HashSet};

use chrono::NaiveDate;
use phm_contract::{Contracts, NhsNumber};

use crate::check;

fn date(s: &str, dmy: bool) -> NaiveDate {
    NaiveDate::parse_from_str(s, if dmy { "%d/%m/%Y" } else { "%Y-%m-%d" }).unwrap()
}

#[test]
fn every_record_belongs_to_a_registered_patient_alive_at_the_time() {
    let set = crate::sample();
    let reading = check::read(set);
    let defect_lines: HashSet<(&str, u64)> = reading
        .found
        .iter()
        .filter(|(_, _, k)| k != "nhs_number_spaced" && k != "utf8_bom" && k != "crlf_line_ends")
        .map(|(f, l, _)| (f.as_str(), *l))
        .collect();
    let contracts = Contracts::builtin();
    let digits = |s: &str| NhsNumber::parse(s).ok().map(|n| n.expose_digits().to_vec());

    let registered: HashSet<Vec<u8>> = reading
        .rows
        .iter()
        .filter(|r| r.extract == "gp_registrations")
        .filter_map(|r| digits(&r.fields[0]))
        .collect();
    // Births and deaths from the truth files.
    let patients = std::fs::read_to_string(set.join("truth/patients.csv")).unwrap();
    let mut life: HashMap<Vec<u8>, (NaiveDate, Option<NaiveDate>)> = HashMap::new();
    for l in patients.lines().skip(1) {
        let f: Vec<&str> = l.split(',').collect();
        let death = (!f[3].is_empty()).then(|| date(f[3], false));
        life.insert(f[0].as_bytes().to_vec(), (date(f[2], false), death));
    }
    assert_eq!(life.len(), 2000);
    assert_eq!(
        registered.len(),
        2000,
        "every patient has a registration row with a readable NHS number"
    );

    let mut checked = 0;
    for row in &reading.rows {
        if defect_lines.contains(&(row.file.as_str(), row.line)) {
            continue;
        }
        let fields = &row.fields;
        let nhs = digits(&fields[0]).unwrap();
        assert!(
            registered.contains(&nhs),
            "{}:{} belongs to nobody registered",
            row.file,
            row.line
        );
        let (born, died) = life[&nhs];
        let contract = contracts.get(&row.extract).unwrap();
        for (c, v) in contract.columns.iter().zip(fields) {
            if c.kind != phm_contract::ColumnType::Date || v.is_empty() || c.name == "date_of_birth"
            {
                continue;
            }
            let d = date(v, c.format.as_deref() == Some("%d/%m/%Y"));
            // GP records carry diagnoses from before birth? Never; activity never after death.
            assert!(
                d >= born,
                "{}:{} `{}` before birth",
                row.file,
                row.line,
                c.name
            );
            if let Some(died) = died {
                assert!(
                    d <= died,
                    "{}:{} `{}` after death",
                    row.file,
                    row.line,
                    c.name
                );
            }
            checked += 1;
        }
    }
    assert!(checked > 50_000, "{checked}");
}

#[test]
fn registrations_do_not_overlap_and_deaths_end_them() {
    let set = crate::sample();
    let reading = check::read(set);
    let mut by_patient: HashMap<String, Vec<(NaiveDate, Option<NaiveDate>, String)>> =
        HashMap::new();
    for r in reading
        .rows
        .iter()
        .filter(|r| r.extract == "gp_registrations")
    {
        let f = &r.fields;
        if reading.found.iter().any(|(file, line, k)| {
            file == &r.file && *line == r.line && k != "nhs_number_spaced" && k != "encoding"
        }) {
            continue;
        }
        let Ok(n) = NhsNumber::parse(&f[0]) else {
            continue;
        };
        let key = String::from_utf8(n.expose_digits().to_vec()).unwrap();
        let end = (!f[8].is_empty()).then(|| date(&f[8], false));
        by_patient
            .entry(key)
            .or_default()
            .push((date(&f[7], false), end, f[9].clone()));
    }
    let mut moves = 0;
    for (_, mut regs) in by_patient {
        regs.sort();
        for w in regs.windows(2) {
            let end = w[0].1.expect("an earlier registration has ended");
            assert!(end < w[1].0, "registrations overlap");
            assert_eq!(w[0].2, "transferred");
            moves += 1;
        }
        for (_, end, reason) in &regs {
            assert_eq!(end.is_some(), !reason.is_empty());
        }
    }
    assert!(
        moves > 20,
        "the sample has moves between practices: {moves}"
    );
}
