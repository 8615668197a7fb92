//! Integration tests of `phm-sql`: `phm query` reads a run and changes nothing in it.

mod query;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use phm_run::RunLayout;

/// A small run written by hand: two extracts and three published tables.
pub fn small_run(root: &Path) -> RunLayout {
    let run = RunLayout::at(root.join("run"));
    let tables: [(PathBuf, &str); 5] = [
        (
            run.extract_file("gp_registrations", "A81001"),
            "SELECT * FROM (VALUES ('p1', 'A81001', DATE '2010-01-01'), ('p2', 'A81001', DATE '2015-06-01')) AS t(pseudonym, practice_code, registration_start)",
        ),
        (
            run.extract_file("gp_events", "A81001"),
            "SELECT * FROM (VALUES ('p1', DATE '2024-05-01', '308335008')) AS t(pseudonym, event_date, snomed_concept_id)",
        ),
        (
            run.linked_table("spine"),
            "SELECT * FROM (VALUES ('p1', 'A81001', 64), ('p2', 'A81001', 40)) AS t(pseudonym, practice_code, age)",
        ),
        (
            run.linked_table("features"),
            "SELECT * FROM (VALUES ('p1', 1), ('p2', 0)) AS t(pseudonym, gp_contacts_12m)",
        ),
        (
            run.scores_file(),
            "SELECT * FROM (VALUES ('p1', 0.5), ('p2', 0.0)) AS t(pseudonym, efi)",
        ),
    ];
    phm_sql::block_on(async {
        let ctx = phm_sql::session(&phm_sql::SessionSettings::default())?;
        for (path, sql) in tables {
            let df = ctx.sql(sql).await.map_err(phm_sql::engine("fixture"))?;
            phm_sql::write_single_parquet(df, &path, "fixture").await?;
        }
        Ok::<_, phm_sql::SqlError>(())
    })
    .unwrap();
    run
}

/// Every file under a folder: relative path → BLAKE3 of its bytes.
pub fn hash_tree(root: &Path) -> BTreeMap<PathBuf, String> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let bytes = std::fs::read(&path).unwrap();
                out.insert(
                    path.strip_prefix(root).unwrap().to_owned(),
                    blake3::hash(&bytes).to_hex().to_string(),
                );
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}
