//! EC2's query protocol for flow logs: the forms boto3 sends (`reference/aws-api.md` §2.1,
//! captured from boto3 1.44.5) read into the services' requests, the services' answers written
//! as EC2's XML, and refusals as table rows.

use std::collections::BTreeMap;

use vpcflow_api::ec2::{self, Parsed, Request};
use vpcflow_api::form;
use vpcflow_deliver::api::{self, Context, CreateFlowLogs, DestinationOptionsRequest};
use vpcflow_deliver::describe::{self, DescribeFlowLogs, Filter};

/// A form from its decoded fields, as botocore orders them.
fn form_of(fields: &[(&str, &str)]) -> form::Form {
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields)
        .finish();
    form::parse(body.as_bytes()).unwrap()
}

fn parsed(fields: &[(&str, &str)]) -> Parsed {
    ec2::request(&form_of(fields)).unwrap()
}

#[test]
fn boto3s_create_flow_logs_reads_as_the_service_takes_it() {
    let p = parsed(&[
        ("Action", "CreateFlowLogs"),
        ("Version", "2016-11-15"),
        ("ResourceType", "VPC"),
        ("ResourceId.1", "vpc-0abc"),
        ("ResourceId.2", "vpc-0def"),
        ("TrafficType", "ALL"),
        ("LogDestinationType", "s3"),
        ("LogDestination", "arn:aws:s3:::flow-bucket/prefix"),
        ("LogFormat", "${version} ${srcaddr}"),
        ("MaxAggregationInterval", "60"),
        ("DestinationOptions.FileFormat", "parquet"),
        ("DestinationOptions.HiveCompatiblePartitions", "true"),
        ("DestinationOptions.PerHourPartition", "false"),
        ("TagSpecification.1.ResourceType", "vpc-flow-log"),
        ("TagSpecification.1.Tag.1.Key", "Name"),
        ("TagSpecification.1.Tag.1.Value", "demo"),
        ("TagSpecification.1.Tag.2.Key", "env"),
        ("TagSpecification.1.Tag.2.Value", "dev"),
    ]);
    assert!(!p.dry_run);
    assert_eq!(
        p.request,
        Request::CreateFlowLogs(Box::new(CreateFlowLogs {
            resource_type: Some("VPC".into()),
            resource_ids: vec!["vpc-0abc".into(), "vpc-0def".into()],
            traffic_type: Some("ALL".into()),
            log_destination_type: Some("s3".into()),
            log_destination: Some("arn:aws:s3:::flow-bucket/prefix".into()),
            log_format: Some("${version} ${srcaddr}".into()),
            max_aggregation_interval: Some(60),
            destination_options: Some(DestinationOptionsRequest {
                file_format: Some("parquet".into()),
                hive_compatible_partitions: Some(true),
                per_hour_partition: Some(false),
            }),
            tags: BTreeMap::from([("Name".into(), "demo".into()), ("env".into(), "dev".into()),]),
            ..CreateFlowLogs::default()
        }))
    );
}

#[test]
fn boto3s_describe_and_delete_read_as_the_service_takes_them() {
    let p = parsed(&[
        ("Action", "DescribeFlowLogs"),
        ("Version", "2016-11-15"),
        ("FlowLogId.1", "fl-0123456789abcdef0"),
        ("MaxResults", "5"),
        ("Filter.1.Name", "resource-id"),
        ("Filter.1.Value.1", "vpc-0abc"),
        ("Filter.1.Value.2", "vpc-0def"),
        ("Filter.2.Name", "tag:Name"),
        ("Filter.2.Value.1", "demo"),
    ]);
    assert_eq!(
        p.request,
        Request::DescribeFlowLogs(DescribeFlowLogs {
            flow_log_ids: vec!["fl-0123456789abcdef0".into()],
            filters: vec![
                Filter {
                    name: "resource-id".into(),
                    values: vec!["vpc-0abc".into(), "vpc-0def".into()]
                },
                Filter {
                    name: "tag:Name".into(),
                    values: vec!["demo".into()]
                },
            ],
            max_results: Some(5),
            next_token: None,
        })
    );
    let p = parsed(&[
        ("Action", "DeleteFlowLogs"),
        ("Version", "2016-11-15"),
        ("FlowLogId.1", "fl-nope"),
        ("DryRun", "true"),
    ]);
    assert_eq!(p.request, Request::DeleteFlowLogs(vec!["fl-nope".into()]));
    assert!(p.dry_run);
}

/// A form's decoded fields.
type Fields = &'static [(&'static str, &'static str)];

/// (what, form fields, code, message): requests refused before any service sees them.
const REFUSED: &[(&str, Fields, &str, &str)] = &[
    (
        "no action",
        &[("Version", "2016-11-15")],
        "MissingParameter",
        "The request must contain the parameter Action",
    ),
    (
        "an action not served",
        &[("Action", "DescribeImages")],
        "InvalidAction",
        "The action DescribeImages is not valid for this web service.",
    ),
    (
        "a parameter the action does not take",
        &[("Action", "DeleteFlowLogs"), ("ResourceId.1", "vpc-1")],
        "UnknownParameter",
        "The parameter ResourceId.1 is not recognized",
    ),
    (
        "a list member numbered 0",
        &[("Action", "DeleteFlowLogs"), ("FlowLogId.0", "fl-1")],
        "UnknownParameter",
        "The parameter FlowLogId.0 is not recognized",
    ),
    (
        "a boolean that is not one",
        &[("Action", "DescribeFlowLogs"), ("DryRun", "yes")],
        "InvalidParameterValue",
        "Value (yes) for parameter DryRun is invalid. Expected: 'true' or 'false'.",
    ),
    (
        "an integer that is not one",
        &[("Action", "DescribeFlowLogs"), ("MaxResults", "ten")],
        "InvalidParameterValue",
        "Value (ten) for parameter MaxResults is invalid. Expected an integer.",
    ),
    (
        "tags for another resource type",
        &[
            ("Action", "CreateFlowLogs"),
            ("TagSpecification.1.ResourceType", "instance"),
            ("TagSpecification.1.Tag.1.Key", "a"),
        ],
        "InvalidParameterValue",
        "'instance' is not a valid taggable resource type for this operation.",
    ),
];

#[test]
fn malformed_requests_get_ec2s_errors() {
    for (what, fields, code, message) in REFUSED {
        let e = ec2::request(&form_of(fields)).expect_err(what);
        assert_eq!(
            (e.kind.code(), e.message.as_str()),
            (*code, *message),
            "{what}"
        );
        let (status, xml) = ec2::error_response(&e, "req-1");
        assert_eq!(status, 400, "{what}");
        assert!(xml.contains(&format!("<Code>{code}</Code>")), "{xml}");
        assert!(
            xml.ends_with("<RequestID>req-1</RequestID></Response>"),
            "{xml}"
        );
    }
    let e = ec2::form_error(&form::parse(b"A=1&A=2").unwrap_err());
    assert_eq!(ec2::error_response(&e, "r").0, 400);
}

/// The services' answers as EC2's XML: what boto3's parser reads (element names, sets of
/// items, ISO times with `T` and `Z`, escaping).
#[test]
fn answers_are_ec2s_xml() {
    let net = vpcflow_net::builtin::load("builtin:three-tier").unwrap();
    let req = CreateFlowLogs {
        resource_type: Some("VPC".into()),
        resource_ids: vec!["vpc-0a1b2c3d4e5f60718".into()],
        traffic_type: Some("REJECT".into()),
        log_group_name: Some("/flows".into()),
        deliver_logs_permission_arn: Some("arn:aws:iam::123456789012:role/fl".into()),
        tags: BTreeMap::from([("Name".into(), "demo & <more>".into())]),
        ..CreateFlowLogs::default()
    };
    let mut n = 0;
    let mut next = || {
        n += 1;
        format!("{n:017x}")
    };
    let created = api::create_flow_logs(
        &req,
        &mut Context {
            network: &net,
            existing: &[],
            buckets: &[],
            delivery_streams: &[],
            now_ms: 1_768_485_600_123,
            next_id: &mut next,
            caller: None,
        },
    );
    let created = match created {
        Ok(c) => c,
        Err(e) => panic!("{e:?}"),
    };
    let xml = ec2::create_response(&created, Some("tok"), "req-2");
    assert!(xml.starts_with(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<CreateFlowLogsResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\"><requestId>req-2</requestId><clientToken>tok</clientToken><flowLogIdSet><item>fl-"
    ), "{xml}");
    assert!(xml.ends_with("</CreateFlowLogsResponse>"), "{xml}");
    let status = api::DeliveryStatus {
        status: "SUCCESS".into(),
        message: None,
        detail: None,
    };
    let existing: Vec<_> = created
        .flow_logs
        .iter()
        .map(|f| (f.clone(), status.clone()))
        .collect();
    let page = describe::describe_flow_logs(&DescribeFlowLogs::default(), &existing).unwrap();
    let xml = ec2::describe_response(&page, "req-3");
    for want in [
        "<creationTime>2026-01-15T14:00:00.123Z</creationTime>",
        "<deliverLogsPermissionArn>arn:aws:iam::123456789012:role/fl</deliverLogsPermissionArn>",
        "<deliverLogsStatus>SUCCESS</deliverLogsStatus>",
        "<flowLogStatus>ACTIVE</flowLogStatus>",
        "<logGroupName>/flows</logGroupName>",
        "<resourceId>vpc-0a1b2c3d4e5f60718</resourceId>",
        "<trafficType>REJECT</trafficType>",
        "<logDestinationType>cloud-watch-logs</logDestinationType>",
        "<tagSet><item><key>Name</key><value>demo &amp; &lt;more&gt;</value></item></tagSet>",
        "<maxAggregationInterval>600</maxAggregationInterval>",
    ] {
        assert!(xml.contains(want), "{want}\n{xml}");
    }
    assert!(!xml.contains("<nextToken>"), "one page");
    assert!(ec2::delete_response("r").contains("<unsuccessful/></DeleteFlowLogsResponse>"));
}

#[test]
fn a_dry_run_that_would_succeed_is_answered_with_412() {
    let e = api::ApiError::new(
        api::ErrorKind::DryRunOperation,
        "Request would have succeeded, but DryRun flag is set.",
    );
    let (status, xml) = ec2::error_response(&e, "r");
    assert_eq!(status, 412);
    assert!(xml.contains("<Code>DryRunOperation</Code>"));
}

#[test]
fn every_describe_of_the_topology_is_an_action_with_its_id_list() {
    for def in vpcflow_deliver::topology::KINDS {
        let params =
            ec2::action_params(def.action).unwrap_or_else(|| panic!("{} is served", def.action));
        assert!(params.contains(&format!("{}.#", def.id_param).as_str()));
        let p = parsed(&[
            ("Action", def.action),
            (&format!("{}.1", def.id_param), "x-1"),
            ("Filter.1.Name", "tag:Name"),
            ("Filter.1.Value.1", "a"),
        ]);
        match p.request {
            Request::DescribeTopology(kind, d) => {
                assert_eq!(kind, def.kind);
                assert_eq!(d.ids, ["x-1"]);
                assert_eq!(d.filters.len(), 1);
            }
            other => panic!("{other:?}"),
        }
    }
}
