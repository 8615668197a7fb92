//! The hand-built fixture: patients written by hand, each exercising a rule of `sql/` or an
//! edge case, as extracts a trust or practice would send. What they must give is written by
//! hand in `sql/test/*.slt`.
//!
//! Patients 1-20 are the original fixture (`sql/test/fixture.slt`); 21-33 pin the spine's
//! registration rules, spells' first episode, and the windows' edges.

use std::path::Path;

/// The fixture's patients, `k` = 1..=PATIENTS.
pub const PATIENTS: u32 = 33;

/// The NHS number of fixture patient `k` (a valid test number).
pub fn nhs(k: u32) -> String {
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

pub fn extracts(dir: &Path) {
    let mut regs_a = vec![];
    for k in [
        1, 2, 3, 4, 9, 10, 11, 12, 13, 14, 15, 16, 20, 26, 27, 28, 30, 31,
    ] {
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
    // Registrations at the reference date's edges (sql/test/spine.slt).
    regs_a.push(reg(21, "A81001", ADULT, PC, "2020-01-01", "", ""));
    regs_a.push(reg(
        22,
        "A81001",
        ADULT,
        PC,
        "2010-01-01",
        "2025-04-01",
        "transferred",
    ));
    regs_a.push(reg(23, "A81001", ADULT, PC, "2025-04-01", "", ""));
    regs_a.push(reg(
        29,
        "A81001",
        ADULT,
        PC,
        "2010-01-01",
        "2025-03-31",
        "transferred",
    ));
    regs_a.push(reg(
        24,
        "A81001",
        ADULT,
        PC,
        "2010-01-01",
        "2025-04-01",
        "died",
    ));
    regs_a.push(reg(
        25,
        "A81001",
        ADULT,
        PC,
        "2010-01-01",
        "2025-05-01",
        "died",
    ));
    regs_a.push(reg(32, "A81001", "1960-04-01", PC, "2010-01-01", "", ""));
    regs_a.push(reg(33, "A81001", "1960-04-02", PC, "2010-01-01", "", ""));
    let header_reg = "nhs_number,practice_code,given_name,family_name,date_of_birth,sex,postcode,registration_start,registration_end,registration_end_reason";
    write(dir, "gp_registrations", "A81001", header_reg, &regs_a);
    write(
        dir,
        "gp_registrations",
        "A81002",
        header_reg,
        &[
            reg(5, "A81002", ADULT, PC, "2023-07-10", "", ""),
            // Two registrations from the same day: the later practice code wins.
            reg(21, "A81002", ADULT, PC, "2020-01-01", "", ""),
        ],
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
            // The first episode decides the type (sql/test/spells.slt), in whatever order
            // episodes come.
            spell(26, "S26", 1, "2024-09-01", "2024-09-05", "11"),
            spell(26, "S26", 2, "2024-09-01", "2024-09-05", "21"),
            spell(27, "S27", 2, "2024-12-10", "2024-12-12", "11"),
            spell(27, "S27", 1, "2024-12-10", "2024-12-12", "21"),
            // Window edges (sql/test/windows.slt).
            spell(28, "S28", 1, "2026-04-01", "2026-04-01", "21"),
            spell(30, "S30a", 1, "2023-04-01", "2023-04-03", "21"),
            spell(30, "S30b", 1, "2023-04-02", "2023-04-02", "21"),
            spell(31, "S31", 1, "2025-03-20", "", "21"),
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
