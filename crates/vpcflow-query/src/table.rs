//! Flow-log files as one DataFusion table: text (`.log.gz`, `.log`) and Parquet files with
//! partition values, from the S3 layouts (default, Hive, hourly), Athena tables or any
//! directory of real AWS files.
//!
//! Owns [`FlowTable`] (the `TableProvider`), [`Place`] (a local directory, or a prefix of a
//! bucket at an S3-compatible endpoint, read in place) and [`discover`] (walking a directory
//! for flow-log files, with Hive `key=value` partitions from the path). Which files belong to a
//! table and what their partition values are is decided by the caller ([`crate::sql`]'s catalog for
//! Athena tables, [`discover`] for imports); the table prunes files by partition filters before
//! reading anything, reads Parquet through DataFusion's Parquet source (row-group pruning,
//! projection) and decodes text with [`crate::text`] in parallel.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::{Array as _, ArrayRef, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Schema, SchemaRef};
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::{DFSchema, ScalarValue};
use datafusion::datasource::TableType;
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::physical_plan::parquet::metadata::DFParquetMetadata;
use datafusion::datasource::physical_plan::{FileGroup, FileScanConfigBuilder, ParquetSource};
use datafusion::datasource::source::DataSourceExec;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::logical_expr::utils::conjunction;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown};
use datafusion::object_store::ObjectStore;
use datafusion::object_store::path::Path as ObjectPath;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::union::UnionExec;
use futures::TryStreamExt as _;
use vpcflow_record::LogFormat;

use crate::text_exec::TextExec;

/// A bucket at an S3-compatible endpoint (the config's `[[buckets]]` with an `endpoint`), read
/// in place: listed, and fetched object by object (Parquet by byte ranges).
#[derive(Debug)]
pub struct RemoteBucket {
    /// Bucket name.
    pub name: String,
    /// Its client.
    pub store: Arc<dyn ObjectStore>,
}

/// Where flow-log files are.
#[derive(Debug, Clone)]
pub enum Place {
    /// A local directory, or one file.
    Local(PathBuf),
    /// A key prefix of a remote bucket (`""` = the whole bucket).
    Remote {
        /// The bucket.
        bucket: Arc<RemoteBucket>,
        /// Key prefix, without a trailing `/`.
        prefix: String,
    },
}

impl Place {
    /// The place of a location: `s3://bucket/key` (or `s3a://`) in one of the `remote`
    /// buckets, else the directory `s3_root/bucket/key` (`DATA/s3`); `file://PATH` or a path as
    /// it is.
    pub fn resolve(
        location: &str,
        s3_root: &Path,
        remote: &[Arc<RemoteBucket>],
    ) -> std::result::Result<Place, String> {
        let Some(rest) = location
            .strip_prefix("s3://")
            .or_else(|| location.strip_prefix("s3a://"))
        else {
            let p = location.strip_prefix("file://").unwrap_or(location);
            return local_place(Path::new(p), s3_root);
        };
        let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
        let key = key.trim_end_matches('/');
        // A location stays inside its bucket: no `.` or `..` segment, no empty bucket.
        if bucket.is_empty()
            || matches!(bucket, "." | "..")
            || key.split('/').any(|seg| matches!(seg, "." | ".."))
        {
            return Err(
                "it leaves its bucket (a location is s3://BUCKET/KEY with no '.' or '..' \
                        segment)"
                    .to_owned(),
            );
        }
        if let Some(b) = remote.iter().find(|b| b.name == bucket) {
            return Ok(Place::Remote {
                bucket: Arc::clone(b),
                prefix: key.to_owned(),
            });
        }
        let dir = s3_root.join(bucket);
        if !dir.is_dir() {
            return Err(format!(
                "bucket '{bucket}' is not a bucket of this vpcflow ({} does not exist, and no \
                 --config names an endpoint for it; buckets are named in the config's \
                 [[buckets]] and flow logs)",
                dir.display()
            ));
        }
        // Resolved as the system will (links followed), it is still inside the bucket.
        let place = std::path::absolute(dir.join(key)).map_err(|e| e.to_string())?;
        if let (Ok(real), Ok(bucket_dir)) = (place.canonicalize(), dir.canonicalize())
            && !real.starts_with(&bucket_dir)
        {
            return Err(format!(
                "it leaves its bucket: {} resolves to {}",
                place.display(),
                real.display()
            ));
        }
        Ok(Place::Local(place))
    }

    /// The place as a path: local ones as they are, remote ones as `s3://bucket/prefix`, so
    /// that file names and Hive directories read the same from both.
    pub fn path(&self) -> PathBuf {
        match self {
            Place::Local(p) => std::path::absolute(p).unwrap_or_else(|_| p.clone()),
            Place::Remote { bucket, prefix } => {
                PathBuf::from(format!("s3://{}/{prefix}", bucket.name))
            }
        }
    }

    /// Every flow-log file of the place (see [`discover`]); a local place that does not exist
    /// is an error, a remote prefix without objects is empty.
    pub async fn list(&self, partition_cols: &[FieldRef]) -> std::io::Result<Vec<FlowFile>> {
        match self {
            Place::Local(root) => discover(root, partition_cols),
            Place::Remote { bucket, prefix } => {
                let root = self.path();
                let key_prefix = (!prefix.is_empty()).then(|| ObjectPath::from(prefix.as_str()));
                let mut metas: Vec<_> = bucket
                    .store
                    .list(key_prefix.as_ref())
                    .try_collect()
                    .await
                    .map_err(std::io::Error::other)?;
                metas.sort_by(|a, b| a.location.cmp(&b.location));
                Ok(metas
                    .into_iter()
                    .filter_map(|m| {
                        let path = PathBuf::from(format!("s3://{}/{}", bucket.name, m.location));
                        let kind = FileKind::of(&path)?;
                        let mut f = flow_file(path, &root, kind, m.size, partition_cols);
                        f.remote = Some((Arc::clone(bucket), m.location));
                        Some(f)
                    })
                    .collect())
            }
        }
    }
}

/// How a file stores records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// Text lines (gzip or plain).
    Text,
    /// Parquet.
    Parquet,
}

impl FileKind {
    /// The kind a file name says, if it is a flow-log file at all.
    pub fn of(path: &Path) -> Option<FileKind> {
        let name = path.file_name()?.to_str()?;
        if name.starts_with('.') {
            return None;
        }
        if name.ends_with(".parquet") {
            Some(FileKind::Parquet)
        } else if name.ends_with(".log.gz")
            || name.ends_with(".log")
            || name.ends_with(".txt")
            || name.ends_with(".txt.gz")
            || name.ends_with(".gz")
        {
            Some(FileKind::Text)
        } else {
            None
        }
    }
}

/// One file of a table and its partition values (in the table's partition-column order).
#[derive(Debug, Clone)]
pub struct FlowFile {
    /// Absolute path (`s3://bucket/key` for a remote object).
    pub path: PathBuf,
    /// The bucket and key of a remote object.
    pub remote: Option<(Arc<RemoteBucket>, ObjectPath)>,
    /// Storage.
    pub kind: FileKind,
    /// Size in bytes.
    pub size: u64,
    /// Partition values.
    pub partition: Vec<ScalarValue>,
    /// Bounds of the records' `start` and `end` (epoch seconds), when the file's name tells
    /// (AWS's `…_YYYYMMDDTHHmmZ_…` names): for time-range pruning.
    pub time_bounds: Option<(i64, i64)>,
}

/// How long before a file name's time its records' `start`/`end` may lie. A file holds the
/// records whose `end` falls in its 5 minutes (so nothing after them), but AWS delivers late
/// records in later files, so the margin before is generous (an hour); it only decides which
/// files are read.
const NAME_TIME_BEFORE: i64 = 3600;
/// The last second of a file's 5 minutes.
const NAME_TIME_AFTER: i64 = 299;

/// The time in an AWS flow-log file name (`…_20260115T1405Z_…`), in epoch seconds.
pub fn name_time(name: &str) -> Option<i64> {
    name.split(['_', '.']).find_map(|t| {
        let b = t.as_bytes();
        if b.len() != 14 || b[8] != b'T' || b[13] != b'Z' {
            return None;
        }
        let num = |r: std::ops::Range<usize>| -> Option<u32> { t.get(r)?.parse().ok() };
        let secs = vpcflow_store::time::Civil {
            year: i64::from(num(0..4)?),
            month: num(4..6)?,
            day: num(6..8)?,
            hour: num(9..11)?,
            minute: num(11..13)?,
            second: 0,
        }
        .to_secs()?;
        i64::try_from(secs).ok()
    })
}

/// Per-file bounds of `start` and `end` for DataFusion's pruning predicate.
struct TimeStats<'a> {
    files: &'a [&'a FlowFile],
}

impl datafusion::common::pruning::PruningStatistics for TimeStats<'_> {
    fn min_values(&self, column: &datafusion::common::Column) -> Option<ArrayRef> {
        self.bound(column, |(lo, _)| lo)
    }
    fn max_values(&self, column: &datafusion::common::Column) -> Option<ArrayRef> {
        self.bound(column, |(_, hi)| hi)
    }
    fn num_containers(&self) -> usize {
        self.files.len()
    }
    fn null_counts(&self, _: &datafusion::common::Column) -> Option<ArrayRef> {
        None
    }
    fn row_counts(&self) -> Option<ArrayRef> {
        None
    }
    fn contained(
        &self,
        _: &datafusion::common::Column,
        _: &std::collections::HashSet<ScalarValue>,
    ) -> Option<datafusion::arrow::array::BooleanArray> {
        None
    }
}

impl TimeStats<'_> {
    fn bound(
        &self,
        column: &datafusion::common::Column,
        pick: fn((i64, i64)) -> i64,
    ) -> Option<ArrayRef> {
        if column.name != "start" && column.name != "end" {
            return None;
        }
        Some(Arc::new(datafusion::arrow::array::Int64Array::from(
            self.files
                .iter()
                .map(|f| f.time_bounds.map(pick))
                .collect::<Vec<_>>(),
        )))
    }
}

/// How text lines map to the data columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextColumns {
    /// By name, from each file's header line (AWS's files carry one); columns a file lacks are
    /// null. Files without a header are read as the v2 default format.
    ByHeader,
    /// By position, as Athena's `ROW FORMAT DELIMITED` does: column i is field i.
    ByPosition {
        /// Leading lines to skip (`skip.header.line.count`).
        skip_lines: usize,
    },
}

/// A table of flow-log files.
#[derive(Debug)]
pub struct FlowTable {
    schema: SchemaRef,
    data: SchemaRef,
    partition_cols: Vec<FieldRef>,
    files: Vec<FlowFile>,
    text: TextColumns,
}

impl FlowTable {
    /// A table of `files` whose data columns are `data` and partition columns `partition_cols`.
    pub fn new(
        data: &Schema,
        partition_cols: Vec<FieldRef>,
        files: Vec<FlowFile>,
        text: TextColumns,
    ) -> FlowTable {
        // Strings are string views inside (as DataFusion reads Parquet by default): cheaper to
        // decode, group and compare.
        let data: SchemaRef = Arc::new(Schema::new(
            data.fields()
                .iter()
                .map(|f| match f.data_type() {
                    DataType::Utf8 => {
                        Arc::new(f.as_ref().clone().with_data_type(DataType::Utf8View))
                    }
                    _ => Arc::clone(f),
                })
                .collect::<Vec<_>>(),
        ));
        let mut fields: Vec<FieldRef> = data.fields().iter().cloned().collect();
        fields.extend(partition_cols.iter().cloned());
        FlowTable {
            schema: Arc::new(Schema::new(fields)),
            data,
            partition_cols,
            files,
            text,
        }
    }

    /// The files (before pruning).
    pub fn files(&self) -> &[FlowFile] {
        &self.files
    }

    /// The data columns (strings as string views), the partition columns and how text lines
    /// map to columns: with [`FlowTable::files`], what [`FlowTable::new`] makes it from again.
    pub fn layout(&self) -> (&SchemaRef, &[FieldRef], TextColumns) {
        (&self.data, &self.partition_cols, self.text)
    }

    /// The same table over other files (some of its own, say).
    pub fn with_files(&self, files: Vec<FlowFile>) -> FlowTable {
        FlowTable {
            schema: Arc::clone(&self.schema),
            data: Arc::clone(&self.data),
            partition_cols: self.partition_cols.clone(),
            files,
            text: self.text,
        }
    }

    /// The table with one more data column, [`crate::text_exec::LINE_COLUMN`]: each text
    /// record's line as its file has it (Insights' `@message`). Parquet files have no lines: it
    /// is null in their rows.
    pub fn with_line_column(&self) -> FlowTable {
        let mut data: Vec<FieldRef> = self.data.fields().iter().cloned().collect();
        data.push(Arc::new(Field::new(
            crate::text_exec::LINE_COLUMN,
            DataType::Utf8,
            true,
        )));
        FlowTable::new(
            &Schema::new(data),
            self.partition_cols.clone(),
            self.files.clone(),
            self.text,
        )
    }

    /// The files left after time-range pruning: filters on `start`/`end` against the times in
    /// the files' names.
    fn prune_time<'a>(
        &self,
        state: &dyn Session,
        files: Vec<&'a FlowFile>,
        filters: &[Expr],
    ) -> Result<Vec<&'a FlowFile>> {
        let timed: Vec<Expr> = filters
            .iter()
            .filter(|f| {
                let cols = f.column_refs();
                !cols.is_empty() && cols.iter().all(|c| c.name == "start" || c.name == "end")
            })
            .cloned()
            .collect();
        let Some(predicate) = conjunction(timed) else {
            return Ok(files);
        };
        if files.iter().all(|f| f.time_bounds.is_none()) {
            return Ok(files);
        }
        let df_schema = DFSchema::try_from(Arc::clone(&self.schema))?;
        let physical = state.create_physical_expr(predicate, &df_schema)?;
        let Some(pruning) = datafusion::physical_optimizer::pruning::PruningPredicateBuilder::new()
            .with_file_schema(Arc::clone(&self.schema))
            .build(physical)
        else {
            // Nothing to prune by (always true, or a predicate statistics cannot answer).
            return Ok(files);
        };
        let keep = pruning.prune(&TimeStats { files: &files })?;
        Ok(files
            .into_iter()
            .zip(keep)
            .filter_map(|(f, k)| k.then_some(f))
            .collect())
    }

    /// The files left after the filters that mention only partition columns.
    fn prune(&self, state: &dyn Session, filters: &[Expr]) -> Result<Vec<&FlowFile>> {
        let names: Vec<&str> = self
            .partition_cols
            .iter()
            .map(|f| f.name().as_str())
            .collect();
        let only_partitions: Vec<Expr> = filters
            .iter()
            .filter(|f| {
                let cols = f.column_refs();
                !cols.is_empty() && cols.iter().all(|c| names.contains(&c.name.as_str()))
            })
            .cloned()
            .collect();
        let Some(predicate) = conjunction(only_partitions) else {
            return Ok(self.files.iter().collect());
        };
        if self.files.is_empty() {
            return Ok(Vec::new());
        }
        let schema = Arc::new(Schema::new(self.partition_cols.clone()));
        let columns = (0..self.partition_cols.len())
            .map(|i| ScalarValue::iter_to_array(self.files.iter().map(|f| f.partition[i].clone())))
            .collect::<Result<Vec<ArrayRef>>>()?;
        let batch = RecordBatch::try_new(Arc::clone(&schema), columns)?;
        let df_schema = DFSchema::try_from(Arc::clone(&schema))?;
        let physical = state.create_physical_expr(predicate, &df_schema)?;
        let keep = physical.evaluate(&batch)?.into_array(batch.num_rows())?;
        let keep = keep
            .as_any()
            .downcast_ref::<datafusion::arrow::array::BooleanArray>()
            .ok_or_else(|| DataFusionError::Plan("partition filter is not boolean".into()))?;
        Ok(self
            .files
            .iter()
            .enumerate()
            .filter(|(i, _)| keep.is_valid(*i) && keep.value(*i))
            .map(|(_, f)| f)
            .collect())
    }

    fn parquet_plan(
        &self,
        state: &dyn Session,
        files: &[&FlowFile],
        store: ObjectStoreUrl,
        projection: Option<&Vec<usize>>,
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let table_schema =
            datafusion::datasource::table_schema::TableSchema::builder(Arc::clone(&self.data))
                .with_table_partition_cols(self.partition_cols.clone())
                .build();
        // The session's Parquet settings (`SET datafusion.execution.parquet.…`) apply, as they
        // do to DataFusion's own Parquet tables.
        // The query's filters reach the scan through DataFusion's physical filter pushdown
        // (row-group, page and bloom-filter pruning); giving them here as well would only
        // evaluate each twice.
        let source = ParquetSource::new(table_schema).with_table_parquet_options(
            datafusion::config::TableParquetOptions {
                global: state.config_options().execution.parquet.clone(),
                ..Default::default()
            },
        );
        let sizes: Vec<u64> = files.iter().map(|f| f.size).collect();
        let groups: Vec<Vec<PartitionedFile>> =
            balance(&sizes, state.config().target_partitions().min(files.len()))
                .into_iter()
                .map(|g| {
                    g.into_iter()
                        .map(|i| {
                            let f = files[i];
                            PartitionedFile::new(scan_path(f), f.size)
                                .with_partition_values(f.partition.clone())
                        })
                        .collect()
                })
                .collect();
        let config = FileScanConfigBuilder::new(store, Arc::new(source))
            .with_file_groups(groups.into_iter().map(FileGroup::from).collect())
            .with_projection_indices(projection.cloned())?
            .with_limit(limit)
            .build();
        Ok(DataSourceExec::from_data_source(config))
    }
}

/// An unsigned 64-bit column holding a value past `i64::MAX` is refused at its file, row and
/// column, as `convert` refuses it (the scan's cast would fail with neither). The footers are
/// read through the session's metadata cache, so the scan that follows reads none again; a
/// column is read only when its statistics allow such a value.
async fn refuse_unsigned_past_i64(
    state: &dyn Session,
    files: &[&FlowFile],
    store: &dyn ObjectStore,
) -> Result<()> {
    use datafusion::parquet::basic::{ConvertedType, LogicalType};
    use datafusion::parquet::file::statistics::Statistics;
    let cache = state.runtime_env().cache_manager.get_file_metadata_cache();
    for f in files {
        let meta = PartitionedFile::new(scan_path(f), f.size).object_meta;
        let footer = DFParquetMetadata::new(store, &meta)
            .with_file_metadata_cache(Some(Arc::clone(&cache) as _))
            .fetch_metadata()
            .await?;
        let columns = footer.file_metadata().schema_descr().columns().to_vec();
        for (c, col) in columns.iter().enumerate() {
            let unsigned = col.converted_type() == ConvertedType::UINT_64
                || matches!(
                    col.logical_type_ref(),
                    Some(LogicalType::Integer(t)) if t.bit_width == 64 && !t.is_signed
                );
            if !unsigned {
                continue;
            }
            let mut first_row = 0u64;
            for (g, rg) in footer.row_groups().iter().enumerate() {
                // Unsigned values are kept in Int64 statistics as their bit patterns.
                let fits = match rg.column(c).statistics() {
                    Some(Statistics::Int64(v)) => v.max_opt().is_some_and(|m| *m >= 0),
                    _ => false,
                };
                if !fits && let Some((row, value)) = past_i64(f, g, c)? {
                    return Err(DataFusionError::Execution(format!(
                        "{}: row {}: column '{}': {value} is out of range (expected 0..={})",
                        f.path.display(),
                        first_row + row + 1,
                        col.name(),
                        i64::MAX
                    )));
                }
                first_row += rg.num_rows() as u64;
            }
        }
    }
    Ok(())
}

/// The first value past `i64::MAX` in column `c` of row group `g` of a local file (its row in
/// the group), or `None`. A remote object's column is not fetched here: its cast fails in the
/// scan instead.
fn past_i64(f: &FlowFile, g: usize, c: usize) -> Result<Option<(u64, u64)>> {
    use datafusion::arrow::array::UInt64Array;
    use datafusion::parquet::arrow::ProjectionMask;
    use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    if f.remote.is_some() {
        return Ok(None);
    }
    let file = std::fs::File::open(&f.path)?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file)?;
    let mask = ProjectionMask::leaves(builder.parquet_schema(), [c]);
    let mut row = 0u64;
    for batch in builder
        .with_row_groups(vec![g])
        .with_projection(mask)
        .build()?
    {
        let batch = batch?;
        if let Some(a) = batch.column(0).as_any().downcast_ref::<UInt64Array>() {
            let over = (0..a.len()).find(|&i| a.is_valid(i) && a.value(i) > i64::MAX as u64);
            if let Some(i) = over {
                return Ok(Some((row + i as u64, a.value(i))));
            }
        }
        row += batch.num_rows() as u64;
    }
    Ok(None)
}

/// A file's path as the scan names it in its store.
fn scan_path(f: &FlowFile) -> String {
    match &f.remote {
        Some((_, key)) => key.to_string(),
        None => f.path.to_string_lossy().trim_start_matches('/').to_owned(),
    }
}

/// Files of `sizes` bytes in `parts` groups (at least one) of about equal bytes: the largest
/// file first, each into the lightest group; each group in file order.
pub(crate) fn balance(sizes: &[u64], parts: usize) -> Vec<Vec<usize>> {
    let mut by_size: Vec<usize> = (0..sizes.len()).collect();
    by_size.sort_by_key(|&i| std::cmp::Reverse(sizes[i]));
    let mut groups = vec![(0u64, Vec::new()); parts.max(1)];
    for i in by_size {
        if let Some(lightest) = groups.iter_mut().min_by_key(|(bytes, _)| *bytes) {
            lightest.0 += sizes[i];
            lightest.1.push(i);
        }
    }
    groups
        .into_iter()
        .map(|(_, mut g)| {
            g.sort_unstable();
            g
        })
        .collect()
}

#[async_trait]
impl TableProvider for FlowTable {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> Result<Vec<TableProviderFilterPushDown>> {
        // Filters come to `scan` for pruning; DataFusion still applies them above it.
        Ok(vec![TableProviderFilterPushDown::Inexact; filters.len()])
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let files = self.prune(state, filters)?;
        let files = self.prune_time(state, files, filters)?;
        let (parquet, text): (Vec<&FlowFile>, Vec<&FlowFile>) =
            files.into_iter().partition(|f| f.kind == FileKind::Parquet);
        let mut plans = Vec::new();
        // Parquet: one source per store (the local disk, each remote bucket), which DataFusion
        // reads by byte ranges.
        let mut by_store: Vec<(Option<&Arc<RemoteBucket>>, Vec<&FlowFile>)> = Vec::new();
        for f in parquet {
            let bucket = f.remote.as_ref().map(|(b, _)| b);
            match by_store
                .iter_mut()
                .find(|(b, _)| b.map(|b| &b.name) == bucket.map(|b| &b.name))
            {
                Some((_, files)) => files.push(f),
                None => by_store.push((bucket, vec![f])),
            }
        }
        for (bucket, files) in by_store {
            let url = match bucket {
                None => ObjectStoreUrl::local_filesystem(),
                Some(b) => {
                    let url = ObjectStoreUrl::parse(format!("s3://{}", b.name))?;
                    state
                        .runtime_env()
                        .register_object_store(url.as_ref(), Arc::clone(&b.store));
                    url
                }
            };
            let store = state.runtime_env().object_store(&url)?;
            refuse_unsigned_past_i64(state, &files, store.as_ref()).await?;
            plans.push(self.parquet_plan(state, &files, url, projection, limit)?);
        }
        if !text.is_empty() || plans.is_empty() {
            let threads = state.config().target_partitions();
            let scan = TextExec::new(
                Arc::clone(&self.data),
                self.text,
                &self.schema,
                text.into_iter().cloned().collect(),
                projection,
                // Without filters, a LIMIT stops the reading once enough rows are out.
                limit.filter(|_| filters.is_empty()),
                threads,
            )?;
            // On a cluster's scheduler, a file scan that Ballista splits between tasks.
            let file_scans = state
                .config()
                .get_extension::<crate::text_exec::FileScans>()
                .is_some();
            plans.push(if file_scans {
                scan.into_file_scan()
            } else {
                Arc::new(scan)
            });
        }
        if plans.len() == 1 {
            return Ok(plans.remove(0));
        }
        UnionExec::try_new(plans)
    }
}

/// A local path as a place: it must exist, and resolved (links followed) it is not among the
/// data directory's own files (`state.db`, the spool, log-group segments): only its buckets
/// (`s3_root`) hold flow-log files to read.
fn local_place(p: &Path, s3_root: &Path) -> std::result::Result<Place, String> {
    let real = p
        .canonicalize()
        .map_err(|e| format!("{}: {e}", p.display()))?;
    // Only a directory that is one (it holds the control database) has files of its own.
    let data = s3_root
        .parent()
        .filter(|d| d.join("state.db").exists())
        .and_then(|d| d.canonicalize().ok());
    if let Some(data) = data {
        let buckets = s3_root.canonicalize().ok();
        let in_buckets = buckets.is_some_and(|b| real.starts_with(b));
        if (real.starts_with(&data) || data.starts_with(&real)) && !in_buckets {
            return Err(format!(
                "{} is (or holds) the data directory {}: its files are vpcflow's own; its \
                 buckets are s3://BUCKET locations",
                real.display(),
                data.display()
            ));
        }
    }
    Ok(Place::Local(real))
}

/// Every flow-log file under `root` (or `root` itself), in path order, with the Hive
/// `key=value` directory segments below `root` as partition values for `partition_cols`
/// (a file without one of them gets null). Hidden files and directories are skipped.
pub fn discover(root: &Path, partition_cols: &[FieldRef]) -> std::io::Result<Vec<FlowFile>> {
    let root = &std::path::absolute(root)?;
    let real_root = root.canonicalize()?;
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(p) = stack.pop() {
        if p != *root && !link_stays_inside(&p, &real_root) {
            continue;
        }
        let meta = std::fs::metadata(&p)?;
        if meta.is_dir() {
            let mut entries: Vec<PathBuf> = std::fs::read_dir(&p)?
                .map(|e| e.map(|e| e.path()))
                .collect::<std::io::Result<_>>()?;
            entries.retain(|e| {
                e.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| !n.starts_with('.'))
            });
            entries.sort();
            stack.extend(entries.into_iter().rev());
        } else if let Some(kind) = FileKind::of(&p) {
            out.push(flow_file(
                std::path::absolute(&p)?,
                root,
                kind,
                meta.len(),
                partition_cols,
            ));
        }
    }
    Ok(out)
}

/// Whether `p` is read where it is found: any entry that is no link, and a link whose target
/// lies inside the place (`real_root`, resolved) and is not a directory above it (a loop). A
/// link that leads out of a bucket, or out of a directory read in place, is not followed.
fn link_stays_inside(p: &Path, real_root: &Path) -> bool {
    let is_link = std::fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_symlink());
    if !is_link {
        return true;
    }
    let (Ok(target), Some(parent)) = (p.canonicalize(), p.parent()) else {
        return false;
    };
    let parent = parent.canonicalize().unwrap_or_else(|_| parent.to_owned());
    target.starts_with(real_root) && !parent.starts_with(&target)
}

/// A file found under `root` (absolute, as `path` is): Hive `key=value` directories below
/// `root` give the values of `partition_cols` (null where absent), and an AWS file name its
/// time bounds.
fn flow_file(
    path: PathBuf,
    root: &Path,
    kind: FileKind,
    size: u64,
    partition_cols: &[FieldRef],
) -> FlowFile {
    let partition = partition_values(&path, root, partition_cols);
    let time_bounds = path
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(name_time)
        .map(|t| (t - NAME_TIME_BEFORE, t + NAME_TIME_AFTER));
    FlowFile {
        time_bounds,
        size,
        path,
        remote: None,
        kind,
        partition,
    }
}

/// The values of `partition_cols` that the Hive `key=value` directories between `root` and
/// the file `path` spell (null where absent, or where a value does not fit its column's type).
fn partition_values(path: &Path, root: &Path, partition_cols: &[FieldRef]) -> Vec<ScalarValue> {
    let rel = path.strip_prefix(root).unwrap_or(path);
    partition_cols
        .iter()
        .map(|c| {
            let v = rel.parent().and_then(|dir| {
                dir.components().find_map(|s| {
                    let s = s.as_os_str().to_str()?;
                    let (k, v) = s.split_once('=')?;
                    (k == c.name()).then(|| v.to_owned())
                })
            });
            ScalarValue::Utf8(v)
                .cast_to(c.data_type())
                .unwrap_or_else(|_| {
                    ScalarValue::try_from(c.data_type()).unwrap_or(ScalarValue::Null)
                })
        })
        .collect()
}

/// The Hive partition keys found in the directories under `root` (in first-seen order), for
/// a table whose partitions are not declared (an import).
pub fn hive_keys(files: &[FlowFile], root: &Path) -> Vec<FieldRef> {
    let mut keys: Vec<String> = Vec::new();
    for f in files {
        let rel = f.path.strip_prefix(root).unwrap_or(&f.path);
        if let Some(dir) = rel.parent() {
            for s in dir.components() {
                if let Some((k, _)) = s.as_os_str().to_str().and_then(|s| s.split_once('='))
                    && !keys.iter().any(|x| x == k)
                {
                    keys.push(k.to_owned());
                }
            }
        }
    }
    keys.into_iter()
        .map(|k| Arc::new(Field::new(k, DataType::Utf8, true)))
        .collect()
}

/// The system fields of a log event, first in every log segment.
pub use vpcflow_store::segment::SYSTEM_COLUMNS as EVENT_COLUMNS;

/// A log group's segments as one table: the events' system fields ([`EVENT_COLUMNS`]; times in
/// ms), then every field AWS defines, null where the format of a segment's flow log lacks it,
/// so that the groups of flow logs of different formats read alike. `paths` are the group's
/// directory, or some of its segment files.
pub async fn read_log_group(
    ctx: &datafusion::prelude::SessionContext,
    paths: Vec<String>,
) -> Result<datafusion::prelude::DataFrame> {
    let mut fields = vec![
        Field::new(EVENT_COLUMNS[0], DataType::Int64, true),
        Field::new(EVENT_COLUMNS[1], DataType::Int64, true),
        Field::new(EVENT_COLUMNS[2], DataType::Utf8, true),
        Field::new(EVENT_COLUMNS[3], DataType::Utf8, true),
    ];
    fields.extend(
        vpcflow_record::arrow::every_field_schema()
            .fields()
            .iter()
            .map(|f| f.as_ref().clone()),
    );
    let schema = Schema::new(fields);
    let options = datafusion::prelude::ParquetReadOptions::default().schema(&schema);
    ctx.read_parquet(paths, options).await
}

/// The format of a Parquet file: its columns, read from its footer (by range requests for a
/// remote object).
pub async fn parquet_format(f: &FlowFile) -> std::result::Result<LogFormat, String> {
    let name = f.path.display();
    let schema = match &f.remote {
        None => {
            let file = std::fs::File::open(&f.path).map_err(|e| format!("{name}: {e}"))?;
            datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
                .map(|b| Arc::clone(b.schema()))
                .map_err(|e| format!("{name}: not a Parquet file: {e}"))?
        }
        Some((bucket, key)) => {
            let meta = PartitionedFile::new(key.to_string(), f.size).object_meta;
            DFParquetMetadata::new(bucket.store.as_ref(), &meta)
                .fetch_schema()
                .await
                .map(Arc::new)
                .map_err(|e| format!("{name}: not a Parquet file: {e}"))?
        }
    };
    vpcflow_record::arrow::format_of_schema(&schema).map_err(|e| format!("{name}: {e}"))
}

/// Parquet files grouped by their format (each group in file order, groups by first file).
pub async fn by_format(
    files: Vec<FlowFile>,
) -> std::result::Result<Vec<(LogFormat, Vec<FlowFile>)>, String> {
    let mut groups: Vec<(LogFormat, Vec<FlowFile>)> = Vec::new();
    for f in files {
        let format = parquet_format(&f).await?;
        match groups.iter_mut().find(|(g, _)| *g == format) {
            Some((_, files)) => files.push(f),
            None => groups.push((format, vec![f])),
        }
    }
    Ok(groups)
}

/// A table over every flow-log file under `root` (a directory or one file): real AWS files in
/// any S3 layout, text or Parquet, of any formats, without converting them. Its columns are
/// every field AWS defines (AWS column names, registry order): a field a file does not carry is
/// null in that file's rows, so a directory of mixed formats is one table and a query is
/// portable across formats. Hive `key=value` directories become string partition columns.
/// Nothing but the listing is read here.
pub async fn import(place: &Place) -> std::result::Result<FlowTable, String> {
    let root = place.path();
    let probe = place
        .list(&[])
        .await
        .map_err(|e| format!("{}: {e}", root.display()))?;
    if probe.is_empty() {
        return Err(format!(
            "{}: no flow-log files (.log.gz, .log, .parquet) found",
            root.display()
        ));
    }
    // The Hive keys come from the listing itself, so the files are listed once.
    let keys = hive_keys(&probe, &root);
    let files = probe
        .into_iter()
        .map(|mut f| {
            f.partition = partition_values(&f.path, &root, &keys);
            f
        })
        .collect();
    Ok(FlowTable::new(
        &vpcflow_record::arrow::every_field_schema(),
        keys,
        files,
        TextColumns::ByHeader,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aws_file_names_carry_their_time() {
        let n = "123456789012_vpcflowlogs_us-east-1_fl-0123456789abcdef0_20260115T1405Z_e0ee60f6.log.gz";
        assert_eq!(name_time(n), Some(1_768_485_900));
        assert_eq!(name_time("20000101T0000Z.log"), Some(946_684_800));
        assert_eq!(name_time("flows.log.gz"), None);
        assert_eq!(name_time("x_20261315T0000Z_y"), None);
    }

    #[test]
    fn bucket_locations_stay_inside_their_bucket() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("s3");
        std::fs::create_dir_all(root.join("flow-logs/AWSLogs")).unwrap();
        let inside = Place::resolve("s3://flow-logs/AWSLogs/", &root, &[]).unwrap();
        let Place::Local(p) = inside else {
            panic!("a local bucket")
        };
        assert!(p.starts_with(&root));
        for bad in [
            "s3://flow-logs/../../outside/",
            "s3://flow-logs/AWSLogs/../../x",
            "s3://flow-logs/./AWSLogs/",
            "s3://../x/",
            "s3:///x",
        ] {
            let e = Place::resolve(bad, &root, &[]).unwrap_err();
            assert!(e.contains("leaves its bucket"), "{bad}: {e}");
        }
    }
}
