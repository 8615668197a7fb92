//! Every injected defect is in the extracts, and nothing else is wrong with them.

use std::collections::BTreeSet;

use crate::check;

pub fn truth(set: &std::path::Path) -> BTreeSet<(String, u64, String)> {
    let text = std::fs::read_to_string(set.join("truth/defects.csv")).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("file,line,kind,column,expected_reason"));
    lines
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            assert_eq!(f.len(), 5, "{l}");
            // Kept oddities have no expected reason; every other kind is its own reason.
            match f[2] {
                "nhs_number_spaced" | "utf8_bom" | "crlf_line_ends" => assert_eq!(f[4], "", "{l}"),
                kind => assert_eq!(f[4], kind, "{l}"),
            }
            (f[0].to_owned(), f[1].parse().unwrap(), f[2].to_owned())
        })
        .collect()
}

#[test]
fn defects_listed_are_exactly_the_defects_present() {
    let set = crate::sample();
    let listed = truth(set);
    let found = check::read(set).found;
    let missing: Vec<_> = listed.difference(&found).take(10).collect();
    let unlisted: Vec<_> = found.difference(&listed).take(10).collect();
    assert!(missing.is_empty(), "listed but not present: {missing:?}");
    assert!(unlisted.is_empty(), "present but not listed: {unlisted:?}");
    // The sample exercises every kind.
    let kinds: BTreeSet<&str> = listed.iter().map(|(_, _, k)| k.as_str()).collect();
    for k in [
        "nhs_number_invalid_check_digit",
        "nhs_number_wrong_length",
        "nhs_number_spaced",
        "missing_required",
        "date_unparseable",
        "date_in_future",
        "wrong_submitter",
        "duplicate_row",
        "encoding",
        "utf8_bom",
        "crlf_line_ends",
    ] {
        assert!(kinds.contains(k), "no `{k}` defect in the sample");
    }
}

#[test]
fn a_clean_set_has_no_defects_at_all() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("clean");
    let summary = phm_testkit::synth(&out, 1500, 4, 11, 0.0);
    assert!(summary.defects.is_empty(), "{:?}", summary.defects);
    assert_eq!(truth(&out).len(), 0);
    let found = check::read(&out).found;
    assert!(
        found.is_empty(),
        "{:?}",
        found.iter().take(5).collect::<Vec<_>>()
    );
}
