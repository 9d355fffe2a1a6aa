//! The plan node that reads a table's text files ([`TextExec`]).
//!
//! Nothing is read while planning. When the query runs, each output partition reads its share
//! of the files in turn and hands their batches on in line order ([`crate::text`]): a large
//! gzip file inflates on a blocking thread while other threads decode it, and its batches come
//! as they are made; other files decode in the partition's own poll, where the operators above
//! then use each batch while it is in cache. So memory stays about a file per partition however
//! large the table is, the query's aggregation runs while a large file still inflates, and a
//! LIMIT that is met stops the reading. A remote object is fetched when its partition comes to
//! it, a few objects ahead of the one decoding (up to [`FETCH_AHEAD_FILES`] and
//! [`FETCH_AHEAD_BYTES`]), so planning (EXPLAIN included) downloads nothing and a bucket of
//! any size takes that much memory, not all of it.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use datafusion::arrow::array::{RecordBatch, RecordBatchOptions};
use datafusion::arrow::datatypes::{Schema, SchemaRef};
use datafusion::common::runtime::SpawnedTask;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::TaskContext;
use datafusion::object_store::ObjectStoreExt as _;
use datafusion::object_store::path::Path as ObjectPath;
use datafusion::physical_expr::EquivalenceProperties;
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::stream::{
    RecordBatchReceiverStreamBuilder, RecordBatchStreamAdapter,
};
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PhysicalExpr, PlanProperties,
    SendableRecordBatchStream,
};
use futures::StreamExt as _;
use vpcflow_record::FieldId;

use crate::table::{FlowFile, RemoteBucket, TextColumns, balance};
use crate::text::{self, BadLines, Columns, Decoded};

mod file_scan;
pub use file_scan::{TextFileScan, TextSource};

/// A data column of a table read by header that holds each record's line (as Insights'
/// `@message`), not a field.
pub const LINE_COLUMN: &str = "@message";

/// Remote objects a partition fetches ahead of the one it decodes, at most: enough requests in
/// flight to hide a request's latency behind decoding AWS's small 5-minute files.
const FETCH_AHEAD_FILES: usize = 4;
/// Bytes of remote objects a partition fetches ahead, at most (but always the next object,
/// however large): what waits in memory beside the file decoding.
const FETCH_AHEAD_BYTES: u64 = 64 << 20;

/// Text files of one table, read when the query runs: one output partition per group of
/// files.
#[derive(Debug)]
pub struct TextExec {
    scan: Arc<Scan>,
    /// Rows out and bytes read, per partition (`EXPLAIN ANALYZE`, [`crate::stats`]).
    metrics: datafusion::physical_plan::metrics::ExecutionPlanMetricsSet,
    /// Each partition's files (indexes into `scan.files`), in path order.
    groups: Vec<Vec<usize>>,
    props: Arc<PlanProperties>,
    /// The arguments it was made from that `scan` does not keep: what the cluster's codec
    /// sends, to make the same node on an executor.
    made: Made,
}

#[derive(Debug, Clone)]
struct Made {
    text: TextColumns,
    table_schema: SchemaRef,
    projection: Option<Vec<usize>>,
    threads: usize,
}

/// A session setting (a config extension): text scans are DataFusion file scans
/// ([`TextExec::into_file_scan`]). A Ballista scheduler's sessions have it: Ballista splits a
/// stage's partitions between tasks by rewriting the scans it knows (DataFusion's
/// `DataSourceExec` over a `FileScanConfig`), and a task runs every partition of a scan it does
/// not know, so a `TextExec` would be read once per task.
#[derive(Debug, Default)]
pub struct FileScans;

/// The arguments of [`TextExec::new`] a node was made with: given to `new` again they make the
/// same node, with the same partitions.
#[derive(Debug, Clone, Copy)]
pub struct TextArgs<'a> {
    /// The table's data columns.
    pub data: &'a SchemaRef,
    /// How lines map to columns.
    pub text: TextColumns,
    /// The table's whole schema.
    pub table_schema: &'a SchemaRef,
    /// The files.
    pub files: &'a [FlowFile],
    /// The output columns.
    pub projection: Option<&'a Vec<usize>>,
    /// A LIMIT with no filter before it.
    pub limit: Option<usize>,
    /// Threads.
    pub threads: usize,
}

/// What every partition of a [`TextExec`] shares.
#[derive(Debug, Clone)]
struct Scan {
    /// The table's data columns.
    data: SchemaRef,
    /// How the decoded columns map onto the files' lines.
    columns: Columns,
    files: Vec<FlowFile>,
    /// The output columns (indexes into the table's schema: data columns, then partition
    /// columns).
    wanted: Vec<usize>,
    /// The decoded columns' schema.
    decoded: SchemaRef,
    out_schema: SchemaRef,
    /// A LIMIT that needs no filtering first: a partition stops once it has sent that many
    /// rows.
    limit: Option<usize>,
    /// Threads decoding each file.
    threads_per_file: usize,
}

impl TextExec {
    /// Reads `files` (local, or remote objects) of a table whose data columns are `data` and
    /// whole schema `table_schema`, with the output columns `projection` (all when `None`), on
    /// up to `threads` threads. `limit` is a LIMIT with no filter before it.
    pub fn new(
        data: SchemaRef,
        text: TextColumns,
        table_schema: &Schema,
        files: Vec<FlowFile>,
        projection: Option<&Vec<usize>>,
        limit: Option<usize>,
        threads: usize,
    ) -> Result<TextExec> {
        let all: Vec<usize> = (0..table_schema.fields().len()).collect();
        let wanted = projection.unwrap_or(&all).clone();
        let n_data = data.fields().len();
        // Build only the projected data columns; partition columns are constants per file.
        let data_cols: Vec<usize> = wanted.iter().copied().filter(|&i| i < n_data).collect();
        let decoded = Arc::new(Schema::new(
            data_cols
                .iter()
                .map(|&i| data.field(i).clone())
                .collect::<Vec<_>>(),
        ));
        let out_schema = Arc::new(table_schema.project(&wanted)?);
        let columns = match text {
            TextColumns::ByHeader => Columns::ByHeader(
                data_cols
                    .iter()
                    .map(|&i| {
                        let name = data.field(i).name();
                        if name == LINE_COLUMN {
                            return Ok(Decoded::Line);
                        }
                        FieldId::from_column(name).map(Decoded::Field).ok_or_else(|| {
                            DataFusionError::Plan(format!(
                                "column '{name}' is not a flow-log field: files are read by their header lines"
                            ))
                        })
                    })
                    .collect::<Result<_>>()?,
            ),
            TextColumns::ByPosition { skip_lines } => Columns::ByPosition {
                skip_lines,
                fields: data
                    .fields()
                    .iter()
                    .map(|f| FieldId::from_column(f.name()))
                    .collect(),
                decoded: data_cols.clone(),
            },
        };
        let made = Made {
            text,
            table_schema: Arc::new(table_schema.clone()),
            projection: projection.cloned(),
            threads,
        };
        let threads = threads.max(1);
        // Many files: one thread per file. Few (large) files: chunks within each file too.
        let parts = files.len().clamp(1, threads);
        let scan = Scan {
            data,
            columns,
            files,
            wanted,
            decoded,
            out_schema,
            limit,
            threads_per_file: 1,
        };
        Ok(Self::grouped(scan, threads, parts, made))
    }

    /// `scan` over `parts` partitions of about equal bytes, `threads` threads shared among them.
    fn grouped(mut scan: Scan, threads: usize, parts: usize, made: Made) -> TextExec {
        scan.threads_per_file = (threads / parts).max(1);
        let sizes: Vec<u64> = scan.files.iter().map(|f| f.size).collect();
        let groups = balance(&sizes, parts);
        let props = PlanProperties::new(
            EquivalenceProperties::new(Arc::clone(&scan.out_schema)),
            Partitioning::UnknownPartitioning(groups.len()),
            EmissionType::Incremental,
            Boundedness::Bounded,
        );
        TextExec {
            metrics: Default::default(),
            scan: Arc::new(scan),
            groups,
            props: Arc::new(props),
            made,
        }
    }

    /// The arguments it was made with.
    pub fn args(&self) -> TextArgs<'_> {
        self.made.args(&self.scan)
    }
}

impl Made {
    /// The arguments that made `scan` (with these).
    fn args<'a>(&'a self, scan: &'a Scan) -> TextArgs<'a> {
        TextArgs {
            data: &scan.data,
            text: self.text,
            table_schema: &self.table_schema,
            files: &scan.files,
            projection: self.projection.as_ref(),
            limit: scan.limit,
            threads: self.threads,
        }
    }
}

/// What [`Scan::open`] made of a file.
enum Opened {
    /// Its batches, decoded on the calling thread.
    Ready(Vec<RecordBatch>),
    /// Its batches as a blocking thread decodes them.
    Live(SendableRecordBatchStream),
}

impl Scan {
    /// Whether `rows` rows answer the LIMIT.
    fn enough(&self, rows: usize) -> bool {
        self.limit.is_some_and(|l| rows >= l)
    }

    /// Starts decoding file `i` from its bytes `raw`, `rows` rows having been sent before it. A
    /// file of 2 MiB or more decodes on a blocking thread of its own, and its batches come as
    /// they are made, so memory stays a few chunks; a gzip one inflates there while other
    /// threads decode it (two threads at least, even with a file per thread). A smaller one
    /// (AWS's 5-minute files, a file per thread) is decoded right here: the operators above then
    /// work on each batch on the same core while it is still in cache, with no thread to hand
    /// it to.
    fn open(
        self: &Arc<Self>,
        i: usize,
        raw: bytes::Bytes,
        rows: usize,
        bad: &Arc<BadLines>,
    ) -> Result<Opened> {
        if raw.len() >= text::STREAM_MIN {
            let threads = if text::is_gzip(&raw) {
                self.threads_per_file.max(2)
            } else {
                self.threads_per_file
            };
            // Two batches in flight: the decoders wait for the query rather than pile up.
            let mut stream = RecordBatchReceiverStreamBuilder::new(Arc::clone(&self.out_schema), 2);
            let tx = stream.tx();
            let scan = Arc::clone(self);
            let bad = Arc::clone(bad);
            stream.spawn_blocking(move || {
                scan.decode(i, &raw, rows, threads, &bad, |b| {
                    tx.blocking_send(Ok(b)).is_ok()
                })
            });
            return Ok(Opened::Live(stream.build()));
        }
        let out = Mutex::new(Vec::new());
        self.decode(i, &raw, rows, self.threads_per_file, bad, |b| {
            out.lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push(b);
            true
        })?;
        Ok(Opened::Ready(
            out.into_inner()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        ))
    }

    /// Decodes file `i` from its bytes `raw` on up to `threads` threads, handing `send` its
    /// batches with the output columns until `send` says no more or the LIMIT is met (`rows`
    /// sent before this file).
    fn decode(
        &self,
        i: usize,
        raw: &[u8],
        rows: usize,
        threads: usize,
        bad: &BadLines,
        send: impl Fn(RecordBatch) -> bool + Sync,
    ) -> Result<()> {
        let f = &self.files[i];
        let rows = AtomicUsize::new(rows);
        let failed: Mutex<Option<DataFusionError>> = Mutex::new(None);
        let emit = |b: RecordBatch| match self.with_partition_values(f, &b) {
            Ok(b) => {
                let n = b.num_rows();
                send(b) && !self.enough(rows.fetch_add(n, Ordering::Relaxed) + n)
            }
            Err(e) => {
                *failed
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(e);
                false
            }
        };
        text::Decode {
            file: &f.path.display().to_string(),
            columns: &self.columns,
            schema: &self.decoded,
            threads,
            bad,
            emit: &emit,
        }
        .inflate_and_decode(raw)
        .map_err(|e| DataFusionError::External(Box::new(e)))?;
        match failed
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
        {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// A decoded batch with the output columns: its data columns, and `f`'s partition values.
    fn with_partition_values(&self, f: &FlowFile, b: &RecordBatch) -> Result<RecordBatch> {
        let n_data = self.data.fields().len();
        let mut d = 0;
        let columns = self
            .wanted
            .iter()
            .map(|&i| {
                if i < n_data {
                    d += 1;
                    Ok(Arc::clone(b.column(d - 1)))
                } else {
                    f.partition[i - n_data].to_array_of_size(b.num_rows())
                }
            })
            .collect::<Result<Vec<_>>>()?;
        let options = RecordBatchOptions::new().with_row_count(Some(b.num_rows()));
        Ok(RecordBatch::try_new_with_options(
            Arc::clone(&self.out_schema),
            columns,
            &options,
        )?)
    }
}

impl DisplayAs for TextExec {
    fn fmt_as(&self, t: DisplayFormatType, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        let columns: Vec<&str> = self
            .scan
            .out_schema
            .fields()
            .iter()
            .map(|c| c.name().as_str())
            .collect();
        match t {
            DisplayFormatType::Default | DisplayFormatType::Verbose => {
                write!(
                    f,
                    "TextExec: files={}, partitions={}, projection=[{}]",
                    self.scan.files.len(),
                    self.groups.len(),
                    columns.join(", ")
                )?;
                if let Some(l) = self.scan.limit {
                    write!(f, ", limit={l}")?;
                }
                Ok(())
            }
            DisplayFormatType::TreeRender => write!(f, "files={}", self.scan.files.len()),
        }
    }
}

impl ExecutionPlan for TextExec {
    fn name(&self) -> &str {
        "TextExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.props
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        Vec::new()
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn with_new_children(
        self: Arc<Self>,
        _children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        Ok(self)
    }

    fn metrics(&self) -> Option<datafusion::physical_plan::metrics::MetricsSet> {
        Some(self.metrics.clone_inner())
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let files = self.groups.get(partition).cloned().ok_or_else(|| {
            DataFusionError::Internal(format!(
                "TextExec has {} partitions, not {}",
                self.groups.len(),
                partition + 1
            ))
        })?;
        use datafusion::physical_plan::metrics::MetricBuilder;
        // `--skip-bad`: the session says; by default the first bad line fails the query.
        let bad = context
            .session_config()
            .get_extension::<BadLines>()
            .unwrap_or_default();
        Ok(self.scan.read(
            files,
            bad,
            Some(MetricBuilder::new(&self.metrics).output_rows(partition)),
            MetricBuilder::new(&self.metrics).counter("bytes_scanned", partition),
        ))
    }
}

impl Scan {
    /// The batches of `files` (indexes into `files`), read in turn: one output partition.
    /// `output_rows` counts the rows handed on, where nothing above counts them already.
    fn read(
        self: &Arc<Self>,
        files: Vec<usize>,
        bad: Arc<BadLines>,
        output_rows: Option<datafusion::physical_plan::metrics::Count>,
        bytes_scanned: datafusion::physical_plan::metrics::Count,
    ) -> SendableRecordBatchStream {
        let to_fetch = files
            .iter()
            .filter_map(|&i| Some((i, self.files[i].remote.clone()?)))
            .collect();
        let state = Partition {
            output_rows,
            bytes_scanned,
            scan: Arc::clone(self),
            bad,
            files: files.into_iter(),
            to_fetch,
            fetching: VecDeque::new(),
            ready: VecDeque::new(),
            live: None,
            rows: 0,
            done: false,
        };
        Box::pin(RecordBatchStreamAdapter::new(
            Arc::clone(&self.out_schema),
            futures::stream::unfold(state, Partition::next),
        ))
    }
}

/// One output partition of a [`TextExec`] as it runs: its files still to read, the remote ones
/// among them being fetched, the batches of the file decoded last, or the stream of the file
/// being decoded elsewhere.
struct Partition {
    /// Rows handed on.
    output_rows: Option<datafusion::physical_plan::metrics::Count>,
    /// Bytes of the files read, as stored (compressed or not).
    bytes_scanned: datafusion::physical_plan::metrics::Count,
    scan: Arc<Scan>,
    bad: Arc<BadLines>,
    files: std::vec::IntoIter<usize>,
    /// The remote files of `files` whose fetch has not started (with their bucket and key), in
    /// order.
    to_fetch: VecDeque<(usize, (Arc<RemoteBucket>, ObjectPath))>,
    /// The remote files of `files` being fetched (or fetched, not yet decoded), in order; a
    /// dropped partition (a LIMIT met, an error) aborts them.
    fetching: VecDeque<(usize, SpawnedTask<Result<bytes::Bytes>>)>,
    ready: VecDeque<RecordBatch>,
    live: Option<SendableRecordBatchStream>,
    /// Rows sent so far.
    rows: usize,
    /// After an error, nothing more.
    done: bool,
}

impl Partition {
    fn count(&mut self, rows: usize) {
        self.rows += rows;
        if let Some(c) = &self.output_rows {
            c.add(rows);
        }
    }

    async fn next(mut self) -> Option<(Result<RecordBatch>, Partition)> {
        loop {
            if self.done {
                return None;
            }
            if let Some(b) = self.ready.pop_front() {
                self.count(b.num_rows());
                return Some((Ok(b), self));
            }
            if let Some(live) = self.live.as_mut() {
                match live.next().await {
                    Some(Ok(b)) => {
                        self.count(b.num_rows());
                        return Some((Ok(b), self));
                    }
                    Some(Err(e)) => {
                        self.done = true;
                        return Some((Err(e), self));
                    }
                    None => {
                        self.live = None;
                        continue;
                    }
                }
            }
            if self.scan.enough(self.rows) {
                return None;
            }
            let i = self.files.next()?;
            let raw = match self.bytes(i).await {
                Ok(raw) => {
                    self.bytes_scanned.add(raw.len());
                    raw
                }
                Err(e) => {
                    self.done = true;
                    return Some((Err(e), self));
                }
            };
            match self.scan.open(i, raw, self.rows, &self.bad) {
                Ok(Opened::Ready(batches)) => self.ready.extend(batches),
                Ok(Opened::Live(stream)) => self.live = Some(stream),
                Err(e) => {
                    self.done = true;
                    return Some((Err(e), self));
                }
            }
        }
    }

    /// The bytes of file `i`, the next of `files`: a local file read here; a remote object
    /// from the fetches under way. Either way the remote objects after it are fetched first, so
    /// that they download while it decodes.
    async fn bytes(&mut self, i: usize) -> Result<bytes::Bytes> {
        let scan = Arc::clone(&self.scan);
        let f = &scan.files[i];
        self.fetch_ahead();
        if f.remote.is_none() {
            return std::fs::read(&f.path)
                .map(bytes::Bytes::from)
                .map_err(|e| DataFusionError::Execution(format!("{}: {e}", f.path.display())));
        }
        let task = match self.fetching.pop_front() {
            Some((j, task)) if j == i => task,
            _ => {
                return Err(DataFusionError::Internal(format!(
                    "TextExec: {} is not the next object fetched",
                    f.path.display()
                )));
            }
        };
        self.fetch_ahead();
        task.join().await.map_err(|e| {
            DataFusionError::Execution(format!("{}: fetch stopped: {e}", f.path.display()))
        })?
    }

    /// Starts fetching the next remote files, in order, while fewer than [`FETCH_AHEAD_FILES`]
    /// and [`FETCH_AHEAD_BYTES`] are under way (always one, however large).
    fn fetch_ahead(&mut self) {
        let size = |i: usize| self.scan.files[i].size;
        let mut bytes: u64 = self.fetching.iter().map(|(i, _)| size(*i)).sum();
        while let Some(&(i, _)) = self.to_fetch.front() {
            if !self.fetching.is_empty()
                && (self.fetching.len() >= FETCH_AHEAD_FILES || bytes + size(i) > FETCH_AHEAD_BYTES)
            {
                break;
            }
            let Some((_, (bucket, key))) = self.to_fetch.pop_front() else {
                break;
            };
            bytes += size(i);
            let name = self.scan.files[i].path.display().to_string();
            let task = SpawnedTask::spawn(async move {
                let got = async { bucket.store.get(&key).await?.bytes().await };
                got.await
                    .map_err(|e| DataFusionError::Execution(format!("{name}: {e}")))
            });
            self.fetching.push_back((i, task));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use datafusion::arrow::array::Int32Array;
    use datafusion::object_store::memory::InMemory;
    use datafusion::object_store::{ObjectStore, PutPayload};
    use datafusion::physical_plan::collect;
    use datafusion::prelude::SessionConfig;

    use super::*;
    use crate::table::{Place, import};

    const HEADER: &str = "version account-id interface-id srcaddr dstaddr srcport dstport \
                          protocol packets bytes start end action log-status\n";

    /// Object `k` of the bucket: three records whose source ports are 10k, 10k+1 and 10k+2; the
    /// fourth object gzipped, the others plain text.
    fn object(k: usize) -> (ObjectPath, Vec<u8>) {
        let mut text = HEADER.to_owned();
        for port in 10 * k..10 * k + 3 {
            text += &format!(
                "2 123456789012 eni-1 10.0.0.1 10.0.0.2 {port} 443 6 1 100 1700000000 \
                 1700000060 ACCEPT OK\n"
            );
        }
        if k == 3 {
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            gz.write_all(text.as_bytes()).unwrap();
            (ObjectPath::from("flows/f03.log.gz"), gz.finish().unwrap())
        } else {
            (
                ObjectPath::from(format!("flows/f{k:02}.log")),
                text.into_bytes(),
            )
        }
    }

    /// Remote objects are fetched when the query runs, not while it is planned, and come out in
    /// file order however many are fetched ahead (ten objects, more than FETCH_AHEAD_FILES, in
    /// one partition).
    #[test]
    fn remote_text_is_fetched_when_the_query_runs_in_file_order() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async {
            let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
            for k in 0..10 {
                let (key, body) = object(k);
                store.put(&key, PutPayload::from(body)).await.unwrap();
            }
            let bucket = Arc::new(RemoteBucket {
                name: "b".into(),
                store: Arc::clone(&store),
            });
            let table = import(&Place::Remote {
                bucket,
                prefix: "flows".into(),
            })
            .await
            .unwrap();
            let ctx = crate::session(SessionConfig::new().with_target_partitions(1));
            ctx.register_table("flows", Arc::new(table)).unwrap();
            let plan = ctx
                .sql("SELECT srcport FROM flows")
                .await
                .unwrap()
                .create_physical_plan()
                .await
                .unwrap();

            // Planning read nothing: an object gone now is missed when the query runs, by name.
            let (gone, body) = object(7);
            store.delete(&gone).await.unwrap();
            let err = collect(Arc::clone(&plan), ctx.task_ctx())
                .await
                .unwrap_err()
                .to_string();
            assert!(err.contains("s3://b/flows/f07.log"), "{err}");

            // Back in place, the same plan reads every object, in order.
            store.put(&gone, PutPayload::from(body)).await.unwrap();
            let batches = collect(plan, ctx.task_ctx()).await.unwrap();
            let ports: Vec<i32> = batches
                .iter()
                .flat_map(|b| {
                    let a = b.column(0).as_any().downcast_ref::<Int32Array>().unwrap();
                    a.values().to_vec()
                })
                .collect();
            let want: Vec<i32> = (0..10)
                .flat_map(|k| (10 * k..10 * k + 3).collect::<Vec<i32>>())
                .collect();
            assert_eq!(ports, want);
        });
    }
}
