//! The `phm` binary as a user meets it: help, errors, and what it prints.

use crate::common::{PATIENT_EXTRACTS, text};
use std::process::{Command, Output};

fn phm(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_phm"))
        .args(args)
        .env_remove("PHM_LOG")
        .output()
        .unwrap()
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
    for name in PATIENT_EXTRACTS.into_iter().chain(["national_opt_out"]) {
        assert!(
            s.lines().any(|l| l.starts_with(name)),
            "{name} missing:\n{s}"
        );
    }
}

#[test]
fn key_new_writes_a_private_key_and_never_overwrites() {
    use std::os::unix::fs::PermissionsExt as _;
    let tmp = tempfile::tempdir().unwrap();
    let k = tmp.path().join("icb.key");
    let out = phm(&["key", "new", "--out", k.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        std::fs::metadata(&k).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let key_text = std::fs::read_to_string(&k).unwrap();
    assert!(
        !text(&out.stdout).contains(key_text.trim()),
        "the key is never printed"
    );
    let again = phm(&["key", "new", "--out", k.to_str().unwrap()]);
    assert_eq!(again.status.code(), Some(1));
    assert_eq!(std::fs::read_to_string(&k).unwrap(), key_text);
}

#[test]
fn ingest_refuses_a_key_others_can_read() {
    use std::os::unix::fs::PermissionsExt as _;
    let tmp = tempfile::tempdir().unwrap();
    let k = tmp.path().join("icb.key");
    assert!(
        phm(&["key", "new", "--out", k.to_str().unwrap()])
            .status
            .success()
    );
    std::fs::set_permissions(&k, std::fs::Permissions::from_mode(0o644)).unwrap();
    let demo = concat!(env!("CARGO_MANIFEST_DIR"), "/../../pipeline/demo.toml");
    let out = phm(&[
        "ingest",
        "--pipeline",
        demo,
        "--key",
        k.to_str().unwrap(),
        "--out",
        tmp.path().join("run").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(5), "refused");
    let err = text(&out.stderr);
    assert!(
        err.contains("chmod 600") && !tmp.path().join("run").exists(),
        "{err}"
    );
}

/// After ingest at the most verbose log level, no input NHS number (with or without spaces),
/// date of birth, full postcode or name occurs in the pseudonymised zone, the manifest, or
/// anything printed.
#[test]
fn ingest_leaks_no_identifier_into_outputs_manifest_or_logs() {
    use polars::prelude::*;
    let tmp = tempfile::tempdir().unwrap();
    let set = tmp.path().join("set");
    assert!(
        phm(&[
            "synth",
            "--patients",
            "400",
            "--practices",
            "3",
            "--out",
            set.to_str().unwrap()
        ])
        .status
        .success()
    );
    let k = tmp.path().join("k.key");
    assert!(
        phm(&["key", "new", "--out", k.to_str().unwrap()])
            .status
            .success()
    );
    let run = tmp.path().join("run");
    let out = phm(&[
        "-vvv",
        "ingest",
        "--extracts",
        set.join("extracts").to_str().unwrap(),
        "--postcode-lookup",
        set.join("lookups/postcode_lsoa.csv").to_str().unwrap(),
        "--key",
        k.to_str().unwrap(),
        "--reference-date",
        "2025-04-01",
        "--extract-date",
        "2026-04-01",
        "--out",
        run.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let logs = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(
        logs.contains("file ingested") && logs.contains("rows_in"),
        "verbose logs were written"
    );

    // Identifiers from the registrations.
    let mut ids: Vec<String> = Vec::new();
    for f in std::fs::read_dir(set.join("extracts/gp_registrations")).unwrap() {
        let body = String::from_utf8_lossy(&std::fs::read(f.unwrap().path()).unwrap()).into_owned();
        for line in body.lines().skip(1) {
            let v: Vec<&str> = line.split(',').collect();
            let nhs: String = v[0].chars().filter(char::is_ascii_digit).collect();
            if nhs.len() == 10 {
                ids.push(format!("{} {} {}", &nhs[..3], &nhs[3..6], &nhs[6..]));
                ids.push(nhs);
            }
            ids.extend([v[4].to_owned(), v[6].to_owned(), v[6].replace(' ', "")]);
            ids.extend(
                [v[2], v[3]]
                    .iter()
                    .filter(|n| n.chars().count() >= 4)
                    .map(|n| (*n).to_owned()),
            );
        }
    }
    // Provider record numbers and local patient ids from the hospital extracts (their
    // contracts' roles `record_id` and `direct_identifier`).
    for extract in ["apc", "op", "ecds"] {
        for f in phm_testkit::files_under(&set.join("extracts").join(extract), Some("csv")) {
            let body = String::from_utf8_lossy(&std::fs::read(f).unwrap()).into_owned();
            let mut lines = body.lines();
            let header: Vec<&str> = lines.next().unwrap_or_default().split(',').collect();
            let wanted: Vec<usize> = ["spell_id", "local_patient_id"]
                .iter()
                .filter_map(|c| header.iter().position(|h| h == c))
                .collect();
            for line in lines {
                let v: Vec<&str> = line.split(',').collect();
                ids.extend(
                    wanted
                        .iter()
                        .filter_map(|&i| v.get(i))
                        .map(|s| (*s).to_owned()),
                );
            }
        }
    }
    assert!(
        ids.iter().any(|i| i.starts_with('S')),
        "spell ids are looked for"
    );
    ids.retain(|s| s.len() >= 4);
    ids.sort();
    ids.dedup();
    assert!(ids.len() > 1000);

    // Everything in the pseudonymised zone, as text: manifest bytes and every string value.
    let mut haystack = logs;
    haystack.push_str(&std::fs::read_to_string(run.join("ingest-manifest.json")).unwrap());
    let mut datasets = 0;
    for p in phm_testkit::files_under(&run, Some("parquet")) {
        datasets += 1;
        let df = ParquetReader::new(std::fs::File::open(&p).unwrap())
            .finish()
            .unwrap();
        for c in df.columns() {
            haystack.push_str(c.name());
            if c.dtype() == &DataType::String {
                for v in c.str().unwrap().iter().flatten() {
                    haystack.push_str(v);
                    haystack.push('\n');
                }
            }
        }
    }
    assert!(datasets > 20);
    for id in &ids {
        assert!(
            !haystack.contains(id.as_str()),
            "an identifier of the input reached the pseudonymised zone or the logs"
        );
    }
}

/// A small extracts folder from the committed sample (one practice's GP events, one trust's
/// admitted care) plus `extra` files, and a key; returns (extracts folder, key file).
fn small_ingest_set(
    dir: &std::path::Path,
    extra: &[(&str, &[u8])],
) -> (std::path::PathBuf, std::path::PathBuf) {
    let extracts = dir.join("extracts");
    let sample = phm_testkit::repo_root().join("data-samples/synth/extracts");
    for file in ["gp_events/A81001.csv", "apc/RAJ.csv"] {
        std::fs::create_dir_all(extracts.join(file).parent().unwrap()).unwrap();
        std::fs::copy(sample.join(file), extracts.join(file)).unwrap();
    }
    for (file, body) in extra {
        std::fs::create_dir_all(extracts.join(file).parent().unwrap()).unwrap();
        std::fs::write(extracts.join(file), body).unwrap();
    }
    let key = dir.join("k.key");
    assert!(
        phm(&["key", "new", "--out", key.to_str().unwrap()])
            .status
            .success()
    );
    (extracts, key)
}

/// The arguments of `phm ingest` of `extracts` into `out` with the sample's dates.
fn ingest_args<'a>(
    extracts: &'a std::path::Path,
    key: &'a std::path::Path,
    out: &'a std::path::Path,
) -> Vec<&'a str> {
    vec![
        "ingest",
        "--extracts",
        extracts.to_str().unwrap(),
        "--key",
        key.to_str().unwrap(),
        "--reference-date",
        "2025-04-01",
        "--extract-date",
        "2026-04-01",
        "--out",
        out.to_str().unwrap(),
    ]
}

/// `phm ingest` of `extracts` into `out`, with more arguments.
fn ingest_into(
    extracts: &std::path::Path,
    key: &std::path::Path,
    out: &std::path::Path,
    more: &[&str],
) -> Output {
    let mut args = ingest_args(extracts, key, out);
    args.extend_from_slice(more);
    phm(&args)
}

/// Every folder and file under `dir` (itself included): (path, is a folder, mode).
fn modes(dir: &std::path::Path) -> Vec<(std::path::PathBuf, bool, u32)> {
    use std::os::unix::fs::PermissionsExt as _;
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let mut out = vec![(dir.to_owned(), true, mode(dir))];
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(modes(&path));
        } else {
            out.push((path.clone(), false, mode(&path)));
        }
    }
    out
}

#[test]
fn ingest_keeps_the_identifiable_zone_private_under_umask_022_and_refuses_a_readable_one() {
    use std::os::unix::fs::PermissionsExt as _;
    let tmp = tempfile::tempdir().unwrap();
    let (extracts, key) = small_ingest_set(tmp.path(), &[]);
    let run = tmp.path().join("run");
    let out = Command::new("sh")
        .arg("-c")
        .arg("umask 022 && exec \"$@\"")
        .arg("sh")
        .arg(env!("CARGO_BIN_EXE_phm"))
        .args(ingest_args(&extracts, &key, &run))
        .env_remove("PHM_LOG")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let identifiable = tmp.path().join("run-identifiable");
    let private = modes(&identifiable);
    assert!(
        private
            .iter()
            .any(|(p, dir, _)| !dir && p.extension().is_some_and(|x| x == "parquet"))
    );
    for (path, dir, mode) in &private {
        assert_eq!(
            *mode,
            if *dir { 0o700 } else { 0o600 },
            "{}",
            path.display()
        );
    }
    // The pseudonymised zone follows the umask.
    for (path, dir, mode) in &modes(&run) {
        assert_eq!(
            *mode,
            if *dir { 0o755 } else { 0o644 },
            "{}",
            path.display()
        );
    }

    std::fs::set_permissions(&identifiable, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = ingest_into(&extracts, &key, &run, &["--force"]);
    assert_eq!(out.status.code(), Some(5), "refused");
    let err = text(&out.stderr);
    assert!(
        err.contains(&format!("chmod 700 {}", identifiable.display())),
        "{err}"
    );
    assert_eq!(modes(&identifiable).len(), private.len(), "left as it was");
}

#[test]
fn ingest_refuses_existing_output_unless_forced() {
    let tmp = tempfile::tempdir().unwrap();
    let (extracts, key) = small_ingest_set(tmp.path(), &[]);
    let run = tmp.path().join("run");
    assert!(ingest_into(&extracts, &key, &run, &[]).status.success());
    let out = ingest_into(&extracts, &key, &run, &[]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("already exists") && err.contains("--force"),
        "{err}"
    );
    let out = ingest_into(&extracts, &key, &run, &["--force"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
}

#[test]
fn ingest_skips_rejected_files_when_asked_and_exits_with_3() {
    let tmp = tempfile::tempdir().unwrap();
    let (extracts, key) = small_ingest_set(
        tmp.path(),
        &[
            ("apc/RCF.csv", b""),
            ("ecds/RAJ.csv", b"\xff\xfe\x00\x01\n\x02"),
        ],
    );
    let run = tmp.path().join("run");

    // Stop, the default: an error naming both files, and nothing written.
    let out = ingest_into(&extracts, &key, &run, &[]);
    assert_eq!(out.status.code(), Some(4), "bad input");
    let err = text(&out.stderr);
    assert!(
        err.contains("apc/RCF.csv") && err.contains("ecds/RAJ.csv"),
        "{err}"
    );
    assert!(!run.exists() && !tmp.path().join("run-identifiable").exists());

    // Skip from the pipeline definition; the flag wins over it.
    let pipeline = tmp.path().join("p.toml");
    std::fs::write(&pipeline, "[ingest]\non_rejected_file = \"skip\"\n").unwrap();
    let p = pipeline.to_str().unwrap();
    let out = ingest_into(
        &extracts,
        &key,
        &run,
        &["--pipeline", p, "--on-rejected-file", "stop"],
    );
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));
    let out = ingest_into(&extracts, &key, &run, &["--pipeline", p]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("`apc/RCF.csv` (0 bytes, 0 lines)")
            && stdout.contains("`ecds/RAJ.csv` (6 bytes, 2 lines)"),
        "{stdout}"
    );
    let manifest = std::fs::read_to_string(run.join("ingest-manifest.json")).unwrap();
    assert!(manifest.contains("\"rejected_files\"") && manifest.contains("apc/RCF.csv"));
    assert!(run.join("pseudonymised/apc/RAJ.parquet").exists());
    assert!(!run.join("pseudonymised/ecds").exists());

    let help = text(&phm(&["ingest", "--help"]).stdout);
    assert!(
        help.contains("--on-rejected-file") && help.contains("3  completed with rejected files"),
        "{help}"
    );
}
