//! The services that the API's newer operations call: Firehose delivery streams (what
//! CreateDeliveryStream takes and refuses, records kept durably and handed out when the
//! buffering hints say so), subscription filters (their rules, and the events each has to
//! forward), TestMetricFilter, and local buckets (CreateBucket, PutObject, DeleteObject,
//! policies, lifecycle expiration, notification events); each account sees only its own, and
//! everything survives the store being opened again.

use vpcflow_store::DataDir;
use vpcflow_store::buckets::{BucketError, Buckets, Config, LifecycleRule, NotificationTarget};
use vpcflow_store::firehose::{
    CreateDeliveryStream, Destination, Firehose, FirehoseError, FirehoseErrorCode,
    ListDeliveryStreams, S3Configuration,
};
use vpcflow_store::logs::{
    CreateLogGroup, CreateLogStream, DeleteSubscriptionFilter, DescribeSubscriptionFilters,
    InputLogEvent, LogStore, LogsError, LogsErrorCode, PutLogEvents, PutSubscriptionFilter,
    TestMetricFilter,
};

const A: &str = "123456789012";
const B: &str = "210987654321";
const NOW: u64 = 1_768_485_600_000;

fn stream(name: &str, bucket: &str, hints: Option<(u32, u32)>) -> CreateDeliveryStream {
    CreateDeliveryStream {
        delivery_stream_name: name.into(),
        extended_s3_destination_configuration: Some(S3Configuration {
            role_arn: "arn:aws:iam::123456789012:role/firehose".into(),
            bucket_arn: format!("arn:aws:s3:::{bucket}"),
            prefix: Some("flows/".into()),
            buffering_hints: hints.map(|(mb, s)| vpcflow_store::firehose::BufferingHints {
                size_in_mbs: Some(mb),
                interval_in_seconds: Some(s),
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn firehose_code(e: FirehoseError) -> (FirehoseErrorCode, String) {
    match e {
        FirehoseError::Refused { code, message } => (code, message),
        other => panic!("not a refusal: {other}"),
    }
}

#[test]
fn delivery_streams_are_created_listed_described_and_deleted_per_account() {
    let dir = tempfile::tempdir().unwrap();
    let f = Firehose::open(DataDir::new(dir.path()), "us-east-1").unwrap();
    let yes = |b: &str| b == "sink";
    let arn = f
        .create(&stream("flows", "sink", None), A, NOW, &yes)
        .unwrap();
    assert_eq!(
        arn,
        "arn:aws:firehose:us-east-1:123456789012:deliverystream/flows"
    );
    let spec = f.get(A, "flows").unwrap();
    assert_eq!((spec.size_mb, spec.interval_secs), (5, 300));
    assert!(
        matches!(&spec.destination, Destination::S3 { bucket, prefix, gzip: false, .. }
        if bucket == "sink" && prefix == "flows/")
    );
    // The same name again, and refusals of what Firehose refuses.
    let (code, msg) = firehose_code(
        f.create(&stream("flows", "sink", None), A, NOW, &yes)
            .unwrap_err(),
    );
    assert_eq!(code, FirehoseErrorCode::ResourceInUse);
    assert_eq!(
        msg,
        "Firehose stream flows under account 123456789012 already exists."
    );
    for (req, want) in [
        (
            stream("bad name", "sink", None),
            FirehoseErrorCode::Validation,
        ),
        (
            stream("x", "sink", Some((0, 60))),
            FirehoseErrorCode::Validation,
        ),
        (
            stream("x", "sink", Some((5, 901))),
            FirehoseErrorCode::Validation,
        ),
        (
            stream("x", "nowhere", None),
            FirehoseErrorCode::InvalidArgument,
        ),
        (
            CreateDeliveryStream {
                delivery_stream_name: "x".into(),
                ..Default::default()
            },
            FirehoseErrorCode::InvalidArgument,
        ),
        (
            CreateDeliveryStream {
                delivery_stream_type: Some("KinesisStreamAsSource".into()),
                ..stream("x", "sink", None)
            },
            FirehoseErrorCode::InvalidArgument,
        ),
    ] {
        let name = req.delivery_stream_name.clone();
        assert_eq!(
            firehose_code(f.create(&req, A, NOW, &yes).unwrap_err()).0,
            want,
            "{name}"
        );
    }
    f.create(&stream("alpha", "sink", None), A, NOW, &yes)
        .unwrap();
    f.create(&stream("theirs", "sink", None), B, NOW, &yes)
        .unwrap();
    let list = |start: Option<&str>, limit| {
        f.list(
            &ListDeliveryStreams {
                limit,
                exclusive_start_delivery_stream_name: start.map(str::to_owned),
                ..Default::default()
            },
            A,
        )
        .unwrap()
    };
    assert_eq!(list(None, None).delivery_stream_names, ["alpha", "flows"]);
    let first = list(None, Some(1));
    assert_eq!(
        (
            first.delivery_stream_names.as_slice(),
            first.has_more_delivery_streams
        ),
        (&["alpha".to_owned()][..], true)
    );
    assert_eq!(
        list(Some("alpha"), Some(1)).delivery_stream_names,
        ["flows"]
    );
    // B's stream is not A's.
    assert_eq!(
        firehose_code(f.get(A, "theirs").unwrap_err()).0,
        FirehoseErrorCode::ResourceNotFound
    );
    assert_eq!(
        firehose_code(f.delete(A, "theirs").unwrap_err()).0,
        FirehoseErrorCode::ResourceNotFound
    );
    f.delete(A, "alpha").unwrap();
    drop(f);
    let f = Firehose::open(DataDir::new(dir.path()), "us-east-1").unwrap();
    assert_eq!(list_names(&f, A), ["flows"]);
    assert_eq!(list_names(&f, B), ["theirs"]);
}

fn list_names(f: &Firehose, account: &str) -> Vec<String> {
    f.list(&ListDeliveryStreams::default(), account)
        .unwrap()
        .delivery_stream_names
}

#[test]
fn records_put_are_kept_until_their_hints_make_them_due_then_handed_out_whole() {
    let dir = tempfile::tempdir().unwrap();
    let f = Firehose::open(DataDir::new(dir.path()), "us-east-1").unwrap();
    f.create(&stream("flows", "sink", Some((1, 60))), A, NOW, &|_| true)
        .unwrap();
    let ids = f
        .put(A, "flows", &[b"one\n".to_vec(), b"two\n".to_vec()], NOW)
        .unwrap();
    assert_eq!(ids.len(), 2);
    assert_ne!(ids[0], ids[1]);
    f.put(A, "flows", &[b"three\n".to_vec()], NOW + 1000)
        .unwrap();
    // Not due before 60 s, not even after a reopen; due at 60 s, with every record in order.
    drop(f);
    let f = Firehose::open(DataDir::new(dir.path()), "us-east-1").unwrap();
    assert!(f.due(NOW + 59_999, false).unwrap().is_empty());
    let due = f.due(NOW + 60_000, false).unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(
        due[0].records,
        [b"one\n".to_vec(), b"two\n".to_vec(), b"three\n".to_vec()]
    );
    assert_eq!(due[0].first_ms, NOW);
    // Handed out again until delivered (a crash before `delivered` loses nothing), with the same id.
    let again = f.due(NOW + 60_000, false).unwrap();
    assert_eq!(again[0].id, due[0].id);
    f.delivered(&due[0]).unwrap();
    assert!(f.due(NOW + 999_999, true).unwrap().is_empty());
    // The size hint: 1 MiB makes it due at once.
    f.put(A, "flows", &[vec![b'x'; 600_000], vec![b'y'; 600_000]], NOW)
        .unwrap();
    assert_eq!(f.due(NOW, false).unwrap().len(), 1);
    // Refusals: no stream, another account's, too many records.
    assert_eq!(
        firehose_code(f.put(A, "nope", &[b"a".to_vec()], NOW).unwrap_err()).0,
        FirehoseErrorCode::ResourceNotFound
    );
    assert_eq!(
        firehose_code(f.put(B, "flows", &[b"a".to_vec()], NOW).unwrap_err()).0,
        FirehoseErrorCode::ResourceNotFound
    );
    assert_eq!(
        firehose_code(
            f.put(A, "flows", &vec![b"a".to_vec(); 501], NOW)
                .unwrap_err()
        )
        .0,
        FirehoseErrorCode::Validation
    );
    // Deleting the stream drops its buffer.
    f.delete(A, "flows").unwrap();
    assert!(f.due(NOW + 999_999, true).unwrap().is_empty());
}

fn logs_with_group(dir: &std::path::Path) -> LogStore {
    let store = LogStore::open(DataDir::new(dir), "us-east-1", A).unwrap();
    let group = CreateLogGroup {
        log_group_name: "/app".into(),
        ..Default::default()
    };
    store.create_log_group(&group, A, NOW).unwrap();
    let s = CreateLogStream {
        log_group_name: "/app".into(),
        log_stream_name: "host-1".into(),
    };
    store.create_log_stream(&s, A, NOW).unwrap();
    store
}

fn sub(name: &str, pattern: &str, dest: &str) -> PutSubscriptionFilter {
    PutSubscriptionFilter {
        log_group_name: "/app".into(),
        filter_name: name.into(),
        filter_pattern: pattern.into(),
        destination_arn: dest.into(),
        ..Default::default()
    }
}

fn logs_code(e: LogsError) -> (LogsErrorCode, String) {
    match e {
        LogsError::Refused { code, message } => (code, message),
        other => panic!("not a refusal: {other}"),
    }
}

fn put_events(store: &LogStore, messages: &[&str], at: u64) {
    let req = PutLogEvents {
        log_group_name: "/app".into(),
        log_stream_name: "host-1".into(),
        log_events: messages
            .iter()
            .map(|m| InputLogEvent {
                timestamp: at as i64,
                message: (*m).into(),
            })
            .collect(),
        sequence_token: None,
    };
    store.put_log_events(&req, A, at).unwrap();
}

const DEST: &str = "arn:aws:firehose:us-east-1:123456789012:deliverystream/siem";

#[test]
fn subscription_filters_forward_what_arrives_after_them_once_each() {
    let dir = tempfile::tempdir().unwrap();
    let store = logs_with_group(dir.path());
    let exists = |a: &str, s: &str| a == A && s == "siem";
    put_events(&store, &["before REJECT"], NOW);
    // Refusals: another kind of destination, a stream that does not exist, a pattern not served.
    let (code, msg) = logs_code(
        store
            .put_subscription_filter(
                &sub(
                    "f",
                    "",
                    "arn:aws:firehose:us-east-1:123456789012:deliverystream/none",
                ),
                A,
                NOW,
                &exists,
            )
            .unwrap_err(),
    );
    assert_eq!(code, LogsErrorCode::InvalidParameter);
    assert!(msg.starts_with("Could not deliver test message"), "{msg}");
    for bad in [
        sub("f", "", "arn:aws:lambda:us-east-1:123456789012:function:x"),
        sub("f", "[a, b", DEST),
        sub("f:x", "", DEST),
    ] {
        assert_eq!(
            logs_code(
                store
                    .put_subscription_filter(&bad, A, NOW, &exists)
                    .unwrap_err()
            )
            .0,
            LogsErrorCode::InvalidParameter
        );
    }
    // Another account's group is not found.
    assert_eq!(
        logs_code(
            store
                .put_subscription_filter(&sub("f", "", DEST), B, NOW, &exists)
                .unwrap_err()
        )
        .0,
        LogsErrorCode::ResourceNotFound
    );
    store
        .put_subscription_filter(&sub("all", "", DEST), A, NOW, &exists)
        .unwrap();
    store
        .put_subscription_filter(&sub("rejects", "REJECT", DEST), A, NOW, &exists)
        .unwrap();
    let (code, msg) = logs_code(
        store
            .put_subscription_filter(&sub("third", "", DEST), A, NOW, &exists)
            .unwrap_err(),
    );
    assert_eq!(
        (code, msg.as_str()),
        (LogsErrorCode::LimitExceeded, "Resource limit exceeded.")
    );
    // Nothing put before the filters is forwarded.
    assert!(store.to_forward().unwrap().is_empty());
    put_events(&store, &["a ACCEPT", "b REJECT"], NOW + 1000);
    let fw = store.to_forward().unwrap();
    let by = |name: &str| fw.iter().find(|f| f.filter.filter_name == name).unwrap();
    let messages = |name: &str| {
        by(name)
            .events
            .iter()
            .map(|(_, e)| e.message.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(messages("all"), ["a ACCEPT", "b REJECT"]);
    assert_eq!(messages("rejects"), ["b REJECT"]);
    assert_eq!(by("all").owner, A);
    // Forwarded once: after `forwarded`, nothing more, also after a reopen.
    for f in &fw {
        store.forwarded(f).unwrap();
    }
    drop(store);
    let store = LogStore::open(DataDir::new(dir.path()), "us-east-1", A).unwrap();
    assert!(store.to_forward().unwrap().is_empty());
    let page = store
        .describe_subscription_filters(
            &DescribeSubscriptionFilters {
                log_group_name: "/app".into(),
                limit: Some(1),
                ..Default::default()
            },
            A,
        )
        .unwrap();
    assert_eq!(page.subscription_filters[0].filter_name, "all");
    assert_eq!(page.subscription_filters[0].distribution, "ByLogStream");
    assert!(page.next_token.is_some());
    let del = |name: &str| DeleteSubscriptionFilter {
        log_group_name: "/app".into(),
        filter_name: name.into(),
    };
    store.delete_subscription_filter(&del("all"), A).unwrap();
    assert_eq!(
        logs_code(
            store
                .delete_subscription_filter(&del("all"), A)
                .unwrap_err()
        )
        .0,
        LogsErrorCode::ResourceNotFound
    );
    put_events(&store, &["c REJECT"], NOW + 2000);
    let fw = store.to_forward().unwrap();
    assert_eq!(fw.len(), 1);
    assert_eq!(fw[0].filter.filter_name, "rejects");
}

#[test]
fn test_metric_filter_matches_in_the_pattern_language() {
    let req = |pattern: &str, messages: &[&str]| TestMetricFilter {
        filter_pattern: pattern.into(),
        log_event_messages: messages.iter().map(|m| (*m).to_owned()).collect(),
    };
    let got = req("REJECT", &["1 ACCEPT OK", "2 REJECT OK", "3 REJECT NODATA"])
        .run()
        .unwrap();
    let numbers: Vec<u64> = got.matches.iter().map(|m| m.event_number).collect();
    assert_eq!(numbers, [2, 3]);
    assert_eq!(got.matches[0].event_message, "2 REJECT OK");
    assert_eq!(req("", &["x", "y"]).run().unwrap().matches.len(), 2);
    assert!(req("REJECT", &[]).run().is_err());
    let json = req("{ $.a = 1 }", &["x", "{\"a\":1}"]).run().unwrap();
    assert_eq!(json.matches.len(), 1);
    assert_eq!(json.matches[0].event_number, 2);
    assert_eq!(json.matches[0].extracted_values["$.a"], "1");
    assert!(req("{ $.a = }", &["x"]).run().is_err());
}

fn bucket_refusal(e: BucketError) -> (u16, &'static str) {
    match e {
        BucketError::Refused { status, code, .. } => (status, code),
        other => panic!("not a refusal: {other}"),
    }
}

#[test]
fn buckets_are_made_written_and_configured_by_their_owner_only() {
    let dir = tempfile::tempdir().unwrap();
    let open = || {
        Buckets::open(
            DataDir::new(dir.path()),
            vec!["flow-logs".into()],
            A,
            "us-east-1",
        )
        .unwrap()
    };
    let b = open();
    b.create("mine", A, NOW).unwrap();
    assert_eq!(
        bucket_refusal(b.create("mine", A, NOW).unwrap_err()),
        (409, "BucketAlreadyOwnedByYou")
    );
    assert_eq!(
        bucket_refusal(b.create("mine", B, NOW).unwrap_err()),
        (409, "BucketAlreadyExists")
    );
    assert_eq!(
        bucket_refusal(b.create("Bad_Name", A, NOW).unwrap_err()),
        (400, "InvalidBucketName")
    );
    let names = |acct| {
        b.list(acct)
            .unwrap()
            .into_iter()
            .map(|(n, _)| n)
            .collect::<Vec<_>>()
    };
    assert_eq!(names(A), ["flow-logs", "mine"]);
    assert!(names(B).is_empty());
    b.put_object("mine", "a/b.txt", b"hello", A, NOW).unwrap();
    assert_eq!(
        std::fs::read(dir.path().join("s3/mine/a/b.txt")).unwrap(),
        b"hello"
    );
    for key in ["../x", "a//b", "a/./b"] {
        assert_eq!(
            bucket_refusal(b.put_object("mine", key, b"x", A, NOW).unwrap_err()),
            (400, "InvalidArgument"),
            "{key}"
        );
    }
    assert_eq!(
        bucket_refusal(b.put_object("mine", "k", b"x", B, NOW).unwrap_err()),
        (403, "AccessDenied")
    );
    assert_eq!(
        bucket_refusal(b.put_object("nope", "k", b"x", A, NOW).unwrap_err()),
        (404, "NoSuchBucket")
    );
    assert_eq!(
        bucket_refusal(b.delete_object("mine", "a/b.txt", B, NOW).unwrap_err()),
        (403, "AccessDenied")
    );
    b.delete_object("mine", "a/b.txt", A, NOW).unwrap();
    b.delete_object("mine", "a/b.txt", A, NOW).unwrap();
    assert!(!dir.path().join("s3/mine/a/b.txt").exists());
    // Policies: JSON only; kept across a reopen; a configured bucket's too.
    assert_eq!(
        bucket_refusal(
            b.set_config("mine", A, Config::Policy, Some("not json"))
                .unwrap_err()
        ),
        (400, "MalformedPolicy")
    );
    b.set_config(
        "mine",
        A,
        Config::Policy,
        Some("{\"Version\":\"2012-10-17\"}"),
    )
    .unwrap();
    b.set_config("flow-logs", A, Config::Policy, Some("{}"))
        .unwrap();
    assert_eq!(
        bucket_refusal(b.config("mine", B, Config::Policy).unwrap_err()),
        (403, "AccessDenied")
    );
    drop(b);
    let b = open();
    assert_eq!(
        b.config("mine", A, Config::Policy).unwrap().as_deref(),
        Some("{\"Version\":\"2012-10-17\"}")
    );
    assert_eq!(
        b.config("flow-logs", A, Config::Policy).unwrap().as_deref(),
        Some("{}")
    );
    assert_eq!(b.config("mine", A, Config::Lifecycle).unwrap(), None);
    b.set_config("mine", A, Config::Policy, None).unwrap();
    assert_eq!(b.config("mine", A, Config::Policy).unwrap(), None);
}

#[test]
fn lifecycle_expires_objects_and_notifications_are_kept_until_posted() {
    let dir = tempfile::tempdir().unwrap();
    let b = Buckets::open(DataDir::new(dir.path()), vec![], A, "us-east-1").unwrap();
    b.create("logs", A, NOW).unwrap();
    let targets = vec![NotificationTarget {
        kind: "Queue".into(),
        id: "ingest".into(),
        url: "http://127.0.0.1:9/hook".into(),
        events: vec![
            "s3:ObjectCreated:*".into(),
            "s3:LifecycleExpiration:*".into(),
        ],
        prefix: "AWSLogs/".into(),
        suffix: String::new(),
    }];
    b.set_config(
        "logs",
        A,
        Config::Notification,
        Some(&serde_json::to_string(&targets).unwrap()),
    )
    .unwrap();
    b.put_object("logs", "AWSLogs/one.log.gz", b"1", A, NOW)
        .unwrap();
    b.put_object("logs", "other/two.log.gz", b"2", A, NOW)
        .unwrap();
    let events = b.pending_events().unwrap();
    assert_eq!(events.len(), 1, "only the key under the prefix");
    let body: serde_json::Value = serde_json::from_str(&events[0].body).unwrap();
    let rec = &body["Records"][0];
    assert_eq!(rec["eventName"], "ObjectCreated:Put");
    assert_eq!(rec["eventSource"], "aws:s3");
    assert_eq!(rec["s3"]["bucket"]["name"], "logs");
    assert_eq!(rec["s3"]["object"]["key"], "AWSLogs/one.log.gz");
    assert_eq!(rec["s3"]["object"]["size"], 1);
    assert_eq!(rec["s3"]["configurationId"], "ingest");
    assert_eq!(events[0].url, "http://127.0.0.1:9/hook");
    b.event_posted(&events[0]).unwrap();
    assert!(b.pending_events().unwrap().is_empty());
    // Expiration: 1 day under AWSLogs/ (a disabled rule does nothing); the objects were written
    // now, so they expire at the second midnight UTC from now at the latest.
    let rules = vec![
        LifecycleRule {
            id: Some("x".into()),
            prefix: "AWSLogs/".into(),
            enabled: true,
            expiration_days: Some(1),
        },
        LifecycleRule {
            id: None,
            prefix: "other/".into(),
            enabled: false,
            expiration_days: Some(1),
        },
    ];
    b.set_config(
        "logs",
        A,
        Config::Lifecycle,
        Some(&serde_json::to_string(&rules).unwrap()),
    )
    .unwrap();
    #[allow(clippy::disallowed_methods)] // the files' times are the OS's
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    assert!(b.expire(now).unwrap().is_empty());
    let removed = b.expire(now + 2 * 86_400_000).unwrap();
    assert_eq!(
        removed,
        [("logs".to_owned(), "AWSLogs/one.log.gz".to_owned())]
    );
    assert!(dir.path().join("s3/logs/other/two.log.gz").exists());
    let events = b.pending_events().unwrap();
    assert_eq!(events.len(), 1);
    assert!(events[0].body.contains("LifecycleExpiration:Delete"));
}
