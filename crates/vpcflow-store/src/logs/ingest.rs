//! The store's hook at ingest: the metric filters of a log group, evaluated on the events being
//! committed to it (PutLogEvents' batches and delivered flow-log segments alike), their data
//! points written in the same transaction as the segment's index rows, so that a segment
//! counts in its metrics exactly once and nothing re-scans segments.
//!
//! A filter sees the events committed after it was put (CloudWatch's filters are not
//! retroactive). Data points are kept per minute of the event's timestamp, one row per distinct
//! value (a single value seen N times), so percentiles stay exact; a filter with a
//! `defaultValue` publishes it for every event its pattern does not match, as AWS documents.

use rustc_hash::FxHashMap as HashMap;

use rusqlite::Connection;
use vpcflow_monitor::metric::Transformation;
use vpcflow_monitor::{Event, Pattern};

use super::filters::MetricTransformation;
use crate::metrics::{self, Row, StatisticSet};

/// A log group's metric filters, ready to evaluate events; what they found so far.
pub struct Ingest {
    account: String,
    filters: Vec<Active>,
    /// Dimension sets seen (their stored key) by number; 0 is none.
    dims: Vec<String>,
    dims_ids: HashMap<String, u32>,
    /// (filter, dimension set, minute ms) → value bits → count.
    found: HashMap<(usize, u32, u64), HashMap<u64, f64>>,
    /// The room events are split into, kept from one to the next.
    buffer: Option<vpcflow_monitor::FieldBuffer>,
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
        let none = metrics::dimensions_key(&[]);
        Ok(Some(Ingest {
            account,
            filters,
            dims_ids: HashMap::from_iter([(none.clone(), 0)]),
            dims: vec![none],
            found: HashMap::default(),
            buffer: None,
        }))
    }

    /// Evaluates every filter on one event (split into fields or parsed once for all).
    pub fn event(&mut self, timestamp_ms: i64, message: &str) {
        let minute = (timestamp_ms.max(0) as u64) / 60_000 * 60_000;
        let event = Event::reusing(message, self.buffer.take().unwrap_or_default());
        self.each_filter(&event, minute);
        self.buffer = Some(event.into_buffer());
    }

    fn each_filter(&mut self, event: &Event<'_>, minute: u64) {
        for i in 0..self.filters.len() {
            let f = &self.filters[i];
            let found = if f.transformation.needs_values() {
                f.pattern.found(event)
            } else {
                f.pattern
                    .test(event)
                    .then_some(vpcflow_monitor::Found::Bare)
            };
            let (value, dims) = match found {
                Some(found) => match f.transformation.apply_found(&found) {
                    Some((v, values)) if values.is_empty() => (v, 0),
                    Some((v, values)) => {
                        let pairs: Vec<(String, String)> = f
                            .transformation
                            .dimension_names()
                            .zip(values)
                            .map(|(n, v)| (n.to_owned(), v.into_owned()))
                            .collect();
                        (v, self.dims_id(metrics::dimensions_key(&pairs)))
                    }
                    // Matched, but its fields give no number: nothing (metric.rs).
                    None => continue,
                },
                None => match f.meta.default_value {
                    Some(v) => (v, 0),
                    None => continue,
                },
            };
            *self
                .found
                .entry((i, dims, minute))
                .or_default()
                .entry(value.to_bits())
                .or_default() += 1.0;
        }
    }

    fn dims_id(&mut self, key: String) -> u32 {
        if let Some(id) = self.dims_ids.get(&key) {
            return *id;
        }
        let id = self.dims.len() as u32;
        self.dims.push(key.clone());
        self.dims_ids.insert(key, id);
        id
    }

    /// Writes what was found as metric data (inside the caller's transaction).
    pub fn commit(self, conn: &Connection) -> rusqlite::Result<()> {
        let mut found: Vec<_> = self.found.into_iter().collect();
        // In a stable order: rows land the same way whatever the hash map's.
        found.sort_by_key(|(k, _)| *k);
        for ((i, dims, minute), values) in found {
            let meta = &self.filters[i].meta;
            let mut values: Vec<(u64, f64)> = values.into_iter().collect();
            values.sort_by(|a, b| f64::from_bits(a.0).total_cmp(&f64::from_bits(b.0)));
            let rows: Vec<Row> = values
                .into_iter()
                .map(|(bits, count)| {
                    let v = f64::from_bits(bits);
                    Row {
                        metric: meta.metric_name.clone(),
                        dims: self.dims[dims as usize].clone(),
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
