//! Parquet as AWS delivers it: the Arrow schema of [`crate::arrow`], GZIP compression inside the
//! file (flow-log-format.md §6.2: "each file is compressed into a single Gzip file", read as
//! Parquet's internal codec), and readers that accept any flow-log Parquet file.
//!
//! Owns writer and reader settings only; callers supply the `Write`/`ChunkReader`, so this
//! module does no I/O of its own. Re-exports the `parquet` crate so that the whole build uses
//! one version of it.

pub use parquet::*;

use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use parquet::basic::{Compression, GzipLevel};
use parquet::errors::ParquetError;
use parquet::file::properties::WriterProperties;
use parquet::file::reader::ChunkReader;

use crate::arrow::{BatchError, format_of_schema, schema};
use crate::format::LogFormat;

/// Rows per batch handed to the writer and asked of readers.
pub const BATCH_ROWS: usize = 8192;

/// Writer settings: GZIP (AWS's codec) at a moderate level, ~128 k-row row groups.
pub fn writer_properties() -> WriterProperties {
    WriterProperties::builder()
        .set_compression(Compression::GZIP(
            GzipLevel::try_new(4).expect("4 is a valid gzip level"),
        ))
        .set_max_row_group_row_count(Some(128 * 1024))
        .set_created_by(concat!("vpcflow ", env!("CARGO_PKG_VERSION")).to_owned())
        .build()
}

/// A Parquet writer for `format`, writing to `sink`.
pub fn writer<W: std::io::Write + Send>(
    sink: W,
    format: &LogFormat,
) -> Result<ArrowWriter<W>, ParquetError> {
    ArrowWriter::try_new(sink, schema(format), Some(writer_properties()))
}

/// Why a Parquet input could not be opened as flow logs.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// Not a Parquet file at all, or a damaged one.
    #[error("not a readable Parquet file")]
    Parquet(#[from] ParquetError),
    /// A Parquet file whose columns are not flow-log columns.
    #[error("not a flow-log Parquet file")]
    NotFlowLog(#[from] BatchError),
}

/// Opens a flow-log Parquet file: checks its schema and returns the format it spells and a
/// batch reader.
pub fn reader<R: ChunkReader + 'static>(
    input: R,
) -> Result<(LogFormat, ParquetRecordBatchReader), OpenError> {
    let builder = ParquetRecordBatchReaderBuilder::try_new(input)?;
    let format = format_of_schema(builder.schema())?;
    Ok((format, builder.with_batch_size(BATCH_ROWS).build()?))
}
