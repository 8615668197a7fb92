//! A grant as SQL over the run's tables: the granted columns (dates coarsened), the granted
//! rows, and the patient each row belongs to.

use datafusion::arrow::datatypes::{DataType, Schema};
use phm_run::share::{DatePrecision, Grant, never_shared};

use crate::ShareError;

/// The column that carries the run's pseudonym of each row beside the granted columns, for
/// k-anonymity; it never reaches the extract.
pub const PATIENT: &str = "__phm_patient";

/// A table of the run, as a grant sees it.
pub struct Source<'a> {
    /// Its name.
    pub name: &'a str,
    /// Its schema.
    pub schema: &'a Schema,
    /// The `spine`'s schema, for row filters on a patient's spine columns.
    pub spine: Option<&'a Schema>,
}

/// `"name"`, quoted for SQL.
pub fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `'text'`, quoted for SQL.
fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

fn is_date(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Date32 | DataType::Date64 | DataType::Timestamp(_, _)
    )
}

/// The select list of a grant: each column, dates as `YYYY-MM` unless the grant keeps days.
fn select_list(
    grant: &Grant,
    source: &Source<'_>,
    recipient: &str,
) -> Result<Vec<String>, ShareError> {
    grant
        .columns
        .iter()
        .map(|c| {
            if let Some(why) = never_shared(c) {
                return Err(ShareError::Grant {
                    recipient: recipient.to_owned(),
                    table: source.name.to_owned(),
                    problem: format!("`{c}` is {why}: it is never shared"),
                });
            }
            let field = source
                .schema
                .field_with_name(c)
                .map_err(|_| ShareError::Grant {
                    recipient: recipient.to_owned(),
                    table: source.name.to_owned(),
                    problem: format!(
                        "it has no column `{c}`; its columns are {}",
                        source
                            .schema
                            .fields()
                            .iter()
                            .map(|f| format!("`{}`", f.name()))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                })?;
            Ok(
                if grant.dates == DatePrecision::Month && is_date(field.data_type()) {
                    format!("to_char({}, '%Y-%m') AS {}", ident(c), ident(c))
                } else {
                    ident(c)
                },
            )
        })
        .collect()
}

/// The `WHERE` of a grant's row filters (`TRUE` when it has none). A column the table lacks
/// is looked up on the patient's spine row.
fn row_filter(grant: &Grant, source: &Source<'_>, recipient: &str) -> Result<String, ShareError> {
    let mut terms = vec!["TRUE".to_owned()];
    for (column, values) in &grant.rows {
        let list = values
            .iter()
            .map(|v| literal(v))
            .collect::<Vec<_>>()
            .join(", ");
        let list = if list.is_empty() {
            "NULL".to_owned()
        } else {
            list
        };
        let test = format!("CAST({} AS VARCHAR) IN ({list})", ident(column));
        if source.schema.field_with_name(column).is_ok() {
            terms.push(test);
        } else if source.schema.field_with_name("pseudonym").is_ok()
            && source
                .spine
                .is_some_and(|s| s.field_with_name(column).is_ok())
        {
            terms.push(format!(
                "\"pseudonym\" IN (SELECT \"pseudonym\" FROM \"spine\" WHERE {test})"
            ));
        } else {
            return Err(ShareError::Grant {
                recipient: recipient.to_owned(),
                table: source.name.to_owned(),
                problem: format!(
                    "its row filter names `{column}`, which neither it nor the patient's `spine` row has"
                ),
            });
        }
    }
    Ok(terms.join(" AND "))
}

/// The query of a row-level grant: the granted columns and, when the table has patients, the
/// run's pseudonym as [`PATIENT`].
pub fn rows_sql(grant: &Grant, source: &Source<'_>, recipient: &str) -> Result<String, ShareError> {
    let mut select = select_list(grant, source, recipient)?;
    if source.schema.field_with_name("pseudonym").is_ok() {
        select.push(format!("\"pseudonym\" AS {}", ident(PATIENT)));
    }
    Ok(format!(
        "SELECT {} FROM {} WHERE {}",
        select.join(", "),
        ident(source.name),
        row_filter(grant, source, recipient)?
    ))
}

/// The query of an aggregates grant: patients by the granted columns (as text; a missing
/// value as `unknown`), in key order.
pub fn counts_sql(
    grant: &Grant,
    source: &Source<'_>,
    recipient: &str,
) -> Result<String, ShareError> {
    if source.schema.field_with_name("pseudonym").is_err() {
        return Err(ShareError::Grant {
            recipient: recipient.to_owned(),
            table: source.name.to_owned(),
            problem: "it has no patients to count (an aggregate already is one)".to_owned(),
        });
    }
    let inner = select_list(grant, source, recipient)?;
    let keys: Vec<String> = grant.columns.iter().map(|c| ident(c)).collect();
    let outer: Vec<String> = keys
        .iter()
        .map(|k| format!("COALESCE(CAST({k} AS VARCHAR), 'unknown') AS {k}"))
        .collect();
    Ok(format!(
        "SELECT {outer}, COUNT(DISTINCT {p}) AS \"patients\" FROM (SELECT {inner}, \"pseudonym\" AS {p} FROM {t} WHERE {w}) GROUP BY {keys} ORDER BY {keys}",
        outer = outer.join(", "),
        p = ident(PATIENT),
        inner = inner.join(", "),
        t = ident(source.name),
        w = row_filter(grant, source, recipient)?,
        keys = keys.join(", "),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::datatypes::Field;
    use phm_run::share::GrantLevel;
    use std::collections::BTreeMap;

    fn apc() -> Schema {
        Schema::new(vec![
            Field::new("pseudonym", DataType::Utf8, false),
            Field::new("provider_code", DataType::Utf8, false),
            Field::new("admission_date", DataType::Date32, true),
        ])
    }

    fn spine() -> Schema {
        Schema::new(vec![
            Field::new("pseudonym", DataType::Utf8, false),
            Field::new("lsoa_code", DataType::Utf8, true),
        ])
    }

    fn grant(columns: &[&str], rows: &[(&str, &[&str])]) -> Grant {
        Grant {
            table: "apc".to_owned(),
            columns: columns.iter().map(|c| (*c).to_owned()).collect(),
            rows: rows
                .iter()
                .map(|(c, v)| ((*c).to_owned(), v.iter().map(|x| (*x).to_owned()).collect()))
                .collect::<BTreeMap<_, _>>(),
            level: GrantLevel::Rows,
            dates: DatePrecision::Month,
            k: None,
        }
    }

    #[test]
    fn dates_are_months_and_residents_are_found_on_the_spine() {
        let (a, s) = (apc(), spine());
        let src = Source {
            name: "apc",
            schema: &a,
            spine: Some(&s),
        };
        let g = grant(
            &["pseudonym", "admission_date"],
            &[("lsoa_code", &["E01'1"]), ("provider_code", &["RXF"])],
        );
        let sql = rows_sql(&g, &src, "council").unwrap();
        assert!(
            sql.contains("to_char(\"admission_date\", '%Y-%m') AS \"admission_date\""),
            "{sql}"
        );
        assert!(sql.contains("\"pseudonym\" IN (SELECT \"pseudonym\" FROM \"spine\" WHERE CAST(\"lsoa_code\" AS VARCHAR) IN ('E01''1'))"), "{sql}");
        assert!(
            sql.contains("CAST(\"provider_code\" AS VARCHAR) IN ('RXF')"),
            "{sql}"
        );
        assert!(sql.contains("\"pseudonym\" AS \"__phm_patient\""), "{sql}");
    }

    #[test]
    fn unknown_and_never_shared_columns_are_errors_naming_them() {
        let a = apc();
        let src = Source {
            name: "apc",
            schema: &a,
            spine: None,
        };
        let e = rows_sql(&grant(&["spell_id"], &[]), &src, "trust")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("`spell_id`") && e.contains("never shared"),
            "{e}"
        );
        let e = rows_sql(&grant(&["ward"], &[]), &src, "trust")
            .unwrap_err()
            .to_string();
        assert!(e.contains("no column `ward`"), "{e}");
        let e = rows_sql(
            &grant(&["provider_code"], &[("lsoa_code", &["x"])]),
            &src,
            "trust",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("`lsoa_code`"), "{e}");
    }
}
