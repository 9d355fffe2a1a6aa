//! `vpcflow.toml`'s values are checked before anything runs: every problem, at its key, as
//! table rows (a config, and what its problems say).

use vpcflow_deliver::config::{DeliveryConfig, parse};

fn problems(text: &str) -> Vec<(String, String)> {
    let config: DeliveryConfig = parse(text, "vpcflow.toml").unwrap();
    config.problems()
}

const FLOW_LOG: &str = "[[flow_logs]]\nresource_type = \"VPC\"\nresource_ids = [\"vpc-1\"]\n\
                        traffic_type = \"ALL\"\nlog_group_name = \"/g\"\n";

#[test]
fn each_problem_is_named_at_its_key() {
    let rows: Vec<(String, Vec<(&str, &str)>)> = vec![
        ("[[buckets]]\nname = \"flow-logs\"\n".into(), vec![]),
        (
            "[[topics]]\narn = \"arn:aws:sns:us-east-1:123456789012:ops\"\n\
             subscribers = [\"http://127.0.0.1:9/a\"]\n[detections]\n\
             actions = [\"arn:aws:sns:us-east-1:123456789012:ops\"]\n"
                .into(),
            vec![],
        ),
        (
            "[[topics]]\narn = \"sns:ops\"\nsubscribers = [\"ftp://x\"]\n[[topics]]\n\
             arn = \"sns:ops\"\n[detections]\nactions = [\"arn:aws:sns:us-east-1:123456789012:other\"]\n"
                .into(),
            vec![
                ("topics[0].arn", "is not arn:aws:sns:REGION:ACCOUNT:NAME"),
                ("topics[0].subscribers[0]", "is not an http:// or https:// URL"),
                ("topics[1].arn", "is not arn:aws:sns:REGION:ACCOUNT:NAME"),
                ("topics[1].arn", "is named twice"),
                ("detections.actions[0]", "is not a topic of [[topics]]"),
            ],
        ),
        (
            "[[buckets]]\nname = \"a..b\"\n".into(),
            vec![("buckets[0].name", "must not hold two adjacent dots")],
        ),
        (
            "[[buckets]]\nname = \"192.168.1.1\"\n".into(),
            vec![("buckets[0].name", "formatted as an IP address")],
        ),
        (
            "[[buckets]]\nname = \"ab\"\n[[buckets]]\nname = \"Flow_Logs\"\n".into(),
            vec![
                ("buckets[0].name", "3 to 63 characters"),
                ("buckets[1].name", "only lowercase letters"),
            ],
        ),
        (
            "[[buckets]]\nname = \"-lead\"\n[[buckets]]\nname = \"x.mrap\"\n".into(),
            vec![
                ("buckets[0].name", "begin and end with a letter or digit"),
                ("buckets[1].name", "reserves"),
            ],
        ),
        (
            "[[buckets]]\nname = \"..\"\n".into(),
            vec![("buckets[0].name", "3 to 63 characters")],
        ),
        (
            "[[log_groups]]\nname = \"/g\"\n[[log_groups]]\nname = \"/g\"\n".into(),
            vec![("log_groups[1].name", "log group '/g' is declared twice")],
        ),
        (
            "[[buckets]]\nname = \"flow-logs\"\n[[delivery_streams]]\nname = \"s\"\n\
             destination = { type = \"s3\", bucket = \"flow-logs\", prefix = \"x/../../y/\" }\n"
                .into(),
            vec![(
                "delivery_streams[0].destination.prefix",
                "has an empty, '.' or '..' segment",
            )],
        ),
        (
            format!("{FLOW_LOG}{FLOW_LOG}"),
            vec![("flow_logs[1]", "repeats flow_logs[0] exactly")],
        ),
    ];
    for (text, want) in rows {
        let got = problems(&text);
        assert_eq!(got.len(), want.len(), "{text}: {got:?}");
        for ((at, why), (want_at, want_why)) in got.iter().zip(&want) {
            assert_eq!(at, want_at, "{text}");
            assert!(why.contains(want_why), "{text}: {why}");
        }
    }
}
