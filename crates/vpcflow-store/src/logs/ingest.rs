//! The store's hook at ingest: the metric filters of a log group, evaluated on the events being
//! committed to it (PutLogEvents' batches and delivered flow-log segments alike), their data
//! points written in the same transaction as the segment's index rows, so that a segment
//! counts in its metrics exactly once and nothing re-scans segments.
//!
//! A filter sees the events committed after it was put (CloudWatch's filters are not
//! retroactive). Data points are kept per minute of the event's timestamp, one row per distinct
//! value (a single value seen N times), so percentiles stay exact; a filter with a
//! `defaultValue` publishes it for every event its pattern does not match, as AWS documents.

use std::collections::BTreeMap;

use rusqlite::Connection;
use vpcflow_monitor::Pattern;
use vpcflow_monitor::metric::Transformation;

use super::filters::MetricTransformation;
use crate::metrics::{self, Row, StatisticSet};

/// A log group's metric filters, ready to evaluate events; what they found so far.
pub struct Ingest {
    account: String,
    filters: Vec<Active>,
    /// (filter, dimensions key, minute ms) → value bits → count.
    found: BTreeMap<(usize, String, u64), BTreeMap<u64, f64>>,
}

struct Active {
    pattern: Pattern,
    transformation: Transformation,
    meta: MetricTransformation,
}

impl Ingest {
    /// The filters of `group` (owned by its account, `default_account` when none was kept);
    /// `None` when it has none. A stored filter that no longer parses is skipped.
    pub fn for_group(
        conn: &Connection,
        group: &str,
        default_account: &str,
    ) -> rusqlite::Result<Option<Ingest>> {
        let mut stmt = conn.prepare(
            "SELECT pattern, transformations FROM metric_filters WHERE log_group = ?1 ORDER BY name",
        )?;
        let rows = stmt
            .query_map([group], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let filters: Vec<Active> = rows
            .iter()
            .filter_map(|(pattern, t)| {
                let pattern = Pattern::parse(pattern).ok()?;
                let meta: Vec<MetricTransformation> = serde_json::from_str(t).ok()?;
                let meta = meta.into_iter().next()?;
                let transformation = meta.checked(&pattern).ok()?;
                Some(Active {
                    pattern,
                    transformation,
                    meta,
                })
            })
            .collect();
        if filters.is_empty() {
            return Ok(None);
        }
        let account =
            super::index::group_account(conn, group)?.unwrap_or_else(|| default_account.to_owned());
        Ok(Some(Ingest {
            account,
            filters,
            found: BTreeMap::new(),
        }))
    }

    /// Evaluates every filter on one event.
    pub fn event(&mut self, timestamp_ms: i64, message: &str) {
        let minute = (timestamp_ms.max(0) as u64) / 60_000 * 60_000;
        for (i, f) in self.filters.iter().enumerate() {
            let datum = if f.transformation.needs_values() {
                f.pattern
                    .matched(message)
                    .map(|m| f.transformation.apply(&m))
            } else {
                f.pattern
                    .is_match(message)
                    .then(|| f.transformation.apply(&Default::default()))
            };
            let (value, dims) = match datum {
                Some(Some(d)) => (d.value, d.dimensions),
                // Matched, but its fields give no number: nothing (metric.rs).
                Some(None) => continue,
                None => match f.meta.default_value {
                    Some(v) => (v, Vec::new()),
                    None => continue,
                },
            };
            let key = (i, metrics::dimensions_key(&dims), minute);
            *self
                .found
                .entry(key)
                .or_default()
                .entry(value.to_bits())
                .or_default() += 1.0;
        }
    }

    /// Writes what was found as metric data (inside the caller's transaction).
    pub fn commit(self, conn: &Connection) -> rusqlite::Result<()> {
        for ((i, dims, minute), values) in self.found {
            let meta = &self.filters[i].meta;
            let rows: Vec<Row> = values
                .into_iter()
                .map(|(bits, count)| {
                    let v = f64::from_bits(bits);
                    Row {
                        metric: meta.metric_name.clone(),
                        dims: dims.clone(),
                        ts_ms: minute,
                        set: StatisticSet {
                            sample_count: count,
                            sum: v * count,
                            minimum: v,
                            maximum: v,
                        },
                        single: true,
                        unit: meta.unit.clone().unwrap_or_else(|| "None".to_owned()),
                    }
                })
                .collect();
            metrics::insert_rows(conn, &self.account, &meta.metric_namespace, &rows)?;
        }
        Ok(())
    }
}
