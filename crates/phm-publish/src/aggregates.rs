//! The aggregates for analysts: practice x tier, practice x segment, PCN x segment, age band x
//! sex x tier and the population by age band and sex, placed in one frame with the relations
//! an attacker knows between them, protected together, and written as CSV and Parquet with row
//! and column totals and the rule stated in each file.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, Int64Array, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use phm_run::RunLayout;
use phm_run::atomic::{self, Privacy};

use crate::PublishError;
use crate::counts::RunCounts;
use crate::frame::{Frame, Grid, GridId, Table};
use crate::sdc::Rule;

/// The aggregate tables, in the order they are written.
pub const TABLES: [&str; 5] = [
    "practice_tier",
    "practice_segment",
    "pcn_segment",
    "age_sex_tier",
    "population_age_sex",
];

/// What a PCN is called when a practice is in none of `[publish] pcns`.
pub const UNASSIGNED_PCN: &str = "unassigned";

/// How a redacted cell is written in CSV.
pub const REDACTED: &str = "[REDACTED]";

/// The grids of the aggregates placed in a frame.
#[derive(Debug, Clone, Copy)]
pub struct AggregateGrids {
    /// practice x tier.
    pub practice_tier: GridId,
    /// practice x segment.
    pub practice_segment: GridId,
    /// PCN x segment.
    pub pcn_segment: GridId,
    /// age band x sex x tier.
    pub age_sex_tier: GridId,
    /// age band x sex (the pyramid).
    pub population: GridId,
}

/// Place the aggregates and score distributions in `frame`, with every relation between them.
pub fn place(
    frame: &mut Frame,
    counts: &RunCounts,
    tiers: &[String],
    pcns: &BTreeMap<String, Vec<String>>,
) -> Result<(AggregateGrids, Vec<GridId>), PublishError> {
    let segments: Vec<String> = counts
        .patients
        .iter()
        .map(|p| p.segment.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let sexes: Vec<String> = counts
        .patients
        .iter()
        .map(|p| p.sex.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let pcn_of: BTreeMap<&str, &str> = pcns
        .iter()
        .flat_map(|(pcn, practices)| practices.iter().map(move |p| (p.as_str(), pcn.as_str())))
        .collect();
    let mut practice_tier = Grid::new("practice_tier", &["practice_code"], tiers.to_vec());
    let mut practice_segment = Grid::new("practice_segment", &["practice_code"], segments.clone());
    let mut pcn_segment = Grid::new("pcn_segment", &["pcn"], segments.clone());
    let mut age_sex_tier = Grid::new("age_sex_tier", &["age_band", "sex"], tiers.to_vec());
    let mut population = Grid::new("population_age_sex", &["age_band"], sexes.clone());
    // Rows in a stable order: practices and PCNs sorted, age bands by age.
    let mut by_age: Vec<_> = counts.patients.iter().collect();
    by_age.sort_by(|a, b| (a.min_age, &a.sex).cmp(&(b.min_age, &b.sex)));
    for p in &by_age {
        age_sex_tier.row(&[&p.age_band, &p.sex]);
        population.row(&[&p.age_band]);
    }
    let mut practices: Vec<&str> = counts
        .patients
        .iter()
        .map(|p| p.practice.as_str())
        .collect();
    practices.sort_unstable();
    practices.dedup();
    for p in &practices {
        practice_tier.row(&[p]);
        practice_segment.row(&[p]);
    }
    for pcn in pcns.keys() {
        pcn_segment.row(&[pcn]);
    }
    for p in &counts.patients {
        let pcn = pcn_of
            .get(p.practice.as_str())
            .copied()
            .unwrap_or(UNASSIGNED_PCN);
        practice_tier
            .add(&[&p.practice], &p.tier, p.n)
            .map_err(PublishError::Data)?;
        practice_segment
            .add(&[&p.practice], &p.segment, p.n)
            .map_err(PublishError::Data)?;
        pcn_segment
            .add(&[pcn], &p.segment, p.n)
            .map_err(PublishError::Data)?;
        age_sex_tier
            .add(&[&p.age_band, &p.sex], &p.tier, p.n)
            .map_err(PublishError::Data)?;
        population
            .add(&[&p.age_band], &p.sex, p.n)
            .map_err(PublishError::Data)?;
    }
    let patients = practice_tier.total();
    let pt = frame.add(practice_tier);
    let ps = frame.add(practice_segment);
    let pcn = frame.add(pcn_segment);
    let ast = frame.add(age_sex_tier);
    let pop = frame.add(population);
    // A practice's patients: its tier row and its segment row.
    for r in 0..frame.grid(pt).rows.len() {
        let (a, b) = (frame.row_cells(pt, r), frame.row_cells(ps, r));
        frame.relate(a, b);
    }
    // A PCN's segment cell: its practices' cells of that segment.
    for (r, key) in frame.grid(pcn).rows.clone().iter().enumerate() {
        for (c, segment) in segments.iter().enumerate() {
            let members = frame.cells_where(ps, |k, col| {
                col == segment
                    && pcn_of.get(k[0].as_str()).copied().unwrap_or(UNASSIGNED_PCN) == key[0]
            });
            let cell = frame.cells_where(pcn, |k, col| k[0] == key[0] && col == segment);
            debug_assert_eq!(cell.len(), 1, "row {r} column {c}");
            frame.relate(cell, members);
        }
    }
    // The ICB's tier totals: by practice and by age and sex.
    for c in 0..tiers.len() {
        let (a, b) = (frame.column_cells(pt, c), frame.column_cells(ast, c));
        frame.relate(a, b);
    }
    // The pyramid: each age band and sex, across tiers.
    for (r, key) in frame.grid(ast).rows.clone().iter().enumerate() {
        let tiers_row = frame.row_cells(ast, r);
        let cell = frame.cells_where(pop, |k, col| k[0] == key[0] && col == key[1]);
        frame.relate(tiers_row, cell);
    }
    // Score distributions all count the scored patients, and the same patients as the tiers
    // when their totals agree (said conservatively: an attacker may know they do).
    let mut scores: Vec<GridId> = Vec::new();
    for d in &counts.scores {
        let mut g = Grid::new(&d.score, &["bin"], vec!["patients".to_owned()]);
        for (bin, n) in &d.bins {
            g.add(&[bin], "patients", *n).map_err(PublishError::Data)?;
        }
        let same = g.total() == patients;
        let id = frame.add(g);
        if let Some(first) = scores.first() {
            let (a, b) = (frame.all_cells(id), frame.all_cells(*first));
            frame.relate(a, b);
        }
        if same {
            let (a, b) = (frame.all_cells(id), frame.all_cells(pt));
            frame.relate(a, b);
        }
        scores.push(id);
    }
    Ok((
        AggregateGrids {
            practice_tier: pt,
            practice_segment: ps,
            pcn_segment: pcn,
            age_sex_tier: ast,
            population: pop,
        },
        scores,
    ))
}

/// The rule as each file states it.
pub fn statement(rule: Rule) -> String {
    format!(
        "Statistical disclosure control: counts of 1 to {t} are redacted ({REDACTED}); every other count is rounded to the nearest {b}; totals are sums of the published (rounded) cells. Further cells are redacted where needed so that no redacted count can be narrowed to fewer than {t} values from anything published with it.",
        t = rule.threshold,
        b = rule.base
    )
}

/// Write one aggregate as `<name>.csv` and `<name>.parquet` in the run's aggregates folder.
pub fn write(run: &RunLayout, table: &Table, rule: Rule) -> Result<(), PublishError> {
    write_in(&run.aggregates(), table, rule, Privacy::Shared)
}

/// Write one aggregate as `<name>.csv` and `<name>.parquet` in `dir` (a recipient's extract:
/// `phm share`), files with `privacy`.
pub fn write_in(
    dir: &Path,
    table: &Table,
    rule: Rule,
    privacy: Privacy,
) -> Result<(), PublishError> {
    let dir = dir.to_owned();
    atomic::create_dir_all(&dir, privacy).map_err(|e| PublishError::Io {
        path: dir.clone(),
        source: e,
    })?;
    let csv = to_csv(table, rule);
    let path = dir.join(format!("{}.csv", table.name));
    atomic::write_file(&path, csv.as_bytes(), privacy)
        .map_err(|e| PublishError::Io { path, source: e })?;
    write_parquet(&dir.join(format!("{}.parquet", table.name)), table, rule)
}

fn csv_field(v: &str) -> String {
    if v.contains([',', '"', '\n', '\r']) || v.starts_with('#') {
        format!("\"{}\"", v.replace('"', "\"\""))
    } else {
        v.to_owned()
    }
}

/// The CSV form: a `#` line stating the rule, a header, rows with a total, a total row.
pub fn to_csv(table: &Table, rule: Rule) -> String {
    let mut out = format!("# {}\n", statement(rule));
    let header: Vec<String> = table
        .keys
        .iter()
        .chain(&table.columns)
        .map(|h| csv_field(h))
        .chain(std::iter::once("total".to_owned()))
        .collect();
    out.push_str(&header.join(","));
    out.push('\n');
    for row in &table.rows {
        let fields: Vec<String> = row
            .key
            .iter()
            .map(|k| csv_field(k))
            .chain(
                row.cells
                    .iter()
                    .map(|c| c.map_or_else(|| REDACTED.to_owned(), |n| n.to_string())),
            )
            .chain(std::iter::once(row.total.to_string()))
            .collect();
        out.push_str(&fields.join(","));
        out.push('\n');
    }
    let totals: Vec<String> = table
        .keys
        .iter()
        .map(|_| "total".to_owned())
        .chain(table.column_totals.iter().map(u64::to_string))
        .chain(std::iter::once(table.total.to_string()))
        .collect();
    out.push_str(&totals.join(","));
    out.push('\n');
    out
}

fn write_parquet(path: &Path, table: &Table, rule: Rule) -> Result<(), PublishError> {
    let mut fields = Vec::new();
    let mut arrays: Vec<ArrayRef> = Vec::new();
    for (i, key) in table.keys.iter().enumerate() {
        fields.push(Field::new(key, DataType::Utf8, false));
        arrays.push(Arc::new(StringArray::from_iter_values(
            table
                .rows
                .iter()
                .map(|r| r.key[i].as_str())
                .chain(std::iter::once("total")),
        )));
    }
    let int = |v: Vec<Option<u64>>| -> ArrayRef {
        Arc::new(
            v.into_iter()
                .map(|x| x.map(|n| n as i64))
                .collect::<Int64Array>(),
        )
    };
    for (c, column) in table.columns.iter().enumerate() {
        fields.push(Field::new(column, DataType::Int64, true));
        arrays.push(int(table
            .rows
            .iter()
            .map(|r| r.cells[c])
            .chain(std::iter::once(Some(table.column_totals[c])))
            .collect()));
    }
    fields.push(Field::new("total", DataType::Int64, false));
    arrays.push(int(table
        .rows
        .iter()
        .map(|r| Some(r.total))
        .chain(std::iter::once(Some(table.total)))
        .collect()));
    let schema = Arc::new(
        Schema::new(fields)
            .with_metadata([("phm.disclosure_control".to_owned(), statement(rule))].into()),
    );
    let batch = RecordBatch::try_new(schema.clone(), arrays)
        .map_err(|e| PublishError::Data(format!("`{}`: {e}", table.name)))?;
    phm_sql::write_batches(
        schema,
        [batch],
        path,
        &table.name,
        phm_sql::published_compression(),
    )?;
    Ok(())
}
