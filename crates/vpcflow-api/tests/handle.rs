//! EC2's flow-log actions answered against a real store (`state.db` in a temporary directory),
//! the request bodies as boto3 sends them: create, describe, delete, dry runs, client tokens,
//! and AWS's refusals, each as status and XML.

use vpcflow_api::ec2::{Service, handle};
use vpcflow_deliver::State;

const VPC: &str = "vpc-0a1b2c3d4e5f60718";

fn body(fields: &[(&str, &str)]) -> Vec<u8> {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields)
        .finish()
        .into_bytes()
}

/// The text of the first `<name>` element of `xml`.
fn first<'a>(xml: &'a str, name: &str) -> Option<&'a str> {
    let open = format!("<{name}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find(&format!("</{name}>"))?;
    Some(&xml[start..start + end])
}

struct World {
    state: State,
    net: vpcflow_deliver::resources::live::LiveNetwork,
    _dir: tempfile::TempDir,
}

impl World {
    fn new() -> World {
        let dir = tempfile::tempdir().unwrap();
        World {
            state: State::open(&dir.path().join("state.db")).unwrap(),
            net: vpcflow_deliver::resources::live::LiveNetwork::fixed(std::sync::Arc::new(
                vpcflow_net::builtin::load("builtin:three-tier").unwrap(),
            )),
            _dir: dir,
        }
    }

    fn call(&mut self, fields: &[(&str, &str)]) -> (u16, String) {
        self.call_as(None, fields)
    }

    fn call_as(&mut self, account: Option<&str>, fields: &[(&str, &str)]) -> (u16, String) {
        let mut s = Service {
            state: &mut self.state,
            live: &self.net,
            buckets: &["flow-logs".to_owned()],
            delivery_streams: &[],
            now_ms: 1_768_485_600_000,
            account,
        };
        handle(&mut s, &body(fields), "req-1")
    }
}

fn create(extra: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
    let mut f = vec![
        ("Action", "CreateFlowLogs"),
        ("Version", "2016-11-15"),
        ("ResourceType", "VPC"),
        ("ResourceId.1", VPC),
        ("TrafficType", "REJECT"),
        ("LogGroupName", "/flows"),
    ];
    f.extend_from_slice(extra);
    f
}

const ROLE: (&str, &str) = (
    "DeliverLogsPermissionArn",
    "arn:aws:iam::123456789012:role/fl",
);

#[test]
fn flow_logs_are_created_described_and_deleted_through_ec2s_protocol() {
    let mut w = World::new();
    // As AWS refuses the seeds' third command: a log group needs a role.
    let (status, xml) = w.call(&create(&[]));
    assert_eq!(status, 400, "{xml}");
    assert_eq!(first(&xml, "Code"), Some("InvalidParameter"));
    assert_eq!(
        first(&xml, "Message"),
        Some("DeliverLogsPermissionArn can't be empty if LogDestinationType is cloud-watch-logs.")
    );
    // A dry run that would succeed: 412, nothing made.
    let (status, xml) = w.call(&create(&[ROLE, ("DryRun", "true")]));
    assert_eq!(
        (status, first(&xml, "Code")),
        (412, Some("DryRunOperation")),
        "{xml}"
    );
    assert!(w.state.flow_logs().unwrap().is_empty());
    // Made, then the same client token gives the same flow log.
    let (status, xml) = w.call(&create(&[ROLE, ("ClientToken", "tok-1")]));
    assert_eq!(status, 200, "{xml}");
    let id = first(&xml, "item").unwrap().to_owned();
    assert!(id.starts_with("fl-"), "{xml}");
    assert_eq!(first(&xml, "clientToken"), Some("tok-1"));
    let (_, again) = w.call(&create(&[ROLE, ("ClientToken", "tok-1")]));
    assert_eq!(first(&again, "item"), Some(id.as_str()), "{again}");
    assert_eq!(w.state.flow_logs().unwrap().len(), 1);
    // Described, by a filter that matches and one that does not.
    let describe = |filter: &'static str| {
        vec![
            ("Action", "DescribeFlowLogs"),
            ("Version", "2016-11-15"),
            ("Filter.1.Name", "resource-id"),
            ("Filter.1.Value.1", filter),
        ]
    };
    let (status, xml) = w.call(&describe(VPC));
    assert_eq!(status, 200, "{xml}");
    assert_eq!(first(&xml, "flowLogId"), Some(id.as_str()));
    assert_eq!(first(&xml, "logGroupName"), Some("/flows"));
    let (_, xml) = w.call(&describe("vpc-0000000000000000f"));
    assert_eq!(first(&xml, "flowLogId"), None, "{xml}");
    // Deleting one that does not exist names it; then the real one goes.
    let (status, xml) = w.call(&[("Action", "DeleteFlowLogs"), ("FlowLogId.1", "fl-nope")]);
    assert_eq!(status, 400, "{xml}");
    assert_eq!(first(&xml, "Code"), Some("InvalidFlowLogId.NotFound"));
    let (status, xml) = w.call(&[
        ("Action", "DeleteFlowLogs"),
        ("FlowLogId.1", &id),
        ("DryRun", "true"),
    ]);
    assert_eq!(status, 412, "{xml}");
    assert_eq!(
        w.state.flow_logs().unwrap().len(),
        1,
        "a dry run deletes nothing"
    );
    let (status, xml) = w.call(&[("Action", "DeleteFlowLogs"), ("FlowLogId.1", &id)]);
    assert_eq!(status, 200, "{xml}");
    assert!(w.state.flow_logs().unwrap().is_empty());
}

#[test]
fn a_body_that_is_no_form_is_a_4xx_in_ec2s_shape() {
    let mut w = World::new();
    let mut s = Service {
        state: &mut w.state,
        live: &w.net,
        buckets: &[],
        delivery_streams: &[],
        now_ms: 0,
        account: None,
    };
    for bad in [
        &b"Action=CreateFlowLogs&Action=DeleteFlowLogs"[..],
        b"Action=%ff",
        b"\xff\xfe",
    ] {
        let (status, xml) = handle(&mut s, bad, "r");
        assert_eq!(status, 400, "{xml}");
        assert_eq!(first(&xml, "Code"), Some("InvalidRequest"), "{xml}");
    }
}

#[test]
fn an_account_sees_and_changes_only_its_own_flow_logs() {
    let mut w = World::new();
    let (owner, other) = (Some("123456789012"), Some("210987654321"));
    let req = create(&[ROLE, ("ClientToken", "tok-1")]);
    let (status, xml) = w.call_as(owner, &req);
    assert_eq!(status, 200, "{xml}");
    let id = first(&xml, "item").unwrap().to_owned();
    // The other account: the VPC is not found, the flow log is not listed nor deletable.
    let (status, xml) = w.call_as(other, &req);
    assert_eq!(status, 400, "{xml}");
    assert_eq!(first(&xml, "Code"), Some("InvalidVpcID.NotFound"), "{xml}");
    let describe = [("Action", "DescribeFlowLogs"), ("Version", "2016-11-15")];
    let (_, xml) = w.call_as(other, &describe);
    assert!(!xml.contains(&id), "{xml}");
    let (_, xml) = w.call_as(owner, &describe);
    assert!(xml.contains(&id), "{xml}");
    let delete = [("Action", "DeleteFlowLogs"), ("FlowLogId.1", id.as_str())];
    let (status, xml) = w.call_as(other, &delete);
    assert_eq!(
        first(&xml, "Code"),
        Some("InvalidFlowLogId.NotFound"),
        "{status} {xml}"
    );
    assert_eq!(w.state.flow_logs().unwrap().len(), 1);
    // The owner's client token is not the other's: the same token and request from the other
    // is its own request (refused, its VPC not found), not a replay of the owner's answer.
    let (status, xml) = w.call_as(other, &req);
    assert_eq!(
        (status, first(&xml, "Code")),
        (400, Some("InvalidVpcID.NotFound"))
    );
    let (status, xml) = w.call_as(owner, &req);
    assert_eq!((status, first(&xml, "item")), (200, Some(id.as_str())));
    let (status, _) = w.call_as(owner, &delete);
    assert_eq!(status, 200);
}

#[test]
fn tags_are_created_described_and_deleted_in_ec2s_words() {
    let mut w = World::new();
    let (status, xml) = w.call(&create(&[
        ROLE,
        ("TagSpecification.1.ResourceType", "vpc-flow-log"),
        ("TagSpecification.1.Tag.1.Key", "Name"),
        ("TagSpecification.1.Tag.1.Value", "demo"),
    ]));
    assert_eq!(status, 200, "{xml}");
    let id = first(&xml, "item").unwrap().to_owned();
    let tag = |action: &'static str, key: &'static str, value: Option<&'static str>| {
        let mut f = vec![
            ("Action", action),
            ("Version", "2016-11-15"),
            ("ResourceId.1", id.as_str()),
            ("Tag.1.Key", key),
        ];
        f.extend(value.map(|v| ("Tag.1.Value", v)));
        f.iter()
            .map(|(k, v)| (*k, (*v).to_owned()))
            .collect::<Vec<_>>()
    };
    let call = |w: &mut World, f: &[(&str, String)]| {
        let pairs: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
        w.call(&pairs)
    };
    let (status, xml) = call(&mut w, &tag("CreateTags", "env", Some("test")));
    assert_eq!(
        (status, first(&xml, "return")),
        (200, Some("true")),
        "{xml}"
    );
    let describe = [
        ("Action", "DescribeTags"),
        ("Version", "2016-11-15"),
        ("Filter.1.Name", "resource-id"),
        ("Filter.1.Value.1", id.as_str()),
    ];
    let (_, xml) = w.call(&describe);
    assert!(xml.contains("<key>Name</key><value>demo</value>"), "{xml}");
    assert!(xml.contains("<key>env</key><value>test</value>"), "{xml}");
    assert!(
        xml.contains("<resourceType>vpc-flow-log</resourceType>"),
        "{xml}"
    );
    // A value that does not match deletes nothing; no value deletes the key.
    call(&mut w, &tag("DeleteTags", "env", Some("other")));
    let (_, xml) = w.call(&describe);
    assert!(xml.contains("<key>env</key>"), "{xml}");
    call(&mut w, &tag("DeleteTags", "env", None));
    let (_, xml) = w.call(&describe);
    assert!(
        !xml.contains("<key>env</key>") && xml.contains("<key>Name</key>"),
        "{xml}"
    );
    // Refusals: an id of nothing, a resource of the topology file (changed in the file), an
    // aws: key, a missing flow log.
    let (status, xml) = w.call(&[
        ("Action", "CreateTags"),
        ("ResourceId.1", "vpc-00000000000000000"),
        ("Tag.1.Key", "a"),
        ("Tag.1.Value", "b"),
    ]);
    assert_eq!(
        (status, first(&xml, "Code")),
        (400, Some("InvalidID")),
        "{xml}"
    );
    let (status, xml) = w.call(&[
        ("Action", "CreateTags"),
        ("ResourceId.1", "vpc-0a1b2c3d4e5f60718"),
        ("Tag.1.Key", "a"),
        ("Tag.1.Value", "b"),
    ]);
    assert_eq!(
        (status, first(&xml, "Code")),
        (403, Some("UnauthorizedOperation")),
        "{xml}"
    );
    let (_, xml) = call(&mut w, &tag("CreateTags", "aws:x", Some("y")));
    assert_eq!(first(&xml, "Code"), Some("InvalidParameterValue"), "{xml}");
    let (_, xml) = w.call(&[
        ("Action", "CreateTags"),
        ("ResourceId.1", "fl-0123456789abcdef0"),
        ("Tag.1.Key", "a"),
    ]);
    assert_eq!(
        first(&xml, "Code"),
        Some("InvalidFlowLogId.NotFound"),
        "{xml}"
    );
    let (status, xml) = w.call(&[("Action", "DescribeTags"), ("MaxResults", "4")]);
    assert_eq!(
        (status, first(&xml, "Code")),
        (400, Some("InvalidParameterValue")),
        "{xml}"
    );
}

#[test]
fn the_topology_is_described_in_ec2s_xml_to_its_owner_only() {
    let mut w = World::new();
    let (status, xml) = w.call(&[
        ("Action", "DescribeSubnets"),
        ("Version", "2016-11-15"),
        ("Filter.1.Name", "vpc-id"),
        ("Filter.1.Value.1", VPC),
        ("MaxResults", "5"),
    ]);
    assert_eq!(status, 200, "{xml}");
    assert!(
        xml.contains(
            "<DescribeSubnetsResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\">"
        )
    );
    assert_eq!(xml.matches("<subnetId>").count(), 5, "{xml}");
    assert!(xml.contains("<tagSet><item><key>Name</key><value>public-a</value></item></tagSet>"));
    let token = first(&xml, "nextToken").expect("a next page").to_owned();
    let (_, xml) = w.call(&[
        ("Action", "DescribeSubnets"),
        ("Version", "2016-11-15"),
        ("NextToken", &token),
    ]);
    assert_eq!(xml.matches("<subnetId>").count(), 1, "{xml}");
    assert!(first(&xml, "nextToken").is_none());

    let (_, xml) = w.call(&[
        ("Action", "DescribeSecurityGroups"),
        ("Version", "2016-11-15"),
        ("GroupName.1", "db"),
    ]);
    assert!(xml.contains("<securityGroupInfo><item><ownerId>123456789012</ownerId><groupId>sg-0a0000000000000a4</groupId>"), "{xml}");
    assert!(xml.contains("<ipPermissions><item><ipProtocol>tcp</ipProtocol><fromPort>5432</fromPort><toPort>5432</toPort><groups><item><userId>123456789012</userId><groupId>sg-0a0000000000000a2</groupId><description>PostgreSQL from the app</description></item></groups>"), "{xml}");

    let (status, xml) = w.call_as(
        Some("210987654321"),
        &[
            ("Action", "DescribeVpcs"),
            ("Version", "2016-11-15"),
            ("VpcId.1", VPC),
        ],
    );
    assert_eq!(status, 400);
    assert_eq!(first(&xml, "Code"), Some("InvalidVpcID.NotFound"));
    let (_, xml) = w.call_as(
        Some("210987654321"),
        &[("Action", "DescribeVpcs"), ("Version", "2016-11-15")],
    );
    assert!(xml.contains("<vpcSet></vpcSet>"), "{xml}");

    let (status, xml) = w.call(&[
        ("Action", "DescribeRouteTables"),
        ("Version", "2016-11-15"),
        ("DryRun", "true"),
    ]);
    assert_eq!(
        (status, first(&xml, "Code")),
        (412, Some("DryRunOperation"))
    );
}
