//! Building the pseudonymised columns of an extract as polars' arrow arrays: the NHS number
//! becomes the `pseudonym`, direct identifiers are dropped, quasi-identifiers are generalised,
//! provider record numbers are keyed, and dates, integers and decimals get their types.
//!
//! Text columns (the pseudonym, codes, bands) are built dictionary-encoded as they are
//! filled: each distinct value of a batch is stored once and rows hold its index, so a
//! patient's 64-character pseudonym is not copied for every row of theirs and the Parquet
//! writer gets its dictionary without hashing every value again. A column whose values are
//! mostly distinct in a batch (a pseudonym in a registrations file) is written plain.
//! Readers see ordinary string columns either way: Parquet's dictionary pages are an
//! encoding, not a type.

use std::sync::Arc;

use polars_arrow::array::{
    Array, DictionaryArray, ListArray, MutableBinaryViewArray, PrimitiveArray, Utf8ViewArray,
};
use polars_arrow::bitmap::MutableBitmap;
use polars_arrow::datatypes::{ArrowDataType, ArrowSchema, Field, IntegerType};
use polars_arrow::offset::OffsetsBuffer;
use polars_arrow::types::NativeType;
use polars_parquet::write::Encoding;

use phm_contract::date::Day;
use phm_contract::{ColumnType, Contract, Generalise, NhsNumber, PrivacyRole};

use crate::fasthash::{FastMap, nhs_key};
use crate::generalise::{self, PostcodeLookup};
use crate::pseudo::Pseudonymiser;
use crate::validate::Row;

/// What one output column (or group of columns) is made from.
#[derive(Debug, Clone, Copy)]
enum Out {
    Pseudonym,
    /// The submitter's column: every valid row names the submitter, so one value.
    Submitter,
    Text(usize),
    /// A provider's record number: its keyed hash.
    Record(usize),
    /// An ICD-10 code: normalised ([`phm_contract::icd10`]).
    Icd10(usize),
    /// ICD-10 codes in one field, split on the separator: a list of normalised codes, those
    /// that cannot be read left out (and counted).
    Icd10List(usize),
    Date(usize),
    Int(usize),
    Float(usize),
    /// Date of birth: `age`, `age_band`.
    Age(usize),
    /// Postcode: `lsoa_code`, `imd_decile`, `postcode_district`.
    Postcode(usize),
}

/// One batch of rows, ready for the Parquet writer.
pub struct Batch {
    /// Rows.
    pub len: usize,
    /// One array per field of [`Frame::schema`].
    pub arrays: Vec<Box<dyn Array>>,
    /// The Parquet encoding of each array.
    pub encodings: Vec<Encoding>,
}

/// The output layout of an extract, and rows being collected for it.
pub struct Frame {
    plan: Vec<Out>,
    schema: Arc<ArrowSchema>,
    columns: Vec<Column>,
    rows: usize,
    reference: Day,
    submitter: String,
    /// Each contract column's list separator (`;` where it has none).
    separators: Vec<String>,
}

/// The type of a list of codes: `LargeList<Utf8View>` (a list of strings to every reader).
fn code_list_type() -> ArrowDataType {
    ArrowDataType::LargeList(Box::new(Field::new(
        "item".into(),
        ArrowDataType::Utf8View,
        true,
    )))
}

impl Frame {
    /// The layout for a contract; ages are at `reference`.
    /// Room is made for `rows` rows a batch up front, so columns are not regrown (and
    /// copied) as they fill.
    pub fn new(contract: &Contract, submitter: &str, reference: Day, rows: usize) -> Self {
        let mut plan = vec![Out::Pseudonym];
        let mut fields = vec![("pseudonym", ArrowDataType::Utf8View)];
        for (i, c) in contract.columns.iter().enumerate() {
            match (c.role, c.generalise) {
                (PrivacyRole::DirectIdentifier, _) => {}
                (PrivacyRole::RecordId, _) => {
                    plan.push(Out::Record(i));
                    fields.push((c.name.as_str(), ArrowDataType::Utf8View));
                }
                (PrivacyRole::QuasiIdentifier, Some(Generalise::Age)) => {
                    plan.push(Out::Age(i));
                    fields.push(("age", ArrowDataType::Int32));
                    fields.push(("age_band", ArrowDataType::Utf8View));
                }
                (PrivacyRole::QuasiIdentifier, Some(Generalise::Lsoa)) => {
                    plan.push(Out::Postcode(i));
                    fields.push(("lsoa_code", ArrowDataType::Utf8View));
                    fields.push(("imd_decile", ArrowDataType::Int32));
                    fields.push(("postcode_district", ArrowDataType::Utf8View));
                }
                _ if contract.submitter_index() == Some(i) => {
                    plan.push(Out::Submitter);
                    fields.push((c.name.as_str(), ArrowDataType::Utf8View));
                }
                _ => {
                    let (out, dtype) = match c.kind {
                        ColumnType::Icd10 => (Out::Icd10(i), ArrowDataType::Utf8View),
                        ColumnType::Icd10List => (Out::Icd10List(i), code_list_type()),
                        ColumnType::Date => (Out::Date(i), ArrowDataType::Date32),
                        ColumnType::Integer => (Out::Int(i), ArrowDataType::Int64),
                        ColumnType::Decimal => (Out::Float(i), ArrowDataType::Float64),
                        _ => (Out::Text(i), ArrowDataType::Utf8View),
                    };
                    plan.push(out);
                    fields.push((c.name.as_str(), dtype));
                }
            }
        }
        let columns = fields.iter().map(|(_, t)| Column::new(t, rows)).collect();
        let schema = fields
            .into_iter()
            .map(|(name, dtype)| (name.into(), Field::new(name.into(), dtype, true)))
            .collect();
        let separators = contract
            .columns
            .iter()
            .map(|c| c.separator.clone().unwrap_or_else(|| ";".to_owned()))
            .collect();
        Frame {
            plan,
            schema: Arc::new(schema),
            columns,
            rows: 0,
            reference,
            submitter: submitter.to_owned(),
            separators,
        }
    }

    /// The output columns (strings are `Utf8View`, whatever their encoding).
    pub fn schema(&self) -> &Arc<ArrowSchema> {
        &self.schema
    }

    /// Rows collected since the last [`Frame::take`].
    pub fn len(&self) -> usize {
        self.rows
    }

    /// Whether no rows are waiting.
    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Add a valid row; returns the codes of code lists that could not be read and were left
    /// out, as (contract column, how many).
    pub fn push(
        &mut self,
        row: &Row,
        pseudonymiser: &mut Pseudonymiser<'_>,
        lookup: &PostcodeLookup,
    ) -> Option<(usize, u64)> {
        let mut dropped = None;
        let mut columns = self.columns.iter_mut();
        let mut next = || columns.next().expect("one column per output field");
        for out in &self.plan {
            match *out {
                Out::Pseudonym => next().pseudonym(row.nhs(), pseudonymiser),
                Out::Submitter => next().submitter(&self.submitter),
                Out::Text(i) => {
                    let v = row.field(i);
                    next().text((!v.is_empty()).then_some(v));
                }
                Out::Record(i) => {
                    let v = row.field(i);
                    let keyed = (!v.is_empty()).then(|| pseudonymiser.record_id(v));
                    next().text(keyed.as_ref().map(crate::pseudo::Pseudonym::as_str));
                }
                Out::Icd10(i) => {
                    let code = phm_contract::icd10::normalise(row.field(i));
                    next().text(code.as_ref().map(phm_contract::icd10::Icd10::as_str));
                }
                Out::Icd10List(i) => {
                    let field = row.field(i);
                    // Empty pieces (`I10X;`, `;;`) are no codes, not unreadable ones.
                    let raw: Vec<&str> = field
                        .split(self.separators[i].as_str())
                        .filter(|c| !c.trim().is_empty())
                        .collect();
                    let codes: Vec<_> = raw
                        .iter()
                        .filter_map(|c| phm_contract::icd10::normalise(c))
                        .collect();
                    let left_out = (raw.len() - codes.len()) as u64;
                    if left_out > 0 {
                        let before = dropped.map_or(0, |(_, n)| n);
                        dropped = Some((dropped.map_or(i, |(c, _)| c), before + left_out));
                    }
                    next().codes(codes.iter().map(phm_contract::icd10::Icd10::as_str));
                }
                Out::Date(i) => next().date(row.dates[i]),
                Out::Int(i) => next().int64(row.field(i).parse().ok()),
                Out::Float(i) => next().float64(row.decimals[i]),
                Out::Age(i) => {
                    let age = row.dates[i].and_then(|dob| generalise::age(dob, self.reference));
                    next().int32(age);
                    next().text(age.map(generalise::age_band).as_deref());
                }
                Out::Postcode(i) => {
                    let pc = row.field(i);
                    let found = (!pc.is_empty()).then(|| lookup.get(pc)).flatten();
                    next().text(found.map(|(l, _)| l.as_str()));
                    next().int32(found.map(|(_, d)| *d));
                    let district = if found.is_none() && !pc.is_empty() {
                        generalise::district(pc)
                    } else {
                        None
                    };
                    next().text(district.as_deref());
                }
            }
        }
        self.rows += 1;
        dropped
    }

    /// The collected rows as arrays; the columns start again empty.
    pub fn take(&mut self) -> Batch {
        let len = std::mem::take(&mut self.rows);
        let (arrays, encodings) = self
            .columns
            .iter_mut()
            .zip(self.schema.iter_values())
            .map(|(c, f)| std::mem::replace(c, Column::new(&f.dtype, len)).finish(&f.dtype))
            .unzip();
        Batch {
            len,
            arrays,
            encodings,
        }
    }
}

/// One output column being filled.
enum Column {
    Text(Box<Dictionary>),
    /// A list of strings a row.
    List(Box<Codes>),
    I32(Numbers<i32>),
    I64(Numbers<i64>),
    F64(Numbers<f64>),
}

impl Column {
    fn new(dtype: &ArrowDataType, rows: usize) -> Self {
        match dtype {
            ArrowDataType::Utf8View => Column::Text(Box::new(Dictionary {
                keys: Vec::with_capacity(rows),
                valid: MutableBitmap::with_capacity(rows),
                ..Dictionary::default()
            })),
            ArrowDataType::LargeList(_) => Column::List(Box::new(Codes {
                offsets: {
                    let mut o = Vec::with_capacity(rows + 1);
                    o.push(0);
                    o
                },
                values: MutableBinaryViewArray::with_capacity(rows),
            })),
            ArrowDataType::Int64 => Column::I64(Numbers::with_capacity(rows)),
            ArrowDataType::Float64 => Column::F64(Numbers::with_capacity(rows)),
            _ => Column::I32(Numbers::with_capacity(rows)),
        }
    }

    fn text(&mut self, v: Option<&str>) {
        match self {
            Column::Text(d) => d.push(v),
            _ => unreachable!("planned as a string column"),
        }
    }

    fn codes<'a>(&mut self, codes: impl Iterator<Item = &'a str>) {
        match self {
            Column::List(c) => c.push(codes),
            _ => unreachable!("planned as a list column"),
        }
    }

    fn submitter(&mut self, submitter: &str) {
        match self {
            Column::Text(d) => d.push_constant(submitter),
            _ => unreachable!("planned as a string column"),
        }
    }

    fn pseudonym(&mut self, nhs: &NhsNumber, pseudonymiser: &mut Pseudonymiser<'_>) {
        match self {
            Column::Text(d) => d.push_pseudonym(nhs, pseudonymiser),
            _ => unreachable!("planned as a string column"),
        }
    }

    fn date(&mut self, v: Option<Day>) {
        self.int32(v);
    }

    fn int32(&mut self, v: Option<i32>) {
        match self {
            Column::I32(n) => n.push(v),
            _ => unreachable!("planned as an Int32 or Date column"),
        }
    }

    fn int64(&mut self, v: Option<i64>) {
        match self {
            Column::I64(n) => n.push(v),
            _ => unreachable!("planned as an Int64 column"),
        }
    }

    fn float64(&mut self, v: Option<f64>) {
        match self {
            Column::F64(n) => n.push(v),
            _ => unreachable!("planned as a Float64 column"),
        }
    }

    fn finish(self, dtype: &ArrowDataType) -> (Box<dyn Array>, Encoding) {
        let encoding = Encoding::RleDictionary;
        match self {
            Column::Text(d) => d.finish(),
            Column::List(c) => (c.finish(dtype.clone()), Encoding::Plain),
            Column::I32(n) => (n.finish(dtype.clone()), encoding),
            Column::I64(n) => (n.finish(dtype.clone()), encoding),
            Column::F64(n) => (n.finish(dtype.clone()), encoding),
        }
    }
}

/// Lists of strings: every row's values, one after another, and where each row's start.
struct Codes {
    offsets: Vec<i64>,
    values: MutableBinaryViewArray<str>,
}

impl Codes {
    fn push<'a>(&mut self, codes: impl Iterator<Item = &'a str>) {
        for c in codes {
            self.values.push_value(c);
        }
        self.offsets
            .push(i64::try_from(self.values.len()).unwrap_or(i64::MAX));
    }

    fn finish(self, dtype: ArrowDataType) -> Box<dyn Array> {
        let values: Utf8ViewArray = self.values.into();
        let offsets = OffsetsBuffer::try_from(self.offsets).expect("offsets only grow");
        ListArray::<i64>::new(dtype, offsets, values.boxed(), None).boxed()
    }
}

/// Numbers with nulls.
struct Numbers<T> {
    values: Vec<T>,
    valid: MutableBitmap,
    nulls: usize,
}

impl<T> Numbers<T> {
    fn with_capacity(rows: usize) -> Self {
        Numbers {
            values: Vec::with_capacity(rows),
            valid: MutableBitmap::with_capacity(rows),
            nulls: 0,
        }
    }
}

impl<T: NativeType> Numbers<T> {
    fn push(&mut self, v: Option<T>) {
        self.values.push(v.unwrap_or_default());
        self.valid.push(v.is_some());
        self.nulls += usize::from(v.is_none());
    }

    fn finish(self, dtype: ArrowDataType) -> Box<dyn Array> {
        let validity = (self.nulls > 0).then(|| self.valid.into());
        PrimitiveArray::new(dtype, self.values.into(), validity).boxed()
    }
}

/// Strings as distinct values plus one index a row.
#[derive(Default)]
struct Dictionary {
    /// Value → index, for codes and bands.
    index: FastMap<Box<str>, u32>,
    /// NHS number → index, for the pseudonym (its value is computed once per batch).
    patients: FastMap<u64, u32>,
    values: MutableBinaryViewArray<str>,
    keys: Vec<u32>,
    valid: MutableBitmap,
    nulls: usize,
}

impl Dictionary {
    fn push(&mut self, v: Option<&str>) {
        let key = v.map(|v| {
            if let Some(&k) = self.index.get(v) {
                k
            } else {
                let k = self.next_key();
                self.values.push_value(v);
                self.index.insert(v.into(), k);
                k
            }
        });
        self.push_key(key);
    }

    /// The same value as every row of the column.
    fn push_constant(&mut self, v: &str) {
        if self.values.len() == 0 {
            self.values.push_value(v);
        }
        self.push_key(Some(0));
    }

    fn push_pseudonym(&mut self, nhs: &NhsNumber, pseudonymiser: &mut Pseudonymiser<'_>) {
        let patient = nhs_key(nhs);
        let key = if let Some(&k) = self.patients.get(&patient) {
            k
        } else {
            let k = self.next_key();
            self.values
                .push_value(pseudonymiser.pseudonym(nhs).as_str());
            self.patients.insert(patient, k);
            k
        };
        self.push_key(Some(key));
    }

    /// A row's index into the values, or a null.
    fn push_key(&mut self, key: Option<u32>) {
        self.keys.push(key.unwrap_or(0));
        self.valid.push(key.is_some());
        self.nulls += usize::from(key.is_none());
    }

    fn next_key(&self) -> u32 {
        u32::try_from(self.values.len()).expect("a batch has fewer than 2^32 rows")
    }

    /// Dictionary-encoded, or plain when most values are distinct (a dictionary would then
    /// only add its keys).
    fn finish(self) -> (Box<dyn Array>, Encoding) {
        let values: Utf8ViewArray = self.values.freeze();
        let validity = (self.nulls > 0).then(|| self.valid.into());
        if values.len() * 2 > self.keys.len() {
            let mut plain = MutableBinaryViewArray::<str>::with_capacity(self.keys.len());
            for (row, &k) in self.keys.iter().enumerate() {
                if validity
                    .as_ref()
                    .is_none_or(|v: &polars_arrow::bitmap::Bitmap| v.get_bit(row))
                {
                    plain.push_value(values.value(k as usize));
                } else {
                    plain.push_null();
                }
            }
            return (plain.freeze().boxed(), Encoding::Plain);
        }
        let keys = PrimitiveArray::new(ArrowDataType::UInt32, self.keys.into(), validity);
        let dtype = ArrowDataType::Dictionary(
            IntegerType::UInt32,
            Box::new(ArrowDataType::Utf8View),
            false,
        );
        let array = DictionaryArray::try_new(dtype, keys, values.boxed())
            .expect("every key indexes a value");
        (array.boxed(), Encoding::RleDictionary)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_back(array: &dyn Array) -> Vec<Option<String>> {
        let dict = array
            .as_any()
            .downcast_ref::<DictionaryArray<u32>>()
            .expect("repeated values are dictionary-encoded");
        let values = dict
            .values()
            .as_any()
            .downcast_ref::<Utf8ViewArray>()
            .unwrap();
        (0..dict.len())
            .map(|i| {
                let keys = dict.keys();
                keys.is_valid(i)
                    .then(|| values.value(keys.value(i) as usize).to_owned())
            })
            .collect()
    }

    #[test]
    fn dictionary_gives_back_every_value() {
        // Short and long values, values that differ only in length or a trailing NUL, and
        // nulls, each many times over.
        let distinct = [
            "",
            "a",
            "a\0",
            "ab",
            "271649006",
            "99900000000010",
            "999000000000100",
            "9990000000001000",
            "99900031100000110",
            "0603020T0AAACAC",
        ];
        let mut d = Dictionary::default();
        let mut pushed = Vec::new();
        for i in 0..200 {
            let v = (i % 11 != 10).then(|| distinct[i % distinct.len()]);
            d.push(v);
            pushed.push(v.map(str::to_owned));
        }
        let (array, encoding) = d.finish();
        assert_eq!(encoding, Encoding::RleDictionary);
        assert_eq!(read_back(array.as_ref()), pushed);
    }
}
