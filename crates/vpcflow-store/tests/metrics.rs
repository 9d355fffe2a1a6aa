//! CloudWatch's metric data: PutMetricData kept per account, then read back by
//! GetMetricStatistics (periods, statistics, percentiles), GetMetricData and ListMetrics, and
//! AWS's refusals, over a store opened again in between.

use vpcflow_store::DataDir;
use vpcflow_store::alarms::{AlarmError, AlarmErrorCode, Dimension};
use vpcflow_store::metrics::{
    DimensionFilter, GetMetricData, GetMetricStatistics, ListMetrics, Metric, MetricDataQuery,
    MetricDatum, MetricStat, Metrics, PutMetricData, StatisticSet,
};

const A: &str = "123456789012";
const B: &str = "210987654321";
/// 2026-01-15T14:00:00Z, seconds.
const T0: f64 = 1_768_485_600.0;
const NOW_MS: u64 = 1_768_485_600_000 + 3_600_000;

fn dims(pairs: &[(&str, &str)]) -> Vec<Dimension> {
    pairs
        .iter()
        .map(|(n, v)| Dimension {
            name: (*n).into(),
            value: (*v).into(),
        })
        .collect()
}

fn datum(at: f64, value: f64) -> MetricDatum {
    MetricDatum {
        metric_name: "RejectedPackets".into(),
        dimensions: dims(&[("VpcId", "vpc-1"), ("Eni", "eni-1")]),
        timestamp: Some(at),
        value: Some(value),
        ..Default::default()
    }
}

fn put(m: &Metrics, account: &str, data: Vec<MetricDatum>) -> Result<(), AlarmError> {
    m.put(
        account,
        &PutMetricData {
            namespace: "VPCFlowLogs".into(),
            metric_data: data,
        },
        NOW_MS,
    )
}

fn stats(stats: &[&str], extended: &[&str]) -> GetMetricStatistics {
    GetMetricStatistics {
        namespace: "VPCFlowLogs".into(),
        metric_name: "RejectedPackets".into(),
        // The same dimensions in another order are the same metric.
        dimensions: dims(&[("Eni", "eni-1"), ("VpcId", "vpc-1")]),
        start_time: T0,
        end_time: T0 + 600.0,
        period: 300,
        statistics: stats.iter().map(|s| (*s).into()).collect(),
        extended_statistics: extended.iter().map(|s| (*s).into()).collect(),
        unit: None,
    }
}

fn code(e: AlarmError) -> (AlarmErrorCode, String) {
    match e {
        AlarmError::Refused { code, message } => (code, message),
        other => panic!("{other}"),
    }
}

#[test]
fn data_put_are_summed_by_period_and_kept() {
    let tmp = tempfile::tempdir().unwrap();
    let m = Metrics::open(&DataDir::new(tmp.path())).unwrap();
    // Period one (14:00–14:05): 1, 2, 3, 10 and a set of 4 summing 20 (min 4, max 6).
    let mut data: Vec<MetricDatum> = [1.0, 2.0, 3.0, 10.0]
        .iter()
        .enumerate()
        .map(|(i, v)| datum(T0 + i as f64, *v))
        .collect();
    data.push(MetricDatum {
        value: None,
        statistic_values: Some(StatisticSet {
            sample_count: 4.0,
            sum: 20.0,
            minimum: 4.0,
            maximum: 6.0,
        }),
        ..datum(T0 + 10.0, 0.0)
    });
    // Period two (14:05–14:10): 7 seen 3 times, 1 once.
    data.push(MetricDatum {
        value: None,
        values: vec![7.0, 1.0],
        counts: vec![3.0, 1.0],
        ..datum(T0 + 301.0, 0.0)
    });
    put(&m, A, data).unwrap();
    drop(m);

    let m = Metrics::open(&DataDir::new(tmp.path())).unwrap();
    let got = m
        .statistics(
            A,
            &stats(
                &["SampleCount", "Sum", "Average", "Minimum", "Maximum"],
                &["p50"],
            ),
        )
        .unwrap();
    let rows: Vec<(f64, [Option<f64>; 5], Option<f64>)> = got
        .datapoints
        .iter()
        .map(|d| {
            (
                d.timestamp,
                [d.sample_count, d.sum, d.average, d.minimum, d.maximum],
                d.extended_statistics.get("p50").copied(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            (
                T0,
                [Some(8.0), Some(36.0), Some(4.5), Some(1.0), Some(10.0)],
                Some(2.0)
            ),
            (
                T0 + 300.0,
                [Some(4.0), Some(22.0), Some(5.5), Some(1.0), Some(7.0)],
                Some(7.0)
            ),
        ]
    );
    // Only what was asked.
    let sums = m.statistics(A, &stats(&["Sum"], &[])).unwrap();
    assert!(
        sums.datapoints
            .iter()
            .all(|d| d.average.is_none() && d.sum.is_some())
    );
    // Another account has no such metric.
    assert!(
        m.statistics(B, &stats(&["Sum"], &[]))
            .unwrap()
            .datapoints
            .is_empty()
    );

    let data = m
        .data(
            A,
            &GetMetricData {
                metric_data_queries: vec![MetricDataQuery {
                    id: "rejects".into(),
                    metric_stat: Some(MetricStat {
                        metric: Metric {
                            namespace: "VPCFlowLogs".into(),
                            metric_name: "RejectedPackets".into(),
                            dimensions: dims(&[("VpcId", "vpc-1"), ("Eni", "eni-1")]),
                        },
                        period: 300,
                        stat: "Maximum".into(),
                        unit: None,
                    }),
                    ..Default::default()
                }],
                start_time: T0,
                end_time: T0 + 600.0,
                ..Default::default()
            },
        )
        .unwrap();
    let r = &data.metric_data_results[0];
    // Newest first, as CloudWatch scans by default.
    assert_eq!(
        (r.timestamps.clone(), r.values.clone()),
        (vec![T0 + 300.0, T0], vec![7.0, 10.0])
    );
    assert_eq!(
        (r.label.as_str(), r.status_code),
        ("RejectedPackets", "Complete")
    );

    let listed = m
        .list(
            A,
            &ListMetrics {
                dimensions: vec![DimensionFilter {
                    name: "VpcId".into(),
                    value: None,
                }],
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(listed.metrics.len(), 1);
    assert_eq!(listed.metrics[0].metric_name, "RejectedPackets");
    assert!(
        m.list(B, &ListMetrics::default())
            .unwrap()
            .metrics
            .is_empty()
    );
}

#[test]
fn requests_cloudwatch_refuses() {
    use AlarmErrorCode::*;
    let tmp = tempfile::tempdir().unwrap();
    let m = Metrics::open(&DataDir::new(tmp.path())).unwrap();
    let aws = PutMetricData {
        namespace: "AWS/EC2".into(),
        metric_data: vec![datum(T0, 1.0)],
    };
    assert_eq!(
        code(m.put(A, &aws, NOW_MS).unwrap_err()),
        (
            InvalidParameterValue,
            "The value AWS/EC2 for parameter Namespace is invalid.".into()
        )
    );
    let both = MetricDatum {
        values: vec![1.0],
        ..datum(T0, 1.0)
    };
    assert_eq!(
        code(put(&m, A, vec![both]).unwrap_err()).0,
        InvalidParameterCombination
    );
    let old = datum(T0 - 15.0 * 86_400.0, 1.0);
    assert_eq!(
        code(put(&m, A, vec![old]).unwrap_err()).0,
        InvalidParameterValue
    );
    let nan = datum(T0, f64::NAN);
    assert_eq!(
        code(put(&m, A, vec![nan]).unwrap_err()).0,
        InvalidParameterValue
    );

    let rows: Vec<(GetMetricStatistics, AlarmErrorCode, &str)> = vec![
        (
            GetMetricStatistics {
                period: 90,
                ..stats(&["Sum"], &[])
            },
            InvalidParameterValue,
            "The parameter Period must be a multiple of 60.",
        ),
        (
            stats(&[], &[]),
            InvalidParameterCombination,
            "Must specify either Statistics or ExtendedStatistics",
        ),
        (
            GetMetricStatistics {
                period: 60,
                end_time: T0 + 86_401.0,
                ..stats(&["Sum"], &[])
            },
            InvalidParameterCombination,
            "You have requested up to 1441 datapoints, which exceeds the limit of 1,440. You may reduce the datapoints requested by increasing Period, or decreasing the time range.",
        ),
        (
            GetMetricStatistics {
                end_time: T0,
                ..stats(&["Sum"], &[])
            },
            InvalidParameterValue,
            "The parameter StartTime must be less than the parameter EndTime.",
        ),
    ];
    for (req, c, message) in rows {
        assert_eq!(
            code(m.statistics(A, &req).unwrap_err()),
            (c, message.to_owned())
        );
    }
    let mut bad = stats(&["Median"], &[]);
    assert_eq!(
        code(m.statistics(A, &bad).unwrap_err()).0,
        InvalidParameterValue
    );
    bad = stats(&[], &["p101"]);
    assert_eq!(
        code(m.statistics(A, &bad).unwrap_err()).0,
        InvalidParameterValue
    );

    let expression = GetMetricData {
        metric_data_queries: vec![MetricDataQuery {
            id: "e1".into(),
            expression: Some("SUM(METRICS())".into()),
            ..Default::default()
        }],
        start_time: T0,
        end_time: T0 + 60.0,
        ..Default::default()
    };
    assert_eq!(code(m.data(A, &expression).unwrap_err()).0, Validation);
    // Nothing refused was kept.
    assert!(
        m.list(A, &ListMetrics::default())
            .unwrap()
            .metrics
            .is_empty()
    );
}
