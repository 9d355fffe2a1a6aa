//! CreateFlowLogs / DeleteFlowLogs validation as a table: each row is a request (the
//! `[[flow_logs]]` TOML form) and the EC2 error code and message AWS returns for it
//! (flow-log-format.md §7.4; the moto-modelled messages verbatim).

use vpcflow_deliver::api::{self, Context, CreateFlowLogs, ErrorKind};
use vpcflow_net::Network;

const VPC: &str = "vpc-0a1b2c3d4e5f60718";
const ROLE: &str = "deliver_logs_permission_arn = \"arn:aws:iam::123456789012:role/fl\"";

fn net() -> Network {
    vpcflow_net::builtin::load("builtin:three-tier").unwrap()
}

fn request(toml_text: &str) -> CreateFlowLogs {
    toml::from_str(toml_text).unwrap_or_else(|e| panic!("{toml_text}: {e}"))
}

fn create(req: &CreateFlowLogs, existing: &[api::FlowLog]) -> Result<api::Created, api::ApiError> {
    let net = net();
    let mut n = 0;
    let mut next = || {
        n += 1;
        format!("{n:017x}")
    };
    api::create_flow_logs(
        req,
        &mut Context {
            network: &net,
            existing,
            buckets: &["flow-logs".to_owned()],
            delivery_streams: &["to-siem".to_owned()],
            now_ms: 1_700_000_000_000,
            next_id: &mut next,
            caller: None,
        },
    )
}

/// (what, request, code, message): whole-request errors.
const ERRORS: &[(&str, &str, &str, &str)] = &[
    (
        "interval not 60 or 600",
        "resource_type = \"VPC\"\nresource_ids = [\"VPC\"]\ntraffic_type = \"ALL\"\nlog_group_name = \"g\"\nmax_aggregation_interval = 300\nROLE",
        "InvalidParameter",
        "Invalid Flow Log Max Aggregation Interval",
    ),
    (
        "neither LogDestination nor LogGroupName",
        "resource_type = \"VPC\"\nresource_ids = [\"VPC\"]\ntraffic_type = \"ALL\"\nROLE",
        "InvalidParameter",
        "LogDestination can't be empty if LogGroupName is not provided.",
    ),
    (
        "LogGroupName with an S3 destination type",
        "resource_type = \"VPC\"\nresource_ids = [\"VPC\"]\ntraffic_type = \"ALL\"\nlog_destination_type = \"s3\"\nlog_group_name = \"g\"",
        "InvalidParameter",
        "LogDestination type must be cloud-watch-logs if LogGroupName is provided.",
    ),
    (
        "cloud-watch-logs without a role",
        "resource_type = \"VPC\"\nresource_ids = [\"VPC\"]\ntraffic_type = \"ALL\"\nlog_group_name = \"g\"",
        "InvalidParameter",
        "DeliverLogsPermissionArn can't be empty if LogDestinationType is cloud-watch-logs.",
    ),
    (
        "a trailing space in the format",
        "resource_type = \"VPC\"\nresource_ids = [\"VPC\"]\ntraffic_type = \"ALL\"\nlog_group_name = \"g\"\nlog_format = \"${srcaddr} \"\nROLE",
        "InvalidParameter",
        "1 validation error detected: Value '${srcaddr} ' at 'logFormat' has an invalid format",
    ),
    (
        "Terraform's $${} escaping leaking through",
        "resource_type = \"VPC\"\nresource_ids = [\"VPC\"]\ntraffic_type = \"ALL\"\nlog_group_name = \"g\"\nlog_format = \"$${srcaddr}\"\nROLE",
        "InvalidParameter",
        "1 validation error detected: Value '$${srcaddr}' at 'logFormat' has an invalid format",
    ),
    (
        "a VPC that does not exist",
        "resource_type = \"VPC\"\nresource_ids = [\"vpc-0123456789abcdef0\"]\ntraffic_type = \"ALL\"\nlog_group_name = \"g\"\nROLE",
        "InvalidVpcID.NotFound",
        "The vpc ID 'vpc-0123456789abcdef0' does not exist",
    ),
    (
        "a subnet that does not exist",
        "resource_type = \"Subnet\"\nresource_ids = [\"subnet-0123456789abcdef0\"]\ntraffic_type = \"ALL\"\nlog_group_name = \"g\"\nROLE",
        "InvalidSubnetID.NotFound",
        "The subnet ID 'subnet-0123456789abcdef0' does not exist",
    ),
    (
        "a network interface that does not exist",
        "resource_type = \"NetworkInterface\"\nresource_ids = [\"eni-0123456789abcdef0\"]\ntraffic_type = \"ALL\"\nlog_group_name = \"g\"\nROLE",
        "InvalidNetworkInterfaceID.NotFound",
        "The networkInterface ID 'eni-0123456789abcdef0' does not exist",
    ),
    (
        "a traffic type that is not one of the three",
        "resource_type = \"VPC\"\nresource_ids = [\"VPC\"]\ntraffic_type = \"SOME\"\nlog_group_name = \"g\"\nROLE",
        "InvalidParameterValue",
        "Value (SOME) for parameter TrafficType is invalid. Expected one of: ACCEPT, REJECT, ALL",
    ),
    (
        "no traffic type",
        "resource_type = \"VPC\"\nresource_ids = [\"VPC\"]\nlog_group_name = \"g\"\nROLE",
        "MissingParameter",
        "The request must contain the parameter TrafficType",
    ),
    (
        "AWSLogs as the S3 subfolder",
        "resource_type = \"VPC\"\nresource_ids = [\"VPC\"]\ntraffic_type = \"ALL\"\nlog_destination_type = \"s3\"\nlog_destination = \"arn:aws:s3:::flow-logs/AWSLogs/\"",
        "InvalidParameter",
        "LogDestination 'arn:aws:s3:::flow-logs/AWSLogs/': AWSLogs is reserved and cannot be used as the subfolder name",
    ),
    (
        "a subfolder that would leave its place in the bucket",
        "resource_type = \"VPC\"\nresource_ids = [\"VPC\"]\ntraffic_type = \"ALL\"\nlog_destination_type = \"s3\"\nlog_destination = \"arn:aws:s3:::flow-logs/a/../../b/\"",
        "InvalidParameter",
        "LogDestination 'arn:aws:s3:::flow-logs/a/../../b/': the subfolder 'a/../../b/' has an empty, '.' or '..' segment",
    ),
    (
        "a subfolder two prefixes would share on disk",
        "resource_type = \"VPC\"\nresource_ids = [\"VPC\"]\ntraffic_type = \"ALL\"\nlog_destination_type = \"s3\"\nlog_destination = \"arn:aws:s3:::flow-logs/a//b/\"",
        "InvalidParameter",
        "LogDestination 'arn:aws:s3:::flow-logs/a//b/': the subfolder 'a//b/' has an empty, '.' or '..' segment",
    ),
    (
        "DestinationOptions for a log group",
        "resource_type = \"VPC\"\nresource_ids = [\"VPC\"]\ntraffic_type = \"ALL\"\nlog_group_name = \"g\"\ndestination_options = { file_format = \"parquet\" }\nROLE",
        "InvalidParameter",
        "DestinationOptions can only be specified when LogDestinationType is s3.",
    ),
    (
        "a file format that is not one of the two",
        "resource_type = \"VPC\"\nresource_ids = [\"VPC\"]\ntraffic_type = \"ALL\"\nlog_destination_type = \"s3\"\nlog_destination = \"arn:aws:s3:::flow-logs\"\ndestination_options = { file_format = \"orc\" }",
        "InvalidParameterValue",
        "Value (orc) for parameter DestinationOptions.FileFormat is invalid. Expected one of: plain-text, parquet",
    ),
    (
        "an aws: tag",
        "resource_type = \"VPC\"\nresource_ids = [\"VPC\"]\ntraffic_type = \"ALL\"\nlog_group_name = \"g\"\ntags = { \"aws:owner\" = \"x\" }\nROLE",
        "InvalidParameterValue",
        "Tag key 'aws:owner': keys beginning with 'aws:' are reserved for AWS use",
    ),
    (
        "a Transit Gateway field in a VPC flow log's format",
        "resource_type = \"VPC\"\nresource_ids = [\"VPC\"]\ntraffic_type = \"ALL\"\nlog_group_name = \"g\"\nlog_format = \"${srcaddr} ${tgw-id}\"\nROLE",
        "InvalidParameter",
        "1 validation error detected: Value '${srcaddr} ${tgw-id}' at 'logFormat' has an invalid format",
    ),
    (
        "a role that is no IAM role ARN",
        "resource_type = \"VPC\"\nresource_ids = [\"VPC\"]\ntraffic_type = \"ALL\"\nlog_group_name = \"g\"\ndeliver_logs_permission_arn = \"arn:aws:iam::1234:role/fl\"",
        "InvalidParameterValue",
        "Value (arn:aws:iam::1234:role/fl) for parameter DeliverLogsPermissionArn is invalid. Expected an IAM role ARN: arn:aws:iam::ACCOUNT:role/NAME",
    ),
    (
        "a user's ARN as the role",
        "resource_type = \"VPC\"\nresource_ids = [\"VPC\"]\ntraffic_type = \"ALL\"\nlog_group_name = \"g\"\ndeliver_logs_permission_arn = \"arn:aws:iam::123456789012:user/fl\"",
        "InvalidParameterValue",
        "Value (arn:aws:iam::123456789012:user/fl) for parameter DeliverLogsPermissionArn is invalid. Expected an IAM role ARN: arn:aws:iam::ACCOUNT:role/NAME",
    ),
    (
        "a cross-account role that is no ARN",
        "resource_type = \"VPC\"\nresource_ids = [\"VPC\"]\ntraffic_type = \"ALL\"\nlog_group_name = \"g\"\ndeliver_cross_account_role = \"fl\"\nROLE",
        "InvalidParameterValue",
        "Value (fl) for parameter DeliverCrossAccountRole is invalid. Expected an IAM role ARN: arn:aws:iam::ACCOUNT:role/NAME",
    ),
    (
        "a role for S3 delivery",
        "resource_type = \"VPC\"\nresource_ids = [\"VPC\"]\ntraffic_type = \"ALL\"\nlog_destination_type = \"s3\"\nlog_destination = \"arn:aws:s3:::flow-logs\"\nROLE",
        "InvalidParameter",
        "DeliverLogsPermissionArn is not applicable for s3 delivery",
    ),
    (
        "a transit gateway resource (none in a topology)",
        "resource_type = \"TransitGateway\"\nresource_ids = [\"tgw-1\"]\nlog_group_name = \"g\"\nROLE",
        "InvalidParameterValue",
        "ResourceType TransitGateway is not supported here: the topology has no transit or regional NAT gateways",
    ),
];

#[test]
fn create_flow_logs_errors_are_aws_errors() {
    for (what, req, code, message) in ERRORS {
        let req = request(
            &req.replace("\"VPC\"]", &format!("\"{VPC}\"]"))
                .replace("ROLE", ROLE),
        );
        let err = create(&req, &[]).expect_err(what);
        assert_eq!(
            (err.kind.code(), err.message.as_str()),
            (*code, *message),
            "{what}"
        );
    }
}

#[test]
fn a_missing_bucket_or_stream_is_an_unsuccessful_item() {
    for (dest_type, dest, name) in [
        ("s3", "arn:aws:s3:::no-such-bucket", "no-such-bucket"),
        (
            "kinesis-data-firehose",
            "arn:aws:firehose:us-east-1:123456789012:deliverystream:nope",
            "nope",
        ),
    ] {
        let req = request(&format!(
            "resource_type = \"VPC\"\nresource_ids = [\"{VPC}\"]\ntraffic_type = \"ALL\"\nlog_destination_type = \"{dest_type}\"\nlog_destination = \"{dest}\""
        ));
        let created = create(&req, &[]).unwrap();
        assert!(created.flow_logs.is_empty());
        assert_eq!(created.unsuccessful.len(), 1);
        let (resource, e) = &created.unsuccessful[0];
        assert_eq!(resource, VPC);
        assert_eq!(e.kind.code(), "400");
        assert_eq!(e.message, format!("LogDestination: {name} does not exist."));
    }
}

#[test]
fn the_same_configuration_twice_is_flow_log_already_exists() {
    let req = request(&format!(
        "resource_type = \"VPC\"\nresource_ids = [\"{VPC}\"]\ntraffic_type = \"ALL\"\nlog_group_name = \"g\"\n{ROLE}"
    ));
    let first = create(&req, &[]).unwrap();
    assert_eq!(first.flow_logs.len(), 1);
    let f = &first.flow_logs[0];
    assert!(f.flow_log_id.starts_with("fl-") && f.flow_log_id.len() == 20);
    assert_eq!(f.max_aggregation_interval, 600, "the default");
    assert_eq!(f.log_format, vpcflow_record::DEFAULT_FORMAT);
    let err = create(&req, &first.flow_logs).unwrap_err();
    assert_eq!(err.kind, ErrorKind::FlowLogAlreadyExists);
    assert_eq!(
        err.message,
        "Error. There is an existing Flow Log with the same configuration and log destination."
    );
    // Another traffic type on the same resource and destination is another flow log.
    let mut reject = req.clone();
    reject.traffic_type = Some("REJECT".into());
    assert_eq!(
        create(&reject, &first.flow_logs).unwrap().flow_logs.len(),
        1
    );
}

#[test]
fn destinations_parse_from_arns_and_names() {
    let rows = [
        (
            "log_group_name = \"/vpc/flows\"\nROLE",
            "cloud-watch-logs",
            "arn:aws:logs:us-east-1:123456789012:log-group:/vpc/flows",
        ),
        (
            "log_destination = \"arn:aws:logs:us-east-1:123456789012:log-group:/vpc/flows:*\"\nROLE",
            "cloud-watch-logs",
            "arn:aws:logs:us-east-1:123456789012:log-group:/vpc/flows",
        ),
        (
            "log_destination_type = \"s3\"\nlog_destination = \"arn:aws:s3:::flow-logs/team-a/\"",
            "s3",
            "arn:aws:s3:::flow-logs/team-a/",
        ),
        (
            "log_destination_type = \"kinesis-data-firehose\"\nlog_destination = \"arn:aws:firehose:us-east-1:123456789012:deliverystream:to-siem\"",
            "kinesis-data-firehose",
            "arn:aws:firehose:us-east-1:123456789012:deliverystream:to-siem",
        ),
    ];
    for (dest, kind, arn) in rows {
        let req = request(
            &format!("resource_type = \"VPC\"\nresource_ids = [\"{VPC}\"]\ntraffic_type = \"ACCEPT\"\n{dest}")
                .replace("ROLE", ROLE),
        );
        let f = &create(&req, &[]).unwrap().flow_logs[0];
        assert_eq!(f.destination.type_name(), kind, "{dest}");
        assert_eq!(f.destination.arn(&f.region, &f.account_id), arn, "{dest}");
    }
}

#[test]
fn delete_names_every_missing_id() {
    let err = api::check_delete(&["fl-1a2b3c4d".into(), "fl-2b3c4d5e".into()], &[]).unwrap_err();
    assert_eq!(err.kind.code(), "InvalidFlowLogId.NotFound");
    assert_eq!(
        err.message,
        "These flow log ids in the input list are not found: [TotalCount: 2] fl-1a2b3c4d fl-2b3c4d5e"
    );
}

#[test]
fn every_error_kind_has_one_registry_row() {
    for def in vpcflow_deliver::ERROR_CODES {
        assert_eq!(def.kind.def(), def);
        assert_eq!(
            vpcflow_deliver::ERROR_CODES
                .iter()
                .filter(|d| d.code == def.code)
                .count(),
            1,
            "{}",
            def.code
        );
    }
}

mod arns {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Any destination a flow log holds prints as an ARN that parses back to it.
        #[test]
        fn destination_arns_round_trip(
            bucket in "[a-z0-9][a-z0-9.-]{1,20}[a-z0-9]",
            prefix in proptest::collection::vec("[A-Za-z0-9_-]{1,8}", 0..3),
            group in "[A-Za-z0-9_/#.-]{1,40}",
            stream in "[A-Za-z0-9_.-]{1,30}",
            kind in 0..3u8,
        ) {
            let prefix = prefix.join("/");
            prop_assume!(!prefix.split('/').any(|p| p == "AWSLogs"));
            let dest = match kind {
                0 => format!("log_destination = \"arn:aws:logs:us-east-1:123456789012:log-group:{group}\"\n{ROLE}"),
                1 => format!(
                    "log_destination_type = \"s3\"\nlog_destination = \"arn:aws:s3:::{bucket}{}\"",
                    if prefix.is_empty() { String::new() } else { format!("/{prefix}/") }
                ),
                _ => format!(
                    "log_destination_type = \"kinesis-data-firehose\"\n\
                     log_destination = \"arn:aws:firehose:us-east-1:123456789012:deliverystream:{stream}\""
                ),
            };
            let req = request(&format!(
                "resource_type = \"VPC\"\nresource_ids = [\"{VPC}\"]\ntraffic_type = \"ALL\"\n{dest}"
            ));
            let net = net();
            let mut n = 0;
            let mut next = || { n += 1; format!("{n:017x}") };
            let created = api::create_flow_logs(&req, &mut Context {
                network: &net,
                existing: &[],
                buckets: std::slice::from_ref(&bucket),
                delivery_streams: std::slice::from_ref(&stream),
                now_ms: 0,
                next_id: &mut next,
                caller: None,
            }).unwrap();
            let f = &created.flow_logs[0];
            let arn = f.destination.arn(&f.region, &f.account_id);
            let again = request(&format!(
                "resource_type = \"VPC\"\nresource_ids = [\"{VPC}\"]\ntraffic_type = \"ALL\"\n\
                 log_destination_type = \"{}\"\nlog_destination = \"{arn}\"\n{}",
                f.destination.type_name(),
                // A role is for log groups (and S3 refuses one).
                if kind == 0 { ROLE } else { "" }
            ));
            let mut m = 0;
            let mut next = || { m += 1; format!("{m:017x}") };
            let back = api::create_flow_logs(&again, &mut Context {
                network: &net,
                existing: &[],
                buckets: std::slice::from_ref(&bucket),
                delivery_streams: std::slice::from_ref(&stream),
                now_ms: 0,
                next_id: &mut next,
                caller: None,
            }).unwrap();
            prop_assert_eq!(&back.flow_logs[0].destination, &f.destination);
        }
    }
}
