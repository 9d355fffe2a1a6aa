//! DescribeFlowLogs as a table: each row is a request and the flow logs of its answer, or the
//! EC2 error it gets. The flow logs are made by CreateFlowLogs validation, as a user makes them.

use vpcflow_deliver::api::{self, Context, CreateFlowLogs, DeliveryStatus, FlowLog};
use vpcflow_deliver::describe::{DescribeFlowLogs, Filter, describe_flow_logs};

const ROLE: &str = "deliver_logs_permission_arn = \"arn:aws:iam::123456789012:role/fl\"";

/// Six flow logs, ids fl-…01 to fl-…06: (request TOML) for each.
const MADE: &[&str] = &[
    // 01: VPC to a log group, tagged team=a.
    "resource_type = \"VPC\"\nresource_ids = [\"vpc-0a1b2c3d4e5f60718\"]\ntraffic_type = \"ALL\"\nlog_group_name = \"/a\"\nROLE\n[tags]\nteam = \"a\"",
    // 02: the same VPC, REJECT only, to S3.
    "resource_type = \"VPC\"\nresource_ids = [\"vpc-0a1b2c3d4e5f60718\"]\ntraffic_type = \"REJECT\"\nlog_destination_type = \"s3\"\nlog_destination = \"arn:aws:s3:::flow-logs\"",
    // 03: to Firehose, tagged team=b.
    "resource_type = \"VPC\"\nresource_ids = [\"vpc-0a1b2c3d4e5f60718\"]\ntraffic_type = \"ACCEPT\"\nlog_destination_type = \"kinesis-data-firehose\"\nlog_destination = \"arn:aws:firehose:us-east-1:123456789012:deliverystream/to-siem\"\n[tags]\nteam = \"b\"",
    // 04 to 06: three more to other log groups.
    "resource_type = \"VPC\"\nresource_ids = [\"vpc-0a1b2c3d4e5f60718\"]\ntraffic_type = \"ACCEPT\"\nlog_group_name = \"/b\"\nROLE",
    "resource_type = \"VPC\"\nresource_ids = [\"vpc-0a1b2c3d4e5f60718\"]\ntraffic_type = \"REJECT\"\nlog_group_name = \"/b\"\nROLE",
    "resource_type = \"VPC\"\nresource_ids = [\"vpc-0a1b2c3d4e5f60718\"]\ntraffic_type = \"ALL\"\nlog_group_name = \"/c\"\nROLE",
];

fn existing() -> Vec<(FlowLog, DeliveryStatus)> {
    let net = vpcflow_net::builtin::load("builtin:three-tier").unwrap();
    let mut made: Vec<FlowLog> = Vec::new();
    let mut n = 0;
    for text in MADE {
        let req: CreateFlowLogs = toml::from_str(&text.replace("ROLE", ROLE)).unwrap();
        let mut next = || {
            n += 1;
            format!("{n:017x}")
        };
        let created = api::create_flow_logs(
            &req,
            &mut Context {
                network: &net,
                existing: &made,
                buckets: &["flow-logs".to_owned()],
                delivery_streams: &["to-siem".to_owned()],
                now_ms: 1_700_000_000_000,
                next_id: &mut next,
                caller: None,
            },
        )
        .unwrap_or_else(|e| panic!("{text}: {e}"));
        made.extend(created.flow_logs);
    }
    made.into_iter()
        .map(|f| {
            // The Firehose one is failing.
            let failed = f.flow_log_id.ends_with('3');
            let status = DeliveryStatus {
                status: if failed { "FAILED" } else { "SUCCESS" }.into(),
                message: failed.then(|| "Unknown error".into()),
                detail: failed.then(|| "POST http://x/: refused".into()),
            };
            (f, status)
        })
        .collect()
}

fn id(n: u32) -> String {
    format!("fl-{n:017x}")
}

fn filter(name: &str, values: &[&str]) -> Filter {
    Filter {
        name: name.into(),
        values: values.iter().map(|v| (*v).to_owned()).collect(),
    }
}

/// (what, request, the ids answered)
fn answers() -> Vec<(&'static str, DescribeFlowLogs, Vec<u32>)> {
    let all = DescribeFlowLogs::default;
    vec![
        ("everything, in id order", all(), vec![1, 2, 3, 4, 5, 6]),
        (
            "ids; one that does not exist is simply absent",
            DescribeFlowLogs {
                flow_log_ids: vec![id(5), id(2), "fl-00000000000000099".into()],
                ..all()
            },
            vec![2, 5],
        ),
        (
            "resource-id",
            DescribeFlowLogs {
                filters: vec![filter("resource-id", &["vpc-0a1b2c3d4e5f60718"])],
                ..all()
            },
            vec![1, 2, 3, 4, 5, 6],
        ),
        (
            "traffic-type values are ORed",
            DescribeFlowLogs {
                filters: vec![filter("traffic-type", &["REJECT", "ACCEPT"])],
                ..all()
            },
            vec![2, 3, 4, 5],
        ),
        (
            "filters are ANDed",
            DescribeFlowLogs {
                filters: vec![
                    filter("traffic-type", &["REJECT"]),
                    filter("log-destination-type", &["cloud-watch-logs"]),
                ],
                ..all()
            },
            vec![5],
        ),
        (
            "log-group-name with a wildcard",
            DescribeFlowLogs {
                filters: vec![filter("log-group-name", &["/b*"])],
                ..all()
            },
            vec![4, 5],
        ),
        (
            "deliver-log-status",
            DescribeFlowLogs {
                filters: vec![filter("deliver-log-status", &["FAILED"])],
                ..all()
            },
            vec![3],
        ),
        (
            "tag:<key>",
            DescribeFlowLogs {
                filters: vec![filter("tag:team", &["a"])],
                ..all()
            },
            vec![1],
        ),
        (
            "tag-key",
            DescribeFlowLogs {
                filters: vec![filter("tag-key", &["team"])],
                ..all()
            },
            vec![1, 3],
        ),
        (
            "flow-log-id filter with ?",
            DescribeFlowLogs {
                filters: vec![filter("flow-log-id", &["fl-0000000000000000?"])],
                ..all()
            },
            vec![1, 2, 3, 4, 5, 6],
        ),
        (
            "a first page of 5",
            DescribeFlowLogs {
                max_results: Some(5),
                ..all()
            },
            vec![1, 2, 3, 4, 5],
        ),
        (
            "the page after a token",
            DescribeFlowLogs {
                max_results: Some(5),
                next_token: Some(id(5)),
                ..all()
            },
            vec![6],
        ),
        (
            "a token whose flow log was deleted still pages on",
            DescribeFlowLogs {
                next_token: Some(format!("{}0", id(2))),
                ..all()
            },
            vec![3, 4, 5, 6],
        ),
        (
            "more than 1000 is 1000",
            DescribeFlowLogs {
                max_results: Some(5000),
                ..all()
            },
            vec![1, 2, 3, 4, 5, 6],
        ),
    ]
}

#[test]
fn requests_get_the_flow_logs_aws_answers() {
    let existing = existing();
    for (what, req, want) in answers() {
        let page = describe_flow_logs(&req, &existing).unwrap_or_else(|e| panic!("{what}: {e}"));
        let got: Vec<String> = page
            .flow_logs
            .iter()
            .map(|f| f.flow_log_id.clone())
            .collect();
        let want: Vec<String> = want.into_iter().map(id).collect();
        assert_eq!(got, want, "{what}");
    }
}

#[test]
fn paging_visits_every_flow_log_once_and_ends_without_a_token() {
    let existing = existing();
    let mut req = DescribeFlowLogs {
        max_results: Some(5),
        ..DescribeFlowLogs::default()
    };
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let page = describe_flow_logs(&req, &existing).unwrap();
        pages += 1;
        seen.extend(page.flow_logs.iter().map(|f| f.flow_log_id.clone()));
        match page.next_token {
            Some(t) => req.next_token = Some(t),
            None => break,
        }
    }
    assert_eq!(pages, 2);
    assert_eq!(seen, (1..=6).map(id).collect::<Vec<_>>());
}

#[test]
fn bad_requests_get_ec2_errors() {
    let existing = existing();
    let rows: Vec<(&str, DescribeFlowLogs, &str, String)> = vec![
        (
            "MaxResults below 5",
            DescribeFlowLogs {
                max_results: Some(4),
                ..Default::default()
            },
            "InvalidParameterValue",
            "Value ( 4 ) for parameter maxResults is invalid. Expecting a value greater than 5."
                .into(),
        ),
        (
            "ids with MaxResults",
            DescribeFlowLogs {
                flow_log_ids: vec![id(1)],
                max_results: Some(5),
                ..Default::default()
            },
            "InvalidParameterCombination",
            "The parameter flowLogIds cannot be used with the parameter maxResults".into(),
        ),
        (
            "an unknown filter",
            DescribeFlowLogs {
                filters: vec![filter("vpc-id", &["x"])],
                ..Default::default()
            },
            "InvalidParameterValue",
            "The filter 'vpc-id' is invalid".into(),
        ),
        (
            "a token no page returned",
            DescribeFlowLogs {
                next_token: Some("eyJ2IjoxfQ==".into()),
                ..Default::default()
            },
            "InvalidPaginationToken",
            "The token 'eyJ2IjoxfQ==' is invalid.".into(),
        ),
        (
            "1001 ids",
            DescribeFlowLogs {
                flow_log_ids: (0..1001).map(id).collect(),
                ..Default::default()
            },
            "InvalidParameterValue",
            "The maximum number of flow log IDs is 1000; 1001 were given.".into(),
        ),
    ];
    for (what, req, code, message) in rows {
        let e = describe_flow_logs(&req, &existing).expect_err(what);
        assert_eq!(
            (e.kind.code(), e.message.as_str()),
            (code, message.as_str()),
            "{what}"
        );
    }
}

#[test]
fn a_flow_log_reads_as_the_aws_cli_prints_it() {
    let existing = existing();
    let page = describe_flow_logs(
        &DescribeFlowLogs {
            flow_log_ids: vec![id(2), id(3)],
            ..Default::default()
        },
        &existing,
    )
    .unwrap();
    let json = serde_json::to_value(&page).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"FlowLogs": [
            {
                "CreationTime": "2023-11-14T22:13:20.000000+00:00",
                "DeliverLogsStatus": "SUCCESS",
                "FlowLogId": id(2),
                "FlowLogStatus": "ACTIVE",
                "ResourceId": "vpc-0a1b2c3d4e5f60718",
                "TrafficType": "REJECT",
                "LogDestinationType": "s3",
                "LogDestination": "arn:aws:s3:::flow-logs",
                "LogFormat": "${version} ${account-id} ${interface-id} ${srcaddr} ${dstaddr} ${srcport} ${dstport} ${protocol} ${packets} ${bytes} ${start} ${end} ${action} ${log-status}",
                "Tags": [],
                "MaxAggregationInterval": 600,
                "DestinationOptions": {"FileFormat": "plain-text", "HiveCompatiblePartitions": false, "PerHourPartition": false}
            },
            {
                "CreationTime": "2023-11-14T22:13:20.000000+00:00",
                "DeliverLogsErrorMessage": "Unknown error",
                "DeliverLogsStatus": "FAILED",
                "FlowLogId": id(3),
                "FlowLogStatus": "ACTIVE",
                "ResourceId": "vpc-0a1b2c3d4e5f60718",
                "TrafficType": "ACCEPT",
                "LogDestinationType": "kinesis-data-firehose",
                "LogDestination": "arn:aws:firehose:us-east-1:123456789012:deliverystream:to-siem",
                "LogFormat": "${version} ${account-id} ${interface-id} ${srcaddr} ${dstaddr} ${srcport} ${dstport} ${protocol} ${packets} ${bytes} ${start} ${end} ${action} ${log-status}",
                "Tags": [{"Key": "team", "Value": "b"}],
                "MaxAggregationInterval": 600,
                "vpcflow:DeliveryErrorDetail": "POST http://x/: refused"
            }
        ]})
    );
}
