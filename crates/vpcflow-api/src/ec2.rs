//! EC2's query protocol for flow logs: which actions are served and the parameters each takes
//! ([`ACTIONS`], one table for dispatch and checking), a request read from its form into the
//! services' typed request ([`request`]), and the answers and errors as EC2's XML
//! (`reference/aws-api.md` §2.1: `<…Response xmlns=…>`, lists as `<…Set><item>`, errors as
//! `<Response><Errors><Error>`). Validation is the services' (`vpcflow_deliver::api`); this module
//! only reads and writes the wire.

use std::collections::BTreeMap;

use vpcflow_deliver::api::{
    ApiError, CreateFlowLogs, Created, DestinationOptionsRequest, ErrorKind,
};
use vpcflow_deliver::describe::{DescribeFlowLogs, DescribeFlowLogsPage, Filter};

use vpcflow_deliver::topology::{self, Kind, Node};

use crate::form::{Form, FormError};
use crate::xml::element;

/// The namespace of every EC2 answer.
pub const XMLNS: &str = "http://ec2.amazonaws.com/doc/2016-11-15/";

/// The actions served and the parameters each takes, as botocore names them on the wire (`#`: a
/// list member's number). `Action` and `Version` go with every one.
pub static ACTIONS: &[(&str, &[&str])] = &[
    (
        "CreateFlowLogs",
        &[
            "DryRun",
            "ClientToken",
            "DeliverLogsPermissionArn",
            "DeliverCrossAccountRole",
            "LogGroupName",
            "ResourceId.#",
            "ResourceType",
            "TrafficType",
            "LogDestinationType",
            "LogDestination",
            "LogFormat",
            "TagSpecification.#.ResourceType",
            "TagSpecification.#.Tag.#.Key",
            "TagSpecification.#.Tag.#.Value",
            "MaxAggregationInterval",
            "DestinationOptions.FileFormat",
            "DestinationOptions.HiveCompatiblePartitions",
            "DestinationOptions.PerHourPartition",
        ],
    ),
    (
        "DescribeFlowLogs",
        &[
            "DryRun",
            "FlowLogId.#",
            "Filter.#.Name",
            "Filter.#.Value.#",
            "MaxResults",
            "NextToken",
        ],
    ),
    ("DeleteFlowLogs", &["DryRun", "FlowLogId.#"]),
    (
        "CreateTags",
        &["DryRun", "ResourceId.#", "Tag.#.Key", "Tag.#.Value"],
    ),
    (
        "DeleteTags",
        &["DryRun", "ResourceId.#", "Tag.#.Key", "Tag.#.Value"],
    ),
    (
        "DescribeTags",
        &[
            "DryRun",
            "Filter.#.Name",
            "Filter.#.Value.#",
            "MaxResults",
            "NextToken",
        ],
    ),
    (
        "DescribeVpcs",
        &[
            "DryRun",
            "VpcId.#",
            "Filter.#.Name",
            "Filter.#.Value.#",
            "MaxResults",
            "NextToken",
        ],
    ),
    (
        "DescribeSubnets",
        &[
            "DryRun",
            "SubnetId.#",
            "Filter.#.Name",
            "Filter.#.Value.#",
            "MaxResults",
            "NextToken",
        ],
    ),
    (
        "DescribeNetworkInterfaces",
        &[
            "DryRun",
            "NetworkInterfaceId.#",
            "Filter.#.Name",
            "Filter.#.Value.#",
            "MaxResults",
            "NextToken",
        ],
    ),
    (
        "DescribeSecurityGroups",
        &[
            "DryRun",
            "GroupId.#",
            "GroupName.#",
            "Filter.#.Name",
            "Filter.#.Value.#",
            "MaxResults",
            "NextToken",
        ],
    ),
    (
        "DescribeNetworkAcls",
        &[
            "DryRun",
            "NetworkAclId.#",
            "Filter.#.Name",
            "Filter.#.Value.#",
            "MaxResults",
            "NextToken",
        ],
    ),
    (
        "DescribeRouteTables",
        &[
            "DryRun",
            "RouteTableId.#",
            "Filter.#.Name",
            "Filter.#.Value.#",
            "MaxResults",
            "NextToken",
        ],
    ),
];

/// A request read from its form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// CreateFlowLogs.
    CreateFlowLogs(Box<CreateFlowLogs>),
    /// DescribeFlowLogs.
    DescribeFlowLogs(DescribeFlowLogs),
    /// DeleteFlowLogs: the ids.
    DeleteFlowLogs(Vec<String>),
    /// CreateTags: the resources and the tags.
    CreateTags(Vec<String>, BTreeMap<String, String>),
    /// DeleteTags: the resources and the keys (with a value: only where it has that value).
    DeleteTags(Vec<String>, Vec<(String, Option<String>)>),
    /// DescribeTags.
    DescribeTags(vpcflow_deliver::tags::DescribeTags),
    /// DescribeVpcs, DescribeSubnets, … of the topology: which, and the request.
    DescribeTopology(Kind, topology::Describe),
    /// DescribeVpcAttribute: the VPC and the attribute.
    DescribeVpcAttribute(String, String),
    /// A network action (CreateVpc, …): its name and what it asks.
    Network(String, Box<vpcflow_deliver::resources::actions::Action>),
}

/// A request and whether it is a dry run (`DryRun=true`: checked, not done; AWS answers
/// `DryRunOperation` when it would have succeeded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    /// The request.
    pub request: Request,
    /// `DryRun`.
    pub dry_run: bool,
}

fn error(kind: ErrorKind, message: impl Into<String>) -> ApiError {
    ApiError::new(kind, message)
}

/// A body that is not a form, as EC2 answers it.
pub fn form_error(e: &FormError) -> ApiError {
    error(ErrorKind::MalformedRequest, e.to_string())
}

/// Reads the request a form carries: its action, checked against [`ACTIONS`] with every
/// parameter it gives, and the values the action's typed request holds.
pub fn request(form: &Form) -> Result<Parsed, ApiError> {
    let action = form.get("Action").ok_or_else(|| {
        error(
            ErrorKind::MissingParameter,
            "The request must contain the parameter Action",
        )
    })?;
    let Some(params) = action_params(action) else {
        return Err(error(
            ErrorKind::InvalidAction,
            format!("The action {action} is not valid for this web service."),
        ));
    };
    if let Some(unknown) = form
        .names()
        .find(|n| !matches!(*n, "Action" | "Version") && !params.iter().any(|p| matches(p, n)))
    {
        return Err(error(
            ErrorKind::UnknownParameter,
            format!("The parameter {unknown} is not recognized"),
        ));
    }
    let dry_run = boolean(form, "DryRun")?.unwrap_or(false);
    let request = match action {
        "CreateFlowLogs" => Request::CreateFlowLogs(Box::new(create(form)?)),
        "DescribeFlowLogs" => Request::DescribeFlowLogs(describe(form)?),
        "CreateTags" => Request::CreateTags(
            owned(form.list("ResourceId")),
            tag_list(form)
                .into_iter()
                .map(|(k, v)| (k, v.unwrap_or_default()))
                .collect(),
        ),
        "DeleteTags" => Request::DeleteTags(owned(form.list("ResourceId")), tag_list(form)),
        "DescribeTags" => {
            let d = describe(form)?;
            Request::DescribeTags(vpcflow_deliver::tags::DescribeTags {
                filters: d.filters,
                max_results: d.max_results,
                next_token: d.next_token,
            })
        }
        "DeleteFlowLogs" => Request::DeleteFlowLogs(owned(form.list("FlowLogId"))),
        "DescribeVpcAttribute" => {
            let (vpc, attribute) = crate::ec2_network::vpc_attribute_request(form)?;
            Request::DescribeVpcAttribute(vpc, attribute)
        }
        other if let Some(made) = crate::ec2_network::action(other, form) => {
            Request::Network(other.to_owned(), Box::new(made?))
        }
        other => {
            let kind = Kind::of_action(other).expect("every action of ACTIONS is read");
            let d = describe(form)?;
            Request::DescribeTopology(
                kind,
                topology::Describe {
                    ids: owned(form.list(kind.def().id_param)),
                    names: owned(form.list("GroupName")),
                    filters: d.filters,
                    max_results: d.max_results,
                    next_token: d.next_token,
                },
            )
        }
    };
    Ok(Parsed { request, dry_run })
}

/// The parameters `action` takes, if it is served: flow logs' and the topology's
/// ([`ACTIONS`]) or the network's ([`crate::ec2_network::NETWORK_ACTIONS`]).
pub fn action_params(action: &str) -> Option<&'static [&'static str]> {
    ACTIONS
        .iter()
        .chain(crate::ec2_network::NETWORK_ACTIONS)
        .find(|(a, _)| *a == action)
        .map(|(_, p)| *p)
}

/// Whether a wire name fits a pattern of [`ACTIONS`] (`#`: a number from 1).
fn matches(pattern: &str, name: &str) -> bool {
    let (mut p, mut n) = (pattern.split('.'), name.split('.'));
    loop {
        match (p.next(), n.next()) {
            (None, None) => return true,
            (Some("#"), Some(seg)) => {
                let number = !seg.is_empty()
                    && !seg.starts_with('0')
                    && seg.bytes().all(|b| b.is_ascii_digit());
                if !number {
                    return false;
                }
            }
            (Some(a), Some(b)) if a == b => {}
            _ => return false,
        }
    }
}

pub(crate) fn owned(v: Vec<&str>) -> Vec<String> {
    v.into_iter().map(str::to_owned).collect()
}

pub(crate) fn text(form: &Form, name: &str) -> Option<String> {
    form.get(name).map(str::to_owned)
}

/// A boolean parameter: `true` or `false`, as botocore writes them.
pub(crate) fn boolean(form: &Form, name: &str) -> Result<Option<bool>, ApiError> {
    form.get(name)
        .map(|v| match v {
            "true" => Ok(true),
            "false" => Ok(false),
            other => Err(error(
                ErrorKind::InvalidParameterValue,
                format!(
                    "Value ({other}) for parameter {name} is invalid. Expected: 'true' or 'false'."
                ),
            )),
        })
        .transpose()
}

/// An integer parameter.
pub(crate) fn integer(form: &Form, name: &str) -> Result<Option<i64>, ApiError> {
    form.get(name)
        .map(|v| {
            v.parse::<i64>().map_err(|_| {
                error(
                    ErrorKind::InvalidParameterValue,
                    format!("Value ({v}) for parameter {name} is invalid. Expected an integer."),
                )
            })
        })
        .transpose()
}

fn create(form: &Form) -> Result<CreateFlowLogs, ApiError> {
    let options = DestinationOptionsRequest {
        file_format: text(form, "DestinationOptions.FileFormat"),
        hive_compatible_partitions: boolean(form, "DestinationOptions.HiveCompatiblePartitions")?,
        per_hour_partition: boolean(form, "DestinationOptions.PerHourPartition")?,
    };
    let any_option = options != DestinationOptionsRequest::default();
    Ok(CreateFlowLogs {
        resource_type: text(form, "ResourceType"),
        resource_ids: owned(form.list("ResourceId")),
        traffic_type: text(form, "TrafficType"),
        log_destination_type: text(form, "LogDestinationType"),
        log_destination: text(form, "LogDestination"),
        log_group_name: text(form, "LogGroupName"),
        deliver_logs_permission_arn: text(form, "DeliverLogsPermissionArn"),
        deliver_cross_account_role: text(form, "DeliverCrossAccountRole"),
        log_format: text(form, "LogFormat"),
        max_aggregation_interval: integer(form, "MaxAggregationInterval")?,
        destination_options: any_option.then_some(options),
        tags: tags(form)?,
        client_token: text(form, "ClientToken"),
    })
}

/// `TagSpecification.N`: the tags of those for `vpc-flow-log`, the only type CreateFlowLogs
/// tags.
fn tags(form: &Form) -> Result<BTreeMap<String, String>, ApiError> {
    let mut out = BTreeMap::new();
    for i in 1..=form.count("TagSpecification") {
        let at = format!("TagSpecification.{i}");
        match form.get(&format!("{at}.ResourceType")) {
            Some("vpc-flow-log") | None => {}
            Some(other) => {
                return Err(error(
                    ErrorKind::InvalidParameterValue,
                    format!("'{other}' is not a valid taggable resource type for this operation."),
                ));
            }
        }
        for j in 1..=form.count(&format!("{at}.Tag")) {
            let key = form.get(&format!("{at}.Tag.{j}.Key")).unwrap_or_default();
            let value = form.get(&format!("{at}.Tag.{j}.Value")).unwrap_or_default();
            out.insert(key.to_owned(), value.to_owned());
        }
    }
    Ok(out)
}

/// `Tag.N.Key` and `Tag.N.Value` (a value may be absent).
fn tag_list(form: &Form) -> Vec<(String, Option<String>)> {
    (1..=form.count("Tag"))
        .map(|i| {
            (
                form.get(&format!("Tag.{i}.Key"))
                    .unwrap_or_default()
                    .to_owned(),
                text(form, &format!("Tag.{i}.Value")),
            )
        })
        .collect()
}

fn describe(form: &Form) -> Result<DescribeFlowLogs, ApiError> {
    let filters = (1..=form.count("Filter"))
        .map(|i| Filter {
            name: form
                .get(&format!("Filter.{i}.Name"))
                .unwrap_or_default()
                .to_owned(),
            values: owned(form.list(&format!("Filter.{i}.Value"))),
        })
        .collect();
    Ok(DescribeFlowLogs {
        flow_log_ids: owned(form.list("FlowLogId")),
        filters,
        max_results: integer(form, "MaxResults")?,
        next_token: text(form, "NextToken"),
    })
}

/// An answer's opening: its element and request id.
pub(crate) fn open_answer(action: &str, request_id: &str) -> String {
    open(action, request_id)
}

fn open(action: &str, request_id: &str) -> String {
    let mut out =
        format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<{action}Response xmlns=\"{XMLNS}\">");
    element(&mut out, "requestId", request_id);
    out
}

/// CreateFlowLogs' answer: the ids made and the resources that were not, with why.
pub fn create_response(created: &Created, client_token: Option<&str>, request_id: &str) -> String {
    let mut out = open("CreateFlowLogs", request_id);
    if let Some(t) = client_token {
        element(&mut out, "clientToken", t);
    }
    out.push_str("<flowLogIdSet>");
    for f in &created.flow_logs {
        element(&mut out, "item", &f.flow_log_id);
    }
    out.push_str("</flowLogIdSet><unsuccessful>");
    for (resource, e) in &created.unsuccessful {
        out.push_str("<item><error>");
        element(&mut out, "code", e.kind.code());
        element(&mut out, "message", &e.message);
        out.push_str("</error>");
        element(&mut out, "resourceId", resource);
        out.push_str("</item>");
    }
    out.push_str("</unsuccessful></CreateFlowLogsResponse>");
    out
}

/// DescribeFlowLogs' answer: one page.
pub fn describe_response(page: &DescribeFlowLogsPage, request_id: &str) -> String {
    let mut out = open("DescribeFlowLogs", request_id);
    out.push_str("<flowLogSet>");
    for f in &page.flow_logs {
        out.push_str("<item>");
        element(
            &mut out,
            "creationTime",
            &vpcflow_store::time::aws_xml_time(f.creation_time),
        );
        let optional = [
            ("deliverLogsErrorMessage", &f.deliver_logs_error_message),
            ("deliverLogsPermissionArn", &f.deliver_logs_permission_arn),
            ("deliverCrossAccountRole", &f.deliver_cross_account_role),
        ];
        for (name, v) in optional {
            if let Some(v) = v {
                element(&mut out, name, v);
            }
        }
        element(&mut out, "deliverLogsStatus", &f.deliver_logs_status);
        element(&mut out, "flowLogId", &f.flow_log_id);
        element(&mut out, "flowLogStatus", f.flow_log_status);
        if let Some(g) = &f.log_group_name {
            element(&mut out, "logGroupName", g);
        }
        element(&mut out, "resourceId", &f.resource_id);
        element(&mut out, "trafficType", f.traffic_type);
        element(&mut out, "logDestinationType", f.log_destination_type);
        element(&mut out, "logDestination", &f.log_destination);
        element(&mut out, "logFormat", &f.log_format);
        out.push_str("<tagSet>");
        for t in &f.tags {
            out.push_str("<item>");
            element(&mut out, "key", &t.key);
            element(&mut out, "value", &t.value);
            out.push_str("</item>");
        }
        out.push_str("</tagSet>");
        element(
            &mut out,
            "maxAggregationInterval",
            &f.max_aggregation_interval.to_string(),
        );
        if let Some(o) = &f.destination_options {
            out.push_str("<destinationOptions>");
            element(&mut out, "fileFormat", o.file_format);
            element(
                &mut out,
                "hiveCompatiblePartitions",
                &o.hive_compatible_partitions.to_string(),
            );
            element(
                &mut out,
                "perHourPartition",
                &o.per_hour_partition.to_string(),
            );
            out.push_str("</destinationOptions>");
        }
        out.push_str("</item>");
    }
    out.push_str("</flowLogSet>");
    if let Some(t) = &page.next_token {
        element(&mut out, "nextToken", t);
    }
    out.push_str("</DescribeFlowLogsResponse>");
    out
}

/// DeleteFlowLogs' answer (every id existed: the service refuses the request otherwise).
pub fn delete_response(request_id: &str) -> String {
    let mut out = open("DeleteFlowLogs", request_id);
    out.push_str("<unsuccessful/></DeleteFlowLogsResponse>");
    out
}

/// CreateTags' and DeleteTags' answer.
pub fn done_response(action: &str, request_id: &str) -> String {
    let mut out = open(action, request_id);
    out.push_str(&format!("<return>true</return></{action}Response>"));
    out
}

/// DescribeTags' answer.
pub fn tags_response(page: &vpcflow_deliver::tags::TagsPage, request_id: &str) -> String {
    let mut out = open("DescribeTags", request_id);
    out.push_str("<tagSet>");
    for t in &page.tags {
        out.push_str("<item>");
        element(&mut out, "resourceId", &t.resource_id);
        element(&mut out, "resourceType", t.resource_type);
        element(&mut out, "key", &t.key);
        element(&mut out, "value", &t.value);
        out.push_str("</item>");
    }
    out.push_str("</tagSet>");
    if let Some(n) = &page.next_token {
        element(&mut out, "nextToken", n);
    }
    out.push_str("</DescribeTagsResponse>");
    out
}

/// A Describe* of the topology's answer: one page of items under the action's list element.
pub fn topology_response(kind: Kind, page: &topology::Page, request_id: &str) -> String {
    let def = kind.def();
    let mut out = open(def.action, request_id);
    write_set(&mut out, def.set, &page.items);
    if let Some(n) = &page.next_token {
        element(&mut out, "nextToken", n);
    }
    out.push_str(&format!("</{}Response>", def.action));
    out
}

pub(crate) fn write_node(out: &mut String, name: &str, node: &Node) {
    match node {
        Node::Text(t) => element(out, name, t),
        Node::Struct(fields) => write_struct(out, name, fields),
        Node::Set(items) => write_set(out, name, items),
    }
}

fn write_struct(out: &mut String, name: &str, fields: &topology::Fields) {
    out.push_str(&format!("<{name}>"));
    for (n, v) in fields {
        write_node(out, n, v);
    }
    out.push_str(&format!("</{name}>"));
}

/// A list as EC2 writes every list: `<name><item>…</item>…</name>`.
pub(crate) fn write_set(out: &mut String, name: &str, items: &[topology::Fields]) {
    out.push_str(&format!("<{name}>"));
    for item in items {
        write_struct(out, "item", item);
    }
    out.push_str(&format!("</{name}>"));
}

/// An error as EC2 answers it: its HTTP status and `<Response><Errors><Error>` (note
/// `RequestID`, not the success answers' `requestId`).
pub fn error_response(e: &ApiError, request_id: &str) -> (u16, String) {
    (
        e.kind.def().http_status,
        error_xml(e.kind.code(), &e.message, request_id),
    )
}

/// `<Response><Errors><Error>` with a code and message: EC2's shape of every error, its own and
/// the server's (authentication).
pub fn error_xml(code: &str, message: &str, request_id: &str) -> String {
    let mut out =
        String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error>");
    element(&mut out, "Code", code);
    element(&mut out, "Message", message);
    out.push_str("</Error></Errors>");
    element(&mut out, "RequestID", request_id);
    out.push_str("</Response>");
    out
}

/// What EC2's flow-log actions act on: the control plane, and the world CreateFlowLogs checks a
/// request against.
#[cfg(feature = "service")]
pub struct Service<'a> {
    /// `state.db`.
    pub state: &'a mut vpcflow_deliver::State,
    /// The network whose resources may be monitored, and which the network actions change.
    pub live: &'a vpcflow_deliver::resources::live::LiveNetwork,
    /// Buckets of this vpcflow.
    pub buckets: &'a [String],
    /// Delivery streams of this vpcflow.
    pub delivery_streams: &'a [String],
    /// Now, ms since the epoch (the caller's clock).
    pub now_ms: u64,
    /// The account the request acts for (its signer's): it sees only its own flow logs and
    /// resources. `None`: every account's (the data directory's owner).
    pub account: Option<&'a str>,
}

/// Answers one request body: its HTTP status and EC2's XML. The services decide; this reads
/// and writes.
#[cfg(feature = "service")]
pub fn handle(service: &mut Service<'_>, body: &[u8], request_id: &str) -> (u16, String) {
    let parsed = crate::form::parse(body)
        .map_err(|e| form_error(&e))
        .and_then(|form| request(&form));
    match parsed.and_then(|p| answer(service, p, request_id)) {
        Ok(xml) => (200, xml),
        Err(e) => error_response(&e, request_id),
    }
}

#[cfg(feature = "service")]
fn answer(service: &mut Service<'_>, p: Parsed, request_id: &str) -> Result<String, ApiError> {
    use vpcflow_deliver::api::dry_run;
    let Service {
        state,
        live,
        buckets,
        delivery_streams,
        now_ms,
        account,
    } = service;
    state.acting_for(*account);
    let network = &*live.network();
    match p.request {
        Request::Network(name, action) => network_action(
            state,
            live,
            (*account, *now_ms),
            &name,
            &action,
            p.dry_run,
            request_id,
        ),
        Request::DescribeVpcAttribute(vpc, attribute) => {
            let answer = crate::ec2_network::vpc_attribute(
                (&vpc, &attribute),
                &network.topology,
                *account,
                request_id,
            );
            match p.dry_run {
                true => Err(dry_run(answer.map(|_| ()))),
                false => answer,
            }
        }
        Request::CreateFlowLogs(req) if p.dry_run => Err(dry_run(
            state
                .check_create_flow_logs(&req, network, buckets, delivery_streams, *now_ms)
                .map_err(refused),
        )),
        Request::CreateFlowLogs(req) => {
            let created = state
                .create_flow_logs(&req, network, buckets, delivery_streams, *now_ms)
                .map_err(refused)?;
            Ok(create_response(
                &created,
                req.client_token.as_deref(),
                request_id,
            ))
        }
        Request::DescribeFlowLogs(req) => {
            let existing = state
                .flow_logs_with_status()
                .map_err(|e| refused(e.into()))?;
            let page = vpcflow_deliver::describe::describe_flow_logs(&req, &existing);
            match p.dry_run {
                true => Err(dry_run(page)),
                false => Ok(describe_response(&page?, request_id)),
            }
        }
        Request::DeleteFlowLogs(ids) if p.dry_run => {
            Err(dry_run(state.check_delete_flow_logs(&ids).map_err(refused)))
        }
        Request::DeleteFlowLogs(ids) => {
            state.delete_flow_logs(&ids).map_err(refused)?;
            Ok(delete_response(request_id))
        }
        request @ (Request::CreateTags(..) | Request::DeleteTags(..)) => tag(
            state,
            live,
            (*account, *now_ms),
            request,
            p.dry_run,
            request_id,
        ),
        Request::DescribeTags(req) => {
            let existing = state.tagged_flow_logs().map_err(|e| refused(e.into()))?;
            let mut all = vpcflow_deliver::tags::of_flow_logs(&existing);
            all.extend(topology::tag_descriptions(&network.topology, *account));
            let page = vpcflow_deliver::tags::describe_tag_list(&req, all);
            match p.dry_run {
                true => Err(dry_run(page)),
                false => Ok(tags_response(&page?, request_id)),
            }
        }
        Request::DescribeTopology(kind, req) => {
            let page = topology::describe(kind, &req, network, *account);
            match p.dry_run {
                true => Err(dry_run(page)),
                false => Ok(topology_response(kind, &page?, request_id)),
            }
        }
    }
}

/// A refused request in EC2's words: AWS's error, or the store's failure as InternalError.
#[cfg(feature = "service")]
fn refused(e: vpcflow_deliver::state::RequestError) -> ApiError {
    match e {
        vpcflow_deliver::state::RequestError::Api(e) => e,
        vpcflow_deliver::state::RequestError::State(e) => {
            error(ErrorKind::InternalError, e.to_string())
        }
    }
}

/// Flow logs' ids (tagged in the control plane) and the network's (tagged in its document).
#[cfg(feature = "service")]
fn by_owner(ids: Vec<String>) -> (Vec<String>, Vec<String>) {
    ids.into_iter().partition(|id| id.starts_with("fl-"))
}

/// The account network actions act for: the signer's, else (the data directory's owner) the
/// topology's first.
#[cfg(feature = "service")]
fn actor(account: Option<&str>, live: &vpcflow_deliver::resources::live::LiveNetwork) -> String {
    account.map(str::to_owned).unwrap_or_else(|| {
        live.network()
            .topology
            .accounts
            .first()
            .map(|a| a.id.clone())
            .unwrap_or_default()
    })
}

/// CreateTags or DeleteTags: flow logs' tags are the control plane's, the network's resources'
/// are its document's. Both parts are checked before either is changed, so that a refusal
/// changes nothing.
#[cfg(feature = "service")]
fn tag(
    state: &mut vpcflow_deliver::State,
    live: &vpcflow_deliver::resources::live::LiveNetwork,
    (account, now_ms): (Option<&str>, u64),
    request: Request,
    dry_run: bool,
    request_id: &str,
) -> Result<String, ApiError> {
    use vpcflow_deliver::resources::actions::Action;
    let (name, flow_logs, action) = match request {
        Request::CreateTags(ids, tags) => {
            let (flow_logs, ids) = by_owner(ids);
            ("CreateTags", flow_logs, Action::CreateTags { ids, tags })
        }
        Request::DeleteTags(ids, tags) => {
            let (flow_logs, ids) = by_owner(ids);
            ("DeleteTags", flow_logs, Action::DeleteTags { ids, tags })
        }
        _ => unreachable!("the caller matched CreateTags or DeleteTags"),
    };
    let (Action::CreateTags { ids: others, .. } | Action::DeleteTags { ids: others, .. }) = &action
    else {
        unreachable!("made above");
    };
    let who = actor(account, live);
    if !flow_logs.is_empty() || others.is_empty() {
        state.check_tags(&flow_logs).map_err(refused)?;
    }
    if !others.is_empty() {
        live.check(&who, now_ms, &action)?;
    }
    if dry_run {
        return Err(vpcflow_deliver::api::dry_run(Ok(())));
    }
    if !others.is_empty() {
        live.act(state, &who, now_ms, &action).map_err(refused)?;
    }
    if !flow_logs.is_empty() {
        match &action {
            Action::CreateTags { tags, .. } => state.create_tags(&flow_logs, tags),
            Action::DeleteTags { tags, .. } => state.delete_tags(&flow_logs, tags),
            _ => Ok(()),
        }
        .map_err(refused)?;
    }
    Ok(done_response(name, request_id))
}

/// A network action: checked (DryRun) or done, and answered from the network it leaves.
#[cfg(feature = "service")]
fn network_action(
    state: &mut vpcflow_deliver::State,
    live: &vpcflow_deliver::resources::live::LiveNetwork,
    (account, now_ms): (Option<&str>, u64),
    name: &str,
    action: &vpcflow_deliver::resources::actions::Action,
    dry_run: bool,
    request_id: &str,
) -> Result<String, ApiError> {
    let who = actor(account, live);
    if dry_run {
        return Err(vpcflow_deliver::api::dry_run(
            live.check(&who, now_ms, action),
        ));
    }
    let answer = live.act(state, &who, now_ms, action).map_err(refused)?;
    Ok(crate::ec2_network::response(
        name,
        &answer,
        &live.network().topology,
        request_id,
    ))
}
