//! Arrow record batches with the schema AWS's Parquet files use (flow-log-format.md §6.2):
//! column names with `_`, INT_32 / INT_64 / STRING types, every column nullable, columns in
//! format order.
//!
//! Owns the schema derivation from a [`LogFormat`], building batches from records, and reading
//! records back out of any batch whose columns are flow-log columns (integer columns of any
//! width and any string encoding are accepted, since other writers — DuckDB, pandas — choose
//! their own). It does no file I/O; see [`crate::parquet`] for the writer settings.

use std::sync::Arc;

use arrow_array::builder::{Int32Builder, Int64Builder, StringBuilder};
use arrow_array::{Array, ArrayRef, Int64Array, RecordBatch, StringArray};
use arrow_schema::{ArrowError, DataType, Field, Schema, SchemaRef};

use crate::format::LogFormat;
use crate::registry::{FieldId, FlowRecord};
use crate::value::{Kind, Scalar, ValueError};

/// Why a batch could not be read as flow-log records.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BatchError {
    /// A column that is no flow-log field (the file is not a flow-log file).
    #[error(
        "column '{0}' is not a flow-log field (expected AWS column names such as 'account_id')"
    )]
    UnknownColumn(String),
    /// A flow-log column of an unusable type.
    #[error("column '{column}' has type {found}, expected {expected}")]
    ColumnType {
        /// The column.
        column: String,
        /// Its Arrow type.
        found: DataType,
        /// What the field needs.
        expected: &'static str,
    },
    /// No columns at all.
    #[error("no columns")]
    NoColumns,
    /// Columns that are no valid format (a field twice, VPC and Transit Gateway fields
    /// together).
    #[error("the columns: {0}")]
    Format(crate::format::FormatError),
    /// A value invalid for its field.
    #[error("column '{field}': {reason}", field = field.column())]
    Value {
        /// 0-based row in the batch.
        row: usize,
        /// The field.
        field: FieldId,
        /// What was wrong with it.
        reason: ValueError,
    },
    /// Arrow itself failed (casting a column).
    #[error(transparent)]
    Arrow(#[from] ArrowError),
}

/// The Arrow type of a storage kind.
pub fn data_type(kind: Kind) -> DataType {
    match kind {
        Kind::Int32 => DataType::Int32,
        Kind::Int64 => DataType::Int64,
        Kind::Utf8 => DataType::Utf8,
    }
}

/// The schema of a format: one nullable column per field, in format order.
pub fn schema(format: &LogFormat) -> SchemaRef {
    Arc::new(Schema::new(
        format
            .fields()
            .iter()
            .map(|f| Field::new(f.column(), data_type(f.kind()), true))
            .collect::<Vec<_>>(),
    ))
}

/// One nullable column per field of the registry, VPC and Transit Gateway alike, in registry
/// order: the schema of a table over flow-log files of any formats, where a field a file does not
/// carry is null in that file's rows.
pub fn every_field_schema() -> SchemaRef {
    Arc::new(Schema::new(
        crate::FIELDS
            .iter()
            .map(|f| Field::new(f.column, data_type(f.kind), true))
            .collect::<Vec<_>>(),
    ))
}

/// The format a schema spells: columns must be flow-log columns (`account_id`; the AWS names
/// `account-id` are accepted too) of integer or string type as the field requires.
pub fn format_of_schema(schema: &Schema) -> Result<LogFormat, BatchError> {
    let mut fields = Vec::with_capacity(schema.fields().len());
    for col in schema.fields() {
        let name = col.name();
        let id = FieldId::from_column(name)
            .or_else(|| FieldId::from_name(name))
            .ok_or_else(|| BatchError::UnknownColumn(name.clone()))?;
        let ok = if id.kind().is_int() {
            col.data_type().is_integer()
        } else {
            matches!(
                col.data_type(),
                DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
            )
        };
        if !ok {
            let expected = if id.kind().is_int() {
                "an integer"
            } else {
                "a string"
            };
            return Err(BatchError::ColumnType {
                column: name.clone(),
                found: col.data_type().clone(),
                expected,
            });
        }
        fields.push(id);
    }
    LogFormat::from_fields(fields).map_err(|e| match e {
        crate::format::FormatError::Empty => BatchError::NoColumns,
        e => BatchError::Format(e),
    })
}

enum ColumnBuilder {
    Int32(Int32Builder),
    Int64(Int64Builder),
    Utf8(StringBuilder),
}

/// Accumulates records into a [`RecordBatch`] of a format's schema.
pub struct BatchBuilder {
    format: LogFormat,
    schema: SchemaRef,
    columns: Vec<ColumnBuilder>,
    rows: usize,
    /// Where addresses are written before they are appended.
    scratch: String,
}

impl BatchBuilder {
    /// A builder for `format`, with room for `capacity` rows.
    pub fn new(format: &LogFormat, capacity: usize) -> BatchBuilder {
        let columns = format
            .fields()
            .iter()
            .map(|f| match f.kind() {
                Kind::Int32 => ColumnBuilder::Int32(Int32Builder::with_capacity(capacity)),
                Kind::Int64 => ColumnBuilder::Int64(Int64Builder::with_capacity(capacity)),
                Kind::Utf8 => {
                    ColumnBuilder::Utf8(StringBuilder::with_capacity(capacity, capacity * 16))
                }
            })
            .collect();
        BatchBuilder {
            format: format.clone(),
            schema: schema(format),
            columns,
            rows: 0,
            scratch: String::with_capacity(48),
        }
    }

    /// The schema of the batches this builder makes.
    pub fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    /// Rows appended since the last [`BatchBuilder::finish`].
    pub fn len(&self) -> usize {
        self.rows
    }

    /// True when no row is pending.
    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Appends one record (its format fields; others are ignored).
    pub fn append(&mut self, rec: &FlowRecord) {
        let scratch = &mut self.scratch;
        for (&field, col) in self.format.fields().iter().zip(&mut self.columns) {
            let value = rec.get(field);
            match (col, value) {
                (ColumnBuilder::Int32(b), Some(Scalar::Int(v))) => b.append_value(v as i32),
                (ColumnBuilder::Int64(b), Some(Scalar::Int(v))) => b.append_value(v),
                (ColumnBuilder::Utf8(b), Some(Scalar::Str(s))) => b.append_value(s),
                (ColumnBuilder::Utf8(b), Some(v @ Scalar::Addr(_))) => {
                    scratch.clear();
                    v.push_text(scratch);
                    b.append_value(scratch.as_str());
                }
                (ColumnBuilder::Int32(b), _) => b.append_null(),
                (ColumnBuilder::Int64(b), _) => b.append_null(),
                (ColumnBuilder::Utf8(b), _) => b.append_null(),
            }
        }
        self.rows += 1;
    }

    /// Takes the pending rows as a batch (possibly empty) and starts afresh.
    pub fn finish(&mut self) -> RecordBatch {
        let arrays: Vec<ArrayRef> = self
            .columns
            .iter_mut()
            .map(|c| match c {
                ColumnBuilder::Int32(b) => Arc::new(b.finish()) as ArrayRef,
                ColumnBuilder::Int64(b) => Arc::new(b.finish()) as ArrayRef,
                ColumnBuilder::Utf8(b) => Arc::new(b.finish()) as ArrayRef,
            })
            .collect();
        self.rows = 0;
        RecordBatch::try_new(Arc::clone(&self.schema), arrays)
            .expect("builders follow the schema they were made from")
    }
}

enum ColumnReader {
    Int(Int64Array),
    /// Unsigned 64-bit integers, read as they are: a value past `i64::MAX` is that row's error,
    /// not a null (a cast would make it one).
    UInt(arrow_array::UInt64Array),
    Utf8(StringArray),
}

/// Reads records out of one batch, after normalising its columns once.
pub struct BatchReader {
    format: LogFormat,
    columns: Vec<ColumnReader>,
    rows: usize,
}

impl BatchReader {
    /// Prepares `batch` (whose schema must pass [`format_of_schema`]).
    pub fn new(batch: &RecordBatch) -> Result<BatchReader, BatchError> {
        let format = format_of_schema(&batch.schema())?;
        let mut columns = Vec::with_capacity(format.len());
        for (col, field) in batch.columns().iter().zip(format.fields()) {
            let unsigned = col.as_any().downcast_ref::<arrow_array::UInt64Array>();
            let reader = if let (true, Some(u)) = (field.kind().is_int(), unsigned) {
                ColumnReader::UInt(u.clone())
            } else if field.kind().is_int() {
                let a = arrow_cast::cast(col, &DataType::Int64)?;
                ColumnReader::Int(
                    a.as_any()
                        .downcast_ref::<Int64Array>()
                        .cloned()
                        .ok_or_else(|| {
                            ArrowError::CastError(format!(
                                "column {} did not cast to Int64",
                                field.column()
                            ))
                        })?,
                )
            } else {
                let a = arrow_cast::cast(col, &DataType::Utf8)?;
                ColumnReader::Utf8(
                    a.as_any()
                        .downcast_ref::<StringArray>()
                        .cloned()
                        .ok_or_else(|| {
                            ArrowError::CastError(format!(
                                "column {} did not cast to Utf8",
                                field.column()
                            ))
                        })?,
                )
            };
            columns.push(reader);
        }
        Ok(BatchReader {
            format,
            columns,
            rows: batch.num_rows(),
        })
    }

    /// The format the batch's columns spell.
    pub fn format(&self) -> &LogFormat {
        &self.format
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.rows
    }

    /// True for an empty batch.
    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Reads row `row` into `rec` (setting exactly the format's fields).
    pub fn read_into(&self, row: usize, rec: &mut FlowRecord) -> Result<(), BatchError> {
        for (&field, col) in self.format.fields().iter().zip(&self.columns) {
            let res = match col {
                ColumnReader::Int(a) if a.is_valid(row) => rec.set_int(field, a.value(row)),
                ColumnReader::UInt(a) if a.is_valid(row) => match i64::try_from(a.value(row)) {
                    Ok(v) => rec.set_int(field, v),
                    Err(_) => Err(ValueError::OutOfRange {
                        value: a.value(row).to_string(),
                        min: 0,
                        max: i64::MAX,
                    }),
                },
                ColumnReader::Utf8(a) if a.is_valid(row) => rec.set_text(field, a.value(row)),
                _ => {
                    rec.clear(field);
                    Ok(())
                }
            };
            res.map_err(|reason| BatchError::Value { row, field, reason })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text;

    #[test]
    fn unsigned_values_past_i64_are_that_rows_error_not_a_null() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("bytes", DataType::UInt64, true),
            Field::new("srcport", DataType::UInt64, true),
        ]));
        let batch = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(arrow_array::UInt64Array::from(vec![
                    Some(5),
                    Some(u64::MAX),
                    None,
                ])),
                Arc::new(arrow_array::UInt64Array::from(vec![
                    Some(443),
                    Some(1),
                    Some(70_000),
                ])),
            ],
        )
        .unwrap();
        let reader = BatchReader::new(&batch).unwrap();
        let mut rec = FlowRecord::default();
        reader.read_into(0, &mut rec).unwrap();
        assert_eq!((rec.bytes, rec.srcport), (Some(crate::Count(5)), Some(443)));
        let e = reader.read_into(1, &mut rec).unwrap_err().to_string();
        assert_eq!(
            e,
            "column 'bytes': 18446744073709551615 is out of range (expected 0..=9223372036854775807)"
        );
        // Within i64, the field's own range still holds.
        let e = reader.read_into(2, &mut rec).unwrap_err().to_string();
        assert!(
            e.starts_with("column 'srcport': 70000 is out of range"),
            "{e}"
        );
    }

    #[test]
    fn schema_uses_aws_column_names_and_types() {
        let f = LogFormat::default_v2();
        let s = schema(&f);
        let cols: Vec<String> = s
            .fields()
            .iter()
            .map(|c| format!("{} {}", c.name(), c.data_type()))
            .collect();
        assert_eq!(
            cols,
            [
                "version Int32",
                "account_id Utf8",
                "interface_id Utf8",
                "srcaddr Utf8",
                "dstaddr Utf8",
                "srcport Int32",
                "dstport Int32",
                "protocol Int32",
                "packets Int64",
                "bytes Int64",
                "start Int64",
                "end Int64",
                "action Utf8",
                "log_status Utf8",
            ]
        );
    }

    #[test]
    fn batch_round_trip() {
        let f = LogFormat::default_v2();
        let lines = [
            "2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK",
            "2 123456789010 eni-1235b8ca123456789 - - - - - - - 1431280876 1431280934 - NODATA",
        ];
        let mut b = BatchBuilder::new(&f, 2);
        for l in lines {
            b.append(&text::decode(&f, l).unwrap());
        }
        let batch = b.finish();
        assert_eq!(batch.num_rows(), 2);
        let r = BatchReader::new(&batch).unwrap();
        assert_eq!(r.format(), &f);
        let mut rec = FlowRecord::default();
        for (i, l) in lines.iter().enumerate() {
            r.read_into(i, &mut rec).unwrap();
            assert_eq!(text::encode(&f, &rec), *l);
        }
    }

    #[test]
    fn foreign_columns_are_refused() {
        let s = Schema::new(vec![Field::new("name", DataType::Utf8, true)]);
        assert_eq!(
            format_of_schema(&s).unwrap_err().to_string(),
            "column 'name' is not a flow-log field (expected AWS column names such as 'account_id')"
        );
        let s = Schema::new(vec![Field::new("srcport", DataType::Utf8, true)]);
        assert_eq!(
            format_of_schema(&s).unwrap_err().to_string(),
            "column 'srcport' has type Utf8, expected an integer"
        );
    }
}
