//! The HTTP server: one port, every protocol. A request is read whole (up to [`MAX_BODY_BYTES`]),
//! routed to its protocol ([`crate::route`]), authenticated by SigV4 against the configured
//! credentials (or, with `any_credentials`, by the key it names), answered by the protocol's
//! handler on a blocking thread (the store is SQLite), counted in `/metrics` and logged as one
//! structured line. `/healthz` and `/metrics` answer unsigned GETs.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::{Request, State as Shared};
use axum::http::{HeaderValue, Response};
use vpcflow_store::Clock;

use crate::cloudwatch::{self, CloudWatch, Wire};
use crate::ec2;
use crate::json::{self, JSON_10, JSON_11};
use crate::logs::{self, Logs};
use crate::metrics::{Extra, Metrics};
use crate::reply::Reply;
use crate::route::{Protocol, route};
use crate::sigv4::{self, AuthFailure, Caller, Credential, Family, Signed};
use crate::sts;
use crate::xml::element;

/// The largest request body read: room for Firehose's PutRecordBatch (4 MiB of records, in
/// base64) and S3's PutObject of a file that size (larger uploads are multipart, which the
/// SDKs start at 8 MiB); a larger body is refused with 413.
pub const MAX_BODY_BYTES: usize = 8 << 20;

/// How much of a body over [`MAX_BODY_BYTES`] is still read (and dropped) before the 413: a
/// client that sends a body whole before it reads the answer (urllib, most SDKs) then gets the
/// 413 instead of a reset connection. A body declared larger is refused at once.
pub const DRAIN_BYTES: usize = 4 * MAX_BODY_BYTES;

/// Who may call.
pub struct Auth {
    /// Access keys, each of one account.
    pub credentials: Vec<Credential>,
    /// Let any credentials in, unverified (`--insecure-any-credentials`): a 12-digit key is its
    /// account, any other key `default_account`.
    pub any_credentials: bool,
    /// The account of unverified keys that are not 12 digits.
    pub default_account: String,
}

/// What EC2's actions act on.
pub struct Ec2World {
    /// `state.db`.
    pub state: vpcflow_deliver::State,
    /// The network: the topology file's and what the API made.
    pub network: Arc<vpcflow_deliver::resources::live::LiveNetwork>,
    /// Buckets flow logs may deliver to.
    pub buckets: Vec<String>,
    /// Delivery streams flow logs may deliver to.
    pub delivery_streams: Vec<String>,
}

/// The services each protocol answers from.
pub struct Services {
    /// EC2's.
    pub ec2: Ec2World,
    /// CloudWatch Logs'.
    pub logs: Logs,
    /// S3's.
    pub s3: crate::s3::Buckets,
    /// CloudWatch's.
    pub cloudwatch: CloudWatch,
    /// Firehose's delivery streams.
    pub firehose: Mutex<vpcflow_store::firehose::Firehose>,
}

/// What the services are opened over.
pub struct Opening<'a> {
    /// The data directory.
    pub data: &'a vpcflow_store::DataDir,
    /// The network (its region names every ARN).
    pub network: Arc<vpcflow_deliver::resources::live::LiveNetwork>,
    /// Buckets flow logs may deliver to (local and at endpoints).
    pub buckets: Vec<String>,
    /// The local ones, which S3's protocol serves.
    pub local_buckets: Vec<String>,
    /// Delivery streams flow logs may deliver to.
    pub delivery_streams: Vec<String>,
    /// The account that owns the buckets and what was kept before owners were.
    pub owner: &'a str,
    /// Where Insights queries run.
    pub runtime: tokio::runtime::Handle,
    /// Now, for the queries.
    pub clock: Arc<dyn Clock>,
}

/// A service's store that would not open.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// `state.db` for EC2's flow logs.
    #[error(transparent)]
    State(#[from] vpcflow_deliver::state::StateError),
    /// The log-group store.
    #[error(transparent)]
    Logs(#[from] vpcflow_store::logs::LogsError),
    /// The alarms.
    #[error(transparent)]
    Alarms(#[from] vpcflow_store::alarms::AlarmError),
    /// The delivery streams.
    #[error(transparent)]
    Firehose(#[from] vpcflow_store::firehose::FirehoseError),
    /// The buckets.
    #[error(transparent)]
    Buckets(#[from] vpcflow_store::buckets::BucketError),
}

impl Services {
    /// Every protocol's services over one data directory, each with its own connection.
    pub fn open(o: Opening<'_>) -> Result<Services, OpenError> {
        let region = o.network.network().region.clone();
        Ok(Services {
            ec2: Ec2World {
                state: vpcflow_deliver::State::open(&o.data.state_db())?,
                network: o.network,
                buckets: o.buckets,
                delivery_streams: o.delivery_streams,
            },
            logs: Logs::new(
                vpcflow_store::logs::LogStore::open(o.data.clone(), &region, o.owner)?,
                vpcflow_query::jobs::Jobs::new(o.data.clone(), o.runtime, o.clock),
            ),
            s3: crate::s3::Buckets {
                store: Mutex::new(vpcflow_store::buckets::Buckets::open(
                    o.data.clone(),
                    o.local_buckets,
                    o.owner,
                    &region,
                )?),
            },
            cloudwatch: CloudWatch {
                alarms: Mutex::new(vpcflow_store::alarms::Alarms::open(o.data, &region)?),
                metrics: Mutex::new(vpcflow_store::metrics::Metrics::open(o.data)?),
                logs: Mutex::new(vpcflow_store::logs::LogStore::open(
                    o.data.clone(),
                    &region,
                    o.owner,
                )?),
            },
            firehose: Mutex::new(vpcflow_store::firehose::Firehose::open(
                o.data.clone(),
                &region,
            )?),
        })
    }
}

/// Everything the server answers from.
pub struct Api {
    /// Who may call.
    pub auth: Auth,
    /// EC2's state, one connection taken in turn.
    pub ec2: Mutex<Ec2World>,
    /// CloudWatch Logs' services.
    pub logs: Logs,
    /// The local buckets S3's protocol serves.
    pub s3: crate::s3::Buckets,
    /// CloudWatch's alarms.
    pub cloudwatch: CloudWatch,
    /// Firehose's delivery streams.
    pub firehose: Mutex<vpcflow_store::firehose::Firehose>,
    /// Requests counted.
    pub metrics: Metrics,
    /// The process's own figures for `/metrics` (delivery).
    pub extra: Option<Extra>,
    /// Now, for request times and the services.
    pub clock: Arc<dyn Clock>,
    /// The console under `/ui`, if it is on.
    pub console: Option<crate::console::Console>,
    requests: AtomicU64,
}

impl Api {
    /// A server's state.
    pub fn new(auth: Auth, services: Services, clock: Arc<dyn Clock>, extra: Option<Extra>) -> Api {
        Api {
            auth,
            ec2: Mutex::new(services.ec2),
            logs: services.logs,
            s3: services.s3,
            cloudwatch: services.cloudwatch,
            firehose: services.firehose,
            metrics: Metrics::default(),
            extra,
            clock,
            console: None,
            requests: AtomicU64::new(0),
        }
    }

    /// The server with the console on.
    pub fn with_console(mut self, console: crate::console::Console) -> Api {
        self.console = Some(console);
        self
    }

    /// A request id in AWS's shape (a UUID), unique in this process.
    fn request_id(&self) -> String {
        let n = self.requests.fetch_add(1, Ordering::Relaxed);
        let t = self.clock.now_ms();
        format!(
            "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
            (t >> 16) as u32,
            (t & 0xffff) as u16,
            (n >> 48) & 0xfff,
            (n >> 36) & 0xfff,
            n & 0xffff_ffff_ffff
        )
    }
}

/// The router: every path to one handler, which dispatches as AWS's protocols need.
pub fn router(api: Arc<Api>) -> Router {
    Router::new().fallback(handle).with_state(api)
}

/// Serves `listener` until `shutdown` resolves; requests in flight are answered first.
pub async fn serve(
    listener: tokio::net::TcpListener,
    api: Arc<Api>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(api))
        .with_graceful_shutdown(shutdown)
        .await
}

/// An error as a protocol family answers it.
fn error_reply(family: Family, status: u16, code: &str, message: &str, id: &str) -> Reply {
    match family {
        Family::Ec2 => Reply::xml(status, ec2::error_xml(code, message, id)),
        Family::Query => Reply::xml(status, sts::error_xml(sts::XMLNS, code, message, id)),
        Family::Json => json::error(JSON_11, status, code, message),
        Family::S3 => {
            let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error>");
            element(&mut out, "Code", code);
            element(&mut out, "Message", message);
            element(&mut out, "RequestId", id);
            out.push_str("</Error>");
            Reply::new(status, "application/xml", out)
        }
    }
}

fn auth_reply(failure: AuthFailure, family: Family, id: &str) -> Reply {
    let d = failure.def(family);
    error_reply(family, d.status, d.code, d.message, id)
}

/// The action a request names, for `/metrics` and the log: a served name, else a fixed word.
fn action_name(protocol: &Protocol, body: &[u8], s3: &crate::s3::Request<'_>) -> String {
    let known = |op: &str, list: &[&str]| {
        if list.contains(&op) {
            op.to_owned()
        } else {
            "unknown".to_owned()
        }
    };
    match protocol {
        Protocol::Logs(op) => known(op, logs::OPERATIONS),
        Protocol::Ec2 => {
            let action = form_urlencoded::parse(body)
                .find(|(k, _)| k == "Action")
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default();
            match ec2::action_params(&action) {
                Some(_) => action,
                None => "unknown".to_owned(),
            }
        }
        Protocol::Sts => "GetCallerIdentity".to_owned(),
        Protocol::Iam => {
            let action = form_urlencoded::parse(body)
                .find(|(k, _)| k == "Action")
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default();
            known(&action, crate::iam::ACTIONS)
        }
        Protocol::CloudWatchJson(op) => known(op, cloudwatch::OPERATIONS),
        Protocol::CloudWatchQuery => {
            let action = form_urlencoded::parse(body)
                .find(|(k, _)| k == "Action")
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default();
            known(&action, cloudwatch::OPERATIONS)
        }
        Protocol::S3 => crate::s3::action(s3).to_owned(),
        Protocol::Firehose(op) => known(op, crate::firehose::OPERATIONS),
        Protocol::CloudWatchCbor(_) => "unknown".to_owned(),
    }
}

/// A lock taken even if a handler panicked while holding it (the stores stay consistent: each
/// write is one SQLite statement or transaction).
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A request's parts, owned, for the blocking thread that answers it.
pub(crate) struct Incoming {
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) query: String,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: axum::body::Bytes,
}

/// Answers a routed, authenticated request (blocking: the store is SQLite).
pub(crate) fn answer(
    api: &Api,
    protocol: &Protocol,
    caller: &Caller,
    req: &Incoming,
    id: &str,
) -> Reply {
    let now_ms = api.clock.now_ms();
    let body = &req.body[..];
    match protocol {
        Protocol::Ec2 => {
            let mut world = api
                .ec2
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let Ec2World {
                state,
                network,
                buckets,
                delivery_streams,
            } = &mut *world;
            // Flow logs deliver to the config's streams and to the caller's own, made by
            // CreateDeliveryStream.
            let mut streams = delivery_streams.clone();
            let made = lock(&api.firehose).list(
                &vpcflow_store::firehose::ListDeliveryStreams::default(),
                &caller.account_id,
            );
            streams.extend(made.map(|l| l.delivery_stream_names).unwrap_or_default());
            let mut service = ec2::Service {
                state,
                live: network,
                buckets,
                delivery_streams: &streams,
                now_ms,
                account: Some(&caller.account_id),
            };
            let (status, xml) = ec2::handle(&mut service, body, id);
            Reply::xml(status, xml)
        }
        Protocol::Logs(op) => {
            let streams =
                |account: &str, name: &str| lock(&api.firehose).get(account, name).is_ok();
            logs::handle(&api.logs, &caller.account_id, op, body, now_ms, &streams)
        }
        Protocol::Firehose(op) => {
            let account = &caller.account_id;
            let buckets = |bucket: &str| {
                lock(&api.s3.store)
                    .owner_of(bucket)
                    .is_ok_and(|o| o.as_deref() == Some(account.as_str()))
            };
            crate::firehose::handle(&api.firehose, account, op, body, now_ms, &buckets)
        }
        Protocol::Sts => {
            let (status, xml) = sts::handle(body, &caller.access_key_id, &caller.account_id, id);
            Reply::xml(status, xml)
        }
        Protocol::Iam => {
            let world = api
                .ec2
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let who = crate::iam::Caller {
                account: &caller.account_id,
                now_ms,
            };
            let (status, xml) = crate::iam::handle(&world.state, &who, body, id);
            Reply::xml(status, xml)
        }
        Protocol::CloudWatchQuery => {
            let pairs: Vec<(String, String)> = form_urlencoded::parse(body)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
            let op = pairs
                .iter()
                .find(|(k, _)| k == "Action")
                .map(|(_, v)| v.clone())
                .unwrap_or_default();
            let input = cloudwatch::unflatten(&pairs);
            cloudwatch::handle(
                &api.cloudwatch,
                Wire::Query,
                &caller.account_id,
                &op,
                input,
                now_ms,
                id,
            )
        }
        Protocol::CloudWatchJson(op) => match json::decode::<serde_json::Value>(body) {
            Ok(input) => cloudwatch::handle(
                &api.cloudwatch,
                Wire::Json,
                &caller.account_id,
                op,
                input,
                now_ms,
                id,
            ),
            Err(r) => json::refused(JSON_10, &r),
        },
        Protocol::CloudWatchCbor(op) => json::refused(JSON_11, &json::unknown_operation(op)),
        Protocol::S3 => {
            let headers: Vec<(&str, &str)> = req
                .headers
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            let r = crate::s3::Request {
                method: &req.method,
                path: &req.path,
                query: &req.query,
                headers: &headers,
            };
            crate::s3::handle(&api.s3, &caller.account_id, &r, body, now_ms, id)
        }
    }
}

fn response(reply: Reply, id: &str, family: Family) -> Response<Body> {
    let mut r = Response::new(Body::from(reply.body));
    *r.status_mut() = axum::http::StatusCode::from_u16(reply.status)
        .unwrap_or(axum::http::StatusCode::INTERNAL_SERVER_ERROR);
    let h = r.headers_mut();
    h.insert("content-type", HeaderValue::from_static(reply.content_type));
    let id_header = match family {
        Family::S3 => "x-amz-request-id",
        _ => "x-amzn-requestid",
    };
    if let Ok(v) = HeaderValue::from_str(id) {
        h.insert(id_header, v);
    }
    for (name, value) in reply.headers {
        if let Ok(v) = HeaderValue::from_str(&value) {
            h.insert(name, v);
        }
    }
    r
}

/// `/healthz` and `/metrics`, for unsigned GETs.
fn operations(api: &Api, path: &str) -> Option<Reply> {
    match path {
        "/healthz" => Some(Reply::new(200, "text/plain; charset=utf-8", "ok\n")),
        "/metrics" => {
            let mut out = String::new();
            api.metrics.render(&mut out);
            if let Some(extra) = &api.extra {
                extra(&mut out);
            }
            Some(Reply::new(200, "text/plain; version=0.0.4", out))
        }
        _ => None,
    }
}

fn authenticate(
    api: &Api,
    req: &Signed<'_>,
    family: Family,
    id: &str,
) -> Result<Caller, Box<Reply>> {
    if api.auth.any_credentials {
        return Ok(sigv4::unverified(req.headers, &api.auth.default_account));
    }
    sigv4::verify(req, &api.auth.credentials, api.clock.now_ms() / 1000)
        .map_err(|f| Box::new(auth_reply(f, family, id)))
}

#[allow(clippy::disallowed_methods)] // latency is measured, not used as domain time
fn started() -> std::time::Instant {
    std::time::Instant::now()
}

/// A body over [`MAX_BODY_BYTES`], refused in the words of the protocol its headers name.
fn too_large(
    api: &Api,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    id: &str,
    t0: std::time::Instant,
) -> Response<Body> {
    let protocol = route(method, path, headers, b"");
    let message = format!("The request body is larger than {MAX_BODY_BYTES} bytes.");
    let family = protocol.family();
    let code = match family {
        Family::S3 => "EntityTooLarge",
        Family::Json => "SerializationException",
        _ => "RequestEntityTooLarge",
    };
    api.metrics.record(
        protocol.service(),
        "unknown",
        413,
        t0.elapsed().as_secs_f64(),
    );
    response(error_reply(family, 413, code, &message, id), id, family)
}

async fn handle(Shared(api): Shared<Arc<Api>>, req: Request) -> Response<Body> {
    let t0 = started();
    let id = api.request_id();
    let (parts, body) = req.into_parts();
    let method = parts.method.as_str().to_owned();
    let path = parts.uri.path().to_owned();
    let query = parts.uri.query().unwrap_or_default().to_owned();
    let owned: Vec<(String, String)> = parts
        .headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let headers: Vec<(&str, &str)> = owned
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let signed = sigv4::header(&headers, "authorization").is_some();
    if method == "GET"
        && !signed
        && let Some(reply) = operations(&api, &path)
    {
        return response(reply, &id, Family::Json);
    }
    let declared = sigv4::header(&headers, "content-length").and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > DRAIN_BYTES) {
        return too_large(&api, &method, &path, &headers, &id, t0);
    }
    let body = match to_bytes(body, DRAIN_BYTES).await {
        Ok(b) if b.len() <= MAX_BODY_BYTES => b,
        _ => return too_large(&api, &method, &path, &headers, &id, t0),
    };
    if api.console.is_some() && crate::console::is_console_path(&path) {
        let incoming = Incoming {
            method,
            path,
            query,
            headers: owned.clone(),
            body,
        };
        return console_request(api, incoming, id, t0).await;
    }
    let protocol = route(&method, &path, &headers, &body);
    let family = protocol.family();
    let action = action_name(
        &protocol,
        &body,
        &crate::s3::Request {
            method: &method,
            path: &path,
            query: &query,
            headers: &headers,
        },
    );
    let payload_hash = sigv4::header(&headers, "x-amz-content-sha256")
        .map_or_else(|| sigv4::sha256_hex(&body), str::to_owned);
    let signed_req = Signed {
        method: &method,
        path: &path,
        query: &query,
        headers: &headers,
        payload_hash: &payload_hash,
    };
    let reply = match authenticate(&api, &signed_req, family, &id) {
        Err(refused) => *refused,
        Ok(caller) => {
            let (api2, id2, protocol2) = (Arc::clone(&api), id.clone(), protocol.clone());
            let incoming = Incoming {
                method: method.clone(),
                path: path.clone(),
                query: query.clone(),
                headers: owned.clone(),
                body,
            };
            tokio::task::spawn_blocking(move || answer(&api2, &protocol2, &caller, &incoming, &id2))
                .await
                .unwrap_or_else(|e| {
                    error_reply(
                        family,
                        500,
                        "InternalError",
                        &format!("the handler failed: {e}"),
                        &id,
                    )
                })
        }
    };
    let secs = t0.elapsed().as_secs_f64();
    api.metrics
        .record(protocol.service(), &action, reply.status, secs);
    tracing::info!(
        request_id = %id,
        service = protocol.service(),
        action = %action,
        status = reply.status,
        latency_ms = secs * 1000.0,
        "request"
    );
    response(reply, &id, family)
}

/// A console request, answered on a blocking thread, counted and logged as `console`.
async fn console_request(
    api: Arc<Api>,
    incoming: Incoming,
    id: String,
    t0: std::time::Instant,
) -> Response<Body> {
    let (api2, id2) = (Arc::clone(&api), id.clone());
    let path = incoming.path.clone();
    let reply = tokio::task::spawn_blocking(move || match &api2.console {
        Some(c) => crate::console::handle(&api2, c, &incoming, &id2),
        None => crate::console::error(404, "NotFound", "the console is off"),
    })
    .await
    .unwrap_or_else(|e| {
        crate::console::error(500, "InternalError", format!("the console failed: {e}"))
    });
    let secs = t0.elapsed().as_secs_f64();
    api.metrics.record("console", "page", reply.status, secs);
    tracing::info!(request_id = %id, service = "console", path = %path, status = reply.status,
        latency_ms = secs * 1000.0, "request");
    response(reply, &id, Family::Json)
}
