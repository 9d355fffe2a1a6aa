//! Logs Insights jobs as tables: StartQuery requests and the errors AWS gives them, the statuses
//! a query goes through, and its results and statistics, over the data directory that
//! `vpcflow/tests/data/data-dir-0fa054c` holds (2084 events in `/vpcflow/flow-logs`, 14:00 to
//! 14:10 on 2026-01-15).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use vpcflow_query::jobs::{Jobs, QueryResults, QueryStatus, StartQuery};
use vpcflow_store::logs::LogsErrorCode;
use vpcflow_store::{Clock, DataDir};

const GROUP: &str = "/vpcflow/flow-logs";
/// 2026-01-15T14:00:00Z and the end of that hour, in seconds.
const FROM: i64 = 1_768_485_600;
const TO: i64 = FROM + 3599;

struct FixedClock;

impl Clock for FixedClock {
    fn now_ms(&self) -> u64 {
        1_768_490_000_000
    }
    fn sleep_ms(&self, _: u64) {}
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

fn data() -> (tempfile::TempDir, DataDir) {
    let tmp = tempfile::tempdir().unwrap();
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../vpcflow/tests/data/data-dir-0fa054c"),
        tmp.path(),
    );
    let dir = DataDir::new(tmp.path());
    (tmp, dir)
}

fn query(text: &str) -> StartQuery {
    StartQuery {
        log_group_name: Some(GROUP.into()),
        start_time: FROM,
        end_time: TO,
        query_string: text.into(),
        ..Default::default()
    }
}

/// Polls a job until it is no longer scheduled or running.
fn finished(jobs: &Jobs, id: &str) -> QueryResults {
    loop {
        let r = jobs.results(id).unwrap();
        if !matches!(r.status, QueryStatus::Scheduled | QueryStatus::Running) {
            return r;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn a_query_completes_with_its_rows_and_statistics() {
    let (_tmp, dir) = data();
    let rt = runtime();
    let jobs = Jobs::new(dir, rt.handle().clone(), Arc::new(FixedClock));
    let id = jobs
        .start(&query("stats count(*) as n, sum(bytes) as b"))
        .unwrap();
    assert_eq!(id.len(), 36, "a UUID: {id}");
    let r = finished(&jobs, &id);
    assert_eq!(r.status, QueryStatus::Complete, "{:?}", jobs.failure(&id));
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(
        json["results"],
        serde_json::json!([[{"field": "n", "value": "2084"}, {"field": "b", "value": "18782864"}]])
    );
    assert_eq!(r.statistics.records_scanned, 2084.0);
    assert_eq!(r.statistics.records_matched, 2084.0);
    assert!(r.statistics.bytes_scanned > 0.0);
    assert_eq!(json["status"], "Complete");

    // The time range is both ends included, in seconds: the first five minutes' events only.
    let early = jobs
        .start(&query("filter start < 1768485900 | stats count(*) as n"))
        .unwrap();
    let all_early = jobs
        .start(&StartQuery {
            end_time: FROM + 299,
            ..query("stats count(*) as n")
        })
        .unwrap();
    let n = |id: &str| {
        let r = finished(&jobs, id);
        assert_eq!(r.status, QueryStatus::Complete, "{:?}", jobs.failure(id));
        r.results[0][0].value.clone()
    };
    assert_eq!(n(&early), n(&all_early));
    assert!(n(&early).parse::<u64>().unwrap() < 2084);

    // `limit` caps the rows; fields without a value are left out of a row.
    let limited = jobs
        .start(&StartQuery {
            limit: Some(3),
            ..query("fields srcAddr, nosuchField | sort srcAddr")
        })
        .unwrap();
    let rows = finished(&jobs, &limited).results;
    assert_eq!(rows.len(), 3);
    assert!(
        rows.iter().all(|r| r.len() == 1 && r[0].field == "srcAddr"),
        "{rows:?}"
    );
}

#[test]
fn requests_aws_refuses() {
    let (_tmp, dir) = data();
    let rt = runtime();
    let jobs = Jobs::new(dir, rt.handle().clone(), Arc::new(FixedClock));
    let rows: Vec<(&str, StartQuery, LogsErrorCode, &str)> = vec![
        (
            "a query that does not parse",
            query("stats count(*) by"),
            LogsErrorCode::MalformedQuery,
            "^",
        ),
        (
            "a log group that does not exist",
            StartQuery {
                log_group_name: Some("/nope".into()),
                ..query("fields @message")
            },
            LogsErrorCode::ResourceNotFound,
            "Log group '/nope' does not exist.",
        ),
        (
            "51 log groups",
            StartQuery {
                log_group_name: None,
                log_group_names: Some(vec![GROUP.into(); 51]),
                ..query("fields @message")
            },
            LogsErrorCode::InvalidParameter,
            "A query names 1 to 50 log groups; 51 were given.",
        ),
        (
            "a name and names",
            StartQuery {
                log_group_names: Some(vec![GROUP.into()]),
                ..query("fields @message")
            },
            LogsErrorCode::InvalidParameter,
            "Only one of logGroupName, logGroupNames or logGroupIdentifiers may be specified.",
        ),
        (
            "the end before the start",
            StartQuery {
                end_time: FROM - 1,
                ..query("fields @message")
            },
            LogsErrorCode::InvalidParameter,
            "endTime must be greater than or equal to startTime.",
        ),
        (
            "limit 0",
            StartQuery {
                limit: Some(0),
                ..query("fields @message")
            },
            LogsErrorCode::InvalidParameter,
            "Member must have value greater than or equal to 1",
        ),
        (
            "a query of 10 001 characters",
            query(&format!("fields @message {}", " ".repeat(10_001 - 15))),
            LogsErrorCode::InvalidParameter,
            "Member must have length less than or equal to 10000",
        ),
    ];
    for (what, req, code, message) in rows {
        let e = jobs.start(&req).expect_err(what);
        assert_eq!(e.code(), Some(code), "{what}: {e}");
        assert!(e.to_string().contains(message), "{what}: {e}");
    }
    // A group by ARN is the group.
    let id = jobs
        .start(&StartQuery {
            log_group_name: None,
            log_group_identifiers: Some(vec![format!(
                "arn:aws:logs:us-east-1:123456789012:log-group:{GROUP}:*"
            )]),
            ..query("stats count(*) as n")
        })
        .unwrap();
    assert_eq!(finished(&jobs, &id).results[0][0].value, "2084");
    // Unknown query ids.
    assert_eq!(
        jobs.results("nope").unwrap_err().code(),
        Some(LogsErrorCode::ResourceNotFound)
    );
    assert_eq!(
        jobs.stop("nope").unwrap_err().code(),
        Some(LogsErrorCode::ResourceNotFound)
    );
    // A finished query is not stopped.
    assert!(!jobs.stop(&id).unwrap());
}

#[test]
fn queries_wait_stop_and_run_out_of_time() {
    let (_tmp, dir) = data();
    // A runtime nothing drives: its queries stay scheduled.
    let idle = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let waiting = Jobs::new(dir.clone(), idle.handle().clone(), Arc::new(FixedClock));
    let ids: Vec<String> = (0..100)
        .map(|_| waiting.start(&query("fields @message")).unwrap())
        .collect();
    assert_eq!(
        waiting.results(&ids[0]).unwrap().status,
        QueryStatus::Scheduled
    );
    let e = waiting.start(&query("fields @message")).unwrap_err();
    assert_eq!(e.code(), Some(LogsErrorCode::LimitExceeded), "{e}");
    // StopQuery cancels one, which makes room for another.
    assert!(waiting.stop(&ids[0]).unwrap());
    assert_eq!(
        waiting.results(&ids[0]).unwrap().status,
        QueryStatus::Cancelled
    );
    assert!(!waiting.stop(&ids[0]).unwrap());
    waiting.start(&query("fields @message")).unwrap();

    // With no time to run, a query times out.
    let rt = runtime();
    let hurried =
        Jobs::new(dir, rt.handle().clone(), Arc::new(FixedClock)).with_timeout(Duration::ZERO);
    let id = hurried.start(&query("stats count(*) by srcAddr")).unwrap();
    assert_eq!(finished(&hurried, &id).status, QueryStatus::Timeout);
}

#[test]
fn describe_queries_lists_an_accounts_queries_by_state_and_page() {
    use vpcflow_query::jobs::DescribeQueries;
    let (_tmp, dir) = data();
    // A runtime nothing drives: its queries stay scheduled until stopped.
    let idle = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let jobs = Jobs::new(dir, idle.handle().clone(), Arc::new(FixedClock));
    let a: Vec<String> = (0..3)
        .map(|i| {
            jobs.start_for(
                Some("111111111111"),
                &query(&format!("fields @message | limit {}", i + 1)),
            )
            .unwrap()
        })
        .collect();
    let b = jobs
        .start_for(Some("222222222222"), &query("fields @message"))
        .unwrap();
    jobs.stop_for(Some("111111111111"), &a[1]).unwrap();

    let all = jobs
        .describe_for(Some("111111111111"), &DescribeQueries::default())
        .unwrap();
    let mut ids: Vec<&str> = all.queries.iter().map(|q| q.query_id.as_str()).collect();
    ids.sort();
    let mut want: Vec<&str> = a.iter().map(String::as_str).collect();
    want.sort();
    assert_eq!(ids, want, "only its own: not {b}");
    let q = all.queries.iter().find(|q| q.query_id == a[2]).unwrap();
    assert_eq!(
        (
            q.query_string.as_str(),
            q.log_group_name.as_str(),
            q.create_time
        ),
        ("fields @message | limit 3", GROUP, 1_768_490_000_000)
    );

    let cancelled = jobs
        .describe_for(
            Some("111111111111"),
            &DescribeQueries {
                status: Some("Cancelled".into()),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(cancelled.queries.len(), 1);
    assert_eq!(cancelled.queries[0].query_id, a[1]);

    let first = jobs
        .describe_for(
            Some("111111111111"),
            &DescribeQueries {
                max_results: Some(2),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(first.queries.len(), 2);
    let rest = jobs
        .describe_for(
            Some("111111111111"),
            &DescribeQueries {
                max_results: Some(2),
                next_token: first.next_token.clone(),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!((rest.queries.len(), rest.next_token), (1, None));

    for bad in [
        DescribeQueries {
            status: Some("Done".into()),
            ..Default::default()
        },
        DescribeQueries {
            max_results: Some(0),
            ..Default::default()
        },
        DescribeQueries {
            next_token: Some("x".into()),
            ..Default::default()
        },
    ] {
        let e = jobs.describe_for(None, &bad).unwrap_err();
        assert_eq!(e.code(), Some(LogsErrorCode::InvalidParameter), "{e}");
    }
}

#[test]
fn events_other_producers_put_are_queried_as_flow_logs_are() {
    use vpcflow_store::logs::{
        CreateLogGroup, CreateLogStream, InputLogEvent, LogStore, PutLogEvents,
    };
    let tmp = tempfile::tempdir().unwrap();
    let dir = DataDir::new(tmp.path());
    let store = LogStore::open(dir.clone(), "us-east-1", "123456789012").unwrap();
    let now = FixedClock.now_ms();
    store
        .create_log_group(
            &CreateLogGroup {
                log_group_name: "/app".into(),
                ..Default::default()
            },
            "123456789012",
            now,
        )
        .unwrap();
    store
        .create_log_stream(
            &CreateLogStream {
                log_group_name: "/app".into(),
                log_stream_name: "host-1".into(),
            },
            "123456789012",
            now,
        )
        .unwrap();
    let events = (0..10)
        .map(|i| InputLogEvent {
            timestamp: now as i64 - 1000 + i,
            message: format!("request {i} {}", if i % 2 == 0 { "ok" } else { "failed" }),
        })
        .collect();
    let put = PutLogEvents {
        log_group_name: "/app".into(),
        log_stream_name: "host-1".into(),
        log_events: events,
        sequence_token: None,
    };
    store.put_log_events(&put, "123456789012", now).unwrap();
    let rt = runtime();
    let jobs = Jobs::new(dir, rt.handle().clone(), Arc::new(FixedClock));
    let secs = (now / 1000) as i64;
    let id = jobs
        .start(&StartQuery {
            log_group_name: Some("/app".into()),
            start_time: secs - 60,
            end_time: secs + 60,
            query_string: "filter @message like /failed/ | stats count(*) as n by @logStream"
                .into(),
            ..Default::default()
        })
        .unwrap();
    let r = finished(&jobs, &id);
    assert_eq!(r.status, QueryStatus::Complete, "{:?}", jobs.failure(&id));
    let rows: Vec<Vec<(String, String)>> = r
        .results
        .iter()
        .map(|row| {
            row.iter()
                .map(|f| (f.field.clone(), f.value.clone()))
                .collect()
        })
        .collect();
    assert_eq!(
        rows,
        [[
            ("@logStream".to_owned(), "host-1".to_owned()),
            ("n".to_owned(), "5".to_owned())
        ]]
    );
}
