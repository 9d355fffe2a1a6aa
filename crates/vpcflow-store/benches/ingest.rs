//! The ingest hook's cost per event: the five metric filters of `bench/monitor.sh` evaluated on
//! 100 000 flow-log lines shaped like its load (internet probes, mostly REJECT), without the
//! delivery around them.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use vpcflow_store::DataDir;
use vpcflow_store::logs::ingest::Ingest;
use vpcflow_store::logs::{CreateLogGroup, LogStore, MetricTransformation, PutMetricFilter};

const A: &str = "123456789012";
const FLOW: &str =
    "version, account, eni, src, dst, srcport, dstport, protocol, packets, bytes, start, end";

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let logs = LogStore::open(DataDir::new(dir.path()), "us-east-1", A).unwrap();
    logs.create_log_group(
        &CreateLogGroup {
            log_group_name: "/g".into(),
            ..Default::default()
        },
        A,
        0,
    )
    .unwrap();
    let filters = [
        (
            format!("[{FLOW}, action=\"REJECT\", status]"),
            "$packets",
            Some(0.0),
        ),
        ("[..., action=REJECT, status]".to_owned(), "1", None),
        (
            "[version, account, eni, src, dst, srcport, dstport=22, ...]".to_owned(),
            "1",
            None,
        ),
        (format!("[{FLOW}, action, status]"), "$bytes", None),
        ("NODATA".to_owned(), "1", None),
    ];
    for (i, (pattern, value, default)) in filters.iter().enumerate() {
        logs.put_metric_filter(
            &PutMetricFilter {
                log_group_name: "/g".into(),
                filter_name: format!("f{i}"),
                filter_pattern: pattern.clone(),
                metric_transformations: vec![MetricTransformation {
                    metric_name: format!("m{i}"),
                    metric_namespace: "B".into(),
                    metric_value: (*value).into(),
                    default_value: *default,
                    dimensions: None,
                    unit: None,
                }],
            },
            A,
            0,
        )
        .unwrap();
    }
    let lines: Vec<String> = (0..100_000u32)
        .map(|i| {
            let action = if i % 4 == 0 { "ACCEPT" } else { "REJECT" };
            format!(
                "2 {A} eni-0a0000000000000a1 198.51.{}.{} 10.0.1.10 {} {} 6 1 44 1768435200 1768435260 {action} OK",
                i % 200,
                i % 250,
                40000 + i % 20000,
                1 + i % 65535
            )
        })
        .collect();
    let conn = rusqlite::Connection::open(DataDir::new(dir.path()).state_db()).unwrap();
    let mut g = c.benchmark_group("ingest");
    g.throughput(Throughput::Elements(lines.len() as u64));
    g.sample_size(10);
    g.bench_function("five metric filters, 100k events", |b| {
        b.iter(|| {
            let mut ingest = Ingest::for_group(&conn, "/g", A).unwrap().unwrap();
            for (i, l) in lines.iter().enumerate() {
                ingest.event(1_768_435_200_000 + i as i64, l);
            }
            ingest
        });
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
