//! The log-group services as tables: requests and what CloudWatch Logs answers to them (pages,
//! tokens, time ranges, limits and errors), over a store made here: group `/g` with two
//! streams in three segments, and an empty group `/empty`.

use vpcflow_record::arrow_array::{Int64Array, StringArray};
use vpcflow_record::{FieldId, FlowRecord, LogFormat};
use vpcflow_store::DataDir;
use vpcflow_store::logs::{
    DescribeLogGroups, DescribeLogStreams, FilterLogEvents, GetLogEvents, LogStore, LogsErrorCode,
};
use vpcflow_store::segment::{Events, encode};

/// (segment, stream, event times in s): an event's message is `"<stream> <time> <action>"`, the
/// action REJECT at whole hundreds of seconds.
const SEGMENTS: &[(&str, &str, &[u64])] = &[
    ("001", "eni-a-all", &[100, 160, 220]),
    ("001", "eni-b-all", &[100, 130]),
    ("002", "eni-a-all", &[400, 460]),
    ("003", "eni-b-all", &[700]),
];

fn message(stream: &str, t: u64) -> String {
    let action = if t.is_multiple_of(100) {
        "REJECT"
    } else {
        "ACCEPT"
    };
    format!("{stream} {t} {action}")
}

fn store() -> (tempfile::TempDir, LogStore) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = DataDir::new(tmp.path());
    let store = LogStore::open(dir.clone(), "us-east-1", "123456789012").unwrap();
    let conn = store.connection();
    conn.execute_batch(
        // '/g' made before owners were kept (the store's account); '/empty' made by a flow log
        // of another account.
        "INSERT INTO log_groups (name, created_ms, retention_days, account) VALUES ('/g', 5000, 7, NULL); \
         INSERT INTO log_groups (name, created_ms, retention_days, account) VALUES ('/empty', 6000, NULL, '210987654321');",
    )
    .unwrap();
    let format = LogFormat::parse("${srcaddr} ${bytes}").unwrap();
    for segment in ["001", "002", "003"] {
        let rows: Vec<(&str, u64)> = SEGMENTS
            .iter()
            .filter(|(s, _, _)| *s == segment)
            .flat_map(|(_, stream, times)| times.iter().map(move |t| (*stream, *t)))
            .collect();
        let mut b = vpcflow_record::arrow::BatchBuilder::new(&format, rows.len());
        let mut r = FlowRecord::default();
        for (_, t) in &rows {
            r.set_text(FieldId::Srcaddr, "10.0.0.1").unwrap();
            r.set_text(FieldId::Bytes, &t.to_string()).unwrap();
            b.append(&r);
        }
        let file = encode(
            &format,
            Events {
                timestamps: Int64Array::from_iter_values(
                    rows.iter().map(|(_, t)| *t as i64 * 1000),
                ),
                ingestion_ms: 9000,
                streams: StringArray::from_iter_values(rows.iter().map(|(s, _)| *s)),
                messages: StringArray::from_iter_values(rows.iter().map(|(s, t)| message(s, *t))),
            },
            &b.finish(),
        );
        let path = dir.segment("/g", segment);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, file).unwrap();
        for (seg, stream, times) in SEGMENTS.iter().filter(|(s, _, _)| *s == segment) {
            conn.execute(
                "INSERT INTO segments VALUES ('/g', ?1, ?2, ?3, ?4, ?5)",
                rusqlite_params(seg, stream, times),
            )
            .unwrap();
        }
    }
    (tmp, store)
}

fn rusqlite_params<'a>(
    seg: &'a str,
    stream: &'a str,
    times: &[u64],
) -> (&'a str, &'a str, i64, i64, i64) {
    (
        seg,
        stream,
        times.len() as i64,
        *times.first().unwrap() as i64 * 1000,
        *times.last().unwrap() as i64 * 1000,
    )
}

#[test]
fn describe_log_groups_pages_by_name() {
    let (_tmp, store) = store();
    let all = store
        .describe_log_groups(&DescribeLogGroups::default())
        .unwrap();
    let names: Vec<&str> = all
        .log_groups
        .iter()
        .map(|g| g.log_group_name.as_str())
        .collect();
    assert_eq!(names, ["/empty", "/g"]);
    let g = &all.log_groups[1];
    assert_eq!(g.arn, "arn:aws:logs:us-east-1:123456789012:log-group:/g:*");
    assert_eq!(
        g.log_group_arn,
        "arn:aws:logs:us-east-1:123456789012:log-group:/g"
    );
    assert_eq!((g.creation_time, g.retention_in_days), (5000, Some(7)));
    assert!(g.stored_bytes > 0);
    assert_eq!(all.log_groups[0].stored_bytes, 0);
    assert_eq!(
        all.log_groups[0].log_group_arn, "arn:aws:logs:us-east-1:210987654321:log-group:/empty",
        "a group is its owner's"
    );
    assert_eq!(all.next_token, None);

    let first = store
        .describe_log_groups(&DescribeLogGroups {
            limit: Some(1),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(first.log_groups[0].log_group_name, "/empty");
    let second = store
        .describe_log_groups(&DescribeLogGroups {
            limit: Some(1),
            next_token: first.next_token.clone(),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(second.log_groups[0].log_group_name, "/g");
    assert_eq!(second.next_token, None);

    for (req, want) in [
        (
            DescribeLogGroups {
                log_group_name_prefix: Some("/e".into()),
                ..Default::default()
            },
            vec!["/empty"],
        ),
        (
            DescribeLogGroups {
                log_group_name_pattern: Some("mpt".into()),
                ..Default::default()
            },
            vec!["/empty"],
        ),
    ] {
        let got = store.describe_log_groups(&req).unwrap();
        let names: Vec<&str> = got
            .log_groups
            .iter()
            .map(|g| g.log_group_name.as_str())
            .collect();
        assert_eq!(names, want, "{req:?}");
    }
}

#[test]
fn describe_log_streams_orders_and_pages() {
    let (_tmp, store) = store();
    let names = |req: DescribeLogStreams| -> (Vec<String>, Option<String>) {
        let page = store.describe_log_streams(&req).unwrap();
        (
            page.log_streams
                .into_iter()
                .map(|s| s.log_stream_name)
                .collect(),
            page.next_token,
        )
    };
    let g = || DescribeLogStreams {
        log_group_name: Some("/g".into()),
        ..Default::default()
    };
    assert_eq!(names(g()).0, ["eni-a-all", "eni-b-all"]);
    // eni-a's last event is at 460 s, eni-b's at 700 s.
    assert_eq!(
        names(DescribeLogStreams {
            order_by: Some("LastEventTime".into()),
            descending: Some(true),
            ..g()
        })
        .0,
        ["eni-b-all", "eni-a-all"]
    );
    let (first, token) = names(DescribeLogStreams {
        limit: Some(1),
        ..g()
    });
    assert_eq!(first, ["eni-a-all"]);
    assert_eq!(
        names(DescribeLogStreams {
            limit: Some(1),
            next_token: token,
            ..g()
        }),
        (vec!["eni-b-all".to_owned()], None)
    );
    let page = store.describe_log_streams(&g()).unwrap();
    let a = &page.log_streams[0];
    assert_eq!(
        (a.first_event_timestamp, a.last_event_timestamp),
        (Some(100_000), Some(460_000))
    );
    assert_eq!(
        a.arn,
        "arn:aws:logs:us-east-1:123456789012:log-group:/g:log-stream:eni-a-all"
    );
    // By ARN.
    assert_eq!(
        names(DescribeLogStreams {
            log_group_identifier: Some("arn:aws:logs:us-east-1:123456789012:log-group:/g:*".into()),
            log_stream_name_prefix: Some("eni-b".into()),
            ..Default::default()
        })
        .0,
        ["eni-b-all"]
    );
}

#[test]
fn get_log_events_reads_one_stream_forward_and_back() {
    let (_tmp, store) = store();
    let req = |next_token: Option<String>, start_from_head: Option<bool>| GetLogEvents {
        log_group_name: Some("/g".into()),
        log_stream_name: "eni-a-all".into(),
        limit: Some(2),
        next_token,
        start_from_head,
        ..Default::default()
    };
    let times = |p: &vpcflow_store::logs::LogEventsPage| -> Vec<u64> {
        p.events.iter().map(|e| e.timestamp / 1000).collect()
    };
    // Without a token: the newest events.
    let newest = store.get_log_events(&req(None, None)).unwrap();
    assert_eq!(times(&newest), [400, 460]);
    assert_eq!(newest.events[0].message, message("eni-a-all", 400));
    assert_eq!(newest.events[0].ingestion_time, 9000);
    let back = store
        .get_log_events(&req(Some(newest.next_backward_token.clone()), None))
        .unwrap();
    assert_eq!(times(&back), [160, 220]);
    // From the head, forward to the end, where the forward token comes back unchanged.
    let head = store.get_log_events(&req(None, Some(true))).unwrap();
    assert_eq!(times(&head), [100, 160]);
    let next = store
        .get_log_events(&req(Some(head.next_forward_token.clone()), None))
        .unwrap();
    assert_eq!(times(&next), [220, 400]);
    let last = store
        .get_log_events(&req(Some(next.next_forward_token.clone()), None))
        .unwrap();
    assert_eq!(times(&last), [460]);
    let end = store
        .get_log_events(&req(Some(last.next_forward_token.clone()), None))
        .unwrap();
    assert!(end.events.is_empty());
    assert_eq!(end.next_forward_token, last.next_forward_token);
    // [startTime, endTime): 160 s in, 400 s out.
    let range = store
        .get_log_events(&GetLogEvents {
            start_time: Some(160_000),
            end_time: Some(400_000),
            ..req(None, Some(true))
        })
        .unwrap();
    assert_eq!(times(&range), [160, 220]);
}

#[test]
fn filter_log_events_matches_terms_across_streams() {
    let (_tmp, store) = store();
    let g = || FilterLogEvents {
        log_group_name: Some("/g".into()),
        ..Default::default()
    };
    let got = |req: FilterLogEvents| -> (Vec<String>, Option<String>) {
        let page = store.filter_log_events(&req).unwrap();
        (
            page.events
                .iter()
                .map(|e| format!("{} {}", e.log_stream_name, e.timestamp / 1000))
                .collect(),
            page.next_token,
        )
    };
    assert_eq!(
        got(g()).0,
        [
            "eni-a-all 100",
            "eni-b-all 100",
            "eni-b-all 130",
            "eni-a-all 160",
            "eni-a-all 220",
            "eni-a-all 400",
            "eni-a-all 460",
            "eni-b-all 700"
        ]
    );
    let rejects: Vec<String> = got(FilterLogEvents {
        filter_pattern: Some("REJECT".into()),
        ..g()
    })
    .0;
    assert_eq!(
        rejects,
        [
            "eni-a-all 100",
            "eni-b-all 100",
            "eni-a-all 400",
            "eni-b-all 700"
        ]
    );
    assert_eq!(
        got(FilterLogEvents {
            filter_pattern: Some("\"eni-b-all 130\"".into()),
            start_time: Some(110_000),
            end_time: Some(700_000),
            ..g()
        })
        .0,
        ["eni-b-all 130"]
    );
    assert_eq!(
        got(FilterLogEvents {
            log_stream_names: Some(vec!["eni-b-all".into()]),
            ..g()
        })
        .0,
        ["eni-b-all 100", "eni-b-all 130", "eni-b-all 700"]
    );
    // Paging three at a time visits every event once.
    let mut seen = Vec::new();
    let mut token = None;
    loop {
        let (events, next) = got(FilterLogEvents {
            limit: Some(3),
            next_token: token,
            ..g()
        });
        seen.extend(events);
        match next {
            Some(t) => token = Some(t),
            None => break,
        }
    }
    assert_eq!(seen, got(g()).0);
}

#[test]
fn bad_requests_get_cloudwatch_logs_errors() {
    let (_tmp, store) = store();
    let code = |e: vpcflow_store::logs::LogsError| (e.code(), e.to_string());
    let rows = [
        (
            code(
                store
                    .describe_log_groups(&DescribeLogGroups {
                        limit: Some(51),
                        ..Default::default()
                    })
                    .unwrap_err(),
            ),
            LogsErrorCode::InvalidParameter,
            "1 validation error detected: Value '51' at 'limit' failed to satisfy constraint: Member must have value less than or equal to 50",
        ),
        (
            code(
                store
                    .describe_log_streams(&DescribeLogStreams {
                        log_group_name: Some("/nope".into()),
                        ..Default::default()
                    })
                    .unwrap_err(),
            ),
            LogsErrorCode::ResourceNotFound,
            "The specified log group does not exist.",
        ),
        (
            code(
                store
                    .describe_log_streams(&DescribeLogStreams {
                        log_group_name: Some("/g".into()),
                        order_by: Some("LastEventTime".into()),
                        log_stream_name_prefix: Some("eni".into()),
                        ..Default::default()
                    })
                    .unwrap_err(),
            ),
            LogsErrorCode::InvalidParameter,
            "Cannot order by LastEventTime with a logStreamNamePrefix.",
        ),
        (
            code(
                store
                    .get_log_events(&GetLogEvents {
                        log_group_name: Some("/g".into()),
                        log_stream_name: "eni-z-all".into(),
                        ..Default::default()
                    })
                    .unwrap_err(),
            ),
            LogsErrorCode::ResourceNotFound,
            "The specified log stream does not exist.",
        ),
        (
            code(
                store
                    .get_log_events(&GetLogEvents {
                        log_group_name: Some("/g".into()),
                        log_stream_name: "eni-a-all".into(),
                        limit: Some(0),
                        ..Default::default()
                    })
                    .unwrap_err(),
            ),
            LogsErrorCode::InvalidParameter,
            "1 validation error detected: Value '0' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1",
        ),
        (
            code(
                store
                    .filter_log_events(&FilterLogEvents {
                        log_group_name: Some("/g".into()),
                        next_token: Some("bogus".into()),
                        ..Default::default()
                    })
                    .unwrap_err(),
            ),
            LogsErrorCode::InvalidParameter,
            "The specified nextToken is invalid.",
        ),
    ];
    for ((got_code, got_text), want_code, want_message) in rows {
        assert_eq!(got_code, Some(want_code), "{got_text}");
        assert!(got_text.ends_with(want_message), "{got_text}");
    }
}

#[test]
fn log_groups_are_created_deleted_and_kept_as_cloudwatch_logs_keeps_them() {
    use vpcflow_store::logs::{CreateLogGroup, LogGroupRequest, PutRetentionPolicy};
    let (tmp, store) = store();
    let me = "123456789012";
    let create = |name: &str| CreateLogGroup {
        log_group_name: name.into(),
        ..CreateLogGroup::default()
    };
    store.create_log_group(&create("/new"), me, 9000).unwrap();
    let names = |s: &LogStore| -> Vec<String> {
        s.describe_log_groups(&DescribeLogGroups::default())
            .unwrap()
            .log_groups
            .into_iter()
            .map(|g| g.log_group_name)
            .collect()
    };
    assert_eq!(names(&store), ["/empty", "/g", "/new"]);
    let code = |r: Result<(), vpcflow_store::logs::LogsError>| r.unwrap_err().code().unwrap();
    assert_eq!(
        code(store.create_log_group(&create("/new"), me, 9001)),
        LogsErrorCode::ResourceAlreadyExists
    );
    for bad in ["", "a b", "tab\there", &"x".repeat(513)] {
        assert_eq!(
            code(store.create_log_group(&create(bad), me, 9001)),
            LogsErrorCode::InvalidParameter,
            "{bad:?}"
        );
    }
    let retention = |days| PutRetentionPolicy {
        log_group_name: "/g".into(),
        retention_in_days: days,
    };
    store.put_retention_policy(&retention(30), me).unwrap();
    assert_eq!(
        code(store.put_retention_policy(&retention(4), me)),
        LogsErrorCode::InvalidParameter
    );
    let g = |s: &LogStore, name: &str| {
        s.describe_log_groups(&DescribeLogGroups::default())
            .unwrap()
            .log_groups
            .into_iter()
            .find(|g| g.log_group_name == name)
    };
    assert_eq!(g(&store, "/g").unwrap().retention_in_days, Some(30));
    let group = |name: &str| LogGroupRequest {
        log_group_name: name.into(),
    };
    store.delete_retention_policy(&group("/g"), me).unwrap();
    assert_eq!(g(&store, "/g").unwrap().retention_in_days, None);
    // Another account's group is not found by this one.
    assert_eq!(
        code(store.delete_log_group(&group("/empty"), me)),
        LogsErrorCode::ResourceNotFound
    );
    // Deleting takes the rows and the files; the group's events are gone.
    let seg_dir = DataDir::new(tmp.path()).log_group("/g");
    assert!(seg_dir.exists());
    store.delete_log_group(&group("/g"), me).unwrap();
    assert!(!seg_dir.exists());
    assert_eq!(names(&store), ["/empty", "/new"]);
    assert_eq!(
        code(store.delete_log_group(&group("/g"), me)),
        LogsErrorCode::ResourceNotFound
    );
    // What was made survives reopening.
    drop(store);
    let again = LogStore::open(DataDir::new(tmp.path()), "us-east-1", me).unwrap();
    assert_eq!(names(&again), ["/empty", "/new"]);
}

#[test]
fn an_account_sees_only_the_groups_it_owns() {
    let (_tmp, mut store) = store();
    let names = |s: &LogStore| -> Vec<String> {
        s.describe_log_groups(&DescribeLogGroups::default())
            .unwrap()
            .log_groups
            .into_iter()
            .map(|g| g.log_group_name)
            .collect()
    };
    assert_eq!(names(&store), ["/empty", "/g"]);
    // '/g' has no owner kept: the store's account's.
    store.acting_for(Some("123456789012"));
    assert_eq!(names(&store), ["/g"]);
    store.acting_for(Some("210987654321"));
    assert_eq!(names(&store), ["/empty"]);
    let read = FilterLogEvents {
        log_group_name: Some("/g".into()),
        ..FilterLogEvents::default()
    };
    assert_eq!(
        store.filter_log_events(&read).unwrap_err().code(),
        Some(LogsErrorCode::ResourceNotFound)
    );
    store.acting_for(None);
    assert!(store.filter_log_events(&read).is_ok());
}

#[test]
fn metric_filters_are_kept_described_and_deleted() {
    use vpcflow_store::logs::{
        DeleteMetricFilter, DescribeMetricFilters, MetricTransformation, PutMetricFilter,
    };
    let (_tmp, store) = store();
    let me = "123456789012";
    let put = |name: &str, metric: &str| PutMetricFilter {
        log_group_name: "/g".into(),
        filter_name: name.into(),
        filter_pattern: "REJECT".into(),
        metric_transformations: vec![MetricTransformation {
            metric_name: metric.into(),
            metric_namespace: "VPCFlowLogs".into(),
            metric_value: "1".into(),
            default_value: None,
            dimensions: None,
            unit: None,
        }],
    };
    store.put_metric_filter(&put("b", "M1"), me, 10).unwrap();
    store.put_metric_filter(&put("a", "M2"), me, 11).unwrap();
    // The same name again replaces it.
    store.put_metric_filter(&put("a", "M3"), me, 12).unwrap();
    let all = store
        .describe_metric_filters(&DescribeMetricFilters::default())
        .unwrap();
    let names: Vec<(&str, &str)> = all
        .metric_filters
        .iter()
        .map(|f| {
            (
                f.filter_name.as_str(),
                f.metric_transformations[0].metric_name.as_str(),
            )
        })
        .collect();
    assert_eq!(names, [("a", "M3"), ("b", "M1")]);
    let by_metric = store
        .describe_metric_filters(&DescribeMetricFilters {
            metric_name: Some("M1".into()),
            metric_namespace: Some("VPCFlowLogs".into()),
            ..DescribeMetricFilters::default()
        })
        .unwrap();
    assert_eq!(by_metric.metric_filters.len(), 1);
    let page = store
        .describe_metric_filters(&DescribeMetricFilters {
            limit: Some(1),
            ..DescribeMetricFilters::default()
        })
        .unwrap();
    assert_eq!(page.metric_filters[0].filter_name, "a");
    let next = store
        .describe_metric_filters(&DescribeMetricFilters {
            limit: Some(1),
            next_token: page.next_token,
            ..DescribeMetricFilters::default()
        })
        .unwrap();
    assert_eq!(next.metric_filters[0].filter_name, "b");
    let groups = store
        .describe_log_groups(&DescribeLogGroups::default())
        .unwrap();
    assert_eq!(groups.log_groups[1].metric_filter_count, 2);
    // Refusals.
    let code = |r: Result<(), vpcflow_store::logs::LogsError>| r.unwrap_err().code().unwrap();
    let mut bad = put("c:d", "M");
    assert_eq!(
        code(store.put_metric_filter(&bad, me, 0)),
        LogsErrorCode::InvalidParameter
    );
    bad = put("c", "M");
    bad.metric_transformations.clear();
    assert_eq!(
        code(store.put_metric_filter(&bad, me, 0)),
        LogsErrorCode::InvalidParameter
    );
    bad = put("c", "M");
    bad.log_group_name = "/nope".into();
    assert_eq!(
        code(store.put_metric_filter(&bad, me, 0)),
        LogsErrorCode::ResourceNotFound
    );
    assert_eq!(
        code(store.put_metric_filter(&put("c", "M"), "210987654321", 0)),
        LogsErrorCode::ResourceNotFound
    );
    let del = |n: &str| DeleteMetricFilter {
        log_group_name: "/g".into(),
        filter_name: n.into(),
    };
    store.delete_metric_filter(&del("a"), me).unwrap();
    assert_eq!(
        code(store.delete_metric_filter(&del("a"), me)),
        LogsErrorCode::ResourceNotFound
    );
}
