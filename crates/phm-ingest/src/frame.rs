//! Building the pseudonymised columns of an extract with polars: the NHS number becomes the
//! `pseudonym`, direct identifiers are dropped, quasi-identifiers are generalised, and dates,
//! integers and decimals get their types.

use polars::prelude::*;

use phm_contract::date::Day;
use phm_contract::{ColumnType, Contract, Generalise, PrivacyRole};

use crate::generalise::{self, PostcodeLookup};
use crate::validate::Row;

/// What one output column (or group of columns) is made from.
#[derive(Debug, Clone, Copy)]
enum Out {
    Pseudonym,
    Text(usize),
    Date(usize),
    Int(usize),
    Float(usize),
    /// Date of birth: `age`, `age_band`.
    Age(usize),
    /// Postcode: `lsoa_code`, `imd_decile`, `postcode_district`.
    Postcode(usize),
}

enum Builder {
    Str(StringChunkedBuilder),
    I32(PrimitiveChunkedBuilder<Int32Type>),
    I64(PrimitiveChunkedBuilder<Int64Type>),
    F64(PrimitiveChunkedBuilder<Float64Type>),
    Date(PrimitiveChunkedBuilder<Int32Type>),
}

impl Builder {
    fn finish(self) -> Column {
        match self {
            Builder::Str(b) => b.finish().into_series().into_column(),
            Builder::I32(b) => b.finish().into_series().into_column(),
            Builder::I64(b) => b.finish().into_series().into_column(),
            Builder::F64(b) => b.finish().into_series().into_column(),
            Builder::Date(b) => b.finish().into_date().into_series().into_column(),
        }
    }
}

/// The output layout of an extract, and rows being collected for it.
pub struct Frame {
    plan: Vec<Out>,
    names: Vec<(String, u8)>,
    builders: Vec<Builder>,
    rows: usize,
    reference: Day,
}

const STR: u8 = 0;
const I32: u8 = 1;
const I64: u8 = 2;
const F64: u8 = 3;
const DATE: u8 = 4;

impl Frame {
    /// The layout for a contract; ages are at `reference`.
    pub fn new(contract: &Contract, reference: Day) -> Self {
        let mut plan = vec![Out::Pseudonym];
        let mut names = vec![("pseudonym".to_owned(), STR)];
        for (i, c) in contract.columns.iter().enumerate() {
            let typed = |c: &phm_contract::Column| match c.kind {
                ColumnType::Date => (Out::Date(i), DATE),
                ColumnType::Integer => (Out::Int(i), I64),
                ColumnType::Decimal => (Out::Float(i), F64),
                _ => (Out::Text(i), STR),
            };
            match (c.role, c.generalise) {
                (PrivacyRole::DirectIdentifier, _) => {}
                (PrivacyRole::QuasiIdentifier, Some(Generalise::Age)) => {
                    plan.push(Out::Age(i));
                    names.push(("age".to_owned(), I32));
                    names.push(("age_band".to_owned(), STR));
                }
                (PrivacyRole::QuasiIdentifier, Some(Generalise::Lsoa)) => {
                    plan.push(Out::Postcode(i));
                    names.push(("lsoa_code".to_owned(), STR));
                    names.push(("imd_decile".to_owned(), I32));
                    names.push(("postcode_district".to_owned(), STR));
                }
                _ => {
                    let (out, kind) = typed(c);
                    plan.push(out);
                    names.push((c.name.clone(), kind));
                }
            }
        }
        let mut frame = Frame {
            plan,
            names,
            builders: Vec::new(),
            rows: 0,
            reference,
        };
        frame.builders = frame.fresh_builders();
        frame
    }

    fn fresh_builders(&self) -> Vec<Builder> {
        const CAP: usize = 1024;
        self.names
            .iter()
            .map(|(name, kind)| {
                let n = PlSmallStr::from(name.as_str());
                match *kind {
                    STR => Builder::Str(StringChunkedBuilder::new(n, CAP)),
                    I32 => Builder::I32(PrimitiveChunkedBuilder::new(n, CAP)),
                    I64 => Builder::I64(PrimitiveChunkedBuilder::new(n, CAP)),
                    F64 => Builder::F64(PrimitiveChunkedBuilder::new(n, CAP)),
                    _ => Builder::Date(PrimitiveChunkedBuilder::new(n, CAP)),
                }
            })
            .collect()
    }

    /// Rows collected since the last [`Frame::take`].
    pub fn len(&self) -> usize {
        self.rows
    }

    /// Whether no rows are waiting.
    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Add a valid row.
    pub fn push(&mut self, row: &Row, pseudonym: &str, lookup: &PostcodeLookup) {
        let mut b = self.builders.iter_mut();
        let mut next = || b.next().expect("one builder per output column");
        for out in &self.plan {
            match *out {
                Out::Pseudonym => str_b(next()).append_value(pseudonym),
                Out::Text(i) => {
                    let v = row.field(i);
                    let s = str_b(next());
                    if v.is_empty() {
                        s.append_null();
                    } else {
                        s.append_value(v);
                    }
                }
                Out::Date(i) => date_b(next()).append_option(row.dates[i]),
                Out::Int(i) => i64_b(next()).append_option(row.field(i).parse().ok()),
                Out::Float(i) => f64_b(next()).append_option(row.field(i).parse().ok()),
                Out::Age(i) => {
                    let age = row.dates[i].and_then(|dob| generalise::age(dob, self.reference));
                    i32_b(next()).append_option(age);
                    str_b(next()).append_option(age.map(generalise::age_band));
                }
                Out::Postcode(i) => {
                    let pc = row.field(i);
                    let found = (!pc.is_empty()).then(|| lookup.get(pc)).flatten();
                    str_b(next()).append_option(found.map(|(l, _)| l.as_str()));
                    i32_b(next()).append_option(found.map(|(_, d)| *d));
                    let district = if found.is_none() && !pc.is_empty() {
                        generalise::district(pc)
                    } else {
                        None
                    };
                    str_b(next()).append_option(district);
                }
            }
        }
        self.rows += 1;
    }

    /// The collected rows as a frame; the builders start again empty.
    pub fn take(&mut self) -> PolarsResult<DataFrame> {
        let fresh = self.fresh_builders();
        let builders = std::mem::replace(&mut self.builders, fresh);
        let height = std::mem::take(&mut self.rows);
        DataFrame::new(height, builders.into_iter().map(Builder::finish).collect())
    }
}

fn str_b(b: &mut Builder) -> &mut StringChunkedBuilder {
    match b {
        Builder::Str(s) => s,
        _ => unreachable!("planned as a string column"),
    }
}
fn i32_b(b: &mut Builder) -> &mut PrimitiveChunkedBuilder<Int32Type> {
    match b {
        Builder::I32(s) => s,
        _ => unreachable!("planned as an Int32 column"),
    }
}
fn i64_b(b: &mut Builder) -> &mut PrimitiveChunkedBuilder<Int64Type> {
    match b {
        Builder::I64(s) => s,
        _ => unreachable!("planned as an Int64 column"),
    }
}
fn f64_b(b: &mut Builder) -> &mut PrimitiveChunkedBuilder<Float64Type> {
    match b {
        Builder::F64(s) => s,
        _ => unreachable!("planned as a Float64 column"),
    }
}
fn date_b(b: &mut Builder) -> &mut PrimitiveChunkedBuilder<Int32Type> {
    match b {
        Builder::Date(s) => s,
        _ => unreachable!("planned as a Date column"),
    }
}
