//! The `phm` binary as a user meets it: help, errors, and what it prints.

use std::process::{Command, Output};

fn phm(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_phm"))
        .args(args)
        .env_remove("PHM_LOG")
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Every ten-digit run starting 999 in a text (NHS numbers of the synthetic test range).
fn test_range_numbers(s: &str) -> Vec<String> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_digit() {
            let j = (i..b.len())
                .find(|&k| !b[k].is_ascii_digit())
                .unwrap_or(b.len());
            if j - i == 10 && s[i..].starts_with("999") {
                out.push(s[i..j].to_owned());
            }
            i = j;
        } else {
            i += 1;
        }
    }
    out
}

#[test]
fn synth_help_explains_outputs_numbers_and_examples() {
    let out = phm(&["synth", "--help"]);
    assert!(out.status.success());
    let help = text(&out.stdout);
    for needle in [
        "--patients",
        "--defect-rate",
        "truth/",
        "starting 998",
        "Examples:",
        "byte-identical",
    ] {
        assert!(help.contains(needle), "`{needle}` not in help:\n{help}");
    }
}

#[test]
fn synth_prints_a_summary_without_identifiers_even_when_verbose() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("s");
    let out = phm(&[
        "-vvv",
        "synth",
        "--patients",
        "300",
        "--practices",
        "3",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let stderr = text(&out.stderr);
    for needle in [
        "Age structure",
        "Condition prevalence",
        "oracle AUROC",
        "Defects injected",
        "Wrote",
    ] {
        assert!(stdout.contains(needle), "`{needle}` missing:\n{stdout}");
    }
    assert!(stderr.contains("synth finished"), "{stderr}");
    // The set's NHS numbers, postcodes and dates of birth appear in neither stream.
    let registrations = std::fs::read_dir(dir.join("extracts/gp_registrations")).unwrap();
    let mut identifiers = Vec::new();
    for f in registrations {
        let body = String::from_utf8_lossy(&std::fs::read(f.unwrap().path()).unwrap()).into_owned();
        for line in body.lines().skip(1) {
            let fields: Vec<&str> = line.split(',').collect();
            identifiers.extend([
                fields[0].to_owned(),
                fields[4].to_owned(),
                fields[6].to_owned(),
            ]);
        }
    }
    identifiers.retain(|s| s.len() >= 6);
    assert!(identifiers.len() > 600);
    for id in &identifiers {
        assert!(
            !stdout.contains(id.as_str()) && !stderr.contains(id.as_str()),
            "an identifier was printed"
        );
    }
    assert!(test_range_numbers(&stdout).is_empty() && test_range_numbers(&stderr).is_empty());
}

#[test]
fn existing_output_is_refused_with_a_hint() {
    let tmp = tempfile::tempdir().unwrap();
    let out = phm(&[
        "synth",
        "--patients",
        "10",
        "--out",
        tmp.path().to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("error:") && err.contains("already exists") && err.contains("hint:"),
        "{err}"
    );
}

#[test]
fn a_bad_date_names_the_format() {
    let out = phm(&["synth", "--as-of", "2025-13-01", "--out", "/nonexistent/x"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("YYYY-MM-DD"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn contracts_lists_every_extract() {
    let out = phm(&["contracts"]);
    assert!(out.status.success());
    let s = text(&out.stdout);
    for name in [
        "gp_registrations",
        "gp_events",
        "gp_medications",
        "apc",
        "op",
        "ecds",
        "ambulance",
        "community",
        "mental_health",
        "national_opt_out",
    ] {
        assert!(
            s.lines().any(|l| l.starts_with(name)),
            "{name} missing:\n{s}"
        );
    }
}
