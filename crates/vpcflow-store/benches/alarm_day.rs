//! A simulated day of alarms: ten alarms (60 and 300 s periods, 1 to 5 evaluation periods, M of
//! N, every missing-data treatment) over a day of a metric filter's data, evaluated as `vpcflow
//! up`'s pump evaluates them: after each 5-minute delivery, up to the metric time. The data is
//! made once through the ingest hook (PutLogEvents of flow-log lines, the seeds' rejected-packet
//! filter): 20 records a minute with a port scan every six hours.

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use vpcflow_store::DataDir;
use vpcflow_store::alarms::{Alarms, DeleteAlarms, PutMetricAlarm};
use vpcflow_store::logs::{
    CreateLogGroup, CreateLogStream, InputLogEvent, LogStore, MetricTransformation, PutLogEvents,
    PutMetricFilter,
};
use vpcflow_store::metrics::Metrics;

const A: &str = "123456789012";
const T0: u64 = 1_768_435_200_000; // 2026-01-15T00:00:00Z
const MIN: u64 = 60_000;

fn day_of_data(dir: &std::path::Path) {
    let logs = LogStore::open(DataDir::new(dir), "us-east-1", A).unwrap();
    logs.create_log_group(
        &CreateLogGroup {
            log_group_name: "/flows".into(),
            ..Default::default()
        },
        A,
        T0,
    )
    .unwrap();
    logs.create_log_stream(
        &CreateLogStream {
            log_group_name: "/flows".into(),
            log_stream_name: "eni-1-all".into(),
        },
        A,
        T0,
    )
    .unwrap();
    logs.put_metric_filter(
        &PutMetricFilter {
            log_group_name: "/flows".into(),
            filter_name: "rejects".into(),
            filter_pattern: "[version, account, eni, src, dst, srcport, dstport, protocol, packets, bytes, start, end, action=REJECT, status]".into(),
            metric_transformations: vec![MetricTransformation {
                metric_name: "RejectedPacketCount".into(),
                metric_namespace: "VPCFlowLogs".into(),
                metric_value: "$packets".into(),
                default_value: Some(0.0),
                dimensions: None,
                unit: None,
            }],
        },
        A,
        T0,
    )
    .unwrap();
    for batch in 0..288u64 {
        let mut events = Vec::new();
        for minute in batch * 5..batch * 5 + 5 {
            let scan = minute % 360 < 4;
            for k in 0..20u64 {
                let action = if k.is_multiple_of(7) || scan {
                    "REJECT"
                } else {
                    "ACCEPT"
                };
                let packets = if scan { 60 } else { 3 + k };
                events.push(InputLogEvent {
                    timestamp: (T0 + minute * MIN + k * 1000) as i64,
                    message: format!(
                        "2 {A} eni-1 198.51.100.{k} 10.0.1.10 4{k:04} 22 6 {packets} {} 1 2 {action} OK",
                        packets * 60
                    ),
                });
            }
        }
        logs.put_log_events(
            &PutLogEvents {
                log_group_name: "/flows".into(),
                log_stream_name: "eni-1-all".into(),
                log_events: events,
                sequence_token: None,
            },
            A,
            T0 + batch * 5 * MIN + 5 * MIN,
        )
        .unwrap();
    }
}

fn alarm(i: usize) -> PutMetricAlarm {
    let missing = ["missing", "ignore", "breaching", "notBreaching"][i % 4];
    let n = 1 + (i % 5) as i64;
    let statistic = ["Sum", "Maximum", "Average", "SampleCount", "Sum"][i % 5];
    serde_json::from_value(serde_json::json!({
        "AlarmName": format!("alarm-{i}"), "Namespace": "VPCFlowLogs",
        "MetricName": "RejectedPacketCount",
        "Statistic": statistic,
        "Period": if i.is_multiple_of(2) { 300 } else { 60 }, "EvaluationPeriods": n,
        "DatapointsToAlarm": 1 + (i as i64 % n), "Threshold": 200.0 + i as f64,
        "ComparisonOperator": "GreaterThanThreshold", "TreatMissingData": missing,
        "AlarmActions": ["arn:aws:sns:us-east-1:123456789012:ops"],
    }))
    .unwrap()
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    day_of_data(dir.path());
    let data = DataDir::new(dir.path());
    let alarms = Alarms::open(&data, "us-east-1").unwrap();
    let metrics = Metrics::open(&data).unwrap();
    let names: Vec<String> = (0..10).map(|i| format!("alarm-{i}")).collect();
    let no_topics = |_: &str| Vec::new();
    let mut group = c.benchmark_group("alarm_day");
    group.sample_size(10);
    group.bench_function("ten alarms, a day in 288 deliveries", |b| {
        b.iter_batched(
            || {
                let _ = alarms.delete(
                    A,
                    &DeleteAlarms {
                        alarm_names: names.clone(),
                    },
                );
                for i in 0..10 {
                    alarms.put(A, &alarm(i), T0).unwrap();
                }
                alarms.evaluate(&metrics, T0 + MIN, &no_topics).unwrap();
            },
            |()| {
                let mut changes = 0;
                for batch in 1..=288u64 {
                    changes += alarms
                        .evaluate(&metrics, T0 + batch * 5 * MIN, &no_topics)
                        .unwrap()
                        .len();
                }
                assert!(
                    changes >= 10,
                    "the scans move the alarms ({changes} changes)"
                );
                changes
            },
            BatchSize::PerIteration,
        );
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
