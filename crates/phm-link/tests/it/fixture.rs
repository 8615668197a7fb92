//! Twenty patients written by hand, each exercising a feature or an edge case, and the
//! feature table they must give, also written by hand.

use std::collections::BTreeMap;
use std::path::Path;

use phm_contract::NhsNumber;

/// The NHS number of fixture patient `k` (a valid test number).
fn nhs(k: u32) -> String {
    let mut prefix = 999_100_000 + k * 37;
    while phm_contract::nhs::check_digit_of_prefix(prefix).is_none() {
        prefix += 1;
    }
    format!(
        "{prefix}{}",
        phm_contract::nhs::check_digit_of_prefix(prefix).unwrap()
    )
}

fn write(dir: &Path, extract: &str, org: &str, header: &str, rows: &[String]) {
    let d = dir.join(extract);
    std::fs::create_dir_all(&d).unwrap();
    let mut body = format!("{header}\n");
    for r in rows {
        body.push_str(r);
        body.push('\n');
    }
    std::fs::write(d.join(format!("{org}.csv")), body).unwrap();
}

fn reg(
    k: u32,
    practice: &str,
    dob: &str,
    postcode: &str,
    start: &str,
    end: &str,
    reason: &str,
) -> String {
    format!(
        "{},{practice},Alex,Smith,{dob},F,{postcode},{start},{end},{reason}",
        nhs(k)
    )
}

fn spell(k: u32, spell: &str, episode: u32, adm: &str, dis: &str, method: &str) -> String {
    format!(
        "{},RAJ,H{k:08},{spell},{episode},{adm},{dis},{method},R69X,",
        nhs(k)
    )
}

const ADULT: &str = "1960-06-15";
const PC: &str = "LS1 0AB";

fn extracts(dir: &Path) {
    let mut regs_a = vec![];
    for k in [1, 2, 3, 4, 9, 10, 11, 12, 13, 14, 15, 16, 20] {
        regs_a.push(reg(k, "A81001", ADULT, PC, "2010-01-01", "", ""));
    }
    regs_a.push(reg(
        5,
        "A81001",
        ADULT,
        PC,
        "2015-01-01",
        "2023-06-30",
        "transferred",
    ));
    regs_a.push(reg(
        6,
        "A81001",
        ADULT,
        PC,
        "2010-01-01",
        "2025-01-15",
        "died",
    ));
    regs_a.push(reg(
        7,
        "A81001",
        ADULT,
        PC,
        "2010-01-01",
        "2024-12-01",
        "moved_away",
    ));
    regs_a.push(reg(8, "A81001", ADULT, PC, "2025-06-01", "", ""));
    regs_a.push(reg(17, "A81001", ADULT, PC, "2020-01-01", "", ""));
    regs_a.push(reg(
        18,
        "A81001",
        "1950-04-02",
        "ZZ9 9ZZ",
        "2010-01-01",
        "",
        "",
    ));
    let header_reg = "nhs_number,practice_code,given_name,family_name,date_of_birth,sex,postcode,registration_start,registration_end,registration_end_reason";
    write(dir, "gp_registrations", "A81001", header_reg, &regs_a);
    write(
        dir,
        "gp_registrations",
        "A81002",
        header_reg,
        &[reg(5, "A81002", ADULT, PC, "2023-07-10", "", "")],
    );
    write(
        dir,
        "gp_registrations",
        "A81003",
        header_reg,
        &[reg(17, "A81003", ADULT, PC, "2024-01-01", "", "")],
    );

    let ev = |k: u32, d: &str, code: &str, v: &str| format!("{},A81001,{d},{code},{v}", nhs(k));
    write(
        dir,
        "gp_events",
        "A81001",
        "nhs_number,practice_code,event_date,snomed_concept_id,numeric_value",
        &[
            ev(11, "2024-04-01", "308335008", ""),
            ev(11, "2024-05-01", "308335008", ""),
            ev(11, "2024-06-01", "308335008", ""),
            ev(11, "2024-07-01", "185317003", ""),
            ev(11, "2024-08-01", "439708006", ""),
            ev(11, "2024-08-01", "271649006", "140"),
            ev(19, "2024-08-01", "308335008", ""),
        ],
    );
    let med =
        |k: u32, d: &str, dmd: &str| format!("{},A81001,{d},{dmd},0206020A0AAAAAA,28", nhs(k));
    write(
        dir,
        "gp_medications",
        "A81001",
        "nhs_number,practice_code,issue_date,dmd_code,bnf_code,quantity",
        &[
            med(11, "2023-12-01", "320000003"),
            med(11, "2024-06-01", "319283006"),
            med(11, "2024-08-01", "319283006"),
            med(11, "2024-10-01", "319283006"),
            med(11, "2024-09-01", "325278007"),
        ],
    );
    write(
        dir,
        "apc",
        "RAJ",
        "nhs_number,provider_code,local_patient_id,spell_id,episode_number,admission_date,discharge_date,admission_method,primary_diagnosis,secondary_diagnoses",
        &[
            spell(2, "S02", 1, "2024-10-01", "2024-10-05", "21"),
            spell(3, "S03", 1, "2025-04-01", "2025-04-03", "21"),
            spell(4, "S04", 1, "2025-03-25", "2025-04-10", "22"),
            spell(6, "S06", 1, "2024-12-01", "2024-12-02", "21"),
            spell(9, "S09a", 1, "2024-06-01", "2024-06-01", "11"),
            spell(9, "S09b", 1, "2023-09-01", "2023-09-03", "12"),
            spell(9, "S09c", 1, "2023-05-01", "2023-05-11", "2A"),
            spell(13, "S13a", 1, "2025-06-01", "2025-06-03", "21"),
            spell(13, "S13b", 1, "2025-05-01", "2025-05-01", "11"),
            spell(14, "S14", 1, "2024-11-01", "2024-11-04", "21"),
            spell(14, "S14", 2, "2024-11-01", "2024-11-04", "21"),
            spell(15, "S15", 1, "2024-08-01", "2024-08-03", "31"),
            spell(19, "S19", 1, "2024-08-01", "2024-08-03", "21"),
            spell(20, "S20", 1, "2024-04-01", "2024-04-03", "21"),
        ],
    );
    let appt = |d: &str, s: &str| format!("{},RAJ,H00000010,{d},320,{s}", nhs(10));
    write(
        dir,
        "op",
        "RAJ",
        "nhs_number,provider_code,local_patient_id,appointment_date,treatment_function_code,attendance_status",
        &[
            appt("2024-04-01", "5"),
            appt("2024-04-02", "5"),
            appt("2024-07-01", "6"),
            appt("2024-09-01", "5"),
            appt("2024-10-01", "3"),
            appt("2024-11-01", "7"),
            appt("2024-12-01", "2"),
        ],
    );
    write(
        dir,
        "ecds",
        "RAJ",
        "nhs_number,provider_code,local_patient_id,arrival_date,arrival_mode,chief_complaint,discharge_destination",
        &[format!(
            "{},RAJ,H00000002,2024-10-01,1048031000000100,29857009,306706006",
            nhs(2)
        )],
    );
    write(
        dir,
        "ambulance",
        "RX8",
        "nhs_number,provider_code,incident_date,category,conveyed",
        &[
            format!("{},RX8,01/10/2024,2,Y", nhs(2)),
            format!("{},RX8,05/05/2024,3,N", nhs(16)),
            format!("{},RX8,06/06/2024,4,N", nhs(16)),
        ],
    );
    let contact = |d: &str, t: &str, org: &str| format!("{},{org},{d},{t}", nhs(12));
    write(
        dir,
        "community",
        "RY6",
        "nhs_number,provider_code,contact_date,team_type",
        &[
            contact("2024-03-01", "district_nursing", "RY6"),
            contact("2024-05-01", "district_nursing", "RY6"),
            contact("2024-06-01", "podiatry", "RY6"),
        ],
    );
    write(
        dir,
        "mental_health",
        "RGD",
        "nhs_number,provider_code,contact_date,service_type",
        &[
            contact("2024-05-01", "talking_therapies", "RGD"),
            contact("2024-07-01", "talking_therapies", "RGD"),
            contact("2025-04-01", "talking_therapies", "RGD"),
        ],
    );
}

/// The expected feature table, by patient, written by hand.
/// Columns: practice, age, age band, em12, em24, el12, el24, ebd12, ebd24, elbd12, elbd24,
/// ae, amb, conv, op attended, op dna, gp, medicines, community, mental health,
/// months since last emergency admission, emergency admission next 12 months.
type ExpectedRow = (
    u32,
    &'static str,
    i64,
    &'static str,
    [i64; 17],
    Option<i64>,
    i64,
);

const EXPECTED: &[ExpectedRow] = &[
    (
        1,
        "A81001",
        64,
        "60-64",
        [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        None,
        0,
    ),
    // Emergency stay of 4 nights in October, arriving by ambulance through A&E.
    (
        2,
        "A81001",
        64,
        "60-64",
        [1, 1, 0, 0, 4, 4, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0],
        Some(5),
        0,
    ),
    // Admitted on the reference date itself: counts, no nights yet.
    (
        3,
        "A81001",
        64,
        "60-64",
        [1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        Some(0),
        0,
    ),
    // A spell spanning the reference date counts nights up to it.
    (
        4,
        "A81001",
        64,
        "60-64",
        [1, 1, 0, 0, 7, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        Some(0),
        0,
    ),
    // Re-registered at another practice in 2023.
    (5, "A81002", 64, "60-64", [0; 17], None, 0),
    // Electives in each year, an emergency only in the long window.
    (
        9,
        "A81001",
        64,
        "60-64",
        [0, 1, 1, 2, 0, 10, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        Some(23),
        0,
    ),
    // Outpatients: the appointment on the window's first day is outside it (start < date).
    (
        10,
        "A81001",
        64,
        "60-64",
        [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 2, 0, 0, 0, 0],
        None,
        0,
    ),
    // GP encounters (a blood pressure reading is not one) and distinct medicines.
    (
        11,
        "A81001",
        64,
        "60-64",
        [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 2, 0, 0],
        None,
        0,
    ),
    // Community and mental health contacts; a contact on the reference date counts.
    (
        12,
        "A81001",
        64,
        "60-64",
        [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 3],
        None,
        0,
    ),
    // The outcome: an emergency admission after the reference date.
    (13, "A81001", 64, "60-64", [0; 17], None, 1),
    // Two episodes of one spell are one admission.
    (
        14,
        "A81001",
        64,
        "60-64",
        [1, 1, 0, 0, 3, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        Some(4),
        0,
    ),
    // Maternity is neither emergency nor elective.
    (15, "A81001", 64, "60-64", [0; 17], None, 0),
    // Ambulance incidents without conveyance.
    (
        16,
        "A81001",
        64,
        "60-64",
        [0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0],
        None,
        0,
    ),
    // Two overlapping registrations: the later start wins.
    (17, "A81003", 64, "60-64", [0; 17], None, 0),
    // Born 1950-04-02: 74 on 2025-04-01; a postcode the lookup lacks.
    (18, "A81001", 74, "70-74", [0; 17], None, 0),
    // Admitted on the 12-month window's start date: only in the 24-month window.
    (
        20,
        "A81001",
        64,
        "60-64",
        [0, 1, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        Some(11),
        0,
    ),
];

const COUNT_COLUMNS: [&str; 17] = [
    "emergency_admissions_12m",
    "emergency_admissions_24m",
    "elective_admissions_12m",
    "elective_admissions_24m",
    "emergency_bed_days_12m",
    "emergency_bed_days_24m",
    "elective_bed_days_12m",
    "elective_bed_days_24m",
    "ae_attendances_12m",
    "ambulance_incidents_12m",
    "ambulance_conveyances_12m",
    "outpatient_attendances_12m",
    "outpatient_dnas_12m",
    "gp_contacts_12m",
    "distinct_medicines_12m",
    "community_contacts_12m",
    "mental_health_contacts_12m",
];

#[test]
fn hand_built_fixture_gives_the_hand_written_feature_table() {
    let tmp = tempfile::tempdir().unwrap();
    let ex = tmp.path().join("extracts");
    extracts(&ex);
    let lookup = tmp.path().join("lookup.csv");
    std::fs::write(
        &lookup,
        "postcode,lsoa_code,imd_decile\nLS1 0AB,E01900001,3\n",
    )
    .unwrap();
    let run = crate::ingest(&ex, Some(&lookup), tmp.path());
    let n = crate::link(&run);
    assert_eq!(
        n,
        EXPECTED.len(),
        "patients 6 (died), 7 (moved away), 8 (registered later) and 19 (never registered) are not in the spine"
    );

    let key = crate::key();
    let mut p = phm_ingest::pseudo::Pseudonymiser::new(&key);
    let label: BTreeMap<String, u32> = (1..=20)
        .map(|k| {
            (
                p.pseudonym(&NhsNumber::parse(&nhs(k)).unwrap())
                    .as_str()
                    .to_owned(),
                k,
            )
        })
        .collect();

    let sql = format!(
        "SELECT pseudonym, practice_code, age, age_band, lsoa_code, imd_decile, {}, months_since_last_emergency_admission, emergency_admission_next_12m FROM features",
        COUNT_COLUMNS.join(", ")
    );
    let csv = phm_sql::query::run(
        &phm_run::RunLayout::at(&run),
        &sql,
        phm_sql::query::Format::Csv,
        None,
        &phm_sql::SessionSettings::default(),
    )
    .unwrap();
    let mut got: BTreeMap<u32, Vec<String>> = BTreeMap::new();
    for line in csv.lines().skip(1) {
        let f: Vec<String> = line.split(',').map(str::to_owned).collect();
        got.insert(label[&f[0]], f[1..].to_vec());
    }
    for (k, practice, age, band, counts, months, outcome) in EXPECTED {
        let row = &got[k];
        let (lsoa, decile) = if *k == 18 {
            ("", "")
        } else {
            ("E01900001", "3")
        };
        let mut want = vec![
            (*practice).to_owned(),
            age.to_string(),
            (*band).to_owned(),
            lsoa.to_owned(),
            decile.to_owned(),
        ];
        want.extend(counts.iter().map(i64::to_string));
        want.push(months.map(|m| m.to_string()).unwrap_or_default());
        want.push(outcome.to_string());
        assert_eq!(row, &want, "patient {k}");
    }
    // Rows come ordered by pseudonym.
    let order: Vec<&String> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap())
        .map(|p| label.get_key_value(p).unwrap().0)
        .collect();
    let mut sorted = order.clone();
    sorted.sort();
    assert_eq!(order, sorted);
}
