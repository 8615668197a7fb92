//! The eFI by hand: events and medications per patient, and the deficits and score they must
//! give, written out here (reference date 2025-04-01; eFI = deficits / 36; Clegg 2016
//! categories).

use std::collections::BTreeMap;
use std::path::Path;

use phm_contract::NhsNumber;

/// The NHS number of fixture patient `k` (a valid test-range number).
fn nhs(k: u32) -> String {
    let mut prefix = 999_200_000 + k * 41;
    while phm_contract::nhs::check_digit_of_prefix(prefix).is_none() {
        prefix += 1;
    }
    format!(
        "{prefix}{}",
        phm_contract::nhs::check_digit_of_prefix(prefix).unwrap()
    )
}

fn write(dir: &Path, extract: &str, rows: &[String]) {
    let contracts = phm_contract::Contracts::builtin();
    let header = contracts.get(extract).unwrap().column_names().join(",");
    let d = dir.join(extract);
    std::fs::create_dir_all(&d).unwrap();
    let body: String = std::iter::once(header)
        .chain(rows.iter().cloned())
        .map(|l| l + "\n")
        .collect();
    std::fs::write(d.join("A81001.csv"), body).unwrap();
}

fn event(k: u32, date: &str, code: &str) -> String {
    format!("{},A81001,{date},{code},", nhs(k))
}

/// A dm+d-shaped code: `body` and its Verhoeff check digit (ingest refuses any other).
fn dmd(body: &str) -> String {
    let check = phm_contract::snomed::verhoeff_digit(body).unwrap();
    format!("{body}{check}")
}

fn issue(k: u32, date: &str, dmd: &str) -> String {
    format!("{},A81001,{date},{dmd},0501013B0AAABAB,28", nhs(k))
}

// One code from each of some eFI lists (codelists/efi/<deficit>.csv).
const ANAEMIA: &str = "3978000";
const FALLS: &str = "1912002";
const DIABETES: &str = "4855003";
const ARTHRITIS: &str = "3723001";
const HOUSEBOUND: &str = "160689007";
const STROKE: &str = "1508000";
const CKD: &str = "29738008";
const DIZZINESS: &str = "7956006";
const DYSPNOEA: &str = "60845006";
const HEARING: &str = "6012004";
const HEART_FAILURE: &str = "10633002";
const HYPERTENSION: &str = "1201005";
const MOBILITY: &str = "8510008";
const OSTEOPOROSIS: &str = "14651005";
const PARKINSONS: &str = "4223005";
// GP long-term condition codes (codelists/ltc/), in no eFI list.
const CANCER: &str = "363346000";
const DEPRESSION: &str = "35489007";
const MULTIPLE_SCLEROSIS: &str = "24700007";
/// Not in any eFI list (a blood pressure recording procedure).
const OTHER: &str = "271649006";

fn extracts(dir: &Path) {
    // Linkage reads every extract: the others are present and empty.
    for extract in [
        "apc",
        "op",
        "ecds",
        "ambulance",
        "community",
        "mental_health",
    ] {
        let contracts = phm_contract::Contracts::builtin();
        let header = contracts.get(extract).unwrap().column_names().join(",");
        let d = dir.join(extract);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("RAJ.csv"), header + "\n").unwrap();
    }
    let regs: Vec<String> = (1..=8)
        .map(|k| {
            format!(
                "{},A81001,Sam,Jones,1940-03-03,F,LS1 0AB,2000-01-01,,",
                nhs(k)
            )
        })
        .collect();
    write(dir, "gp_registrations", &regs);
    let mut events = vec![
        // 2: two deficits; a third coded the day after the reference date does not count.
        event(2, "2020-01-01", ANAEMIA),
        event(2, "2025-04-01", FALLS),
        event(2, "2025-04-02", DIABETES),
        // 2: cancer on the reference date counts; depression the day after does not.
        event(2, "2025-04-01", CANCER),
        event(2, "2025-04-02", DEPRESSION),
        // 3: two conditions, one coded twice.
        event(3, "2001-01-01", MULTIPLE_SCLEROSIS),
        event(3, "2002-02-02", DEPRESSION),
        event(3, "2003-03-03", DEPRESSION),
        // 5: the same deficit twice, and a code in no list: one deficit.
        event(5, "2019-05-05", ARTHRITIS),
        event(5, "2024-05-05", ARTHRITIS),
        event(5, "2024-05-05", OTHER),
    ];
    // 6: five deficits, mild (5/36 = 0.139).
    for c in [ANAEMIA, FALLS, DIABETES, ARTHRITIS, HOUSEBOUND] {
        events.push(event(6, "2015-02-02", c));
    }
    // 7: eleven coded deficits and polypharmacy, twelve: moderate (13/36 = 0.361 would be
    // severe).
    let eleven = [
        ANAEMIA,
        FALLS,
        DIABETES,
        ARTHRITIS,
        HOUSEBOUND,
        STROKE,
        CKD,
        DIZZINESS,
        DYSPNOEA,
        HEARING,
        HEART_FAILURE,
    ];
    events.extend(eleven.iter().map(|c| event(7, "2010-10-10", c)));
    // 8: the same eleven, four more and polypharmacy, sixteen: severe.
    let four_more = [HYPERTENSION, MOBILITY, OSTEOPOROSIS, PARKINSONS];
    events.extend(
        eleven
            .iter()
            .chain(&four_more)
            .map(|c| event(8, "2010-10-10", c)),
    );
    write(dir, "gp_events", &events);
    let mut issues = Vec::new();
    // 3: five distinct medicines in the 12 months: polypharmacy.
    for (i, d) in [
        "2024-04-02",
        "2024-08-01",
        "2024-12-01",
        "2025-02-01",
        "2025-04-01",
    ]
    .iter()
    .enumerate()
    {
        issues.push(issue(3, d, &dmd(&format!("9900{i}100000110"))));
    }
    // 4: four distinct in the window (one issued three times), a fifth on the window's first
    // day (excluded: the window is after 2024-04-01) and a sixth after the reference date.
    for (i, d) in ["2024-06-01", "2024-07-01", "2024-08-01", "2024-09-01"]
        .iter()
        .enumerate()
    {
        issues.push(issue(4, d, &dmd(&format!("9900{i}100000110"))));
    }
    issues.push(issue(4, "2024-10-01", &dmd("99000100000110")));
    issues.push(issue(4, "2024-11-01", &dmd("99000100000110")));
    issues.push(issue(4, "2024-04-01", &dmd("99009100000110")));
    issues.push(issue(4, "2025-04-02", &dmd("99008100000110")));
    // 7 and 8: polypharmacy.
    for k in [7, 8] {
        for i in 0..6 {
            issues.push(issue(k, "2025-01-15", &dmd(&format!("9901{i}100000110"))));
        }
    }
    write(dir, "gp_medications", &issues);
}

/// Patient → (deficits, eFI, category), by hand.
fn expected() -> BTreeMap<u32, (Vec<&'static str>, f64, &'static str)> {
    let sorted = |mut v: Vec<&'static str>| {
        v.sort_unstable();
        v
    };
    BTreeMap::from([
        (1, (vec![], 0.0, "fit")),
        (2, (sorted(vec!["anaemia", "falls"]), 2.0 / 36.0, "fit")),
        (3, (vec!["polypharmacy"], 1.0 / 36.0, "fit")),
        (4, (vec![], 0.0, "fit")),
        (5, (vec!["arthritis"], 1.0 / 36.0, "fit")),
        (
            6,
            (
                sorted(vec![
                    "anaemia",
                    "falls",
                    "diabetes",
                    "arthritis",
                    "housebound",
                ]),
                5.0 / 36.0,
                "mild",
            ),
        ),
        (
            7,
            (
                sorted(vec![
                    "anaemia",
                    "falls",
                    "diabetes",
                    "arthritis",
                    "housebound",
                    "stroke-tia",
                    "ckd",
                    "dizziness",
                    "dyspnoea",
                    "hearing-loss",
                    "heart-failure",
                    "polypharmacy",
                ]),
                12.0 / 36.0,
                "moderate",
            ),
        ),
        (
            8,
            (
                sorted(vec![
                    "anaemia",
                    "falls",
                    "diabetes",
                    "arthritis",
                    "housebound",
                    "stroke-tia",
                    "ckd",
                    "dizziness",
                    "dyspnoea",
                    "hearing-loss",
                    "heart-failure",
                    "hypertension",
                    "mobility-problems",
                    "osteoporosis",
                    "parkinsons",
                    "polypharmacy",
                ]),
                16.0 / 36.0,
                "severe",
            ),
        ),
    ])
}

#[test]
fn efi_deficits_and_categories_match_the_hand_made_fixture() {
    let tmp = tempfile::tempdir().unwrap();
    let ex = tmp.path().join("extracts");
    extracts(&ex);
    let run = crate::scored_run(&ex, None, tmp.path());
    let got = read_efi(&phm_run::RunLayout::at(&run).scores_file());
    let key = crate::key();
    let mut p = phm_ingest::pseudo::Pseudonymiser::new(&key);
    for (k, (deficits, value, category)) in expected() {
        let pseudonym = p
            .pseudonym(&NhsNumber::parse(&nhs(k)).unwrap())
            .as_str()
            .to_owned();
        let (got_deficits, got_value, got_category) = got
            .get(&pseudonym)
            .unwrap_or_else(|| panic!("patient {k} scored"));
        let mut got_deficits = got_deficits.clone();
        got_deficits.sort_unstable();
        assert_eq!(got_deficits, deficits, "patient {k}");
        assert!(
            (got_value - value).abs() < 1e-12,
            "patient {k}: {got_value} != {value}"
        );
        assert_eq!(got_category, category, "patient {k}");
    }
    assert_eq!(got.len(), 8);
}

/// pseudonym → (deficits, efi, category), read with DataFusion's Parquet reader.
fn read_efi(path: &Path) -> BTreeMap<String, (Vec<String>, f64, String)> {
    use datafusion::arrow::array::{Array, Float64Array, ListArray, StringArray};
    use datafusion::arrow::compute::cast;
    use datafusion::arrow::datatypes::DataType;
    let file = std::fs::File::open(path).unwrap();
    let reader =
        datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReader::try_new(file, 1024)
            .unwrap();
    let mut out = BTreeMap::new();
    for batch in reader {
        let batch = batch.unwrap();
        let col = |n: &str| batch.column_by_name(n).unwrap().clone();
        let text = |n: &str| cast(&col(n), &DataType::Utf8).unwrap();
        let pseudonyms = text("pseudonym");
        let pseudonyms = pseudonyms.as_any().downcast_ref::<StringArray>().unwrap();
        let categories = text("efi_category");
        let categories = categories.as_any().downcast_ref::<StringArray>().unwrap();
        let values = col("efi");
        let values = values.as_any().downcast_ref::<Float64Array>().unwrap();
        let deficits = col("efi_deficits");
        let deficits = deficits.as_any().downcast_ref::<ListArray>().unwrap();
        for row in 0..batch.num_rows() {
            let items = cast(&deficits.value(row), &DataType::Utf8).unwrap();
            let items = items.as_any().downcast_ref::<StringArray>().unwrap();
            let names = items.iter().flatten().map(str::to_owned).collect();
            out.insert(
                pseudonyms.value(row).to_owned(),
                (names, values.value(row), categories.value(row).to_owned()),
            );
        }
    }
    out
}

/// GP long-term conditions by hand: listed when a code of their list is recorded on or
/// before the reference date; no other patient has any.
#[test]
fn gp_long_term_conditions_are_listed_when_recorded_by_the_date() {
    use datafusion::arrow::array::{Array, ListArray, StringArray};
    use datafusion::arrow::compute::cast;
    use datafusion::arrow::datatypes::DataType;
    let tmp = tempfile::tempdir().unwrap();
    let ex = tmp.path().join("extracts");
    extracts(&ex);
    let run = crate::scored_run(&ex, None, tmp.path());
    let batch = phm_sql::read_table(&phm_run::RunLayout::at(&run).scores_file()).unwrap();
    let pseudonyms = cast(batch.column_by_name("pseudonym").unwrap(), &DataType::Utf8).unwrap();
    let pseudonyms = pseudonyms.as_any().downcast_ref::<StringArray>().unwrap();
    let lists = batch.column_by_name("gp_conditions").unwrap();
    let lists = lists.as_any().downcast_ref::<ListArray>().unwrap();
    let key = crate::key();
    let mut p = phm_ingest::pseudo::Pseudonymiser::new(&key);
    let expected: BTreeMap<u32, Vec<&str>> = BTreeMap::from([
        (2, vec!["cancer"]),
        (3, vec!["depression", "multiple-sclerosis"]),
    ]);
    for k in 1..=8 {
        let pseudonym = p.pseudonym(&NhsNumber::parse(&nhs(k)).unwrap());
        let row = (0..batch.num_rows())
            .find(|&r| pseudonyms.value(r) == pseudonym.as_str())
            .unwrap_or_else(|| panic!("patient {k} scored"));
        let items = cast(&lists.value(row), &DataType::Utf8).unwrap();
        let items = items.as_any().downcast_ref::<StringArray>().unwrap();
        let got: Vec<&str> = items.iter().flatten().collect();
        let want = expected.get(&k).cloned().unwrap_or_default();
        assert_eq!(got, want, "patient {k}");
    }
}
