//! The console's views that AWS has no action for, under `/ui/api/`: each reads its inputs,
//! calls the library service that owns the answer, and writes JSON (`docs/console.md`):
//!
//! | view | service |
//! |---|---|
//! | `GET session` | the caller, the pages, the overview's queries, and now: the newest delivered record's time (simulated time), else the clock |
//! | `GET samples` | `vpcflow_query::samples` |
//! | `GET map?start&end` | `vpcflow_net::map` over the traffic its Insights query sums in the range |
//! | `GET eni?id&start&end`, `GET edge?from&to&start&end` | `vpcflow_net::troubleshoot::conversations` |
//! | `POST diagnose` | `vpcflow_net::diagnose` and `troubleshoot` |
//! | `GET findings` | `vpcflow_store::findings` |
//! | `GET delivery` | each flow log's `DeliverLogsStatus`, its records waiting in the spool, and its newest delivery |
//! | `GET cost?start&end` | `vpcflow_query::cost` |
//! | `POST sql` | `vpcflow_query::sql` over the catalog and log groups |
//!
//! Times in the query string are epoch seconds, both ends included.

use std::collections::HashMap;
use std::net::IpAddr;

use serde_json::{Value, json};
use vpcflow_deliver::api::{Destination, FlowLog};
use vpcflow_net::troubleshoot::{Observed, Question};

use super::{Console, PAGES, error, json as reply_json};
use crate::reply::Reply;
use crate::server::{Api, Incoming};
use crate::sigv4::Caller;

/// The most records an ENI's or an edge's panel lists.
const RECORDS_SHOWN: usize = 50;
/// The most connections an ENI's panel puts through the flowchart.
const CONVERSATIONS: usize = 12;

type Answer = Result<Value, Reply>;

/// Answers `/ui/api/<view>`.
pub(crate) fn answer(
    api: &Api,
    console: &Console,
    caller: &Caller,
    method: &str,
    view: &str,
    req: &Incoming,
    now_ms: u64,
) -> Reply {
    let p: HashMap<String, String> = form_urlencoded::parse(req.query.as_bytes())
        .into_owned()
        .collect();
    let result = match (method, view) {
        ("GET", "session") => session(console, caller, now_ms),
        ("GET", "samples") => Ok(json!(vpcflow_query::samples::SAMPLES)),
        ("GET", "map") => map(api, console, caller, &p),
        ("GET", "eni") => eni(api, console, caller, &p),
        ("GET", "edge") => edge(api, console, caller, &p),
        ("POST", "diagnose") => diagnose(api, console, caller, &req.body),
        ("GET", "findings") => findings(console),
        ("GET", "delivery") => delivery(console, caller),
        ("GET", "cost") => cost(api, console, caller, &p),
        ("POST", "sql") => sql(console, &req.body),
        _ => Err(error(
            404,
            "NotFound",
            format!("{method} /ui/api/{view}: no such view"),
        )),
    };
    match result {
        Ok(v) => reply_json(200, &v),
        Err(r) => r,
    }
}

fn bad(message: impl Into<String>) -> Reply {
    error(400, "ValidationException", message)
}

fn internal(e: impl std::fmt::Display) -> Reply {
    error(500, "InternalError", e.to_string())
}

/// A required epoch-seconds parameter.
fn seconds(p: &HashMap<String, String>, name: &str) -> Result<i64, Reply> {
    let v = p
        .get(name)
        .ok_or_else(|| bad(format!("{name} is required (epoch seconds)")))?;
    v.parse::<i64>()
        .map_err(|_| bad(format!("{name} '{v}': expected epoch seconds")))
}

/// `start` and `end` as a ms range, both ends included.
fn range_ms(p: &HashMap<String, String>) -> Result<(i64, i64), Reply> {
    let (start, end) = (seconds(p, "start")?, seconds(p, "end")?);
    if end < start {
        return Err(bad("end must not be before start"));
    }
    Ok((
        start.saturating_mul(1000),
        end.saturating_mul(1000).saturating_add(999),
    ))
}

fn network(api: &Api) -> std::sync::Arc<vpcflow_net::Network> {
    let world = api
        .ec2
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    world.network.network()
}

fn state(console: &Console) -> Result<vpcflow_deliver::State, Reply> {
    vpcflow_deliver::State::open(&console.data.state_db()).map_err(internal)
}

fn session(console: &Console, caller: &Caller, now_ms: u64) -> Answer {
    let conn = vpcflow_store::db::open(&console.data.state_db()).map_err(internal)?;
    let newest = vpcflow_store::logs::index::newest_event_ms(&conn, None)
        .map_err(internal)?
        .and_then(|t| u64::try_from(t).ok());
    let pages: Vec<Value> = PAGES
        .iter()
        .map(|(path, title)| json!({"path": path, "title": title}))
        .collect();
    let overview: serde_json::Map<String, Value> = super::OVERVIEW
        .iter()
        .map(|(id, q)| ((*id).to_owned(), json!(q)))
        .collect();
    Ok(json!({
        "signedIn": true,
        "accountId": caller.account_id,
        "accessKeyId": caller.access_key_id,
        // Ranges end at the newest delivered record: the simulated time, which --start and
        // --speed take away from the clock.
        "nowMs": newest.unwrap_or(now_ms),
        "newestRecordMs": newest,
        "clockMs": now_ms,
        "pages": pages,
        "overviewQueries": overview,
    }))
}

/// The records in the range that the log groups `groups` hold.
fn records(
    console: &Console,
    groups: &[String],
    (from, to): (i64, i64),
) -> Result<Vec<Observed>, Reply> {
    let conn = vpcflow_store::db::open(&console.data.state_db()).map_err(internal)?;
    let all = vpcflow_store::logs::records::flow_records_between(
        &conn,
        &console.data,
        Some(groups),
        from,
        to,
    )
    .map_err(internal)?;
    Ok(all
        .into_iter()
        .map(|d| Observed {
            eni: d.eni,
            record: d.record,
            line: d.line,
        })
        .collect())
}

fn map(api: &Api, console: &Console, caller: &Caller, p: &HashMap<String, String>) -> Answer {
    use vpcflow_net::map::{Map, Totals, Traffic};
    let net = network(api);
    let groups = log_groups(&caller_flow_logs(console, caller)?);
    let query = vpcflow_net::map::insights_query(&net);
    let rows = insights_rows(
        api,
        console,
        &groups,
        Some(range_ms(p)?),
        &query,
        usize::MAX,
    )?;
    let num = |r: &HashMap<String, String>, k: &str| {
        r.get(k).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0) as u64
    };
    let traffic = rows.iter().filter_map(|r| {
        Some(Traffic {
            eni: r.get("interfaceId")?,
            src: r.get("src")?.parse().ok()?,
            dst: r.get("dst")?.parse().ok()?,
            action: r.get("action")?,
            direction: None,
            totals: Totals {
                records: num(r, "records"),
                packets: num(r, "packets"),
                bytes: num(r, "bytes"),
            },
        })
    });
    let mut map = Map::of(&net, traffic);
    // The caller's VPCs only, as EC2's Describe* of the topology shows them.
    map.vpcs.retain(|v| {
        net.vpcs
            .iter()
            .any(|n| n.id == v.id && n.account == caller.account_id)
    });
    Ok(json!(map))
}

/// The caller's flow logs, read once per request.
fn caller_flow_logs(console: &Console, caller: &Caller) -> Result<Vec<FlowLog>, Reply> {
    let mut all = state(console)?.flow_logs().map_err(internal)?;
    all.retain(|f| f.account_id == caller.account_id);
    Ok(all)
}

/// The log groups flow logs deliver to, each once.
fn log_groups(flow_logs: &[FlowLog]) -> Vec<String> {
    let mut groups: Vec<String> = Vec::new();
    for fl in flow_logs {
        if let Destination::LogGroup { name } = &fl.destination
            && !groups.contains(name)
        {
            groups.push(name.clone());
        }
    }
    groups
}

/// An Insights query over `groups` in `range` (ms, both ends), run here, its rows as field maps.
fn insights_rows(
    api: &Api,
    console: &Console,
    groups: &[String],
    range: Option<(i64, i64)>,
    text: &str,
    limit: usize,
) -> Result<Vec<HashMap<String, String>>, Reply> {
    use vpcflow_query::insights;
    if groups.is_empty() {
        return Ok(Vec::new());
    }
    let query = insights::parse(text).map_err(|e| internal(e.render(text)))?;
    let range = range.map(|(start_ms, end_ms)| insights::plan::TimeRange { start_ms, end_ms });
    let rows = console
        .runtime
        .block_on(vpcflow_query::jobs::insights_over_log_groups(
            &console.data,
            groups,
            &query,
            text,
            range,
            api.clock.now_ms() as i64 / 1000,
            std::sync::Arc::default(),
        ))
        .map_err(internal)?;
    let rows = vpcflow_query::jobs::result_rows(&rows, limit).map_err(internal)?;
    Ok(rows
        .into_iter()
        .map(|r| r.into_iter().map(|f| (f.field, f.value)).collect())
        .collect())
}

/// Each connection of `eni` through the flowchart, as JSON.
fn conversations(
    net: &vpcflow_net::Network,
    flow_logs: &[FlowLog],
    eni: &str,
    records: &[Observed],
) -> Vec<Value> {
    let coverage = |e: &str| vpcflow_deliver::coverage::coverage(net, flow_logs, e);
    vpcflow_net::troubleshoot::conversations(net, eni, records, &coverage, CONVERSATIONS)
        .iter()
        .map(|(q, t)| {
            let mut v = evidence(t, 5);
            v["question"] = question_json(q);
            v
        })
        .collect()
}

/// A flowchart's answer as JSON, with at most `most` records of each leg.
fn evidence(t: &vpcflow_net::troubleshoot::Troubleshooting, most: usize) -> Value {
    let mut v = t.to_json();
    for leg in ["requestRecords", "replyRecords"] {
        if let Some(a) = v[leg].as_array_mut() {
            a.truncate(most);
        }
    }
    v
}

fn question_json(q: &Question) -> Value {
    json!({
        "source": q.src.to_string(),
        "destination": q.dst.to_string(),
        "port": q.port,
        "protocol": q.protocol,
    })
}

fn lines(records: &[&Observed]) -> Vec<Value> {
    records
        .iter()
        .rev()
        .take(RECORDS_SHOWN)
        .map(|o| json!({"interfaceId": o.eni, "message": o.line}))
        .collect()
}

fn eni(api: &Api, console: &Console, caller: &Caller, p: &HashMap<String, String>) -> Answer {
    let id = p
        .get("id")
        .ok_or_else(|| bad("id is required (an ENI's id)"))?;
    let net = network(api);
    if !net.enis.iter().any(|e| &e.id == id) {
        return Err(error(
            404,
            "InvalidNetworkInterfaceID.NotFound",
            format!("The networkInterface ID '{id}' does not exist"),
        ));
    }
    let flow_logs = caller_flow_logs(console, caller)?;
    let rs = records(console, &log_groups(&flow_logs), range_ms(p)?)?;
    let own: Vec<&Observed> = rs.iter().filter(|o| &o.eni == id).collect();
    Ok(json!({
        "interfaceId": id,
        "recordCount": own.len(),
        "records": lines(&own),
        "conversations": conversations(&net, &flow_logs, id, &rs),
    }))
}

/// An edge's records (both ways between its two nodes) and its connections' verdicts, asked of
/// its ENI end (the receiving one when both are ENIs).
fn edge(api: &Api, console: &Console, caller: &Caller, p: &HashMap<String, String>) -> Answer {
    let need = |k: &str| {
        p.get(k)
            .cloned()
            .ok_or_else(|| bad(format!("{k} is required (an ENI's id or internet)")))
    };
    let (from, to) = (need("from")?, need("to")?);
    let net = network(api);
    let flow_logs = caller_flow_logs(console, caller)?;
    let rs = records(console, &log_groups(&flow_logs), range_ms(p)?)?;
    let ends = [from.as_str(), to.as_str()];
    let on_edge: Vec<Observed> = rs
        .iter()
        .filter(|o| {
            vpcflow_net::map::Traffic::of(&o.eni, &o.record)
                .and_then(|t| vpcflow_net::map::edge_of(&net, &t))
                .is_some_and(|(f, t, _)| ends.contains(&f.as_str()) && ends.contains(&t.as_str()))
        })
        .cloned()
        .collect();
    let eni = if to == vpcflow_net::map::INTERNET {
        &from
    } else {
        &to
    };
    let refs: Vec<&Observed> = on_edge.iter().collect();
    Ok(json!({
        "from": from,
        "to": to,
        "recordCount": on_edge.len(),
        "records": lines(&refs),
        "conversations": conversations(&net, &flow_logs, eni, &on_edge),
    }))
}

/// `POST diagnose` with `{source, destination, port, protocol, start?, end?}`: the policy's
/// flowchart for the connection, and what the records in the range (if given) show of it.
fn diagnose(api: &Api, console: &Console, caller: &Caller, body: &[u8]) -> Answer {
    #[derive(serde::Deserialize)]
    struct Form {
        source: String,
        destination: String,
        port: Option<u16>,
        protocol: String,
        start: Option<i64>,
        end: Option<i64>,
    }
    let f: Form = serde_json::from_slice(body).map_err(|e| {
        bad(format!(
            "expected source, destination, port and protocol: {e}"
        ))
    })?;
    let addr = |what: &str, v: &str| {
        v.trim()
            .parse::<IpAddr>()
            .map_err(|_| bad(format!("{what} '{v}': expected an IP address")))
    };
    let (src, dst) = (
        addr("source", &f.source)?,
        addr("destination", &f.destination)?,
    );
    let protocol = vpcflow_record::Protocol::from_name(&f.protocol)
        .filter(|p| p.0 != 0)
        .ok_or_else(|| {
            bad(format!(
                "protocol '{}': expected tcp, udp, icmp or a number",
                f.protocol
            ))
        })?
        .0;
    let net = network(api);
    let policy =
        vpcflow_net::diagnose::diagnose(&net, src, dst, protocol, 49152, f.port.unwrap_or(443));
    let mut out = json!({"policy": policy.to_json(&net)});
    if let (Some(start), Some(end)) = (f.start, f.end) {
        let range = (start.saturating_mul(1000), end.saturating_mul(1000) + 999);
        let flow_logs = caller_flow_logs(console, caller)?;
        let rs = records(console, &log_groups(&flow_logs), range)?;
        let coverage = |e: &str| vpcflow_deliver::coverage::coverage(&net, &flow_logs, e);
        let q = Question {
            src,
            dst,
            port: f.port.filter(|_| matches!(protocol, 6 | 17)),
            protocol: Some(protocol),
        };
        let t = vpcflow_net::troubleshoot::troubleshoot(&net, &q, &rs, &coverage);
        out["records"] = evidence(&t, 10);
    }
    Ok(out)
}

fn findings(console: &Console) -> Answer {
    let f = vpcflow_store::findings::Findings::open(&console.data).map_err(internal)?;
    let all = f.list().map_err(internal)?;
    Ok(json!({"findings": all.iter().map(|f| f.to_json()).collect::<Vec<_>>()}))
}

fn delivery(console: &Console, caller: &Caller) -> Answer {
    let st = state(console)?;
    let all = st.flow_logs_with_status().map_err(internal)?;
    let waiting = vpcflow_deliver::spool::Spool::open(&console.data.spool())
        .and_then(|s| s.waiting())
        .unwrap_or_default();
    let conn = vpcflow_store::db::open(&console.data.state_db()).map_err(internal)?;
    let mut out = Vec::new();
    for (fl, status) in all
        .iter()
        .filter(|(f, _)| f.account_id == caller.account_id)
    {
        let newest_ms: Option<i64> = match &fl.destination {
            Destination::LogGroup { name } => {
                vpcflow_store::logs::index::newest_event_ms(&conn, Some(name)).map_err(internal)?
            }
            Destination::S3 { bucket, .. } => {
                vpcflow_query::cost::newest_object_s(&console.data.bucket(bucket)).map(|s| s * 1000)
            }
            Destination::Firehose { .. } => None,
        };
        out.push(json!({
            "flowLogId": fl.flow_log_id,
            "destination": fl.destination.arn(&fl.region, &fl.account_id),
            "destinationType": fl.destination.type_name(),
            "deliverLogsStatus": status.status,
            "deliverLogsErrorMessage": status.message,
            "detail": status.detail,
            "recordsWaiting": waiting.get(&fl.flow_log_id).copied().unwrap_or(0),
            "newestDeliveredMs": newest_ms,
        }));
    }
    Ok(json!({"flowLogs": out}))
}

fn cost(api: &Api, console: &Console, caller: &Caller, p: &HashMap<String, String>) -> Answer {
    use vpcflow_query::cost::{self, Volume};
    let (from, to) = range_ms(p)?;
    let flow_logs = caller_flow_logs(console, caller)?;
    let mut buckets = Volume::default();
    let mut seen_buckets = Vec::new();
    for fl in &flow_logs {
        if let Destination::S3 { bucket, .. } = &fl.destination
            && !seen_buckets.contains(bucket)
        {
            seen_buckets.push(bucket.clone());
            let v = cost::bucket_volume(&console.data.bucket(bucket), from / 1000, to / 1000)
                .map_err(internal)?;
            buckets = buckets + v;
        }
    }
    let log_groups = log_group_volume(api, console, &log_groups(&flow_logs), (from, to))?;
    let lines = cost::monthly(log_groups, buckets, (to - from + 1).max(1) as u64);
    Ok(json!({
        "rangeMs": to - from + 1,
        "logGroups": log_groups,
        "buckets": buckets,
        "lines": lines,
        "totalDollars": lines.iter().map(|l| l.dollars).sum::<f64>(),
    }))
}

/// What the log groups received in the range: their events by Insights, and the stored bytes
/// of the segments holding them.
fn log_group_volume(
    api: &Api,
    console: &Console,
    groups: &[String],
    (from, to): (i64, i64),
) -> Result<vpcflow_query::cost::Volume, Reply> {
    let mut v = vpcflow_query::cost::Volume::default();
    if groups.is_empty() {
        return Ok(v);
    }
    let text = vpcflow_query::cost::LOG_GROUP_VOLUME;
    let rows = insights_rows(api, console, groups, Some((from, to)), text, 1)?;
    let get = |name: &str| {
        rows.first()
            .and_then(|r| r.get(name))
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0) as u64
    };
    let conn = vpcflow_store::db::open(&console.data.state_db()).map_err(internal)?;
    for g in groups {
        let segments = vpcflow_store::logs::index::segments_between(&conn, g, None, from, to)
            .map_err(internal)?;
        for seg in segments {
            v.stored_bytes +=
                std::fs::metadata(console.data.segment(g, &seg)).map_or(0, |m| m.len());
        }
    }
    v.items = get("events");
    // Each event's line end is billed with it.
    v.bytes = get("chars") + v.items;
    Ok(v)
}

/// `POST sql` with `{"query": "…"}`: each statement's rows or message, as `vpcflow query --sql`
/// runs them over the catalog and the log groups.
fn sql(console: &Console, body: &[u8]) -> Answer {
    #[derive(serde::Deserialize)]
    struct Form {
        query: String,
    }
    let f: Form =
        serde_json::from_slice(body).map_err(|e| bad(format!("expected {{\"query\": …}}: {e}")))?;
    use vpcflow_query::sql;
    let catalog = sql::Catalog::open(console.data.root()).map_err(|e| bad(e.to_string()))?;
    let schema = std::sync::Arc::new(sql::StoreSchema::new(
        std::sync::Arc::new(catalog),
        Some(console.data.clone()),
    ));
    let outputs = console
        .runtime
        .block_on(async {
            let ctx = sql::session();
            sql::run_script(&ctx, schema, &f.query, &[]).await
        })
        .map_err(|e| bad(e.to_string()))?;
    let mut results = Vec::new();
    for o in outputs {
        results.push(match o {
            sql::Output::Message(lines) => json!({"message": lines}),
            sql::Output::Rows(rows) => {
                let r = vpcflow_query::jobs::result_rows(&rows, 10_000).map_err(internal)?;
                let columns: Vec<String> = rows
                    .schema
                    .fields()
                    .iter()
                    .map(|f| f.name().clone())
                    .collect();
                let table: Vec<Vec<Value>> = r
                    .iter()
                    .map(|row| {
                        columns
                            .iter()
                            .map(|c| {
                                row.iter()
                                    .find(|f| &f.field == c)
                                    .map_or(Value::Null, |f| Value::String(f.value.clone()))
                            })
                            .collect()
                    })
                    .collect();
                json!({"columns": columns, "rows": table})
            }
        });
    }
    Ok(json!({"results": results}))
}
