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
