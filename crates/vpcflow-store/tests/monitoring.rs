//! Monitoring in the store: metric filters evaluated on events as they are committed (not
//! retroactively, once per event, with `defaultValue`), FilterLogEvents and TestMetricFilter in
//! the whole pattern language, and alarms evaluated on the metric's time through their state
//! history.

use std::collections::BTreeMap;

use vpcflow_monitor::alarm::State;
use vpcflow_store::DataDir;
use vpcflow_store::alarm_eval::DescribeAlarmHistory;
use vpcflow_store::alarms::{Alarms, PutMetricAlarm};
use vpcflow_store::logs::{
    CreateLogGroup, CreateLogStream, FilterLogEvents, InputLogEvent, LogStore,
    MetricTransformation, PutLogEvents, PutMetricFilter, TestMetricFilter,
};
use vpcflow_store::metrics::{GetMetricStatistics, Metrics};

const A: &str = "123456789012";
/// A minute boundary (2026-01-15 14:00 UTC).
const T0: i64 = 1_768_485_600_000;
const MIN: i64 = 60_000;

/// The VPC User Guide's flow-log fields as a space-delimited pattern, rejects only.
const REJECTS: &str = "[version, account, eni, source, destination, srcport, destport, protocol, packets, bytes, windowstart, windowend, action=REJECT, flowlogstatus]";

fn line(action: &str, packets: u32) -> String {
    format!(
        "2 {A} eni-0a1 198.51.100.7 10.0.1.10 40000 22 6 {packets} {} 1 2 {action} OK",
        packets * 40
    )
}

fn store(dir: &std::path::Path) -> LogStore {
    let s = LogStore::open(DataDir::new(dir), "us-east-1", A).unwrap();
    // Made once; opened again, they exist already.
    {
        let _ = s.create_log_group(
            &CreateLogGroup {
                log_group_name: "/flows".into(),
                ..Default::default()
            },
            A,
            T0 as u64,
        );
        let _ = s.create_log_stream(
            &CreateLogStream {
                log_group_name: "/flows".into(),
                log_stream_name: "eni-0a1-all".into(),
            },
            A,
            T0 as u64,
        );
    }
    s
}

fn put(s: &LogStore, events: Vec<(i64, String)>, now: i64) {
    let req = PutLogEvents {
        log_group_name: "/flows".into(),
        log_stream_name: "eni-0a1-all".into(),
        log_events: events
            .into_iter()
            .map(|(timestamp, message)| InputLogEvent { timestamp, message })
            .collect(),
        sequence_token: None,
    };
    let answer = s.put_log_events(&req, A, now as u64).unwrap();
    assert!(answer.rejected_log_events_info.is_none(), "{answer:?}");
}

fn filter(s: &LogStore, name: &str, value: &str, default: Option<f64>, dims: &[(&str, &str)]) {
    let dimensions: BTreeMap<String, String> = dims
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    s.put_metric_filter(
        &PutMetricFilter {
            log_group_name: "/flows".into(),
            filter_name: name.into(),
            filter_pattern: REJECTS.into(),
            metric_transformations: vec![MetricTransformation {
                metric_name: name.into(),
                metric_namespace: "VPC".into(),
                metric_value: value.into(),
                default_value: default,
                dimensions: (!dimensions.is_empty()).then_some(dimensions),
                unit: None,
            }],
        },
        A,
        T0 as u64,
    )
    .unwrap();
}

/// Sum and SampleCount of a metric per minute over the hour from T0.
fn sums(dir: &std::path::Path, metric: &str, dims: &[(&str, &str)]) -> Vec<(i64, f64, f64)> {
    let m = Metrics::open(&DataDir::new(dir)).unwrap();
    let req: GetMetricStatistics = serde_json::from_value(serde_json::json!({
        "Namespace": "VPC", "MetricName": metric,
        "Dimensions": dims.iter().map(|(n, v)| serde_json::json!({"Name": n, "Value": v})).collect::<Vec<_>>(),
        "StartTime": T0 as f64 / 1000.0, "EndTime": (T0 + 60 * MIN) as f64 / 1000.0,
        "Period": 60, "Statistics": ["Sum", "SampleCount"],
    }))
    .unwrap();
    m.statistics(A, &req)
        .unwrap()
        .datapoints
        .iter()
        .map(|d| {
            (
                (d.timestamp * 1000.0) as i64 - T0,
                d.sum.unwrap(),
                d.sample_count.unwrap(),
            )
        })
        .collect()
}

#[test]
fn metric_filters_count_events_committed_after_them_once() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path());
    // Before any filter: not counted later.
    put(&s, vec![(T0, line("REJECT", 5))], T0);
    filter(&s, "RejectedPackets", "$packets", None, &[]);
    filter(&s, "Rejects", "1", Some(0.0), &[]);
    filter(&s, "ByPort", "1", None, &[("Port", "$destport")]);
    put(
        &s,
        vec![
            (T0 + MIN, line("REJECT", 7)),
            (T0 + MIN + 5, line("ACCEPT", 100)),
            (T0 + MIN + 9, line("REJECT", 3)),
            (T0 + 2 * MIN, line("ACCEPT", 1)),
        ],
        T0 + 3 * MIN,
    );
    assert_eq!(sums(dir.path(), "RejectedPackets", &[]), [(MIN, 10.0, 2.0)]);
    // The default value is published for every event the pattern does not match.
    assert_eq!(
        sums(dir.path(), "Rejects", &[]),
        [(MIN, 2.0, 3.0), (2 * MIN, 0.0, 1.0)]
    );
    assert_eq!(
        sums(dir.path(), "ByPort", &[("Port", "22")]),
        [(MIN, 2.0, 2.0)]
    );
    assert!(
        sums(dir.path(), "ByPort", &[]).is_empty(),
        "dimensions make another metric"
    );
    // A store opened again evaluates the same filters.
    drop(s);
    let s = store(dir.path());
    put(&s, vec![(T0 + 2 * MIN, line("REJECT", 1))], T0 + 3 * MIN);
    assert_eq!(
        sums(dir.path(), "RejectedPackets", &[]),
        [(MIN, 10.0, 2.0), (2 * MIN, 1.0, 1.0)]
    );
}

#[test]
fn metric_filters_are_checked_against_their_pattern() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path());
    let mut req = PutMetricFilter {
        log_group_name: "/flows".into(),
        filter_name: "f".into(),
        filter_pattern: REJECTS.into(),
        metric_transformations: vec![MetricTransformation {
            metric_name: "m".into(),
            metric_namespace: "VPC".into(),
            metric_value: "$nope".into(),
            default_value: None,
            dimensions: None,
            unit: None,
        }],
    };
    let e = s
        .put_metric_filter(&req, A, T0 as u64)
        .unwrap_err()
        .to_string();
    assert!(e.contains("Invalid metric value '$nope'"), "{e}");
    req.filter_pattern = "[a, b=%x(%]".into();
    let e = s
        .put_metric_filter(&req, A, T0 as u64)
        .unwrap_err()
        .to_string();
    assert!(e.contains("Invalid filter pattern at character 9"), "{e}");
    // AWS's quota: five filters of a group with a regex.
    req.metric_transformations[0].metric_value = "1".into();
    for i in 0..5 {
        req.filter_name = format!("re{i}");
        req.filter_pattern = format!("%REJECT{i}%");
        s.put_metric_filter(&req, A, T0 as u64).unwrap();
    }
    req.filter_name = "re5".into();
    let e = s
        .put_metric_filter(&req, A, T0 as u64)
        .unwrap_err()
        .to_string();
    assert!(e.contains("at most 5"), "{e}");
    req.filter_name = "re0".into();
    s.put_metric_filter(&req, A, T0 as u64)
        .expect("replacing one is not another");
}

#[test]
fn filter_log_events_and_test_metric_filter_speak_the_language() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path());
    put(
        &s,
        vec![
            (T0, line("REJECT", 5)),
            (T0 + 1, line("ACCEPT", 9)),
            (T0 + 2, line("REJECT", 2000)),
        ],
        T0,
    );
    let found = |pattern: &str| -> Vec<String> {
        s.filter_log_events(&FilterLogEvents {
            log_group_name: Some("/flows".into()),
            filter_pattern: Some(pattern.into()),
            ..Default::default()
        })
        .unwrap()
        .events
        .into_iter()
        .map(|e| e.message)
        .collect()
    };
    assert_eq!(found(REJECTS).len(), 2);
    assert_eq!(
        found("[..., packets>1000, bytes, w1, w2, action, status]"),
        [line("REJECT", 2000)]
    );
    assert_eq!(found("ACCEPT -REJECT"), [line("ACCEPT", 9)]);
    assert_eq!(found("%ACC?EPT%").len(), 1);
    let err = s
        .filter_log_events(&FilterLogEvents {
            log_group_name: Some("/flows".into()),
            filter_pattern: Some("[a,,]".into()),
            ..Default::default()
        })
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("Invalid filter pattern at character 4"),
        "{err}"
    );
    let t = TestMetricFilter {
        filter_pattern: REJECTS.into(),
        log_event_messages: vec![line("ACCEPT", 1), line("REJECT", 3)],
    }
    .run()
    .unwrap();
    assert_eq!(t.matches.len(), 1);
    assert_eq!(t.matches[0].event_number, 2);
    assert_eq!(t.matches[0].extracted_values["$packets"], "3");
    assert_eq!(t.matches[0].extracted_values.len(), 14);
}

/// The seeds' alarm: RejectedPacketCount > 1000 for 2 periods of 300 s, on a metric filter with
/// a default of 0, through a scan that starts and stops.
#[test]
fn an_alarm_follows_a_scan_in_metric_time() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path());
    filter(&s, "RejectedPacketCount", "$packets", Some(0.0), &[]);
    let alarms = Alarms::open(&DataDir::new(dir.path()), "us-east-1").unwrap();
    let alarm: PutMetricAlarm = serde_json::from_value(serde_json::json!({
        "AlarmName": "rejects", "Namespace": "VPC", "MetricName": "RejectedPacketCount",
        "Statistic": "Sum", "Period": 300, "EvaluationPeriods": 2, "Threshold": 1000.0,
        "ComparisonOperator": "GreaterThanThreshold",
        "AlarmActions": ["arn:aws:sns:us-east-1:123456789012:ops"],
        "OKActions": ["arn:aws:sns:us-east-1:123456789012:ops"],
    }))
    .unwrap();
    alarms.put(A, &alarm, T0 as u64).unwrap();
    let metrics = Metrics::open(&DataDir::new(dir.path())).unwrap();
    let subscribers = |topic: &str| -> Vec<String> {
        match topic {
            "arn:aws:sns:us-east-1:123456789012:ops" => vec!["http://127.0.0.1:9/hook".into()],
            _ => Vec::new(),
        }
    };
    let mut changes = Vec::new();
    // An hour of minutes: quiet, a scan from minute 20 to 35 (300 rejected packets a minute),
    // quiet again; evaluated after each 5-minute batch, as delivery commits them.
    for batch in 0..12 {
        let events: Vec<(i64, String)> = (0..5)
            .flat_map(|k| {
                let minute = batch * 5 + k;
                let t = T0 + minute * MIN;
                let mut v = vec![(t, line("ACCEPT", 3))];
                if (20..35).contains(&minute) {
                    v.push((t + 1, line("REJECT", 300)));
                }
                v
            })
            .collect();
        let newest = events.last().unwrap().0;
        put(&s, events, newest + MIN);
        for t in alarms
            .evaluate(&metrics, (newest + MIN) as u64, &subscribers)
            .unwrap()
        {
            changes.push(((t.at_ms as i64 - T0) / MIN, t.old, t.new, t.actions.len()));
        }
    }
    assert_eq!(
        changes,
        [
            (5, State::InsufficientData, State::Ok, 1),
            // Periods [20, 25) and [25, 30) breach: ALARM when the second ends.
            (30, State::Ok, State::Alarm, 1),
            // [35, 40) is back under: one of the last two no longer breaching.
            (40, State::Alarm, State::Ok, 1),
        ]
    );
    // Evaluating again at the same metric time changes nothing.
    assert!(
        alarms
            .evaluate(&metrics, (T0 + 60 * MIN) as u64, &subscribers)
            .unwrap()
            .is_empty()
    );
    let history = alarms
        .history(
            A,
            &DescribeAlarmHistory {
                alarm_name: Some("rejects".into()),
                scan_by: Some("TimestampAscending".into()),
                ..Default::default()
            },
        )
        .unwrap()
        .alarm_history_items;
    let summaries: Vec<&str> = history.iter().map(|h| h.history_summary.as_str()).collect();
    assert_eq!(
        summaries,
        [
            "Alarm \"rejects\" created",
            "Alarm updated from INSUFFICIENT_DATA to OK",
            "Alarm updated from OK to ALARM",
            "Alarm updated from ALARM to OK",
        ]
    );
    let data: serde_json::Value = serde_json::from_str(&history[2].history_data).unwrap();
    let reason = data["newState"]["stateReason"].as_str().unwrap();
    assert!(
        reason.starts_with("Threshold Crossed: 2 out of the last 2 datapoints [1500.0, 1500.0] were greater than the threshold (1000.0)"),
        "{reason}"
    );
    // One notification per change, SNS-shaped, posted until acknowledged.
    let due = alarms.due_notifications(0).unwrap();
    let states: Vec<String> = due
        .iter()
        .map(|n| {
            let body: serde_json::Value = serde_json::from_str(&n.body).unwrap();
            assert_eq!(body["Type"], "Notification");
            assert_eq!(body["TopicArn"], "arn:aws:sns:us-east-1:123456789012:ops");
            let message: serde_json::Value =
                serde_json::from_str(body["Message"].as_str().unwrap()).unwrap();
            assert_eq!(message["AlarmName"], "rejects");
            assert_eq!(message["Trigger"]["Threshold"], 1000.0);
            message["NewStateValue"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(states, ["OK", "ALARM", "OK"]);
    alarms.notify_failed(&due[0], 1_000).unwrap();
    assert_eq!(
        alarms.due_notifications(1_500).unwrap().len(),
        2,
        "the failed one waits"
    );
    assert_eq!(alarms.due_notifications(2_000).unwrap().len(), 3);
    let again = alarms.due_notifications(2_000).unwrap();
    assert_eq!(
        again[0].message_id(),
        due[0].message_id(),
        "a retry is the same message"
    );
    for n in &again {
        alarms.notified(n).unwrap();
    }
    assert!(alarms.due_notifications(u64::MAX / 2).unwrap().is_empty());
    let described = alarms.describe(A, &Default::default()).unwrap();
    assert_eq!(described.metric_alarms[0].state_value, "OK");
    assert_eq!(
        described.metric_alarms[0].state_transitioned_timestamp,
        (T0 + 40 * MIN) as f64 / 1000.0
    );
}

/// Contributor Insights rules: put (checked), described, reported over the log groups they name
/// (only the caller's), deleted.
#[test]
fn insight_rules_report_their_log_groups_top_contributors() {
    use vpcflow_store::insight_rules::{
        DeleteInsightRules, DescribeInsightRules, GetInsightRuleReport, PutInsightRule,
    };
    let dir = tempfile::tempdir().unwrap();
    let mut s = store(dir.path());
    put(
        &s,
        vec![
            (T0, line("REJECT", 5)),
            (T0 + 1, line("REJECT", 7)),
            (T0 + 2, line("ACCEPT", 100)),
            (T0 + 6 * MIN, line("REJECT", 1)),
        ],
        T0,
    );
    let alarms = Alarms::open(&DataDir::new(dir.path()), "us-east-1").unwrap();
    let definition = vpcflow_monitor::contributors::sample("rejected-tcp", "/flo*").unwrap();
    let put_rule = |definition: &str| PutInsightRule {
        rule_name: "rejected".into(),
        rule_definition: definition.into(),
        ..Default::default()
    };
    let e = alarms
        .put_insight_rule(A, &put_rule("{}"), 0)
        .unwrap_err()
        .to_string();
    assert!(e.contains("Invalid rule definition"), "{e}");
    alarms
        .put_insight_rule(A, &put_rule(&definition), 0)
        .unwrap();
    let rules = alarms
        .describe_insight_rules(A, &DescribeInsightRules::default())
        .unwrap();
    assert_eq!(rules.insight_rules.len(), 1);
    assert_eq!(rules.insight_rules[0].state, "ENABLED");
    assert!(
        alarms
            .describe_insight_rules("210987654321", &Default::default())
            .unwrap()
            .insight_rules
            .is_empty()
    );
    let req = GetInsightRuleReport {
        rule_name: "rejected".into(),
        start_time: T0 as f64 / 1000.0,
        end_time: (T0 + 10 * MIN) as f64 / 1000.0,
        period: 300,
        metrics: Some(vec!["UniqueContributors".into(), "SampleCount".into()]),
        ..Default::default()
    };
    s.acting_for(Some(A));
    let r = alarms.insight_rule_report(A, &s, &req).unwrap();
    assert_eq!(r.key_labels, ["interfaceID", "sourceAddress"]);
    assert_eq!(r.contributors.len(), 1);
    assert_eq!(r.contributors[0].keys, ["eni-0a1", "198.51.100.7"]);
    assert_eq!(
        r.contributors[0].approximate_aggregate_value, 3.0,
        "three TCP rejects"
    );
    assert_eq!(
        r.contributors[0].datapoints.len(),
        2,
        "two 5-minute periods"
    );
    assert_eq!(r.metric_datapoints[0].sample_count, Some(2.0));
    assert_eq!(
        r.metric_datapoints[0].sum, None,
        "only the metrics asked for"
    );
    // Another account's rule of the same name does not exist; its groups are not read.
    let e = alarms
        .insight_rule_report("210987654321", &s, &req)
        .unwrap_err()
        .to_string();
    assert!(e.contains("does not exist"), "{e}");
    let gone = alarms
        .delete_insight_rules(
            A,
            &DeleteInsightRules {
                rule_names: vec!["rejected".into(), "nope".into()],
            },
        )
        .unwrap();
    assert_eq!(gone.failures.len(), 1);
    assert_eq!(gone.failures[0].failure_resource, "nope");
}

/// EvaluateLowSampleCountPercentile: with `ignore`, a percentile over too few samples (p90
/// needs 100) leaves the state as it is; with `evaluate` (the default) it counts.
#[test]
fn percentile_alarms_over_too_few_samples() {
    use vpcflow_store::metrics::{Row, StatisticSet};
    let dir = tempfile::tempdir().unwrap();
    let data = DataDir::new(dir.path());
    let alarms = Alarms::open(&data, "us-east-1").unwrap();
    let metrics = Metrics::open(&data).unwrap();
    let alarm = |name: &str, low: Option<&str>| -> PutMetricAlarm {
        let mut v = serde_json::json!({
            "AlarmName": name, "Namespace": "App", "MetricName": "Latency",
            "ExtendedStatistic": "p90", "Period": 60, "EvaluationPeriods": 1, "Threshold": 50.0,
            "ComparisonOperator": "GreaterThanThreshold",
        });
        if let Some(l) = low {
            v["EvaluateLowSampleCountPercentile"] = l.into();
        }
        serde_json::from_value(v).unwrap()
    };
    alarms
        .put(A, &alarm("ignoring", Some("ignore")), T0 as u64)
        .unwrap();
    alarms
        .put(A, &alarm("evaluating", None), T0 as u64)
        .unwrap();
    let samples = |minute: i64, count: f64| Row {
        metric: "Latency".into(),
        dims: "[]".into(),
        ts_ms: (T0 + minute * MIN) as u64,
        set: StatisticSet {
            sample_count: count,
            sum: 100.0 * count,
            minimum: 100.0,
            maximum: 100.0,
        },
        single: true,
        unit: "None".into(),
    };
    let no_topics = |_: &str| Vec::new();
    metrics.insert(A, "App", &[samples(0, 99.0)]).unwrap();
    let moved: Vec<String> = alarms
        .evaluate(&metrics, (T0 + MIN) as u64, &no_topics)
        .unwrap()
        .iter()
        .map(|t| t.alarm.config.alarm_name.clone())
        .collect();
    assert_eq!(
        moved,
        ["evaluating"],
        "99 samples are too few for p90 when ignoring"
    );
    metrics.insert(A, "App", &[samples(1, 100.0)]).unwrap();
    let moved = alarms
        .evaluate(&metrics, (T0 + 2 * MIN) as u64, &no_topics)
        .unwrap();
    assert_eq!(moved.len(), 1);
    assert_eq!(
        (moved[0].alarm.config.alarm_name.as_str(), moved[0].new),
        ("ignoring", State::Alarm)
    );
}
