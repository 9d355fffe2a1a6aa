//! What a query scanned and matched, as the CloudWatch console's "Showing X of Y records
//! matched, Y records (Z MB) scanned" says it, and what the same scan would cost in AWS.
//!
//! Owns reading those numbers off an executed plan ([`ScanStats::of`]) and the prices
//! ([`PRICES`]: one table, which the CLI's `--stats` and the query job's statistics read). The
//! definitions:
//! * records scanned: rows the scans handed on (after file and row-group pruning);
//! * records matched: rows that passed the query's filters before any aggregation, sort or
//!   limit (all scanned rows when there is no filter);
//! * bytes scanned: bytes the scans read from storage, as stored (compressed text files whole,
//!   Parquet's column chunks read). Athena bills exactly that; CloudWatch bills the log events'
//!   own bytes, uncompressed, so for compressed sources the Insights price of these bytes is a
//!   lower bound.

use std::sync::Arc;

use datafusion::physical_plan::ExecutionPlan;

/// What a query read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScanStats {
    /// Rows the scans handed on.
    pub records_scanned: u64,
    /// Rows that passed the filters before any aggregation, sort or limit.
    pub records_matched: u64,
    /// Bytes the scans read from storage.
    pub bytes_scanned: u64,
}

/// One AWS price that a scan of vpcflow's would have cost (us-east-1, public list prices).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Price {
    /// The service and what it bills.
    pub what: &'static str,
    /// Dollars per unit.
    pub dollars: f64,
    /// Bytes in the unit billed.
    pub unit_bytes: u64,
    /// Bytes billed at least, per query.
    pub minimum_bytes: u64,
}

/// A gibibyte (what AWS's "GB" of data scanned counts).
const GB: u64 = 1 << 30;

/// The prices a query's scan is shown against: Logs Insights $0.005 per GB scanned; Athena $5
/// per TB scanned, with a 10 MB minimum per query.
pub const PRICES: &[Price] = &[
    Price {
        what: "CloudWatch Logs Insights ($0.005 per GB scanned)",
        dollars: 0.005,
        unit_bytes: GB,
        minimum_bytes: 0,
    },
    Price {
        what: "Athena ($5 per TB scanned, 10 MB minimum per query)",
        dollars: 5.0,
        unit_bytes: GB << 10,
        minimum_bytes: 10 << 20,
    },
];

impl Price {
    /// Dollars for a query that scans `bytes`.
    pub fn of(&self, bytes: u64) -> f64 {
        self.dollars * bytes.max(self.minimum_bytes) as f64 / self.unit_bytes as f64
    }
}

impl ScanStats {
    /// The statistics of an executed plan, from its operators' metrics.
    pub fn of(plan: &Arc<dyn ExecutionPlan>) -> ScanStats {
        let w = walk(plan);
        ScanStats {
            records_scanned: w.scanned,
            records_matched: w.matched,
            bytes_scanned: w.bytes,
        }
    }
}

/// Two scans together (a script's statements).
impl std::ops::Add for ScanStats {
    type Output = ScanStats;

    fn add(self, other: ScanStats) -> ScanStats {
        ScanStats {
            records_scanned: self.records_scanned + other.records_scanned,
            records_matched: self.records_matched + other.records_matched,
            bytes_scanned: self.bytes_scanned + other.bytes_scanned,
        }
    }
}

/// A subtree's scan: rows and bytes of its leaves, and its rows matched so far (`settled` once
/// an aggregation, sort, limit or window has consumed them: filters above do not count).
struct Walk {
    scanned: u64,
    bytes: u64,
    matched: u64,
    settled: bool,
}

fn output_rows(plan: &Arc<dyn ExecutionPlan>) -> u64 {
    plan.metrics()
        .and_then(|m| m.output_rows())
        .unwrap_or_default() as u64
}

fn walk(plan: &Arc<dyn ExecutionPlan>) -> Walk {
    let children = plan.children();
    if children.is_empty() {
        let rows = output_rows(plan);
        let bytes = plan
            .metrics()
            .and_then(|m| m.sum_by_name("bytes_scanned"))
            .map_or(0, |v| v.as_usize() as u64);
        return Walk {
            scanned: rows,
            bytes,
            matched: rows,
            settled: false,
        };
    }
    let mut w = Walk {
        scanned: 0,
        bytes: 0,
        matched: 0,
        settled: false,
    };
    for c in children {
        let cw = walk(c);
        w.scanned += cw.scanned;
        w.bytes += cw.bytes;
        w.matched += cw.matched;
        w.settled |= cw.settled;
    }
    if !w.settled {
        match plan.name() {
            "FilterExec" => w.matched = output_rows(plan),
            // Operators that pass rows on as they are.
            "ProjectionExec"
            | "RepartitionExec"
            | "CoalesceBatchesExec"
            | "CoalescePartitionsExec"
            | "UnionExec"
            | "CooperativeExec" => {}
            _ => w.settled = true,
        }
    }
    w
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_are_the_published_ones() {
        let insights = PRICES[0];
        let athena = PRICES[1];
        // 10 GB through Insights: 5 cents.
        assert!((insights.of(10 * GB) - 0.05).abs() < 1e-12);
        // Athena: 1 TB is $5, and a tiny query pays for 10 MB.
        assert!((athena.of(GB << 10) - 5.0).abs() < 1e-12);
        assert!((athena.of(1) - 5.0 * (10u64 << 20) as f64 / (GB << 10) as f64).abs() < 1e-15);
    }
}
