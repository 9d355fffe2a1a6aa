//! The text scan as a DataFusion file scan: [`TextSource`] under a `DataSourceExec`, so that a
//! Ballista scheduler splits its partitions between a stage's tasks.
//!
//! Ballista gives each task a slice of a stage's partitions by rewriting the scans it knows,
//! DataFusion's `DataSourceExec` over a `FileScanConfig`, to keep only that slice's file groups.
//! Any other leaf runs whole in every task. So on a cluster a text scan is a `FileScanConfig`
//! whose every file group holds one `PartitionedFile` standing for a partition's files (a
//! [`Group`] of indexes into the scan's files): a task keeps the groups of its partitions, and
//! each group is read by [`TextExec`]'s own reading, fetch-ahead and all. DataFusion sees a
//! source of the scan's output columns with no partition columns, no projection and no filter
//! of its own, which it must not split further (the files are whole, gzip included).

use std::sync::Arc;

use datafusion::common::Statistics;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::physical_plan::{
    FileOpenFuture, FileOpener, FileScanConfig, FileScanConfigBuilder, FileSource,
};
use datafusion::datasource::source::DataSourceExec;
use datafusion::datasource::table_schema::TableSchema;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::object_store::ObjectStore;
use datafusion::physical_plan::metrics::{Count, ExecutionPlanMetricsSet, MetricBuilder};
use datafusion::physical_plan::{ExecutionPlan, PhysicalExpr};
use futures::StreamExt as _;

use super::{Made, Scan, TextArgs, TextExec};
use crate::text::BadLines;

/// The files of one partition, indexes into the scan's files: the extension of the one
/// `PartitionedFile` of a file group.
#[derive(Debug, Clone, PartialEq)]
struct Group(Vec<usize>);

/// The flow-log text reader as a DataFusion [`FileSource`] (see the module's text).
#[derive(Debug, Clone)]
pub struct TextSource {
    scan: Arc<Scan>,
    made: Made,
    /// The scan's output columns, as DataFusion's "file schema".
    table_schema: TableSchema,
    metrics: ExecutionPlanMetricsSet,
}

/// What a text file scan reads ([`TextSource::of`]).
#[derive(Debug)]
pub struct TextFileScan<'a> {
    /// Its source: the scan's arguments.
    pub source: &'a TextSource,
    /// Each partition's files (indexes into the scan's files): what a task kept.
    pub groups: Vec<Vec<usize>>,
}

impl TextExec {
    /// The same scan as a file scan with the same partitions, which Ballista can split.
    pub fn into_file_scan(self) -> Arc<DataSourceExec> {
        let groups = self.groups.clone();
        TextSource::plan(self, groups)
    }

    /// The same scan as a file scan whose partitions read `groups` (indexes into its files):
    /// what a task's slice of [`TextExec::into_file_scan`] was. An index past the files is
    /// refused.
    pub fn into_file_scan_of(self, groups: Vec<Vec<usize>>) -> Result<Arc<DataSourceExec>> {
        let n = self.scan.files.len();
        if let Some(i) = groups.iter().flatten().find(|&&i| i >= n) {
            return Err(DataFusionError::Internal(format!(
                "text file scan: file {i} of a scan of {n} files"
            )));
        }
        Ok(TextSource::plan(self, groups))
    }
}

impl TextSource {
    fn plan(exec: TextExec, groups: Vec<Vec<usize>>) -> Arc<DataSourceExec> {
        let scan = exec.scan;
        let source = TextSource {
            table_schema: TableSchema::from(Arc::clone(&scan.out_schema)),
            scan: Arc::clone(&scan),
            made: exec.made,
            metrics: ExecutionPlanMetricsSet::new(),
        };
        let file_groups = groups
            .into_iter()
            .map(|g| {
                let name = g
                    .first()
                    .map(|&i| scan.files[i].path.display().to_string())
                    .unwrap_or_default();
                let size = g.iter().map(|&i| scan.files[i].size).sum();
                vec![PartitionedFile::new(name, size).with_extension(Group(g))].into()
            })
            .collect();
        let config =
            FileScanConfigBuilder::new(ObjectStoreUrl::local_filesystem(), Arc::new(source))
                .with_file_groups(file_groups)
                .with_statistics(Statistics::new_unknown(&scan.out_schema))
                .build();
        DataSourceExec::from_data_source(config)
    }

    /// The text source of `plan` and each of its partitions' files, when `plan` is a text file
    /// scan.
    pub fn of(plan: &dyn ExecutionPlan) -> Option<Result<TextFileScan<'_>>> {
        let exec = plan.downcast_ref::<DataSourceExec>()?;
        let source: &dyn std::any::Any = exec.data_source().as_ref();
        let config = source.downcast_ref::<FileScanConfig>()?;
        let text = config.file_source().downcast_ref::<TextSource>()?;
        let groups = config
            .file_groups
            .iter()
            .map(|g| match g.files() {
                [f] => f.extension::<Group>().map(|g| g.0.clone()),
                _ => None,
            })
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| {
                DataFusionError::Internal(
                    "text file scan: a file group is not one group of text files".to_owned(),
                )
            });
        Some(groups.map(|groups| TextFileScan {
            source: text,
            groups,
        }))
    }

    /// The arguments its scan was made with ([`TextExec::args`]).
    pub fn args(&self) -> TextArgs<'_> {
        self.made.args(&self.scan)
    }
}

impl FileSource for TextSource {
    fn create_file_opener(
        &self,
        _object_store: Arc<dyn ObjectStore>,
        _base_config: &FileScanConfig,
        partition: usize,
    ) -> Result<Arc<dyn FileOpener>> {
        Ok(Arc::new(GroupOpener {
            scan: Arc::clone(&self.scan),
            bytes_scanned: MetricBuilder::new(&self.metrics).counter("bytes_scanned", partition),
        }))
    }

    fn table_schema(&self) -> &TableSchema {
        &self.table_schema
    }

    /// Batches are as the text decoder makes them.
    fn with_batch_size(&self, _batch_size: usize) -> Arc<dyn FileSource> {
        Arc::new(self.clone())
    }

    fn metrics(&self) -> &ExecutionPlanMetricsSet {
        &self.metrics
    }

    /// No expressions: no filter or projection is pushed into the scan.
    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn file_type(&self) -> &str {
        "flow-log text"
    }

    /// A group's files are read whole, in order: gzip cannot start mid-file, and a group is
    /// one partition's files, not a file to cut into ranges.
    fn supports_repartitioning(&self) -> bool {
        false
    }
}

/// Opens a partition's [`Group`]: its files' batches, read in turn.
struct GroupOpener {
    scan: Arc<Scan>,
    bytes_scanned: Count,
}

impl FileOpener for GroupOpener {
    fn open(&self, file: PartitionedFile) -> Result<FileOpenFuture> {
        let Group(files) = file.extension::<Group>().cloned().ok_or_else(|| {
            DataFusionError::Internal(format!(
                "text file scan: {} is not a group of text files",
                file.object_meta.location
            ))
        })?;
        // A cluster refuses `--skip-bad`: the first bad line fails the query.
        let stream = self.scan.read(
            files,
            Arc::new(BadLines::default()),
            None,
            self.bytes_scanned.clone(),
        );
        Ok(Box::pin(async move { Ok(stream.boxed()) }))
    }
}
