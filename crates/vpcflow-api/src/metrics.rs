//! The server's own figures in Prometheus' text format (`/metrics`): requests by service, action
//! and status, their latency as a histogram by service and action, and whatever the process
//! adds (the delivery's figures, through [`Extra`]).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;

/// Latency buckets, seconds.
const BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

#[derive(Default)]
struct Latency {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

/// Figures a process adds to `/metrics`: lines in Prometheus' text format, with their `# HELP`
/// and `# TYPE`.
pub type Extra = Box<dyn Fn(&mut String) + Send + Sync>;

/// Requests and latencies, counted as they are answered.
#[derive(Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, String, u16), u64>>,
    latency: Mutex<BTreeMap<(String, String), Latency>>,
}

/// A label value, escaped as the text format asks.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

impl Metrics {
    /// One answered request. `action` is a served action's name (or a fixed word for the rest,
    /// never the client's text, which would grow the series without bound).
    pub fn record(&self, service: &str, action: &str, status: u16, secs: f64) {
        let key = (service.to_owned(), action.to_owned());
        *self
            .requests
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry((key.0.clone(), key.1.clone(), status))
            .or_default() += 1;
        let mut latency = self
            .latency
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let l = latency.entry(key).or_default();
        for (i, le) in BUCKETS.iter().enumerate() {
            if secs <= *le {
                l.counts[i] += 1;
            }
        }
        l.count += 1;
        l.sum += secs;
    }

    /// The text format.
    pub fn render(&self, out: &mut String) {
        out.push_str(
            "# HELP vpcflow_api_requests_total API requests answered, by service, action and status.\n\
             # TYPE vpcflow_api_requests_total counter\n",
        );
        for ((service, action, status), n) in self
            .requests
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
        {
            let _ = writeln!(
                out,
                "vpcflow_api_requests_total{{service=\"{}\",action=\"{}\",status=\"{status}\"}} {n}",
                label(service),
                label(action)
            );
        }
        out.push_str(
            "# HELP vpcflow_api_request_duration_seconds Time to answer an API request.\n\
             # TYPE vpcflow_api_request_duration_seconds histogram\n",
        );
        for ((service, action), l) in self
            .latency
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
        {
            let labels = format!(
                "service=\"{}\",action=\"{}\"",
                label(service),
                label(action)
            );
            for (le, n) in BUCKETS.iter().zip(l.counts) {
                let _ = writeln!(
                    out,
                    "vpcflow_api_request_duration_seconds_bucket{{{labels},le=\"{le}\"}} {n}"
                );
            }
            let _ = writeln!(
                out,
                "vpcflow_api_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}\n\
                 vpcflow_api_request_duration_seconds_sum{{{labels}}} {}\n\
                 vpcflow_api_request_duration_seconds_count{{{labels}}} {}",
                l.count, l.sum, l.count
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delivery_figures_in_the_text_format() {
        let mut out = String::new();
        DeliveryFigures {
            committed: 10,
            delivered: 7,
            skipped: 1,
            spool_bytes: 300,
            waiting: [("fl-1".to_owned(), 3)].into(),
            destinations: vec![("fl-1".into(), "arn:aws:s3:::b".into(), true)],
        }
        .render(&mut out);
        for line in [
            "vpcflow_records_committed_total 10\n",
            "vpcflow_records_delivered_total 7\n",
            "vpcflow_records_skipped_total 1\n",
            "vpcflow_spool_bytes 300\n",
            "vpcflow_spool_records{flow_log_id=\"fl-1\"} 3\n",
            "vpcflow_delivery_failing{flow_log_id=\"fl-1\",destination=\"arn:aws:s3:::b\"} 1\n",
        ] {
            assert!(out.contains(line), "{line} in {out}");
        }
    }

    #[test]
    fn counts_and_histograms_in_the_text_format() {
        let m = Metrics::default();
        m.record("ec2", "DescribeFlowLogs", 200, 0.003);
        m.record("ec2", "DescribeFlowLogs", 200, 0.03);
        m.record("logs", "Bad\"One", 400, 0.0001);
        let mut out = String::new();
        m.render(&mut out);
        assert!(out.contains(
            "vpcflow_api_requests_total{service=\"ec2\",action=\"DescribeFlowLogs\",status=\"200\"} 2\n"
        ));
        assert!(out.contains("action=\"Bad\\\"One\""), "{out}");
        assert!(out.contains(
            "vpcflow_api_request_duration_seconds_bucket{service=\"ec2\",action=\"DescribeFlowLogs\",le=\"0.005\"} 1\n"
        ));
        assert!(out.contains(
            "vpcflow_api_request_duration_seconds_count{service=\"ec2\",action=\"DescribeFlowLogs\"} 2"
        ));
    }
}

/// The delivery's figures, as the process gathers them for `/metrics`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryFigures {
    /// Records made and committed to the spool (the run's source: simulated or captured).
    pub committed: u64,
    /// Records delivered.
    pub delivered: u64,
    /// Records replaced by SKIPDATA.
    pub skipped: u64,
    /// Bytes waiting in the spool.
    pub spool_bytes: u64,
    /// Records waiting, by flow log.
    pub waiting: BTreeMap<String, u64>,
    /// Each flow log's destination and whether its delivery is failing now.
    pub destinations: Vec<(String, String, bool)>,
}

impl DeliveryFigures {
    /// The text format.
    pub fn render(&self, out: &mut String) {
        let mut counter = |name: &str, help: &str, v: u64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}"
            );
        };
        counter(
            "vpcflow_records_committed_total",
            "Records made (simulated or captured) and committed to the spool.",
            self.committed,
        );
        counter(
            "vpcflow_records_delivered_total",
            "Records delivered to their destinations.",
            self.delivered,
        );
        counter(
            "vpcflow_records_skipped_total",
            "Records replaced by SKIPDATA because a destination's share of the spool was full.",
            self.skipped,
        );
        let _ = writeln!(
            out,
            "# HELP vpcflow_spool_bytes Bytes waiting in the delivery spool.\n\
             # TYPE vpcflow_spool_bytes gauge\nvpcflow_spool_bytes {}",
            self.spool_bytes
        );
        out.push_str(
            "# HELP vpcflow_spool_records Records waiting in the spool, by flow log.\n\
             # TYPE vpcflow_spool_records gauge\n",
        );
        for (f, n) in &self.waiting {
            let _ = writeln!(
                out,
                "vpcflow_spool_records{{flow_log_id=\"{}\"}} {n}",
                label(f)
            );
        }
        out.push_str(
            "# HELP vpcflow_delivery_failing Whether a flow log's delivery is failing now \
             (DeliverLogsStatus FAILED), by destination.\n\
             # TYPE vpcflow_delivery_failing gauge\n",
        );
        for (f, dest, failing) in &self.destinations {
            let _ = writeln!(
                out,
                "vpcflow_delivery_failing{{flow_log_id=\"{}\",destination=\"{}\"}} {}",
                label(f),
                label(dest),
                u8::from(*failing)
            );
        }
    }
}
