//! CreateLogStream and PutLogEvents: what CloudWatch Logs takes, refuses and sets aside, and that
//! what it answered for is read back (GetLogEvents, FilterLogEvents, DescribeLogStreams), by its
//! account only, after the store is opened again.

use vpcflow_store::DataDir;
use vpcflow_store::logs::streams::{MAX_BATCH_BYTES, RejectedLogEventsInfo};
use vpcflow_store::logs::{
    CreateLogGroup, CreateLogStream, DescribeLogStreams, FilterLogEvents, GetLogEvents,
    InputLogEvent, LogStore, LogsError, LogsErrorCode, PutLogEvents, PutRetentionPolicy,
};

const A: &str = "123456789012";
const B: &str = "210987654321";
const NOW: u64 = 1_768_485_600_000;
const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;

fn open(dir: &std::path::Path) -> LogStore {
    LogStore::open(DataDir::new(dir), "us-east-1", A).unwrap()
}

fn events(times: &[i64]) -> Vec<InputLogEvent> {
    times
        .iter()
        .enumerate()
        .map(|(i, t)| InputLogEvent {
            timestamp: *t,
            message: format!("event {i} at {t}"),
        })
        .collect()
}

fn put(times: &[i64]) -> PutLogEvents {
    PutLogEvents {
        log_group_name: "/app".into(),
        log_stream_name: "host-1".into(),
        log_events: events(times),
        sequence_token: None,
    }
}

fn refusal(e: LogsError) -> (LogsErrorCode, String) {
    match e {
        LogsError::Refused { code, message } => (code, message),
        other => panic!("not a refusal: {other}"),
    }
}

fn made(dir: &std::path::Path) -> LogStore {
    let store = open(dir);
    let group = CreateLogGroup {
        log_group_name: "/app".into(),
        ..Default::default()
    };
    store.create_log_group(&group, A, NOW).unwrap();
    let stream = CreateLogStream {
        log_group_name: "/app".into(),
        log_stream_name: "host-1".into(),
    };
    store.create_log_stream(&stream, A, NOW).unwrap();
    store
}

#[test]
fn events_put_are_read_back_after_the_store_is_opened_again() {
    let tmp = tempfile::tempdir().unwrap();
    let store = made(tmp.path());
    let now = NOW as i64;
    // Before its first event a stream is listed with no event times, as AWS lists it.
    let streams = store
        .describe_log_streams(&DescribeLogStreams {
            log_group_name: Some("/app".into()),
            ..Default::default()
        })
        .unwrap();
    let s = &streams.log_streams[0];
    assert_eq!(
        (
            s.log_stream_name.as_str(),
            s.creation_time,
            s.first_event_timestamp
        ),
        ("host-1", NOW, None)
    );
    let first = store
        .put_log_events(&put(&[now - 2000, now - 1000]), A, NOW)
        .unwrap();
    assert_eq!(first.rejected_log_events_info, None);
    let second = store.put_log_events(&put(&[now]), A, NOW).unwrap();
    assert_ne!(first.next_sequence_token, second.next_sequence_token);
    drop(store);

    let store = open(tmp.path());
    let got = store
        .get_log_events(&GetLogEvents {
            log_group_name: Some("/app".into()),
            log_stream_name: "host-1".into(),
            start_from_head: Some(true),
            ..Default::default()
        })
        .unwrap();
    let messages: Vec<(u64, String)> = got
        .events
        .iter()
        .map(|e| (e.timestamp, e.message.clone()))
        .collect();
    assert_eq!(
        messages,
        [
            (NOW - 2000, format!("event 0 at {}", now - 2000)),
            (NOW - 1000, format!("event 1 at {}", now - 1000)),
            (NOW, format!("event 0 at {now}")),
        ]
    );
    assert!(got.events.iter().all(|e| e.ingestion_time == NOW));
    let found = store
        .filter_log_events(&FilterLogEvents {
            log_group_name: Some("/app".into()),
            filter_pattern: Some("\"event 1\"".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(found.events.len(), 1);
    let streams = store
        .describe_log_streams(&DescribeLogStreams {
            log_group_name: Some("/app".into()),
            ..Default::default()
        })
        .unwrap();
    let s = &streams.log_streams[0];
    assert_eq!(
        (s.first_event_timestamp, s.last_event_timestamp),
        (Some(NOW - 2000), Some(NOW))
    );
}

/// Event times, the group's retention, the events stored, what is reported set aside.
type SortRow<'a> = (
    &'a [i64],
    Option<u32>,
    std::ops::Range<usize>,
    Option<RejectedLogEventsInfo>,
);

#[test]
fn events_out_of_range_are_set_aside_and_the_rest_kept() {
    let now = NOW as i64;
    // (event times, retention days, stored range, rejected info)
    let rows: &[SortRow] = &[
        (&[now - 1, now], None, 0..2, None),
        (
            &[now + HOUR, now + 2 * HOUR + 1, now + 3 * HOUR],
            None,
            0..1,
            Some(RejectedLogEventsInfo {
                too_new_log_event_start_index: Some(1),
                ..Default::default()
            }),
        ),
        (
            &[
                now - 14 * DAY - 2,
                now - 14 * DAY - 1,
                now - 14 * DAY + HOUR,
            ],
            None,
            2..3,
            Some(RejectedLogEventsInfo {
                too_old_log_event_end_index: Some(1),
                ..Default::default()
            }),
        ),
        (
            &[now - 2 * DAY, now - DAY - 1, now - HOUR],
            Some(1),
            2..3,
            Some(RejectedLogEventsInfo {
                expired_log_event_end_index: Some(1),
                ..Default::default()
            }),
        ),
    ];
    for (times, retention, stored, info) in rows {
        let (range, rejected) = put(times).sort_out(NOW, *retention);
        assert_eq!((&range, &rejected), (stored, info), "{times:?}");
    }
    // Through the store: the group's retention applies, and only the kept events are stored.
    let tmp = tempfile::tempdir().unwrap();
    let store = made(tmp.path());
    let retention = PutRetentionPolicy {
        log_group_name: "/app".into(),
        retention_in_days: 1,
    };
    store.put_retention_policy(&retention, A).unwrap();
    let answer = store
        .put_log_events(&put(&[now - DAY - HOUR, now - HOUR]), A, NOW)
        .unwrap();
    assert_eq!(
        answer.rejected_log_events_info,
        Some(RejectedLogEventsInfo {
            expired_log_event_end_index: Some(0),
            ..Default::default()
        })
    );
    let got = store
        .get_log_events(&GetLogEvents {
            log_group_name: Some("/app".into()),
            log_stream_name: "host-1".into(),
            ..Default::default()
        })
        .unwrap();
    let times: Vec<u64> = got.events.iter().map(|e| e.timestamp).collect();
    assert_eq!(times, [NOW - HOUR as u64]);
}

#[test]
fn bad_batches_get_cloudwatch_logs_errors() {
    use LogsErrorCode::*;
    let tmp = tempfile::tempdir().unwrap();
    let store = made(tmp.path());
    let now = NOW as i64;
    let big = PutLogEvents {
        log_events: (0..2)
            .map(|i| InputLogEvent {
                timestamp: now + i,
                message: "x".repeat(MAX_BATCH_BYTES / 2),
            })
            .collect(),
        ..put(&[])
    };
    let rows: Vec<(PutLogEvents, &str, LogsErrorCode, String)> = vec![
        (put(&[now, now - 1]), A, InvalidParameter,
            "Log events in a single PutLogEvents request must be in chronological order.".into()),
        (put(&[now - 25 * HOUR, now]), A, InvalidParameter,
            "The batch of log events in a single PutLogEvents request cannot span more than 24 hours.".into()),
        (put(&[]), A, InvalidParameter,
            "1 validation error detected: Value at 'logEvents' failed to satisfy constraint: Member must have length less than or equal to 10000 and greater than or equal to 1".into()),
        (big, A, InvalidParameter, "Upload too large: 1048628 bytes exceeds limit of 1048576".into()),
        (PutLogEvents { log_stream_name: "no-such".into(), ..put(&[now]) }, A, ResourceNotFound,
            "The specified log stream does not exist.".into()),
        (PutLogEvents { log_stream_name: "a:b".into(), ..put(&[now]) }, A, InvalidParameter,
            "1 validation error detected: Value 'a:b' at 'logStreamName' failed to satisfy constraint: Member must satisfy regular expression pattern: [^:*]*".into()),
        // Another account's group is not there for it.
        (put(&[now]), B, ResourceNotFound, "The specified log group does not exist.".into()),
    ];
    for (req, account, code, message) in rows {
        let got = refusal(store.put_log_events(&req, account, NOW).unwrap_err());
        assert_eq!(got, (code, message));
    }
    let again = CreateLogStream {
        log_group_name: "/app".into(),
        log_stream_name: "host-1".into(),
    };
    assert_eq!(
        refusal(store.create_log_stream(&again, A, NOW).unwrap_err()),
        (
            ResourceAlreadyExists,
            "The specified log stream already exists".into()
        )
    );
    assert_eq!(
        refusal(store.create_log_stream(&again, B, NOW).unwrap_err()).0,
        ResourceNotFound
    );
    // Nothing refused was stored.
    let got = store
        .get_log_events(&GetLogEvents {
            log_group_name: Some("/app".into()),
            log_stream_name: "host-1".into(),
            ..Default::default()
        })
        .unwrap();
    assert!(got.events.is_empty());
}

#[test]
fn log_group_tags_are_set_listed_and_removed_by_name_or_arn() {
    use std::collections::BTreeMap;
    use vpcflow_store::logs::{ListTagsRequest, TagRequest, UntagRequest};
    let tmp = tempfile::tempdir().unwrap();
    let store = open(tmp.path());
    let group = CreateLogGroup {
        log_group_name: "/tagged".into(),
        tags: Some(BTreeMap::from([("team".into(), "net".into())])),
        ..Default::default()
    };
    store.create_log_group(&group, A, NOW).unwrap();
    let arn = "arn:aws:logs:us-east-1:123456789012:log-group:/tagged";
    let list = |account: &str| {
        store.list_log_group_tags(
            &ListTagsRequest {
                resource_arn: Some(arn.into()),
                log_group_name: None,
            },
            account,
        )
    };
    store
        .tag_log_group(
            &TagRequest {
                log_group_name: Some("/tagged".into()),
                tags: BTreeMap::from([
                    ("env".into(), "test".into()),
                    ("team".into(), "sec".into()),
                ]),
                ..Default::default()
            },
            A,
        )
        .unwrap();
    assert_eq!(
        list(A).unwrap().tags,
        BTreeMap::from([("env".into(), "test".into()), ("team".into(), "sec".into())])
    );
    store
        .untag_log_group(
            &UntagRequest {
                resource_arn: Some(arn.into()),
                tag_keys: Some(vec!["env".into(), "absent".into()]),
                ..Default::default()
            },
            A,
        )
        .unwrap();
    assert_eq!(
        list(A).unwrap().tags,
        BTreeMap::from([("team".into(), "sec".into())])
    );
    // Another account does not find the group; reserved and overlong keys are refused.
    assert_eq!(
        refusal(list(B).unwrap_err()).0,
        LogsErrorCode::ResourceNotFound
    );
    for key in ["aws:owner".to_owned(), "k".repeat(129)] {
        let req = TagRequest {
            resource_arn: Some(arn.into()),
            tags: BTreeMap::from([(key.clone(), "v".into())]),
            ..Default::default()
        };
        assert_eq!(
            refusal(store.tag_log_group(&req, A).unwrap_err()).0,
            LogsErrorCode::InvalidParameter,
            "{key}"
        );
    }
    let many = TagRequest {
        log_group_name: Some("/tagged".into()),
        tags: (0..50).map(|i| (format!("k{i}"), "v".into())).collect(),
        ..Default::default()
    };
    assert_eq!(
        refusal(store.tag_log_group(&many, A).unwrap_err()),
        (
            LogsErrorCode::InvalidParameter,
            "A log group can have at most 50 tags.".into()
        )
    );
    // Tags survive the store being opened again.
    drop(store);
    let store = open(tmp.path());
    let tags = store
        .list_log_group_tags(
            &ListTagsRequest {
                log_group_name: Some("/tagged".into()),
                resource_arn: None,
            },
            A,
        )
        .unwrap();
    assert_eq!(tags.tags, BTreeMap::from([("team".into(), "sec".into())]));
}
