//! CloudWatch's alarms as a table of requests and answers: what is kept and shown, paging,
//! accounts, and each refusal's code.

use vpcflow_store::DataDir;
use vpcflow_store::alarms::{
    AlarmError, AlarmErrorCode, Alarms, DeleteAlarms, DescribeAlarms, Dimension, PutMetricAlarm,
};

const A: &str = "123456789012";
const B: &str = "210987654321";

fn alarm(name: &str) -> PutMetricAlarm {
    PutMetricAlarm {
        alarm_name: name.into(),
        metric_name: Some("RejectedPackets".into()),
        namespace: Some("VPCFlowLogs".into()),
        statistic: Some("Sum".into()),
        period: Some(300),
        evaluation_periods: 1,
        threshold: Some(100.0),
        comparison_operator: "GreaterThanThreshold".into(),
        dimensions: Some(vec![Dimension {
            name: "VpcId".into(),
            value: "vpc-1".into(),
        }]),
        ..PutMetricAlarm::default()
    }
}

fn code(e: AlarmError) -> AlarmErrorCode {
    match e {
        AlarmError::Refused { code, .. } => code,
        other => panic!("not a refusal: {other}"),
    }
}

fn open() -> (tempfile::TempDir, Alarms) {
    let tmp = tempfile::tempdir().unwrap();
    let alarms = Alarms::open(&DataDir::new(tmp.path()), "us-east-1").unwrap();
    (tmp, alarms)
}

#[test]
fn alarms_are_kept_per_account_and_described_in_pages() {
    let (tmp, alarms) = open();
    for n in ["c", "a", "b"] {
        alarms.put(A, &alarm(n), 1_000_000).unwrap();
    }
    alarms.put(B, &alarm("theirs"), 1_000_000).unwrap();
    let names = |p: &vpcflow_store::alarms::AlarmsPage| -> Vec<String> {
        p.metric_alarms
            .iter()
            .map(|a| a.config.alarm_name.clone())
            .collect()
    };
    let page = alarms
        .describe(
            A,
            &DescribeAlarms {
                max_records: Some(2),
                ..DescribeAlarms::default()
            },
        )
        .unwrap();
    assert_eq!(names(&page), ["a", "b"]);
    let rest = alarms
        .describe(
            A,
            &DescribeAlarms {
                max_records: Some(2),
                next_token: page.next_token.clone(),
                ..DescribeAlarms::default()
            },
        )
        .unwrap();
    assert_eq!(
        (names(&rest), rest.next_token),
        (vec!["c".to_owned()], None)
    );
    let a = &page.metric_alarms[0];
    assert_eq!(a.state_value, "INSUFFICIENT_DATA");
    assert_eq!(
        a.alarm_arn,
        "arn:aws:cloudwatch:us-east-1:123456789012:alarm:a"
    );
    assert_eq!(a.state_updated_timestamp, 1000.0);
    // B sees only its own, and cannot delete A's.
    let theirs = alarms.describe(B, &DescribeAlarms::default()).unwrap();
    assert_eq!(names(&theirs), ["theirs"]);
    let del = |n: &str| DeleteAlarms {
        alarm_names: vec![n.into()],
    };
    assert_eq!(
        code(alarms.delete(B, &del("a")).unwrap_err()),
        AlarmErrorCode::ResourceNotFound
    );
    // A second put replaces the configuration and keeps the state's times.
    let mut changed = alarm("a");
    changed.threshold = Some(5.0);
    alarms.put(A, &changed, 2_000_000).unwrap();
    let only_a = DescribeAlarms {
        alarm_names: Some(vec!["a".into()]),
        ..DescribeAlarms::default()
    };
    let a = alarms.describe(A, &only_a).unwrap().metric_alarms.remove(0);
    assert_eq!(a.config.threshold, Some(5.0));
    assert_eq!(
        (
            a.alarm_configuration_updated_timestamp,
            a.state_updated_timestamp
        ),
        (2000.0, 1000.0)
    );
    alarms.delete(A, &del("a")).unwrap();
    // What is kept survives reopening.
    drop(alarms);
    let again = Alarms::open(&DataDir::new(tmp.path()), "us-east-1").unwrap();
    assert_eq!(
        names(&again.describe(A, &DescribeAlarms::default()).unwrap()),
        ["b", "c"]
    );
}

#[test]
fn each_refusal_has_cloudwatchs_code() {
    let (_tmp, alarms) = open();
    type Change = fn(&mut PutMetricAlarm);
    let rows: &[(&str, Change, AlarmErrorCode)] = &[
        (
            "empty name",
            |a| a.alarm_name.clear(),
            AlarmErrorCode::Validation,
        ),
        (
            "no periods",
            |a| a.evaluation_periods = 0,
            AlarmErrorCode::Validation,
        ),
        (
            "operator",
            |a| a.comparison_operator = "Bigger".into(),
            AlarmErrorCode::Validation,
        ),
        (
            "statistic",
            |a| a.statistic = Some("Median".into()),
            AlarmErrorCode::Validation,
        ),
        (
            "period",
            |a| a.period = Some(45),
            AlarmErrorCode::Validation,
        ),
        (
            "no period",
            |a| a.period = None,
            AlarmErrorCode::MissingParameter,
        ),
        (
            "both statistics",
            |a| a.extended_statistic = Some("p99".into()),
            AlarmErrorCode::InvalidParameterCombination,
        ),
        (
            "no metric",
            |a| a.metric_name = None,
            AlarmErrorCode::MissingParameter,
        ),
        (
            "no threshold",
            |a| a.threshold = None,
            AlarmErrorCode::MissingParameter,
        ),
        (
            "datapoints",
            |a| a.datapoints_to_alarm = Some(2),
            AlarmErrorCode::Validation,
        ),
        (
            "missing data",
            |a| a.treat_missing_data = Some("maybe".into()),
            AlarmErrorCode::Validation,
        ),
    ];
    for (what, change, want) in rows {
        let mut a = alarm("x");
        change(&mut a);
        assert_eq!(code(alarms.put(A, &a, 0).unwrap_err()), *want, "{what}");
    }
    let both = DescribeAlarms {
        alarm_names: Some(vec!["a".into()]),
        alarm_name_prefix: Some("a".into()),
        ..DescribeAlarms::default()
    };
    assert_eq!(
        code(alarms.describe(A, &both).unwrap_err()),
        AlarmErrorCode::InvalidParameterCombination
    );
    let too_many = DescribeAlarms {
        max_records: Some(101),
        ..DescribeAlarms::default()
    };
    assert_eq!(
        code(alarms.describe(A, &too_many).unwrap_err()),
        AlarmErrorCode::Validation
    );
}
