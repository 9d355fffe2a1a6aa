//! What vpcflow's own plan pieces are on the wire between a Ballista client, scheduler and
//! executors: [`LogicalCodec`] carries a [`FlowTable`] (the table provider of the Athena catalog's
//! tables, `--files` imports and S3 layouts, text or Parquet, local or in a bucket) inside a
//! logical plan, [`PhysicalCodec`] carries the flow-log text reader inside a physical plan (a
//! [`TextExec`], or on a scheduler the file scan of a [`TextSource`] with the file groups a task
//! kept), and both make vpcflow's functions ([`crate::udf`]) again by name. Everything else goes
//! to Ballista's own codecs (its shuffle nodes, DataFusion's built-in nodes).
//!
//! Each encoding starts with one byte saying whose it is ([`OURS`] or [`BALLISTA`]), so that
//! decoding never guesses. A remote object is named by its bucket and key; the process that
//! decodes it opens the bucket from its own `--config` (credentials never travel in a plan).

use std::path::PathBuf;
use std::sync::Arc;

use ballista_core::serde::{BallistaLogicalExtensionCodec, BallistaPhysicalExtensionCodec};
use datafusion::arrow::datatypes::{Field, FieldRef, Schema, SchemaRef};
use datafusion::catalog::TableProvider;
use datafusion::common::{ScalarValue, TableReference};
use datafusion::datasource::file_format::FileFormatFactory;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::TaskContext;
use datafusion::logical_expr::{Extension, LogicalPlan, ScalarUDF};
use datafusion::object_store::path::Path as ObjectPath;
use datafusion::physical_expr_common::physical_expr::proto_decode::PhysicalExprDecodeCtx;
use datafusion::physical_expr_common::physical_expr::proto_encode::PhysicalExprEncodeCtx;
use datafusion::physical_plan::{ExecutionPlan, PhysicalExpr};
use datafusion_proto::logical_plan::LogicalExtensionCodec;
use datafusion_proto::physical_plan::{PhysicalExtensionCodec, PhysicalProtoConverterExtension};
use datafusion_proto::protobuf;

use crate::table::{FileKind, FlowFile, FlowTable, RemoteBucket, TextColumns};
use crate::text_exec::{TextArgs, TextExec, TextSource};

/// First byte of an encoding of ours.
const OURS: u8 = 1;
/// First byte of an encoding of Ballista's codec.
const BALLISTA: u8 = 0;

/// One file of a table or a text scan.
#[derive(Clone, PartialEq, prost::Message)]
struct FileMsg {
    #[prost(string, tag = "1")]
    path: String,
    /// The bucket and key of a remote object.
    #[prost(string, optional, tag = "2")]
    bucket: Option<String>,
    #[prost(string, optional, tag = "3")]
    key: Option<String>,
    #[prost(bool, tag = "4")]
    parquet: bool,
    #[prost(uint64, tag = "5")]
    size: u64,
    #[prost(message, repeated, tag = "6")]
    partition: Vec<protobuf::ScalarValue>,
    #[prost(int64, optional, tag = "7")]
    time_lo: Option<i64>,
    #[prost(int64, optional, tag = "8")]
    time_hi: Option<i64>,
}

/// A [`FlowTable`].
#[derive(Clone, PartialEq, prost::Message)]
struct TableMsg {
    #[prost(message, optional, tag = "1")]
    data: Option<protobuf::Schema>,
    #[prost(message, repeated, tag = "2")]
    partition_cols: Vec<protobuf::Field>,
    #[prost(message, repeated, tag = "3")]
    files: Vec<FileMsg>,
    /// Lines by position, after this many (`ROW FORMAT DELIMITED`); by header when absent.
    #[prost(uint64, optional, tag = "4")]
    skip_lines: Option<u64>,
}

/// A [`TextExec`] or a text file scan: the arguments it was made with.
#[derive(Clone, PartialEq, prost::Message)]
struct TextMsg {
    #[prost(message, optional, tag = "1")]
    data: Option<protobuf::Schema>,
    #[prost(message, optional, tag = "2")]
    table_schema: Option<protobuf::Schema>,
    #[prost(message, repeated, tag = "3")]
    files: Vec<FileMsg>,
    #[prost(uint64, optional, tag = "4")]
    skip_lines: Option<u64>,
    /// The output columns, when `projected`.
    #[prost(uint64, repeated, tag = "5")]
    projection: Vec<u64>,
    #[prost(bool, tag = "6")]
    projected: bool,
    #[prost(uint64, optional, tag = "7")]
    limit: Option<u64>,
    #[prost(uint64, tag = "8")]
    threads: u64,
    /// A file scan (`TextExec::into_file_scan`) whose partitions read `groups`.
    #[prost(bool, tag = "9")]
    file_scan: bool,
    #[prost(message, repeated, tag = "10")]
    groups: Vec<GroupMsg>,
}

/// A partition's files: indexes into [`TextMsg::files`].
#[derive(Clone, PartialEq, prost::Message)]
struct GroupMsg {
    #[prost(uint64, repeated, tag = "1")]
    files: Vec<u64>,
}

fn wire(what: &str, e: impl std::fmt::Display) -> DataFusionError {
    DataFusionError::Internal(format!("cluster codec: {what}: {e}"))
}

fn schema_to(s: &Schema) -> Result<protobuf::Schema> {
    protobuf::Schema::try_from(s).map_err(|e| wire("schema", e))
}

fn schema_from(s: Option<&protobuf::Schema>) -> Result<SchemaRef> {
    let s = s.ok_or_else(|| wire("schema", "missing"))?;
    Ok(Arc::new(
        Schema::try_from(s).map_err(|e| wire("schema", e))?,
    ))
}

fn text_to(t: TextColumns) -> Option<u64> {
    match t {
        TextColumns::ByHeader => None,
        TextColumns::ByPosition { skip_lines } => Some(skip_lines as u64),
    }
}

fn text_from(skip: Option<u64>) -> TextColumns {
    match skip {
        None => TextColumns::ByHeader,
        Some(n) => TextColumns::ByPosition {
            skip_lines: usize::try_from(n).unwrap_or(usize::MAX),
        },
    }
}

/// The buckets a process opened from its `--config`, which the plans it decodes name.
#[derive(Debug, Clone, Default)]
pub struct Buckets(pub Vec<Arc<RemoteBucket>>);

impl Buckets {
    fn file_to(f: &FlowFile) -> Result<FileMsg> {
        Ok(FileMsg {
            path: f.path.to_string_lossy().into_owned(),
            bucket: f.remote.as_ref().map(|(b, _)| b.name.clone()),
            key: f.remote.as_ref().map(|(_, k)| k.to_string()),
            parquet: f.kind == FileKind::Parquet,
            size: f.size,
            partition: f
                .partition
                .iter()
                .map(|v| protobuf::ScalarValue::try_from(v).map_err(|e| wire("partition value", e)))
                .collect::<Result<_>>()?,
            time_lo: f.time_bounds.map(|b| b.0),
            time_hi: f.time_bounds.map(|b| b.1),
        })
    }

    fn file_from(&self, m: &FileMsg) -> Result<FlowFile> {
        let remote = match (&m.bucket, &m.key) {
            (Some(name), Some(key)) => {
                let bucket = self.0.iter().find(|b| &b.name == name).ok_or_else(|| {
                    DataFusionError::Plan(format!(
                        "the query reads s3://{name}/{key}, and this process knows no bucket \
                         '{name}': start it with the --config that names the bucket's endpoint"
                    ))
                })?;
                let key = ObjectPath::parse(key).map_err(|e| wire("object key", e))?;
                Some((Arc::clone(bucket), key))
            }
            _ => None,
        };
        Ok(FlowFile {
            path: PathBuf::from(&m.path),
            remote,
            kind: if m.parquet {
                FileKind::Parquet
            } else {
                FileKind::Text
            },
            size: m.size,
            partition: m
                .partition
                .iter()
                .map(|v| ScalarValue::try_from(v).map_err(|e| wire("partition value", e)))
                .collect::<Result<_>>()?,
            time_bounds: m.time_lo.zip(m.time_hi),
        })
    }

    fn files_from(&self, files: &[FileMsg]) -> Result<Vec<FlowFile>> {
        files.iter().map(|f| self.file_from(f)).collect()
    }

    fn table_to(t: &FlowTable) -> Result<TableMsg> {
        let (data, partition_cols, text) = t.layout();
        Ok(TableMsg {
            data: Some(schema_to(data)?),
            partition_cols: partition_cols
                .iter()
                .map(|f| protobuf::Field::try_from(f.as_ref()).map_err(|e| wire("column", e)))
                .collect::<Result<_>>()?,
            files: t.files().iter().map(Self::file_to).collect::<Result<_>>()?,
            skip_lines: text_to(text),
        })
    }

    fn table_from(&self, m: &TableMsg) -> Result<FlowTable> {
        let data = schema_from(m.data.as_ref())?;
        let partition_cols = m
            .partition_cols
            .iter()
            .map(|f| Ok(Arc::new(Field::try_from(f).map_err(|e| wire("column", e))?)))
            .collect::<Result<Vec<FieldRef>>>()?;
        Ok(FlowTable::new(
            &data,
            partition_cols,
            self.files_from(&m.files)?,
            text_from(m.skip_lines),
        ))
    }

    /// A text scan by the arguments it was made with; a file scan's partitions too.
    fn text_to(a: TextArgs<'_>, groups: Option<Vec<Vec<usize>>>) -> Result<TextMsg> {
        Ok(TextMsg {
            data: Some(schema_to(a.data)?),
            table_schema: Some(schema_to(a.table_schema)?),
            files: a.files.iter().map(Self::file_to).collect::<Result<_>>()?,
            skip_lines: text_to(a.text),
            projection: a
                .projection
                .map(|p| p.iter().map(|&i| i as u64).collect())
                .unwrap_or_default(),
            projected: a.projection.is_some(),
            limit: a.limit.map(|l| l as u64),
            threads: a.threads as u64,
            file_scan: groups.is_some(),
            groups: groups
                .unwrap_or_default()
                .into_iter()
                .map(|g| GroupMsg {
                    files: g.into_iter().map(|i| i as u64).collect(),
                })
                .collect(),
        })
    }

    fn text_from(&self, m: &TextMsg) -> Result<Arc<dyn ExecutionPlan>> {
        let index = |i: u64| usize::try_from(i).map_err(|e| wire("column index", e));
        let projection = m
            .projected
            .then(|| {
                m.projection
                    .iter()
                    .map(|&i| index(i))
                    .collect::<Result<Vec<_>>>()
            })
            .transpose()?;
        let scan = TextExec::new(
            schema_from(m.data.as_ref())?,
            text_from(m.skip_lines),
            schema_from(m.table_schema.as_ref())?.as_ref(),
            self.files_from(&m.files)?,
            projection.as_ref(),
            m.limit.map(index).transpose()?,
            index(m.threads)?,
        )?;
        if !m.file_scan {
            return Ok(Arc::new(scan));
        }
        let groups = m
            .groups
            .iter()
            .map(|g| g.files.iter().map(|&i| index(i)).collect())
            .collect::<Result<Vec<Vec<usize>>>>()?;
        Ok(scan.into_file_scan_of(groups)?)
    }
}

/// Splits an encoding into whose it is and the rest.
fn whose(buf: &[u8]) -> Result<(u8, &[u8])> {
    match buf.split_first() {
        Some((&tag, rest)) if tag == OURS || tag == BALLISTA => Ok((tag, rest)),
        _ => Err(wire("encoding", "not one of vpcflow's cluster codec")),
    }
}

fn decode<M: prost::Message + Default>(what: &str, buf: &[u8]) -> Result<M> {
    M::decode(buf).map_err(|e| wire(what, e))
}

fn encode(m: &impl prost::Message, buf: &mut Vec<u8>) {
    buf.push(OURS);
    // Writing to a Vec has no capacity to run out of.
    m.encode(buf).expect("a Vec grows to fit");
}

/// The logical codec: [`FlowTable`]s, vpcflow's functions, and Ballista's for the rest.
#[derive(Debug, Default)]
pub struct LogicalCodec {
    buckets: Buckets,
    ballista: BallistaLogicalExtensionCodec,
}

impl LogicalCodec {
    /// A codec whose remote files are in `buckets`.
    pub fn new(buckets: Buckets) -> LogicalCodec {
        LogicalCodec {
            buckets,
            ballista: BallistaLogicalExtensionCodec::default(),
        }
    }
}

impl LogicalExtensionCodec for LogicalCodec {
    fn try_decode(
        &self,
        buf: &[u8],
        inputs: &[LogicalPlan],
        ctx: &TaskContext,
    ) -> Result<Extension> {
        self.ballista.try_decode(buf, inputs, ctx)
    }

    fn try_encode(&self, node: &Extension, buf: &mut Vec<u8>) -> Result<()> {
        self.ballista.try_encode(node, buf)
    }

    fn try_decode_table_provider(
        &self,
        buf: &[u8],
        table_ref: &TableReference,
        schema: SchemaRef,
        ctx: &TaskContext,
    ) -> Result<Arc<dyn TableProvider>> {
        match whose(buf)? {
            (OURS, rest) => Ok(Arc::new(
                self.buckets
                    .table_from(&decode::<TableMsg>("table", rest)?)?,
            )),
            (_, rest) => self
                .ballista
                .try_decode_table_provider(rest, table_ref, schema, ctx),
        }
    }

    fn try_encode_table_provider(
        &self,
        table_ref: &TableReference,
        node: Arc<dyn TableProvider>,
        buf: &mut Vec<u8>,
    ) -> Result<()> {
        if let Some(t) = (node.as_ref() as &dyn std::any::Any).downcast_ref::<FlowTable>() {
            encode(&Buckets::table_to(t)?, buf);
            return Ok(());
        }
        buf.push(BALLISTA);
        self.ballista
            .try_encode_table_provider(table_ref, node, buf)
    }

    fn try_decode_file_format(
        &self,
        buf: &[u8],
        ctx: &TaskContext,
    ) -> Result<Arc<dyn FileFormatFactory>> {
        self.ballista.try_decode_file_format(buf, ctx)
    }

    fn try_encode_file_format(
        &self,
        buf: &mut Vec<u8>,
        node: Arc<dyn FileFormatFactory>,
    ) -> Result<()> {
        self.ballista.try_encode_file_format(buf, node)
    }

    fn try_decode_udf(&self, name: &str, buf: &[u8]) -> Result<Arc<ScalarUDF>> {
        match crate::udf::by_name(name) {
            Some(f) => Ok(Arc::new(f)),
            None => self.ballista.try_decode_udf(name, buf),
        }
    }

    fn try_encode_udf(&self, node: &ScalarUDF, buf: &mut Vec<u8>) -> Result<()> {
        self.ballista.try_encode_udf(node, buf)
    }
}

/// The physical codec: the text reader ([`TextExec`], [`TextSource`]'s file scans), vpcflow's
/// functions, and Ballista's for the rest.
#[derive(Debug, Default)]
pub struct PhysicalCodec {
    buckets: Buckets,
    ballista: BallistaPhysicalExtensionCodec,
}

impl PhysicalCodec {
    /// A codec whose remote files are in `buckets`.
    pub fn new(buckets: Buckets) -> PhysicalCodec {
        PhysicalCodec {
            buckets,
            ballista: BallistaPhysicalExtensionCodec::default(),
        }
    }
}

impl PhysicalExtensionCodec for PhysicalCodec {
    fn try_decode(
        &self,
        buf: &[u8],
        inputs: &[Arc<dyn ExecutionPlan>],
        ctx: &TaskContext,
        proto_converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        match whose(buf)? {
            (OURS, rest) => self
                .buckets
                .text_from(&decode::<TextMsg>("text scan", rest)?),
            (_, rest) => self.ballista.try_decode(rest, inputs, ctx, proto_converter),
        }
    }

    fn try_encode(
        &self,
        node: Arc<dyn ExecutionPlan>,
        buf: &mut Vec<u8>,
        proto_converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<()> {
        if let Some(t) = node.downcast_ref::<TextExec>() {
            encode(&Buckets::text_to(t.args(), None)?, buf);
            return Ok(());
        }
        if let Some(scan) = TextSource::of(node.as_ref()) {
            let scan = scan?;
            encode(
                &Buckets::text_to(scan.source.args(), Some(scan.groups))?,
                buf,
            );
            return Ok(());
        }
        buf.push(BALLISTA);
        self.ballista.try_encode(node, buf, proto_converter)
    }

    fn try_decode_udf(&self, name: &str, buf: &[u8]) -> Result<Arc<ScalarUDF>> {
        match crate::udf::by_name(name) {
            Some(f) => Ok(Arc::new(f)),
            None => self.ballista.try_decode_udf(name, buf),
        }
    }

    fn try_encode_udf(&self, node: &ScalarUDF, buf: &mut Vec<u8>) -> Result<()> {
        self.ballista.try_encode_udf(node, buf)
    }

    fn try_decode_expr(
        &self,
        buf: &[u8],
        inputs: &[Arc<dyn PhysicalExpr>],
        ctx: &PhysicalExprDecodeCtx<'_>,
    ) -> Result<Arc<dyn PhysicalExpr>> {
        self.ballista.try_decode_expr(buf, inputs, ctx)
    }

    fn try_encode_expr(
        &self,
        node: &Arc<dyn PhysicalExpr>,
        buf: &mut Vec<u8>,
        ctx: &PhysicalExprEncodeCtx<'_>,
    ) -> Result<()> {
        self.ballista.try_encode_expr(node, buf, ctx)
    }
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::array::RecordBatch;
    use datafusion::arrow::util::pretty::pretty_format_batches;
    use datafusion::datasource::TableType;
    use datafusion::object_store::memory::InMemory;
    use datafusion::object_store::{ObjectStore, ObjectStoreExt as _, PutPayload};
    use datafusion::physical_plan::collect;
    use datafusion::prelude::{SessionConfig, SessionContext};
    use datafusion_proto::physical_plan::DefaultPhysicalProtoConverter;

    use super::*;
    use crate::table::{Place, import};

    /// A bucket `b` of three text objects (one gzipped) under `flows/`, and a Parquet-free
    /// table over it partitioned by nothing.
    async fn bucket() -> Arc<RemoteBucket> {
        use std::io::Write as _;
        let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
        for k in 0..3 {
            let mut text = "version account-id interface-id srcaddr dstaddr srcport dstport \
                            protocol packets bytes start end action log-status\n"
                .to_owned();
            for port in 10 * k..10 * k + 4 {
                text.push_str(&format!(
                    "2 123456789012 eni-{k} 10.0.0.1 10.0.0.2 {port} 443 6 1 {} 1700000000 \
                     1700000060 ACCEPT OK\n",
                    100 + port
                ));
            }
            let (key, body) = if k == 1 {
                let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                gz.write_all(text.as_bytes()).unwrap();
                ("flows/f1.log.gz".to_owned(), gz.finish().unwrap())
            } else {
                (format!("flows/f{k}.log"), text.into_bytes())
            };
            store
                .put(&ObjectPath::from(key), PutPayload::from(body))
                .await
                .unwrap();
        }
        Arc::new(RemoteBucket {
            name: "b".into(),
            store,
        })
    }

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
    }

    async fn rows(ctx: &SessionContext, table: Arc<dyn TableProvider>) -> String {
        ctx.register_table("flows", table).unwrap();
        let batches = ctx
            .sql("SELECT interface_id, srcport, bytes FROM flows ORDER BY srcport")
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        pretty_format_batches(&batches).unwrap().to_string()
    }

    /// A table travels by its files and layout: decoded where the bucket is known, it answers
    /// as the original does.
    #[test]
    fn a_table_decodes_to_one_that_answers_the_same() {
        rt().block_on(async {
            let b = bucket().await;
            let table: Arc<dyn TableProvider> = Arc::new(
                import(&Place::Remote {
                    bucket: Arc::clone(&b),
                    prefix: "flows".into(),
                })
                .await
                .unwrap(),
            );
            let codec = LogicalCodec::new(Buckets(vec![Arc::clone(&b)]));
            let name = TableReference::bare("flows");
            let mut buf = Vec::new();
            codec
                .try_encode_table_provider(&name, Arc::clone(&table), &mut buf)
                .unwrap();
            assert_eq!(buf[0], OURS);
            let ctx = crate::session(SessionConfig::new());
            let decoded = codec
                .try_decode_table_provider(&buf, &name, table.schema(), &ctx.task_ctx())
                .unwrap();
            assert_eq!(decoded.schema(), table.schema());
            assert_eq!(decoded.table_type(), TableType::Base);
            let want = rows(&crate::session(SessionConfig::new()), table).await;
            assert!(want.contains("eni-2"), "{want}");
            assert_eq!(rows(&ctx, decoded).await, want);

            // A process that does not know the bucket says which, and what to do.
            let stranger = LogicalCodec::new(Buckets::default());
            let err = stranger
                .try_decode_table_provider(&buf, &name, Arc::new(Schema::empty()), &ctx.task_ctx())
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("s3://b/flows/f0.log") && err.contains("--config"),
                "{err}"
            );
        });
    }

    fn text_exec(plan: &Arc<dyn ExecutionPlan>) -> Option<Arc<dyn ExecutionPlan>> {
        if plan.downcast_ref::<TextExec>().is_some() {
            return Some(Arc::clone(plan));
        }
        plan.children().into_iter().find_map(text_exec)
    }

    async fn batches(plan: Arc<dyn ExecutionPlan>, ctx: &SessionContext) -> Vec<RecordBatch> {
        collect(plan, ctx.task_ctx()).await.unwrap()
    }

    /// `sql`'s physical plan over bucket `b`'s objects as the table `flows`, in a session of
    /// `config`.
    async fn planned(
        b: &Arc<RemoteBucket>,
        config: SessionConfig,
        sql: &str,
    ) -> (SessionContext, Arc<dyn ExecutionPlan>) {
        let table = import(&Place::Remote {
            bucket: Arc::clone(b),
            prefix: "flows".into(),
        })
        .await
        .unwrap();
        let ctx = crate::session(config);
        ctx.register_table("flows", Arc::new(table)).unwrap();
        let plan = ctx
            .sql(sql)
            .await
            .unwrap()
            .create_physical_plan()
            .await
            .unwrap();
        (ctx, plan)
    }

    /// The text reader travels by the arguments it was made with: decoded, it has the same
    /// partitions and reads the same rows.
    #[test]
    fn a_text_scan_decodes_to_one_that_reads_the_same_rows() {
        rt().block_on(async {
            let b = bucket().await;
            let config = SessionConfig::new().with_target_partitions(2);
            let (ctx, plan) = planned(&b, config, "SELECT srcport, bytes FROM flows LIMIT 7").await;
            let scan = text_exec(&plan).expect("the plan reads text");
            let codec = PhysicalCodec::new(Buckets(vec![Arc::clone(&b)]));
            let converter = DefaultPhysicalProtoConverter {};
            let mut buf = Vec::new();
            codec
                .try_encode(Arc::clone(&scan), &mut buf, &converter)
                .unwrap();
            let decoded = codec
                .try_decode(&buf, &[], &ctx.task_ctx(), &converter)
                .unwrap();
            assert_eq!(
                decoded.properties().partitioning.partition_count(),
                scan.properties().partitioning.partition_count()
            );
            assert_eq!(decoded.schema(), scan.schema());
            let want = pretty_format_batches(&batches(scan, &ctx).await)
                .unwrap()
                .to_string();
            let got = pretty_format_batches(&batches(decoded, &ctx).await)
                .unwrap()
                .to_string();
            assert_eq!(got, want);
            assert!(want.matches("| 1").count() >= 7, "{want}");
        });
    }

    /// On a scheduler a text scan is a file scan that Ballista slices between tasks: each
    /// task's slice, through the codec, reads its own files, and the slices together read
    /// every record once.
    #[test]
    fn a_text_file_scan_sliced_per_task_reads_each_record_once() {
        use ballista_scheduler::state::task_builder::restrict_plan_to_partitions;
        rt().block_on(async {
            let b = bucket().await;
            let config = SessionConfig::new()
                .with_target_partitions(3)
                .with_extension(Arc::new(crate::text_exec::FileScans));
            let (ctx, plan) = planned(&b, config, "SELECT srcport, bytes FROM flows").await;
            let scan = file_scan(&plan).expect("the plan reads text as a file scan");
            let parts = scan.properties().partitioning.partition_count();
            assert_eq!(parts, 3);
            let whole = sorted_rows(&batches(Arc::clone(&scan), &ctx).await);
            assert_eq!(whole.len(), 12, "{whole:?}");
            let codec = PhysicalCodec::new(Buckets(vec![Arc::clone(&b)]));
            let converter = DefaultPhysicalProtoConverter {};
            let mut read = Vec::new();
            for p in 0..parts {
                let task = restrict_plan_to_partitions(Arc::clone(&scan), &[p]).unwrap();
                let mut buf = Vec::new();
                codec.try_encode(task, &mut buf, &converter).unwrap();
                let decoded = codec
                    .try_decode(&buf, &[], &ctx.task_ctx(), &converter)
                    .unwrap();
                assert_eq!(decoded.properties().partitioning.partition_count(), 1);
                let slice = sorted_rows(&batches(decoded, &ctx).await);
                assert!(slice.len() < whole.len(), "task {p} read {slice:?}");
                read.extend(slice);
            }
            read.sort();
            assert_eq!(read, whole);
        });
    }

    fn file_scan(plan: &Arc<dyn ExecutionPlan>) -> Option<Arc<dyn ExecutionPlan>> {
        if TextSource::of(plan.as_ref()).is_some() {
            return Some(Arc::clone(plan));
        }
        plan.children().into_iter().find_map(file_scan)
    }

    /// Each row of `batches` as text, sorted.
    fn sorted_rows(batches: &[RecordBatch]) -> Vec<String> {
        let table = pretty_format_batches(batches).unwrap().to_string();
        let mut rows: Vec<String> = table
            .lines()
            .filter(|l| l.starts_with("| ") && !l.contains("srcport"))
            .map(str::to_owned)
            .collect();
        rows.sort();
        rows
    }

    #[test]
    fn our_functions_decode_by_name_and_others_do_not() {
        let codec = LogicalCodec::default();
        assert_eq!(
            codec.try_decode_udf("vpcflowPtr", &[]).unwrap().name(),
            "vpcflowPtr"
        );
        assert!(codec.try_decode_udf("no_such_function", &[]).is_err());
        let codec = PhysicalCodec::default();
        assert_eq!(
            codec.try_decode_udf("day_of_week", &[]).unwrap().name(),
            "day_of_week"
        );
    }

    proptest::proptest! {
        /// Bytes off the wire are decoded or refused, never a panic.
        #[test]
        fn any_bytes_decode_or_are_refused(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..256)) {
            let ctx = SessionContext::new();
            let logical = LogicalCodec::default();
            let _ = logical.try_decode_table_provider(
                &bytes,
                &TableReference::bare("t"),
                Arc::new(Schema::empty()),
                &ctx.task_ctx(),
            );
            let physical = PhysicalCodec::default();
            let _ = physical.try_decode(&bytes, &[], &ctx.task_ctx(), &DefaultPhysicalProtoConverter {});
            let mut tagged = vec![OURS];
            tagged.extend_from_slice(&bytes);
            let _ = physical.try_decode(&tagged, &[], &ctx.task_ctx(), &DefaultPhysicalProtoConverter {});
            let _ = logical.try_decode_table_provider(
                &tagged,
                &TableReference::bare("t"),
                Arc::new(Schema::empty()),
                &ctx.task_ctx(),
            );
        }
    }
}
