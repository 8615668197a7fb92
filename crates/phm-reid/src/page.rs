//! The printable GP list page (askama template `templates/gp-list.html`, escaped).

use askama::Template;

use crate::bundle::BundleJson;

/// One patient's row of the page.
struct PageRow {
    nhs: String,
    family: String,
    given: String,
    dob: String,
    sex: String,
    age: String,
    risk: String,
    tier: String,
    segment: String,
    reasons: Vec<String>,
}

#[derive(Template)]
#[template(path = "gp-list.html")]
struct GpList<'a> {
    practice: &'a str,
    run_id: &'a str,
    reference_date: &'a str,
    user: &'a str,
    reason: &'a str,
    time: &'a str,
    head: &'a str,
    rows: Vec<PageRow>,
}

/// The page for the GP list's cells (columns as [`crate::reid::COLUMNS`]).
pub fn gp_list(
    json: &BundleJson,
    user: &str,
    reason: &str,
    time: &str,
    head: &str,
    cells: &[[String; 12]],
) -> String {
    let rows = cells
        .iter()
        .map(|c| PageRow {
            nhs: spaced(&c[0]),
            family: c[1].clone(),
            given: c[2].clone(),
            dob: c[3].clone(),
            sex: c[4].clone(),
            age: c[5].clone(),
            risk: c[6].clone(),
            tier: c[7].replace('_', " "),
            segment: c[8].replace('_', " "),
            reasons: c[9..12].iter().filter(|r| !r.is_empty()).cloned().collect(),
        })
        .collect();
    let page = GpList {
        practice: &json.practice,
        run_id: &json.run_id,
        reference_date: &json.reference_date,
        user,
        reason,
        time,
        head,
        rows,
    };
    page.render()
        .unwrap_or_else(|e| format!("<!DOCTYPE html><p>the page could not be made: {e}</p>"))
}

/// `9991234567` → `999 123 4567`, as NHS numbers are printed.
fn spaced(digits: &str) -> String {
    if digits.len() == 10 {
        format!("{} {} {}", &digits[..3], &digits[3..6], &digits[6..])
    } else {
        digits.to_owned()
    }
}
