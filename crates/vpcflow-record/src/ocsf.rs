//! The OCSF Network Activity (class 4001) mapping of a flow-log record, as Security Lake stores
//! flow logs (`shared/reference/query.md` §4.4: Tenzir's OCSF 1.5 pipeline, cross-checked with
//! OpenSearch and `ocsf/examples`).
//!
//! Owns the mapping table only. Choices where the sources disagree or are silent:
//! * `activity_id` is 6 "Traffic" for every record; ACCEPT/REJECT goes to `action_id` and
//!   `disposition_id` (in class 4001, activity 2 means "Close", so Tenzir's 2 for REJECT is not
//!   followed).
//! * The ENI-side ids (`interface_uid`, `vpc_uid`, `subnet_uid`, `instance_uid`) go to
//!   `dst_endpoint` for ingress and to `src_endpoint` otherwise, as Security Lake's OCSF 1.1
//!   mapping does (`ocsf/examples` `mappings/markdown/AWS/v1.1.0/VPC Flowlogs`: ingress → dst,
//!   egress → src; its Data Prepper pipeline `mappings/dataprepper/AWS/v1.1.0/VPC Flow` moves
//!   them to `src_endpoint` whenever the direction is not ingress, so a version-2 record without
//!   `flow-direction` has them on `src_endpoint`).
//! * Every field not in the table goes to `unmapped` under its AWS name.

use serde_json::{Map, Value, json};

use crate::registry::{FieldId, FlowRecord};
use crate::value::{Action, FlowDirection, IpType, Scalar};

/// OCSF schema version the mapping follows.
pub const OCSF_VERSION: &str = "1.5.0";

/// The OCSF `connection_info.boundary_id` and name for a `traffic-path` value.
fn boundary(path: u8) -> (u8, &'static str) {
    match path {
        1 => (4, "Same VPC"),
        2 => (5, "Internet/VPC Gateway"),
        3 => (6, "Virtual Private Gateway"),
        4 => (7, "Intra-region VPC"),
        5 => (8, "Inter-region VPC"),
        6 => (9, "Local Gateway"),
        7 => (10, "Gateway VPC"),
        _ => (11, "Internet Gateway"),
    }
}

fn text(rec: &FlowRecord, id: FieldId) -> Option<Value> {
    rec.get(id).map(|s| match s {
        Scalar::Int(v) => Value::from(v),
        text => Value::String(text.to_string()),
    })
}

fn put(obj: &mut Map<String, Value>, key: &str, v: Option<Value>) {
    if let Some(v) = v {
        obj.insert(key.to_owned(), v);
    }
}

/// Fields the table maps; the rest go to `unmapped`.
const MAPPED: &[FieldId] = &[
    FieldId::Version,
    FieldId::AccountId,
    FieldId::Region,
    FieldId::AzId,
    FieldId::Srcaddr,
    FieldId::Srcport,
    FieldId::Dstaddr,
    FieldId::Dstport,
    FieldId::PktSrcaddr,
    FieldId::PktDstaddr,
    FieldId::PktSrcAwsService,
    FieldId::PktDstAwsService,
    FieldId::Protocol,
    FieldId::Type,
    FieldId::TcpFlags,
    FieldId::FlowDirection,
    FieldId::TrafficPath,
    FieldId::Packets,
    FieldId::Bytes,
    FieldId::Start,
    FieldId::End,
    FieldId::Action,
    FieldId::LogStatus,
];

/// ENI-side ids, placed on the endpoint the ENI is.
const ENI_SIDE: &[(FieldId, &str)] = &[
    (FieldId::InterfaceId, "interface_uid"),
    (FieldId::VpcId, "vpc_uid"),
    (FieldId::SubnetId, "subnet_uid"),
    (FieldId::InstanceId, "instance_uid"),
];

/// One endpoint: `ip` is the packet-level address when it differs from the ENI-level one, which
/// then goes to `intermediate_ips`.
fn endpoint(
    rec: &FlowRecord,
    addr: FieldId,
    pkt: FieldId,
    port: FieldId,
    svc: FieldId,
) -> Map<String, Value> {
    let mut ep = Map::new();
    let a = text(rec, addr);
    let p = text(rec, pkt);
    match (a, p) {
        (Some(a), Some(p)) if a != p => {
            ep.insert("ip".into(), p);
            ep.insert("intermediate_ips".into(), Value::Array(vec![a]));
        }
        (a, p) => put(&mut ep, "ip", a.or(p)),
    }
    put(&mut ep, "port", text(rec, port));
    put(&mut ep, "svc_name", text(rec, svc));
    ep
}

/// The record as an OCSF Network Activity event.
pub fn to_ocsf(rec: &FlowRecord) -> Value {
    let mut ev = Map::new();
    ev.insert("class_uid".into(), json!(4001));
    ev.insert("class_name".into(), json!("Network Activity"));
    ev.insert("category_uid".into(), json!(4));
    ev.insert("category_name".into(), json!("Network Activity"));
    ev.insert("activity_id".into(), json!(6));
    ev.insert("activity_name".into(), json!("Traffic"));
    ev.insert("type_uid".into(), json!(400106));
    ev.insert("severity_id".into(), json!(1));
    ev.insert("severity".into(), json!("Informational"));

    let start_ms = rec.start.map(|s| s.0.saturating_mul(1000));
    let end_ms = rec.end.map(|e| e.0.saturating_mul(1000));
    put(&mut ev, "time", start_ms.map(Value::from));
    put(&mut ev, "start_time", start_ms.map(Value::from));
    put(&mut ev, "end_time", end_ms.map(Value::from));
    if let (Some(s), Some(e)) = (start_ms, end_ms) {
        ev.insert("duration".into(), Value::from(e.saturating_sub(s)));
    }

    let mut product = Map::new();
    product.insert("name".into(), json!("Amazon VPC"));
    product.insert("vendor_name".into(), json!("AWS"));
    product.insert("feature".into(), json!({"name": "Flowlogs"}));
    put(
        &mut product,
        "version",
        text(rec, FieldId::Version).map(|v| Value::String(v.to_string())),
    );
    ev.insert(
        "metadata".into(),
        json!({"product": product, "profiles": ["cloud", "datetime", "security_control"], "version": OCSF_VERSION}),
    );

    let mut cloud = Map::new();
    cloud.insert("provider".into(), json!("AWS"));
    if let Some(a) = text(rec, FieldId::AccountId) {
        cloud.insert("account".into(), json!({ "uid": a }));
    }
    put(&mut cloud, "region", text(rec, FieldId::Region));
    put(&mut cloud, "zone", text(rec, FieldId::AzId));
    ev.insert("cloud".into(), Value::Object(cloud));

    let mut src = endpoint(
        rec,
        FieldId::Srcaddr,
        FieldId::PktSrcaddr,
        FieldId::Srcport,
        FieldId::PktSrcAwsService,
    );
    let mut dst = endpoint(
        rec,
        FieldId::Dstaddr,
        FieldId::PktDstaddr,
        FieldId::Dstport,
        FieldId::PktDstAwsService,
    );
    let mut unmapped = Map::new();
    let eni_side = match rec.flow_direction {
        Some(FlowDirection::Ingress) => &mut dst,
        Some(FlowDirection::Egress) | None => &mut src,
    };
    for (id, key) in ENI_SIDE {
        put(eni_side, key, text(rec, *id));
    }
    if !src.is_empty() {
        ev.insert("src_endpoint".into(), Value::Object(src));
    }
    if !dst.is_empty() {
        ev.insert("dst_endpoint".into(), Value::Object(dst));
    }

    let mut conn = Map::new();
    put(&mut conn, "protocol_num", text(rec, FieldId::Protocol));
    if let Some(t) = rec.r#type {
        let (id, name) = match t {
            IpType::IPv4 => (json!(4), "Internet Protocol version 4 (IPv4)"),
            IpType::IPv6 => (json!(6), "Internet Protocol version 6 (IPv6)"),
            IpType::Efa => (json!(99), "EFA"),
        };
        conn.insert("protocol_ver_id".into(), id);
        conn.insert("protocol_ver".into(), json!(name));
    }
    put(&mut conn, "tcp_flags", text(rec, FieldId::TcpFlags));
    if let Some(d) = rec.flow_direction {
        let (id, name) = match d {
            FlowDirection::Ingress => (1, "Inbound"),
            FlowDirection::Egress => (2, "Outbound"),
        };
        conn.insert("direction_id".into(), json!(id));
        conn.insert("direction".into(), json!(name));
    }
    if let Some(p) = rec.traffic_path {
        let (id, name) = boundary(p.get());
        conn.insert("boundary_id".into(), json!(id));
        conn.insert("boundary".into(), json!(name));
    }
    if !conn.is_empty() {
        ev.insert("connection_info".into(), Value::Object(conn));
    }

    let mut traffic = Map::new();
    put(&mut traffic, "packets", text(rec, FieldId::Packets));
    put(&mut traffic, "bytes", text(rec, FieldId::Bytes));
    if !traffic.is_empty() {
        ev.insert("traffic".into(), Value::Object(traffic));
    }

    if let Some(a) = rec.action {
        let (id, name, disp_id, disp) = match a {
            Action::Accept => (1, "Allowed", 1, "Allowed"),
            Action::Reject => (2, "Denied", 2, "Blocked"),
        };
        ev.insert("action_id".into(), json!(id));
        ev.insert("action".into(), json!(name));
        ev.insert("disposition_id".into(), json!(disp_id));
        ev.insert("disposition".into(), json!(disp));
    }
    put(&mut ev, "status_code", text(rec, FieldId::LogStatus));

    for id in FieldId::all() {
        if !MAPPED.contains(&id) && !ENI_SIDE.iter().any(|(e, _)| *e == id) {
            put(&mut unmapped, id.name(), text(rec, id));
        }
    }
    if !unmapped.is_empty() {
        ev.insert("unmapped".into(), Value::Object(unmapped));
    }
    Value::Object(ev)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{LogFormat, text};

    #[test]
    fn aws_v5_egress_example_maps_to_ocsf() {
        // flow-log-format.md §9.3, v5 service/traffic-path example, second (egress) line.
        let f = LogFormat::from_header("version srcaddr dstaddr srcport dstport protocol start end type packets bytes account-id vpc-id subnet-id instance-id interface-id region az-id sublocation-type sublocation-id action tcp-flags pkt-srcaddr pkt-dstaddr pkt-src-aws-service pkt-dst-aws-service traffic-path flow-direction log-status").unwrap();
        let r = text::decode(&f, "5 10.0.0.71 52.95.128.179 34210 80 6 1616729292 1616729349 IPv4 7 471 123456789012 vpc-abcdefab012345678 subnet-aaaaaaaa012345678 i-0c50d5961bcb2d47b eni-1235b8ca123456789 ap-southeast-2 apse2-az3 - - ACCEPT 3 10.0.0.71 52.95.128.179 - S3 8 egress OK").unwrap();
        let o = to_ocsf(&r);
        assert_eq!(o["class_uid"], 4001);
        assert_eq!(o["category_uid"], 4);
        assert_eq!(o["type_uid"], 400106);
        assert_eq!(o["cloud"]["account"]["uid"], "123456789012");
        assert_eq!(o["cloud"]["zone"], "apse2-az3");
        assert_eq!(o["src_endpoint"]["ip"], "10.0.0.71");
        assert_eq!(o["src_endpoint"]["interface_uid"], "eni-1235b8ca123456789");
        assert_eq!(o["src_endpoint"]["instance_uid"], "i-0c50d5961bcb2d47b");
        assert_eq!(o["dst_endpoint"]["svc_name"], "S3");
        assert_eq!(o["dst_endpoint"]["port"], 80);
        assert_eq!(o["connection_info"]["direction_id"], 2);
        assert_eq!(o["connection_info"]["boundary_id"], 11);
        assert_eq!(o["connection_info"]["protocol_ver_id"], 4);
        assert_eq!(o["connection_info"]["tcp_flags"], 3);
        assert_eq!(o["traffic"]["bytes"], 471);
        assert_eq!(o["start_time"], 1616729292000u64);
        assert_eq!(o["duration"], 57000);
        assert_eq!(o["action_id"], 1);
        assert_eq!(o["disposition"], "Allowed");
        assert_eq!(o["status_code"], "OK");
        assert_eq!(o["metadata"]["product"]["version"], "5");
        assert!(
            o.get("unmapped").is_none(),
            "sublocation fields are absent: {o}"
        );
    }

    #[test]
    fn nat_gateway_pkt_addresses_become_intermediate_ips() {
        let f =
            LogFormat::from_header("interface-id srcaddr dstaddr pkt-srcaddr pkt-dstaddr action")
                .unwrap();
        let r = text::decode(
            &f,
            "eni-1235b8ca123456789 10.0.0.220 10.0.1.5 203.0.113.5 10.0.1.5 REJECT",
        )
        .unwrap();
        let o = to_ocsf(&r);
        assert_eq!(o["src_endpoint"]["ip"], "203.0.113.5");
        assert_eq!(o["src_endpoint"]["intermediate_ips"], json!(["10.0.0.220"]));
        assert_eq!(o["dst_endpoint"]["ip"], "10.0.1.5");
        assert!(o["dst_endpoint"].get("intermediate_ips").is_none());
        assert_eq!(o["action_id"], 2);
        assert_eq!(o["disposition_id"], 2);
        // No flow-direction (a version-2 or custom record): the ENI's ids are on
        // `src_endpoint`, as Security Lake's mapping puts them when the direction is not ingress.
        assert_eq!(o["src_endpoint"]["interface_uid"], "eni-1235b8ca123456789");
        assert!(o.get("unmapped").is_none(), "{o}");
    }
}
